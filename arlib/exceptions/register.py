"""The register's identities and order: an exception's ``key`` across closes, its
``exception_id`` within one, and the one stable row order of ``exceptions.csv``."""

from __future__ import annotations

import hashlib

import polars as pl

from arlib.exceptions.config import CLASS_OF

ABOUT = ("receipt", "invoice", "pair", "customer")


def exception_key(kind, about, receipt_id, invoice_id, customer_id) -> str:
    """``type:about:ids``, the identity of an exception across closes (``short_payment:
    invoice:INV1``): the per-period ``exception_id`` hashes the receipts too, which differ
    when an invoice short-paid in one period is paid again in the next."""
    ids = {
        "receipt": (receipt_id,),
        "invoice": (invoice_id,),
        "pair": (receipt_id, invoice_id),
        "customer": (customer_id,),
    }[about]
    return ":".join([kind, about, *(i or "" for i in ids)])


def exception_id(kind: str, receipt_id: str | None, invoice_id: str | None, extra: str = "") -> str:
    """``EX-`` + 10 hex of sha256(type|receipt_id|invoice_id[|extra]): stable across reruns."""
    key = f"{kind}|{receipt_id or ''}|{invoice_id or ''}" + (f"|{extra}" if extra else "")
    return "EX-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


# --------------------------------------------------------------------------- frame prep


def in_register_order(exceptions: pl.DataFrame) -> pl.DataFrame:
    """The register's one stable order: by class (as :data:`CLASS_OF` lists them), type,
    customer, receipt, invoice and id, so outputs are byte-stable."""
    order = list(dict.fromkeys(CLASS_OF.values()))
    return exceptions.sort(
        pl.col("class").replace_strict({k: i for i, k in enumerate(order)}, return_dtype=pl.Int64),
        "type",
        "customer_id",
        "receipt_id",
        "invoice_id",
        "exception_id",
        nulls_last=True,
    )
