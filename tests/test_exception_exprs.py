"""The polars readings of the exception checks (arlib.exceptions.context) give the Python
ones' answers: net of VAT on random cents, rates and tolerances, with hand-worked cases."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arlib.exceptions.context import net_of_tax, net_of_tax_cents_expr, net_of_tax_expr
from arlib.money import fmt_money, from_cents, money_expr

RATES = [Decimal("0.13"), Decimal("0.09"), Decimal("0.06"), Decimal("0.03"), Decimal("0.055")]


def expr_rates(pairs, rates, tolerance):
    df = pl.DataFrame(pairs, schema={"p": pl.Int64, "i": pl.Int64}, orient="row")
    got = df.select(net_of_tax_expr(pl.col("p"), pl.col("i"), rates, tolerance))
    return [None if k is None else rates[k] for k in got.to_series().to_list()]


def python_rates(pairs, rates, tolerance):
    return [net_of_tax(from_cents(p), from_cents(i), rates, tolerance) for p, i in pairs]


def test_worked_examples():
    # 11,300.00 / 1.13 = 10,000.00; 10,000.02 is within 0.02, 10,000.03 is not
    pairs = [(1_000_000, 1_130_000), (1_000_002, 1_130_000), (1_000_003, 1_130_000)]
    assert expr_rates(pairs, RATES, Decimal("0.02")) == [RATES[0], RATES[0], None]
    # 100.00 / 1.06 = 94.3396...: 94.32 is within 0.02 of it, 94.31 is not
    pairs = [(9_432, 10_000), (9_431, 10_000)]
    assert expr_rates(pairs, RATES, Decimal("0.02")) == [RATES[2], None]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 10**11), min_size=1, max_size=30),
    st.lists(st.integers(-300, 300), min_size=1, max_size=30),
    st.lists(st.sampled_from(RATES + [Decimal("0"), Decimal("0.125")]), min_size=1, max_size=4),
    st.sampled_from(
        [Decimal("0"), Decimal("0.02"), Decimal("0.005"), Decimal("1"), Decimal("0.5")]
    ),
)
def test_net_of_tax_expr_matches_python(invoices, offsets, rates, tolerance):
    # paid near each invoice net of each rate (so hits and near misses are drawn), and some
    # amounts unrelated to it
    pairs = [
        (max(1, int(i * 100 // (100 + r * 100)) + o), i)
        for i in invoices
        for r in rates
        for o in offsets[:5]
    ] + list(zip(offsets, invoices, strict=False))
    assert expr_rates(pairs, rates, tolerance) == python_rates(pairs, rates, tolerance)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-(10**13), 10**13), min_size=1, max_size=40),
    st.sampled_from(RATES + [Decimal("0"), Decimal("0.125"), Decimal("0.0625")]),
)
def test_net_of_tax_cents_is_the_quotient_fmt_money_shows(invoices, rate):
    df = pl.DataFrame({"i": invoices}, schema={"i": pl.Int64})
    cents = df.select(net_of_tax_cents_expr(pl.col("i"), rate).cast(pl.Int64)).to_series()
    shown = pl.DataFrame({"c": cents}).select(money_expr("c")).to_series().to_list()
    assert [fmt_money(v) for v in shown] == [
        fmt_money(from_cents(i) / (1 + rate)) for i in invoices
    ]
