"""Inline canonical ledgers for the black-box matching tests (principles, peer scenarios,
matching/exceptions contract): frames as a loader makes them, one run of ``match`` with
its conservation checked, and small readers of the result.

Only the public API is used: ``arlib.match.match`` / ``MatchConfig``, the canonical
schema, and the frames ``MatchResult`` documents in docs/CONTRACTS.md.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl

from arlib.match import MatchConfig, match
from arlib.schema import columns, conform

d = dt.date
OCT1 = d(2026, 10, 1)
OCT5 = d(2026, 10, 5)

# Write-off kinds: an allocation row of one of these clears part of an invoice with no cash
# (write_off: a short payment within matching.payment_tolerance_pct).
WRITE_OFF_KINDS = ("bank_charge", "discount", "fx_difference", "rounding", "write_off")


def frame(name: str, rows: list[dict]) -> pl.DataFrame:
    """Canonical frame from dict rows, with source_file/source_row like a loader makes.
    Keys that are no canonical column (an opening invoice's ``open_amount``) are kept."""
    cols = columns(name)
    rows = [{**r, "source_file": f"{name}.csv", "source_row": i + 2} for i, r in enumerate(rows)]
    keys = {k for r in rows for k in r}
    extra = {"open_amount": cols.get("amount", pl.Decimal(38, 2)), "origin": pl.String}
    schema = {k: v for k, v in cols.items() if k in keys}
    schema |= {k: v for k, v in extra.items() if k in keys and k not in schema}
    # keep the order of first appearance so that rows and schema agree
    df = pl.DataFrame(rows, schema=schema)
    return conform(name, df)


def inv(iid, cust, amount, date=OCT1, ccy="CNY", due=None, **kw):
    return {
        "invoice_id": iid,
        "customer_id": cust,
        "invoice_date": date,
        "due_date": due or date + dt.timedelta(days=30),
        "amount": D(amount),
        "currency": ccy,
        **kw,
    }


def rec(rid, amount, payer, memo=None, date=OCT5, ccy="CNY", **kw):
    return {
        "receipt_id": rid,
        "value_date": date,
        "amount": D(amount),
        "currency": ccy,
        "payer_name": payer,
        "memo": memo,
        **kw,
    }


def frames(invoices, receipts, customers, credit_notes=None, fx=None):
    return (
        frame("invoices", invoices),
        frame("receipts", receipts),
        frame("customers", customers),
        frame("credit_notes", credit_notes) if credit_notes is not None else None,
        frame("fx_rates", fx) if fx is not None else None,
    )


def run_frames(inv_df, rec_df, cust_df, cn_df=None, fx_df=None, base="CNY", **cfg):
    res = match(inv_df, rec_df, cust_df, cn_df, fx_df, MatchConfig(**cfg), base, None)
    check_conservation(res)
    return res


def run(invoices, receipts, customers, credit_notes=None, fx=None, base="CNY", **cfg):
    return run_frames(*frames(invoices, receipts, customers, credit_notes, fx), base=base, **cfg)


def check_conservation(res):
    """Per receipt: cash rows + unapplied = amount; per invoice: rows + open = open at start."""
    a = res.allocations
    per_r = (
        a.filter(pl.col("kind") != "credit_note")
        .group_by("receipt_id")
        .agg(pl.col("receipt_amount").sum())
    )
    r = res.receipts.join(per_r, on="receipt_id", how="left").with_columns(
        pl.col("receipt_amount").fill_null(D(0))
    )
    assert (r["receipt_amount"] + r["unapplied"] == r["amount"]).all()
    per_i = a.group_by("invoice_id").agg(pl.col("applied_amount").sum())
    i = res.invoices.join(per_i, on="invoice_id", how="left").with_columns(
        pl.col("applied_amount").fill_null(D(0))
    )
    assert (i["applied_amount"] + i["open_amount"] == i["open_at_start"]).all()
    assert (i["open_amount"] >= 0).all()
    assert a["confidence"].is_between(0, 1).all()
    assert (a["reason"].str.len_chars() > 0).all()


def allocs(res, rid=None) -> list[tuple]:
    """(receipt_id, invoice_id, kind, applied_amount, receipt_amount) per allocation row."""
    a = res.allocations if rid is None else res.allocations.filter(pl.col("receipt_id") == rid)
    return sorted(
        (r["receipt_id"], r["invoice_id"], r["kind"], r["applied_amount"], r["receipt_amount"])
        for r in a.iter_rows(named=True)
    )


def alloc_rows(res, rid=None) -> list[dict]:
    a = res.allocations if rid is None else res.allocations.filter(pl.col("receipt_id") == rid)
    return list(a.iter_rows(named=True))


def flags(row: dict) -> set[str]:
    return {f for f in (row.get("flags") or "").split("|") if f}


def receipt(res, rid) -> dict:
    return res.receipts.filter(pl.col("receipt_id") == rid).row(0, named=True)


def status(res, rid) -> str:
    return receipt(res, rid)["status"]


def invoice(res, iid) -> dict:
    return res.invoices.filter(pl.col("invoice_id") == iid).row(0, named=True)


def inv_open(res, iid) -> D:
    return invoice(res, iid)["open_amount"]


def suggestions(res, rid) -> list[dict]:
    return list(res.suggestions.filter(pl.col("receipt_id") == rid).iter_rows(named=True))


def suggested_invoices(res, rid) -> set[str]:
    return {i for s in suggestions(res, rid) for i in (s["invoice_ids"] or "").split("|") if i}


def suggested_customers(res, rid) -> set[str]:
    return {s["customer_id"] for s in suggestions(res, rid) if s["customer_id"]}


def evidence(res, rid) -> str:
    """Everything matching says about a receipt in words: its suggestions (reason, amount,
    invoices) and its allocations' reasons, thousands separators removed."""
    parts = []
    for s in suggestions(res, rid):
        parts += [s["reason"] or "", str(s["amount"]), s["invoice_ids"] or ""]
    parts += [r["reason"] or "" for r in alloc_rows(res, rid)]
    return " ".join(parts).replace(",", "")
