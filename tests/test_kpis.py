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


def series_history(values: list[tuple[str, int]], amount: str = "100.00") -> pl.DataFrame:
    """One payment of ``amount`` per (period, days late) for customer C1."""
    return pl.DataFrame(
        [
            dict(
                period=p,
                customer_id="C1",
                invoice_id=f"I{i}",
                receipt_id=f"R{i}",
                due_date=None,
                payment_date=None,
                applied_amount=D(amount),
                currency="CNY",
                days_late=n,
            )
            for i, (p, n) in enumerate(values)
        ],
        schema=HISTORY_SCHEMA,
    )


def test_days_late_average_rounds_half_up_exactly():
    # (1×1 + 2×2) / 3 = 1.666… -> 1.67; (−1×1 + 0×1) / 2 = −0.5 -> −0.50
    h = pl.concat(
        [
            series_history([("2026-10", 1)], "1.00"),
            series_history([("2026-10", 2)], "2.00").with_columns(pl.lit("I9").alias("invoice_id")),
            series_history([("2026-10", -1), ("2026-10", 0)], "1.00").with_columns(
                pl.lit("C2").alias("customer_id")
            ),
        ]
    )
    late = average_days_late(h)
    assert late["avg_days_late"].to_list() == [D("1.67"), D("-0.50")]
    assert late["paid_amount"].to_list() == [D("3.00"), D("2.00")]
    assert late["max_days_late"].to_list() == [2, 0]


def test_days_late_trend_slope_and_series():
    # 1, 2, 4 days over three periods: slope (4 − 1) / 2 = 1.5 exactly -> 1.50
    t = days_late_trend(series_history([("2026-08", 1), ("2026-09", 2), ("2026-10", 4)]))
    row = t.row(0, named=True)
    assert row["series"] == "2026-08: 1.00 | 2026-09: 2.00 | 2026-10: 4.00"
    assert (row["slope_days_per_period"], row["latest_days_late"]) == (D("1.50"), D("4.00"))
    assert row["trend"] == "stable"  # not above the 2-day threshold
    # 0, 0, 0, 1: slope 3 × 1 / 10 = 0.3 days per period (6·Σ(2x − n + 1)·y / (n(n² − 1)))
    t = days_late_trend(
        series_history([("2026-06", 0), ("2026-07", 0), ("2026-08", 0), ("2026-09", 1)])
    )
    assert t["slope_days_per_period"].to_list() == [D("0.30")]


def averaging(period: str, days: int, cents: int) -> list[tuple[str, int, str]]:
    """Payments of one period averaging ``days`` + ``cents``/100 days late: 1.00 paid in
    all, (100 − cents)/100 at ``days`` and cents/100 a day later."""
    return [(period, days, f"{(100 - cents) / 100:.2f}"), (period, days + 1, f"{cents / 100:.2f}")]


def test_days_late_trend_a_slope_halfway_between_cents_as_decimal_rounds_it():
    # averages 9.79, −11.03, 0.30: the exact slope (0.30 − 9.79) / 2 = −4.745 is halfway
    # between cents; the Decimal formula the trend has always used lands its 28-digit
    # result at −4.74, and the trend keeps that
    rows = averaging("2026-08", 9, 79) + averaging("2026-09", -12, 97) + averaging("2026-10", 0, 30)
    h = series_history([(p, n) for p, n, _ in rows])
    h = h.with_columns(pl.Series("applied_amount", [D(a) for _, _, a in rows], dtype=MONEY))
    t = days_late_trend(h)
    assert t["series"].to_list() == ["2026-08: 9.79 | 2026-09: -11.03 | 2026-10: 0.30"]
    assert t["slope_days_per_period"].to_list() == [D("-4.74")]
    assert t["trend"].to_list() == ["improving"]


def test_days_late_trend_negative_zero_average_as_decimal_writes_it():
    # −1 day × 0.01 over 3.00 paid: −0.00333… rounds to −0.00, written so in the series
    h = series_history([("2026-10", -1), ("2026-10", 0), ("2026-10", 0)], "0.01")
    h = h.with_columns(pl.Series("applied_amount", [D("0.01"), D("1.99"), D("1.00")], dtype=MONEY))
    t = days_late_trend(h)
    assert t["series"].to_list() == ["2026-10: -0.00"]
    assert t["latest_days_late"].to_list() == [D("0.00")]


def test_history_is_sorted_by_customer_invoice_receipt_whatever_the_lookups_hold():
    allocations = pl.DataFrame(
        {
            "receipt_id": ["R2", "R1", "R1", "R2", "R0", "R1"],
            "invoice_id": ["I1", "I1", "O1", "X9", "I2", "I2"],  # X9: not an invoice
            "customer_id": ["C1", "C1", "C2", "C1", None, None],  # None: the invoice's
            "applied_amount": [D("1.00")] * 6,
            "currency": ["CNY"] * 6,
            "kind": ["cash"] * 6,
        },
        schema_overrides={"applied_amount": MONEY},
    )
    receipts = pl.DataFrame(  # R0 is not a receipt: no payment date, so no period
        {"receipt_id": ["R2", "R1"], "value_date": [d(11, 2), d(10, 5)]},
    )
    for invoices in (INVOICES, INVOICES.reverse(), INVOICES.sort("invoice_id")):
        for lookups in (receipts, receipts.sort("receipt_id")):
            h = payment_history(allocations, lookups, invoices, "2026-10")
            assert h.select("customer_id", "invoice_id", "receipt_id").rows() == [
                ("C1", "I1", "R1"),
                ("C1", "I1", "R2"),
                ("C1", "I2", "R0"),
                ("C1", "I2", "R1"),
                ("C1", "X9", "R2"),
                ("C2", "O1", "R1"),
            ]
            by_month = payment_history(allocations, lookups, invoices)
            assert by_month.select("period", "receipt_id").rows() == [
                (None, "R0"),
                ("2026-10", "R1"),
                ("2026-10", "R1"),
                ("2026-10", "R1"),
                ("2026-11", "R2"),
                ("2026-11", "R2"),
            ]
            assert by_month["invoice_id"].to_list() == ["I2", "I1", "I2", "O1", "I1", "X9"]
