"""Credit notes that netted no invoice (in full or in part), by credit id.

Why: a credit note is booked to the AR control account the day it is issued, so one the
sub-ledger has not netted against an invoice is a credit the customer holds. Left out of
the register it vanishes from the close (the GL shows it, the sub-ledger does not); raised
here, a person applies it to an invoice (a decision) or refunds it (a ``resolve``
decision), and the close carries it until then (:mod:`arlib.carry`).
"""

from __future__ import annotations

import polars as pl

from arlib.exceptions.context import Context
from arlib.exceptions.register import ROW_SCHEMA
from arlib.money import fmt_money_expr


def unapplied_credit_notes(ctx: Context) -> pl.DataFrame:
    """One row per credit note with an unapplied amount, naming the invoice it names (if
    any) and what it did net."""
    cn = ctx.credit_notes
    if cn is None or cn.height == 0 or "unapplied" not in cn.columns:
        return pl.DataFrame(schema=ROW_SCHEMA)
    left = cn.filter(pl.col("unapplied") > 0).sort("credit_id", nulls_last=True)
    named = pl.col("invoice_id").is_not_null()
    netted = pl.when(pl.col("applied") > 0).then(
        pl.format("; {} of it netted", fmt_money_expr("applied"))
    )
    evidence = pl.concat_str(
        pl.format(
            "credit note {} of {} ({}, {}) ",
            "credit_id",
            fmt_money_expr("amount"),
            pl.col("date").cast(pl.String).fill_null("no date"),
            pl.col("reason").fill_null("no reason given"),
        ),
        pl.when(named)
        .then(pl.format("names invoice {}, which it could not net in full", "invoice_id"))
        .otherwise(pl.lit("names no invoice and made no receipt an exact payment")),
        netted.fill_null(""),
        pl.format("; {} unapplied", fmt_money_expr("unapplied")),
    )
    return left.select(
        pl.lit("unapplied_credit_note").alias("type"),
        pl.col("customer_id").cast(pl.String),
        pl.col("credit_id").cast(pl.String).alias("receipt_id"),
        pl.col("invoice_id").cast(pl.String),
        pl.col("unapplied").alias("amount"),
        pl.col("currency").cast(pl.String),
        evidence.alias("evidence"),
        pl.lit("open").alias("status"),
        pl.col("source_file").cast(pl.String),
        pl.col("source_row").cast(pl.Int64),
        pl.lit("credit_note").alias("about"),
    ).cast(ROW_SCHEMA)
