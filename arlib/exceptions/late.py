"""Customers late again and again (from the payment history)."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from arlib.exceptions.context import Context
from arlib.kpis import HISTORY_SCHEMA


def repeated_late(ctx: Context) -> pl.DataFrame:
    c = ctx.c
    current = ctx.current_history
    hist = (
        current
        if ctx.history is None
        else pl.concat(
            [ctx.history.select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA), current]
        ).unique(["period", "receipt_id", "invoice_id"], keep="last", maintain_order=True)
    )
    unit = "invoice_id" if c.late_unit == "invoices" else "period"
    totals = dict(hist.group_by("customer_id").agg(pl.col(unit).n_unique()).iter_rows())
    late = (
        hist.filter(pl.col("days_late") > c.late_grace_days)
        .filter(pl.col("customer_id").is_not_null())
        .group_by("customer_id")
        .agg(
            pl.col(unit).n_unique().alias("n"),
            pl.col("currency").n_unique().alias("currencies"),
            pl.col("currency").first(),
            pl.col("applied_amount").sum().alias("amount"),
            (pl.col("applied_amount") * pl.col("days_late")).sum().alias("weighted"),
            pl.col("period").unique().sort().alias("periods"),
            pl.col("days_late").max().alias("worst"),
        )
        .filter(pl.col("n") >= c.late_min_count)
        .sort("customer_id")
    )
    for p in late.iter_rows(named=True):
        total_amount = p["amount"]
        avg = p["weighted"] / total_amount if total_amount else Decimal(0)
        ctx.add(
            "repeated_late_payment",
            customer=p["customer_id"],
            receipt=None,
            invoice=None,
            amount=total_amount if p["currencies"] == 1 else None,
            currency=p["currency"] if p["currencies"] == 1 else None,
            evidence=(
                f"late in {p['n']} of {totals[p['customer_id']]} {c.late_unit} "
                f"({', '.join(p['periods'])}); "
                f"average {avg:.1f} days late, worst {p['worst']} days"
            ),
            src=None,
            about="customer",
        )
    return ctx.take_rows()
