"""Keying errors: a received amount that is an expected amount keyed wrongly (录入错误).

One definition for every stage, in forms that give the same answer: :func:`keying_error`
for Python ints, :func:`keying_error_expr` for polars columns and :func:`is_keying_error_np`
(whether it is one, of any kind) for numpy arrays.
Both compare amounts in **cents** (value × 100, :mod:`arlib.money`), digit by digit of the
cents as written without leading zeros: ``1234.56`` is ``123456``, ``12.30`` is ``1230``.

The kinds, checked in this order (the first that holds is the answer):

1. ``decimal_shift``: the decimal point keyed in the wrong place, by a factor ``f`` of
   ``factors`` (10 and 100 unless a caller configures others). Received ``expected × f``
   exactly (``× f``: 1,234.50 for 123.45), or ``expected ÷ f`` cut to the cent either way,
   truncated or rounded (``÷ f``: 1,234.56 received as 123.45 or 123.46, or as 12.34 or
   12.35): in cents, ``floor(expected / f)`` or ``ceil(expected / f)``. Nothing else
   (123.47 for 1,234.56 is none of the kinds).
2. ``transposition``: the same number of digits, two adjacent (different) digits swapped:
   1,243.00 for 1,234.00, 1,234.65 for 1,234.56. A swap that would put a zero first is no
   amount as written, so it is none: the first two digits of 1.02 swapped are ``012``
   (0.12 received for 1.02 reads as its 0 dropped instead).
3. ``dropped_digit``: one digit of the expected amount left out, the rest in order:
   1,345.00 for 12,345.00. The rest is read as written: dropping the 1 of 10,234.00 leaves
   ``0234``, which no amount is written as, so 2.34 / 234.00 are not a dropped digit of it.
4. ``doubled_digit``: one digit of the expected amount keyed twice: 122,345.00 for
   12,345.00 (the 2 twice), 12,345.50 for 1,234.50 (the 5 twice).

Never an error: equal amounts, a zero or negative amount on either side (a keying error
is judged on two positive amounts; a refund or a credit is something else), a missing
one. Near misses are none of the kinds: 1,342 vs 1,234 moves three digits (not a swap of
two adjacent ones); 1,000.00 vs 1,000.01 is a rounding difference, not a shift; 10,000.00
vs 1,000.01 is not a shift either (× 10 would be 10,000.10).

**Precedence.** A transposition keeps the number of digits, a dropped digit loses one and
a doubled digit gains one, so those three never overlap; and a shift never keeps the
number of digits when a transposition could. A shift does overlap the other two: every
``÷ 10`` truncated to the cent drops the last digit (123.45 for 1,234.56), a ``÷ 10``
(or ``× 10``) of an amount ending in zero drops (doubles) a zero, and so 100.00 received
for 1,000.00 is both ``÷ 10`` and a dropped zero, 1,000.00 received for 100.00 both
``× 10`` and a doubled zero. Both are ``decimal_shift``: the shift names the amount's
size, which is what is wrong and what the customer is asked to confirm, it is the reading
the exception register has always given these pairs (so its types and evidence do not
change), and for amounts that end in zeros "which zero" carries no information. Hence the
order above.

Candidate searches (which invoices to compare at all) use :func:`transpositions` /
:func:`transpositions_expr` and :func:`shift_sources`: they list the amounts the exact
kinds can reach, so a join finds them before the check decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import polars as pl

KINDS = ("decimal_shift", "transposition", "dropped_digit", "doubled_digit")
SHIFT_FACTORS: tuple[int, ...] = (10, 100)
# an Int64 has at most 19 digits: the polars form tries every position of those
_MAX_DIGITS = 19


class KeyingError(NamedTuple):
    """What :func:`describe_keying_error` found: the kind and, in words, how (``× 10``,
    ``÷ 100``, ``digits 3-4 swapped``, ``digit 2 dropped``, ``digit 5 doubled``; digits
    counted from the left of the cents, 1 first)."""

    kind: str
    detail: str


def _factors(factors: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(f) for f in factors)
    if any(f < 2 for f in out):
        raise ValueError(f"decimal-shift factors must be whole numbers of 2 or more: {out}")
    return out


def decimal_shift(received_c: int, expected_c: int, factors: Sequence[int] = SHIFT_FACTORS):
    """``'× f'`` / ``'÷ f'`` when ``received_c`` is ``expected_c`` shifted by a factor of
    ``factors`` (the first that fits, in their order; see the module text), else None."""
    r, e = int(received_c), int(expected_c)
    if r <= 0 or e <= 0 or r == e:
        return None
    for f in _factors(factors):
        if r % f == 0 and r // f == e:
            return f"× {f}"
        if r in (e // f, -(-e // f)):
            return f"÷ {f}"
    return None


def _swapped_at(r: str, e: str) -> int | None:
    if len(r) != len(e):
        return None
    diff = [i for i in range(len(e)) if r[i] != e[i]]
    if len(diff) != 2 or diff[1] != diff[0] + 1:
        return None
    i, j = diff
    return i if (r[i], r[j]) == (e[j], e[i]) else None


def _dropped_at(short: str, long: str) -> int | None:
    """The position of ``long`` whose digit ``short`` lacks (the first such), else None."""
    if len(short) != len(long) - 1:
        return None
    for i in range(len(long)):
        if long[:i] + long[i + 1 :] == short:
            return i
    return None


def _doubled_at(long: str, short: str) -> int | None:
    """The position of ``short`` whose digit ``long`` has twice in a row (the first such),
    else None."""
    if len(long) != len(short) + 1:
        return None
    for i in range(len(short)):
        if short[: i + 1] + short[i] + short[i + 1 :] == long:
            return i
    return None


def describe_keying_error(
    received_c: int, expected_c: int, *, factors: Sequence[int] = SHIFT_FACTORS
) -> KeyingError | None:
    """The keying error ``received_c`` is of ``expected_c`` (both cents), kind and detail,
    by the precedence of the module text; None when it is none."""
    if received_c is None or expected_c is None:
        return None
    r, e = int(received_c), int(expected_c)
    if r <= 0 or e <= 0 or r == e:
        return None
    shift = decimal_shift(r, e, factors)
    if shift:
        return KeyingError("decimal_shift", shift)
    sr, se = str(r), str(e)
    at = _swapped_at(sr, se)
    if at is not None:
        return KeyingError("transposition", f"digits {at + 1}-{at + 2} swapped")
    at = _dropped_at(sr, se)
    if at is not None:
        return KeyingError("dropped_digit", f"digit {at + 1} dropped")
    at = _doubled_at(sr, se)
    if at is not None:
        return KeyingError("doubled_digit", f"digit {at + 1} doubled")
    return None


def keying_error(
    received_c: int, expected_c: int, *, factors: Sequence[int] = SHIFT_FACTORS
) -> str | None:
    """``decimal_shift``, ``transposition``, ``dropped_digit`` or ``doubled_digit`` when the
    received amount is the expected one keyed wrongly (both in cents), else None. See the
    module text for the definitions and their precedence."""
    found = describe_keying_error(received_c, expected_c, factors=factors)
    return None if found is None else found.kind


def keying_error_expr(
    received: pl.Expr, expected: pl.Expr, *, factors: Sequence[int] = SHIFT_FACTORS
) -> pl.Expr:
    """The polars form of :func:`keying_error` on two integer-cent expressions: the kind
    (``String``) or null, row by row, the same answer as the Python form (a property test
    holds them together).

    Integer arithmetic only, digit position by digit position (``10**k``, ``k`` from the
    right), and no step can overflow an ``Int64``: ``× f`` is tested as ``received ÷ f``;
    a swap of the digits ``k`` and ``k + 1`` changes an amount by ``(d_k − d_k+1) × 9 ×
    10**k``; dropping digit ``k`` leaves ``(x // 10**(k+1)) × 10**k + x % 10**k``, and a
    doubled digit is the received amount with one of two equal neighbours dropped. The
    digit counts decide what the text form sees as a leading zero."""
    r, e = received.cast(pl.Int64), expected.cast(pl.Int64)
    valid = (r > 0) & (e > 0) & (r != e)
    shift = _shift_expr(r, e, factors)
    powers = [10**k for k in range(_MAX_DIGITS)]

    def n_digits(x: pl.Expr) -> pl.Expr:
        return pl.sum_horizontal([(x >= p).cast(pl.Int64) for p in powers])

    def digit(x: pl.Expr, k: int) -> pl.Expr:
        return (x // powers[k]) % 10

    def without(x: pl.Expr, k: int) -> pl.Expr:
        """``x`` with its digit ``k`` dropped (the higher digits move down one place)."""
        high = x // powers[k + 1] * powers[k] if k + 1 < _MAX_DIGITS else pl.lit(0, pl.Int64)
        return high + x % powers[k]

    n_r, n_e = n_digits(r), n_digits(e)
    gap = r - e
    transposed = (n_r == n_e) & pl.any_horizontal(
        [gap == (digit(e, k) - digit(e, k + 1)) * (9 * powers[k]) for k in range(_MAX_DIGITS - 1)]
    )
    dropped = (n_r == n_e - 1) & pl.any_horizontal([r == without(e, k) for k in range(_MAX_DIGITS)])
    doubled = (n_r == n_e + 1) & pl.any_horizontal(
        [(digit(r, k) == digit(r, k + 1)) & (e == without(r, k)) for k in range(_MAX_DIGITS - 1)]
    )
    return (
        pl.when(valid & shift)
        .then(pl.lit("decimal_shift"))
        .when(valid & transposed)
        .then(pl.lit("transposition"))
        .when(valid & dropped)
        .then(pl.lit("dropped_digit"))
        .when(valid & doubled)
        .then(pl.lit("doubled_digit"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def _shift_expr(r: pl.Expr, e: pl.Expr, factors: Sequence[int]) -> pl.Expr:
    """Whether ``r`` is a decimal shift of ``e`` by one of ``factors`` (Int64 cents; the
    positive-and-different test is the caller's)."""
    shift = pl.lit(False)
    for f in _factors(factors):
        down = e // f
        up = down + (e % f != 0).cast(pl.Int64)
        shift = shift | ((r % f == 0) & (r // f == e)) | (r == down) | (r == up)
    return shift


def is_transposition_expr(
    received: pl.Expr,
    expected: pl.Expr,
    *,
    factors: Sequence[int] = SHIFT_FACTORS,
    max_digits: int = _MAX_DIGITS,
) -> pl.Expr:
    """``keying_error_expr(received, expected) == 'transposition'`` with the nulls of
    "none of the kinds" read as False (a property test holds them together), over the
    swap positions of amounts of up to ``max_digits`` digits (see :func:`most_digits`)
    instead of every kind over all 19: a candidate check asks only this. A shift still
    comes first. The swap of digits ``k`` and ``k + 1`` is the gap ``(d_k − d_k+1) × 9 ×
    10**k``; both amounts at least ``10**(k+1)`` keeps it inside the expected amount's
    digits and rules out a zero moved to the front (the received amount shorter)."""
    r, e = received.cast(pl.Int64), expected.cast(pl.Int64)
    powers = [10**k for k in range(min(max_digits, _MAX_DIGITS))]
    gap = r - e
    swapped = [
        (e >= powers[k + 1])
        & (r >= powers[k + 1])
        & (gap == ((e // powers[k]) % 10 - (e // powers[k + 1]) % 10) * (9 * powers[k]))
        for k in range(len(powers) - 1)
    ]
    if not swapped:
        return pl.lit(False)
    valid = (r > 0) & (e > 0) & (r != e)
    return valid & ~_shift_expr(r, e, factors) & pl.any_horizontal(swapped)


def most_digits(*cents: pl.Series) -> int:
    """The digit count of the largest absolute amount among ``cents`` (0 when there is
    none): the bound a caller passes to :func:`is_transposition_expr` or
    :func:`transpositions_expr` for the amounts it has."""
    top = max((int(s.abs().max() or 0) for s in cents), default=0)
    return len(str(top)) if top else 0


def decimal_shift_expr(
    received: pl.Expr, expected: pl.Expr, factors: Sequence[int] = SHIFT_FACTORS
) -> pl.Expr:
    """The polars form of :func:`decimal_shift` on two integer-cent expressions: ``× f`` /
    ``÷ f`` (the first factor that fits) or null, row by row (a property test holds them
    together): the detail the evidence of a ``decimal_shift`` names."""
    r, e = received.cast(pl.Int64), expected.cast(pl.Int64)
    out = pl.when(~((r > 0) & (e > 0) & (r != e))).then(pl.lit(None, pl.String))
    for f in _factors(factors):
        down = e // f
        up = down + (e % f != 0).cast(pl.Int64)
        out = (
            out.when((r % f == 0) & (r // f == e))
            .then(pl.lit(f"× {f}"))
            .when((r == down) | (r == up))
            .then(pl.lit(f"÷ {f}"))
        )
    return out.otherwise(pl.lit(None, pl.String))


def is_keying_error_np(
    received: np.ndarray, expected: np.ndarray, *, factors: Sequence[int] = SHIFT_FACTORS
) -> np.ndarray:
    """The numpy form of ``keying_error(received, expected) is not None`` on two arrays of
    integer cents, element by element (a property test holds them together): the same
    integer arithmetic as :func:`keying_error_expr`, over the digit positions the amounts
    have, so a few hundred thousand pairs take milliseconds."""
    r = np.asarray(received, dtype=np.int64)
    e = np.asarray(expected, dtype=np.int64)
    valid = (r > 0) & (e > 0) & (r != e)
    r, e = np.where(valid, r, 0), np.where(valid, e, 0)  # the rest is no error anyway
    found = np.zeros(valid.shape, dtype=bool)
    for f in _factors(factors):
        down = e // f
        found |= ((r % f == 0) & (r // f == e)) | (r == down) | (r == down + (e % f != 0))
    powers = [10**k for k in range(_MAX_DIGITS)]
    n_r = np.searchsorted(powers, r, side="right")  # digits, 0 for 0
    n_e = np.searchsorted(powers, e, side="right")
    top = int(max(n_r.max(initial=0), n_e.max(initial=0)))  # every amount < 10**top
    # x // 10**k for k = 0..top: digit k is its last digit; x without digit k is
    # x // 10**(k+1) * 10**k + x % 10**k
    q_r = [r // p for p in powers[:top]] + [np.zeros_like(r)]
    q_e = [e // p for p in powers[:top]] + [np.zeros_like(e)]
    same, shorter, longer = n_r == n_e, n_r == n_e - 1, n_r == n_e + 1
    gap = r - e
    for k in range(top):
        p = powers[k]
        found |= shorter & (r == q_e[k + 1] * p + (e - q_e[k] * p))
        if k + 1 < top:
            found |= same & (gap == (q_e[k] % 10 - q_e[k + 1] % 10) * (9 * p))
            doubled = (q_r[k] % 10 == q_r[k + 1] % 10) & (e == q_r[k + 1] * p + (r - q_r[k] * p))
            found |= longer & doubled
    return found & valid


# ------------------------------------------------------------------ candidate searches
def transpositions(cents: int) -> set[int]:
    """Every amount whose digits are ``|cents|`` with two adjacent, different digits
    swapped (none with a leading zero): exactly the amounts ``x`` with
    ``keying_error(x, |cents|) == 'transposition'`` (the relation is symmetric)."""
    s = str(abs(int(cents)))
    out = set()
    for k in range(len(s) - 1):
        if s[k] != s[k + 1]:
            t = s[:k] + s[k + 1] + s[k] + s[k + 2 :]
            if t[0] != "0":
                out.add(int(t))
    return out


def transpositions_expr(cents: pl.Expr, max_digits: int = _MAX_DIGITS) -> list[pl.Expr]:
    """The polars form of :func:`transpositions`: one ``Int64`` expression per swap
    position (null where that position has no swap), for amounts of up to ``max_digits``
    digits, to be gathered with ``pl.concat_list`` for a join."""
    s = cents.abs().cast(pl.String)
    out = []
    for i in range(max_digits - 1):
        a, b = s.str.slice(i, 1), s.str.slice(i + 1, 1)
        ok = (s.str.len_chars() > i + 1) & (a != b)
        if i == 0:
            ok = ok & (b != "0")
        swapped = pl.concat_str(s.str.slice(0, i), b, a, s.str.slice(i + 2))
        out.append(pl.when(ok).then(swapped.cast(pl.Int64)))
    return out


def transpositions_np(cents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The numpy form of :func:`transpositions` for an array of positive cents: (row,
    amount) pairs, every amount of ``transpositions(cents[row])`` that fits an Int64 (a
    test holds them together). Digit arithmetic: swapping the digits ``k`` and ``k + 1``
    (from the right) adds ``(d_k − d_k+1) × 9 × 10**k``."""
    x = np.asarray(cents, dtype=np.int64)
    powers = [10**k for k in range(_MAX_DIGITS)]
    n = np.searchsorted(powers, x, side="right")  # digits, 0 for an amount below 1
    rows, out = [], []
    for k in range(int(n.max(initial=0)) - 1):
        at = np.flatnonzero(n >= k + 2)
        v = x[at]
        low, high = v // powers[k] % 10, v // powers[k + 1] % 10
        gap = (low - high) * (9 * powers[k])
        # two different digits; a 0 moved to the front is no amount as written
        ok = (low != high) & ((n[at] > k + 2) | (low != 0)) & (gap <= 2**63 - 1 - v)
        rows.append(at[ok])
        out.append(v[ok] + gap[ok])
    none = np.zeros(0, dtype=np.int64)
    return (np.concatenate(rows), np.concatenate(out)) if rows else (none, none)


def shift_sources(
    received_c: int, factors: Sequence[int] = SHIFT_FACTORS
) -> tuple[set[int], list[tuple[int, int]]]:
    """The expected amounts ``received_c`` can be a decimal shift of: the exact ones
    (``received ÷ f`` when it divides: received is ``× f``) and, per factor, the closed
    range of expected amounts it is ``÷ f`` of (``received × f − (f − 1)`` to
    ``received × f + (f − 1)``), both in cents; empty for a received amount of 0 or less.
    An expected amount of these is a shift unless it equals the received one."""
    r = int(received_c)
    if r <= 0:
        return set(), []
    fs = _factors(factors)
    exact = {r // f for f in fs if r % f == 0}
    ranges = [(max(1, r * f - (f - 1)), r * f + (f - 1)) for f in fs]
    return exact, ranges
