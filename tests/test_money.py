"""Money helpers (arlib.money): cents and Decimal both ways, half-up rounding, the formats,
and the polars forms giving the Python forms' answers."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR
from decimal import Decimal as D

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlib.money import (
    CENT,
    cents_expr,
    currency_places,
    currency_places_expr,
    fmt_cents,
    fmt_cents_expr,
    fmt_decimal,
    fmt_money,
    fmt_percent,
    fmt_rate,
    from_cents,
    money_expr,
    round_money,
    round_money_expr,
    to_cents,
    to_decimal,
)
from arlib.schema import MONEY


def test_to_decimal_is_exact_as_written():
    assert to_decimal(0.1) == D("0.1")  # the float's repr, not its binary expansion
    assert to_decimal(5) == D(5)
    assert to_decimal("12.30") == D("12.30") and str(to_decimal("12.30")) == "12.30"
    d = D("1.005")
    assert to_decimal(d) is d


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        ("2.675", "2.68"),
        ("2.665", "2.67"),  # half-up, not to even
        ("-0.125", "-0.13"),  # away from zero
        ("-0.124", "-0.12"),
        ("0.005", "0.01"),
        ("1234.5", "1234.50"),
        ("12", "12.00"),
        ("123456789012345678901234567890.125", "123456789012345678901234567890.13"),
    ],
)
def test_round_money_half_up(value, rounded):
    got = round_money(D(value))
    assert got == D(rounded) and str(got) == rounded
    assert D("0.01") == CENT


def test_round_money_places():
    assert str(round_money(D("5000.5"), 0)) == "5001"
    assert str(round_money(0.125, 2)) == "0.13"


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        ("1234.56", 123456),
        ("0.05", 5),
        ("-0.05", -5),
        ("12.345", 1235),  # finer than a cent: half-up
        ("-12.345", -1235),
        ("5000", 500000),  # 5,000 yen is 500,000 "cents" like every currency
        ("0", 0),
    ],
)
def test_cents_both_ways(value, cents):
    assert to_cents(D(value)) == cents
    assert to_cents(value) == cents
    assert from_cents(cents) == round_money(D(value))
    assert len(str(from_cents(cents)).partition(".")[2]) == 2


def test_to_cents_other_roundings():
    assert to_cents(D("0.051"), ROUND_CEILING) == 6
    assert to_cents(D("0.059"), ROUND_FLOOR) == 5
    assert to_cents(D("-0.051"), ROUND_FLOOR) == -6
    assert to_cents(50) == 5000 and to_cents(0.1) == 10


def test_from_cents_text():
    assert str(from_cents(123456)) == "1234.56"
    assert str(from_cents(-5)) == "-0.05"
    assert str(from_cents(0)) == "0.00"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (D("12345.6"), "12,345.60"),
        (D("1234567.891"), "1,234,567.89"),
        (D("-1234.5"), "-1,234.50"),
        (D("0.125"), "0.13"),  # half-up like every rounding of money
        (D("-0.125"), "-0.13"),
        (0, "0.00"),
        (12.5, "12.50"),
        ("7", "7.00"),
        (None, "n/a"),
    ],
)
def test_fmt_money(value, shown):
    assert fmt_money(value) == shown


def test_fmt_money_in_the_currency_places():
    assert fmt_money(D("5000.00"), currency="JPY") == "5,000"
    assert fmt_money(D("5000.50"), currency="JPY") == "5,001"
    assert fmt_money(D("1234.5"), currency="USD") == "1,234.50"
    assert fmt_money(D("1234.5"), currency="XYZ") == "1,234.50"  # unknown: two
    assert currency_places("jpy ") == 0 and currency_places(None) == 2


def test_fmt_decimal_and_not_a_number():
    assert fmt_decimal(D("1234.5678"), 3) == "1,234.568"
    assert fmt_decimal(float("nan")) == "NaN"
    assert fmt_decimal(float("inf")) == "Infinity"


def test_fmt_cents_plain():
    assert fmt_cents(123456) == "1234.56"
    assert fmt_cents(-5) == "-0.05"
    assert fmt_cents(-150) == "-1.50"
    assert fmt_cents(100_000_000_00) == "100000000.00"


def test_percent_and_rate_formats():
    assert fmt_percent(D("0.005")) == "0.50 %"
    assert fmt_percent(D("0.00125")) == "0.125 %"
    assert fmt_rate(D("7.1")) == "7.1000"
    assert fmt_rate(D("7.12345678")) == "7.12345678"


def test_polars_forms():
    df = pl.DataFrame(
        {"m": [D("1234.56"), D("-0.05"), D("0.00"), None], "c": [123456, -5, 0, None]},
        schema={"m": MONEY, "c": pl.Int64},
    )
    out = df.select(
        cents_expr("m").alias("cents"),
        cents_expr(pl.col("m")).alias("cents2"),
        money_expr("c").alias("money"),
        fmt_cents_expr(pl.col("c")).alias("text"),
    )
    assert out["cents"].to_list() == [123456, -5, 0, None] == out["cents2"].to_list()
    assert out.schema["money"] == MONEY
    assert out["money"].to_list() == [D("1234.56"), D("-0.05"), D("0.00"), None]
    assert out["text"].to_list() == ["1234.56", "-0.05", "0.00", None]


def test_round_money_expr_is_half_away_from_zero():
    values = ["2.675", "2.665", "-0.125", "-0.124", "0.005", "1.0000000001"]
    df = pl.DataFrame({"v": [D(v) for v in values]}, schema={"v": pl.Decimal(38, 10)})
    got = df.select(round_money_expr("v"))["v"].to_list()
    assert got == [round_money(D(v)) for v in values]
    assert df.select(round_money_expr("v")).schema["v"] == MONEY


def test_currency_places_expr():
    df = pl.DataFrame({"ccy": ["CNY", "JPY", "XYZ"]})
    assert df.select(currency_places_expr("ccy"))["ccy"].to_list() == [2, 0, 2]


cents = st.integers(min_value=-(10**17), max_value=10**17)


@settings(max_examples=100, deadline=None)
@given(st.lists(cents, min_size=1, max_size=50))
def test_python_and_polars_forms_agree(values):
    df = pl.DataFrame({"c": values}, schema={"c": pl.Int64})
    out = df.select(
        money_expr("c").alias("money"),
        fmt_cents_expr("c").alias("text"),
        cents_expr(money_expr("c")).alias("back"),
    )
    assert out["money"].to_list() == [from_cents(v) for v in values]
    assert out["text"].to_list() == [fmt_cents(v) for v in values]
    assert out["back"].to_list() == values
    assert [to_cents(from_cents(v)) for v in values] == values
