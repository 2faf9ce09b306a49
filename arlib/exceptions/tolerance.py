"""Allocations matching explained by a tolerance (bank charge, discount, FX, write-off,
rounding) and the ones it flagged (third-party payer, memo conflict)."""

from __future__ import annotations

from decimal import Decimal

from arlib.exceptions.context import Context
from arlib.money import fmt_money


def tolerance_allocations(ctx: Context) -> None:
    c = ctx.c
    flagged: set[tuple[str, str, str]] = set()
    for a in ctx.tolerance:
        kind, amt, cur = a.get("kind"), a["applied_amount"], a.get("currency")
        inv = ctx.invoices.get(a["invoice_id"], {})
        rec = ctx.receipt_by_id.get(a["receipt_id"], {})
        base = dict(
            customer=a.get("customer_id") or inv.get("customer_id"),
            receipt=a["receipt_id"],
            invoice=a["invoice_id"],
            amount=amt,
            currency=cur,
            src=rec or inv,
            about="pair",
        )
        head = f"{kind} {fmt_money(amt)} {cur} on invoice {a['invoice_id']}"
        if kind == "bank_charge":
            tol = c.bank_charge_tolerance_by_currency.get(cur, c.bank_charge_tolerance)
            if abs(amt) > tol:
                ctx.add(
                    "bank_charge_over_tolerance",
                    evidence=f"{head} > tolerance {fmt_money(tol)}",
                    **base,
                )
            else:
                ctx.add(
                    "bank_charge",
                    evidence=f"{head} ≤ {fmt_money(tol)}",
                    status="cleared",
                    **base,
                )
        elif kind == "discount":
            t, ev = (
                ctx.discount_verdict(inv, amt, rec.get("value_date"))
                if inv
                else (
                    "discount_outside_terms",
                    f"{head}; invoice not found",
                )
            )
            ctx.add(t, evidence=ev, status="cleared" if t == "discount" else "open", **base)
        elif kind == "fx_difference":
            total = inv.get("amount") or Decimal(0)
            pct = abs(amt) / total * 100 if total else None
            within = pct is not None and pct <= c.fx_tolerance_pct
            shown = f"{pct:.2f}%" if pct is not None else "n/a"
            ctx.add(
                "fx_difference",
                evidence=f"{head} = {shown} of invoice {fmt_money(total)} "
                f"({'≤' if within else '>'} {c.fx_tolerance_pct}%)",
                status="cleared" if within else "open",
                **base,
            )
        elif kind == "write_off":
            # matching wrote the invoice off to nothing: what was open is the pair's cash
            # and the write-off
            cleared = sum(ctx.pairs.get((a["receipt_id"], a["invoice_id"]), []), amt)
            pct = amt / cleared * 100 if cleared else None
            within = pct is not None and amt > 0 and pct <= c.payment_tolerance_pct
            shown = f"{pct:.2f}%" if pct is not None else "n/a"
            ctx.add(
                "write_off",
                evidence=f"{head}: a short payment of {shown} of the open "
                f"{fmt_money(cleared)} ({'≤' if within else '>'} the payment tolerance "
                f"{c.payment_tolerance_pct}%)",
                status="cleared" if within else "open",
                **base,
            )
        elif kind == "rounding":
            within = abs(amt) <= c.rounding_tolerance
            ctx.add(
                "rounding",
                evidence=f"{head} ({'≤' if within else '>'} {fmt_money(c.rounding_tolerance)})",
                status="cleared" if within else "open",
                **base,
            )
        flags = {f for f in (a.get("flags") or "").split("|") if f}
        for flag, t in (
            ("third_party", "third_party_payment"),
            ("memo_conflict", "memo_conflict"),
        ):
            key = (t, a["receipt_id"], a["invoice_id"])
            if flag in flags and key not in flagged:
                flagged.add(key)
                pair = ctx.pairs.get((a["receipt_id"], a["invoice_id"]), [])
                ev = (
                    f"payer {rec.get('payer_name')!r} paid {fmt_money(sum(pair, Decimal(0)))} "
                    f"on invoice {a['invoice_id']} of {base['customer']}"
                    if t == "third_party_payment"
                    else f"memo {rec.get('memo')!r} conflicts with allocation to "
                    f"{a['invoice_id']}: {a.get('reason')}"
                )
                ctx.add(t, evidence=ev, **{**base, "amount": sum(pair, Decimal(0)) or amt})


# -- customers
