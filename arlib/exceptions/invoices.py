"""Residual invoices (disputed, or partly paid and still open): why each is short."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from arlib.exceptions.context import Context
from arlib.money import fmt_money


def invoice_residuals(ctx: Context) -> pl.DataFrame:
    """Disputed or partly paid invoices still open, by invoice id."""
    for inv in ctx.residual_invoices:
        invoice_residual(ctx, inv, inv.get("applied") or Decimal(0), inv["open_amount"])
    return ctx.take_rows()


def invoice_residual(ctx: Context, inv: dict, applied: Decimal, open_amt: Decimal) -> None:
    iid, amount = inv["invoice_id"], inv["amount"]
    cash = ctx.cash_by_invoice.get(iid, [])
    rids = "|".join(sorted({a["receipt_id"] for a in cash})) or None
    paid = sum((a["applied_amount"] for a in cash), Decimal(0))

    def add(kind, evidence):
        ctx.add(
            kind,
            customer=inv.get("customer_id"),
            receipt=rids,
            invoice=iid,
            amount=open_amt,
            currency=inv.get("currency"),
            evidence=evidence,
            src=inv,
            about="invoice",
        )

    head = (
        f"invoice {iid} {fmt_money(amount)}, paid {fmt_money(applied)}, open {fmt_money(open_amt)}"
    )
    if inv.get("disputed"):
        add("disputed_invoice", f"{head}; invoice marked disputed")
        return
    if open_amt <= ctx.c.rounding_tolerance:
        add("rounding", f"{head} ≤ {fmt_money(ctx.c.rounding_tolerance)}")
        return
    if paid > 0:
        hit = ctx.pattern(paid, {**inv, "open_amount": None}, allow_rounding=False)
        if hit:
            add(hit[0], f"cash {hit[1]}; open {fmt_money(open_amt)}")
            return
        rates = {rate for rate, _ in ctx.discount_terms(inv.get("customer_id"))}
        rates.update(ctx.c.discount_rates)
        for rate in sorted(rates):
            if abs(open_amt - amount * rate) <= ctx.c.rounding_tolerance:
                kind, ev = ctx.discount_verdict(inv, open_amt, ctx.payment_date(iid))
                add(kind, f"{head}: {ev}")
                return
        charge = ctx.charge_reading(open_amt, inv)
        if charge is not None and charge[0]:
            round_sum = paid % 100 == 0 and amount % 100 != 0
            add(
                "bank_charge",
                f"{head}: {charge[1]}; likely deducted by the bank, not written off by "
                "matching"
                + (
                    f". The payment {fmt_money(paid)} is a round sum: if the customer "
                    "rounded down (抹零) or paid an installment, it is a short payment"
                    if round_sum
                    else ""
                ),
            )
            return
    add("short_payment", f"{head}; no explanation found (not rounding, tax, discount)")


# -- tolerance allocations and flags
