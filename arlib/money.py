"""Money: one home for the conversions, the rounding and the formats every stage uses.

Canonical money is ``Decimal(38, 2)`` (:data:`arlib.schema.MONEY`): exact, two decimals
for every currency (a zero-decimal currency such as JPY is checked at load to have none
written). Where integers are faster (matching, candidate searches, keying errors) an
amount is held in *cents*: ``Int64`` = value × 100, again for every currency, so
``1234.56`` is ``123456`` and ``5000`` yen is ``500000``. Between the two the conversion
is exact; only values finer than a cent are rounded, always half-up (away from zero,
``ROUND_HALF_UP``), the same in Python and in polars (``half_away_from_zero``).

Each helper comes in the form its callers use: Python for values (``to_cents``,
``from_cents``, ``round_money``, ``fmt_money``), polars expressions for columns
(``cents_expr``, ``money_expr``, ``round_money_expr``, ``fmt_cents_expr``,
``currency_places_expr``).

Formats a person reads (evidence, workpapers, statements, notebooks): thousands
separators and two decimals, ``12,345.60`` (:func:`fmt_money`), or a currency's own
places when asked (``fmt_money(5000, currency="JPY")`` is ``5,000``). Machine text (the
reasons of matching) has no separators: ``-1234.56`` (:func:`fmt_cents`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import polars as pl

from arlib.schema import CURRENCY_DECIMALS, MONEY

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


# ------------------------------------------------------------------------ Python values
def to_decimal(value) -> Decimal:
    """Exact Decimal of a number as written: a Decimal as it is, a float by its shortest
    repr (``0.1`` is ``Decimal('0.1')``, not the binary expansion), ints and text as
    written (config values: YAML gives ints, floats or strings)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def round_money(value, places: int = 2) -> Decimal:
    """``value`` rounded half-up (away from zero) to ``places`` decimals, the cent by
    default: ``2.675`` -> ``2.68``, ``-0.125`` -> ``-0.13``."""
    d = to_decimal(value)
    with localcontext(prec=max(60, len(d.as_tuple().digits) + places + 2)):
        return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_cents(value, rounding: str = ROUND_HALF_UP) -> int:
    """Integer cents of an amount (``12.345`` -> ``1235``): exact for money, rounded
    half-up otherwise, or by ``rounding`` (``ROUND_CEILING``, ``ROUND_FLOOR``: a tolerance
    as the cents it is at most / at least)."""
    d = to_decimal(value)
    with localcontext(prec=max(60, len(d.as_tuple().digits) + 4)):
        return int((d * 100).to_integral_value(rounding=rounding))


def from_cents(cents: int) -> Decimal:
    """The money ``cents`` stands for, with two decimals: ``123456`` -> ``1234.56``,
    ``-5`` -> ``-0.05``, ``0`` -> ``0.00``."""
    return Decimal(int(cents)).scaleb(-2)


def currency_places(currency: str | None) -> int:
    """Decimals of ``currency`` (:data:`arlib.schema.CURRENCY_DECIMALS`: CNY/USD/EUR 2,
    JPY/KRW 0); 2 when unknown or not given."""
    return CURRENCY_DECIMALS.get((currency or "").strip().upper(), 2)


# ----------------------------------------------------------------------------- formats
def fmt_decimal(value, places: int = 2) -> str:
    """A number as a person reads it: thousands separators and ``places`` decimals,
    rounded half-up: ``1234567.891`` -> ``1,234,567.89``. Not-a-number stays as Python
    writes it (``NaN``, ``Infinity``)."""
    d = to_decimal(value)
    with localcontext(rounding=ROUND_HALF_UP):
        return f"{d:,.{places}f}"


def fmt_money(value, currency: str | None = None) -> str:
    """``12345.6`` -> ``12,345.60`` (evidence, statements, workpapers); ``None`` ->
    ``n/a``. Two decimals for every currency, as money is held, unless ``currency`` is
    given: then its own places (``fmt_money(5000, currency="JPY")`` -> ``5,000``)."""
    if value is None:
        return "n/a"
    return fmt_decimal(value, 2 if currency is None else currency_places(currency))


def fmt_cents(cents: int) -> str:
    """Cents as plain machine text, no separators: ``-123456`` -> ``-1234.56``."""
    c = int(cents)
    sign = "-" if c < 0 else ""
    c = abs(c)
    return f"{sign}{c // 100}.{c % 100:02d}"


def fmt_percent(fraction) -> str:
    """``0.005`` -> ``0.50 %``, ``0.00125`` -> ``0.125 %``: a rate as the percentage it is,
    every written digit kept (two decimals at least)."""
    percent = to_decimal(fraction) * 100
    places = max(2, -percent.normalize().as_tuple().exponent)
    return f"{percent:,.{places}f} %"


def fmt_rate(rate) -> str:
    """An FX rate with every digit it has (four decimals at least): ``7.12345678``,
    ``7.1000``, never rounded to cents like money."""
    value = to_decimal(rate)
    places = max(4, -value.normalize().as_tuple().exponent)
    return f"{value:.{places}f}"


# ------------------------------------------------------------------- polars expressions
def _expr(value: pl.Expr | str) -> pl.Expr:
    return pl.col(value) if isinstance(value, str) else value


def cents_expr(money: pl.Expr | str) -> pl.Expr:
    """A money column (or expression) as ``Int64`` cents. Exact: the value is cast to
    :data:`MONEY` first, which has two decimals (a finer input is rounded by that cast;
    loading refuses such values, see :func:`arlib.load.read_money`)."""
    return (_expr(money).cast(MONEY) * 100).cast(pl.Int64)


def money_expr(cents: pl.Expr | str) -> pl.Expr:
    """``Int64`` cents -> :data:`MONEY`, exactly (``123456`` -> ``1234.56``)."""
    return (_expr(cents).cast(pl.Int64).cast(MONEY) / 100).cast(MONEY)


def round_money_expr(value: pl.Expr | str) -> pl.Expr:
    """A Decimal expression rounded half-up (away from zero) to the cent, as
    :data:`MONEY`: the polars form of :func:`round_money` (an FX conversion
    ``amount × rate`` has up to ten decimals)."""
    return _expr(value).round(2, mode="half_away_from_zero").cast(MONEY)


def fmt_cents_expr(cents: pl.Expr | str) -> pl.Expr:
    """Cents as plain text (``-123456`` -> ``-1234.56``): the polars form of
    :func:`fmt_cents`."""
    return money_expr(cents).cast(pl.String)


def currency_places_expr(currency: pl.Expr | str) -> pl.Expr:
    """Decimals of each row's currency (``Int64``), 2 when unknown: the polars form of
    :func:`currency_places` for canonical (upper-case) codes."""
    return _expr(currency).replace_strict(CURRENCY_DECIMALS, default=2, return_dtype=pl.Int64)


def _grouped(whole: pl.Expr) -> pl.Expr:
    """Non-negative integers as text with thousands separators (``1234567`` -> ``1,234,567``):
    every three digits from the right, by reversing the text."""
    reversed_groups = whole.cast(pl.String).str.reverse().str.replace_all(r"(\d{3})", "${1},")
    return reversed_groups.str.strip_chars_end(",").str.reverse()


def fmt_money_expr(money: pl.Expr | str) -> pl.Expr:
    """A money column as :func:`fmt_money` writes it (``-12345.6`` -> ``-12,345.60``,
    null -> ``n/a``): the polars form, for evidence text built over many rows."""
    cents = cents_expr(money).cast(pl.Int128)
    whole, fraction = cents.abs() // 100, cents.abs() % 100
    text = pl.concat_str(
        pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        _grouped(whole),
        pl.lit("."),
        fraction.cast(pl.String).str.zfill(2),
    )
    return text.fill_null("n/a")


def fmt_ratio_pct_expr(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator × 100`` with two decimals, as Python formats that Decimal
    quotient (``f"{a / b * 100:.2f}"``: rounded half to even, the sign of the quotient kept
    on a zero, ``-0.00``); null where the denominator is 0 or null. Integer inputs (cents),
    exact in Int128."""
    n, d = numerator.cast(pl.Int128), denominator.cast(pl.Int128)
    scaled = n.abs() * 10_000
    quotient, rest = scaled // d.abs(), scaled % d.abs()
    up = (2 * rest > d.abs()) | ((2 * rest == d.abs()) & (quotient % 2 == 1))
    hundredths = quotient + up.cast(pl.Int128)
    negative = (n < 0) != (d < 0)
    text = pl.concat_str(
        pl.when(negative).then(pl.lit("-")).otherwise(pl.lit("")),
        (hundredths // 100).cast(pl.String),
        pl.lit("."),
        (hundredths % 100).cast(pl.String).str.zfill(2),
    )
    return pl.when(d.is_not_null() & (d != 0)).then(text)
