"""Every money, date and id form the loaders accept, with known answers."""

from decimal import Decimal

import polars as pl
import pytest

from arlib.parsing import parse_bool, parse_date, parse_id, parse_money


def money(text, **kw):
    return pl.DataFrame({"s": [text]}).select(parse_money(pl.col("s"), **kw)).item()


def date(text, **kw):
    return pl.DataFrame({"s": [text]}).select(parse_date(pl.col("s"), **kw)).item()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1,234.56", "1234.56"),
        ("¥1,234.56", "1234.56"),
        ("￥1,234.56", "1234.56"),
        ("RMB 1234.5", "1234.50"),
        ("CNY1234", "1234.00"),
        ("(1,234.56)", "-1234.56"),
        ("-1234.56", "-1234.56"),
        ("1234.56-", "-1234.56"),
        ("１，２３４．５６", "1234.56"),
        ("（１２）", "-12.00"),
        ("  42 ", "42.00"),
        ("12.34", "12.34"),
        ("1'234.50", "1234.50"),
        ("12,34,567.89", "1234567.89"),
        ("1 234 567.00", "1234567.00"),
        ("USD 12.3", "12.30"),
        ("+5", "5.00"),
    ],
)
def test_money_forms(text, expected):
    assert money(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text",
    ["abc", "12.345", "12.340", "1.2.3", "12,34.5.6", "--5", "", None, "1,23", "99,50", "1e5"],
)
def test_money_rejects(text):
    """Trailing zeros count as written decimals; a comma is no thousands separator unless
    it sits between three-digit groups."""
    assert money(text) is None


def test_money_decimal_comma():
    assert money("1.234,56", decimal_comma=True) == Decimal("1234.56")
    assert money("-1.234,5", decimal_comma=True) == Decimal("-1234.50")
    assert money("99,50", decimal_comma=True) == Decimal("99.50")
    assert money("12.500,00", decimal_comma=True) == Decimal("12500.00")
    assert money("1.234", decimal_comma=True) == Decimal("1234.00")
    # without the flag the same texts are no numbers (never 1.23456 or 9,950.00)
    assert money("1.234,56") is None
    assert money("12.500,00") is None
    # and a decimal point is no number under the decimal-comma convention
    assert money("12.5", decimal_comma=True) is None
    assert money("0.138", decimal_comma=True) is None


def test_money_beyond_what_is_held_exactly():
    assert money("999999999999999.99") == Decimal("999999999999999.99")
    assert money("1000000000000000.00") is None
    assert money("000000000000000001.00") == Decimal("1.00")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-10-05", "2026-10-05"),
        ("2026/10/5", "2026-10-05"),
        ("2026.10.05", "2026-10-05"),
        ("2026年10月5日", "2026-10-05"),
        ("２０２６年１０月５日", "2026-10-05"),
        ("46300", "2026-10-05"),
        ("46300.0", "2026-10-05"),
        ("2026-10-05 00:00:00", "2026-10-05"),
        ("10/5/2026", "2026-10-05"),
    ],
)
def test_date_forms(text, expected):
    assert str(date(text)) == expected


def test_date_dayfirst():
    assert str(date("05/10/2026", dayfirst=True)) == "2026-10-05"
    assert str(date("05/10/2026")) == "2026-05-10"


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "yesterday", "2026-10", "", "123"])
def test_date_rejects(text):
    assert date(text) is None


def test_ids_stay_strings():
    out = pl.DataFrame({"s": [" 00123 ", "００１２３", "123.0", "A.0", "INV0012345"]}).select(
        parse_id(pl.col("s"))
    )
    assert out.to_series().to_list() == ["00123", "00123", "123", "A.0", "INV0012345"]


def test_bool_forms():
    out = pl.DataFrame({"s": ["是", "否", "Yes", "0", "maybe"]}).select(parse_bool(pl.col("s")))
    assert out.to_series().to_list() == [True, False, True, False, None]
