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

from arlib.keying import is_keying_error_np, keying_error
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
    tokens = (
        pl.concat(parts)
        .explode("tok")
        .with_columns(pl.col("tok").str.strip_chars_start("0").alias("key"))
    )
    # the invoice numbers among the tokens: the few tokens looked up in the many numbers
    keys = ctx.ledger.inv.select("key").join(
        tokens.select("key").drop_nulls().unique(), on="key", how="semi"
    )
    return tokens.join(keys, on="key", how="semi").select("rec_idx").unique()


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    ledger = ctx.ledger
    receipts = receipts.join(_mentions_an_invoice(ctx, receipts), on="rec_idx", how="anti")
    if receipts.height == 0:
        return Proposal()
    # per customer and currency, the open invoices in date order, each with how many are
    # dated on or before it: a receipt is on account of the only one dated by its value
    # date (a sorted as-of join, no product of receipts and invoices)
    dated = (
        ledger.inv.select(
            "inv_idx", pl.col("customer_id").alias("c_pay"), "currency", "invoice_date"
        )
        .filter(pl.Series(ledger.inv_open > 0) & pl.col("invoice_date").is_not_null())
        .join(receipts.select("c_pay", "currency").unique(), on=["c_pay", "currency"])
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
    c = ledger.drop_rejected(c).sort(["value_date", "rec_idx"])  # rec_idx follows receipt_id
    ri_all, i_all = c.get_column("rec_idx").to_numpy(), c.get_column("inv_idx").to_numpy()
    amt_all, start = ledger.rec_amt[ri_all], ledger.inv_open[i_all]
    # a keying error of the invoiced amount, or of the open amount as it was at the start
    # (a missing invoiced amount is none, as 0 is not)
    invoiced = ledger.inv.get_column("amt_c").gather(i_all).fill_null(0).to_numpy()
    typo = is_keying_error_np(amt_all, invoiced)
    typo_start = is_keying_error_np(amt_all, start)
    applied: list[tuple[int, int]] = []  # (candidate row, open before)
    inv_open = ledger.inv_open.copy()
    for k, (i, amt, o_start, keyed, keyed_start) in enumerate(
        zip(
            i_all.tolist(),
            amt_all.tolist(),
            start.tolist(),
            typo.tolist(),
            typo_start.tolist(),
            strict=True,
        )
    ):
        o = int(inv_open[i])
        if amt >= o or keyed or (keyed_start if o == o_start else keying_error(amt, o)):
            continue
        inv_open[i] -= amt
        applied.append((k, o))
    rows: list[tuple] = []
    picked = c[[k for k, _ in applied]].select(
        "value_date", "receipt_id", "rec_idx", "inv_idx", "currency", "c_pay", "memo", "bank_ref"
    )
    ids = ledger.invoice_ids(picked.get_column("inv_idx"))
    for (_, o), iid, (day, rid, ri, i, ccy, cust, memo, ref) in zip(
        applied, ids, picked.iter_rows(), strict=True
    ):
        amt = int(ledger.rec_amt[ri])
        text = short(memo if memo is not None else ref) or "none"
        reason = (
            f"memo '{text}' names no invoice; invoice {iid} is the only open "
            f"{ccy} invoice customer {cust} still has that is dated by {day} (open "
            f"{fmt_cents(o)}); applied {fmt_cents(amt)} on account, {fmt_cents(o - amt)} "
            "left open"
        )
        head = (len(rows), 0, day, rid, ri, i, "cash", amt, amt, "partial")
        rows.append((*head, "on_account.only_open_invoice", reason, "partial"))
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
