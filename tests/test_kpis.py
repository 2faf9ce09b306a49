"""KPIs on one hand-computed period (October 2026, 31 days).

Opening AR 1,000.00 (O1, due 2026-09-30, customer C2). Invoiced in October: I1 3,100.00
(due 10-10) and I2 900.00 (due 11-15), both C1. Cash: R1 1,000.00 on 10-05 pays O1
(5 days late); R2 2,100.00 on 10-20 part-pays I1 (10 days late). Closing AR 1,900.00, of
which 900.00 is current. Credit sales 4,000.00.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl

from arlib.aging import age
from arlib.kpis import (
    HISTORY_SCHEMA,
    KpiConfig,
    ar_turnover,
    average_days_late,
    cei,
    compute_kpis,
    days_late_trend,
    dso,
    payment_history,
    pct_current,
)
from arlib.schema import MONEY

START, END = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


def d(m, day):
    return dt.date(2026, m, day)


INVOICES = pl.DataFrame(
    {
        "invoice_id": ["O1", "I1", "I2"],
        "customer_id": ["C2", "C1", "C1"],
        "invoice_date": [d(9, 1), d(10, 1), d(10, 15)],
        "due_date": [d(9, 30), d(10, 10), d(11, 15)],
        "amount": [D("1000.00"), D("3100.00"), D("900.00")],
        "currency": ["CNY"] * 3,
        "open_amount": [D("0.00"), D("1000.00"), D("900.00")],
    },
    schema_overrides={"amount": MONEY, "open_amount": MONEY},
)
RECEIPTS = pl.DataFrame(
    {"receipt_id": ["R1", "R2"], "value_date": [d(10, 5), d(10, 20)]},
)
ALLOCATIONS = pl.DataFrame(
    {
        "receipt_id": ["R1", "R2"],
        "invoice_id": ["O1", "I1"],
        "customer_id": ["C2", "C1"],
        "applied_amount": [D("1000.00"), D("2100.00")],
        "currency": ["CNY", "CNY"],
        "kind": ["cash", "cash"],
    },
    schema_overrides={"applied_amount": MONEY},
)


def history():
    rows = [
        ("2026-07", 0),
        ("2026-08", 5),
        ("2026-09", 10),
    ]
    return pl.DataFrame(
        [
            dict(
                period=p,
                customer_id="C1",
                invoice_id=f"H{p}",
                receipt_id=f"HR{p}",
                due_date=d(int(p[-2:]), 1),
                payment_date=d(int(p[-2:]), 1) + dt.timedelta(days=n),
                applied_amount=D("500.00"),
                currency="CNY",
                days_late=n,
            )
            for p, n in rows
        ],
        schema=HISTORY_SCHEMA,
    )


def result():
    aging = age(INVOICES, None, END)
    return compute_kpis(
        INVOICES,
        ALLOCATIONS,
        RECEIPTS,
        aging.detail,
        opening_ar=D("1000.00"),
        period_start=START,
        period_end=END,
        history=history(),
    )


def test_formula_functions():
    assert dso(D("1900"), D("4000"), 31) == D("14.73")  # 14.725 half-up
    assert ar_turnover(D("4000"), D("1000"), D("1900")) == D("2.76")
    assert cei(D("1000"), D("4000"), D("1900"), D("900")) == D("75.61")
    assert pct_current(D("900"), D("1900")) == D("47.37")
    assert dso(D("1"), D("0"), 31) is None


def test_summary_values_with_formulas():
    res = result()
    s = {r["kpi"]: r for r in res.summary.iter_rows(named=True)}
    assert s["dso"]["value"] == D("14.73")
    assert s["dso"]["computation"] == "1,900.00 / 4,000.00 × 31"
    assert s["dso"]["formula"].startswith("closing AR / credit sales")
    assert s["ar_turnover"]["value"] == D("2.76")
    assert s["cei"]["value"] == D("75.61")
    assert s["pct_current"]["value"] == D("47.37")
    assert s["avg_days_late"]["value"] == D("8.39")  # (5×1000 + 10×2100) / 3100
    assert s["avg_weekly_recovery"]["value"] == D("33.55")
    assert all(r["formula"] for r in s.values())


def test_weekly_collection_rate():
    w = result().weekly
    assert w["week_start"].to_list() == [d(10, 1), d(10, 8), d(10, 15), d(10, 22), d(10, 29)]
    assert w["ar_at_start"].to_list() == [D(x) for x in ("1000", "3100", "3100", "1900", "1900")]
    assert w["collected"].to_list() == [D(x) for x in ("1000", "0", "2100", "0", "0")]
    assert w["recovery_rate_pct"].to_list() == [D(x) for x in ("100", "0", "67.74", "0", "0")]


def test_average_days_late_per_customer_weighted():
    h = payment_history(ALLOCATIONS, RECEIPTS, INVOICES, "2026-10")
    assert h["days_late"].to_list() == [10, 5]  # sorted C1, C2
    late = {
        r["customer_id"]: r["avg_days_late"] for r in average_days_late(h).iter_rows(named=True)
    }
    assert late == {"C1": D("10.00"), "C2": D("5.00")}
    mixed = pl.DataFrame(
        {
            "customer_id": ["C9", "C9"],
            "days_late": [-4, 20],
            "applied_amount": [D("300.00"), D("100.00")],
        },
        schema_overrides={"applied_amount": MONEY},
    )
    assert average_days_late(mixed)["avg_days_late"][0] == D("2.00")  # (−1200 + 2000) / 400
    clamped = average_days_late(mixed, KpiConfig(clamp_early_payments=True))
    assert clamped["avg_days_late"][0] == D("5.00")  # (0 + 2000) / 400


def test_days_late_trend_across_periods():
    res = result()
    t = {r["customer_id"]: r for r in res.trend.iter_rows(named=True)}
    # C1: 0, 5, 10, 10 days over four periods -> least-squares slope 3.5 days/period
    assert t["C1"]["periods"] == 4
    assert t["C1"]["slope_days_per_period"] == D("3.50")
    assert t["C1"]["trend"] == "worsening"
    assert t["C2"]["trend"] == "insufficient data"
    assert res.history.height == 5
    flat = days_late_trend(history().with_columns(pl.lit(7).alias("days_late")))
    assert flat["trend"][0] == "stable"
