"""Balance-forward customers (``policy: balance_forward``) pay their account, not invoices.

Cash is applied oldest-first (invoice_date, invoice_id) to their open invoices, but only
when nothing better identifies the invoice: the memo names no invoice, and the amount is
not equal to (nor a keying error of) one of the customer's open invoices -- those are left
to the suggestions.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import islice

import polars as pl

from arlib.keying import transpositions
from arlib.match.cascade import Context, Proposal, Receipts, Rule, proposal_rows
from arlib.match.prepare import residue_lists
from arlib.money import fmt_cents


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    ledger = ctx.ledger
    fr = receipts.sort(["value_date", "receipt_id"])
    if fr.height == 0:
        return Proposal()
    lists = residue_lists(ledger, fr.select(pl.col("c_pay").alias("customer_id")).unique())
    inv_open = ledger.inv_open.copy()
    # amounts of the open invoices (and their keying-error variants) per customer/currency
    open_amounts: dict[tuple[str, str], set[int]] = defaultdict(set)
    for key, lst in lists.items():
        for i in lst:
            o = int(inv_open[i])
            open_amounts[key].update((o, o * 10, o * 100), transpositions(o))
            if o % 10 == 0:
                open_amounts[key].add(o // 10)
            if o % 100 == 0:
                open_amounts[key].add(o // 100)
    heads: dict[tuple[str, str], int] = defaultdict(int)
    rows: list[tuple] = []
    for r in fr.select(
        "rec_idx", "receipt_id", "value_date", "currency", "amt_c", "c_pay"
    ).iter_rows(named=True):
        key = (r["c_pay"], r["currency"])
        lst = lists.get(key)
        if not lst or r["amt_c"] in open_amounts[key]:
            continue
        ri, rem = r["rec_idx"], r["amt_c"]
        head = (len(rows), 0, r["value_date"], r["receipt_id"], ri)
        h = heads[key]
        while h < len(lst) and inv_open[lst[h]] <= 0:
            h += 1
        heads[key] = h
        for i in islice(lst, h, None):
            if rem <= 0:
                break
            o = int(inv_open[i])
            if o <= 0 or (ri, i) in ledger.rejected:
                continue
            a = min(rem, o)
            rem -= a
            inv_open[i] -= a
            reason = (
                f"customer {r['c_pay']} pays on balance forward: {fmt_cents(a)} applied "
                "oldest-first to "
                f"invoice {ledger.inv_id[i]} (open {fmt_cents(o)}); the memo names no invoice and "
                "no open invoice has the receipt's amount"
            )
            rows.append(
                (
                    *head,
                    i,
                    "cash",
                    a,
                    a,
                    "balance_forward",
                    "balance_forward.oldest_first",
                    reason,
                    "partial" if a < o else "",
                )
            )
    return Proposal(rows=proposal_rows(rows))


RULE = Rule(
    id="balance_forward",
    switch="balance_forward",
    description="balance-forward customers: cash naming no invoice, not equal to (nor a "
    "keying error of) an open invoice, applied oldest-first",
    receipts=Receipts(payer=True, references="without", policy="balance_forward"),
    propose=propose,
    ties="in_order",
    confidence={"balance_forward.oldest_first": 0.75},
)
