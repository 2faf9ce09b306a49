"""Frames of the matching stage: its outputs' schemas, internal row shapes, small helpers.

Money is handled internally as Int64 minor units ("cents": the canonical ``Decimal(38, 2)``
times 100, also for zero-decimal currencies) and converted back to ``Decimal(38, 2)`` at
the end; nothing is ever a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from arlib.money import to_cents
from arlib.schema import MONEY

#: kinds of allocation row, in the order an invoice's rows are listed
#: (``write_off``: a shortfall within ``matching.payment_tolerance_pct``)
KINDS = (
    "cash",
    "bank_charge",
    "discount",
    "fx_difference",
    "credit_note",
    "rounding",
    "write_off",
)


@dataclass(frozen=True)
class MatchResult:
    """What matching produced. Frames as documented in docs/CONTRACTS.md, plus:

    ``credit_notes``: canonical credit notes + applied, unapplied (Decimal).
    ``findings``: problems found while matching (unusable decisions, budget hit), in
    :data:`arlib.findings.FINDING_SCHEMA`.
    ``stats``: counts per rule and seconds per stage.
    """

    allocations: pl.DataFrame
    suggestions: pl.DataFrame
    receipts: pl.DataFrame
    invoices: pl.DataFrame
    payers: pl.DataFrame
    credit_notes: pl.DataFrame
    findings: pl.DataFrame
    stats: dict[str, Any]


ALLOCATION_SCHEMA = {
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "applied_amount": MONEY,
    "currency": pl.String,
    "receipt_amount": MONEY,
    "receipt_currency": pl.String,
    "kind": pl.String,
    "rule": pl.String,
    "rule_id": pl.String,
    "confidence": pl.Float64,
    "reason": pl.String,
    "flags": pl.String,
}

SUGGESTION_SCHEMA = {
    "receipt_id": pl.String,
    "rank": pl.Int64,
    "customer_id": pl.String,
    "invoice_ids": pl.String,
    "amount": MONEY,
    "score": pl.Float64,
    "rule": pl.String,
    "reason": pl.String,
}

#: allocation rows inside the engine (cents, row indexes into the prepared frames)
ALLOCATION_ROWS = {
    "receipt_id": pl.String,
    "rec_idx": pl.Int64,
    "inv_idx": pl.Int64,
    "kind": pl.String,
    "applied_c": pl.Int64,
    "receipt_c": pl.Int64,
    "rule": pl.String,
    "rule_id": pl.String,
    "confidence": pl.Float64,
    "reason": pl.String,
    "flags": pl.String,
}
#: suggestion rows inside the engine
SUGGESTION_ROWS = {
    "rec_idx": pl.Int64,
    "rank": pl.Int64,
    "customer_id": pl.String,
    "invoice_ids": pl.String,
    "amount_c": pl.Int64,
    "score": pl.Float64,
    "rule": pl.String,
    "reason": pl.String,
}


def basis_points(pct: Decimal) -> int:
    """A percentage setting (``2`` = 2 %) in basis points, rounded half up."""
    return to_cents(pct)


def short(text: str | None, n: int = 60) -> str:
    t = (text or "").replace("\n", " ").replace("'", "’")
    return t if len(t) <= n else t[: n - 1] + "…"


def col_or_null(df: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype=dtype)


def ensure(df: pl.DataFrame, cols: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return df.with_columns(
        pl.lit(None, dtype=t).alias(c) for c, t in cols.items() if c not in df.columns
    )


def sorted_unique(df: pl.DataFrame, key: str, what: str) -> pl.DataFrame:
    tie = [c for c in ("source_file", "source_row") if c in df.columns]
    df = df.sort([key, *tie], nulls_last=True)
    dup = df.filter(pl.col(key).is_duplicated() | pl.col(key).is_null())
    if dup.height:
        raise ValueError(
            f"match: {what} need unique, non-null {key}; offending: "
            f"{dup.get_column(key).unique().head(5).to_list()}"
        )
    return df


_VAL_BITS = 42  # cents below 2**42 (44 billion units) fit the composite sort key


def range_join(
    left: pl.DataFrame,
    right: pl.DataFrame,
    by: list[str],
    val: str,
    lo: pl.Expr,
    hi: pl.Expr,
    cap: int,
    from_end: bool = False,
) -> pl.DataFrame:
    """Rows of ``left`` x rows of ``right`` with equal ``by`` and ``right[val]`` within
    ``[lo, hi]`` (expressions on ``left``), at most ``cap`` per left row (the smallest
    values, or the largest with ``from_end``), plus ``_n_in_range`` (all of them).

    A sorted search (O((n + m) log m)), never a per-key cartesian product: a customer with
    20,000 open invoices and 15,000 receipts costs 35,000 rows, not 300 million."""
    right_cols = [c for c in right.columns if c not in by]
    empty = (
        left.head(0)
        .join(right.head(0), on=by, how="inner")
        .with_columns(pl.lit(0, dtype=pl.Int64).alias("_n_in_range"))
    )
    if left.height == 0 or right.height == 0:
        return empty
    groups = right.select(by).unique().sort(by, nulls_last=True).with_row_index("_g")
    r = (
        right.join(groups, on=by, how="inner", nulls_equal=False)
        .filter(pl.col(val).is_between(0, (1 << _VAL_BITS) - 1))
        .sort(["_g", val])
    )
    lf = left.with_columns(lo.alias("_lo"), hi.alias("_hi")).join(groups, on=by, how="inner")
    if lf.height == 0 or r.height == 0:
        return empty
    key = (r.get_column("_g").cast(pl.Int64).to_numpy() << _VAL_BITS) + r.get_column(val).to_numpy()
    g = lf.get_column("_g").cast(pl.Int64).to_numpy() << _VAL_BITS
    top = (1 << _VAL_BITS) - 1
    lo_v = np.clip(lf.get_column("_lo").to_numpy(), 0, top)
    hi_v = np.clip(lf.get_column("_hi").to_numpy(), -1, top)
    a = np.searchsorted(key, g + lo_v, side="left")
    b = np.searchsorted(key, g + hi_v, side="right")
    n = np.maximum(b - a, 0)
    k = np.minimum(n, cap)
    rep = np.repeat(np.arange(lf.height), k)
    off = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
    start = (b - k) if from_end else a
    ridx = start[rep] + off
    out = lf.drop("_lo", "_hi", "_g", *[c for c in right_cols if c in lf.columns])[rep]
    out = out.with_columns(pl.Series("_n_in_range", n[rep], dtype=pl.Int64))
    return pl.concat([out, r.select(right_cols)[ridx]], how="horizontal")
