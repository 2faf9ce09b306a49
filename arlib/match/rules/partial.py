"""Partial payments: a receipt naming open invoices whose amount does not fit them.

Applied oldest-first to the named invoices, flagged ``partial`` (the invoice stays partly
open) or ``overpayment`` (cash left unapplied). A receipt equal to one of the invoices it
names was ambiguous, not partial; an amount that is a keying error of a named invoice is
left to people (suggestion), never applied in part.
"""

from __future__ import annotations

import polars as pl

from arlib.match.cascade import Context, Proposal, Receipts, Rule, proposal_rows
from arlib.match.frames import short
from arlib.match.prepare import is_keying_error, ref_candidates
from arlib.money import fmt_cents


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    ledger = ctx.ledger
    c = ref_candidates(ledger, receipts, ctx.refs, ctx.customers).filter(
        (pl.col("rel") != "other") & (pl.col("r_ccy") == pl.col("i_ccy"))
    )
    # a receipt equal to one of the invoices it names was ambiguous, not partial: leave it
    c = c.filter(~(pl.col("open_c") == pl.col("amt_c")).any().over("rec_idx"))
    if c.height == 0:
        return Proposal()
    # an amount that is a keying error of a named invoice's open or invoiced amount is not a
    # partial payment: left as a suggestion (amount_typo) -- unless, earlier instalments of
    # this pass applied, it is exactly what is left open (the last instalment)
    c = c.with_columns(
        (is_keying_error("amt_c", "open_c") | is_keying_error("amt_c", "inv_amt_c"))
        .any()
        .over("rec_idx")
        .alias("_keyed")
    )
    g = (
        c.sort(["invoice_date", "invoice_id"])
        .group_by("rec_idx")
        .agg(
            pl.col("receipt_id").first(),
            pl.col("value_date").first(),
            pl.col("src").first(),
            pl.col("text").first(),
            pl.col("payer_method").first(),
            pl.col("payer_score").first(),
            "inv_idx",
            "rel",
            "c_pay",
            "c_inv",
            pl.col("_keyed").first(),
        )
        .sort(["value_date", "receipt_id"])
    )
    rows: list[tuple] = []
    inv_open = ledger.inv_open.copy()
    for r in g.iter_rows(named=True):
        ri = r["rec_idx"]
        rem = int(ledger.rec_rem[ri])
        if r["_keyed"] and not any(inv_open[i] == rem for i in r["inv_idx"]):
            continue
        text = short(r["text"])
        pending = []
        for i, rel, cpay, cinv in zip(r["inv_idx"], r["rel"], r["c_pay"], r["c_inv"], strict=True):
            if rem <= 0:
                break
            o = int(inv_open[i])
            if o <= 0:
                continue
            a = min(rem, o)
            rem -= a
            pending.append((i, a, o, rel, cpay, cinv))
        head = (len(rows), 0, r["value_date"], r["receipt_id"], ri)
        for i, a, o, rel, cpay, cinv in pending:
            inv_open[i] -= a
            flags = []
            if a < o:
                flags.append("partial")
            if rem > 0:
                flags.append("overpayment")
            if rel == "related":
                flags.append("third_party")
            reason = (
                f"{r['src']} '{text}' names invoice {ledger.inv_id[i]} (open {fmt_cents(o)}); "
                f"applied {fmt_cents(a)}"
            )
            if a < o:
                reason += f" as a partial payment, {fmt_cents(o - a)} left open"
            if rem > 0:
                reason += f"; {fmt_cents(rem)} of the receipt left unapplied (overpayment)"
            if rel == "related":
                reason += f"; paid by related company {cpay} for {cinv}"
            sub_rule = "partial.named" if rel == "own" else "partial.named_other_payer"
            rows.append((*head, i, "cash", a, a, "partial", sub_rule, reason, "|".join(flags)))
    return Proposal(rows=proposal_rows(rows))


RULE = Rule(
    id="partial",
    switch="partial",
    description="a receipt naming open invoices (own, related or unidentified payer) whose "
    "amount fits none of them: applied oldest-first to them, the rest left open (partial) or "
    "unapplied (overpayment)",
    receipts=Receipts(references="with"),
    propose=propose,
    ties="in_order",
    confidence={"partial.named": 0.85, "partial.named_other_payer": 0.75},
)
