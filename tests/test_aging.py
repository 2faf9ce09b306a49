"""Aging buckets, FX conversion, invalid dates and overdue tiers on hand-built frames."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl
import pytest

from arlib.aging import AgingConfig, TierConfig, age, overdue_tiers, to_base
from arlib.schema import MONEY, RATE

AS_OF = dt.date(2026, 10, 31)

INV_SCHEMA = {
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "invoice_date": pl.Date,
    "due_date": pl.Date,
    "amount": MONEY,
    "currency": pl.String,
    "open_amount": MONEY,
    "source_file": pl.String,
    "source_row": pl.Int64,
}


def inv(iid, cust, open_amount, days_past_due=None, *, cur="CNY", due=None, date=None):
    if due is None and days_past_due is not None:
        due = AS_OF - dt.timedelta(days=days_past_due)
    if date is None:
        date = (due - dt.timedelta(days=30)) if due else dt.date(2026, 9, 1)
    return dict(
        invoice_id=iid,
        customer_id=cust,
        invoice_date=date,
        due_date=due,
        amount=D(open_amount),
        currency=cur,
        open_amount=D(open_amount),
        source_file="invoices.csv",
        source_row=2,
    )


FX = pl.DataFrame(
    {
        "date": [dt.date(2026, 10, 1), dt.date(2026, 10, 30), dt.date(2026, 11, 2)],
        "currency": ["USD", "USD", "USD"],
        "rate": [D("7.0"), D("7.12345678"), D("9.9")],
    },
    schema={"date": pl.Date, "currency": pl.String, "rate": RATE},
)


def frame(rows):
    return pl.DataFrame(rows, schema=INV_SCHEMA)


def receipts(rows):
    schema = {
        "receipt_id": pl.String,
        "customer_id": pl.String,
        "value_date": pl.Date,
        "currency": pl.String,
        "amount": MONEY,
        "unapplied": MONEY,
        "status": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def test_buckets_boundaries_and_totals():
    rows = [
        inv("I0", "C1", "100.00", 0),  # due today: not due
        inv("I1", "C1", "200.00", 1),
        inv("I30", "C1", "300.00", 30),
        inv("I31", "C2", "400.00", 31),
        inv("I90", "C2", "500.00", 90),
        inv("I91", "C2", "600.00", 91),
        inv("I181", "C3", "700.00", 181),
        inv("IP", "C3", "0.00", 5),  # paid: skipped
    ]
    res = age(frame(rows), None, AS_OF)
    buckets = dict(zip(res.detail["invoice_id"], res.detail["bucket"], strict=True))
    assert buckets == {
        "I0": "not_due",
        "I1": "1-30",
        "I30": "1-30",
        "I31": "31-60",
        "I90": "61-90",
        "I91": "91-180",
        "I181": ">180",
    }
    assert res.total_outstanding == D("2800.00")
    assert res.totals["amount_base"].sum() == res.total_outstanding
    assert res.totals["bucket"].to_list() == [*AgingConfig().labels]
    c1 = res.by_customer.filter(pl.col("customer_id") == "C1").row(0, named=True)
    assert (c1["not_due"], c1["1-30"], c1["total_outstanding"]) == (
        D("100.00"),
        D("500.00"),
        D("600.00"),
    )
    labels = AgingConfig().labels
    for row in res.by_customer.iter_rows(named=True):
        assert sum(row[b] for b in labels) == row["total_outstanding"]


def test_invalid_dates_have_their_own_bucket():
    rows = [
        inv("NULLDUE", "C1", "10.00", due=None, date=dt.date(2026, 9, 1)),
        inv("BACKWARD", "C1", "20.00", due=dt.date(2026, 8, 1), date=dt.date(2026, 9, 1)),
        inv("FUTURE", "C1", "30.00", due=dt.date(2026, 12, 30), date=dt.date(2026, 11, 30)),
        inv("OK", "C1", "40.00", 10),
    ]
    res = age(frame(rows), None, AS_OF)
    bad = res.detail.filter(pl.col("bucket") == "invalid_date")
    assert sorted(bad["invoice_id"]) == ["BACKWARD", "FUTURE", "NULLDUE"]
    assert bad["days_past_due"].null_count() == 3
    reasons = dict(zip(bad["invoice_id"], bad["invalid_reason"], strict=True))
    assert reasons["BACKWARD"] == "due_date before invoice_date"
    assert reasons["FUTURE"] == "invoice_date after as_of"
    assert res.total_outstanding == D("100.00")  # nothing lost
    assert res.totals.filter(pl.col("bucket") == "invalid_date")["amount_base"][0] == D("60.00")


def test_fx_conversion_at_latest_rate_on_or_before_as_of():
    rows = [inv("U1", "C1", "1000.00", 10, cur="USD"), inv("U2", "C1", "0.07", 10, cur="USD")]
    res = age(frame(rows), None, AS_OF, fx_rates=FX, base_currency="CNY")
    got = dict(zip(res.detail["invoice_id"], res.detail["open_amount_base"], strict=True))
    # 1000 × 7.12345678 = 7123.45678 -> 7123.46; 0.07 × 7.12345678 = 0.4986... -> 0.50
    assert got == {"U1": D("7123.46"), "U2": D("0.50")}
    assert res.total_outstanding == D("7123.96")


def test_half_up_rounding_of_conversion():
    fx = pl.DataFrame(
        {"date": [dt.date(2026, 10, 1)], "currency": ["EUR"], "rate": [D("0.5")]},
        schema={"date": pl.Date, "currency": pl.String, "rate": RATE},
    )
    res = age(frame([inv("E1", "C1", "0.05", 3, cur="EUR")]), None, AS_OF, fx_rates=fx)
    assert res.detail["open_amount_base"][0] == D("0.03")  # 0.025 half-up


def test_missing_rate_is_a_finding_not_a_silent_drop():
    res = age(frame([inv("G1", "C1", "5.00", 3, cur="GBP")]), None, AS_OF, fx_rates=FX)
    assert res.detail.height == 0
    assert res.findings["rule"].to_list() == ["missing_fx_rate"]


def test_unapplied_and_credits_shown_separately():
    rows = [inv("I1", "C1", "1000.00", 45), inv("CN1", "C1", "-150.00", 5)]
    rec = receipts(
        [
            dict(
                receipt_id="R1",
                customer_id="C1",
                value_date=dt.date(2026, 10, 21),
                currency="CNY",
                amount=D("300.00"),
                unapplied=D("300.00"),
                status="unapplied",
            ),
            dict(
                receipt_id="R2",
                customer_id=None,
                value_date=dt.date(2026, 10, 1),
                currency="USD",
                amount=D("10.00"),
                unapplied=D("10.00"),
                status="unapplied",
            ),
            dict(
                receipt_id="R3",
                customer_id=None,
                value_date=dt.date(2026, 10, 1),
                currency="CNY",
                amount=D("99.00"),
                unapplied=D("99.00"),
                status="not_ar",
            ),
        ]
    )
    res = age(frame(rows), rec, AS_OF, fx_rates=FX)
    assert res.total_outstanding == D("1000.00")
    assert res.credits["invoice_id"].to_list() == ["CN1"]
    c1 = res.by_customer.filter(pl.col("customer_id") == "C1").row(0, named=True)
    assert c1["31-60"] == D("1000.00")
    assert c1["unapplied_cash"] == D("300.00")
    assert c1["credit_balance"] == D("-150.00")
    assert c1["net_balance"] == D("550.00")
    unknown = res.by_customer.filter(pl.col("customer_id").is_null()).row(0, named=True)
    assert unknown["unapplied_cash"] == D("71.23")  # 10 USD at 7.12345678
    assert res.unapplied["receipt_id"].to_list() == ["R1", "R2"]
    assert res.unapplied["days_unapplied"].to_list() == [10, 30]


def test_invoice_date_basis_and_custom_buckets():
    cfg = AgingConfig(basis="invoice_date", buckets=[["0-45", None, 45], ["46+", 46, None]])
    rows = [inv("I1", "C1", "1.00", due=AS_OF, date=AS_OF - dt.timedelta(days=46))]
    res = age(frame(rows), None, AS_OF, cfg)
    assert (res.detail["bucket"][0], res.detail["days_past_due"][0]) == ("46+", 46)


def test_bad_bucket_config_rejected():
    with pytest.raises(ValueError, match="contiguous"):
        AgingConfig(buckets=[["a", None, 10], ["b", 12, None]])


def test_to_base_uses_row_date():
    df = pl.DataFrame(
        {"amount": [D("1.00")], "currency": ["USD"], "d": [dt.date(2026, 10, 15)]},
        schema={"amount": MONEY, "currency": pl.String, "d": pl.Date},
    )
    out = to_base(df, "amount", base_currency="CNY", fx_rates=FX, date_col="d")
    assert out["amount_base"][0] == D("7.00")


# ---------------------------------------------------------------- tiers
def test_tiers_worst_per_customer_raise_and_policy():
    rows = [
        inv("A1", "C1", "100.00", 95),
        inv("A2", "C1", "100.00", 10),
        inv("B1", "C2", "200.00", 45),
        inv("C1", "C3", "500000.00", 5),  # C raised to B by amount
        inv("N1", "C4", "900.00", 0),  # not overdue; over credit limit
    ]
    res = age(frame(rows), None, AS_OF)
    customers = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "name": ["One", "Two", "Three", "Four"],
            "credit_limit": [None, None, None, D("500.00")],
        },
        schema={"customer_id": pl.String, "name": pl.String, "credit_limit": MONEY},
    )
    history = pl.DataFrame(
        {
            "customer_id": ["C2"] * 3,
            "invoice_id": ["H1", "H2", "H3"],
            "days_late": [5, 9, 40],
        }
    )
    tiers = overdue_tiers(res.detail, customers, TierConfig(), history)
    got = {r["customer_id"]: r for r in tiers.iter_rows(named=True)}
    assert got["C1"]["tier"] == "A" and got["C1"]["action"] == "legal letter and stop supply"
    assert got["C1"]["max_days_past_due"] == 95
    assert got["C2"]["tier"] == "B" and got["C2"]["credit_policy"] == "prepayment"
    assert got["C3"]["tier"] == "B" and "raised C→B" in got["C3"]["reason"]
    assert got["C4"]["tier"] is None and got["C4"]["credit_policy"] == "hold"
    assert tiers["customer_id"].to_list()[:3] == ["C1", "C3", "C2"]  # worst first


def test_to_base_as_of_takes_each_currencys_latest_rate_on_or_before_it():
    # USD: 7.0 on 10-01, 7.2 on 10-20 (given twice: the last one counts), 9.9 after the
    # as-of date; EUR has no rate; a null currency none either
    fx = pl.DataFrame(
        {
            "date": [dt.date(2026, 10, d) for d in (1, 20, 20, 31)] + [dt.date(2026, 11, 1)],
            "currency": ["USD", "USD", "USD", "JPY", "USD"],
            "rate": [D("7.0"), D("7.1"), D("7.2"), D("0.048"), D("9.9")],
        },
        schema={"date": pl.Date, "currency": pl.String, "rate": RATE},
    )
    df = pl.DataFrame(
        {
            "amount": [D("10.00"), D("1.25"), D("3.00"), D("1000.00"), D("5.00")],
            "currency": ["USD", "CNY", "EUR", "JPY", None],
        },
        schema={"amount": MONEY, "currency": pl.String},
    )
    out = to_base(df, "amount", base_currency="CNY", fx_rates=fx, as_of=AS_OF)
    assert out.columns == ["amount", "currency", "fx_rate", "amount_base"]
    assert out["fx_rate"].to_list() == [D("7.2"), D("1"), None, D("0.048"), None]
    assert out["amount_base"].to_list() == [D("72.00"), D("1.25"), None, D("48.00"), None]
