"""The candidates rule (issue 10 §2.4, §2.5): a payer who is one of several customers is
decided by the only open invoice of the exact amount among *their* open invoices, each
principle with its near miss (tests/test_match_principles.py has the principles' own)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from tests.ledger import (
    alloc_rows,
    allocs,
    flags,
    inv,
    inv_open,
    rec,
    receipt,
    run,
    status,
    suggested_customers,
    suggested_invoices,
)

CUSTOMERS = [
    {"customer_id": "C1", "name": "Acme Trading Co., Ltd."},
    {"customer_id": "C6", "name": "Huaxin Trading (Shanghai) Co., Ltd.", "aliases": "HX"},
    {"customer_id": "C7", "name": "Huaxin Trading (Beijing) Co., Ltd.", "aliases": "HX"},
    {"customer_id": "C8", "name": "Shenzhen Brightway Electronics Co., Ltd."},
    {"customer_id": "Z1", "name": "上海华润五金贸易有限公司", "aliases": "华润五金"},
    {"customer_id": "Z2", "name": "北京华润五金贸易有限公司", "aliases": "华润五金"},
]


def nothing_applied(res, rid):
    assert allocs(res, rid) == []
    assert receipt(res, rid)["allocated"] == 0


def test_the_receipt_takes_the_customer_whose_invoice_it_paid():
    res = run(
        [inv("INV-1", "C6", "3100.00"), inv("INV-2", "C7", "4260.00")],
        [rec("R1", "4260.00", "HX")],
        CUSTOMERS,
    )
    (row,) = alloc_rows(res, "R1")
    assert (row["rule"], row["rule_id"]) == ("candidates", "candidates.unique_amount")
    assert row["confidence"] == pytest.approx(0.85)
    assert "is the name of 2 customers (C6, C7)" in row["reason"]
    assert "the only open invoice of that amount among theirs" in row["reason"]
    r = receipt(res, "R1")
    assert (r["customer_id"], r["payer_method"], r["status"]) == ("C7", "ambiguous", "applied")


def test_an_old_invoice_is_no_evidence_against():
    res = run(
        [inv("INV-1", "C6", "4260.00", date=dt.date(2025, 6, 1))],
        [rec("R1", "4260.00", "HX")],
        CUSTOMERS,
    )
    assert allocs(res, "R1") == [("R1", "INV-1", "cash", D("4260.00"), D("4260.00"))]
    assert "outside the usual window" in alloc_rows(res, "R1")[0]["reason"]


def test_near_miss_the_amount_twice_at_one_candidate_is_a_suggestion():
    res = run(
        [inv("INV-1", "C7", "4260.00"), inv("INV-2", "C7", "4260.00"), inv("INV-3", "C6", "1.00")],
        [rec("R1", "4260.00", "HX")],
        CUSTOMERS,
    )
    nothing_applied(res, "R1")
    assert status(res, "R1") == "suggested"
    assert suggested_invoices(res, "R1") == {"INV-1", "INV-2"}


def test_near_miss_a_memo_naming_another_candidates_invoice_is_a_rival_reading():
    # the amount is C7's invoice, but the memo names C6's (of another amount): who paid?
    res = run(
        [inv("INV-10001", "C6", "1000.00"), inv("INV-20002", "C7", "4260.00")],
        [rec("R1", "4260.00", "HX", "INV-10001")],
        CUSTOMERS,
    )
    # (the named invoice may take its part by reference: the partial rule's call)
    assert [r for r in alloc_rows(res, "R1") if r["invoice_id"] == "INV-20002"] == []
    assert all(r["rule"] != "candidates" for r in alloc_rows(res, "R1"))
    assert inv_open(res, "INV-20002") == D("4260.00")
    assert "INV-20002" in suggested_invoices(res, "R1")


def test_a_memo_naming_another_invoice_of_the_same_candidate_lets_the_amount_decide():
    res = run(
        [inv("INV-10001", "C7", "1000.00"), inv("INV-20002", "C7", "4260.00")],
        [rec("R1", "4260.00", "HX", "INV-10001")],
        CUSTOMERS,
    )
    assert allocs(res, "R1") == [("R1", "INV-20002", "cash", D("4260.00"), D("4260.00"))]
    assert "memo_conflict" in flags(alloc_rows(res, "R1")[0])


def test_near_miss_a_name_more_customers_share_than_the_limit_identifies_nobody():
    res = run(
        [inv("INV-1", "C6", "3100.00"), inv("INV-2", "C7", "4260.00")],
        [rec("R1", "4260.00", "HX")],
        CUSTOMERS,
        payer_max_candidates=1,
    )
    nothing_applied(res, "R1")
    assert receipt(res, "R1")["payer_method"] == "none"


def test_the_rule_switches_off_with_exact_amount():
    res = run(
        [inv("INV-1", "C6", "3100.00"), inv("INV-2", "C7", "4260.00")],
        [rec("R1", "4260.00", "HX")],
        CUSTOMERS,
        rules=("reference", "suggestions"),
    )
    nothing_applied(res, "R1")
    assert suggested_invoices(res, "R1") == {"INV-2"}


def test_a_reference_among_the_candidates_says_the_name_was_shared():
    res = run(
        [inv("INV-10001", "C6", "4260.00"), inv("INV-20002", "C7", "4260.00")],
        [rec("R1", "4260.00", "HX", "INV-20002")],
        CUSTOMERS,
    )
    (row,) = alloc_rows(res, "R1")
    assert row["rule"] == "reference" and row["customer_id"] == "C7"
    assert "is the name of 2 customers (C6, C7): the reference decides (C7)" in row["reason"]
    assert receipt(res, "R1")["customer_id"] == "C7"


def test_a_chinese_trade_name_without_city_and_the_memo_of_a_line_without_payer():
    invoices = [inv("INV-1", "Z1", "8800.00"), inv("INV-2", "Z2", "5150.00")]
    res = run(
        invoices,
        [
            rec("R1", "5150.00", "华润五金贸易有限公司"),  # the trade name both share
            rec("R2", "8800.00", None, "华润五金货款"),  # no payer; the shared alias in the memo
        ],
        CUSTOMERS,
    )
    assert allocs(res, "R1") == [("R1", "INV-2", "cash", D("5150.00"), D("5150.00"))]
    assert allocs(res, "R2") == [("R2", "INV-1", "cash", D("8800.00"), D("8800.00"))]
    assert alloc_rows(res, "R2")[0]["rule_id"] == "candidates.memo_unique_amount"
    assert receipt(res, "R2")["payer_method"] == "memo_name"


def test_near_miss_a_fuzzy_payer_and_no_invoice_of_the_amount_suggests_its_near_ones():
    res = run(
        [inv("INV-1", "C8", "7650.00")],
        [rec("R1", "7500.00", "TRF/SHENZHENBRIGHTWAYELECTRONICS/PMT 2026")],
        CUSTOMERS,
    )
    nothing_applied(res, "R1")
    assert status(res, "R1") == "suggested"
    assert suggested_invoices(res, "R1") == {"INV-1"}
    assert suggested_customers(res, "R1") == {"C8"}


SLIPS = [
    {"customer_id": "K1", "name": "深圳华美机械有限公司"},
    {"customer_id": "K2", "name": "深圳华美机电有限公司"},
    {"customer_id": "K3", "name": "无锡中联电子有限公司"},
]


def test_one_wrong_character_in_a_short_chinese_name_and_a_unique_amount_is_applied():
    # 无锡中联电仔 is one character from 无锡中联电子 (a ratio of only 0.83)
    res = run(
        [inv("INV-1", "K3", "1559.46"), inv("INV-2", "K1", "1559.46")],
        [rec("R1", "1559.46", "无锡中联电仔有限公司", "货款")],
        SLIPS,
    )
    assert allocs(res, "R1") == [("R1", "INV-1", "cash", D("1559.46"), D("1559.46"))]
    assert alloc_rows(res, "R1")[0]["rule_id"] == "candidates.fuzzy_unique_amount"


def test_near_miss_one_wrong_character_from_two_customers_with_the_amount_at_both():
    # 深圳华美机戒 is one character from 深圳华美机械 and from 深圳华美机电
    res = run(
        [inv("INV-1", "K1", "17350.53"), inv("INV-2", "K2", "17350.53")],
        [rec("R1", "17350.53", "深圳华美机戒有限公司")],
        SLIPS,
    )
    nothing_applied(res, "R1")
    assert suggested_invoices(res, "R1") == {"INV-1", "INV-2"}
