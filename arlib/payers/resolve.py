"""resolve_payers: the distinct (payer_name, payer_account) pairs of the receipts, resolved
by the exact keys, then fuzzy (see :mod:`arlib.payers`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import polars as pl

from arlib.payers.exact import exact
from arlib.payers.fuzzy import fuzzy
from arlib.payers.master import CustomerNames, customer_names
from arlib.payers.normalize import normalize_account
from arlib.payers.schema import PAYERS_SCHEMA


def resolve_payers(
    receipts: pl.DataFrame,
    customers: pl.DataFrame | CustomerNames,
    *,
    auto_threshold: float = 0.85,
    suggest_threshold: float = 0.75,
    margin: float = 0.05,
    max_candidates: int = 8,
) -> pl.DataFrame:
    """Resolve every distinct ``(payer_name, payer_account)`` of ``receipts`` to a customer
    or to candidate customers (see the module docstring).

    Returns :data:`PAYERS_SCHEMA` columns, one row per distinct pair, sorted by
    ``payer_name, payer_account``; ``customer_id`` is null unless one customer is
    resolved, ``candidates`` null unless the method is a candidate method.
    Join it back on ``payer_name, payer_account`` (``nulls_equal=True``). ``customers``:
    the customer master, or the :class:`~arlib.payers.CustomerNames` of it that
    :func:`~arlib.payers.memo_payers` shares.
    """
    customers = customer_names(customers)
    # the customer side (choices, then their token index: polars and numpy, mostly outside
    # the GIL) is built in a worker thread while the receipts' pairs are found and resolved
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: customers.index)  # (a failure raises again where it is read)
        pairs = exact(_pairs(receipts), customers)
        # 5. fuzzy, on the distinct normalised names still unresolved
        todo = (
            pairs.filter((pl.col("method") == "none") & pl.col("_norm").is_not_null())
            .select("_norm", "_loose", "_spaced", "_pfx")
            .unique("_norm", keep="first")
            .sort("_norm")
        )
        fz = fuzzy(
            todo,
            customers,
            auto_threshold=auto_threshold,
            suggest_threshold=suggest_threshold,
            margin=margin,
        )
    pairs = pairs.join(fz, on="_norm", how="left")
    unresolved = pl.col("method") == "none"
    auto = unresolved & pl.col("_fz_c").is_not_null()
    fcand = unresolved & ~auto & pl.col("_fz_cands").is_not_null()
    pairs = pairs.with_columns(
        pl.when(auto).then(pl.col("_fz_c")).otherwise(pl.col("customer_id")).alias("customer_id"),
        pl.when(auto)
        .then(pl.lit("fuzzy"))
        .when(fcand)
        .then(pl.lit("fuzzy_candidates"))
        .otherwise(pl.col("method"))
        .alias("method"),
        pl.when(auto | fcand).then(pl.col("_fz_s")).otherwise(pl.col("score")).alias("score"),
        pl.when(unresolved & ~auto).then(pl.col("_fz_cid")).alias("candidate_id"),
        pl.when(unresolved & ~auto).then(pl.col("_fz_cs")).alias("candidate_score"),
        pl.when(fcand)
        .then(pl.col("_fz_cands"))
        .otherwise(pl.col("candidates"))
        .alias("candidates"),
    )
    # too many candidates identify nobody
    crowd = pl.col("candidates").list.len() > max_candidates
    pairs = pairs.with_columns(
        pl.when(crowd).then(pl.lit("none")).otherwise(pl.col("method")).alias("method"),
        pl.when(crowd).then(0.0).otherwise(pl.col("score")).alias("score"),
        pl.when(crowd).then(None).otherwise(pl.col("candidates")).alias("candidates"),
    )
    return pairs.select(list(PAYERS_SCHEMA)).cast(PAYERS_SCHEMA)


def _pairs(receipts: pl.DataFrame) -> pl.DataFrame:
    """The distinct (payer_name, payer_account) of ``receipts``, sorted, with ``_acct`` (the
    normalised account)."""
    name_col = (
        pl.col("payer_name").cast(pl.String)
        if "payer_name" in receipts.columns
        else pl.lit(None, dtype=pl.String)
    )
    acct_col = (
        pl.col("payer_account").cast(pl.String)
        if "payer_account" in receipts.columns
        else pl.lit(None, dtype=pl.String)
    )
    pairs = (
        receipts.select(name_col.alias("payer_name"), acct_col.alias("payer_account"))
        .unique()
        .sort(["payer_name", "payer_account"], nulls_last=True)
    )
    return pairs.with_columns(normalize_account(pairs.get_column("payer_account")).alias("_acct"))
