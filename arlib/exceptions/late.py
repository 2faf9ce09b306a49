"""Customers late again and again (from the payment history)."""

from __future__ import annotations

import polars as pl

from arlib.exceptions.context import Context
from arlib.exceptions.register import ROW_SCHEMA
from arlib.kpis import HISTORY_SCHEMA
from arlib.money import cents_expr

_KEYS = ["period", "receipt_id", "invoice_id"]


def repeated_late(ctx: Context) -> pl.DataFrame:
    """One row per customer late in at least ``late_min_count`` invoices (or periods) of the
    history and this close, by customer id."""
    c = ctx.c
    hist = _history(ctx)
    unit = "invoice_id" if c.late_unit == "invoices" else "period"
    totals = hist.group_by("customer_id").agg(pl.col(unit).n_unique().alias("_total"))
    late = (
        hist.filter(pl.col("days_late") > c.late_grace_days)
        .filter(pl.col("customer_id").is_not_null())
        .group_by("customer_id")
        .agg(
            pl.col(unit).n_unique().alias("n"),
            pl.col("currency").n_unique().alias("currencies"),
            pl.col("currency").first(),
            pl.col("applied_amount").sum().alias("amount"),
            (cents_expr("applied_amount").cast(pl.Int128) * pl.col("days_late"))
            .sum()
            .alias("_weighted"),
            cents_expr("applied_amount").cast(pl.Int128).sum().alias("_total_c"),
            pl.col("period").unique().sort().alias("periods"),
            pl.col("days_late").max().alias("worst"),
        )
        .filter(pl.col("n") >= c.late_min_count)
        .sort("customer_id")
        .join(totals, on="customer_id", how="left", maintain_order="left")
    )
    one = pl.col("currencies") == 1
    return late.select(
        pl.lit("repeated_late_payment").alias("type"),
        "customer_id",
        pl.lit(None, pl.String).alias("receipt_id"),
        pl.lit(None, pl.String).alias("invoice_id"),
        pl.when(one).then(pl.col("amount")).alias("amount"),
        pl.when(one).then(pl.col("currency")).alias("currency"),
        pl.format(
            "late in {} of {} {} ({}); average {} days late, worst {} days",
            "n",
            "_total",
            pl.lit(c.late_unit),
            pl.col("periods").list.join(", "),
            _tenths(pl.col("_weighted"), pl.col("_total_c")),
            "worst",
        ).alias("evidence"),
        pl.lit("open").alias("status"),
        pl.lit(None, pl.String).alias("source_file"),
        pl.lit(None, pl.Int64).alias("source_row"),
        pl.lit("customer").alias("about"),
    ).cast(ROW_SCHEMA)


def _history(ctx: Context) -> pl.DataFrame:
    """The earlier history and this close's payments, the last row of each (period,
    receipt, invoice). When the caller's history already is this close's payments (no
    earlier close), that is the payments' own last row of each key."""
    current = ctx.current_history
    if ctx.history is None:
        return current
    if ctx.history is current:
        return current.unique(_KEYS, keep="last", maintain_order=True)
    return pl.concat(
        [ctx.history.select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA), current]
    ).unique(_KEYS, keep="last", maintain_order=True)


def _tenths(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``f"{n / d:.1f}"`` of two exact integers as Python writes that Decimal quotient
    (rounded half to even, ``-0.0`` for a negative quotient that rounds to zero), ``0.0``
    when ``d`` is 0."""
    n, d = numerator.cast(pl.Int128), denominator.cast(pl.Int128)
    quotient, rest = (n.abs() * 10) // d.abs(), (n.abs() * 10) % d.abs()
    up = (2 * rest > d.abs()) | ((2 * rest == d.abs()) & (quotient % 2 == 1))
    tenths = quotient + up.cast(pl.Int128)
    text = pl.concat_str(
        pl.when((n < 0) != (d < 0)).then(pl.lit("-")).otherwise(pl.lit("")),
        (tenths // 10).cast(pl.String),
        pl.lit("."),
        (tenths % 10).cast(pl.String),
    )
    return pl.when(d != 0).then(text).otherwise(pl.lit("0.0"))
