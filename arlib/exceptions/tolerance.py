"""Allocations matching explained by a tolerance (bank charge, discount, FX, write-off,
rounding) and the ones it flagged (third-party payer, memo conflict), as polars over all
such allocations at once: each kind's verdict and evidence are expressions, not a loop.

Each allocation gives its kind's exception, then a third-party and a memo-conflict one
where flagged (once per receipt and invoice), in the allocations' sorted order.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR

import polars as pl

from arlib.exceptions.candidates import truthy
from arlib.exceptions.context import (
    RATE_SCALE,
    Context,
    as_text,
    customer_discounts,
    python_repr,
)
from arlib.exceptions.register import ROW_SCHEMA
from arlib.money import cents_expr, fmt_money, fmt_money_expr, fmt_ratio_pct_expr, to_cents

_FLAGS = (("third_party", "third_party_payment"), ("memo_conflict", "memo_conflict"))


def _exact_at_most(value_cents: pl.Expr, limit) -> pl.Expr:
    """``value ≤ limit`` for integer cents and a Decimal limit, exactly."""
    return value_cents <= to_cents(limit, ROUND_FLOOR)


def _within_pct(numerator: pl.Expr, denominator: pl.Expr, limit) -> pl.Expr:
    """``numerator / denominator × 100 ≤ limit`` exactly (cents in, Int128 arithmetic)."""
    n, d = numerator.cast(pl.Int128), denominator.cast(pl.Int128)
    exponent = -min(0, limit.as_tuple().exponent)
    scale = 10**exponent
    limit_scaled = int(limit.scaleb(exponent))
    left, right = n * 100 * scale, d * limit_scaled
    return pl.when(d > 0).then(left <= right).when(d < 0).then(left >= right)


def tolerance_allocations(ctx: Context) -> pl.DataFrame:
    """One frame of register rows (:data:`~arlib.exceptions.register.ROW_SCHEMA`)."""
    c = ctx.c
    tol = ctx.tolerance.with_row_index("_i")
    if tol.height == 0:
        return pl.DataFrame(schema=ROW_SCHEMA)
    inv = ctx.invoice_frame.select(
        "invoice_id",
        pl.col("customer_id").alias("_inv_customer"),
        pl.col("amount").alias("_inv_amount"),
        pl.col("invoice_date").alias("_inv_date"),
        pl.col("source_file").alias("_inv_file"),
        pl.col("source_row").alias("_inv_row"),
        pl.lit(True).alias("_inv_found"),
    )
    rec = ctx.receipt_frame.select(
        "receipt_id",
        pl.col("value_date").alias("_paid_on"),
        "payer_name",
        "memo",
        pl.col("source_file").alias("_rec_file"),
        pl.col("source_row").alias("_rec_row"),
        pl.lit(True).alias("_rec_found"),
    )
    rows = (
        tol.join(inv, on="invoice_id", how="left", nulls_equal=True, maintain_order="left")
        .join(rec, on="receipt_id", how="left", nulls_equal=True, maintain_order="left")
        .join(
            ctx.pair_cash,
            on=["receipt_id", "invoice_id"],
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        .with_columns(
            pl.when(truthy("customer_id"))
            .then(pl.col("customer_id"))
            .otherwise(pl.col("_inv_customer"))
            .alias("_customer"),
            cents_expr("applied_amount").alias("_amt_c"),
            pl.col("_inv_found").fill_null(False),
            pl.col("_rec_found").fill_null(False),
        )
        .with_columns(
            pl.when("_rec_found")
            .then(pl.col("_rec_file"))
            .when("_inv_found")
            .then(pl.col("_inv_file"))
            .alias("source_file"),
            pl.when("_rec_found")
            .then(pl.col("_rec_row"))
            .when("_inv_found")
            .then(pl.col("_inv_row"))
            .alias("source_row"),
            pl.format(
                "{} {} {} on invoice {}",
                pl.col("kind"),
                fmt_money_expr("applied_amount"),
                as_text(pl.col("currency")),
                as_text(pl.col("invoice_id")),
            ).alias("_head"),
        )
    )
    verdicts = pl.concat(
        [
            _bank_charge(rows, c),
            _discount(rows, ctx),
            _fx_difference(rows, c),
            _write_off(rows, c),
            _rounding(rows, c),
        ],
        how="diagonal_relaxed",
    )
    base = rows.join(verdicts, on="_i", how="inner").with_columns(pl.lit(0).alias("_sub"))
    flagged = _flags(rows)
    out = pl.concat([base, flagged], how="diagonal_relaxed").sort("_i", "_sub")
    return out.select(
        pl.col("type"),
        pl.col("_customer").alias("customer_id"),
        "receipt_id",
        "invoice_id",
        pl.col("_amount").alias("amount"),
        "currency",
        "evidence",
        "status",
        "source_file",
        "source_row",
        pl.lit("pair").alias("about"),
    ).cast(ROW_SCHEMA)


def _verdict(frame: pl.DataFrame, kind, evidence, cleared) -> pl.DataFrame:
    """(``_i``, type, evidence, status, ``_amount``) of the rows of one kind."""
    return frame.select(
        "_i",
        kind.alias("type"),
        evidence.alias("evidence"),
        pl.when(cleared).then(pl.lit("cleared")).otherwise(pl.lit("open")).alias("status"),
        pl.col("applied_amount").alias("_amount"),
    )


def _bank_charge(rows: pl.DataFrame, c) -> pl.DataFrame:
    frame = rows.filter(pl.col("kind") == "bank_charge")
    limit = c.bank_charge_cents(pl.col("currency"))
    shown = c.bank_charge_text(pl.col("currency"))
    over = pl.col("_amt_c").abs() > limit
    return _verdict(
        frame,
        pl.when(over).then(pl.lit("bank_charge_over_tolerance")).otherwise(pl.lit("bank_charge")),
        pl.when(over)
        .then(pl.format("{} > tolerance {}", pl.col("_head"), shown))
        .otherwise(pl.format("{} ≤ {}", pl.col("_head"), shown)),
        ~over,
    )


def _fx_difference(rows: pl.DataFrame, c) -> pl.DataFrame:
    frame = rows.filter(pl.col("kind") == "fx_difference")
    total = cents_expr(pl.col("_inv_amount").fill_null(0))
    shown = fmt_ratio_pct_expr(pl.col("_amt_c").abs(), total)
    within = _within_pct(pl.col("_amt_c").abs(), total, c.fx_tolerance_pct).fill_null(False)
    evidence = pl.format(
        "{} = {} of invoice {} ({} {}%)",
        pl.col("_head"),
        pl.when(shown.is_not_null()).then(shown + "%").otherwise(pl.lit("n/a")),
        fmt_money_expr(pl.col("_inv_amount").fill_null(0)),
        pl.when(within).then(pl.lit("≤")).otherwise(pl.lit(">")),
        pl.lit(str(c.fx_tolerance_pct)),
    )
    return _verdict(frame, pl.lit("fx_difference"), evidence, within)


def _write_off(rows: pl.DataFrame, c) -> pl.DataFrame:
    """Matching wrote the invoice off to nothing: what was open is the pair's cash and the
    write-off."""
    frame = rows.filter(pl.col("kind") == "write_off")
    cleared = pl.col("applied_amount") + pl.col("_pair_cash").fill_null(0)
    cleared_c = cents_expr(cleared)
    shown = fmt_ratio_pct_expr(pl.col("_amt_c"), cleared_c)
    within = (
        (pl.col("_amt_c") > 0) & _within_pct(pl.col("_amt_c"), cleared_c, c.payment_tolerance_pct)
    ).fill_null(False)
    evidence = pl.format(
        "{}: a short payment of {} of the open {} ({} the payment tolerance {}%)",
        pl.col("_head"),
        pl.when(shown.is_not_null()).then(shown + "%").otherwise(pl.lit("n/a")),
        fmt_money_expr(cleared),
        pl.when(within).then(pl.lit("≤")).otherwise(pl.lit(">")),
        pl.lit(str(c.payment_tolerance_pct)),
    )
    return _verdict(frame, pl.lit("write_off"), evidence, within)


def _rounding(rows: pl.DataFrame, c) -> pl.DataFrame:
    frame = rows.filter(pl.col("kind") == "rounding")
    within = _exact_at_most(pl.col("_amt_c").abs(), c.rounding_tolerance)
    evidence = pl.format(
        "{} ({} {})",
        pl.col("_head"),
        pl.when(within).then(pl.lit("≤")).otherwise(pl.lit(">")),
        pl.lit(fmt_money(c.rounding_tolerance)),
    )
    return _verdict(frame, pl.lit("rounding"), evidence, within)


def _discount(rows: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """A discount matching took: ``discount`` (cleared) when the rate is one of the
    customer's terms and the receipt came inside the window, else
    ``discount_outside_terms`` (:func:`discount_verdicts`, for all rows at once)."""
    c = ctx.c
    frame = rows.filter(pl.col("kind") == "discount")
    missing = frame.filter(~pl.col("_inv_found"))
    found = frame.filter("_inv_found")
    outside = pl.lit("discount_outside_terms")
    parts = [_verdict(missing, outside, pl.format("{}; invoice not found", pl.col("_head")), False)]
    if found.height:
        parts.append(discount_verdicts(found, ctx, c))
    return pl.concat(parts, how="diagonal_relaxed")


def discount_verdicts(found: pl.DataFrame, ctx: Context, c) -> pl.DataFrame:
    """(``_i``, type, evidence, status, ``_amount``) of a discount taken on an invoice, for
    ``found``'s rows (the discount ``applied_amount``, ``_amt_c`` in cents, on the invoice
    ``_inv_amount`` of ``_inv_customer``, paid ``_paid_on``): ``discount`` when the rate is in
    the customer's terms and paid inside the window, else ``discount_outside_terms``."""
    terms = ctx.term_table.rename({"customer_id": "_inv_customer"}).join(
        found.select("_inv_customer").unique(),
        on="_inv_customer",
        how="semi",
        nulls_equal=True,
        maintain_order="left",
    )
    allowed = terms.group_by("_inv_customer", maintain_order=True).agg(
        (pl.col("_rp") + "%").str.join(", ").alias("_allowed")
    )
    disc_c, amount_c = pl.col("_amt_c"), cents_expr("_inv_amount")
    pct = fmt_ratio_pct_expr(disc_c, amount_c)
    base = pl.format(
        "discount {} = {} of invoice {}",
        fmt_money_expr("applied_amount"),
        pl.when(pct.is_not_null()).then(pct + "%").otherwise(pl.lit("n/a")),
        fmt_money_expr("_inv_amount"),
    )
    found = found.with_columns(base.alias("_base")).join(
        allowed, on="_inv_customer", how="left", nulls_equal=True
    )
    # |discount − amount × rate| ≤ rounding tolerance, exactly: rates as integer ratios
    tolerance_c = c.rounding_tolerance * 100
    pairs = found.select(
        "_i", "_amt_c", "_inv_amount", "_inv_date", "_paid_on", "_inv_customer"
    ).join(terms, on="_inv_customer", how="inner", nulls_equal=True)
    gap = (
        pl.col("_amt_c").cast(pl.Int128) * RATE_SCALE
        - cents_expr("_inv_amount").cast(pl.Int128) * pl.col("_rate").cast(pl.Int128)
    ).abs()
    limit = int((tolerance_c * RATE_SCALE).to_integral_value(ROUND_FLOOR))
    grace = c.discount_grace_days
    end = pl.col("_inv_date") + pl.duration(days=pl.col("_days") + grace)
    unknown = pl.col("_paid_on").is_null() | pl.col("_inv_date").is_null()
    matched = (
        pairs.filter(gap <= limit)
        .with_columns(end.alias("_end"), unknown.alias("_unknown"))
        .with_columns((pl.col("_unknown") | (pl.col("_paid_on") <= pl.col("_end"))).alias("_ok"))
        .sort("_i", "_t")
    )
    in_terms = (
        matched.filter("_ok")
        .unique("_i", keep="first", maintain_order=True)
        .select(
            "_i",
            pl.when("_unknown")
            .then(pl.format("in terms {}/{} (payment date unknown)", "_rp", "_days"))
            .otherwise(
                pl.format("paid {} within {}/{} (by {})", "_paid_on", "_rp", "_days", "_end")
            )
            .alias("_ok_text"),
        )
    )
    late = matched.unique("_i", keep="first", maintain_order=True).select(
        "_i",
        pl.format(
            "paid {}, {} day(s) after the {}/{} window ended {}",
            "_paid_on",
            (pl.col("_paid_on") - pl.col("_end")).dt.total_days(),
            "_rp",
            "_days",
            "_end",
        ).alias("_late_text"),
    )
    judged = found.join(in_terms, on="_i", how="left").join(late, on="_i", how="left")
    ok = pl.col("_ok_text").is_not_null()
    detail = (
        pl.when(pl.col("_allowed").is_null())
        .then(pl.lit("customer has no discount terms"))
        .when(pl.col("_late_text").is_null())
        .then(pl.format("terms allow {}", "_allowed"))
        .when(ok)
        .then(pl.col("_ok_text"))
        .otherwise(pl.col("_late_text"))
    )
    return _verdict(
        judged,
        pl.when(ok).then(pl.lit("discount")).otherwise(pl.lit("discount_outside_terms")),
        pl.format("{}; {}", pl.col("_base"), detail),
        ok,
    )


def _flags(rows: pl.DataFrame) -> pl.DataFrame:
    """A third-party and a memo-conflict exception per flagged receipt and invoice (the
    first allocation of the pair that carries the flag)."""
    flags = pl.col("flags").str.split("|")
    parts = []
    for position, (flag, kind) in enumerate(_FLAGS, start=1):
        frame = (
            rows.filter(flags.list.contains(flag).fill_null(False))
            .unique(["receipt_id", "invoice_id"], keep="first", maintain_order=True)
            .with_columns(pl.col("_pair_cash").fill_null(0).alias("_paid"))
        )
        if kind == "third_party_payment":
            evidence = pl.format(
                "payer {} paid {} on invoice {} of {}",
                python_repr("payer_name", frame),
                fmt_money_expr("_paid"),
                as_text(pl.col("invoice_id")),
                as_text(pl.col("_customer")),
            )
        else:
            evidence = pl.format(
                "memo {} conflicts with allocation to {}: {}",
                python_repr("memo", frame),
                as_text(pl.col("invoice_id")),
                as_text(pl.col("reason")),
            )
        parts.append(
            frame.with_columns(
                pl.lit(kind).alias("type"),
                evidence.alias("evidence"),
                pl.lit("open").alias("status"),
                pl.when(pl.col("_paid") != 0)
                .then(pl.col("_paid"))
                .otherwise(pl.col("applied_amount"))
                .alias("_amount"),
                pl.lit(position).alias("_sub"),
            )
        )
    return pl.concat(parts, how="diagonal_relaxed")


__all__ = ["customer_discounts", "discount_verdicts", "tolerance_allocations"]
