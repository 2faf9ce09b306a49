"""Proposed adjustments: balanced two-line entries linked to what they clear."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl
import pytest

from arlib.exceptions import COLUMNS as EX_COLUMNS
from arlib.journal import JournalConfig, check_balanced, propose_adjustments
from arlib.provision import ProvisionResult
from arlib.schema import MONEY, RATE

AS_OF = dt.date(2026, 10, 31)
ALLOC_SCHEMA = {
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "applied_amount": MONEY,
    "currency": pl.String,
    "kind": pl.String,
}
FX = pl.DataFrame(
    {"date": [dt.date(2026, 10, 1)], "currency": ["USD"], "rate": [D("7.1")]},
    schema={"date": pl.Date, "currency": pl.String, "rate": RATE},
)


def alloc(rid, iid, amount, kind, cur="CNY"):
    return dict(
        receipt_id=rid, invoice_id=iid, customer_id="C1", applied_amount=D(amount), currency=cur,
        kind=kind,
    )  # fmt: skip


def ex(eid, kind, rid, iid, amount, status, cur="CNY"):
    return {
        **{c: None for c in EX_COLUMNS},
        "exception_id": eid,
        "type": kind,
        "class": "x",
        "customer_id": "C1",
        "receipt_id": rid,
        "invoice_id": iid,
        "amount": D(amount),
        "currency": cur,
        "status": status,
    }


def propose(allocs, excs, **kw):
    return propose_adjustments(
        pl.DataFrame(allocs, schema=ALLOC_SCHEMA),
        pl.DataFrame(excs, schema=EX_COLUMNS),
        period="2026-10",
        as_of=AS_OF,
        fx_rates=FX,
        **kw,
    )


def test_balanced_proposal_with_accounts_and_links():
    allocs = [
        alloc("R1", "I1", "9000.00", "cash"),
        alloc("R1", "I1", "25.00", "bank_charge"),
        alloc("R2", "I2", "20.00", "discount"),
        alloc("R3", "I3", "10.00", "fx_difference", cur="USD"),  # loss 71.00 base
        alloc("R4", "I4", "-2.00", "fx_difference"),  # gain
        alloc("R5", "I5", "0.03", "rounding"),
        alloc("R6", "I6", "80.00", "bank_charge"),  # over tolerance: left for review
    ]
    excs = [
        ex("EX-bc", "bank_charge", "R1", "I1", "25.00", "cleared"),
        ex("EX-d", "discount", "R2", "I2", "20.00", "cleared"),
        ex("EX-fx", "fx_difference", "R3", "I3", "10.00", "cleared", cur="USD"),
        ex("EX-fx2", "fx_difference", "R4", "I4", "-2.00", "cleared"),
        ex("EX-r", "rounding", "R5", "I5", "0.03", "cleared"),
        ex("EX-over", "bank_charge_over_tolerance", "R6", "I6", "80.00", "open"),
        ex("EX-short", "rounding", "R7", "I7", "0.04", "open"),  # invoice residual
        ex("EX-over-rec", "rounding", "R8", None, "0.02", "open"),  # receipt residual
        ex("EX-big", "rounding", "R9", "I9", "1000.00", "open"),  # above threshold
    ]
    # closing provision 500.00 after an opening 141.28: only the movement is proposed
    lines = propose(allocs, excs, provision=provided("500.00", "141.28"))
    check_balanced(lines)
    assert (
        lines["debit"].sum()
        == lines["credit"].sum()
        == D("25.00")
        + D("20.00")
        + D("71.00")
        + D("2.00")
        + D("0.03")
        + D("0.04")
        + D("0.02")
        + D("358.72")
    )
    assert set(lines["currency"]) == {"CNY"}
    by_ref = {r: lines.filter(pl.col("reference") == r) for r in set(lines["reference"])}
    assert "EX-over" not in by_ref and "EX-big" not in by_ref
    bc = by_ref["EX-bc"]
    assert bc["account"].to_list() == ["6603", "1122"]
    assert bc["debit"].to_list() == [D("25.00"), D("0.00")]
    assert by_ref["EX-d"]["account"].to_list() == ["6603.02", "1122"]
    assert by_ref["EX-fx"]["debit"][0] == D("71.00")
    gain = by_ref["EX-fx2"]
    assert gain["account"].to_list() == ["1122", "6603.03"]  # Dr AR, Cr FX gain
    assert by_ref["EX-r"]["account"].to_list() == ["6711", "1122"]
    assert by_ref["EX-short"]["account"].to_list() == ["6711", "1122"]
    assert by_ref["EX-over-rec"]["account"].to_list() == ["2203", "6301"]
    assert by_ref["ECL 2026-10"]["account"].to_list() == ["6702", "1231"]
    assert lines["journal_id"].n_unique() == 8
    assert lines["journal_id"][0] == "ADJ-2026-10-001"
    assert lines.columns == [
        "journal_id", "line", "account", "account_name", "debit", "credit", "currency",
        "customer_id", "reference", "description", "in_subledger",
    ]  # fmt: skip
    # matching already wrote the tolerance rows off; the residuals and ECL are still to do
    written_off = {r for r, df in by_ref.items() if df["in_subledger"].all()}
    assert written_off == {"EX-bc", "EX-d", "EX-fx", "EX-fx2", "EX-r"}
    assert not lines.filter(~pl.col("in_subledger"))["reference"].is_in(list(written_off)).any()


def provided(closing: str, opening: str) -> ProvisionResult:
    closing, opening = D(closing), D(opening)
    return ProvisionResult(pl.DataFrame(), closing, closing, opening, closing - opening, "x")


def test_provision_release_and_no_movement():
    lines = propose([], [], provision=provided("300.00", "431.50"))
    assert lines["account"].to_list() == ["1231", "6702"]  # Dr allowance, Cr impairment
    assert lines["debit"].to_list() == [D("131.50"), D("0.00")]
    description = lines["description"][0]
    assert "closing 300.00" in description and "opening 431.50" in description
    assert "release 131.50" in description
    assert propose([], [], provision=provided("431.50", "431.50")).height == 0


def test_include_open_and_unlinked_allocation_reference():
    allocs = [alloc("R6", "I6", "80.00", "bank_charge"), alloc("R9", "I9", "5.00", "discount")]
    excs = [ex("EX-over", "bank_charge_over_tolerance", "R6", "I6", "80.00", "open")]
    lines = propose(
        allocs, excs, config=JournalConfig(include_open=True, bank_charge_account="660301")
    )
    assert set(lines["reference"]) == {"EX-over", "R9|I9"}
    assert "660301" in lines["account"].to_list()


def test_empty_proposal_and_unbalanced_detection():
    lines = propose([], [])
    assert lines.height == 0
    bad = pl.DataFrame(
        {"journal_id": ["J1", "J1"], "debit": [D("1.00"), D("0")], "credit": [D("0"), D("0.99")]},
        schema={"journal_id": pl.String, "debit": MONEY, "credit": MONEY},
    )
    with pytest.raises(AssertionError, match="J1"):
        check_balanced(bad)
