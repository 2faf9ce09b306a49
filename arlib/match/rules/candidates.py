"""Candidates: a payer who is one of several customers, decided by a unique exact amount.

Payer resolution (:mod:`arlib.payers`) gives candidate customers instead of one customer
when the name cannot tell them apart: a name or alias several customers share (a short
alias, a trade name used in several cities, method ``ambiguous``), a fuzzy name that fits
several customers or fits one only as a typo, shortened or glued form needs backing
(``fuzzy_candidates``), or, on a bank line without payer name, the customers its memo
names (``memo_name``). Ambiguous is not unknown: the candidates are kept.

A reference to one of their invoices with its exact amount is decided by the reference
rule, whoever pays. Here: the receipt is applied when exactly one open invoice among all
the candidates' open invoices has the receipt's exact amount and currency, however old (age
is no evidence against); the allocation's customer is the one whose invoice it is. The
same amount open at two candidates (or twice at one): suggestions naming each, nothing
applied. A memo naming an open invoice of another candidate (of another amount) is a rival
reading of who paid: suggestions too.
"""

from __future__ import annotations

import polars as pl

from arlib.match.cascade import Context, Proposal, Receipts, Rule, numbered
from arlib.match.frames import SUGGESTION_ROWS
from arlib.match.prepare import cash_rows, in_date_window
from arlib.money import fmt_cents_expr

SUB_RULES = {
    "ambiguous": "candidates.unique_amount",
    "fuzzy_candidates": "candidates.fuzzy_unique_amount",
    "memo_name": "candidates.memo_unique_amount",
}


def who(method: pl.Expr, n: pl.Expr, listed: pl.Expr, payer: pl.Expr) -> pl.Expr:
    """How the candidates were found, in words."""
    them = (
        pl.when(n == 1)
        .then(pl.format("customer {}", listed))
        .otherwise(pl.format("{} customers ({})", n, listed))
    )
    return (
        pl.when(method == "ambiguous")
        .then(pl.format("payer '{}' is the name of {}", payer, them))
        .when(method == "memo_name")
        .then(pl.format("no payer name; the memo names {}", them))
        .otherwise(pl.format("payer '{}' resembles {}", payer, them))
    )


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    cfg, fr, ledger = ctx.cfg, receipts, ctx.ledger
    if fr.height == 0:
        return Proposal()
    oi = ledger.open_invoices()
    left = fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        "payer_method",
        pl.col("payer_name").fill_null("").alias("payer"),
        pl.col("candidates").list.len().alias("n_cand"),
        pl.col("candidates").list.join(", ").alias("listed"),
        pl.col("candidates").alias("c_inv"),
    ).explode("c_inv")
    c = left.join(
        oi.select(
            "inv_idx",
            "invoice_id",
            pl.col("customer_id").alias("c_inv"),
            "currency",
            pl.col("open_c").alias("amt_c"),
            "invoice_date",
        ),
        on=["c_inv", "currency", "amt_c"],
    )
    c = ledger.drop_rejected(c)
    if c.height == 0:
        return Proposal()
    # the memo names an open invoice of a candidate: that candidate is who paid, or a rival
    named = (
        ctx.refs.select("rec_idx", "inv_idx")
        .join(oi.select("inv_idx", pl.col("customer_id").alias("c_named")), on="inv_idx")
        .join(left.select("rec_idx", pl.col("c_inv").alias("c_named")), on=["rec_idx", "c_named"])
        .select("rec_idx", "c_named")
        .unique()
    )
    rival = (
        c.select("rec_idx", "inv_idx", "c_inv")
        .join(named, on="rec_idx")
        .filter(pl.col("c_named") != pl.col("c_inv"))
        .select("rec_idx", "inv_idx")
        .unique()
        .with_columns(pl.lit(True).alias("rival"))
    )
    c = (
        c.join(rival, on=["rec_idx", "inv_idx"], how="left")
        .with_columns(
            pl.col("rival").fill_null(False),
            pl.len().over("rec_idx").alias("n_inv"),
        )
        .sort(["rec_idx", "invoice_date", "invoice_id"])
    )
    found = who(pl.col("payer_method"), pl.col("n_cand"), pl.col("listed"), pl.col("payer"))
    in_window = in_date_window(cfg)
    unique = numbered(c.filter((pl.col("n_inv") == 1) & ~pl.col("rival")))
    meta = [
        pl.lit("candidates").alias("rule"),
        pl.col("payer_method").replace_strict(SUB_RULES, return_dtype=pl.String).alias("rule_id"),
        pl.format(
            "{}; amount {} equals invoice {} of customer {}, {}: the amount decides{}",
            found,
            fmt_cents_expr(pl.col("amt_c")),
            "invoice_id",
            "c_inv",
            pl.when(pl.col("n_cand") == 1)
            .then(pl.lit("its only open invoice of that amount"))
            .otherwise(pl.lit("the only open invoice of that amount among theirs")),
            pl.when(in_window)
            .then(pl.lit(""))
            .otherwise(pl.format(" (dated {}, outside the usual window)", "invoice_date")),
        ).alias("reason"),
        pl.lit("").alias("flags"),
    ]
    rows = cash_rows(unique, applied=pl.col("amt_c"), meta=meta)
    held = c.filter((pl.col("n_inv") > 1) | pl.col("rival"))
    sugg = held.select(
        "rec_idx",
        pl.lit(0, dtype=pl.Int64).alias("rank"),
        pl.col("c_inv").alias("customer_id"),
        pl.col("invoice_id").alias("invoice_ids"),
        "amt_c",
        (0.5 / pl.col("n_inv").cast(pl.Float64) + 0.2).alias("score"),
        pl.lit("candidates").alias("rule"),
        pl.format(
            "{}; amount {} equals invoice {} of customer {}{}: a person decides",
            found,
            fmt_cents_expr(pl.col("amt_c")),
            "invoice_id",
            "c_inv",
            pl.when(pl.col("rival"))
            .then(pl.lit(", but the memo names an invoice of another of them"))
            .otherwise(pl.format(", one of {} open invoices of that amount among theirs", "n_inv")),
        ).alias("reason"),
    ).rename({"amt_c": "amount_c"})
    return Proposal(rows=rows, suggestions=sugg.select(list(SUGGESTION_ROWS)))


RULE = Rule(
    id="candidates",
    switch="exact_amount",
    rule="candidates",
    description="a payer who is one of several customers (a shared name or alias, a fuzzy "
    "name, the customer's name in the memo of a line without payer): the only open invoice "
    "among the candidates' of exactly the receipt's amount and currency, however old",
    receipts=Receipts(candidates=True),
    propose=propose,
    ties="unique",
    confidence={
        "candidates.unique_amount": 0.85,
        "candidates.fuzzy_unique_amount": 0.8,
        "candidates.memo_unique_amount": 0.8,
    },
    settings=("payer_max_candidates", "date_window_days", "date_window_prepay_days"),
    payer_factor=False,
)
