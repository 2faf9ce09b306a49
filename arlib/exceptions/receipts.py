"""Residual receipts (cash not applied in full): why each is left, most specific first.

The checks that read a receipt on its own or against one lookup are polars columns over all
residual receipts at once: before the candidates, a receipt held as a dispute, a duplicate
bank line, a duplicate payment and rounding; after them, an overpayment and an unidentified
receipt. Only the receipts that reach the candidate invoices (a keying error, tax, a
discount or a bank charge against one of them) are read in Python, one by one.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR

import polars as pl

from arlib.exceptions.candidates import truthy
from arlib.exceptions.context import Context, as_text, python_repr
from arlib.exceptions.register import ROW_SCHEMA
from arlib.money import cents_expr, fmt_money, fmt_money_expr, to_cents

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
    """The candidate checks of the receipts that reach them, in Python: (``_ord``, type,
    evidence, invoice) of those with a reading."""
    found = []
    for r in rows.select(
        "_ord", "receipt_id", "currency", "amount", "value_date", "_customer", "_alloc"
    ).iter_rows(named=True):
        hit = candidate_reading(ctx, r)
        if hit:
            found.append((r["_ord"], *hit))
    return pl.DataFrame(found, schema=_MIDDLE, orient="row")


def candidate_reading(ctx: Context, r: dict) -> tuple[str, str, str] | None:
    """(type, evidence, invoice) of the first candidate invoice a residual receipt reads
    against: a keying error, rounding or tax (against those it was applied to, if any), or
    when nothing was applied a discount or a bank charge; else None."""
    customer, allocated = r["_customer"], r["_alloc"]
    applied_to = {a["invoice_id"] for a in ctx.cash_by_receipt.get(r["receipt_id"], [])}
    for inv in ctx.candidates(r, customer, discount=False):
        # a receipt partly applied to an invoice was meant for it (memo, amount): its
        # whole amount against another invoice (5,000.00 = 50,000.00 ÷ 10) is chance
        if allocated > 0 and inv["invoice_id"] not in applied_to:
            continue
        hit = ctx.pattern(r["amount"], inv, allow_rounding=allocated == 0)
        if hit:
            return hit[0], f"receipt {hit[1]}", inv["invoice_id"]
    if allocated == 0:
        for inv in ctx.candidates(r, customer, discount=True):
            hit = discount_on_receipt(ctx, r, inv) or charge_on_receipt(ctx, r, inv)
            if hit:
                return hit[0], hit[1], inv["invoice_id"]
    return None


def discount_on_receipt(ctx: Context, r: dict, inv: dict) -> tuple[str, str] | None:
    """An unapplied receipt equal to an invoice less a discount the matcher did not take."""
    amount, paid = inv["amount"], r["amount"]
    rates = {rate for rate, _ in ctx.discount_terms(inv.get("customer_id"))}
    rates.update(ctx.c.discount_rates)
    for rate in sorted(rates):
        if abs(paid - amount * (1 - rate)) <= ctx.c.rounding_tolerance:
            kind, ev = ctx.discount_verdict(inv, amount - paid, r.get("value_date"))
            return kind, f"receipt {fmt_money(paid)} = invoice {inv['invoice_id']} less {ev}"
    return None


def charge_on_receipt(ctx: Context, r: dict, inv: dict) -> tuple[str, str] | None:
    """An unapplied receipt short of an invoice by a bank-charge-sized amount."""
    c = ctx.c
    owed = inv.get("open_amount") or inv["amount"]
    short = owed - r["amount"]
    tol = c.bank_charge_tolerance_by_currency.get(r.get("currency"), c.bank_charge_tolerance)
    if c.rounding_tolerance < short <= tol:
        return "bank_charge", (
            f"receipt {fmt_money(r['amount'])} = invoice {inv['invoice_id']} "
            f"{fmt_money(owed)} − {fmt_money(short)} (≤ bank-charge tolerance "
            f"{fmt_money(tol)}): likely deducted by the bank; not yet applied"
        )
    return None


__all__ = ["candidate_reading", "receipt_residuals"]
