"""Charts draw the tables' own figures, per currency, with money axes."""

from decimal import Decimal

import matplotlib

matplotlib.use("Agg")

import polars as pl  # noqa: E402

from arlib import charts  # noqa: E402

D = Decimal


def rollforward() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "currency": ["USD", "CNY"],
            "opening_ar": [D("100.00"), D("1000.00")],
            "invoiced": [D("50.00"), D("500.00")],
            "cash_applied": [D("70.00"), D("600.00")],
            "credit_notes_applied": [D("5.00"), D("0.00")],
            "adjustments": [D("1.00"), D("10.00")],
            "closing_listed": [D("74.00"), D("890.00")],
        }
    )


def test_waterfall_steps_by_hand():
    usd = rollforward().row(0, named=True)
    assert charts.waterfall_steps(usd) == [
        ("opening", D(0), D("100.00")),
        ("invoiced", D("100.00"), D("50.00")),
        ("cash applied", D("150.00"), D("-70.00")),
        ("credit notes", D("80.00"), D("-5.00")),
        ("write-offs", D("75.00"), D("-1.00")),
        ("closing", D(0), D("74.00")),
    ]


def test_waterfall_has_one_panel_per_currency_in_its_own_currency():
    fig = charts.rollforward_waterfall(rollforward())
    titles = [axis.get_title() for axis in fig.axes]
    assert titles == ["Roll-forward CNY", "Roll-forward USD"]
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == [1000.0, 500.0, -600.0, -0.0, -10.0, 890.0]
    assert fig.axes[1].get_ylabel() == "USD"


def test_exceptions_are_never_summed_across_currencies():
    exceptions = pl.DataFrame(
        {
            "class": ["dispute", "dispute", "technical_error", "dispute"],
            "currency": ["CNY", "USD", "CNY", "CNY"],
            "amount": [D("100.00"), D("7.00"), D("-30.00"), D("20.00")],
            "status": ["open", "open", "open", "cleared"],
        }
    )
    fig = charts.exceptions_by_class(exceptions)
    panels = {axis.get_xlabel(): axis for axis in fig.axes}
    assert set(panels) == {"CNY", "USD"}
    cny = {
        t.get_text(): bar.get_width()
        for t, bar in zip(panels["CNY"].get_yticklabels(), panels["CNY"].patches, strict=True)
    }
    assert cny == {"dispute (1)": 100.0, "technical_error (1)": 30.0}  # cleared left out
    assert [bar.get_width() for bar in panels["USD"].patches] == [7.0]


def test_top_overdue_customers_named_and_sorted():
    by_customer = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "not_due": [D("999.00"), D("0.00"), D("5.00")],
            "1-30": [D("10.00"), D("40.00"), D("0.00")],
            ">180": [D("5.00"), D("0.00"), D("0.00")],
            "invalid_date": [D("0.00")] * 3,
            "total_outstanding": [D("1014.00"), D("40.00"), D("5.00")],
            "unapplied_cash": [D("0.00")] * 3,
            "credit_balance": [D("0.00")] * 3,
            "net_balance": [D("1014.00"), D("40.00"), D("5.00")],
        }
    )
    names = pl.DataFrame({"customer_id": ["C1", "C2", "C3"], "name": ["甲公司", "Beta", "Gamma"]})
    fig = charts.top_overdue_customers(by_customer, names, "CNY")
    axis = fig.axes[0]
    labels = [t.get_text() for t in axis.get_yticklabels()]
    assert labels == ["Beta (C2)", "甲公司 (C1)"]  # C3 has nothing overdue
    assert [bar.get_width() for bar in axis.patches] == [40.0, 15.0]


def test_chinese_names_have_glyphs(recwarn):
    """A CJK font is found (CI installs one; a skip would fail there), so 甲公司 is drawn as
    characters, not boxes."""
    import pytest

    if not charts.has_cjk_font():
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    test_top_overdue_customers_named_and_sorted()
    fig = charts.top_overdue_customers(
        pl.DataFrame({"customer_id": ["C1"], "1-30": [D("1.00")], "not_due": [D("0")]}),
        pl.DataFrame({"customer_id": ["C1"], "name": ["济南永泰食品有限公司"]}),
        "CNY",
    )
    fig.canvas.draw()
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


def test_unapplied_by_age_buckets_add_up():
    unapplied = pl.DataFrame(
        {
            "days_unapplied": [0, 7, 8, 45, 400],
            "unapplied_base": [D("1.00"), D("2.00"), D("4.00"), D("8.00"), D("16.00")],
        }
    )
    fig = charts.unapplied_by_age(unapplied, "CNY")
    assert [bar.get_height() for bar in fig.axes[0].patches] == [3.0, 4.0, 8.0, 16.0]


def test_money_axis_labels():
    fig = charts.rollforward_waterfall(rollforward().head(1))
    formatter = fig.axes[0].yaxis.get_major_formatter()
    values = (950, 1_500, 2_000, 12_500, 3_400_000, 1_250_000, 2_000_000_000)
    assert [formatter(v, 0) for v in values] == [
        "950",
        "1.5 k",  # was "2 k", the same label as the 2,000 tick beside it
        "2 k",
        "12.5 k",
        "3.4 m",
        "1.25 m",
        "2 bn",
    ]


def test_waterfall_leaves_room_above_the_tallest_bar():
    fig = charts.rollforward_waterfall(rollforward().head(1))
    low, high = fig.axes[0].get_ylim()
    assert low == 0 and high > 150  # opening 100 + invoiced 50 reach 150


def test_patterns_without_an_amount_are_left_out_of_the_exceptions_chart():
    exceptions = pl.DataFrame(
        {
            "class": ["dispute", "dispute"],
            "currency": ["CNY", None],
            "amount": [D("100.00"), None],
            "status": ["open", "open"],
        },
        schema_overrides={"amount": pl.Decimal(38, 2)},
    )
    fig = charts.exceptions_by_class(exceptions)
    assert [axis.get_xlabel() for axis in fig.axes] == ["CNY"]  # no panel for "None"


def test_overdue_by_customer_is_what_the_chart_draws():
    by_customer = pl.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "not_due": [D("999.00"), D("1.00")],
            "1-30": [D("10.00"), D("40.00")],
            "total_outstanding": [D("1009.00"), D("41.00")],
        }
    )
    names = pl.DataFrame({"customer_id": ["C1", "C2"], "name": ["Alpha", "Beta"]})
    assert charts.overdue_by_customer(by_customer, names).rows() == [
        ("C2", "Beta", D("40.00")),
        ("C1", "Alpha", D("10.00")),
    ]


def test_unapplied_age_bands_in_exact_money():
    unapplied = pl.DataFrame(
        {"days_unapplied": [3, 40], "unapplied_base": [D("1.10"), D("2.20")]},
        schema_overrides={"unapplied_base": pl.Decimal(38, 2)},
    )
    assert charts.unapplied_age_bands(unapplied) == [
        ("0-7 days", D("1.10")),
        ("8-30", D("0.00")),
        ("31-60", D("2.20")),
        (">60", D("0.00")),
    ]


def test_aging_buckets_and_kpi_trend_axes():
    totals = pl.DataFrame(
        {"bucket": ["not_due", "1-30"], "amount_base": [D("2500000.00"), D("12000.00")]},
        schema_overrides={"amount_base": pl.Decimal(38, 2)},
    )
    fig = charts.aging_buckets(totals, "CNY", "2026-10-31")
    axis = fig.axes[0]
    assert [bar.get_height() for bar in axis.patches] == [2_500_000.0, 12_000.0]
    assert axis.get_ylabel() == "CNY"
    assert axis.yaxis.get_major_formatter()(2_500_000, 0) == "2.5 m"
    trend = pl.DataFrame(
        {"period": ["2026-09"], "dso": [D("10.60")], "cei": [None]},
        schema={"period": pl.String, "dso": pl.Decimal(38, 2), "cei": pl.Decimal(38, 2)},
    )
    fig = charts.kpi_trend(trend)  # one close, and a KPI it could not compute: a gap
    assert fig.axes[0].get_title() == "DSO and CEI over 1 closed period"
