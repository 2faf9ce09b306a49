"""arlib.keying.is_transposition_expr: the transposition-only check the candidate checks
use gives the same boolean as ``keying_error_expr(...) == "transposition"`` (nulls of "no
kind" read as False), a shift first, over the digits the amounts have."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arlib.keying import (
    is_transposition_expr,
    keying_error,
    keying_error_expr,
    most_digits,
    transpositions,
)

INT64_MAX = 2**63 - 1
SCHEMA = {"r": pl.Int64, "e": pl.Int64}


def assert_same_as_keying_error_expr(pairs, factors=(10, 100)) -> list[bool]:
    df = pl.DataFrame(pairs, schema=SCHEMA, orient="row")
    r, e = pl.col("r"), pl.col("e")
    digits = most_digits(df["r"], df["e"])
    got = df.select(
        new=is_transposition_expr(r, e, factors=factors, max_digits=digits),
        full=is_transposition_expr(r, e, factors=factors),
        old=(keying_error_expr(r, e, factors=factors) == "transposition").fill_null(False),
    )
    new, full, old = (got[c].fill_null(False).to_list() for c in ("new", "full", "old"))
    assert new == old, [(p, a, b) for p, a, b in zip(pairs, new, old, strict=True) if a != b]
    assert full == old
    # True or False wherever both amounts are there (a null only for a missing one)
    nulls = got["new"].is_null().to_list()
    both = [r is not None and e is not None for r, e in pairs]
    assert not any(n and b for n, b in zip(nulls, both, strict=True))
    return new


def test_worked_examples_and_edges():
    pairs = [
        (124300, 123400),  # 1,243.00 for 1,234.00
        (123465, 123456),  # 1,234.65 for 1,234.56
        (134200, 123400),  # three digits moved: no
        (12, 102),  # 0.12 for 1.02: the 0 dropped, not swapped to the front
        (21, 12),
        (12, 12),  # equal
        (0, 0),
        (0, 10),
        (10, 0),  # 01 is no amount
        (-21, 12),
        (21, -12),
        (-21, -12),
        (None, 12),
        (21, None),
        (None, None),
        (10**17 + 10**16, 10**17 + 10**15),  # digits 2-3 of an 18-digit amount
        (10**17, 10**16),  # a shift, and a zero moved: no swap
        (2 * 10**17 + 1, 10**17 * 2 + 10),
        (INT64_MAX, INT64_MAX),
        (INT64_MAX, INT64_MAX - 9),
        (9_223_372_036_854_775_780, 9_223_372_036_854_775_708),
        (1, 10),
        (98, 89),
    ]
    got = assert_same_as_keying_error_expr(pairs)
    assert got[:6] == [True, True, False, False, True, False]
    assert got[15] and got[-3] and got[-1]
    assert not (got[16] or got[-4])
    assert not any(got[6:15])


def test_a_shift_that_is_also_a_swap_is_a_shift():
    # with a factor of 2 or 3, 37 is 73 ÷ 2 and 14 is 41 ÷ 3: a decimal shift first
    pairs = [(37, 73), (14, 41), (28, 82)]
    for factors in ((2,), (3,), (2, 3)):
        kinds = [keying_error(r, e, factors=factors) for r, e in pairs]
        assert "decimal_shift" in kinds
        got = assert_same_as_keying_error_expr(pairs, factors)
        assert got == [k == "transposition" for k in kinds]
    assert assert_same_as_keying_error_expr(pairs) == [True, True, True]


def test_every_small_pair():
    pairs = [(r, e) for e in range(0, 400) for r in range(-2, 1200)]
    got = assert_same_as_keying_error_expr(pairs)
    assert sum(got) > 100
    assert_same_as_keying_error_expr(pairs, factors=(2, 3))


amounts = st.one_of(
    st.none(),
    st.integers(min_value=-10, max_value=10**6),
    st.integers(min_value=1, max_value=10**15),
    st.integers(min_value=10**16, max_value=10**17 + 10**16),
    st.integers(min_value=1, max_value=INT64_MAX),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(amounts, amounts), min_size=1, max_size=80),
    st.sampled_from([(10, 100), (100, 10), (2, 3), (2, 7, 1000)]),
)
def test_random_pairs_and_their_swaps(pairs, factors):
    # each drawn amount's own swaps too, so the True arm is met, not only chance (a swap
    # of an amount near the Int64 maximum can pass it: no amount column holds such a value)
    swaps = [(x, e) for _, e in pairs if e and e > 0 for x in sorted(transpositions(e))]
    pairs = pairs + [(x, e) for x, e in swaps if x <= INT64_MAX]
    assert_same_as_keying_error_expr(pairs, factors)


def test_most_digits():
    s = pl.Series([3, None, -12345], dtype=pl.Int64)
    assert most_digits(s, pl.Series([99], dtype=pl.Int64)) == 5
    assert most_digits(pl.Series([None, 0], dtype=pl.Int64)) == 0
    assert most_digits() == 0
