"""Residual receipts (cash not applied in full): why each is left, most specific first."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from arlib.exceptions.context import Context
from arlib.money import fmt_money


def receipt_residuals(ctx: Context) -> pl.DataFrame:
    """Residual receipts in statement order (source file, row, receipt id)."""
    for r in ctx.residual_receipts:
        group = ctx.line_groups.get(ctx.line_key(r), [])
        receipt_residual(ctx, r, group if any(o is r for o in group) else [r])
    return ctx.take_rows()


def receipt_residual(ctx: Context, r: dict, group: list[dict]) -> None:
    rid, cur, amount, unapplied = (
        r["receipt_id"],
        r.get("currency"),
        r["amount"],
        r["unapplied"],
    )
    customer = r["_customer"]
    allocated = r.get("allocated") or (amount - unapplied)

    def add(kind, evidence, invoice=None, cust=customer):
        ctx.add(
            kind,
            customer=cust,
            receipt=rid,
            invoice=invoice,
            amount=unapplied,
            currency=cur,
            evidence=evidence,
            src=r,
            about="receipt",
        )

    # a receipt a person held as disputed is a dispute, whatever else it looks like
    if r.get("status") == "dispute":
        sug = [
            i for s in ctx.suggestions.get(rid, []) for i in (s.get("invoice_ids") or "").split("|")
        ]
        named = ctx.disputes.get(rid)
        add(
            "disputed_invoice",
            f"receipt {fmt_money(amount)} held as dispute by a decision"
            + (f" on invoice {named}" if named else "")
            + f"; memo {r.get('memo')!r}",
            invoice=named or (sug[0] if sug and sug[0] else None),
        )
        return

    # duplicate bank line: an identical line that was applied, or an earlier residual one
    pos = next(i for i, o in enumerate(group) if o is r)
    twins = [
        o for i, o in enumerate(group) if o is not r and ((o.get("allocated") or 0) > 0 or i < pos)
    ]
    if twins:
        t = twins[0]
        add(
            "duplicate_bank_line",
            f"same {', '.join(ctx.c.duplicate_line_keys)} as receipt {t['receipt_id']} "
            f"({r.get('value_date')}, {fmt_money(amount)} {cur}, {r.get('payer_name')}, "
            f"memo {r.get('memo')!r}) at {t.get('source_file')}:{t.get('source_row')}",
        )
        return
    if allocated == 0 and customer:
        dup = duplicate_payment(ctx, r, customer)
        if dup:
            add("duplicate_payment", dup[1], invoice=dup[0])
            return
    if allocated > 0 and abs(unapplied) <= ctx.c.rounding_tolerance:
        add(
            "rounding",
            f"receipt {fmt_money(amount)} applied {fmt_money(allocated)}; "
            f"{fmt_money(unapplied)} left ≤ {fmt_money(ctx.c.rounding_tolerance)}",
        )
        return
    applied_to = {a["invoice_id"] for a in ctx.cash_by_receipt.get(rid, [])}
    for inv in ctx.candidates(r, customer, discount=False):
        # a receipt partly applied to an invoice was meant for it (memo, amount): its
        # whole amount against another invoice (5,000.00 = 50,000.00 ÷ 10) is chance
        if allocated > 0 and inv["invoice_id"] not in applied_to:
            continue
        hit = ctx.pattern(amount, inv, allow_rounding=allocated == 0)
        if hit:
            add(hit[0], f"receipt {hit[1]}", invoice=inv["invoice_id"])
            return
    if allocated == 0:
        for inv in ctx.candidates(r, customer, discount=True):
            hit = discount_on_receipt(ctx, r, inv) or charge_on_receipt(ctx, r, inv)
            if hit:
                add(hit[0], hit[1], invoice=inv["invoice_id"])
                return
    if allocated > 0:
        paid = sorted({a["invoice_id"] for a in ctx.cash_by_receipt.get(rid, [])})
        add(
            "overpayment",
            f"receipt {fmt_money(amount)} applied {fmt_money(allocated)} to "
            f"{', '.join(paid) or 'invoices'}; {fmt_money(unapplied)} left over",
        )
        return
    owed = ctx.owed.get((customer, cur)) or Decimal(0)
    if r.get("customer_id") and owed <= 0:
        add(
            "overpayment",
            f"receipt {fmt_money(amount)} from {customer}, who has no open {cur} invoices",
        )
        return
    sug = ctx.suggestions.get(rid, [])
    if sug:
        s = sug[0]
        evidence = (
            f"receipt {fmt_money(amount)} not applied; {len(sug)} suggestion(s), best: "
            f"{s.get('invoice_ids')} ({s.get('customer_id')}) score {s.get('score')} — "
            f"{s.get('reason')}"
        )
    elif customer:
        evidence = (
            f"receipt {fmt_money(amount)} from {customer} matches no open invoice or "
            f"combination (customer owes {fmt_money(owed)} {cur})"
        )
    else:
        evidence = (
            f"receipt {fmt_money(amount)} from payer {r.get('payer_name')!r} "
            f"(account {r.get('payer_account')}) not identified; memo {r.get('memo')!r}"
        )
    add("unidentified_receipt", evidence)


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


def duplicate_payment(ctx: Context, r: dict, customer: str) -> tuple[str, str] | None:
    """Same amount from the same customer already applied to a now-paid invoice (an
    earlier receipt of this close, else one of the payment history)."""
    amount = r["amount"]
    other = ctx.dup_receipt.get(r["_ord"])
    if other is not None:
        return other["invoice_id"], (
            f"receipt {fmt_money(amount)} on {r.get('value_date')} = receipt "
            f"{other['_other']} {fmt_money(amount)} on {other['_other_date']} "
            f"already applied to invoice {other['invoice_id']} (paid)"
        )
    h = ctx.dup_history.get(r["_ord"])
    if h is not None:
        return h["invoice_id"], (
            f"receipt {fmt_money(amount)} on {r.get('value_date')} = receipt "
            f"{h['_h_receipt']} {fmt_money(amount)} on {h['payment_date']} "
            f"({h['period']}) already applied to invoice {h['invoice_id']}"
        )
    return None


# -- invoices
