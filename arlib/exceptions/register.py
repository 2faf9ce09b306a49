"""The register's identities and order: an exception's ``key`` across closes, its
``exception_id`` within one, and the one stable row order of ``exceptions.csv``."""

from __future__ import annotations

import hashlib

import polars as pl

from arlib.exceptions.config import CLASS_OF, COLUMNS, ExceptionConfig

ABOUT = ("receipt", "invoice", "pair", "customer", "credit_note")

# A register row as a check raises it; :func:`finish` adds its identities, class and action.
ROW_SCHEMA = {
    **{
        name: dtype
        for name, dtype in COLUMNS.items()
        if name not in ("exception_id", "class", "suggested_action", "key")
    },
    "about": pl.String,
}


def exception_key(kind, about, receipt_id, invoice_id, customer_id) -> str:
    """``type:about:ids``, the identity of an exception across closes (``short_payment:
    invoice:INV1``): the per-period ``exception_id`` hashes the receipts too, which differ
    when an invoice short-paid in one period is paid again in the next."""
    ids = {
        "receipt": (receipt_id,),
        "invoice": (invoice_id,),
        "pair": (receipt_id, invoice_id),
        "customer": (customer_id,),
        "credit_note": (receipt_id,),  # a credit note's id is in receipt_id, as in matches
    }[about]
    return ":".join([kind, about, *(i or "" for i in ids)])


def exception_id(kind: str, receipt_id: str | None, invoice_id: str | None, extra: str = "") -> str:
    """``EX-`` + 10 hex of sha256(type|receipt_id|invoice_id[|extra]): stable across reruns."""
    key = f"{kind}|{receipt_id or ''}|{invoice_id or ''}" + (f"|{extra}" if extra else "")
    return "EX-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def finish(rows: pl.DataFrame, config: ExceptionConfig) -> pl.DataFrame:
    """Register rows, in the order the checks raised them, as ``exceptions.csv`` rows: the
    class and action of each type, the ``key`` (:func:`exception_key`) and the
    ``exception_id`` (:func:`exception_id`); a second exception of the same type on the
    same ids is numbered (``#2``) in the order raised."""
    kind, receipt, invoice = pl.col("type"), pl.col("receipt_id"), pl.col("invoice_id")
    customer, about = pl.col("customer_id"), pl.col("about")
    third = (
        pl.when(invoice.is_not_null() & (invoice != ""))
        .then(invoice)
        .when(receipt.is_null())
        .then(customer)
    )
    nth = pl.int_range(1, pl.len() + 1).over(kind, receipt, third)
    extra = pl.when(nth > 1).then(nth.cast(pl.String)).otherwise(pl.lit(""))
    ids = {
        "receipt": [receipt],
        "invoice": [invoice],
        "pair": [receipt, invoice],
        "customer": [customer],
        "credit_note": [receipt],
    }
    key = pl.lit(None, pl.String)
    for name, parts in ids.items():
        joined = pl.concat_str(
            [kind, pl.lit(name), *(p.fill_null("") for p in parts)], separator=":"
        )
        key = pl.when(about == name).then(joined).otherwise(key)
    hashed_text = pl.concat_str(
        [kind, receipt.fill_null(""), third.fill_null("")], separator="|"
    ) + pl.when(nth > 1).then("|" + extra).otherwise(pl.lit(""))
    done = rows.with_columns(
        (key + pl.when(nth > 1).then("#" + extra).otherwise(pl.lit(""))).alias("key"),
        hashed_text.alias("_hashed"),
        kind.replace_strict(CLASS_OF, return_dtype=pl.String).alias("class"),
        kind.replace_strict({k: config.action(k) for k in CLASS_OF}, return_dtype=pl.String).alias(
            "suggested_action"
        ),
    )
    digests = [
        "EX-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
        for text in done.get_column("_hashed").to_list()
    ]
    done = done.with_columns(pl.Series("exception_id", digests, dtype=pl.String))
    return done.select(list(COLUMNS)).cast(COLUMNS)


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
