"""Keying errors (arlib.keying): hand-worked examples with their near misses, the
precedence, and property tests that the Python, polars and numpy forms give the same
answer."""

from __future__ import annotations

import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlib.keying import (
    KINDS,
    decimal_shift,
    decimal_shift_expr,
    describe_keying_error,
    is_keying_error_np,
    keying_error,
    keying_error_expr,
    shift_sources,
    transpositions,
    transpositions_expr,
    transpositions_np,
)
from arlib.money import to_cents

INT64_MAX = 2**63 - 1


def c(amount: str) -> int:
    return to_cents(amount.replace(",", ""))


_EXPRS: dict[tuple[int, ...], pl.Expr] = {}


def expr_kinds(pairs: list[tuple[int | None, int | None]], factors=(10, 100)) -> list:
    if factors not in _EXPRS:  # built once: the expression has a few hundred nodes
        _EXPRS[factors] = keying_error_expr(pl.col("r"), pl.col("e"), factors=factors)
    df = pl.DataFrame(pairs, schema={"r": pl.Int64, "e": pl.Int64}, orient="row")
    return df.select(_EXPRS[factors].alias("k"))["k"].to_list()


def assert_forms_agree(pairs, factors=(10, 100)) -> None:
    py = [keying_error(r, e, factors=factors) for r, e in pairs]
    assert expr_kinds(pairs, factors) == py, [
        (p, a, b) for p, a, b in zip(pairs, py, expr_kinds(pairs, factors), strict=True) if a != b
    ]
    # numpy has no missing value: a missing amount is no keying error, as 0 is not
    r, e = ([0 if x is None else x for x in side] for side in zip(*pairs, strict=True))
    np_found = is_keying_error_np(r, e, factors=factors).tolist()
    assert np_found == [k is not None for k in py], [
        (p, k) for p, k, f in zip(pairs, py, np_found, strict=True) if (k is not None) != f
    ]


# (received, expected, kind, detail): worked by hand, amounts as a person writes them
WORKED = [
    # decimal shifts: × exactly, ÷ truncated or rounded to the cent
    ("100.00", "10.00", "decimal_shift", "× 10"),
    ("12,345.00", "1,234.50", "decimal_shift", "× 10"),
    ("123,450.00", "1,234.50", "decimal_shift", "× 100"),
    ("123.45", "1,234.56", "decimal_shift", "÷ 10"),  # truncated
    ("123.46", "1,234.56", "decimal_shift", "÷ 10"),  # rounded
    ("12.34", "1,234.56", "decimal_shift", "÷ 100"),  # truncated
    ("12.35", "1,234.56", "decimal_shift", "÷ 100"),  # rounded
    ("500.00", "5,000.00", "decimal_shift", "÷ 10"),
    # 1,000.00 vs 100.00, both ways: also a doubled / dropped zero, but a shift first
    ("1,000.00", "100.00", "decimal_shift", "× 10"),
    ("100.00", "1,000.00", "decimal_shift", "÷ 10"),
    # transpositions: two adjacent digits swapped, cents included
    ("1,243.00", "1,234.00", "transposition", "digits 3-4 swapped"),
    ("1,234.65", "1,234.56", "transposition", "digits 5-6 swapped"),
    ("2,134.00", "1,234.00", "transposition", "digits 1-2 swapped"),
    ("1,023.00", "1,203.00", "transposition", "digits 2-3 swapped"),
    ("1,234.05", "1,234.50", "transposition", "digits 5-6 swapped"),
    # dropped digits
    ("1,345.00", "12,345.00", "dropped_digit", "digit 2 dropped"),
    ("1,234.60", "12,341.60", "dropped_digit", "digit 5 dropped"),
    ("0.12", "1.02", "dropped_digit", "digit 2 dropped"),  # not a swap: 012 is no amount
    ("234.00", "1,234.00", "dropped_digit", "digit 1 dropped"),
    # doubled digits
    ("122,345.00", "12,345.00", "doubled_digit", "digit 2 doubled"),
    ("12,345.50", "1,234.50", "doubled_digit", "digit 5 doubled"),
    ("1,123.00", "123.00", "doubled_digit", "digit 1 doubled"),
]

NEAR_MISSES = [
    ("1,342.00", "1,234.00"),  # three digits move: not a swap of two adjacent ones
    ("1,324.00", "1,234.01"),  # a swap and one more digit
    ("1,000.00", "1,000.01"),  # rounding, not a shift
    ("10,000.00", "1,000.01"),  # × 10 would be 10,000.10
    ("123.47", "1,234.56"),  # ÷ 10 is 123.45 or 123.46, nothing else
    ("12.36", "1,234.56"),  # ÷ 100 is 12.34 or 12.35
    ("12,345.67", "1,234.56"),  # × 10 is 12,345.60
    ("2.34", "102.34"),  # dropping the 1 leaves 02.34: no amount is written so
    ("1,234.00", "1,234.00"),  # equal amounts are never an error
    ("0.00", "0.00"),
    ("0.00", "10.00"),  # nor is a zero
    ("10.00", "0.00"),
    ("-1,243.00", "1,234.00"),  # nor a negative amount
    ("-100.00", "-10.00"),
    ("12,354.00", "1,234.00"),  # a digit inserted (not doubled) is none of the kinds
    ("1,234.00", "4,321.00"),  # reversed, not one swap
]


@pytest.mark.parametrize(("received", "expected", "kind", "detail"), WORKED)
def test_worked_examples(received, expected, kind, detail):
    r, e = c(received), c(expected)
    assert describe_keying_error(r, e) == (kind, detail)
    assert keying_error(r, e) == kind
    assert expr_kinds([(r, e)]) == [kind]


@pytest.mark.parametrize(("received", "expected"), NEAR_MISSES)
def test_near_misses_are_no_keying_error(received, expected):
    r, e = c(received), c(expected)
    assert keying_error(r, e) is None
    assert expr_kinds([(r, e)]) == [None]


def test_precedence_shift_before_dropped_or_doubled_digit():
    # 1,000.00 received for 100.00: × 10, and also the 1,00 with a zero doubled
    assert keying_error(c("1000.00"), c("100.00")) == "decimal_shift"
    # 100.00 for 1,000.00: ÷ 10, and also a zero dropped
    assert keying_error(c("100.00"), c("1000.00")) == "decimal_shift"
    # every ÷ 10 truncated to the cent drops the last digit: the shift is named
    assert keying_error(c("123.45"), c("1234.56")) == "decimal_shift"
    # without the shift reading the same pairs are the digit errors
    assert keying_error(c("1000.00"), c("100.00"), factors=(100,)) == "doubled_digit"
    assert keying_error(c("100.00"), c("1000.00"), factors=(100,)) == "dropped_digit"
    assert KINDS == ("decimal_shift", "transposition", "dropped_digit", "doubled_digit")


def test_configured_factors_and_their_order():
    assert decimal_shift(c("1.23"), c("1234.56")) is None
    assert decimal_shift(c("1.23"), c("1234.56"), (10, 100, 1000)) == "÷ 1000"
    assert decimal_shift(c("1234560.00"), c("1234.56"), (10, 100, 1000)) == "× 1000"
    # 0.01 is 0.05 ÷ 10 rounded and 0.05 ÷ 100 rounded: the first factor is named
    assert decimal_shift(1, 5, (10, 100)) == "÷ 10"
    assert decimal_shift(1, 5, (100, 10)) == "÷ 100"
    with pytest.raises(ValueError, match="factors"):
        keying_error(10, 100, factors=(1,))


def test_missing_amounts():
    assert keying_error(None, 100) is None
    assert expr_kinds([(None, 100), (100, None), (None, None)]) == [None, None, None]


def test_forms_agree_on_worked_examples_and_edges():
    pairs = [(c(r), c(e)) for r, e, *_ in WORKED] + [(c(r), c(e)) for r, e in NEAR_MISSES]
    pairs += [
        (1, 1),
        (1, 10),
        (10, 1),
        (9, 99),
        (10, 99),
        (99, 9),
        (INT64_MAX, INT64_MAX // 10),
        (INT64_MAX // 10, INT64_MAX),
        (INT64_MAX, 1),
        (-(2**63), 10),
        (1_000_000_000_000_000_000, 100_000_000_000_000_000),
    ]
    assert_forms_agree(pairs)
    assert_forms_agree(pairs, factors=(10, 100, 1000))


def test_forms_agree_on_every_small_pair():
    pairs = [(r, e) for e in range(1, 151) for r in range(0, 1600)]
    assert_forms_agree(pairs)
    found = {keying_error(r, e) for r, e in pairs}
    assert found == {None, *KINDS}


amounts = st.one_of(
    st.integers(min_value=-10, max_value=10**6),
    st.integers(min_value=1, max_value=10**15),
    st.integers(min_value=1, max_value=INT64_MAX),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(amounts, amounts), min_size=1, max_size=100))
def test_forms_agree_on_random_pairs(pairs):
    assert_forms_agree(pairs)


def _construct(e: int, how: str, at: int, digit: int) -> int:
    s = str(e)
    at %= len(s)
    if how == "×10":
        return e * 10
    if how == "×100":
        return e * 100
    if how == "÷10":
        return e // 10 + (digit % 2) * (e % 10 != 0)
    if how == "÷100":
        return e // 100 + (digit % 2) * (e % 100 != 0)
    if how == "swap":
        at = min(at, len(s) - 2)
        t = s[:at] + s[at + 1] + s[at] + s[at + 2 :] if len(s) > 1 else s
        return e if t[0] == "0" else int(t)  # a leading zero is no amount as written
    if how == "drop":
        rest = s[:at] + s[at + 1 :]
        return int(rest) if rest and rest[0] != "0" else 0
    if how == "double":
        return int(s[: at + 1] + s[at] + s[at + 1 :])
    if how == "near":
        return e + (digit - 5)
    raise AssertionError(how)


HOWS = ("×10", "×100", "÷10", "÷100", "swap", "drop", "double", "near")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**14),
            st.sampled_from(HOWS),
            st.integers(min_value=0, max_value=20),
            st.integers(min_value=0, max_value=9),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_forms_agree_on_constructed_errors(cases):
    pairs = []
    for e, how, at, digit in cases:
        r = _construct(e, how, at, digit)
        pairs.append((r, e))
        kind = keying_error(r, e)
        if r <= 0 or r == e:
            assert kind is None
        elif how in ("×10", "×100", "÷10", "÷100"):
            assert kind == "decimal_shift"
        elif how == "swap":
            assert kind == "transposition"
        elif how == "drop":
            assert kind in ("dropped_digit", "decimal_shift")
        elif how == "double":
            assert kind in ("doubled_digit", "decimal_shift")
        if kind == "decimal_shift" and how in ("drop", "double"):
            # the precedence: it is a shift in its own right
            assert decimal_shift(r, e) is not None
    assert_forms_agree(pairs)


def test_transpositions_are_exactly_the_transposed_amounts():
    for e in (1234, 1203, 100, 98765, 11, 5, 12000, 102):
        same_length = range(10 ** (len(str(e)) - 1), 10 ** len(str(e)))
        brute = {x for x in same_length if keying_error(x, e) == "transposition"}
        assert transpositions(e) == brute, e
        assert transpositions(-e) == brute


def test_transpositions_expr_matches_python():
    values = [0, 5, 12, 21, 100, 102, 1234, 120300, -1234, 987654321012345678]
    rng = random.Random(7)
    values += [rng.randrange(1, 10**15) for _ in range(300)]
    df = pl.DataFrame({"v": values}, schema={"v": pl.Int64})
    got = df.select(pl.concat_list(transpositions_expr(pl.col("v"))).alias("t"))["t"].to_list()
    assert [set(x for x in t if x is not None) for t in got] == [transpositions(v) for v in values]


def test_transpositions_np_matches_python():
    values = [0, -5, 5, 12, 21, 100, 102, 1234, 120300, 987654321012345678, INT64_MAX]
    rng = random.Random(8)
    values += [rng.randrange(1, 10 ** rng.randint(1, 18)) for _ in range(2000)]
    rows, amounts = transpositions_np(values)
    got = [set() for _ in values]
    for row, amount in zip(rows.tolist(), amounts.tolist(), strict=True):
        got[row].add(amount)
    want = [{t for t in transpositions(v) if t <= INT64_MAX} if v > 0 else set() for v in values]
    assert got == want


def test_shift_sources_bound_the_shifts():
    rng = random.Random(11)
    for r in [1, 9, 10, 12345, 100000, *[rng.randrange(1, 10**10) for _ in range(200)]]:
        exact, ranges = shift_sources(r)
        for e in exact:
            assert decimal_shift(r, e) is not None
        for f, (lo, hi) in zip((10, 100), ranges, strict=True):
            for e in (lo, hi, (lo + hi) // 2):
                assert e == r or decimal_shift(r, e, (f,)) == f"÷ {f}"
            for e in (lo - 1, hi + 1):
                assert e <= 0 or decimal_shift(r, e, (f,)) != f"÷ {f}"
    assert shift_sources(0) == (set(), [])


def test_digit_slips_are_the_amounts_with_a_digit_inserted_or_a_doubled_one_removed():
    from arlib.match.rules.suggestions import _digit_slips

    rng = random.Random(5)
    values = [1, 9, 10, 11, 100, 1001, 5555, 120300, 10**12 - 1, 10**16 + 7]
    values += [rng.randrange(1, 10**13) for _ in range(300)]
    got = _digit_slips(pl.DataFrame({"rec_idx": range(len(values)), "amt_c": values}))
    for k, x in enumerate(values):
        s = str(x)
        inserted = [
            int(s[:at] + d + s[at:])
            for at in range(min(len(s), 12) + 1)
            for d in "0123456789"
            if at or d != "0"
        ]
        removed = [
            int(s[:at] + s[at + 1 :]) for at in range(min(len(s) - 1, 11)) if s[at] == s[at + 1]
        ]
        mine = got.filter(pl.col("rec_idx") == k)["open_c"].to_list()
        assert mine == inserted + removed, x  # in the order of the places, then the digits
        # each reading is a keying error of the invoice it names (a shift takes precedence)
        assert all(keying_error(x, y) is not None for y in mine), x


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-5, 10**9)),
            st.one_of(st.none(), st.integers(-5, 10**9)),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([(10, 100), (100, 10), (10,), (2, 7, 1000)]),
)
def test_decimal_shift_expr_matches_python(pairs, factors):
    # a shift of a drawn amount, so both arms (× f and ÷ f) are met, not only chance
    pairs = (
        pairs
        + [(e * factors[0], e) for _, e in pairs if e]
        + [(e // factors[-1], e) for _, e in pairs if e]
    )
    df = pl.DataFrame(pairs, schema={"r": pl.Int64, "e": pl.Int64}, orient="row")
    got = df.select(decimal_shift_expr(pl.col("r"), pl.col("e"), factors))
    want = [None if r is None or e is None else decimal_shift(r, e, factors) for r, e in pairs]
    assert got.to_series().to_list() == want


def test_decimal_shift_expr_worked_examples():
    df = pl.DataFrame(
        {
            "r": [c("1,234.50"), c("123.45"), c("123.46"), c("123.47"), 5],
            "e": [c("123.45"), c("1,234.56"), c("1,234.56"), c("1,234.56"), 5],
        }
    )
    got = df.select(decimal_shift_expr(pl.col("r"), pl.col("e"))).to_series().to_list()
    assert got == ["× 10", "÷ 10", "÷ 10", None, None]
