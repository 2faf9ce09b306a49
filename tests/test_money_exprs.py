"""The polars forms of the money formats write exactly what the Python forms write."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arlib.money import fmt_money, fmt_money_expr, fmt_ratio_pct_expr
from arlib.schema import MONEY

CENTS = st.integers(min_value=-(10**17), max_value=10**17)


def test_fmt_money_expr_known_answers():
    values = ["0.00", "0.05", "-0.05", "999.99", "1000.00", "-1234567.80", "100000000000000.00"]
    frame = pl.DataFrame({"m": [Decimal(v) for v in values] + [None]}, schema={"m": MONEY})
    assert frame.select(fmt_money_expr("m").alias("t"))["t"].to_list() == [
        "0.00",
        "0.05",
        "-0.05",
        "999.99",
        "1,000.00",
        "-1,234,567.80",
        "100,000,000,000,000.00",
        "n/a",
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(CENTS, min_size=1, max_size=40))
def test_fmt_money_expr_equals_fmt_money(cents):
    values = [Decimal(c).scaleb(-2) for c in cents]
    frame = pl.DataFrame({"m": values}, schema={"m": MONEY})
    assert frame.select(fmt_money_expr("m").alias("t"))["t"].to_list() == [
        fmt_money(v) for v in values
    ]


def test_fmt_ratio_pct_known_answers():
    # 1/8 % = 0.125 -> 0.12 (half to even), 3/8 % -> 0.38, 2/3 -> 66.67, a zero over a
    # negative keeps Decimal's sign
    pairs = [(1, 800), (3, 800), (2, 3), (-1, 3), (0, -5), (5, 0), (None, 3), (200, 100)]
    frame = pl.DataFrame({"n": [p[0] for p in pairs], "d": [p[1] for p in pairs]})
    got = frame.select(fmt_ratio_pct_expr(pl.col("n"), pl.col("d")).alias("t"))["t"].to_list()
    assert got == ["0.12", "0.38", "66.67", "-33.33", "-0.00", None, None, "200.00"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(CENTS, CENTS.filter(bool)), min_size=1, max_size=40))
def test_fmt_ratio_pct_equals_python_decimal(pairs):
    frame = pl.DataFrame({"n": [p[0] for p in pairs], "d": [p[1] for p in pairs]})
    got = frame.select(fmt_ratio_pct_expr(pl.col("n"), pl.col("d")).alias("t"))["t"].to_list()
    want = [f"{Decimal(n).scaleb(-2) / Decimal(d).scaleb(-2) * 100:.2f}" for n, d in pairs]
    assert got == want
