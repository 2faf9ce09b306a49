"""Exception classification on small hand-built MatchResult frames (one case per type)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl
import pytest

from arlib.exceptions import (
    ExceptionConfig,
    classify_exceptions,
    customer_discounts,
    exception_id,
)
from arlib.schema import MONEY

OCT = dt.date(2026, 10, 1)

INV_SCHEMA = {
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "invoice_date": pl.Date,
    "due_date": pl.Date,
    "amount": MONEY,
    "currency": pl.String,
    "tax_amount": MONEY,
    "disputed": pl.Boolean,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "applied": MONEY,
    "open_amount": MONEY,
    "status": pl.String,
}
REC_SCHEMA = {
    "receipt_id": pl.String,
    "value_date": pl.Date,
    "amount": MONEY,
    "currency": pl.String,
    "payer_name": pl.String,
    "memo": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "customer_id": pl.String,
    "allocated": MONEY,
    "unapplied": MONEY,
    "status": pl.String,
}
ALLOC_SCHEMA = {
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "applied_amount": MONEY,
    "currency": pl.String,
    "receipt_amount": MONEY,
    "receipt_currency": pl.String,
    "kind": pl.String,
    "rule": pl.String,
    "confidence": pl.Float64,
    "reason": pl.String,
    "flags": pl.String,
}
SUG_SCHEMA = {
    "receipt_id": pl.String,
    "rank": pl.Int64,
    "customer_id": pl.String,
    "invoice_ids": pl.String,
    "amount": MONEY,
    "score": pl.Float64,
    "rule": pl.String,
    "reason": pl.String,
}
CUST_SCHEMA = {"customer_id": pl.String, "name": pl.String, "discount_terms": pl.String}


def inv(iid, cust, amount, *, applied="0", date=OCT, due=None, tax=None, disputed=None, cur="CNY"):
    amount, applied = D(amount), D(applied)
    open_amount = amount - applied
    status = "paid" if open_amount == 0 else ("partial" if applied else "open")
    return dict(
        invoice_id=iid,
        customer_id=cust,
        invoice_date=date,
        due_date=due or date + dt.timedelta(days=30),
        amount=amount,
        currency=cur,
        tax_amount=None if tax is None else D(tax),
        disputed=disputed,
        source_file="invoices.csv",
        source_row=int("".join(c for c in iid if c.isdigit()) or 0) + 1,
        applied=applied,
        open_amount=open_amount,
        status=status,
    )


_row = iter(range(2, 10_000))


def rec(
    rid, amount, *, cust=None, allocated="0", date=None, payer="ACME LTD", memo=None, cur="CNY"
):
    amount, allocated = D(amount), D(allocated)
    unapplied = amount - allocated
    status = "applied" if unapplied == 0 else ("partial" if allocated else "unapplied")
    return dict(
        receipt_id=rid,
        value_date=date or dt.date(2026, 10, 20),
        amount=amount,
        currency=cur,
        payer_name=payer,
        memo=memo,
        source_file="bank.csv",
        source_row=next(_row),
        customer_id=cust,
        allocated=allocated,
        unapplied=unapplied,
        status=status,
    )


def alloc(rid, iid, applied, *, cust="C1", kind="cash", flags=None, cur="CNY"):
    return dict(
        receipt_id=rid,
        invoice_id=iid,
        customer_id=cust,
        applied_amount=D(applied),
        currency=cur,
        receipt_amount=D(applied) if kind == "cash" else D(0),
        receipt_currency=cur,
        kind=kind,
        rule="test",
        confidence=1.0,
        reason="test",
        flags=flags,
    )


def classify(invoices=(), receipts=(), allocations=(), suggestions=(), customers=(), **kw):
    return classify_exceptions(
        pl.DataFrame(list(allocations), schema=ALLOC_SCHEMA),
        pl.DataFrame(list(suggestions), schema=SUG_SCHEMA),
        pl.DataFrame(list(receipts), schema=REC_SCHEMA),
        pl.DataFrame(list(invoices), schema=INV_SCHEMA),
        pl.DataFrame(list(customers), schema=CUST_SCHEMA),
        kw.pop("config", ExceptionConfig()),
        **kw,
    )


def only(df: pl.DataFrame) -> dict:
    assert df.height == 1, df
    return df.row(0, named=True)


# ---------------------------------------------------------------- pure helpers
# keying errors themselves: tests/test_keying.py; terms: tests/test_terms.py
def test_customer_discounts_are_fractions_by_days():
    assert customer_discounts("2/10 net 30") == [(D("0.02"), 10)]
    assert customer_discounts("1.5/15, n/45") == [(D("0.015"), 15)]
    assert customer_discounts("1/20 2/10 net 45") == [(D("0.02"), 10), (D("0.01"), 20)]
    assert customer_discounts(None) == []


def test_exception_id_stable():
    assert exception_id("decimal_shift", "R1", "INV1") == exception_id(
        "decimal_shift", "R1", "INV1"
    )
    assert exception_id("decimal_shift", "R1", "INV1").startswith("EX-")
    assert len(exception_id("x", None, None)) == 13


# ---------------------------------------------------------------- technical errors
def test_decimal_shift_receipt():
    row = only(classify([inv("INV1", "C1", "1234.50")], [rec("R1", "12345.00", cust="C1")]))
    assert (row["class"], row["type"], row["invoice_id"]) == (
        "technical_error",
        "decimal_shift",
        "INV1",
    )
    assert row["amount"] == D("12345.00")
    assert "12,345.00 = invoice INV1 1,234.50 × 10" in row["evidence"]
    assert row["status"] == "open"
    assert row["exception_id"] == exception_id("decimal_shift", "R1", "INV1")
    assert (row["source_file"], row["currency"]) == ("bank.csv", "CNY")


def test_rounding_near_miss_is_not_decimal_shift():
    row = only(classify([inv("INV1", "C1", "1000.01")], [rec("R1", "1000.00", cust="C1")]))
    assert (row["type"], row["class"]) == ("rounding", "technical_error")


def test_transposition_receipt_and_near_miss():
    row = only(classify([inv("INV1", "C1", "1234.00")], [rec("R1", "1243.00", cust="C1")]))
    assert row["type"] == "transposition"
    miss = only(classify([inv("INV1", "C1", "1234.00")], [rec("R1", "1342.00", cust="C1")]))
    assert miss["type"] == "unidentified_receipt"


def test_transposition_on_partly_paid_invoice():
    rows = classify(
        [inv("INV1", "C1", "1243.00", applied="1234.00")],
        [rec("R1", "1234.00", cust="C1", allocated="1234.00")],
        [alloc("R1", "INV1", "1234.00")],
    )
    row = only(rows)
    assert (row["type"], row["invoice_id"], row["receipt_id"]) == ("transposition", "INV1", "R1")
    assert row["amount"] == D("9.00")


def test_duplicate_bank_line():
    r1 = rec("R1", "500.00", cust="C1", allocated="500.00", memo="INV1")
    r2 = rec("R2", "500.00", cust="C1", memo="INV1")
    rows = classify(
        [inv("INV1", "C1", "500.00", applied="500.00")], [r1, r2], [alloc("R1", "INV1", "500")]
    )
    row = only(rows)
    assert (row["type"], row["receipt_id"]) == ("duplicate_bank_line", "R2")
    assert "R1" in row["evidence"]


def test_two_identical_unapplied_lines_flag_only_the_second():
    r1 = rec("R1", "77.00", payer="X")
    r2 = rec("R2", "77.00", payer="X")
    rows = classify([], [r1, r2])
    types = dict(zip(rows["receipt_id"], rows["type"], strict=True))
    assert types == {"R1": "unidentified_receipt", "R2": "duplicate_bank_line"}


def test_rounding_residual_on_receipt():
    row = only(
        classify(
            [inv("INV1", "C1", "100.00", applied="100.00")],
            [rec("R1", "100.01", cust="C1", allocated="100.00")],
            [alloc("R1", "INV1", "100.00")],
        )
    )
    assert (row["type"], row["amount"]) == ("rounding", D("0.01"))


# ---------------------------------------------------------------- process gaps
def test_tax_difference_net_of_vat():
    # 1,130.00 / 1.13 = 1,000.00
    row = only(classify([inv("INV1", "C1", "1130.00")], [rec("R1", "1000.00", cust="C1")]))
    assert (row["class"], row["type"]) == ("process_gap", "tax_difference")
    assert "13%" in row["evidence"]


def test_tax_difference_on_partial_invoice_rate_6():
    # 1,060.00 / 1.06 = 1,000.00 paid; 60.00 open
    row = only(
        classify(
            [inv("INV1", "C1", "1060.00", applied="1000.00")],
            [rec("R1", "1000.00", cust="C1", allocated="1000.00")],
            [alloc("R1", "INV1", "1000.00")],
        )
    )
    assert (row["type"], row["amount"]) == ("tax_difference", D("60.00"))


def test_tax_near_miss_is_short_payment():
    row = only(
        classify(
            [inv("INV1", "C1", "1130.00", applied="999.90")],
            [rec("R1", "999.90", cust="C1", allocated="999.90")],
            [alloc("R1", "INV1", "999.90")],
        )
    )
    assert (row["class"], row["type"]) == ("dispute", "short_payment")


def test_discount_outside_window():
    customers = [dict(customer_id="C1", name="C1", discount_terms="2/10 net 30")]
    invoices = [inv("INV1", "C1", "1000.00", applied="980.00")]
    receipts = [rec("R1", "980.00", cust="C1", allocated="980.00", date=dt.date(2026, 10, 25))]
    allocs = [alloc("R1", "INV1", "980.00")]
    row = only(classify(invoices, receipts, allocs, customers=customers))
    assert row["type"] == "discount_outside_terms"
    assert "window ended 2026-10-11" in row["evidence"]


def test_discount_allocation_within_terms_is_cleared_and_outside_is_open():
    customers = [dict(customer_id="C1", name="C1", discount_terms="2/10 net 30")]
    invoices = [inv("INV1", "C1", "1000.00", applied="1000.00")]
    allocs = [alloc("R1", "INV1", "980.00"), alloc("R1", "INV1", "20.00", kind="discount")]
    early = [rec("R1", "980.00", cust="C1", allocated="980.00", date=dt.date(2026, 10, 9))]
    row = only(classify(invoices, early, allocs, customers=customers))
    assert (row["type"], row["status"], row["amount"]) == ("discount", "cleared", D("20.00"))
    late = [rec("R1", "980.00", cust="C1", allocated="980.00", date=dt.date(2026, 10, 12))]
    row = only(classify(invoices, late, allocs, customers=customers))
    assert (row["type"], row["status"]) == ("discount_outside_terms", "open")
    no_terms = only(classify(invoices, early, allocs))
    assert no_terms["type"] == "discount_outside_terms"
    assert "no discount terms" in no_terms["evidence"]


def test_bank_charge_tolerance():
    invoices = [inv("INV1", "C1", "10000.00", applied="10000.00")]
    receipts = [rec("R1", "9940.00", cust="C1", allocated="9940.00")]
    over = [alloc("R1", "INV1", "9940.00"), alloc("R1", "INV1", "60.00", kind="bank_charge")]
    row = only(classify(invoices, receipts, over))
    assert (row["type"], row["status"]) == ("bank_charge_over_tolerance", "open")
    receipts = [rec("R1", "9970.00", cust="C1", allocated="9970.00")]
    within = [alloc("R1", "INV1", "9970.00"), alloc("R1", "INV1", "30.00", kind="bank_charge")]
    row = only(classify(invoices, receipts, within))
    assert (row["type"], row["status"]) == ("bank_charge", "cleared")
    # a currency can have its own (here smaller) tolerance
    usd_cfg = ExceptionConfig(bank_charge_tolerance_by_currency={"USD": D("20.00")})
    usd_inv = [inv("INV1", "C1", "1000.00", applied="1000.00", cur="USD")]
    usd_rec = [rec("R1", "970.00", cust="C1", allocated="970.00", cur="USD")]
    usd = [
        alloc("R1", "INV1", "970.00", cur="USD"),
        alloc("R1", "INV1", "30.00", kind="bank_charge", cur="USD"),
    ]
    found = classify(usd_inv, usd_rec, usd, config=usd_cfg)
    assert only(found)["type"] == "bank_charge_over_tolerance"
    # by default USD allows the same 50.00 as the matcher's bank_charge_max
    assert only(classify(usd_inv, usd_rec, usd))["type"] == "bank_charge"


def test_fx_difference_beyond_tolerance():
    invoices = [inv("INV1", "C1", "1000.00", applied="1000.00", cur="USD")]
    receipts = [rec("R1", "975.00", cust="C1", allocated="975.00", cur="USD")]
    allocs = [
        alloc("R1", "INV1", "975.00", cur="USD"),
        alloc("R1", "INV1", "25.00", kind="fx_difference", cur="USD"),
    ]
    row = only(classify(invoices, receipts, allocs))
    assert (row["type"], row["status"]) == ("fx_difference", "open")  # beyond matching's 2 %
    assert "2.50%" in row["evidence"]
    allocs[1] = alloc("R1", "INV1", "5.00", kind="fx_difference", cur="USD")
    allocs[0] = alloc("R1", "INV1", "995.00", cur="USD")
    assert only(classify(invoices, receipts, allocs))["status"] == "cleared"


def test_third_party_payment_flag():
    invoices = [inv("INV1", "C1", "800.00", applied="800.00")]
    receipts = [rec("R1", "800.00", cust="C1", allocated="800.00", payer="PARENT CO")]
    row = only(classify(invoices, receipts, [alloc("R1", "INV1", "800.00", flags="third_party")]))
    assert (row["class"], row["type"], row["amount"]) == (
        "process_gap",
        "third_party_payment",
        D("800.00"),
    )
    assert "PARENT CO" in row["evidence"]


# ---------------------------------------------------------------- disputes
def test_short_payment():
    row = only(
        classify(
            [inv("INV1", "C1", "1000.00", applied="700.00")],
            [rec("R1", "700.00", cust="C1", allocated="700.00")],
            [alloc("R1", "INV1", "700.00")],
        )
    )
    assert (row["class"], row["type"], row["amount"], row["receipt_id"]) == (
        "dispute",
        "short_payment",
        D("300.00"),
        "R1",
    )


def test_disputed_invoice_even_untouched():
    row = only(classify([inv("INV9", "C1", "450.00", disputed=True)]))
    assert (row["type"], row["amount"], row["source_row"]) == ("disputed_invoice", D("450.00"), 10)


def test_a_receipt_held_by_a_dispute_decision_is_a_dispute_about_its_invoice():
    """A person's dispute wins over what the amount looks like: 50.00 is INV5 ÷ 10, but the
    receipt is held against INV5 by a decision. Near miss: without the decision it is a
    decimal shift."""
    invoices = [inv("INV5", "C3", "500.00")]
    held = dict(rec("R2", "50.00", cust="C3"), status="dispute")
    row = only(classify(invoices, [held], disputes={"R2": "INV5"}))
    assert (row["class"], row["type"], row["invoice_id"], row["key"]) == (
        "dispute",
        "disputed_invoice",
        "INV5",
        "disputed_invoice:receipt:R2",
    )
    assert "held as dispute by a decision on invoice INV5" in row["evidence"]
    free = only(classify(invoices, [rec("R2", "50.00", cust="C3")]))
    assert (free["type"], free["key"]) == ("decimal_shift", "decimal_shift:receipt:R2")


def test_untouched_open_invoice_is_not_an_exception():
    assert classify([inv("INV1", "C1", "450.00")]).height == 0


def _late_history(cust, n, days):
    rows = []
    for i in range(n):
        due = dt.date(2026, 6 + i, 10)
        rows.append(
            dict(
                period=f"2026-{6 + i:02d}",
                customer_id=cust,
                invoice_id=f"H{i}",
                receipt_id=f"HR{i}",
                due_date=due,
                payment_date=due + dt.timedelta(days=days),
                applied_amount=D("100.00"),
                currency="CNY",
                days_late=days,
            )
        )
    from arlib.kpis import HISTORY_SCHEMA

    return pl.DataFrame(rows, schema=HISTORY_SCHEMA)


def test_repeated_late_payment_threshold():
    row = only(classify(history=_late_history("C7", 3, 12)))
    assert (row["class"], row["type"], row["customer_id"]) == (
        "dispute",
        "repeated_late_payment",
        "C7",
    )
    assert "late in 3 of 3 invoices" in row["evidence"]
    assert row["amount"] == D("300.00")
    assert classify(history=_late_history("C7", 2, 12)).height == 0  # below N
    assert classify(history=_late_history("C7", 5, 0)).height == 0  # on time


def test_repeated_late_counts_current_period():
    history = _late_history("C1", 2, 5)
    invoices = [inv("INV1", "C1", "100.00", applied="100.00", due=dt.date(2026, 10, 5))]
    receipts = [rec("R1", "100.00", cust="C1", allocated="100.00", date=dt.date(2026, 10, 20))]
    rows = classify(invoices, receipts, [alloc("R1", "INV1", "100.00")], history=history)
    assert only(rows)["type"] == "repeated_late_payment"


# ---------------------------------------------------------------- unapplied cash
def test_overpayment():
    row = only(
        classify(
            [inv("INV1", "C1", "1000.00", applied="1000.00")],
            [rec("R1", "1500.00", cust="C1", allocated="1000.00")],
            [alloc("R1", "INV1", "1000.00")],
        )
    )
    assert (row["class"], row["type"], row["amount"]) == (
        "unapplied_cash",
        "overpayment",
        D("500.00"),
    )


def test_duplicate_payment():
    invoices = [inv("INV1", "C1", "640.00", applied="640.00")]
    receipts = [
        rec("R1", "640.00", cust="C1", allocated="640.00", date=dt.date(2026, 10, 3), memo="INV1"),
        rec("R2", "640.00", cust="C1", date=dt.date(2026, 10, 17), memo="INV1 again"),
    ]
    row = only(classify(invoices, receipts, [alloc("R1", "INV1", "640.00")]))
    assert (row["type"], row["receipt_id"], row["invoice_id"]) == (
        "duplicate_payment",
        "R2",
        "INV1",
    )


def test_unidentified_receipt_with_suggestion():
    sug = dict(
        receipt_id="R1",
        rank=1,
        customer_id="C2",
        invoice_ids="INV5",
        amount=D("333.00"),
        score=0.6,
        rule="fuzzy",
        reason="name similar",
    )
    row = only(classify([], [rec("R1", "333.00", payer="??")], suggestions=[sug]))
    assert (row["type"], row["customer_id"]) == ("unidentified_receipt", "C2")
    assert "INV5" in row["evidence"]


def test_ids_stable_across_reruns_and_unique():
    args = (
        [inv("INV1", "C1", "1000.00", applied="700.00"), inv("INV2", "C1", "1234.50")],
        [
            rec("R1", "700.00", cust="C1", allocated="700.00"),
            rec("R2", "12345.00", cust="C1"),
        ],
        [alloc("R1", "INV1", "700.00")],
    )
    a, b = classify(*args), classify(*args)
    assert a.equals(b)
    assert a["exception_id"].n_unique() == a.height == 2


@pytest.mark.parametrize("kind", ["short_payment", "decimal_shift"])
def test_custom_action_text(kind):
    cfg = ExceptionConfig(actions={kind: "call Ms Li"})
    assert cfg.action(kind) == "call Ms Li"
    assert ExceptionConfig().action(kind) != "call Ms Li"


def test_bank_charge_deducted_on_unapplied_receipt():
    row = only(classify([inv("INV1", "C1", "5000.00")], [rec("R1", "4979.30", cust="C1")]))
    assert (row["class"], row["type"], row["status"]) == ("process_gap", "bank_charge", "open")
    assert "5,000.00 − 20.70" in row["evidence"]
    # 60.00 short is beyond the 50.00 tolerance: not a bank charge
    miss = only(classify([inv("INV1", "C1", "5000.00")], [rec("R1", "4940.00", cust="C1")]))
    assert miss["type"] == "unidentified_receipt"


def test_partial_allocation_of_a_combined_receipt_is_not_a_duplicate():
    invoices = [
        inv("INV1", "C1", "640.00", applied="640.00"),
        inv("INV2", "C1", "360.00", applied="360.00"),
    ]
    receipts = [
        rec("R1", "1000.00", cust="C1", allocated="1000.00"),
        rec("R2", "640.00", cust="C1"),
    ]
    allocs = [alloc("R1", "INV1", "640.00"), alloc("R1", "INV2", "360.00")]
    assert only(classify(invoices, receipts, allocs))["type"] == "overpayment"


# ---------------------------------------------------------------- scale-safe candidate search
@pytest.mark.parametrize(
    ("invoice", "paid", "expected"),
    [
        ("1234.56", "123.46", "decimal_shift"),  # ÷ 10, rounded up to the cent
        ("1234.54", "123.45", "decimal_shift"),  # ÷ 10, rounded down
        ("1234.56", "1.23", "decimal_shift"),  # ÷ 1000
        ("12.34", "1234.00", "decimal_shift"),  # × 100
        ("1234.56", "123.44", "unidentified_receipt"),  # a cent past ÷ 10
        ("9081.70", "9018.70", "transposition"),
        ("1130.00", "1000.00", "tax_difference"),  # net of 13% VAT
        ("1130.00", "1000.02", "tax_difference"),  # within the 0.02 tax tolerance
        ("1130.00", "1000.03", "unidentified_receipt"),  # beyond it (and no bank charge)
        ("1000.00", "980.00", "discount_outside_terms"),  # 2%, customer has no terms
        ("1000.00", "950.00", "bank_charge"),  # 50.00 short: at the tolerance
        ("1000.00", "949.99", "unidentified_receipt"),  # 50.01 short: beyond it
        ("1000.00", "999.95", "rounding"),
        ("1000.00", "999.94", "bank_charge"),  # 0.06: past rounding, a small charge
    ],
)
def test_candidate_search_among_many_invoices(invoice, paid, expected):
    """The check still finds its one invoice among many of the customer's (the candidate
    search is a join on cent keys; near misses at each tolerance edge fall through)."""
    decoys = [inv(f"INV{i}", "C1", f"{77_000 + 313 * i}.00") for i in range(2, 40)]
    invoices = [inv("INV1", "C1", invoice), *decoys]
    row = only(classify(invoices, [rec("R1", paid, cust="C1")]))
    assert row["type"] == expected, row["evidence"]
    if expected != "unidentified_receipt":
        assert row["invoice_id"] == "INV1"


def test_pattern_prefers_earliest_due_invoice():
    early = inv("INV9", "C1", "1234.50", due=dt.date(2026, 10, 1))
    late = inv("INV1", "C1", "1234.50", due=dt.date(2026, 11, 1))
    row = only(classify([late, early], [rec("R1", "12345.00", cust="C1")]))
    assert (row["type"], row["invoice_id"]) == ("decimal_shift", "INV9")


def _shuffled(df: pl.DataFrame, seed: int) -> pl.DataFrame:
    return df.sample(fraction=1.0, shuffle=True, seed=seed)


def test_result_does_not_depend_on_input_row_order():
    c2 = dict(customer_id="C2", name="Beta", discount_terms="2/10 net 30")
    invoices = [
        inv("INV1", "C1", "1000.00", applied="700.00"),
        inv("INV2", "C1", "1234.50"),
        inv("INV3", "C1", "640.00", applied="640.00"),
        inv("INV4", "C1", "5000.00"),
        inv("INV5", "C2", "1000.00", applied="980.00"),
        inv("INV6", "C2", "300.00", disputed=True),
        inv("INV7", "C1", "9081.70"),
        inv("INV8", "C1", "640.00", applied="640.00"),
    ]
    receipts = [
        rec("R1", "700.00", cust="C1", allocated="700.00"),
        rec("R2", "12345.00", cust="C1"),
        rec("R3", "640.00", cust="C1", allocated="640.00", memo="INV3"),
        rec("R4", "640.00", cust="C1", memo="INV3 again"),
        rec("R5", "640.00", cust="C1", memo="INV3 third"),
        rec("R6", "4979.30", cust="C1"),
        rec("R7", "980.00", cust="C2", allocated="980.00"),
        rec("R8", "9018.70", cust="C1"),
        rec("R9", "333.00", payer="??"),
        rec("R10", "1500.00", cust="C2", allocated="1000.00"),
        rec("R11", "640.00", cust="C1", allocated="640.00", memo="INV8"),
    ]
    allocations = [
        alloc("R1", "INV1", "700.00"),
        alloc("R3", "INV3", "640.00"),
        alloc("R7", "INV5", "980.00", cust="C2"),
        alloc("R7", "INV5", "20.00", cust="C2", kind="discount"),
        alloc("R6", "INV4", "20.70", kind="bank_charge", flags="third_party"),
        alloc("R10", "INV5", "1000.00", cust="C2", flags="memo_conflict"),
        alloc("R11", "INV8", "640.00"),  # R4 and R5 repeat R3 and R11: the earlier line wins
    ]
    sug = dict(
        receipt_id="R9",
        rank=1,
        customer_id="C2",
        invoice_ids="INV6",
        amount=D("333.00"),
        score=0.6,
        rule="fuzzy",
        reason="name similar",
    )
    frames = (
        pl.DataFrame(allocations, schema=ALLOC_SCHEMA),
        pl.DataFrame([sug], schema=SUG_SCHEMA),
        pl.DataFrame(receipts, schema=REC_SCHEMA),
        pl.DataFrame(invoices, schema=INV_SCHEMA),
        pl.DataFrame([c2], schema=CUST_SCHEMA),
    )
    history = _late_history("C7", 3, 12)
    expected = classify_exceptions(*frames, ExceptionConfig(), history)
    assert expected.height >= 8
    assert set(expected["type"]) >= {"decimal_shift", "duplicate_payment", "transposition"}
    assert expected["exception_id"].n_unique() == expected.height
    dups = expected.filter(pl.col("type") == "duplicate_payment")
    assert dups["receipt_id"].to_list() == ["R4", "R5"]
    assert all("= receipt R3 " in e for e in dups["evidence"])  # the earlier statement line
    for seed in range(5):
        got = classify_exceptions(
            *(_shuffled(f, seed) for f in frames), ExceptionConfig(), _shuffled(history, seed)
        )
        assert got.equals(expected), seed


# ---------------------------------------------------------------- competing explanations
def _charge_history(cust="C1", cur="CNY"):
    """Another payment of the customer this close: 1,000.00 invoice, 980.00 received, the
    bank's 20.00 written off by matching (so the customer's bank is seen deducting fees)."""
    return (
        [inv("INVH", cust, "1000.00", applied="1000.00", cur=cur)],
        [rec("RH", "980.00", cust=cust, allocated="980.00", cur=cur)],
        [
            alloc("RH", "INVH", "980.00", cust=cust, cur=cur),
            alloc("RH", "INVH", "20.00", cust=cust, kind="bank_charge", cur=cur),
        ],
    )


def test_partly_applied_receipt_is_overpayment_not_a_shift_of_another_invoice():
    # 5,000.00 applied 4,150.14 to the invoice its memo names: 849.86 left over. That
    # 5,000.00 is also 50,000.00 ÷ 10 (another open invoice) is chance, not a decimal shift.
    rows = classify(
        [inv("INV1", "C1", "4150.14", applied="4150.14"), inv("INV2", "C1", "50000.00")],
        [rec("R1", "5000.00", cust="C1", allocated="4150.14", memo="INV1")],
        [alloc("R1", "INV1", "4150.14")],
    )
    row = only(rows)
    assert (row["type"], row["amount"], row["invoice_id"]) == ("overpayment", D("849.86"), None)
    # a shift of the invoice it *was* applied to is still one: 1,234.50 × 10 = 12,345.00,
    # 12,345.00 − 1,234.50 = 11,110.50 left
    row = only(
        classify(
            [inv("INV1", "C1", "1234.50", applied="1234.50")],
            [rec("R1", "12345.00", cust="C1", allocated="1234.50")],
            [alloc("R1", "INV1", "1234.50")],
        )
    )
    assert (row["type"], row["invoice_id"], row["amount"]) == (
        "decimal_shift",
        "INV1",
        D("11110.50"),
    )


def test_digit_swap_within_charge_tolerance_prefers_bank_charge_when_customer_has_charges():
    # 16,150.00 − 16,105.00 = 45.00: whole units, ≤ 50.00 tolerance, and "15|0" -> "05" is
    # also a swap of the tens and units digits. With the customer's bank seen deducting
    # charges (20.00 on INVH) it is a bank charge; the evidence keeps the other reading.
    invoices, receipts, allocs = _charge_history()
    row = only(
        classify(
            [inv("INV1", "C1", "16150.00"), *invoices],
            [rec("R1", "16105.00", cust="C1"), *receipts],
            allocs,
        ).filter(pl.col("receipt_id") == "R1")
    )
    assert (row["type"], row["status"], row["invoice_id"]) == ("bank_charge", "open", "INV1")
    assert "16,150.00 − 45.00" in row["evidence"]
    assert "20.00 CNY" in row["evidence"] and "transposition" in row["evidence"]
    # no charges seen for the customer: still a transposition, the charge reading in evidence
    row = only(classify([inv("INV1", "C1", "16150.00")], [rec("R1", "16105.00", cust="C1")]))
    assert row["type"] == "transposition"
    assert "also within the bank-charge tolerance 50.00" in row["evidence"]
    # a cents swap (3,151.00 − 3,150.10 = 0.90) is no bank fee, whatever the history
    row = only(
        classify(
            [inv("INV1", "C1", "3151.00"), *invoices],
            [rec("R1", "3150.10", cust="C1"), *receipts],
            allocs,
        ).filter(pl.col("receipt_id") == "R1")
    )
    assert row["type"] == "transposition"
    # USD: 7,042.00 − 7,024.00 = 18.00 ≤ USD 20.00 -> charge; 7,240.00 − 7,204.00 = 36.00
    # > USD 20.00 -> transposition
    usd_inv, usd_rec, usd_alloc = _charge_history(cur="USD")
    usd_cfg = ExceptionConfig(bank_charge_tolerance_by_currency={"USD": D("20.00")})
    for invoice, paid, expected in (
        ("7042.00", "7024.00", "bank_charge"),
        ("7240.00", "7204.00", "transposition"),
    ):
        row = only(
            classify(
                [inv("INV1", "C1", invoice, cur="USD"), *usd_inv],
                [rec("R1", paid, cust="C1", cur="USD"), *usd_rec],
                usd_alloc,
                config=usd_cfg,
            ).filter(pl.col("receipt_id") == "R1")
        )
        assert row["type"] == expected, row["evidence"]


def test_small_residual_of_partial_payment_is_bank_charge_when_customer_has_charges():
    # 8,523.00 invoice, 8,500.00 applied, 23.00 open: ≤ 50.00, whole units, and the
    # customer's bank deducts charges -> an (open) bank charge, round-sum caveat in evidence
    invoices, receipts, allocs = _charge_history()
    rows = classify(
        [inv("INV1", "C1", "8523.00", applied="8500.00"), *invoices],
        [rec("R1", "8500.00", cust="C1", allocated="8500.00", memo="发票号INV1"), *receipts],
        [alloc("R1", "INV1", "8500.00"), *allocs],
    )
    row = only(rows.filter(pl.col("invoice_id") == "INV1"))
    assert (row["type"], row["status"], row["amount"]) == ("bank_charge", "open", D("23.00"))
    assert "round sum" in row["evidence"]
    # without charges seen for the customer it stays a short payment
    row = only(
        classify(
            [inv("INV1", "C1", "8523.00", applied="8500.00")],
            [rec("R1", "8500.00", cust="C1", allocated="8500.00")],
            [alloc("R1", "INV1", "8500.00")],
        )
    )
    assert row["type"] == "short_payment"
    # 8,560.00 − 8,500.00 = 60.00 > 50.00: a short payment even with the history
    rows = classify(
        [inv("INV1", "C1", "8560.00", applied="8500.00"), *invoices],
        [rec("R1", "8500.00", cust="C1", allocated="8500.00"), *receipts],
        [alloc("R1", "INV1", "8500.00"), *allocs],
    )
    assert only(rows.filter(pl.col("invoice_id") == "INV1"))["type"] == "short_payment"
