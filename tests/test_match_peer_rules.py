"""The rules the peer scenarios asked for (../shared/fixtures/peer-scenarios), each with the
near misses an AR manager would check: a payment tolerance (``payment_tolerance_pct``),
the customer's own reference on invoices (``invoice_reference_columns``), a reference that
must name one invoice (``unique_reference_only``), and credit notes naming no invoice
netted with a receipt they make exact (rule ``credit_note.unnamed``).

Written against the public API (``match``, ``MatchConfig``, the ``MatchResult`` frames of
docs/CONTRACTS.md, ``classify_exceptions``, ``propose_adjustments``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl
import pytest

from arlib.exceptions import ExceptionConfig, classify_exceptions
from arlib.journal import propose_adjustments
from arlib.match import CASCADE, MatchConfig
from arlib.match.rules import describe
from tests.ledger import (
    OCT1,
    OCT5,
    alloc_rows,
    allocs,
    evidence,
    flags,
    frame,
    inv,
    inv_open,
    rec,
    receipt,
    run,
    status,
    suggested_invoices,
)

ACME = "Acme Trading Co., Ltd."
BETA = "Beta Industries Ltd"
DELTA = "Delta Foods Inc."
CUSTOMERS = [
    {"customer_id": "C1", "name": ACME},
    {"customer_id": "C2", "name": BETA, "parent_id": "C1"},  # Acme's subsidiary
    {"customer_id": "C4", "name": DELTA},
]
# only the setting a test names: no bank charge or rounding written off
NO_OTHER_WRITE_OFF = {"bank_charge_max": {"*": "0"}, "rounding_tolerance": "0"}


def kinds(res) -> list[str]:
    return sorted(res.allocations["kind"].to_list())


# ------------------------------------------------------------------ payment tolerance
def tolerance(pct, **cfg):
    return {"payment_tolerance_pct": pct, **NO_OTHER_WRITE_OFF, **cfg}


@pytest.mark.parametrize(
    ("paid", "pct"),
    [
        pytest.param("1185.80", "2", id="exactly-98-percent"),
        pytest.param("1200.00", "2", id="well-within"),
        pytest.param("1203.95", "0.5", id="exactly-0.5-percent"),
    ],
)
def test_a_short_payment_within_the_tolerance_clears_the_invoice(paid, pct):
    res = run(
        [inv("INV-2001", "C4", "1210.00", ccy="EUR")],
        [rec("R1", paid, DELTA, "INV-2001", ccy="EUR")],
        CUSTOMERS,
        **tolerance(pct),
    )
    short = D("1210.00") - D(paid)
    assert allocs(res) == [
        ("R1", "INV-2001", "cash", D(paid), D(paid)),
        ("R1", "INV-2001", "write_off", short, D("0.00")),
    ]
    assert set(res.allocations["rule_id"]) == {"reference.write_off"}
    assert inv_open(res, "INV-2001") == D("0.00")
    assert "payment tolerance" in evidence(res, "R1")


@pytest.mark.parametrize(
    ("paid", "pct"),
    [
        pytest.param("1185.79", "2", id="one-cent-beyond-2-percent"),
        pytest.param("990.00", "0.5", id="1-percent-short-of-0.5"),
    ],
)
def test_a_short_payment_beyond_the_tolerance_is_a_partial_payment(paid, pct):
    amount = "1210.00" if pct == "2" else "1000.00"
    res = run(
        [inv("INV-1", "C4", amount, ccy="EUR")],
        [rec("R1", paid, DELTA, "INV-1", ccy="EUR")],
        CUSTOMERS,
        **tolerance(pct),
    )
    assert allocs(res) == [("R1", "INV-1", "cash", D(paid), D(paid))]
    assert "partial" in flags(alloc_rows(res)[0])
    assert inv_open(res, "INV-1") == D(amount) - D(paid)


def test_an_overpayment_is_never_written_off():
    res = run(
        [inv("INV-1", "C4", "1000.00", ccy="EUR")],
        [rec("R1", "1010.00", DELTA, "INV-1", ccy="EUR")],
        CUSTOMERS,
        **tolerance("2"),
    )
    assert allocs(res) == [("R1", "INV-1", "cash", D("1000.00"), D("1000.00"))]
    assert receipt(res, "R1")["unapplied"] == D("10.00")


def test_a_bank_charge_within_its_cap_is_the_better_explanation():
    # 15.00 short of 1,000.00: within the EUR bank-charge cap (50) and the 2 % tolerance
    res = run(
        [inv("INV-1", "C4", "1000.00", ccy="EUR")],
        [rec("R1", "985.00", DELTA, "INV-1", ccy="EUR")],
        CUSTOMERS,
        payment_tolerance_pct="2",
    )
    assert kinds(res) == ["bank_charge", "cash"]


@pytest.mark.parametrize(
    ("memo", "paid"),
    [
        pytest.param("INV-1 第1期", "990.00", id="an-instalment"),
        pytest.param(None, "990.00", id="no-reference"),
        pytest.param("INV-1", "5423.10", id="a-digit-swap-of-5432.10"),
    ],
)
def test_no_write_off_without_a_reference_on_an_instalment_or_a_keying_error(memo, paid):
    amount = "5432.10" if paid == "5423.10" else "1000.00"
    res = run(
        [inv("INV-1", "C4", amount, ccy="EUR")],
        [rec("R1", paid, DELTA, memo, ccy="EUR")],
        CUSTOMERS,
        **tolerance("2"),
    )
    assert "write_off" not in kinds(res)
    assert inv_open(res, "INV-1") > 0


def test_no_write_off_of_another_customers_invoice():
    # Delta names Acme's invoice (no link between them) and pays 1 % short: not Delta's debt
    res = run(
        [inv("INV-1", "C1", "1000.00", ccy="EUR")],
        [rec("R1", "990.00", DELTA, "INV-1", ccy="EUR")],
        CUSTOMERS,
        **tolerance("2"),
    )
    assert res.allocations.height == 0
    assert inv_open(res, "INV-1") == D("1000.00")


def test_a_tolerance_write_off_is_a_cleared_exception_booked_to_the_write_off_account():
    cfg = tolerance("2")
    invoices = [inv("INV-1", "C4", "1210.00", ccy="EUR")]
    res = run(invoices, [rec("R1", "1185.80", DELTA, "INV-1", ccy="EUR")], CUSTOMERS, **cfg)
    found = classify_exceptions(
        res.allocations,
        res.suggestions,
        res.receipts,
        res.invoices,
        frame("customers", CUSTOMERS),
        ExceptionConfig().with_tolerances_of(MatchConfig(**cfg)),
    )
    assert found.select("type", "amount", "status").rows() == [("write_off", D("24.20"), "cleared")]
    assert "2.00%" in found["evidence"].item()
    fx = pl.DataFrame(
        {"date": [OCT1], "currency": ["EUR"], "rate": [D("7.8")]},
        schema={"date": pl.Date, "currency": pl.String, "rate": pl.Decimal(38, 8)},
    )
    lines = propose_adjustments(
        res.allocations, found, period="2026-10", as_of=OCT5, fx_rates=fx, base_currency="CNY"
    )
    assert lines.select("account", "debit", "credit").rows() == [
        ("6711", D("188.76"), D("0.00")),  # 24.20 EUR x 7.8: written off (营业外支出)
        ("1122", D("0.00"), D("188.76")),  # against the receivable
    ]
    # judged without matching's tolerance, the same write-off is open, and not proposed
    strict = classify_exceptions(
        res.allocations,
        res.suggestions,
        res.receipts,
        res.invoices,
        frame("customers", CUSTOMERS),
        ExceptionConfig(),
    )
    assert strict.select("type", "status").rows() == [("write_off", "open")]
    none = propose_adjustments(
        res.allocations, strict, period="2026-10", as_of=OCT5, fx_rates=fx, base_currency="CNY"
    )
    assert none.height == 0


# ------------------------------------------------------------ the customer's own reference
PO = {"invoice_reference_columns": ["po_number"], **NO_OTHER_WRITE_OFF}


def two_of_delta(po="a1b2c3"):
    """Two open invoices of Delta with one amount: only a reference can tell them apart."""
    return [
        inv("INV-1", "C4", "500.00", po_number=po),
        inv("INV-2", "C4", "500.00", date=OCT1 + dt.timedelta(days=1), po_number="d1e2f3"),
    ]


@pytest.mark.parametrize(
    ("memo", "named"),
    [
        pytest.param("a1b2c3", True, id="the-reference"),
        pytest.param("PO#A1B2C3, thanks.", True, id="upper-case-between-separators"),
        pytest.param("payment for order a1b2c3/2026 and a1b2c3", True, id="among-other-words"),
        pytest.param("xa1b2c3", False, id="inside-a-longer-word"),
        pytest.param("a1b2c3d", False, id="prefix-of-a-longer-word"),
        pytest.param("a1b2c3-2", False, id="with-a-suffix"),
        pytest.param("a1b2c", False, id="a-part-of-it"),
    ],
)
def test_a_memo_word_equal_to_an_invoices_po_number_names_it(memo, named):
    res = run(two_of_delta(), [rec("R1", "500.00", DELTA, memo)], CUSTOMERS, **PO)
    if named:
        assert allocs(res) == [("R1", "INV-1", "cash", D("500.00"), D("500.00"))]
        assert alloc_rows(res)[0]["rule_id"] == "reference.exact"
        assert "po_number" in alloc_rows(res)[0]["reason"]
    else:  # two invoices of 500.00 and nothing to choose between them: people decide
        assert res.allocations.height == 0
        assert suggested_invoices(res, "R1") == {"INV-1", "INV-2"}


def test_po_numbers_are_no_reference_unless_the_setting_names_the_column():
    res = run(two_of_delta(), [rec("R1", "500.00", DELTA, "a1b2c3")], CUSTOMERS)
    assert res.allocations.height == 0


def test_an_unrelated_customers_po_number_names_nothing_a_related_ones_does():
    invoices = [
        inv("INV-1", "C1", "500.00", po_number="a1b2c3"),  # Acme's
        inv("INV-2", "C4", "500.00"),
        inv("INV-3", "C4", "500.00"),
    ]
    # Delta has no link to Acme: its memo's a1b2c3 is a coincidence
    res = run(invoices, [rec("R1", "500.00", DELTA, "a1b2c3")], CUSTOMERS, **PO)
    assert res.allocations.height == 0
    assert inv_open(res, "INV-1") == D("500.00")
    # Beta, Acme's subsidiary, pays Acme's order: a third-party payment by reference
    res = run(invoices, [rec("R1", "500.00", BETA, "a1b2c3")], CUSTOMERS, **PO)
    assert allocs(res) == [("R1", "INV-1", "cash", D("500.00"), D("500.00"))]
    assert flags(alloc_rows(res)[0]) == {"third_party"}


@pytest.mark.parametrize("shared", [False, True], ids=["one-customers", "two-customers"])
def test_an_unidentified_payer_names_by_po_number_only_when_one_customer_uses_it(shared):
    invoices = [
        inv("INV-1", "C4", "500.00", po_number="a1b2c3"),
        inv("INV-2", "C1", "700.00", po_number="a1b2c3" if shared else "x9"),
    ]
    res = run(invoices, [rec("R1", "500.00", "someone unknown", "a1b2c3")], CUSTOMERS, **PO)
    if shared:
        assert res.allocations.height == 0
    else:
        assert allocs(res) == [("R1", "INV-1", "cash", D("500.00"), D("500.00"))]
        assert alloc_rows(res)[0]["rule_id"] == "reference.unknown_payer"


# --------------------------------------------------------------- unique_reference_only
def three_sharing_orders():
    return [
        inv("INV-1", "C4", "500.00", po_number="a1b2c3"),
        inv("INV-2", "C4", "500.00", date=OCT1 + dt.timedelta(days=1), po_number="a1b2c3"),
        inv("INV-3", "C4", "500.00", date=OCT1 + dt.timedelta(days=2), po_number="d1e2f3"),
    ]


def test_a_reference_of_several_invoices_that_add_up_is_applied_to_all():
    res = run(three_sharing_orders(), [rec("R1", "1000.00", DELTA, "a1b2c3")], CUSTOMERS, **PO)
    assert allocs(res) == [
        ("R1", "INV-1", "cash", D("500.00"), D("500.00")),
        ("R1", "INV-2", "cash", D("500.00"), D("500.00")),
    ]


@pytest.mark.parametrize("paid", ["1000.00", "500.00", "300.00"])
def test_unique_reference_only_leaves_a_reference_of_several_invoices_to_people(paid):
    """Whether the invoices add up (1,000.00), one of them fits (500.00) or none (300.00,
    a partial payment otherwise): nothing is applied, the named invoices are suggested."""
    res = run(
        three_sharing_orders(),
        [rec("R1", paid, DELTA, "a1b2c3")],
        CUSTOMERS,
        unique_reference_only=True,
        **PO,
    )
    assert res.allocations.height == 0
    assert status(res, "R1") == "suggested"
    assert {"INV-1", "INV-2"} <= suggested_invoices(res, "R1")
    assert "unique_reference_only" in evidence(res, "R1")


def test_unique_reference_only_still_applies_a_reference_of_one_invoice():
    res = run(
        three_sharing_orders(),
        [rec("R1", "500.00", DELTA, "d1e2f3")],
        CUSTOMERS,
        unique_reference_only=True,
        **PO,
    )
    assert allocs(res) == [("R1", "INV-3", "cash", D("500.00"), D("500.00"))]


def test_unique_reference_only_holds_an_invoice_number_of_two_invoices_too():
    # two series share the number 10001: the memo's 10001 names both
    invoices = [inv("A-10001", "C4", "800.00"), inv("B-10001", "C4", "650.00")]
    receipts = [rec("R1", "800.00", DELTA, "10001")]
    assert allocs(run(invoices, receipts, CUSTOMERS)) == [
        ("R1", "A-10001", "cash", D("800.00"), D("800.00"))
    ]
    res = run(invoices, receipts, CUSTOMERS, unique_reference_only=True)
    assert res.allocations.height == 0
    assert suggested_invoices(res, "R1") >= {"A-10001", "B-10001"}


# ------------------------------------------------------ credit notes naming no invoice
def credit(cid, amount, cust="C4", date=OCT1, **kw):
    return {"credit_id": cid, "customer_id": cust, "date": date, "amount": D(amount), **kw}


def test_credit_notes_naming_no_invoice_and_a_receipt_clear_an_invoice_exactly():
    res = run(
        [inv("INV-1", "C4", "350.00")],
        [rec("R1", "200.00", DELTA)],
        CUSTOMERS,
        [credit("CN-1", "100.00"), credit("CN-2", "50.00", date=OCT1 + dt.timedelta(days=2))],
    )
    assert allocs(res) == [
        ("CN-1", "INV-1", "credit_note", D("100.00"), D("0.00")),
        ("CN-2", "INV-1", "credit_note", D("50.00"), D("0.00")),
        ("R1", "INV-1", "cash", D("200.00"), D("200.00")),
    ]
    assert set(res.allocations["rule_id"]) == {"credit_note.netted"}
    assert res.credit_notes.select("credit_id", "applied", "unapplied").rows() == [
        ("CN-1", D("100.00"), D("0.00")),
        ("CN-2", D("50.00"), D("0.00")),
    ]
    assert inv_open(res, "INV-1") == D("0.00")
    assert status(res, "R1") == "applied"
    reason = alloc_rows(res, "R1")[0]["reason"]
    assert "CN-1" in reason and "CN-2" in reason and "350.00" in reason


NEAR_MISSES = [
    # 200.00 + 100.00 + 40.00 = 340.00, not 350.00
    pytest.param(
        [inv("INV-1", "C4", "350.00")],
        [credit("CN-1", "100.00"), credit("CN-2", "40.00")],
        None,
        id="the-sum-is-not-exact",
    ),
    # two invoices of 350.00: which one did the customer pay?
    pytest.param(
        [inv("INV-1", "C4", "350.00"), inv("INV-2", "C4", "350.00")],
        [credit("CN-1", "150.00")],
        None,
        id="two-invoices-fit",
    ),
    # 150.00 or 100.00 + 50.00: which credit notes did the customer deduct?
    pytest.param(
        [inv("INV-1", "C4", "350.00")],
        [credit("CN-1", "150.00"), credit("CN-2", "100.00"), credit("CN-3", "50.00")],
        None,
        id="two-sets-of-credit-notes-fit",
    ),
    pytest.param(
        [inv("INV-1", "C4", "350.00")],
        [credit("CN-1", "150.00", currency="USD")],
        None,
        id="a-credit-note-in-another-currency",
    ),
    pytest.param(
        [inv("INV-1", "C4", "350.00")],
        [credit("CN-1", "150.00", cust="C1")],
        None,
        id="another-customers-credit-note",
    ),
    # a credit note naming an invoice that is not open is not free to net elsewhere
    pytest.param(
        [inv("INV-1", "C4", "350.00")],
        [credit("CN-1", "150.00", invoice_id="INV-OLD")],
        None,
        id="a-credit-note-naming-another-invoice",
    ),
    pytest.param(
        [inv("INV-1", "C4", "350.00")],
        [credit("CN-1", "150.00")],
        "第1期",
        id="the-memo-announces-an-instalment",
    ),
]


@pytest.mark.parametrize(("invoices", "credits", "memo"), NEAR_MISSES)
def test_credit_notes_naming_no_invoice_stay_unapplied_unless_exact_and_unique(
    invoices, credits, memo
):
    res = run(invoices, [rec("R1", "200.00", DELTA, memo)], CUSTOMERS, credits)
    assert "credit_note" not in kinds(res)
    assert (res.credit_notes["applied"] == 0).all()


def test_a_receipt_equal_to_an_open_invoice_is_cash_alone():
    res = run(
        [inv("INV-1", "C4", "200.00"), inv("INV-2", "C4", "350.00")],
        [rec("R1", "200.00", DELTA)],
        CUSTOMERS,
        [credit("CN-1", "150.00")],
    )
    assert allocs(res) == [("R1", "INV-1", "cash", D("200.00"), D("200.00"))]
    assert res.credit_notes["unapplied"].item() == D("150.00")


def test_a_named_invoice_decides_between_two_that_fit():
    invoices = [inv("INV0000001", "C4", "350.00"), inv("INV0000002", "C4", "350.00")]
    res = run(
        invoices, [rec("R1", "200.00", DELTA, "INV0000002")], CUSTOMERS, [credit("CN-1", "150.00")]
    )
    assert allocs(res) == [
        ("CN-1", "INV0000002", "credit_note", D("150.00"), D("0.00")),
        ("R1", "INV0000002", "cash", D("200.00"), D("200.00")),
    ]
    assert set(res.allocations["rule_id"]) == {"credit_note.netted_named"}


def test_a_credit_note_explains_a_shortfall_better_than_a_bank_charge():
    # 30.00 short of the named invoice: within the bank-charge cap, and exactly a credit note
    res = run(
        [inv("INV0000001", "C4", "1000.00")],
        [rec("R1", "970.00", DELTA, "INV0000001")],
        CUSTOMERS,
        [credit("CN-1", "30.00")],
    )
    assert kinds(res) == ["cash", "credit_note"]


def test_a_credit_note_is_netted_once():
    # two receipts of 200.00 each could use the one credit note: the earlier one does
    res = run(
        [inv("INV-1", "C4", "350.00"), inv("INV-2", "C4", "360.00")],
        [rec("R1", "200.00", DELTA), rec("R2", "210.00", DELTA, date=OCT5 + dt.timedelta(days=1))],
        CUSTOMERS,
        [credit("CN-1", "150.00")],
    )
    assert [r for r in allocs(res) if r[2] == "credit_note"] == [
        ("CN-1", "INV-1", "credit_note", D("150.00"), D("0.00"))
    ]
    # R2 finds no credit left: it is only a payment on account of INV-2, Delta's last invoice
    r2 = res.allocations.filter(pl.col("receipt_id") == "R2")
    assert r2.select("invoice_id", "applied_amount", "rule_id").rows() == [
        ("INV-2", D("210.00"), "on_account.only_open_invoice")
    ]


def test_a_netted_credit_note_leaves_no_exception():
    res = run(
        [inv("INV-1", "C4", "350.00")],
        [rec("R1", "200.00", DELTA)],
        CUSTOMERS,
        [credit("CN-1", "100.00"), credit("CN-2", "50.00")],
    )
    found = classify_exceptions(
        res.allocations, res.suggestions, res.receipts, res.invoices, frame("customers", CUSTOMERS)
    )
    assert found.height == 0


# ------------------------------------------------------------------------ arlib rules
def test_arlib_rules_shows_every_new_setting_and_the_credit_rule():
    text = describe(
        MatchConfig(
            payment_tolerance_pct="2",
            invoice_reference_columns=["po_number"],
            unique_reference_only=True,
        )
    )
    assert "credit_note.unnamed  [switch credit_note: on]" in text
    for line in (
        "payment_tolerance_pct = 2",
        "invoice_reference_columns = po_number",
        "unique_reference_only = True",
    ):
        assert line in text
    ids = [rule.id for rule in CASCADE]
    assert ids.index("manual") < ids.index("credit_note.unnamed") < ids.index("reference")
