"""Instalments: receipts naming no invoice that pay one in parts.

``instalment.only_invoice``: a memo announcing an instalment (第2期货款, 分期货款, installment
2/3) goes onto the payer's *only* open invoice in the currency (date window) when it does
not exceed the open amount. ``instalment.progress``: the next instalment of an invoice
part-paid this period by a receipt that named it -- a receipt equal to its open rest (the
last instalment), or one announcing an instalment that fits the customer's only invoice in
progress. Never when another open invoice of the customer has the receipt's amount, or the
amount looks like a keying error of an open invoice, or comes within ``suggest_near_pct``
below one: those stay suggestions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import polars as pl

from arlib.keying import keying_error
from arlib.match.cascade import Context, Proposal, Receipts, Rule, proposal_rows
from arlib.match.frames import basis_points, short
from arlib.match.ledger import Ledger
from arlib.match.prepare import exact_keying_errors, in_date_window, residue_lists
from arlib.match.rules.partial import RULE as PARTIAL
from arlib.money import fmt_cents


def propose_only_invoice(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """A receipt whose memo announces an instalment (第2期货款, 分期货款, installment 2/3)
    but names no invoice: applied to the payer's *only* open invoice in the receipt's
    currency (dated within the date window) when the receipt does not exceed its open
    amount; flagged ``partial`` while the invoice stays partly open. Two or more open
    invoices, or a larger receipt, are left to people (suggestions)."""
    cfg, ledger, fr = ctx.cfg, ctx.ledger, receipts
    if fr.height == 0:
        return Proposal()
    oi = ledger.open_invoices().select(
        "inv_idx", "invoice_id", pl.col("customer_id").alias("c_pay"), "currency", "invoice_date"
    )
    oi = oi.filter(pl.len().over(["c_pay", "currency"]) == 1)
    c = fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "c_pay",
        "memo",
        "bank_ref",
        "payer_method",
        "payer_score",
    ).join(oi, on=["c_pay", "currency"])
    c = c.filter(in_date_window(cfg))
    c = ledger.drop_rejected(c).sort(["value_date", "receipt_id"])
    rows: list[tuple] = []
    inv_open = ledger.inv_open.copy()
    for r in c.iter_rows(named=True):
        ri, i = r["rec_idx"], r["inv_idx"]
        amt, o = int(ledger.rec_amt[ri]), int(inv_open[i])
        if amt > o:
            continue
        inv_open[i] -= amt
        text = short(r["memo"] if r["memo"] is not None else r["bank_ref"])
        reason = (
            f"memo '{text}' announces an instalment; invoice {ledger.inv_id[i]} is the only open "
            f"{r['currency']} invoice of customer {r['c_pay']} (open {fmt_cents(o)}); "
            f"applied {fmt_cents(amt)}"
        )
        if amt < o:
            reason += f" as a partial payment, {fmt_cents(o - amt)} left open"
        rows.append(
            (
                len(rows),
                0,
                r["value_date"],
                r["receipt_id"],
                ri,
                i,
                "cash",
                amt,
                amt,
                "partial",
                "instalment.only_invoice",
                reason,
                "partial" if amt < o else "",
            )
        )
    return Proposal(rows=proposal_rows(rows))


def in_progress(ledger: Ledger) -> dict[tuple[str, str], list[int]]:
    """Invoices being paid in parts: part-paid this period by a receipt that named them
    (the partial rule), still open and dated; per (customer, currency), oldest first."""
    named = ledger.allocations().filter(pl.col("rule_id").is_in(list(PARTIAL.confidence)))
    part_paid = set(named.get_column("inv_idx").to_list())
    live = [i for i in part_paid if ledger.inv_open[i] > 0 and ledger.inv_date[i] is not None]
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in sorted(live, key=lambda i: (ledger.inv_date[i], ledger.inv_id[i])):
        out[(ledger.inv_cust[i], ledger.inv_ccy[i])].append(i)
    return out


def near_or_typo(
    inv_open: np.ndarray, others: dict, key: tuple[str, str], amt: int, near_bp: int
) -> list[int]:
    """Open invoices of ``key`` (as at the start of the rule) whose open amount or invoice
    amount could equal ``amt``, lie within ``near_bp`` above it, or be a keying error of it
    (x10 / x100 either way, swapped digits): a sorted search per range, so a customer with
    thousands of open invoices costs a few lookups, not a scan."""
    index = others.setdefault("index", {})
    if key not in index:
        ids = np.asarray(others["lists"].get(key, []), dtype=np.int64)
        values = np.concatenate([inv_open[ids], others["amt"][ids]])
        order = np.argsort(values, kind="stable")
        index[key] = (values[order], np.concatenate([ids, ids])[order])
    values, ids = index[key]
    ranges = [
        (amt, amt * 10_000 // max(1, 10_000 - near_bp) + 1),
        (amt * 10 - 5, amt * 10 + 5),
        (amt * 100 - 50, amt * 100 + 50),
        *((v, v) for v in exact_keying_errors(amt)),
    ]
    lo = np.searchsorted(values, [a for a, _ in ranges], side="left")
    hi = np.searchsorted(values, [b for _, b in ranges], side="right")
    return np.concatenate([ids[a:b] for a, b in zip(lo, hi, strict=True)]).tolist()


def propose_progress(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """The next instalment of an invoice already being paid in parts: a receipt naming no
    invoice, from a customer with an invoice part-paid this period (by a receipt that named
    it), goes onto that invoice when its amount equals the invoice's open rest (the last
    instalment), or -- when that is the customer's only invoice in progress in the
    currency -- when it fits inside the rest. Never when another open invoice of the
    customer has the receipt's amount, or the amount looks like a keying error (x10, /10,
    swapped digits) of an open invoice, or comes within ``suggest_near_pct`` below one:
    those stay suggestions. Applied in value-date order, so a third instalment sees the
    rest the second one left."""
    cfg, ledger = ctx.cfg, ctx.ledger
    progress = in_progress(ledger)
    if not progress:
        return Proposal()
    fr = receipts.sort(["value_date", "receipt_id"])
    keys = pl.DataFrame(
        [k for k in progress], schema={"c_pay": pl.String, "currency": pl.String}, orient="row"
    )
    fr = fr.join(keys, on=["c_pay", "currency"], how="semi")
    if fr.height == 0:
        return Proposal()
    lists = residue_lists(ledger, fr.select(pl.col("c_pay").alias("customer_id")).unique())
    others: dict = {"lists": lists, "amt": np.asarray(ledger.inv_amt, dtype=np.int64)}
    inv_open, start_open = ledger.inv_open.copy(), ledger.inv_open
    near_bp = basis_points(cfg.suggest_near_pct)
    lo = dt.timedelta(days=cfg.date_window_days)
    hi = dt.timedelta(days=cfg.date_window_prepay_days)
    rows: list[tuple] = []
    for r in fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        "c_pay",
        "memo",
        "bank_ref",
        "inst",
        "payer_method",
        "payer_score",
    ).iter_rows(named=True):
        key, ri, amt = (r["c_pay"], r["currency"]), r["rec_idx"], r["amt_c"]
        if r["value_date"] is None:
            continue
        live = [
            i
            for i in progress[key]
            if inv_open[i] > 0
            and r["value_date"] - lo <= ledger.inv_date[i] <= r["value_date"] + hi
            and (ri, i) not in ledger.rejected
        ]
        if not live:
            continue
        rest_equal = [i for i in live if inv_open[i] == amt]
        if len(rest_equal) == 1:
            target, last = rest_equal[0], True
        elif r["inst"] and len(live) == 1 and amt < inv_open[live[0]]:
            target, last = live[0], False
        else:
            continue
        suspects = set(progress[key]).union(near_or_typo(start_open, others, key, amt, near_bp))
        clash = False
        for i in suspects:
            o = int(inv_open[i])
            if o <= 0 or i == target:
                continue
            amounts = (o, ledger.inv_amt[i])
            if (
                amt in amounts
                or any(keying_error(amt, a) for a in amounts)
                or (not last and 0 < o - amt <= o * near_bp // 10_000)
            ):
                clash = True
                break
        if clash or (not last and keying_error(amt, ledger.inv_amt[target])):
            continue
        o = int(inv_open[target])
        inv_open[target] -= amt
        text = short(r["memo"] if r["memo"] is not None else r["bank_ref"])
        reason = (
            f"memo '{text}' names no invoice; customer {r['c_pay']} is paying invoice "
            f"{ledger.inv_id[target]} in instalments (open {fmt_cents(o)}); "
        )
        if last:
            reason += f"amount {fmt_cents(amt)} equals its open rest: it clears the invoice"
        else:
            reason += (
                f"it is the customer's only {r['currency']} invoice in progress; applied "
                f"{fmt_cents(amt)}, {fmt_cents(o - amt)} left open"
            )
        rows.append(
            (
                len(rows),
                0,
                r["value_date"],
                r["receipt_id"],
                ri,
                target,
                "cash",
                amt,
                amt,
                "partial",
                "instalment.last" if last else "instalment.in_progress",
                reason,
                "" if last else "partial",
            )
        )
    return Proposal(rows=proposal_rows(rows))


WINDOW = ("date_window_days", "date_window_prepay_days")
RULES = (
    Rule(
        id="instalment.only_invoice",
        switch="partial",
        description="a memo announcing an instalment, naming no invoice: onto the payer's "
        "only open invoice in the currency when it does not exceed the open amount",
        receipts=Receipts(payer=True, references="without", policy="open_item", instalment=True),
        propose=propose_only_invoice,
        ties="in_order",
        confidence={"instalment.only_invoice": 0.6},
        settings=WINDOW,
    ),
    Rule(
        id="instalment.progress",
        switch="partial",
        description="the next instalment of an invoice part-paid this period by a receipt "
        "that named it: equal to its open rest, or an announced instalment that fits the "
        "customer's only invoice in progress",
        receipts=Receipts(payer=True, references="without", policy="open_item"),
        propose=propose_progress,
        ties="in_order",
        confidence={"instalment.last": 0.8, "instalment.in_progress": 0.6},
        settings=("suggest_near_pct", *WINDOW),
    ),
)
