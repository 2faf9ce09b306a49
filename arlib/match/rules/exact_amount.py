"""Exact amount: the payer's (resolved customer's) only open invoice with this amount.

``exact_amount``: the receipt's exact amount and currency, however old the invoice (the date
window only words the reason). ``exact_amount.tolerance``: no reference, the customer's only
open invoice within tolerance and the date window; among several candidates the strongest
evidence decides when it names one invoice (rounding, then the customer's discount to the
cent, then a bank charge -- without a reference only in whole currency units,
``bank_charge_whole_units``); an amount that looks like a keying error of an open invoice of
the payer is left to people. ``exact_amount.fx``: a foreign-currency receipt converted at the
value-date rate, in the date window.
"""

from __future__ import annotations

import polars as pl

from arlib.keying import transpositions_expr
from arlib.match.cascade import Context, Proposal, Receipts, Rule, numbered
from arlib.match.frames import basis_points, range_join
from arlib.match.prepare import (
    bank_charge_bp,
    bank_charge_cap,
    bank_charge_limit,
    cash_rows,
    cash_with_write_off,
    in_date_window,
    round_sum,
    with_rate,
)
from arlib.money import fmt_cents_expr, to_cents


def propose_exact(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    cfg, fr = ctx.cfg, receipts
    oi = ctx.ledger.open_invoices()
    c = fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        "c_pay",
        "payer_name",
        "payer_method",
        "payer_score",
    ).join(
        oi.select(
            "inv_idx",
            "invoice_id",
            pl.col("customer_id").alias("c_pay"),
            "currency",
            pl.col("open_c").alias("amt_c"),
            "invoice_date",
        ),
        on=["c_pay", "currency", "amt_c"],
    )
    # age is no evidence against: the only exact invoice is applied however old (an old
    # overdue invoice is the one most likely to be paid); the window only words the reason
    in_window = in_date_window(cfg)
    c = numbered(ctx.ledger.drop_rejected(c))
    meta = [
        pl.lit("exact_amount").alias("rule"),
        pl.lit("exact_amount.unique").alias("rule_id"),
        pl.format(
            "payer '{}' is customer {} (by {}); amount {} equals invoice {}, its only open "
            "invoice of that amount{}",
            pl.col("payer_name").fill_null(""),
            "c_pay",
            "payer_method",
            fmt_cents_expr(pl.col("amt_c")),
            "invoice_id",
            pl.when(in_window)
            .then(pl.lit(""))
            .otherwise(pl.format(" (dated {}, outside the usual window)", "invoice_date")),
        ).alias("reason"),
        pl.lit("").alias("flags"),
    ]
    return Proposal(rows=cash_rows(c, applied=pl.col("amt_c"), meta=meta))


def keying_error_receipts(ctx: Context, fr: pl.DataFrame) -> pl.DataFrame:
    """``rec_idx`` of receipts whose amount looks like a keying error (x10 / x100 either
    way, two adjacent digits swapped) of the open or invoiced amount of one of the payer's
    open invoices in the currency, wherever that invoice's amount lies: such a receipt is
    ambiguous, never an invoice less a fee. Exact variants are joined, the rounded x10 /
    x100 bands found by a sorted search."""
    keys = ["c_pay", "currency"]
    left = fr.filter(pl.col("c_pay").is_not_null()).select("rec_idx", *keys, "amt_c")
    oi = (
        ctx.ledger.open_invoices()
        .select(pl.col("customer_id").alias("c_pay"), "currency", "open_c", "amt_c")
        .join(left.select(keys).unique(), on=keys, how="semi")  # only these payers' invoices
    )
    targets = pl.concat(
        [
            oi.select(*keys, pl.col("open_c").alias("e")),
            oi.select(*keys, pl.col("amt_c").alias("e")),
        ]
    ).unique()
    if left.height == 0 or targets.height == 0:
        return pl.DataFrame(schema={"rec_idx": pl.Int64})
    # the amounts the receipt is an exact keying error of (prepare.exact_keying_errors):
    # its digits with two adjacent ones swapped, its cents / 10 and / 100 when they divide
    amt = pl.col("amt_c")
    variants = pl.concat_list(
        *transpositions_expr(amt),
        *(pl.when(amt % d == 0).then(amt // d) for d in (10, 100)),
    )
    exact = (
        left.with_columns(variants.alias("e"))
        .explode("e")
        .drop_nulls("e")
        .join(targets, on=[*keys, "e"], how="semi")
        .select("rec_idx")
    )
    hits = [exact]
    for factor, slack in ((10, 5), (100, 50)):
        band = range_join(
            left,
            targets,
            keys,
            "e",
            pl.col("amt_c") * factor - slack,
            pl.col("amt_c") * factor + slack,
            cap=1,
        )
        hits.append(band.select("rec_idx"))
    return pl.concat(hits).unique()


def propose_tolerance(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """No reference, payer known (not a balance-forward customer, whose lump sums come near
    invoices by chance): the customer's only open invoice within tolerance (rounding,
    discount within its window, bank charge up to the currency's cap and
    ``bank_charge_max_pct``, never on a round sum against an amount that is not) in the
    date window; an amount that looks like a keying error of an open invoice (transposed
    digits) makes the receipt ambiguous (suggestion)."""
    cfg, cust, fr = ctx.cfg, ctx.customers, receipts
    oi = ctx.ledger.open_invoices()
    rt = to_cents(cfg.rounding_tolerance)
    left = fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        "c_pay",
        "payer_name",
        "payer_method",
        "payer_score",
        "inst",
    ).join(
        cust.select(pl.col("customer_id").alias("c_pay"), "disc_bp", "disc_days", "discount_terms"),
        on="c_pay",
        how="left",
    )
    # the widest write-off possible for this receipt: rounding, its currency's bank charge
    # (open <= amount + fee and fee <= pct of open), or twice the customer's discount
    bp = bank_charge_bp(cfg)
    width = pl.max_horizontal(
        pl.lit(rt),
        pl.min_horizontal(
            bank_charge_cap(cfg, "currency"), pl.col("amt_c") * bp // max(1, 10_000 - bp)
        ),
        pl.col("amt_c") * pl.col("disc_bp").fill_null(0) * 2 // 10_000,
    )
    c = range_join(
        left,
        oi.select(
            "inv_idx",
            "invoice_id",
            pl.col("customer_id").alias("c_pay"),
            "currency",
            "open_c",
            "invoice_date",
            pl.col("amt_c").alias("inv_amt_c"),
        ),
        ["c_pay", "currency"],
        "open_c",
        pl.col("amt_c") - rt,
        pl.col("amt_c") + width + rt + 1,
        cap=20,
    )
    c = c.filter(pl.col("_n_in_range") <= 20)  # a crowd of near amounts: people decide
    c = c.filter(in_date_window(cfg))
    if c.height == 0:
        return Proposal()
    c = ctx.ledger.drop_rejected(c)
    bc = bank_charge_limit(cfg, "currency", "open_c")
    diff = pl.col("open_c") - pl.col("amt_c")
    disc_c = (pl.col("inv_amt_c") * pl.col("disc_bp") * 2 + 10_000) // 20_000
    disc_ok = (
        pl.col("disc_bp").is_not_null()
        & (pl.col("value_date") <= pl.col("invoice_date") + pl.duration(days=pl.col("disc_days")))
        & ((diff - disc_c).abs() <= rt)
    )
    kind = (
        pl.when(diff == 0)
        .then(pl.lit(None, dtype=pl.String))  # exact: done (or ambiguous)
        .when(diff.abs() <= rt)
        .then(pl.lit("rounding"))
        .when((diff > 0) & disc_ok)
        .then(pl.lit("discount"))
        .when((diff > 0) & (diff <= bc) & pl.col("inst"))
        .then(pl.lit("typo"))  # an instalment short of an invoice: ambiguous, not a fee
        .when(
            (diff > 0)
            & (diff <= bc)
            & ~round_sum(pl.col("amt_c"), pl.col("open_c"))
            & (pl.lit(not cfg.bank_charge_whole_units) | (diff % 100 == 0))
        )
        .then(pl.lit("bank_charge"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    # a keying error of any open invoice of the payer (not only of the candidates in range)
    suspects = fr.join(c.select("rec_idx").unique(), on="rec_idx", how="semi")
    c = c.join(keying_error_receipts(ctx, suspects), on="rec_idx", how="anti")
    c = c.with_columns(kind.alias("wo"))
    # an exact candidate (ambiguous or rejected) keeps the receipt out of this rule
    c = c.filter(~(diff == 0).any().over("rec_idx")).filter(pl.col("wo").is_not_null())
    c = c.filter(~(pl.col("wo") == "typo").any().over("rec_idx"))
    # several candidates: the strongest evidence decides when it names one invoice -- a
    # rounding difference, then the customer's discount to the cent, then a bank charge
    strength = (
        pl.when(pl.col("wo") == "rounding")
        .then(0)
        .when(pl.col("wo") == "discount")
        .then(1)
        .otherwise(2)
    )
    c = numbered(c.with_columns(strength.alias("rank")))
    detail = (
        pl.when(pl.col("wo") == "rounding")
        .then(pl.format("difference {} written off as rounding", fmt_cents_expr(diff)))
        .when(pl.col("wo") == "discount")
        .then(
            pl.format(
                "short {} = early-payment discount ({})", fmt_cents_expr(diff), "discount_terms"
            )
        )
        .otherwise(pl.format("short {} written off as bank charge", fmt_cents_expr(diff)))
    )
    common = [
        pl.lit("exact_amount").alias("rule"),
        pl.lit("exact_amount.tolerance").alias("rule_id"),
        pl.format(
            "payer '{}' is customer {} (by {}); amount {} is within tolerance of invoice {} "
            "(open {}), its only such open invoice in the date window; {}",
            pl.col("payer_name").fill_null(""),
            "c_pay",
            "payer_method",
            fmt_cents_expr(pl.col("amt_c")),
            "invoice_id",
            fmt_cents_expr(pl.col("open_c")),
            detail,
        ).alias("reason"),
        pl.lit("").alias("flags"),
    ]
    return Proposal(
        rows=cash_with_write_off(
            c,
            applied=pl.col("amt_c"),
            received=pl.col("amt_c"),
            write_off_kind=pl.col("wo"),
            write_off=diff,
            write_off_rows=pl.lit(True),
            meta=common,
        )
    )


def propose_fx(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """No reference, payer known, receipt in a foreign currency: converted at the value-date
    rate, the only open base-currency invoice of the payer within ``fx_tolerance_pct`` and
    within a quarter of it, in the date window -> applied, the difference as
    ``fx_difference``."""
    cfg, fx, base, fr = ctx.cfg, ctx.fx, ctx.base_currency, receipts
    if fr.height == 0 or fx.height == 0:
        return Proposal()
    fr = with_rate(fr, "currency", "rate_r", fx, base, cfg).filter(pl.col("rate_r").is_not_null())
    fr = fr.with_columns(
        ((pl.col("amt_c").cast(pl.Int128) * pl.col("rate_r") * 2 + 100_000_000) // 200_000_000)
        .cast(pl.Int64)
        .alias("conv_c"),
        pl.lit(base).alias("i_ccy"),
    )
    bp = basis_points(cfg.fx_tolerance_pct)
    c = range_join(
        fr.select(
            "rec_idx",
            "receipt_id",
            "value_date",
            "currency",
            "amt_c",
            "conv_c",
            "i_ccy",
            "c_pay",
            "payer_name",
            "payer_method",
            "payer_score",
        ),
        ctx.ledger.open_invoices().select(
            "inv_idx",
            "invoice_id",
            pl.col("customer_id").alias("c_pay"),
            pl.col("currency").alias("i_ccy"),
            "open_c",
            "invoice_date",
        ),
        ["c_pay", "i_ccy"],
        "open_c",
        pl.col("conv_c") * (10_000 - bp) // 10_000,
        pl.col("conv_c") * (10_000 + bp) // 10_000,
        cap=5,
    )
    # alone within the full tolerance, and close: within a quarter of it (bank rates differ
    # from the book rate by tenths of a percent; a wider gap is a partial or another fee)
    close = (pl.col("open_c") - pl.col("conv_c")).abs() * 40_000 <= pl.col("conv_c") * bp
    c = c.filter((pl.col("_n_in_range") == 1) & close & in_date_window(cfg))
    c = numbered(ctx.ledger.drop_rejected(c).with_columns(pl.lit(0, dtype=pl.Int64).alias("rank")))
    diff = pl.col("open_c") - pl.col("conv_c")
    common = [
        pl.lit("exact_amount").alias("rule"),
        pl.lit("exact_amount.fx").alias("rule_id"),
        pl.format(
            "payer '{}' is customer {} (by {}); {} {} at the value-date rate = {} {}, within "
            "{}% of invoice {} (open {}), its only such open invoice in the date window; "
            "fx difference {}",
            pl.col("payer_name").fill_null(""),
            "c_pay",
            "payer_method",
            "currency",
            fmt_cents_expr(pl.col("amt_c")),
            "i_ccy",
            fmt_cents_expr(pl.col("conv_c")),
            pl.lit(str(cfg.fx_tolerance_pct)),
            "invoice_id",
            fmt_cents_expr(pl.col("open_c")),
            fmt_cents_expr(diff),
        ).alias("reason"),
        pl.lit("").alias("flags"),
    ]
    return Proposal(
        rows=cash_with_write_off(
            c,
            applied=pl.col("conv_c"),
            received=pl.col("amt_c"),
            write_off_kind=pl.lit("fx_difference"),
            write_off=diff,
            write_off_rows=diff != 0,
            meta=common,
        )
    )


WINDOW = ("date_window_days", "date_window_prepay_days")
RULES = (
    Rule(
        id="exact_amount",
        switch="exact_amount",
        description="the payer's only open invoice of exactly the receipt's amount and "
        "currency, however old (age is no evidence against)",
        receipts=Receipts(payer=True),
        propose=propose_exact,
        ties="unique",
        confidence={"exact_amount.unique": 0.9},
    ),
    Rule(
        id="exact_amount.tolerance",
        switch="exact_amount",
        description="no reference: the payer's only open invoice within rounding, its "
        "discount or a whole-unit bank charge of the amount; never a keying error of an "
        "open invoice",
        receipts=Receipts(payer=True, references="without", policy="open_item"),
        propose=propose_tolerance,
        ties="unique",
        confidence={"exact_amount.tolerance": 0.85},
        settings=(
            "rounding_tolerance",
            "bank_charge_max",
            "bank_charge_max_pct",
            "bank_charge_whole_units",
            *WINDOW,
        ),
    ),
    Rule(
        id="exact_amount.fx",
        switch="exact_amount",
        description="no reference, foreign-currency receipt: converted at the value-date "
        "rate, the payer's only base-currency invoice within the fx tolerance",
        receipts=Receipts(payer=True, references="without", foreign=True),
        propose=propose_fx,
        ties="unique",
        confidence={"exact_amount.fx": 0.8},
        settings=("fx_tolerance_pct", "fx_max_rate_age_days", *WINDOW),
    ),
)
