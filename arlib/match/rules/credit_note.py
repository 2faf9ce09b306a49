"""Credit notes naming an invoice are netted against it before any cash is applied.

Rows of kind ``credit_note`` whose ``receipt_id`` is the *credit_id*, so the row says which
document cleared the invoice (no cash: ``receipt_amount`` 0). A receipt of invoice minus
credit then matches exactly. Several credit notes on one invoice are netted in date order
up to its open amount; credit notes naming no open invoice of the same customer and
currency stay unapplied (``MatchResult.credit_notes``), unless they name no invoice at all
and make a receipt an exact payment (:mod:`arlib.match.rules.unnamed_credit`).
"""

from __future__ import annotations

import polars as pl

from arlib.match.cascade import Context, Proposal, Rule, numbered
from arlib.match.frames import ensure
from arlib.money import cents_expr, fmt_cents_expr, money_expr


def prepare(credit_notes: pl.DataFrame | None) -> pl.DataFrame | None:
    """Canonical credit notes in netting order (date, credit_id, source row) with their
    amount as positive cents (``_cred_c``) and their position (``_cn``)."""
    if credit_notes is None:
        return None
    cn = ensure(credit_notes, {"invoice_id": pl.String, "reason": pl.String, "currency": pl.String})
    tie = [c for c in ("source_file", "source_row") if c in cn.columns]
    cn = cn.with_columns(pl.col("credit_id").cast(pl.String)).sort(
        ["date", "credit_id", *tie], nulls_last=True
    )
    return cn.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_cn"),
        cents_expr(pl.col("amount")).abs().alias("_cred_c"),
    )


def _netted(ctx: Context) -> pl.DataFrame:
    """Each credit note with the cents it nets against its named invoice (``_app_c``)."""
    cn = ctx.credit_notes
    inv = ctx.ledger.inv.with_columns(open_c=pl.Series(ctx.ledger.inv_open))
    c = cn.join(
        inv.select(
            "inv_idx",
            "invoice_id",
            pl.col("customer_id").alias("_inv_cust"),
            pl.col("currency").alias("_inv_ccy"),
            "open_c",
        ),
        left_on=pl.col("invoice_id").cast(pl.String),
        right_on="invoice_id",
        how="inner",
    ).filter(
        (pl.col("open_c") > 0)
        & (pl.col("currency").is_null() | (pl.col("currency") == pl.col("_inv_ccy")))
        & (pl.col("customer_id").cast(pl.String) == pl.col("_inv_cust"))
    )
    return (
        c.sort("_cn")
        .with_columns(
            (pl.col("_cred_c").cum_sum().over("inv_idx") - pl.col("_cred_c")).alias("_before")
        )
        .with_columns(
            pl.min_horizontal(
                pl.col("_cred_c"), (pl.col("open_c") - pl.col("_before")).clip(0)
            ).alias("_app_c")
        )
        .filter(pl.col("_app_c") > 0)
    )


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    if ctx.credit_notes is None or ctx.credit_notes.height == 0:
        return Proposal()
    c = numbered(_netted(ctx))
    rows = c.select(
        "proposal",
        pl.lit(0, dtype=pl.Int64).alias("rank"),
        pl.lit(None, dtype=pl.Date).alias("value_date"),
        pl.col("credit_id").alias("receipt_id"),
        pl.lit(None, dtype=pl.Int64).alias("rec_idx"),
        "inv_idx",
        pl.lit("credit_note").alias("kind"),
        pl.col("_app_c").alias("applied_c"),
        pl.lit(0, dtype=pl.Int64).alias("receipt_c"),
        pl.lit("credit_note").alias("rule"),
        pl.lit("credit_note.named_invoice").alias("rule_id"),
        pl.format(
            "credit note {} ({}) nets {} against invoice {}",
            "credit_id",
            pl.col("reason").fill_null("no reason given"),
            fmt_cents_expr(pl.col("_app_c")),
            "invoice_id",
        ).alias("reason"),
        pl.lit("").alias("flags"),
    )
    return Proposal(rows=rows)


def summarise(credit_notes: pl.DataFrame | None, allocations: pl.DataFrame) -> pl.DataFrame:
    """The credit-notes output: canonical credit notes + applied, unapplied (Decimal).

    What each credit note netted is read back from the ledger's credit-note rows (by
    credit_id; a repeated credit_id, refused at validation, shares its total in order)."""
    if credit_notes is None:
        return pl.DataFrame()
    netted = (
        allocations.filter(pl.col("kind") == "credit_note")
        .group_by("receipt_id")
        .agg(pl.col("applied_c").sum().alias("_total"))
    )
    out = (
        credit_notes.join(
            netted, left_on="credit_id", right_on="receipt_id", how="left", maintain_order="left"
        )
        .with_columns(pl.col("_total").fill_null(0))
        .with_columns(
            (pl.col("_cred_c").cum_sum().over("credit_id") - pl.col("_cred_c")).alias("_before")
        )
        .with_columns(
            pl.min_horizontal(pl.col("_cred_c"), (pl.col("_total") - pl.col("_before")).clip(0))
            .cast(pl.Int64)
            .alias("_app_c")
        )
    )
    return out.with_columns(
        money_expr(pl.col("_app_c")).alias("applied"),
        money_expr(pl.col("_cred_c") - pl.col("_app_c")).alias("unapplied"),
    ).drop("_cn", "_cred_c", "_app_c", "_total", "_before")


RULE = Rule(
    id="credit_note",
    switch="credit_note",
    description="a credit note naming an open invoice of the same customer and currency is "
    "netted against it, in date order, before any cash",
    receipts=None,
    propose=propose,
    ties="in_order",
    confidence={"credit_note.named_invoice": 1.0},
    payer_factor=False,
)
