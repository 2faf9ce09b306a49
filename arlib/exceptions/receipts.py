"""Residual receipts (cash not applied in full): why each is left, most specific first.

The checks that read a receipt on its own or against one lookup are polars columns over all
residual receipts at once: before the candidates, a receipt held as a dispute, a duplicate
bank line, a duplicate payment and rounding; after them, an overpayment and an unidentified
receipt; between them the readings against candidate invoices (a keying error, tax, a
discount or a bank charge), over all (receipt, invoice) pairs at once.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_FLOOR

import polars as pl

from arlib.exceptions.candidates import CHARGE, DISCOUNT, truthy
from arlib.exceptions.context import (
    RATE_SCALE,
    Context,
    as_text,
    charge_readings,
    discount_rates,
    fmt_cents_text,
    net_of_tax_expr,
    net_of_tax_text,
    python_repr,
    swap_text,
)
from arlib.exceptions.register import ROW_SCHEMA
from arlib.exceptions.tolerance import discount_verdicts
from arlib.keying import decimal_shift_expr, is_transposition_expr, most_digits
from arlib.money import cents_expr, fmt_money, fmt_money_expr, money_expr, to_cents

_MIDDLE = {
    "_ord": pl.UInt32,
    "_m_type": pl.String,
    "_m_evidence": pl.String,
    "_m_invoice": pl.String,
}


def receipt_residuals(ctx: Context) -> pl.DataFrame:
    """Residual receipts in statement order (source file, row, receipt id)."""
    c = ctx.c
    rows = _with_twins(ctx.receipt_rows, c.duplicate_line_keys)
    if rows.height == 0:
        return pl.DataFrame(schema=ROW_SCHEMA)
    first_sug = ctx.residual_suggestions.group_by("receipt_id", maintain_order=True).agg(
        pl.len().alias("_n_sug"),
        pl.col("invoice_ids").first().alias("_s_invoices"),
        pl.col("customer_id").first().alias("_s_customer"),
        pl.col("score").first().alias("_s_score"),
        pl.col("reason").first().alias("_s_reason"),
    )
    named = pl.DataFrame(
        {"receipt_id": list(ctx.disputes), "_named": list(ctx.disputes.values())},
        schema={"receipt_id": pl.String, "_named": pl.String},
    )
    paid_to = ctx.receipt_cash.group_by("receipt_id").agg(
        pl.col("invoice_id").unique().sort().str.join(", ").alias("_paid_to")
    )
    dup = ctx.dup_receipt.select(
        "_ord",
        "_other",
        "_other_date",
        pl.col("invoice_id").alias("_d_invoice"),
        pl.lit(True).alias("_d"),
    )
    hist = ctx.dup_history.select(
        "_ord",
        "_h_receipt",
        "payment_date",
        "period",
        pl.col("invoice_id").alias("_h_invoice"),
        pl.lit(True).alias("_h"),
    )
    owed = ctx.owed.select(pl.col("customer_id").alias("_customer"), "currency", "_owed")
    a = pl.col("allocated")
    r = (
        rows.filter("_residual")
        .join(first_sug, on="receipt_id", how="left", maintain_order="left")
        .join(named, on="receipt_id", how="left", maintain_order="left")
        .join(paid_to, on="receipt_id", how="left", maintain_order="left")
        .join(dup, on="_ord", how="left", maintain_order="left")
        .join(hist, on="_ord", how="left", maintain_order="left")
        .join(
            owed, on=["_customer", "currency"], how="left", nulls_equal=True, maintain_order="left"
        )
        .with_columns(
            # ``allocated or (amount - unapplied)``
            pl.when(a.is_null() | (a == 0))
            .then(pl.col("amount") - pl.col("unapplied"))
            .otherwise(a)
            .alias("_alloc"),
        )
    )
    alloc = pl.col("_alloc")
    rounding = to_cents(c.rounding_tolerance, ROUND_FLOOR)
    dup_payment = (
        (alloc == 0) & truthy("_customer") & (pl.col("_d") | pl.col("_h")).fill_null(False)
    )
    front = (
        pl.col("status").eq_missing("dispute")
        | pl.col("_twin")
        | dup_payment
        | ((alloc > 0) & (cents_expr("unapplied").abs() <= rounding))
    )
    r = r.with_columns(front.alias("_front"))
    middle = _middle(ctx, r.filter(~pl.col("_front")))
    r = r.join(middle, on="_ord", how="left", maintain_order="left")

    amount = fmt_money_expr("amount")
    memo = python_repr("memo", r)
    owed_amount = pl.col("_owed").fill_null(0)
    sug0 = pl.col("_s_invoices").fill_null("").str.split("|").list.first()
    disputed = pl.format(
        "receipt {} held as dispute by a decision{}; memo {}",
        amount,
        pl.when(truthy("_named")).then(pl.format(" on invoice {}", "_named")).otherwise(pl.lit("")),
        memo,
    )
    twin = pl.format(
        "same {} as receipt {} ({}, {} {}, {}, memo {}) at {}:{}",
        pl.lit(", ".join(c.duplicate_line_keys)),
        as_text(pl.col("_t_receipt")),
        as_text(pl.col("value_date")),
        amount,
        as_text(pl.col("currency")),
        as_text(pl.col("payer_name")),
        memo,
        as_text(pl.col("_t_file")),
        as_text(pl.col("_t_row")),
    )
    seen_dup = pl.col("_d").fill_null(False)
    duplicate = (
        pl.when(seen_dup)
        .then(
            pl.format(
                "receipt {} on {} = receipt {} {} on {} already applied to invoice {} (paid)",
                amount,
                as_text(pl.col("value_date")),
                as_text(pl.col("_other")),
                amount,
                as_text(pl.col("_other_date")),
                as_text(pl.col("_d_invoice")),
            )
        )
        .otherwise(
            pl.format(
                "receipt {} on {} = receipt {} {} on {} ({}) already applied to invoice {}",
                amount,
                as_text(pl.col("value_date")),
                as_text(pl.col("_h_receipt")),
                amount,
                as_text(pl.col("payment_date")),
                as_text(pl.col("period")),
                as_text(pl.col("_h_invoice")),
            )
        )
    )
    unidentified = (
        pl.when(pl.col("_n_sug").is_not_null())
        .then(
            pl.format(
                "receipt {} not applied; {} suggestion(s), best: {} ({}) score {} — {}",
                amount,
                pl.col("_n_sug"),
                as_text(pl.col("_s_invoices")),
                as_text(pl.col("_s_customer")),
                _float_text("_s_score", r),
                as_text(pl.col("_s_reason")),
            )
        )
        .when(truthy("_customer"))
        .then(
            pl.format(
                "receipt {} from {} matches no open invoice or combination (customer owes {} {})",
                amount,
                pl.col("_customer"),
                fmt_money_expr(owed_amount),
                as_text(pl.col("currency")),
            )
        )
        .otherwise(
            pl.format(
                "receipt {} from payer {} (account {}) not identified; memo {}",
                amount,
                python_repr("payer_name", r),
                as_text(pl.col("payer_account")),
                memo,
            )
        )
    )

    def verdict(kind, evidence, invoice=None):
        return pl.struct(
            t=pl.lit(kind) if isinstance(kind, str) else kind,
            e=evidence,
            i=pl.lit(None, pl.String) if invoice is None else invoice,
        )

    chosen = (
        pl.when(pl.col("status").eq_missing("dispute"))
        .then(
            verdict(
                "disputed_invoice",
                disputed,
                pl.when(truthy("_named")).then(pl.col("_named")).when(sug0 != "").then(sug0),
            )
        )
        .when(pl.col("_twin"))
        .then(verdict("duplicate_bank_line", twin))
        .when(dup_payment)
        .then(
            verdict(
                "duplicate_payment",
                duplicate,
                pl.when(seen_dup).then(pl.col("_d_invoice")).otherwise(pl.col("_h_invoice")),
            )
        )
        .when(pl.col("_front"))
        .then(
            verdict(
                "rounding",
                pl.format(
                    "receipt {} applied {}; {} left ≤ {}",
                    amount,
                    fmt_money_expr(alloc),
                    fmt_money_expr("unapplied"),
                    pl.lit(fmt_money(c.rounding_tolerance)),
                ),
            )
        )
        .when(pl.col("_m_type").is_not_null())
        .then(verdict(pl.col("_m_type"), pl.col("_m_evidence"), pl.col("_m_invoice")))
        .when(alloc > 0)
        .then(
            verdict(
                "overpayment",
                pl.format(
                    "receipt {} applied {} to {}; {} left over",
                    amount,
                    fmt_money_expr(alloc),
                    pl.when(pl.col("_paid_to").fill_null("") != "")
                    .then(pl.col("_paid_to"))
                    .otherwise(pl.lit("invoices")),
                    fmt_money_expr("unapplied"),
                ),
            )
        )
        .when(truthy("customer_id") & (owed_amount <= 0))
        .then(
            verdict(
                "overpayment",
                pl.format(
                    "receipt {} from {}, who has no open {} invoices",
                    amount,
                    as_text(pl.col("_customer")),
                    as_text(pl.col("currency")),
                ),
            )
        )
        .otherwise(verdict("unidentified_receipt", unidentified))
    )
    return (
        r.with_columns(chosen.alias("_verdict"))
        .select(
            pl.col("_verdict").struct.field("t").alias("type"),
            pl.col("_customer").alias("customer_id"),
            "receipt_id",
            pl.col("_verdict").struct.field("i").alias("invoice_id"),
            pl.col("unapplied").alias("amount"),
            "currency",
            pl.col("_verdict").struct.field("e").alias("evidence"),
            pl.lit("open").alias("status"),
            "source_file",
            "source_row",
            pl.lit("receipt").alias("about"),
        )
        .cast(ROW_SCHEMA)
    )


def _float_text(column: str, frame: pl.DataFrame) -> pl.Expr:
    """A float as an f-string writes it (``repr``), once per distinct value."""
    values = frame.get_column(column).drop_nulls().unique().to_list()
    return pl.col(column).replace_strict(
        {v: str(v) for v in values}, default="None", return_dtype=pl.String
    )


def _with_twins(rows: pl.DataFrame, line_keys) -> pl.DataFrame:
    """``_twin`` and its ``_t_receipt`` / ``_t_file`` / ``_t_row``: the identical bank line
    a residual one duplicates, the first of its group (by the duplicate-line keys, in
    statement order) that was applied or comes before it."""
    keys = list(dict.fromkeys(line_keys))
    rows = rows if keys else rows.with_columns(pl.lit(0).alias("_line"))
    group = keys or ["_line"]
    grouped = rows.filter(pl.col("_group_n") > 1).with_columns(
        pl.int_range(pl.len()).over(group).alias("_pos")
    )
    later = (pl.col("_pos") > 0) & (pl.col("allocated").fill_null(0) > 0)
    before = pl.col("_pos") > 0
    twins = grouped.select(
        "_ord",
        (before | later.any().over(group)).alias("_twin"),
        *(
            pl.when(before)
            .then(pl.col(name).first().over(group))
            .otherwise(pl.col(name).filter(later).first().over(group))
            .alias(alias)
            for name, alias in (
                ("receipt_id", "_t_receipt"),
                ("source_file", "_t_file"),
                ("source_row", "_t_row"),
            )
        ),
    )
    return rows.join(twins, on="_ord", how="left", maintain_order="left").with_columns(
        pl.col("_twin").fill_null(False)
    )


def _middle(ctx: Context, rows: pl.DataFrame) -> pl.DataFrame:
    """The candidate checks of the receipts that reach them: (``_ord``, type, evidence,
    invoice) of the first candidate invoice a residual receipt reads against. First a
    keying error, rounding or tax (against the invoices it was applied to, if any), then,
    when nothing was applied, a discount or a bank charge; the candidates of each in review
    order (:func:`_candidates`)."""
    pairs = _candidates(ctx, rows)
    if pairs.height == 0:
        return pl.DataFrame(schema=_MIDDLE)
    first = pairs.filter(pl.col("_pass") == 1)
    second = pairs.filter(pl.col("_pass") == 2)
    readings = pl.concat(
        [
            _pattern(ctx, first).select("_i", "_m_type", "_m_evidence"),
            _discount_or_charge(ctx, second).select("_i", "_m_type", "_m_evidence"),
        ]
    )
    return (
        pairs.join(readings.drop_nulls("_m_type"), on="_i")
        .sort("_pass", "_other", "_due", "invoice_id", nulls_last=True)
        .unique("_ord", keep="first", maintain_order=True)
        .select("_ord", "_m_type", "_m_evidence", pl.col("invoice_id").alias("_m_invoice"))
        .cast(_MIDDLE)
    )


def _candidates(ctx: Context, rows: pl.DataFrame) -> pl.DataFrame:
    """(receipt, invoice) pairs a check reads, one row each (``_i``), by ``_pass``: 1 for the
    keying, rounding and tax checks, 2 for the discount and bank-charge ones (receipts with
    nothing applied). The candidates of a receipt are its customer's unpaid invoices the
    candidate search found for the pass, and the invoices it was applied to or suggested
    for, in the same currency; a receipt partly applied reads only against the invoices it
    was applied to (it was meant for them: its whole amount against another invoice,
    5,000.00 = 50,000.00 ÷ 10, is chance). Review order: the customer's own invoices by due
    date, then the others by id (``_other``, ``_due``, ``invoice_id``)."""
    receipts = rows.select(
        "_ord",
        "receipt_id",
        pl.col("currency").alias("_r_currency"),
        pl.col("amount").alias("_r_amount"),
        cents_expr("amount").alias("_p"),
        "value_date",
        "_customer",
        "_alloc",
    )
    applied = ctx.receipt_cash.select("receipt_id", "invoice_id", pl.lit(True).alias("_applied"))
    suggested = (
        ctx.residual_suggestions.select(
            "receipt_id",
            pl.col("invoice_ids").str.split("|").alias("invoice_id"),
            pl.lit(False).alias("_applied"),
        )
        .explode("invoice_id")
        .filter(truthy("invoice_id"))
    )
    named = (
        pl.concat([applied, suggested])
        .group_by("receipt_id", "invoice_id")
        .agg(pl.col("_applied").any())
        .join(receipts.select("_ord", "receipt_id"), on="receipt_id", nulls_equal=True)
        .select("_ord", "invoice_id", "_applied", pl.lit(True).alias("_named"))
    )
    found = ctx.hits.select(
        "_ord",
        pl.when(pl.col("_tag").is_in([DISCOUNT, CHARGE]))
        .then(pl.lit(2, pl.Int32))
        .otherwise(pl.lit(1, pl.Int32))
        .alias("_pass"),
        "invoice_id",
    )
    passes = pl.DataFrame({"_pass": [1, 2]}, schema={"_pass": pl.Int32})
    inv = ctx.invoice_frame
    customer, alloc = pl.col("_customer"), pl.col("_alloc")
    own = (
        truthy("_customer")
        & (pl.col("customer_id") == customer).fill_null(False)
        & (pl.col("status").ne_missing("paid") | pl.col("_named"))
    )
    return (
        pl.concat(
            [
                found,
                named.select("_ord", "invoice_id").join(passes, how="cross").select(found.columns),
            ]
        )
        .unique()
        .join(named, on=["_ord", "invoice_id"], how="left", nulls_equal=True)
        .with_columns(pl.col("_named").fill_null(False), pl.col("_applied").fill_null(False))
        .join(receipts, on="_ord")
        .join(inv, on="invoice_id", nulls_equal=True)
        .filter(
            own | pl.col("_named"),
            pl.col("currency").eq_missing(pl.col("_r_currency")),
            pl.when(pl.col("_pass") == 1)
            .then(~(alloc > 0) | pl.col("_applied"))
            .otherwise(alloc == 0),
        )
        .with_columns(
            (~own).alias("_other"),
            pl.when(own).then(pl.col("due_date").fill_null(dt.date.max)).alias("_due"),
        )
        .with_row_index("_i")
    )


def _pattern(ctx: Context, pairs: pl.DataFrame) -> pl.DataFrame:
    """``_m_type`` / ``_m_evidence``: the technical or tax reading of a receipt's amount
    against a candidate invoice, most specific first, else null. The invoice's open amount
    and amount (the positive ones, open first) are read for rounding (only for a receipt
    with nothing applied), then a decimal shift of either, then a digit swap of either
    (which a bank charge of the customer's may explain better, :func:`charge_readings`);
    then its amount less VAT, or net of a VAT rate."""
    c = ctx.c
    p, o, a = pl.col("_p"), pl.col("_o"), pl.col("_a")
    rates = list(c.tax_rates)
    pairs = pairs.with_columns(
        cents_expr("open_amount").alias("_o"),
        cents_expr("amount").alias("_a"),
        cents_expr("tax_amount").alias("_tax"),
    ).with_columns(
        pl.when(o.is_not_null() & (o > 0)).then(o).alias("_v1"),
    )
    v1 = pl.col("_v1")
    pairs = pairs.with_columns(
        pl.when((a > 0) & (v1.is_null() | (a != v1))).then(a).alias("_v2"),
    )
    v2 = pl.col("_v2")
    values = (v1, v2)
    rounding = to_cents(c.rounding_tolerance, ROUND_FLOOR)

    def first_of(test) -> pl.Expr:
        return pl.when(test(v1).fill_null(False)).then(v1).when(test(v2).fill_null(False)).then(v2)

    shifts = [decimal_shift_expr(p, v, c.shift_factors) for v in values]
    digits = most_digits(pairs["_p"], pairs["_v1"], pairs["_v2"])
    pairs = pairs.with_columns(
        pl.when(pl.col("_alloc") == 0)
        .then(first_of(lambda v: (p != v) & ((p - v).abs() <= rounding)))
        .alias("_round_v"),
        pl.when(shifts[0].is_not_null())
        .then(v1)
        .when(shifts[1].is_not_null())
        .then(v2)
        .alias("_shift_v"),
        pl.coalesce(shifts).alias("_shift"),
        first_of(
            lambda v: is_transposition_expr(p, v, factors=c.shift_factors, max_digits=digits)
        ).alias("_swap_v"),
        pl.format("invoice {}", as_text(pl.col("invoice_id"))).alias("_label"),
        fmt_money_expr("_r_amount").alias("_paid_text"),
    )
    swap_v = pl.col("_swap_v")
    pairs = charge_readings(pairs, ctx, swap_v - p, "_t")
    paid, label = pl.col("_paid_text"), pl.col("_label")
    amount = fmt_money_expr("amount")
    swap = swap_text(paid, label, fmt_cents_text(swap_v), p - swap_v)
    tax = pl.col("_tax")
    vat = (tax != 0) & ((p - (a - tax)).abs() <= to_cents(c.tax_tolerance, ROUND_FLOOR))
    net = net_of_tax_expr(p, a, rates, c.tax_tolerance)
    net_text = net_of_tax_text(net, paid, label, amount, a, rates)
    ok = pl.col("_t_ok")
    round_v, shift_v = pl.col("_round_v"), pl.col("_shift_v")
    verdict = (
        pl.when(round_v.is_not_null())
        .then(
            pl.struct(
                t=pl.lit("rounding"),
                e=pl.format(
                    "{} vs {} {}: difference {} ≤ {}",
                    paid,
                    label,
                    fmt_cents_text(round_v),
                    fmt_cents_text(p - round_v),
                    pl.lit(fmt_money(c.rounding_tolerance)),
                ),
            )
        )
        .when(shift_v.is_not_null())
        .then(
            pl.struct(
                t=pl.lit("decimal_shift"),
                e=pl.format("{} = {} {} {}", paid, label, fmt_cents_text(shift_v), "_shift"),
            )
        )
        .when(swap_v.is_not_null() & ok.fill_null(False))
        .then(
            pl.struct(
                t=pl.lit("bank_charge"),
                e=pl.format(
                    "{} = {} {} − {}: {}; likely deducted by the bank. Also a digit swap ({}): "
                    "if the remittance advice shows {}, it is a keying error (transposition)",
                    paid,
                    label,
                    fmt_cents_text(swap_v),
                    fmt_cents_text(swap_v - p),
                    pl.col("_t_text"),
                    swap,
                    paid,
                ),
            )
        )
        .when(swap_v.is_not_null() & ok.is_not_null())
        .then(pl.struct(t=pl.lit("transposition"), e=pl.format("{}; {}", swap, pl.col("_t_text"))))
        .when(swap_v.is_not_null())
        .then(pl.struct(t=pl.lit("transposition"), e=swap))
        .when(vat.fill_null(False))
        .then(
            pl.struct(
                t=pl.lit("tax_difference"),
                e=pl.format(
                    "{} = {} {} − VAT {}", paid, label, amount, fmt_money_expr("tax_amount")
                ),
            )
        )
        .when(net.is_not_null())
        .then(pl.struct(t=pl.lit("tax_difference"), e=net_text))
    )
    return pairs.with_columns(verdict.alias("_v")).select(
        "_i",
        pl.col("_v").struct.field("t").alias("_m_type"),
        ("receipt " + pl.col("_v").struct.field("e")).alias("_m_evidence"),
    )


def _discount_or_charge(ctx: Context, pairs: pl.DataFrame) -> pl.DataFrame:
    """``_m_type`` / ``_m_evidence``: an unapplied receipt equal to the invoice less a
    discount the matcher did not take (a rate of the invoice customer's terms or the
    configured ones, within rounding; judged by :func:`discount_verdicts`), else short of
    what the invoice owes by a bank-charge-sized amount; else null."""
    c = ctx.c
    p, a = pl.col("_p"), cents_expr("amount")
    rounding = to_cents(c.rounding_tolerance, ROUND_FLOOR)
    gap = (
        p.cast(pl.Int128) * RATE_SCALE - a.cast(pl.Int128) * (RATE_SCALE - pl.col("_rate"))
    ).abs()
    discounted = (
        pairs.select("_i", "customer_id", "_p", "amount")
        .join(
            discount_rates(ctx, pairs.get_column("customer_id")),
            on="customer_id",
            nulls_equal=True,
        )
        .filter(gap <= to_cents(c.rounding_tolerance * RATE_SCALE, ROUND_FLOOR))
        .select("_i")
        .unique()
    )
    found = pairs.join(discounted, on="_i", how="semi").select(
        "_i",
        (a - p).alias("_amt_c"),
        money_expr(a - p).alias("applied_amount"),
        pl.col("amount").alias("_inv_amount"),
        pl.col("invoice_date").alias("_inv_date"),
        pl.col("value_date").alias("_paid_on"),
        pl.col("customer_id").alias("_inv_customer"),
    )
    discounts = (
        discount_verdicts(found, ctx, c).select("_i", "type", pl.col("evidence").alias("_ev"))
        if found.height
        else pl.DataFrame(schema={"_i": pl.UInt32, "type": pl.String, "_ev": pl.String})
    )
    o = cents_expr("open_amount")
    owed = pl.when(o.is_not_null() & (o != 0)).then(o).otherwise(a)
    short = pl.col("_short")
    paid = fmt_money_expr("_r_amount")
    label = as_text(pl.col("invoice_id"))
    charge = (short > rounding) & (short <= c.bank_charge_cents(pl.col("_r_currency")))
    return (
        pairs.with_columns(owed.alias("_owed"), (owed - p).alias("_short"))
        .join(discounts, on="_i", how="left")
        .select(
            "_i",
            pl.when(pl.col("type").is_not_null())
            .then(pl.col("type"))
            .when(charge.fill_null(False))
            .then(pl.lit("bank_charge"))
            .alias("_m_type"),
            pl.when(pl.col("type").is_not_null())
            .then(pl.format("receipt {} = invoice {} less {}", paid, label, pl.col("_ev")))
            .when(charge.fill_null(False))
            .then(
                pl.format(
                    "receipt {} = invoice {} {} − {} (≤ bank-charge tolerance {}): likely "
                    "deducted by the bank; not yet applied",
                    paid,
                    label,
                    fmt_cents_text(pl.col("_owed")),
                    fmt_cents_text(short),
                    c.bank_charge_text(pl.col("_r_currency")),
                )
            )
            .alias("_m_evidence"),
        )
    )


__all__ = ["receipt_residuals"]
