"""Matching rules, each with a hand-computed answer and the near miss that must not match."""

from __future__ import annotations

from decimal import Decimal as D

import polars as pl
import pytest

from arlib.match import MatchConfig, match
from arlib.match.frames import range_join
from arlib.match.search import subset, subsets
from tests.ledger import OCT1, OCT5, d, frame, inv, rec

CUSTOMERS = [
    {"customer_id": "C1", "name": "Acme Trading Co., Ltd.", "discount_terms": "2/10 net 30"},
    {"customer_id": "C2", "name": "Beta Industries Ltd", "parent_id": "C1"},
    {"customer_id": "C3", "name": "Gamma Logistics GmbH", "policy": "balance_forward"},
    {"customer_id": "C4", "name": "Delta Foods Inc."},
]


def run(invoices, receipts, customers=None, credit_notes=None, fx=None, decisions=None, **cfg):
    res = match(
        frame("invoices", invoices),
        frame("receipts", receipts),
        frame("customers", customers or CUSTOMERS),
        frame("credit_notes", credit_notes) if credit_notes is not None else None,
        frame("fx_rates", fx) if fx is not None else None,
        MatchConfig(**cfg),
        "CNY",
        decisions,
    )
    check_conservation(res)
    return res


def check_conservation(res):
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
    assert ((r["unapplied"] >= 0) | (r["amount"] < 0)).all()
    per_i = a.group_by("invoice_id").agg(pl.col("applied_amount").sum())
    i = res.invoices.join(per_i, on="invoice_id", how="left").with_columns(
        pl.col("applied_amount").fill_null(D(0))
    )
    assert (i["applied_amount"] + i["open_amount"] == i["open_at_start"]).all()
    assert (i["open_amount"] >= 0).all()
    assert a["confidence"].is_between(0, 1).all()
    assert (a["reason"].str.len_chars() > 0).all()


def rows(res, rid=None):
    a = res.allocations if rid is None else res.allocations.filter(pl.col("receipt_id") == rid)
    return [
        (
            r["receipt_id"],
            r["invoice_id"],
            r["kind"],
            r["applied_amount"],
            r["receipt_amount"],
            r["rule"],
        )
        for r in a.iter_rows(named=True)
    ]


def status(res, rid):
    return res.receipts.filter(pl.col("receipt_id") == rid)["status"].item()


def inv_open(res, iid):
    return res.invoices.filter(pl.col("invoice_id") == iid)["open_amount"].item()


# ------------------------------------------------------------------------------- reference
@pytest.mark.parametrize(
    "memo",
    ["INV-0012345", "inv 12345", "发票号0012345", "付INV0012345货款", "12345", "INV0012345 货款"],
)
def test_reference_memo_forms(memo):
    res = run(
        [inv("INV0012345", "C1", "1000.00"), inv("INV0012346", "C1", "1000.00")],
        [rec("R1", "1000.00", "Acme Trading", memo)],
    )
    assert rows(res) == [("R1", "INV0012345", "cash", D("1000.00"), D("1000.00"), "reference")]
    a = res.allocations.row(0, named=True)
    assert a["confidence"] == 1.0
    assert "names invoice INV0012345; amount equal" in a["reason"]


def test_reference_in_bank_ref_and_unknown_payer():
    res = run(
        [inv("INV0012345", "C1", "1000.00")],
        [rec("R1", "1000.00", "Somebody", None, bank_ref="INV0012345")],
    )
    assert rows(res) == [("R1", "INV0012345", "cash", D("1000.00"), D("1000.00"), "reference")]
    assert "payer not identified" in res.allocations["reason"].item()


def test_reference_whole_token_only():
    # memo '12345' must not name INV0112345 (payer unknown: nothing else may match either)
    res = run(
        [inv("INV0112345", "C1", "1000.00")],
        [rec("R1", "1000.00", "Nobody At All", "12345")],
    )
    assert res.allocations.height == 0
    assert status(res, "R1") in ("suggested", "unapplied")


def test_reference_bank_charge_within_max():
    res = run([inv("INV0012345", "C1", "1000.00")], [rec("R1", "985.00", "Acme", "INV0012345")])
    assert rows(res) == [
        ("R1", "INV0012345", "cash", D("985.00"), D("985.00"), "reference"),
        ("R1", "INV0012345", "bank_charge", D("15.00"), D("0.00"), "reference"),
    ]
    assert inv_open(res, "INV0012345") == 0


def test_reference_short_beyond_bank_charge_is_partial_not_written_off():
    res = run([inv("INV0012345", "C1", "1000.00")], [rec("R1", "900.00", "Acme", "INV0012345")])
    assert rows(res) == [("R1", "INV0012345", "cash", D("900.00"), D("900.00"), "partial")]
    assert res.allocations["flags"].item() == "partial"
    assert inv_open(res, "INV0012345") == D("100.00")


def test_reference_rounding():
    res = run(
        [inv("INV0012345", "C4", "1000.00")], [rec("R1", "999.99", "Delta Foods", "INV0012345")]
    )
    kinds = {r[2]: r[3] for r in rows(res)}
    assert kinds == {"cash": D("999.99"), "rounding": D("0.01")}


def test_discount_within_window():
    res = run(
        [inv("INV0000100", "C1", "10000.00", date=d(2026, 10, 1))],
        [rec("R1", "9800.00", "Acme", "INV0000100", date=d(2026, 10, 8))],
    )
    assert rows(res) == [
        ("R1", "INV0000100", "cash", D("9800.00"), D("9800.00"), "reference"),
        ("R1", "INV0000100", "discount", D("200.00"), D("0.00"), "reference"),
    ]
    assert "2/10 net 30" in res.allocations["reason"][0]


def test_discount_taken_after_window_is_not_a_discount():
    res = run(
        [inv("INV0000100", "C1", "10000.00", date=d(2026, 10, 1))],
        [rec("R1", "9800.00", "Acme", "INV0000100", date=d(2026, 10, 20))],
    )
    assert [r[2] for r in rows(res)] == ["cash"]
    assert res.allocations["rule"].item() == "partial"
    assert inv_open(res, "INV0000100") == D("200.00")


def test_discount_not_for_customer_without_terms():
    res = run(
        [inv("INV0000100", "C4", "10000.00", date=d(2026, 10, 1))],
        [rec("R1", "9800.00", "Delta Foods", "INV0000100", date=d(2026, 10, 8))],
    )
    assert "discount" not in res.allocations["kind"].to_list()


FX = [
    {"date": d(2026, 10, 3), "currency": "USD", "rate": D("7.10000000")},
    {"date": d(2026, 9, 1), "currency": "USD", "rate": D("9.00000000")},
]


def test_fx_difference_within_tolerance():
    # USD invoice 1000.00 paid with CNY 7150.00; rate on/before 10-05 is 7.10 -> USD 1007.04
    res = run(
        [inv("INV0000200", "C4", "1000.00", ccy="USD")],
        [rec("R1", "7150.00", "Delta Foods", "INV0000200")],
        fx=FX,
    )
    assert rows(res) == [
        ("R1", "INV0000200", "cash", D("1007.04"), D("7150.00"), "reference"),
        ("R1", "INV0000200", "fx_difference", D("-7.04"), D("0.00"), "reference"),
    ]
    a = res.allocations.row(0, named=True)
    assert (a["currency"], a["receipt_currency"]) == ("USD", "CNY")


def test_fx_outside_tolerance_is_only_suggested():
    res = run(
        [inv("INV0000200", "C4", "1000.00", ccy="USD")],
        [rec("R1", "6500.00", "Delta Foods", "INV0000200")],  # USD 915.49: 8.5 % off
        fx=FX,
    )
    assert res.allocations.height == 0
    assert res.suggestions.filter(pl.col("invoice_ids") == "INV0000200").height == 1


def test_fx_without_a_recent_rate_is_not_matched():
    res = run(
        [inv("INV0000200", "C4", "1000.00", ccy="USD")],
        [
            rec("R1", "7100.00", "Delta Foods", "INV0000200", date=d(2026, 10, 30))
        ],  # rate 27 days old
        fx=FX,
    )
    assert res.allocations.height == 0


def test_combined_by_reference():
    res = run(
        [
            inv("INV0000001", "C4", "100.00"),
            inv("INV0000002", "C4", "250.00"),
            inv("INV0000003", "C4", "100.00"),
        ],
        [rec("R1", "350.00", "Delta Foods", "INV0000001 / INV0000002")],
    )
    assert rows(res) == [
        ("R1", "INV0000001", "cash", D("100.00"), D("100.00"), "reference"),
        ("R1", "INV0000002", "cash", D("250.00"), D("250.00"), "reference"),
    ]


def test_reference_two_equal_named_invoices_is_not_guessed():
    res = run(
        [inv("INV0000001", "C4", "100.00"), inv("INV0000002", "C4", "100.00")],
        [rec("R1", "100.00", "Delta Foods", "INV0000001 INV0000002")],
    )
    assert res.allocations.height == 0
    assert set(res.suggestions["invoice_ids"]) == {"INV0000001", "INV0000002"}


# ---------------------------------------------------------------------------- exact amount
def test_exact_amount_unique():
    res = run(
        [
            inv("INV0000001", "C4", "100.00"),
            inv("INV0000002", "C4", "200.00"),
            inv("INV0000003", "C1", "100.00"),
        ],
        [rec("R1", "100.00", "DELTA FOODS", "货款")],
    )
    assert rows(res) == [("R1", "INV0000001", "cash", D("100.00"), D("100.00"), "exact_amount")]
    assert res.allocations["flags"].item() == ""


def test_exact_amount_two_equal_candidates_is_suggestion():
    res = run(
        [inv("INV0000001", "C4", "100.00"), inv("INV0000002", "C4", "100.00", date=d(2026, 9, 1))],
        [rec("R1", "100.00", "Delta Foods")],
    )
    assert res.allocations.height == 0
    assert status(res, "R1") == "suggested"
    s = res.suggestions.sort("rank")
    assert s["invoice_ids"].to_list() == ["INV0000001", "INV0000002"]  # equal score: id order
    assert s["rank"].to_list() == [1, 2]


def test_exact_amount_outside_date_window_is_still_the_only_one():
    """Age is no evidence against: the window words the reason, it excludes nothing."""
    res = run(
        [inv("INV0000001", "C4", "100.00", date=d(2026, 1, 1))],
        [rec("R1", "100.00", "Delta Foods")],
        date_window_days=90,
    )
    assert rows(res) == [("R1", "INV0000001", "cash", D("100.00"), D("100.00"), "exact_amount")]
    assert "dated 2026-01-01, outside the usual window" in res.allocations["reason"].item()


def test_exact_amount_needs_a_resolved_payer():
    res = run([inv("INV0000001", "C4", "100.00")], [rec("R1", "100.00", "Unknown Co")])
    assert res.allocations.height == 0
    assert res.suggestions["rule"].to_list() == ["amount_only"]


def test_two_receipts_one_invoice_first_wins():
    res = run(
        [inv("INV0000001", "C4", "100.00")],
        [
            rec("R2", "100.00", "Delta Foods", date=d(2026, 10, 6)),
            rec("R1", "100.00", "Delta Foods"),
        ],
    )
    assert rows(res) == [("R1", "INV0000001", "cash", D("100.00"), D("100.00"), "exact_amount")]
    assert status(res, "R2") == "unapplied"


# -------------------------------------------------------------------------------- combined
def test_combined_subset_sum_prefers_oldest():
    invoices = [
        inv("INV0000001", "C4", "100.00", date=d(2026, 9, 1)),
        inv("INV0000002", "C4", "200.00", date=d(2026, 9, 2)),
        inv("INV0000003", "C4", "300.00", date=d(2026, 9, 3)),
    ]
    res = run(invoices, [rec("R1", "300.00", "Delta Foods")], rules=("combined",))
    # 300 alone is not 'combined' (needs >= 2); 100+200 is the oldest pair
    assert [r[1] for r in rows(res)] == ["INV0000001", "INV0000002"]
    res = run(invoices, [rec("R1", "500.00", "Delta Foods")])
    assert [(r[1], r[5]) for r in rows(res)] == [
        ("INV0000002", "combined"),
        ("INV0000003", "combined"),
    ]


def test_combined_prefers_referenced():
    invoices = [
        inv("INV0000001", "C4", "100.00", date=d(2026, 9, 1)),
        inv("INV0000002", "C4", "200.00", date=d(2026, 9, 2)),
        inv("INV0000003", "C4", "100.00", date=d(2026, 9, 3)),
        inv("INV0000004", "C4", "50.00", date=d(2026, 9, 4)),
    ]
    res = run(invoices, [rec("R1", "300.00", "Delta Foods", "INV0000003 etc")], rules=("combined",))
    assert [r[1] for r in rows(res)] == ["INV0000002", "INV0000003"]


def test_combined_with_bank_charge_only_when_the_memo_names_the_invoices():
    invoices = [inv("INV0000001", "C4", "1000.00"), inv("INV0000002", "C4", "2000.00")]
    # unnamed: a near sum is too often a coincidence -> nothing applied
    res = run(invoices, [rec("R1", "2990.00", "Delta Foods")])
    assert res.allocations.height == 0
    # named: the referenced combination may write the bank charge off
    res = run(invoices, [rec("R1", "2990.00", "Delta Foods", "INV0000001 INV0000002")])
    assert rows(res) == [
        ("R1", "INV0000001", "cash", D("1000.00"), D("1000.00"), "reference"),
        ("R1", "INV0000002", "cash", D("1990.00"), D("1990.00"), "reference"),
        ("R1", "INV0000002", "bank_charge", D("10.00"), D("0.00"), "reference"),
    ]


def test_combined_needs_a_unique_combination():
    invoices = [
        inv("INV0000001", "C4", "100.00"),
        inv("INV0000002", "C4", "200.00"),
        inv("INV0000003", "C4", "150.00"),
        inv("INV0000004", "C4", "150.00"),
    ]
    res = run(invoices, [rec("R1", "300.00", "Delta Foods")])  # 100+200 or 150+150
    assert res.allocations.height == 0
    assert status(res, "R1") == "suggested"
    assert set(res.suggestions.filter(pl.col("rule") == "combined")["invoice_ids"]) == {
        "INV0000001|INV0000002",
        "INV0000003|INV0000004",
    }


def test_combined_no_subset_no_allocation():
    invoices = [inv("INV0000001", "C4", "100.00"), inv("INV0000002", "C4", "200.00")]
    res = run(invoices, [rec("R1", "360.00", "Delta Foods")])
    assert res.allocations.height == 0


def test_combined_respects_max_invoices():
    invoices = [inv(f"INV000000{k}", "C4", "100.00") for k in range(1, 5)]
    res = run(invoices, [rec("R1", "400.00", "Delta Foods")], combined_max_invoices=3)
    assert res.allocations.height == 0
    res = run(invoices, [rec("R1", "400.00", "Delta Foods")], combined_max_invoices=4)
    assert res.allocations.height == 4


def test_subset_helper():
    assert subset([100, 200, 300], 500, 0, 5, 1000) == [1, 2]
    assert subset([100, 200, 300], 300, 0, 5, 1000) == [0, 1]
    assert subset([100, 200, 300], 700, 0, 5, 1000) is None
    assert subset([100] * 30, 3000, 0, 30, 10) is None  # node budget
    # exactly three: 200 + 400 = 600 has two, so only 100 + 200 + 300
    assert subsets([100, 200, 300, 400], 600, 0, 3, 1000, kmin=3) == ([[0, 1, 2]], True)
    assert subsets([100, 200, 300, 400], 600, 0, 3, 1000) == ([[0, 1, 2], [1, 3]], True)
    # the last pick is a sorted search: a long list of candidates stays within budget
    amounts = list(range(1_000, 41_000, 1_000))
    found, complete = subsets(amounts, 1_000 + 2_000 + 39_000, 0, 3, 2_000, 1, kmin=3)
    assert complete and found[0] == [0, 1, 38]


# ------------------------------------------------------------------ partial / installments
def test_installments_by_reference():
    res = run(
        [inv("INV0000001", "C4", "1000.00")],
        [
            rec("R2", "600.00", "Delta Foods", "INV0000001 balance", date=d(2026, 10, 10)),
            rec("R1", "400.00", "Delta Foods", "INV0000001 1/2"),
        ],
    )
    assert rows(res) == [
        ("R1", "INV0000001", "cash", D("400.00"), D("400.00"), "partial"),
        ("R2", "INV0000001", "cash", D("600.00"), D("600.00"), "partial"),
    ]
    assert res.allocations["flags"].to_list() == ["partial", ""]
    assert inv_open(res, "INV0000001") == 0


def test_overpayment_by_reference():
    res = run(
        [inv("INV0000001", "C4", "1000.00")], [rec("R1", "1200.00", "Delta Foods", "INV0000001")]
    )
    assert rows(res) == [("R1", "INV0000001", "cash", D("1000.00"), D("1000.00"), "partial")]
    assert res.allocations["flags"].item() == "overpayment"
    assert status(res, "R1") == "partial"
    assert res.receipts["unapplied"].item() == D("200.00")


def test_balance_forward_oldest_first():
    invoices = [
        inv("INV0000002", "C3", "400.00", date=d(2026, 9, 2)),
        inv("INV0000001", "C3", "300.00", date=d(2026, 9, 1)),
        inv("INV0000003", "C3", "999.00", date=d(2026, 9, 3)),
    ]
    res = run(invoices, [rec("R1", "500.00", "Gamma Logistics")])
    assert rows(res) == [
        ("R1", "INV0000001", "cash", D("300.00"), D("300.00"), "balance_forward"),
        ("R1", "INV0000002", "cash", D("200.00"), D("200.00"), "balance_forward"),
    ]
    assert inv_open(res, "INV0000002") == D("200.00")


def test_open_item_customer_is_not_waterfalled():
    res = run([inv("INV0000001", "C4", "300.00")], [rec("R1", "500.00", "Delta Foods")])
    assert res.allocations.height == 0


# ------------------------------------------------------------------------------ credit notes
def test_credit_note_netted_before_cash():
    res = run(
        [inv("INV0000001", "C4", "1000.00")],
        [rec("R1", "800.00", "Delta Foods")],
        credit_notes=[
            {
                "credit_id": "CN1",
                "customer_id": "C4",
                "date": d(2026, 10, 2),
                "amount": D("200.00"),
                "invoice_id": "INV0000001",
            }
        ],
    )
    assert rows(res) == [
        ("CN1", "INV0000001", "credit_note", D("200.00"), D("0.00"), "credit_note"),
        ("R1", "INV0000001", "cash", D("800.00"), D("800.00"), "exact_amount"),
    ]
    assert res.credit_notes["unapplied"].item() == 0


def test_credit_note_without_invoice_is_netted_when_it_makes_the_receipt_exact():
    # receipt 800.00 + credit note 200.00 (naming no invoice) = the open 1,000.00
    res = run(
        [inv("INV0000001", "C4", "1000.00"), inv("INV0000009", "C4", "3333.33")],
        [rec("R1", "800.00", "Delta Foods")],
        credit_notes=[
            {"credit_id": "CN1", "customer_id": "C4", "date": d(2026, 10, 2), "amount": D("200.00")}
        ],
    )
    assert rows(res) == [
        ("CN1", "INV0000001", "credit_note", D("200.00"), D("0.00"), "credit_note"),
        ("R1", "INV0000001", "cash", D("800.00"), D("800.00"), "credit_note"),
    ]
    assert res.credit_notes["unapplied"].item() == D("0.00")
    assert inv_open(res, "INV0000001") == D("0.00")


def test_credit_note_without_invoice_is_not_applied_when_nothing_adds_up():
    # 700.00 + 200.00 is not the open 1,000.00: neither the credit nor the cash is applied
    # (a second open invoice keeps the receipt from going on account to the only one)
    res = run(
        [inv("INV0000001", "C4", "1000.00"), inv("INV0000009", "C4", "3333.33")],
        [rec("R1", "700.00", "Delta Foods")],
        credit_notes=[
            {"credit_id": "CN1", "customer_id": "C4", "date": d(2026, 10, 2), "amount": D("200.00")}
        ],
    )
    assert res.allocations.height == 0
    assert res.credit_notes["unapplied"].item() == D("200.00")
    assert inv_open(res, "INV0000001") == D("1000.00")


def test_credit_note_larger_than_invoice_is_capped():
    res = run(
        [inv("INV0000001", "C4", "100.00")],
        [],
        credit_notes=[
            {
                "credit_id": "CN1",
                "customer_id": "C4",
                "date": d(2026, 10, 2),
                "amount": D("150.00"),
                "invoice_id": "INV0000001",
            }
        ],
    )
    assert rows(res) == [
        ("CN1", "INV0000001", "credit_note", D("100.00"), D("0.00"), "credit_note")
    ]
    assert res.credit_notes["unapplied"].item() == D("50.00")


# ----------------------------------------------------------------------- disagreeing evidence
def test_related_company_pays_by_reference_third_party():
    res = run(
        [inv("INV0000001", "C2", "500.00"), inv("INV0000002", "C1", "500.00")],
        [rec("R1", "500.00", "Acme Trading", "INV0000001")],
    )
    assert rows(res) == [("R1", "INV0000001", "cash", D("500.00"), D("500.00"), "reference")]
    a = res.allocations.row(0, named=True)
    assert a["flags"] == "third_party" and a["customer_id"] == "C2"
    assert "paid by 'Acme Trading' (customer C1, related company) for C2" in a["reason"]


def test_sibling_company_pays_by_reference_third_party():
    # C2 and C4 are both subsidiaries of C1: C4 paying C2's invoice is a related party
    customers = [*CUSTOMERS[:3], {**CUSTOMERS[3], "parent_id": "C1"}]
    invoices = [inv("INV0000001", "C2", "500.00"), inv("INV0000002", "C4", "700.00")]
    res = run(invoices, [rec("R1", "500.00", "Delta Foods", "INV0000001")], customers=customers)
    assert rows(res) == [("R1", "INV0000001", "cash", D("500.00"), D("500.00"), "reference")]
    assert res.allocations["flags"].item() == "third_party"
    # ... by short number and exact amount too
    res = run(invoices, [rec("R1", "500.00", "Delta Foods", "1")], customers=customers)
    assert [r[1] for r in rows(res)] == ["INV0000001"]
    # ... but not with another amount, and an unrelated payer (CUSTOMERS: C4 alone) only by
    # the full number: a short number names its own or a related customer's invoice only
    res = run(invoices, [rec("R1", "450.00", "Delta Foods", "1")], customers=customers)
    assert res.allocations.height == 0
    res = run(invoices, [rec("R1", "500.00", "Delta Foods", "1")])
    assert res.allocations.height == 0
    res = run(invoices, [rec("R1", "500.00", "Delta Foods", "INV0000001")])
    assert res.allocations["rule_id"].to_list() == ["reference.third_party_unrelated"]


def test_unrelated_company_reference_applies_only_with_the_exact_amount():
    """The full invoice number and its exact open amount decide whoever pays (flagged
    third_party, the payer named); near miss: another amount is never a part payment of
    another customer's invoice, only a suggestion."""
    res = run(
        [inv("INV0000001", "C2", "500.00")], [rec("R1", "500.00", "Delta Foods", "INV0000001")]
    )
    a = res.allocations.row(0, named=True)
    assert (a["invoice_id"], a["applied_amount"], a["flags"]) == (
        "INV0000001",
        D("500.00"),
        "third_party",
    )
    assert "paid by 'Delta Foods' (customer C4, no link to C2 in the master data)" in a["reason"]
    res = run(
        [inv("INV0000001", "C2", "500.00")], [rec("R1", "450.00", "Delta Foods", "INV0000001")]
    )
    assert res.allocations.height == 0
    s = res.suggestions.row(0, named=True)
    assert (s["rule"], s["invoice_ids"]) == ("reference", "INV0000001")


def test_memo_conflict_payer_and_amount_win():
    res = run(
        [inv("INV0000001", "C2", "999.00"), inv("INV0000002", "C4", "500.00")],
        [rec("R1", "500.00", "Delta Foods", "INV0000001")],
    )
    assert rows(res) == [("R1", "INV0000002", "cash", D("500.00"), D("500.00"), "exact_amount")]
    assert res.allocations["flags"].item() == "memo_conflict"
    assert inv_open(res, "INV0000001") == D("999.00")


# ------------------------------------------------------------------------------------ manual
def decisions(rows_):
    schema = {
        "receipt_id": pl.String,
        "action": pl.String,
        "invoice_id": pl.String,
        "amount": pl.Decimal(38, 2),
        "who": pl.String,
        "when": pl.String,
        "why": pl.String,
    }
    return pl.DataFrame(rows_, schema=schema, orient="row")


def test_manual_match_first_with_who_when_why():
    res = run(
        [inv("INV0000001", "C4", "100.00"), inv("INV0000002", "C4", "100.00")],
        [rec("R1", "100.00", "Delta Foods", "INV0000001")],
        decisions=decisions(
            [
                (
                    "R1",
                    "match",
                    "INV0000002",
                    None,
                    "li.wei",
                    "2026-11-02",
                    "customer confirmed by phone",
                )
            ]
        ),
    )
    assert rows(res) == [("R1", "INV0000002", "cash", D("100.00"), D("100.00"), "manual")]
    reason = res.allocations["reason"].item()
    assert "li.wei" in reason and "2026-11-02" in reason and "confirmed by phone" in reason


def test_manual_reject_pair_blocks_auto_match():
    res = run(
        [inv("INV0000001", "C4", "100.00")],
        [rec("R1", "100.00", "Delta Foods", "INV0000001")],
        decisions=decisions([("R1", "reject", "INV0000001", None, "a", "b", "not ours")]),
    )
    assert res.allocations.height == 0


def test_manual_dispute_and_not_ar():
    res = run(
        [inv("INV0000001", "C4", "100.00")],
        [rec("R1", "100.00", "Delta Foods", "INV0000001"), rec("R2", "5.00", "Bank interest")],
        decisions=decisions(
            [
                ("R1", "dispute", None, None, "a", "b", "c"),
                ("R2", "not_ar", None, None, "a", "b", "interest"),
            ]
        ),
    )
    assert res.allocations.height == 0
    assert status(res, "R1") == "dispute" and status(res, "R2") == "not_ar"


def test_manual_bad_decisions_become_findings():
    res = run(
        [inv("INV0000001", "C4", "100.00")],
        [rec("R1", "100.00", "Delta Foods")],
        decisions=decisions(
            [
                ("R9", "match", "INV0000001", None, "a", "b", "c"),
                ("R1", "match", "INV0000001", D("150.00"), "a", "b", "c"),
            ]
        ),
    )
    assert res.findings.height == 2
    assert res.allocations.height == 0  # the receipt is under manual control


# ---------------------------------------------------------------------------- suggestions
def test_decimal_shift_and_transposition_suggested():
    res = run(
        [inv("INV0000001", "C4", "1000.00"), inv("INV0000002", "C4", "1234.00")],
        [rec("R1", "100.00", "Delta Foods"), rec("R2", "1243.00", "Delta Foods")],
    )
    assert res.allocations.height == 0
    s = {
        (r["receipt_id"], r["invoice_ids"]): r["rule"]
        for r in res.suggestions.iter_rows(named=True)
    }
    assert s[("R1", "INV0000001")] == "amount_typo"
    assert s[("R2", "INV0000002")] == "amount_typo"
    reasons = res.suggestions.filter(pl.col("receipt_id") == "R2")["reason"].str.join("|").item()
    assert "received 1243.00 looks like invoice INV0000002 (open 1234.00)" in reasons
    assert "(transposition)" in reasons


def test_fuzzy_payer_below_threshold_is_suggestion_only():
    res = run([inv("INV0000001", "C4", "100.00")], [rec("R1", "100.00", "Delta Fo")])
    assert res.allocations.height == 0
    s = res.suggestions.row(0, named=True)
    assert s["rule"] == "fuzzy_payer" and s["customer_id"] == "C4" and s["rank"] == 1


def test_fuzzy_payer_above_threshold_matches_with_lower_confidence():
    res = run([inv("INV0000001", "C4", "100.00")], [rec("R1", "100.00", "Delta Foodss")])
    a = res.allocations.row(0, named=True)
    assert a["rule"] == "exact_amount" and a["confidence"] < 0.9


def test_near_amount_outside_tolerance_is_suggestion():
    invoices = [inv("INV0000001", "C4", "1000.00"), inv("INV0000009", "C4", "3333.33")]
    res = run(invoices, [rec("R1", "940.00", "Delta Foods")])
    assert res.allocations.height == 0
    assert res.suggestions["rule"].to_list() == ["near_amount"]
    # the only open invoice: the 940.00 goes on account, the 60.00 short stays open
    res = run(invoices[:1], [rec("R1", "940.00", "Delta Foods")])
    assert res.allocations["rule_id"].to_list() == ["on_account.only_open_invoice"]
    assert inv_open(res, "INV0000001") == D("60.00")


# ------------------------------------------------------------------------- misc / contract
def test_opening_items_use_open_amount():
    invoices = frame(
        "invoices",
        [inv("INV0000001", "C4", "1000.00", date=d(2026, 8, 1)), inv("INV0000002", "C4", "70.00")],
    ).with_columns(pl.Series("open_amount", [D("400.00"), None], dtype=pl.Decimal(38, 2)))
    res = match(
        invoices,
        frame("receipts", [rec("R1", "400.00", "Delta Foods")]),
        frame("customers", CUSTOMERS),
    )
    check_conservation(res)
    assert rows(res) == [("R1", "INV0000001", "cash", D("400.00"), D("400.00"), "exact_amount")]
    i = res.invoices.filter(pl.col("invoice_id") == "INV0000001").row(0, named=True)
    assert (i["amount"], i["open_at_start"], i["applied"], i["open_amount"], i["status"]) == (
        D("1000.00"),
        D("400.00"),
        D("400.00"),
        D("0.00"),
        "paid",
    )


def test_rules_can_be_switched_off():
    res = run(
        [inv("INV0000001", "C4", "100.00")],
        [rec("R1", "100.00", "Delta Foods", "INV0000001")],
        rules=("exact_amount",),
    )
    assert res.allocations["rule"].to_list() == ["exact_amount"]
    res = run([inv("INV0000001", "C4", "100.00")], [rec("R1", "100.00", "Delta Foods")], rules=())
    assert res.allocations.height == 0 and res.suggestions.height == 0


def test_config_validation():
    with pytest.raises(ValueError, match="'magic' is not a known matching rule"):
        MatchConfig(rules=("reference", "magic"))
    cfg = MatchConfig(rules=["reference"], rounding_tolerance="0.10", bank_charge_max={"CNY": 20})
    assert cfg.rules == ("reference",) and cfg.rounding_tolerance == D("0.10")
    assert cfg.bank_charge_cents("CNY") == 2000 and cfg.bank_charge_cents("XXX") == 0


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="unique"):
        run([inv("INV0000001", "C4", "1.00"), inv("INV0000001", "C4", "2.00")], [])


def test_output_schemas():
    res = run([inv("INV0000001", "C4", "100.00")], [rec("R1", "100.00", "Delta Foods")])
    assert res.allocations.columns == [
        "receipt_id", "invoice_id", "customer_id", "applied_amount", "currency", "receipt_amount",
        "receipt_currency", "kind", "rule", "rule_id", "confidence", "reason", "flags",
    ]  # fmt: skip
    assert res.allocations.schema["applied_amount"] == pl.Decimal(38, 2)
    assert res.suggestions.columns == [
        "receipt_id", "rank", "customer_id", "invoice_ids", "amount", "score", "rule", "reason",
    ]  # fmt: skip
    for c in (
        "customer_id",
        "payer_method",
        "payer_score",
        "allocated",
        "unapplied",
        "status",
        "source_row",
    ):
        assert c in res.receipts.columns
    for c in ("applied", "open_amount", "status", "source_file"):
        assert c in res.invoices.columns
    assert res.payers.columns[:5] == [
        "payer_name",
        "payer_account",
        "customer_id",
        "method",
        "score",
    ]


def test_negative_receipt_is_left_alone():
    res = run(
        [inv("INV0000001", "C4", "100.00")], [rec("R1", "-100.00", "Delta Foods", "INV0000001")]
    )
    assert res.allocations.height == 0 and status(res, "R1") == "unapplied"


def test_manual_cross_currency_converts_at_value_date_rate():
    res = run(
        [inv("INV0000200", "C4", "1000.00", ccy="USD")],
        [rec("R1", "3550.00", "Delta Foods")],
        fx=FX,
        decisions=decisions([("R1", "match", "INV0000200", None, "a", "b", "half now")]),
    )
    assert rows(res) == [("R1", "INV0000200", "cash", D("500.00"), D("3550.00"), "manual")]
    assert inv_open(res, "INV0000200") == D("500.00")


# ------------------------------------------------------ near misses of the precision fixes
def test_decimal_shift_named_is_not_a_partial_payment():
    invoices = [inv("INV0000335", "C4", "19079.66")]
    res = run(invoices, [rec("R1", "190796.60", "Delta Foods", "inv 335")])
    assert res.allocations.height == 0
    assert status(res, "R1") == "suggested"
    # /10 rounded to the cent is a shift too
    res = run([inv("INV0000335", "C4", "924.37")], [rec("R1", "92.44", "Delta Foods", "inv 335")])
    assert res.allocations.height == 0
    # a real partial payment of the named invoice still applies
    res = run(invoices, [rec("R1", "5000.00", "Delta Foods", "inv 335")])
    assert [(r[1], r[3], r[5]) for r in rows(res)] == [("INV0000335", D("5000.00"), "partial")]


def test_transposed_amount_is_not_partial_nor_bank_charge():
    res = run(
        [inv("INV0001527", "C4", "10239.02")],
        [rec("R1", "12039.02", "Delta Foods", "inv 1527")],
    )
    assert res.allocations.height == 0
    res = run(
        [inv("INV0001527", "C4", "10239.20")],
        [rec("R1", "10239.02", "Delta Foods", "inv 1527")],
    )
    assert res.allocations.height == 0  # 0.18 short, but it is a swap of the last digits


def test_bank_charge_is_capped_relative_to_the_invoice():
    # 36.13 short of 129.03 is a partial payment, not a bank charge (28 %)
    res = run([inv("INV0000001", "C4", "129.03")], [rec("R1", "92.90", "Delta Foods")])
    assert not [r for r in rows(res) if r[2] == "bank_charge"]
    # 15 short of 1,000 (1.5 %) is still a bank charge
    res = run([inv("INV0000001", "C4", "1000.00")], [rec("R1", "985.00", "Delta Foods")])
    assert [r[2] for r in rows(res)] == ["cash", "bank_charge"]
    # a round sum against an amount that is not: an installment, not invoice minus fee
    res = run([inv("INV0000001", "C4", "8003.16")], [rec("R1", "8000.00", "Delta Foods")])
    assert not [r for r in rows(res) if r[2] == "bank_charge"]


def test_second_receipt_naming_a_paid_invoice_is_not_applied_elsewhere():
    invoices = [inv("INV0000001", "C4", "500.00"), inv("INV0000002", "C4", "500.00")]
    receipts = [
        rec("R1", "500.00", "Delta Foods", "INV0000001"),
        rec("R2", "500.00", "Delta Foods", "INV0000001", date=d(2026, 10, 7)),
    ]
    res = run(invoices, receipts)
    assert [(r[0], r[1]) for r in rows(res)] == [("R1", "INV0000001")]
    assert inv_open(res, "INV0000002") == D("500.00")


def test_twin_without_memo_is_not_applied_elsewhere():
    invoices = [
        inv("INV0000001", "C4", "700.00"),
        inv("INV0000002", "C4", "300.00", date=d(2026, 9, 1)),
        inv("INV0000003", "C4", "400.00", date=d(2026, 9, 2)),
    ]
    receipts = [
        rec("R1", "700.00", "Delta Foods"),
        rec("R2", "700.00", "Delta Foods", date=d(2026, 10, 8)),
    ]
    res = run(invoices, receipts)
    assert [(r[0], r[1]) for r in rows(res)] == [("R1", "INV0000001")]  # R2 not 300 + 400


def test_twin_naming_an_open_invoice_is_no_duplicate():
    # the same round amount twice within a week, the second naming another open invoice
    invoices = [inv("INV0000001", "C4", "1000.00"), inv("INV0000002", "C4", "2500.00")]
    receipts = [
        rec("R1", "1000.00", "Delta Foods"),
        rec("R2", "1000.00", "Delta Foods", "INV0000002 第1期", date=d(2026, 10, 8)),
    ]
    res = run(invoices, receipts)
    assert rows(res, "R2") == [("R2", "INV0000002", "cash", D("1000.00"), D("1000.00"), "partial")]


def test_shortfall_on_an_invoice_another_receipt_names_is_no_bank_charge():
    # 23.50 short of INV0000001, but R1 names it too: instalments, not a fee
    receipts = [
        rec("R1", "23.50", "Delta Foods", "INV0000001 第1期"),
        rec("R2", "1318.50", "Delta Foods", "INV0000001", date=d(2026, 10, 9)),
    ]
    res = run([inv("INV0000001", "C4", "1342.00")], receipts)
    assert [r[2] for r in rows(res)] == ["cash", "cash"]
    assert inv_open(res, "INV0000001") == 0
    # alone, the same receipt is the invoice less a bank charge
    res = run([inv("INV0000001", "C4", "1342.00")], receipts[1:])
    assert [r[2] for r in rows(res)] == ["cash", "bank_charge"]


def _counted_invoices():
    return [
        inv("INV0000001", "C4", "100.00", date=d(2026, 9, 1)),
        inv("INV0000002", "C4", "200.00", date=d(2026, 9, 2)),
        inv("INV0000003", "C4", "300.00", date=d(2026, 9, 3)),
        inv("INV0000004", "C4", "400.00", date=d(2026, 9, 4)),
        inv("INV0000005", "C4", "500.00", date=d(2026, 9, 5)),
        inv("INV0000006", "C4", "600.00", date=d(2026, 9, 6)),
        inv("INV0000007", "C4", "700.00", date=d(2026, 9, 7)),
    ]


def test_memo_counting_its_invoices_sets_the_combination_size():
    # 1,000.00 is INV1 + 4 + 5, INV1 + 2 + 7, INV1 + 3 + 6, INV1 + 2 + 3 + 4; '等3笔' and
    # INV1 named: INV1 plus two more -- still three ways, so people decide
    res = run(_counted_invoices(), [rec("R1", "1000.00", "Delta Foods", "付INV0000001等3笔货款")])
    assert res.allocations.height == 0
    # '等4笔': INV1 + 2 + 3 + 4 is the only way with four
    res = run(_counted_invoices(), [rec("R1", "1000.00", "Delta Foods", "付INV0000001等4笔货款")])
    assert sorted(r[1] for r in rows(res)) == [
        "INV0000001",
        "INV0000002",
        "INV0000003",
        "INV0000004",
    ]
    assert {r[5] for r in rows(res)} == {"combined"}


@pytest.mark.parametrize("memo", ["付INV0000001等6笔货款", "INV0000001 + 5 more, 6 invoices"])
def test_memo_count_beyond_the_usual_maximum(memo):
    # 2,100.00 = INV1..6 (six, beyond combined_max_invoices 5); with at most five there are
    # two ways (INV1 + 2 + 5 + 6 + 7, INV1 + 3 + 4 + 6 + 7): the count decides
    res = run(_counted_invoices(), [rec("R1", "2100.00", "Delta Foods", memo)])
    assert sorted(r[1] for r in rows(res)) == [f"INV000000{k}" for k in range(1, 7)]
    # without the count: no combination is sure; only the named invoice is paid, the rest
    # left unapplied as an overpayment
    res = run(_counted_invoices(), [rec("R1", "2100.00", "Delta Foods", "付INV0000001货款")])
    assert rows(res) == [("R1", "INV0000001", "cash", D("100.00"), D("100.00"), "partial")]
    assert res.allocations["flags"].item() == "overpayment"


def test_carried_in_cash_only_by_reference():
    invoices = [inv("INV0000001", "C4", "100.00"), inv("INV0000002", "C4", "250.00")]
    receipts = frame(
        "receipts",
        [
            rec("R1", "100.00", "Delta Foods"),
            rec("R2", "250.00", "Delta Foods", "INV0000002"),
            rec("R3", "100.00", "Delta Foods"),
        ],
    ).with_columns(origin=pl.Series(["opening", "opening", "period"]))
    res = match(frame("invoices", invoices), receipts, frame("customers", CUSTOMERS))
    check_conservation(res)
    # carried-in R1 is not matched on amount; this period's R3 is
    assert [(r[0], r[1], r[5]) for r in rows(res)] == [
        ("R2", "INV0000002", "reference"),
        ("R3", "INV0000001", "exact_amount"),
    ]


def test_balance_forward_defers_to_an_equal_open_invoice():
    invoices = [
        inv("INV0000001", "C3", "100.00", date=d(2026, 8, 1)),
        inv("INV0000002", "C3", "150.00", date=d(2026, 8, 2)),
        inv("INV0000003", "C3", "150.00", date=d(2026, 8, 3)),
    ]
    # 150 equals two open invoices: ambiguous, not spread oldest-first
    res = run(invoices, [rec("R1", "150.00", "Gamma Logistics")])
    assert res.allocations.height == 0
    # a lump sum that equals none of them is applied oldest-first
    res = run(invoices, [rec("R1", "180.00", "Gamma Logistics")])
    assert [(r[1], r[3], r[5]) for r in rows(res)] == [
        ("INV0000001", D("100.00"), "balance_forward"),
        ("INV0000002", D("80.00"), "balance_forward"),
    ]


def test_fx_receipt_without_reference_unique_invoice():
    fx = [{"date": d(2026, 10, 5), "currency": "USD", "rate": D("7.10")}]
    invoices = [inv("INV0000001", "C4", "7100.00"), inv("INV0000002", "C4", "20000.00")]
    res = run(invoices, [rec("R1", "998.00", "Delta Foods", ccy="USD")], fx=fx)
    # 998 USD = 7085.80 CNY, within 2 % of INV0000001 only
    assert [(r[1], r[2], r[3]) for r in rows(res)] == [
        ("INV0000001", "cash", D("7085.80")),
        ("INV0000001", "fx_difference", D("14.20")),
    ]
    invoices.append(inv("INV0000003", "C4", "7050.00"))
    res = run(invoices, [rec("R1", "998.00", "Delta Foods", ccy="USD")], fx=fx)
    assert res.allocations.height == 0  # two invoices within tolerance: people decide


def test_range_join_matches_the_cartesian_filter():
    import random

    rnd = random.Random(3)
    left = pl.DataFrame(
        {
            "l": list(range(300)),
            "g": [rnd.choice("ab") for _ in range(300)],
            "x": [rnd.randint(0, 500) for _ in range(300)],
        }
    )
    right = pl.DataFrame(
        {
            "g": [rnd.choice("abc") for _ in range(400)],
            "v": [rnd.randint(0, 500) for _ in range(400)],
        }
    )
    got = range_join(left, right, ["g"], "v", pl.col("x") - 7, pl.col("x") + 3, cap=10_000)
    want = left.join(right, on="g").filter(pl.col("v").is_between(pl.col("x") - 7, pl.col("x") + 3))
    key = ["l", "v"]
    assert got.select(key).sort(key).equals(want.select(key).sort(key))
    capped = range_join(left, right, ["g"], "v", pl.col("x") - 7, pl.col("x") + 3, cap=1)
    assert capped.group_by("l").len()["len"].max() == 1


# ------------------------------------------------------------- short numbers, instalments
@pytest.mark.parametrize("memo", ["556 第2期", "556", "#556", "556 installment 2/3"])
def test_short_bare_number_of_the_payers_own_open_invoice(memo):
    res = run(
        [inv("INV0000556", "C4", "1000.00"), inv("INV0000557", "C4", "900.00")],
        [rec("R1", "400.00", "Delta Foods", memo)],
    )
    assert rows(res) == [("R1", "INV0000556", "cash", D("400.00"), D("400.00"), "partial")]
    assert res.allocations["flags"].item() == "partial"


def test_short_bare_number_exact_amount_is_a_reference():
    res = run([inv("INV0000556", "C4", "1000.00")], [rec("R1", "1000.00", "Delta Foods", "556")])
    assert rows(res) == [("R1", "INV0000556", "cash", D("1000.00"), D("1000.00"), "reference")]


def test_short_bare_number_of_another_customers_invoice_is_not_applied():
    # 556 is C1's invoice; the payer is Delta Foods (C4), unrelated: no reference
    res = run(
        [
            inv("INV0000556", "C1", "1000.00"),
            inv("INV0000557", "C4", "900.00"),
            inv("INV0000558", "C4", "800.00"),
        ],
        [rec("R1", "400.00", "Delta Foods", "556 第2期")],
    )
    assert res.allocations.height == 0
    # a related company (C2 is C1's subsidiary) paying 556 with another amount: no reference
    invoices = [inv("INV0000556", "C1", "1000.00"), inv("INV0000557", "C2", "900.00")]
    res = run(invoices, [rec("R1", "990.00", "Beta Industries", "556")])
    assert res.allocations.height == 0


def test_short_bare_number_of_a_related_company_with_its_exact_amount():
    # the subsidiary C2 pays its parent's invoice 556 to the cent: a third-party payment
    invoices = [inv("INV0000556", "C1", "1000.00"), inv("INV0000557", "C2", "900.00")]
    res = run(invoices, [rec("R1", "1000.00", "Beta Industries", "556")])
    assert rows(res) == [("R1", "INV0000556", "cash", D("1000.00"), D("1000.00"), "reference")]
    assert res.allocations["flags"].item() == "third_party"
    # ... and the parent paying the subsidiary's invoice 557
    res = run(invoices, [rec("R1", "900.00", "Acme Trading", "557")])
    assert rows(res) == [("R1", "INV0000557", "cash", D("900.00"), D("900.00"), "reference")]
    # two related invoices numbered 557 with that amount (C4 made C1's subsidiary too)
    customers = [*CUSTOMERS[:3], {**CUSTOMERS[3], "parent_id": "C1"}]
    twins = [*invoices, inv("557", "C4", "900.00")]
    res = run(twins, [rec("R1", "900.00", "Acme Trading", "557")], customers=customers)
    assert res.allocations.height == 0


def test_short_bare_number_with_unresolved_payer_is_not_applied():
    res = run([inv("INV0000556", "C4", "1000.00")], [rec("R1", "1000.00", "Nobody At All", "556")])
    assert res.allocations.height == 0


def test_short_bare_number_ambiguous_among_the_customers_invoices_is_not_applied():
    res = run(
        [inv("A-556", "C4", "1000.00"), inv("B-556", "C4", "800.00")],
        [rec("R1", "400.00", "Delta Foods", "556")],
    )
    assert res.allocations.height == 0


@pytest.mark.parametrize(
    "memo", ["第2期货款", "installment 2/3", "2/3", "installment 2 of 3", "part 2", "2期", "2 15"]
)
def test_instalment_markers_and_several_short_numbers_are_no_reference(memo):
    # the customer has invoices numbered 2, 3 and 15, but the digits are instalment markers
    # or several numbers (a date?): nothing is named; two open invoices: nothing applied
    res = run(
        [
            inv("INV0000002", "C4", "1000.00"),
            inv("INV0000003", "C4", "800.00"),
            inv("INV0000015", "C4", "700.00"),
        ],
        [rec("R1", "400.00", "Delta Foods", memo)],
    )
    assert res.allocations.height == 0


def test_short_number_next_to_a_full_reference_is_ignored():
    res = run(
        [inv("INV0012345", "C4", "1000.00"), inv("INV0000012", "C4", "300.00")],
        [rec("R1", "400.00", "Delta Foods", "INV0012345 12")],
    )
    # the memo names INV0012345 only (12 may be a quantity): partial on it
    assert rows(res) == [("R1", "INV0012345", "cash", D("400.00"), D("400.00"), "partial")]


def test_instalment_short_of_the_invoice_is_partial_not_bank_charge():
    res = run(
        [inv("INV0012345", "C1", "1000.00")], [rec("R1", "985.00", "Acme", "INV0012345 第2期")]
    )
    assert rows(res) == [("R1", "INV0012345", "cash", D("985.00"), D("985.00"), "partial")]
    assert inv_open(res, "INV0012345") == D("15.00")
    # without a reference, the fee-sized shortfall is no bank charge either
    res = run(
        [inv("INV0012345", "C4", "1000.00"), inv("INV0012346", "C4", "5000.00")],
        [rec("R1", "985.00", "Delta Foods", "分期货款")],
    )
    assert res.allocations.height == 0


def test_instalment_memo_onto_the_only_open_invoice():
    res = run(
        [inv("INV0000001", "C4", "1000.00")],
        [
            rec("R1", "400.00", "Delta Foods", "分期货款"),
            rec("R2", "600.00", "Delta Foods", "第2期货款", date=d(2026, 10, 20)),
        ],
    )
    assert rows(res) == [
        ("R1", "INV0000001", "cash", D("400.00"), D("400.00"), "partial"),
        ("R2", "INV0000001", "cash", D("600.00"), D("600.00"), "partial"),
    ]
    assert res.allocations["flags"].to_list() == ["partial", ""]
    assert inv_open(res, "INV0000001") == 0
    a = res.allocations.row(0, named=True)
    assert a["flags"] == "partial" and "announces an instalment" in a["reason"]


@pytest.mark.parametrize(
    ("invoices", "amount", "memo"),
    [
        # two open invoices in the currency: which one is for people
        ([("INV0000001", "1000.00"), ("INV0000002", "3000.00")], "400.00", "分期货款"),
        # no instalment in the memo, and two open invoices (with one, it is on account)
        ([("INV0000001", "1000.00"), ("INV0000002", "3000.00")], "400.00", "货款"),
        # more than the invoice's open amount
        ([("INV0000001", "1000.00")], "1400.00", "INSTALLMENT"),
    ],
)
def test_instalment_memo_near_misses(invoices, amount, memo):
    res = run([inv(i, "C4", a) for i, a in invoices], [rec("R1", amount, "Delta Foods", memo)])
    assert res.allocations.height == 0


def test_instalment_memo_other_currency_or_unresolved_payer_not_applied():
    res = run(
        [inv("INV0000001", "C4", "1000.00", ccy="USD")],
        [rec("R1", "400.00", "Delta Foods", "分期货款"), rec("R2", "400.00", "Nobody", "分期货款")],
    )
    assert res.allocations.height == 0


# ------------------------------------------------------ instalments of an invoice in progress
def _in_progress_invoices(extra=()):
    # INV0000001 gets a first instalment by reference; INV0000002 is another open invoice
    return [inv("INV0000001", "C4", "1000.00"), inv("INV0000002", "C4", "3000.00"), *extra]


def test_last_instalment_without_reference_clears_the_rest():
    res = run(
        _in_progress_invoices(),
        [
            rec("R1", "400.00", "Delta Foods", "INV0000001 第1期"),
            rec("R2", "600.00", "Delta Foods", "货款", date=d(2026, 10, 20)),
        ],
    )
    assert rows(res, "R2") == [("R2", "INV0000001", "cash", D("600.00"), D("600.00"), "partial")]
    a = res.allocations.filter(pl.col("receipt_id") == "R2").row(0, named=True)
    assert a["flags"] == "" and "equals its open rest: it clears the invoice" in a["reason"]
    assert a["confidence"] == pytest.approx(0.8)
    assert inv_open(res, "INV0000001") == 0
    assert inv_open(res, "INV0000002") == D("3000.00")


def test_next_instalment_marked_as_such_goes_to_the_invoice_in_progress():
    res = run(
        _in_progress_invoices(),
        [
            rec("R1", "350.00", "Delta Foods", "INV0000001 第1期"),
            rec("R2", "250.00", "Delta Foods", "第2期货款", date=d(2026, 10, 12)),
            rec("R3", "400.00", "Delta Foods", "付货款", date=d(2026, 10, 20)),
        ],
    )
    assert rows(res, "R2") == [("R2", "INV0000001", "cash", D("250.00"), D("250.00"), "partial")]
    # the third one, generic, equals the rest the second one left
    assert rows(res, "R3") == [("R3", "INV0000001", "cash", D("400.00"), D("400.00"), "partial")]
    assert res.allocations.filter(pl.col("receipt_id") == "R2")["flags"].item() == "partial"
    assert inv_open(res, "INV0000001") == 0


@pytest.mark.parametrize(
    ("extra", "second"),
    [
        # a generic memo that does not clear the rest could be a part payment of anything
        ((), rec("R2", "300.00", "Delta Foods", "货款", date=d(2026, 10, 12))),
        # two other open invoices have the receipt's amount: people decide
        (
            (inv("INV0000003", "C4", "600.00"), inv("INV0000004", "C4", "600.00")),
            rec("R2", "600.00", "Delta Foods", "第2期", date=d(2026, 10, 12)),
        ),
        # /10 of another open invoice: a keying error, not an instalment
        ((), rec("R2", "300.00", "Delta Foods", "第2期", date=d(2026, 10, 12))),
        # more than the rest
        ((), rec("R2", "700.00", "Delta Foods", "第2期", date=d(2026, 10, 12))),
        # another payer
        ((), rec("R2", "600.00", "Gamma Logistics", "第2期", date=d(2026, 10, 12))),
    ],
)
def test_instalment_in_progress_near_misses(extra, second):
    res = run(
        _in_progress_invoices(extra), [rec("R1", "400.00", "Delta Foods", "INV0000001"), second]
    )
    assert rows(res, "R2") == []
    assert inv_open(res, "INV0000001") == D("600.00")


def test_two_invoices_in_progress_only_the_exact_rest_decides():
    invoices = _in_progress_invoices()
    receipts = [
        rec("R1", "400.00", "Delta Foods", "INV0000001 第1期"),
        rec("R2", "1200.00", "Delta Foods", "INV0000002 第1期"),
    ]
    fits_both = rec("R3", "200.00", "Delta Foods", "第2期", date=d(2026, 10, 20))
    res = run(invoices, [*receipts, fits_both])
    assert rows(res, "R3") == []
    rest = rec("R3", "1800.00", "Delta Foods", "第2期", date=d(2026, 10, 20))
    res = run(invoices, [*receipts, rest])
    assert rows(res, "R3") == [("R3", "INV0000002", "cash", D("1800.00"), D("1800.00"), "partial")]


# ------------------------------------------------- no reference: tolerance among candidates
def test_discount_to_the_cent_beats_a_bank_charge_candidate():
    # C1 has 2/10 net 30: 980.00 is 1000.00 less 2 %; 990.00 less 10.00 would be a fee
    res = run(
        [inv("INV0000001", "C1", "1000.00"), inv("INV0000002", "C1", "990.00")],
        [rec("R1", "980.00", "Acme Trading")],
    )
    assert rows(res) == [
        ("R1", "INV0000001", "cash", D("980.00"), D("980.00"), "exact_amount"),
        ("R1", "INV0000001", "discount", D("20.00"), D("0.00"), "exact_amount"),
    ]


def test_unreferenced_bank_charge_must_be_whole_units():
    invoices = [inv("INV0000001", "C4", "1234.56"), inv("INV0000009", "C4", "3333.33")]
    res = run(invoices, [rec("R1", "1221.09", "Delta Foods")])
    assert res.allocations.height == 0
    assert res.suggestions["invoice_ids"].to_list()[0] == "INV0000001"
    res = run(invoices, [rec("R1", "1221.09", "Delta Foods")], bank_charge_whole_units=False)
    assert [r[2] for r in rows(res)] == ["cash", "bank_charge"]
    # the only open invoice: no write-off either, the cash goes on account, 13.47 stays open
    res = run(invoices[:1], [rec("R1", "1221.09", "Delta Foods")])
    assert [r[2] for r in rows(res)] == ["cash"] and inv_open(res, "INV0000001") == D("13.47")
    # with the invoice named in the memo, any fee up to the cap is written off
    res = run(invoices, [rec("R1", "1221.09", "Delta Foods", "INV0000001")])
    assert rows(res)[1] == ("R1", "INV0000001", "bank_charge", D("13.47"), D("0.00"), "reference")


def test_two_whole_unit_fee_candidates_stay_a_suggestion():
    res = run(
        [inv("INV0000001", "C4", "1015.00"), inv("INV0000002", "C4", "1025.00")],
        [rec("R1", "1000.00", "Delta Foods")],
    )
    assert res.allocations.height == 0
    assert set(res.suggestions["invoice_ids"]) == {"INV0000001", "INV0000002"}


def test_other_currencies_fee_caps_do_not_crowd_out_the_candidate():
    # JPY's cap (5,000) once widened every receipt's search: 25 USD invoices within 5,000
    # above the amount made the customer a "crowd" and the fee match was never tried
    crowd = [inv(f"INV00001{k:02d}", "C4", f"{1100 + 150 * k}.00", ccy="USD") for k in range(25)]
    res = run(
        [inv("INV0000001", "C4", "1019.50", ccy="USD"), *crowd],
        [rec("R1", "1000.50", "Delta Foods", ccy="USD")],
    )
    assert rows(res) == [
        ("R1", "INV0000001", "cash", D("1000.50"), D("1000.50"), "exact_amount"),
        ("R1", "INV0000001", "bank_charge", D("19.00"), D("0.00"), "exact_amount"),
    ]


# ------------------------------------------------------------------- review regressions
def test_instalment_without_a_value_date_is_skipped_not_a_crash():
    receipts = [
        rec("R1", "400.00", "Delta Foods", "INV0000001"),
        rec("R2", "600.00", "Delta Foods", date=None),
    ]
    res = run([inv("INV0000001", "C4", "1000.00")], receipts)
    assert rows(res, "R2") == []


def test_transposed_amount_of_another_open_invoice_is_no_bank_charge():
    # 12,345.00 is 15.00 short of INV1, but also INV2's 13,245.00 with two digits swapped
    invoices = [inv("INV0000001", "C4", "12360.00"), inv("INV0000002", "C4", "13245.00")]
    res = run(invoices, [rec("R1", "12345.00", "Delta Foods")])
    assert res.allocations.height == 0


def _three_invoices():
    return [inv(f"INV000000{k}", "C4", a) for k, a in enumerate(("100.00", "200.00", "250.00"), 1)]


def test_combination_beside_one_of_two_named_invoices():
    # the memo names INV1 (100) and INV2 (200); 350 = INV1 + INV3 (250)
    res = run(_three_invoices(), [rec("R1", "350.00", "Delta Foods", "INV0000001 INV0000002")])
    assert sorted(r[1] for r in rows(res)) == ["INV0000001", "INV0000003"]


def test_memo_count_that_nothing_matches_leaves_a_suggestion():
    res = run(_three_invoices(), [rec("R1", "300.00", "Delta Foods", "货款 共3笔")])
    assert res.allocations.height == 0
    sugg = res.suggestions.filter(pl.col("rule") == "combined")
    assert sugg["invoice_ids"].to_list() == ["INV0000001|INV0000002"]
    assert "memo counts 3 invoices" in sugg["reason"].item()


def test_subsets_with_tolerance_and_a_minimum_size():
    # 1 + 2 reaches the target 3 before the third pick the minimum asks for; 1 + 2 + 3 = 6
    # is still within tolerance 3
    assert subsets([3, 1, 2], 3, 3, 3, 1000, kmin=3) == ([[0, 1, 2]], True)


# ------------------------------------------------------------------------- on account
ON_ACCOUNT = d(2026, 10, 20)


@pytest.mark.parametrize(
    ("invoices", "paid", "applied_to"),
    [
        # the only invoice Delta owes by the 20th: 400.00 of it paid on account
        ([("INV0000001", "1000.00", OCT1)], "400.00", "INV0000001"),
        # near miss: two open invoices by then -- which one is a person's call
        ([("INV0000001", "1000.00", OCT1), ("INV0000002", "900.00", OCT5)], "400.00", None),
        # an invoice issued after the receipt cannot be what it pays
        (
            [("INV0000001", "1000.00", OCT1), ("INV0000002", "900.00", d(2026, 10, 25))],
            "400.00",
            "INV0000001",
        ),  # fmt: skip
        # near miss: 100.00 is 1,000.00 keyed with a decimal shift
        ([("INV0000001", "1000.00", OCT1)], "100.00", None),
        # near miss: more than is open is an advance or an overpayment, not on account
        ([("INV0000001", "1000.00", OCT1)], "1200.00", None),
    ],
)
def test_payment_on_account_goes_to_the_only_open_invoice(invoices, paid, applied_to):
    res = run(
        [inv(i, "C4", amount, date=date) for i, amount, date in invoices],
        [rec("R1", paid, "Delta Foods", "付货款", date=ON_ACCOUNT)],
    )
    a = res.allocations
    if applied_to is None:
        assert a.height == 0
        return
    assert a.select("invoice_id", "applied_amount", "rule_id", "flags").rows() == [
        (applied_to, D(paid), "on_account.only_open_invoice", "partial")
    ]
    assert inv_open(res, applied_to) == D("1000.00") - D(paid)


def test_an_invoice_that_comes_in_with_nothing_open_is_paid():
    """An invoice carried in (or exported) with open_amount 0 was paid in an earlier close:
    it is paid, not open (near miss: one with something open stays open)."""
    invoices = frame(
        "invoices", [inv("INV0000007", "C4", "5000.00"), inv("INV0000008", "C4", "5000.00")]
    ).with_columns(pl.Series("open_amount", [D("0.00"), D("1200.00")], dtype=pl.Decimal(38, 2)))
    res = match(invoices, frame("receipts", []), frame("customers", CUSTOMERS))
    got = dict(res.invoices.select("invoice_id", "status").rows())
    assert got == {"INV0000007": "paid", "INV0000008": "open"}
