"""Residual invoices (disputed, or partly paid and still open): why each is short, as polars
over all of them at once (each check a column, the first that holds the verdict).

The checks, most specific first: disputed; open within rounding; the cash paid against the
invoice read as a keying error of its amount (a decimal shift, else a digit swap, which a
bank charge of the customer's may explain better), as the invoice less its VAT or net of a
VAT rate; the open amount a discount of the customer's terms or the configured rates
(judged by :func:`~arlib.exceptions.tolerance.discount_verdicts` with the last payment's
date); a bank charge the customer's bank is seen deducting; else a short payment.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR

import polars as pl

from arlib.exceptions.context import (
    RATE_SCALE,
    Context,
    as_text,
    charge_readings,
    discount_rates,
    fmt_cents_text,
    net_of_tax_expr,
    net_of_tax_text,
    swap_text,
)
from arlib.exceptions.register import ROW_SCHEMA
from arlib.exceptions.tolerance import discount_verdicts
from arlib.keying import decimal_shift_expr, is_transposition_expr, most_digits
from arlib.money import cents_expr, fmt_money, fmt_money_expr, to_cents


def invoice_residuals(ctx: Context) -> pl.DataFrame:
    """Disputed or partly paid invoices still open, by invoice id."""
    c = ctx.c
    if ctx.residual_invoices.height == 0:
        return pl.DataFrame(schema=ROW_SCHEMA)
    cash = ctx.invoice_cash
    # the receipts paying these invoices, found by a filter (cheaper than joining all)
    receipts = ctx.receipt_frame.select("receipt_id", "value_date").filter(
        pl.col("receipt_id").is_in(cash.get_column("receipt_id").implode(), nulls_equal=True)
    )
    paying = (
        cash.join(
            receipts,
            on="receipt_id",
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        .group_by("invoice_id")
        .agg(
            pl.col("receipt_id").unique().sort().str.join("|").alias("_rids"),
            pl.col("applied_amount").sum().alias("_paid"),
            pl.col("value_date").max().alias("_paid_on"),
        )
    )
    rows = (
        ctx.residual_invoices.with_row_index("_i")
        .join(paying, on="invoice_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("_rids") != "").then(pl.col("_rids")).alias("_rids"),
            pl.col("applied").fill_null(0).alias("_applied"),
            pl.col("_paid").fill_null(0),
            cents_expr("amount").alias("_amt_c"),
            cents_expr("open_amount").alias("_open_c"),
            cents_expr(pl.col("_paid").fill_null(0)).alias("_paid_c"),
        )
    )
    amt_c, open_c, paid_c = pl.col("_amt_c"), pl.col("_open_c"), pl.col("_paid_c")
    rows = charge_readings(rows, ctx, amt_c - paid_c, "_t")
    rows = charge_readings(rows, ctx, open_c, "_o")
    rows = _discounted(rows, ctx)

    rows = _pattern(rows, c).with_columns(
        pl.format(
            "invoice {} {}, paid {}, open {}",
            as_text(pl.col("invoice_id")),
            pl.col("_amount_text"),
            fmt_money_expr("_applied"),
            fmt_money_expr("open_amount"),
        ).alias("_head")
    )
    head, kind = pl.col("_head"), pl.col("_kind")
    rounding = to_cents(c.rounding_tolerance, ROUND_FLOOR)
    round_sum = (paid_c % 10_000 == 0) & (amt_c % 10_000 != 0)
    charge_ev = pl.format(
        "{}: {}; likely deducted by the bank, not written off by matching{}",
        head,
        pl.col("_o_text"),
        pl.when(round_sum)
        .then(
            pl.format(
                ". The payment {} is a round sum: if the customer rounded down (抹零) or "
                "paid an installment, it is a short payment",
                fmt_money_expr("_paid"),
            )
        )
        .otherwise(pl.lit("")),
    )
    paid = paid_c > 0
    verdict = (
        pl.when(pl.col("disputed").fill_null(False))
        .then(pl.struct(t=pl.lit("disputed_invoice"), e=head + "; invoice marked disputed"))
        .when(open_c <= rounding)
        .then(pl.struct(t=pl.lit("rounding"), e=head + f" ≤ {fmt_money(c.rounding_tolerance)}"))
        .when(paid & kind.is_not_null())
        .then(
            pl.struct(
                t=kind,
                e=pl.format("cash {}; open {}", pl.col("_reading"), fmt_money_expr("open_amount")),
            )
        )
        .when(paid & pl.col("_d_type").is_not_null())
        .then(pl.struct(t=pl.col("_d_type"), e=pl.format("{}: {}", head, pl.col("_d_text"))))
        .when(paid & pl.col("_o_ok").fill_null(False))
        .then(pl.struct(t=pl.lit("bank_charge"), e=charge_ev))
        .otherwise(
            pl.struct(
                t=pl.lit("short_payment"),
                e=head + "; no explanation found (not rounding, tax, discount)",
            )
        )
    )
    return (
        rows.sort("_i")
        .with_columns(verdict.alias("_verdict"))
        .select(
            pl.col("_verdict").struct.field("t").alias("type"),
            "customer_id",
            pl.col("_rids").alias("receipt_id"),
            "invoice_id",
            pl.col("open_amount").alias("amount"),
            "currency",
            pl.col("_verdict").struct.field("e").alias("evidence"),
            pl.lit("open").alias("status"),
            "source_file",
            "source_row",
            pl.lit("invoice").alias("about"),
        )
        .cast(ROW_SCHEMA)
    )


def _pattern(rows: pl.DataFrame, c) -> pl.DataFrame:
    """``_kind`` / ``_reading``: :meth:`Context.pattern` of the cash paid against the
    invoice amount (no rounding reading), null where none holds. The readings are columns
    first, so each expression is built once."""
    amt_c, paid_c = pl.col("_amt_c"), pl.col("_paid_c")
    rates = list(c.tax_rates)
    # a keying error needs a positive invoice amount (and cash, which the caller checks)
    positive = amt_c > 0
    tax_c = cents_expr("tax_amount")
    digits = most_digits(*rows.select(amt_c, paid_c))
    rows = rows.with_columns(
        pl.format("invoice {}", as_text(pl.col("invoice_id"))).alias("_label"),
        fmt_money_expr("_paid").alias("_paid_text"),
        fmt_money_expr("amount").alias("_amount_text"),
        pl.when(positive).then(decimal_shift_expr(paid_c, amt_c, c.shift_factors)).alias("_shift"),
        (
            positive
            & is_transposition_expr(paid_c, amt_c, factors=c.shift_factors, max_digits=digits)
        )
        .fill_null(False)
        .alias("_swapped"),
        ((tax_c != 0) & ((paid_c - amt_c + tax_c).abs() <= to_cents(c.tax_tolerance, ROUND_FLOOR)))
        .fill_null(False)
        .alias("_vat"),
        net_of_tax_expr(paid_c, amt_c, rates, c.tax_tolerance).alias("_net"),
    )
    label, paid, amount = pl.col("_label"), pl.col("_paid_text"), pl.col("_amount_text")
    shift, swapped, vat, net = pl.col("_shift"), pl.col("_swapped"), pl.col("_vat"), pl.col("_net")
    charge = swapped & pl.col("_t_ok").fill_null(False)
    rows = rows.with_columns(
        swap_text(paid, label, amount, paid_c - amt_c).alias("_swap"),
    )
    swap = pl.col("_swap")
    net_text = net_of_tax_text(net, paid, label, amount, amt_c, rates)
    kind = (
        pl.when(shift.is_not_null())
        .then(pl.lit("decimal_shift"))
        .when(charge)
        .then(pl.lit("bank_charge"))
        .when(swapped)
        .then(pl.lit("transposition"))
        .when(vat | net.is_not_null())
        .then(pl.lit("tax_difference"))
    )
    text = (
        pl.when(shift.is_not_null())
        .then(pl.format("{} = {} {} {}", paid, label, amount, shift))
        .when(charge)
        .then(
            pl.format(
                "{} = {} {} − {}: {}; likely deducted by the bank. Also a digit swap ({}): if "
                "the remittance advice shows {}, it is a keying error (transposition)",
                paid,
                label,
                amount,
                fmt_cents_text(amt_c - paid_c),
                pl.col("_t_text"),
                swap,
                paid,
            )
        )
        .when(swapped & pl.col("_t_ok").is_not_null())
        .then(pl.format("{}; {}", swap, pl.col("_t_text")))
        .when(swapped)
        .then(swap)
        .when(vat)
        .then(pl.format("{} = {} {} − VAT {}", paid, label, amount, fmt_money_expr("tax_amount")))
        .otherwise(net_text)
    )
    return rows.with_columns(kind.alias("_kind"), text.alias("_reading"))


def _discounted(rows: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """``_d_type`` / ``_d_text``: the discount verdict where the open amount is the invoice
    times one of the customer's term rates or the configured discount rates (within
    rounding), exactly in integers; null elsewhere."""
    c = ctx.c
    hit = (
        rows.filter(pl.col("_paid_c") > 0)
        .select("_i", "customer_id", "_open_c", "_amt_c")
        .join(
            discount_rates(ctx, rows.get_column("customer_id")),
            on="customer_id",
            how="inner",
            nulls_equal=True,
        )
        .filter(
            (
                pl.col("_open_c").cast(pl.Int128) * RATE_SCALE
                - pl.col("_amt_c").cast(pl.Int128) * pl.col("_rate")
            ).abs()
            <= to_cents(c.rounding_tolerance * RATE_SCALE, ROUND_FLOOR)
        )
        .select("_i")
        .unique()
    )
    found = rows.join(hit, on="_i", how="semi").select(
        "_i",
        pl.col("_open_c").alias("_amt_c"),
        pl.col("open_amount").alias("applied_amount"),
        pl.col("amount").alias("_inv_amount"),
        pl.col("invoice_date").alias("_inv_date"),
        "_paid_on",
        pl.col("customer_id").alias("_inv_customer"),
    )
    verdicts = (
        discount_verdicts(found, ctx, c).select(
            "_i", pl.col("type").alias("_d_type"), pl.col("evidence").alias("_d_text")
        )
        if found.height
        else pl.DataFrame(schema={"_i": pl.UInt32, "_d_type": pl.String, "_d_text": pl.String})
    )
    return rows.join(verdicts, on="_i", how="left", maintain_order="left")
