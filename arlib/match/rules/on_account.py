"""A payment on account: a known payer's receipt naming nothing, when the customer has one
open invoice left.

Why: once every stronger rule has run, a receipt smaller than the only invoice its customer
owed in that currency on the receipt's value date (invoices issued later cannot be what it
pays) can pay nothing else; a clerk applies it to that invoice as a
part payment rather than leave cash unapplied against an open debt. It runs last among the
open-item rules, so "only" means after every exact, referenced, combined and instalment
payment of the period. Never when the amount exceeds the open balance (that is an
overpayment or an advance), when it is a keying error of the invoice (people confirm it),
when the memo holds any invoice's number (it names something, even if not clearly), or
when the customer has two or more open invoices in the currency (people decide which).
Age does not matter: an old invoice is the one most likely to be paid.
"""

from __future__ import annotations

import polars as pl

from arlib.keying import keying_error
from arlib.match.cascade import Context, Proposal, Receipts, Rule, proposal_rows
from arlib.match.frames import short
from arlib.money import fmt_cents


def _mentions_an_invoice(ctx: Context, receipts: pl.DataFrame) -> pl.DataFrame:
    """``rec_idx`` of receipts whose memo or bank reference holds a number that is some
    invoice's number (of any customer, however short): such a receipt names something,
    even when the reference rules could not tell which invoice it is."""
    parts = [
        receipts.select("rec_idx", pl.col(col).str.extract_all(r"[0-9]+").alias("tok"))
        for col in ctx.cfg.reference_columns
        if col in receipts.columns
    ]
    if not parts:
        return pl.DataFrame(schema={"rec_idx": pl.Int64})
    keys = ctx.ledger.inv.select("key").drop_nulls().unique()
    return (
        pl.concat(parts)
        .explode("tok")
        .with_columns(pl.col("tok").str.strip_chars_start("0").alias("key"))
        .join(keys, on="key", how="semi")
        .select("rec_idx")
        .unique()
    )


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    ledger = ctx.ledger
    receipts = receipts.join(_mentions_an_invoice(ctx, receipts), on="rec_idx", how="anti")
    if receipts.height == 0:
        return Proposal()
    # per customer and currency, the open invoices in date order, each with how many are
    # dated on or before it: a receipt is on account of the only one dated by its value
    # date (a sorted as-of join, no product of receipts and invoices)
    dated = (
        ledger.open_invoices()
        .filter(pl.col("invoice_date").is_not_null())
        .select("inv_idx", pl.col("customer_id").alias("c_pay"), "currency", "invoice_date")
        .sort("invoice_date", "inv_idx")
        .with_columns(pl.int_range(1, pl.len() + 1).over(["c_pay", "currency"]).alias("_k"))
    )
    c = (
        receipts.select(
            "rec_idx", "receipt_id", "value_date", "currency", "c_pay", "memo", "bank_ref"
        )
        .filter(pl.col("value_date").is_not_null())
        .sort("value_date")
        .join_asof(
            dated,
            left_on="value_date",
            right_on="invoice_date",
            by=["c_pay", "currency"],
            strategy="backward",
            check_sortedness=False,
        )
        .filter(pl.col("_k") == 1)
    )
    c = ledger.drop_rejected(c).sort(["value_date", "receipt_id"])
    rows: list[tuple] = []
    inv_open = ledger.inv_open.copy()
    for r in c.iter_rows(named=True):
        ri, i = r["rec_idx"], r["inv_idx"]
        amt, o = int(ledger.rec_amt[ri]), int(inv_open[i])
        if amt >= o or keying_error(amt, o) or keying_error(amt, ledger.inv_amt[i]):
            continue
        inv_open[i] -= amt
        text = short(r["memo"] if r["memo"] is not None else r["bank_ref"]) or "none"
        reason = (
            f"memo '{text}' names no invoice; invoice {ledger.inv_id[i]} is the only open "
            f"{r['currency']} invoice customer {r['c_pay']} still has that is dated by "
            f"{r['value_date']} (open {fmt_cents(o)}); applied {fmt_cents(amt)} on account, "
            f"{fmt_cents(o - amt)} left open"
        )
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
                "on_account.only_open_invoice",
                reason,
                "partial",
            )  # fmt: skip
        )
    return Proposal(rows=proposal_rows(rows))


RULE = Rule(
    id="on_account",
    switch="partial",
    description="a known payer's receipt naming nothing, smaller than the only invoice its "
    "customer still has open in the currency dated by the value date (after every stronger "
    "rule): applied to it on account, the rest left open",
    receipts=Receipts(payer=True, references="without", policy="open_item"),
    propose=propose,
    ties="in_order",
    confidence={"on_account.only_open_invoice": 0.6},
)
