"""Text → typed values for money, dates and identifiers, as polars expressions.

Finance files write the same number many ways (``¥1,234.56``, ``RMB 1234.5``,
``(1,234.56)``, full-width digits, ``1.234,56`` in decimal-comma locales) and the same date
many ways (``2026/10/5``, ``2026年10月5日``, Excel serials). Every parser here is a pure
expression so that a million rows parse in polars, and each returns a null where the text
is not a valid value; the loader turns those nulls into findings that quote the raw text.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from arlib.schema import MONEY

_CURRENCY_WORDS = (
    r"(?i)^(RMB|CNY|USD|EUR|HKD|GBP|JPY|US\$|HK\$)\s*|\s*(RMB|CNY|USD|EUR|HKD|GBP|JPY)$"
)
_CURRENCY_SIGNS = r"[¥$€£元]"


def clean_text(expr: pl.Expr) -> pl.Expr:
    """NFKC (full-width → half-width), trimmed; empty strings become null."""
    text = expr.cast(pl.String).str.normalize("NFKC").str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


# No amount, rate or date is longer than this; a longer cell is refused without running
# the number grammars over it (a 10 MB cell must not cost a minute).
MAX_VALUE_CHARS = 256


def bounded(expr: pl.Expr) -> pl.Expr:
    """``expr`` for parsing, with cells too long to be a value replaced by a marker that no
    parser reads (the raw text stays for the finding)."""
    return pl.when(expr.str.len_bytes() > MAX_VALUE_CHARS).then(pl.lit("\x00")).otherwise(expr)


# Most cells of a real file are already in canonical form: printable ASCII with no
# surrounding space, a plain decimal, an ISO date. The normalisation chain (NFKC, currency
# marks, sign forms, group separators) leaves such a cell as it is, yet at a million rows
# it is most of a load's cost; so these cells take a short path, proved equal to the full
# one (tests/test_parsing_fast_path.py), and only the others go the long way.
PLAIN_TEXT = r"^[!-~]([ -~]*[!-~])?$"  # clean_text leaves it unchanged
PLAIN_NUMBER = r"^-?[0-9]([0-9,.' ]*[0-9])?$"  # digits and separators, maybe a minus
PLAIN_DATE = r"^[0-9]{4}[-/.][0-9]{2}[-/.][0-9]{2}$"


def plain_text(expr: pl.Expr) -> pl.Expr:
    """True where :func:`clean_text` would return the cell unchanged."""
    return expr.cast(pl.String).str.contains(PLAIN_TEXT).fill_null(False)


def plain_number(expr: pl.Expr) -> pl.Expr:
    """True for a plain number (``-1234.5``, ``16,334.00``) short enough to be read: ASCII
    digits and separators, at most a leading minus, nothing around."""
    text = expr.cast(pl.String)
    plain = text.str.contains(PLAIN_NUMBER) & (text.str.len_bytes() <= MAX_VALUE_CHARS)
    return plain.fill_null(False)


def money_parts(expr: pl.Expr, *, plain: bool) -> list[pl.Expr]:
    """What the money reader needs of a cell: ``_body`` (:func:`money_body`), ``_negative``,
    ``_has_text`` (not empty once cleaned) and ``_mark`` (:func:`currency_mark`). With
    ``plain``, for cells :func:`plain_number` holds for: no marks, spaces or sign forms to
    take off."""
    if plain:
        return [
            expr.str.strip_prefix("-").alias("_body"),
            expr.str.starts_with("-").alias("_negative"),
            pl.lit(True).alias("_has_text"),
            pl.lit(None, pl.String).alias("_mark"),
        ]
    raw = bounded(expr)
    return [
        money_body(raw).alias("_body"),
        money_negative(raw).alias("_negative"),
        clean_text(expr).is_not_null().alias("_has_text"),
        currency_mark(raw).alias("_mark"),
    ]


def by_form(
    frame: pl.DataFrame, plain: pl.Expr, short: Sequence[pl.Expr], full: Sequence[pl.Expr]
) -> pl.DataFrame:
    """The columns ``short`` where ``plain`` holds and ``full`` elsewhere, in ``frame``'s
    row order. ``short`` must give what ``full`` gives on those rows; it is only cheaper.
    Each side is evaluated on its own rows only (``pl.when`` would evaluate both on all)."""
    mask = frame.select(plain.fill_null(False)).to_series()
    n_plain = int(mask.sum())
    row = pl.int_range(pl.len(), dtype=pl.UInt32).alias("_by_form_row")
    if n_plain in (0, frame.height):  # the row column makes literals full length
        return frame.select(row, *(short if n_plain else full)).drop("_by_form_row")
    indexed = frame.with_columns(row)
    parts = [
        indexed.filter(mask).select("_by_form_row", *short),
        indexed.filter(~mask).select("_by_form_row", *full),
    ]
    return pl.concat(parts).sort("_by_form_row").drop("_by_form_row")


# How a money cell may be written once signs and currency marks are gone. Under the
# decimal-point convention commas group thousands (``1,234,567.89``, or the Indian
# ``12,34,567.89``); under the decimal-comma convention dots do (``1.234.567,89``); in
# either, a space or an apostrophe may group them (``1 234,56``, Swiss ``1'234.50``). A
# group separator must sit between real groups: ``1,23``, ``77 30.77`` or ``0.138`` are no
# thousands. Digits are ASCII 0-9 (after NFKC turns full-width ones into them).
_SPACED = r"[1-9][0-9]{0,2}([ '][0-9]{3})+"
POINT_GRAMMAR = (
    rf"^([0-9]+|[1-9][0-9]{{0,2}}(,[0-9]{{3}})+|[1-9][0-9]?(,[0-9]{{2}})+,[0-9]{{3}}|{_SPACED})"
    r"(\.[0-9]+)?$"
)
COMMA_GRAMMAR = rf"^([0-9]+|[1-9][0-9]{{0,2}}(\.[0-9]{{3}})+|{_SPACED})(,[0-9]+)?$"
# Integer digits arlib holds exactly: below 10**15 units, so integer minor units (cents)
# and their sums stay far inside Int64 everywhere the engine counts in cents.
MAX_INTEGER_DIGITS = 15
# Characters NFKC would silently turn into digits although nobody writes an amount with
# them: superscripts (a footnote mark ``1234¹`` would read 12341), subscripts, circled and
# parenthesised numbers. A cell holding one is refused, not normalised.
_COMPATIBILITY_DIGITS = (
    r"[\u00B2\u00B3\u00B9\u2070-\u209F\u2460-\u24FF\u2776-\u2793\u3220-\u3229\u3280-\u3289]"
)

# The currency a cell names by a sign or code, and the currencies each may mean.
CURRENCY_MARKS: dict[str, tuple[str, ...]] = {
    "¥": ("CNY", "JPY"),
    "元": ("CNY",),
    "RMB": ("CNY",),
    "$": ("USD", "HKD", "AUD", "CAD", "SGD", "NZD", "TWD"),
    "US$": ("USD",),
    "HK$": ("HKD",),
    "€": ("EUR",),
    "£": ("GBP",),
    **{code: (code,) for code in ("CNY", "USD", "EUR", "HKD", "GBP", "JPY")},
}
_CURRENCY_MARK = r"(?i)(US\$|HK\$|RMB|CNY|USD|EUR|HKD|GBP|JPY|[¥$€£元])"


def currency_mark(expr: pl.Expr) -> pl.Expr:
    """The currency sign or code a money cell is written with (``$``, ``RMB``), or null."""
    return clean_text(expr).str.extract(_CURRENCY_MARK, 1).str.to_uppercase()


def mark_allows(mark: pl.Expr, currency: pl.Expr) -> pl.Expr:
    """False where a cell's currency mark cannot mean the row's currency (``$`` on a CNY
    row); true where it can or where either is missing."""
    allowed = mark.replace_strict(
        {m: "|" + "|".join(c) + "|" for m, c in CURRENCY_MARKS.items()},
        default=None,
        return_dtype=pl.String,
    )
    fits = allowed.str.contains(pl.lit("|") + currency + pl.lit("|"), literal=True)
    return fits.fill_null(True)


# A money cell's shape once currency marks are gone: at most one sign marker, which is a
# leading + or -, a trailing -, or accounting parentheses around the number.
_SIGNED = r"^(?<open>\()?(?<lead>[+-])?(?<number>[^()+-]*)(?<trail>-)?(?<close>\))?$"


def _signed_parts(expr: pl.Expr) -> pl.Expr:
    text = clean_text(expr)
    text = text.str.replace_all(_CURRENCY_WORDS, "").str.replace_all(_CURRENCY_SIGNS, "")
    text = text.str.strip_chars().str.replace(r"^\(\s+", "(").str.replace(r"\s+\)$", ")")
    return text.str.extract_groups(_SIGNED)


def money_body(expr: pl.Expr) -> pl.Expr:
    """The digits and separators of a money cell, with currency words and signs, the sign
    and parentheses removed (group spaces and apostrophes stay, for the grammar to check);
    null when empty. A cell with unbalanced parentheses, two sign markers or compatibility
    digits keeps its text, so it fits no number grammar and is reported."""
    text = clean_text(expr)
    text = text.str.replace_all(_CURRENCY_WORDS, "").str.replace_all(_CURRENCY_SIGNS, "")
    parts = _signed_parts(expr)
    opened = parts.struct.field("open").is_not_null()
    closed = parts.struct.field("close").is_not_null()
    markers = (
        opened.cast(pl.Int8)
        + (parts.struct.field("lead") == "-").fill_null(False).cast(pl.Int8)
        + parts.struct.field("trail").is_not_null().cast(pl.Int8)
    )
    matched = parts.struct.field("number").is_not_null()
    well_formed = matched & (opened == closed) & (markers <= 1)
    number = parts.struct.field("number").str.strip_chars()
    written = expr.cast(pl.String)
    compatibility = written.str.contains(_COMPATIBILITY_DIGITS).fill_null(False)
    return (
        pl.when(compatibility)
        .then(written)  # as written: it fits no grammar
        .when(well_formed.fill_null(False))
        .then(number)
        .otherwise(text.str.strip_chars())
    )


def money_negative(expr: pl.Expr) -> pl.Expr:
    """A leading or trailing minus, or accounting parentheses ``(1,234.56)``."""
    parts = _signed_parts(expr)
    return (
        parts.struct.field("open").is_not_null()
        | (parts.struct.field("lead") == "-").fill_null(False)
        | parts.struct.field("trail").is_not_null()
    )


def fits_point(body: pl.Expr) -> pl.Expr:
    """``body`` is a number under the decimal-point convention."""
    return body.str.contains(POINT_GRAMMAR)


def fits_comma(body: pl.Expr) -> pl.Expr:
    """``body`` is a number under the decimal-comma convention."""
    return body.str.contains(COMMA_GRAMMAR)


def money_canonical(expr: pl.Expr, *, decimal_comma: bool = False) -> pl.Expr:
    """Money text as a plain signed decimal string (``-1234.56``) under one convention,
    every written digit kept (``12.500`` stays ``12.500``); null when the text is not a
    number under that convention."""
    return canonical_from_body(money_body(expr), money_negative(expr), decimal_comma=decimal_comma)


def canonical_from_body(
    body: pl.Expr, negative: pl.Expr, *, decimal_comma: bool, fits: pl.Expr | None = None
) -> pl.Expr:
    """:func:`money_canonical` from an already extracted :func:`money_body` and sign;
    ``fits`` is the convention's grammar test of ``body`` when already evaluated."""
    grouped = body.str.replace_all(r"[ ']", "")
    if decimal_comma:
        plain = grouped.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
        fits = fits_comma(body) if fits is None else fits
    else:
        plain = grouped.str.replace_all(",", "", literal=True)
        fits = fits_point(body) if fits is None else fits
    signed = pl.when(negative).then("-" + plain).otherwise(plain)
    return pl.when(fits).then(signed)


def written_decimals(canonical: pl.Expr) -> pl.Expr:
    """Digits written after the decimal separator, trailing zeros included: ``12.500`` has
    three, because in text a trailing ``500`` may be a thousands group."""
    return canonical.str.extract(r"\.(\d+)$", 1).str.len_chars().fill_null(0)


def integer_digits(canonical: pl.Expr) -> pl.Expr:
    """Digits before the decimal separator, leading zeros ignored."""
    whole = canonical.str.extract(r"^-?(\d+)", 1).str.strip_chars_start("0")
    return whole.str.len_chars().fill_null(0)


# What :func:`canonical_from_body` returns where not null: ``-?[0-9]+(\.[0-9]+)?``. On such
# text the two counts above need no regex: the dot's position says both.
def canonical_decimals(canonical: pl.Expr) -> pl.Expr:
    """:func:`written_decimals` of :func:`canonical_from_body`'s text (0 where null)."""
    dot = canonical.str.find(".", literal=True)
    return (canonical.str.len_bytes() - dot - 1).fill_null(0)


def canonical_integer_digits(canonical: pl.Expr) -> pl.Expr:
    """:func:`integer_digits` of :func:`canonical_from_body`'s text (0 where null)."""
    whole = canonical.str.strip_chars_start("-0")
    return pl.coalesce(whole.str.find(".", literal=True), whole.str.len_bytes()).fill_null(0)


def parse_money(expr: pl.Expr, *, decimal_comma: bool = False, max_decimals: int = 2) -> pl.Expr:
    """Exact money (``pl.Decimal(38, 2)``) or null: null when the text is not a number
    under the convention, has more than ``max_decimals`` written decimals, or more integer
    digits than arlib holds. Loaders report each null with its reason
    (:func:`arlib.load.money_problems`); nothing is ever rounded."""
    canonical = money_canonical(expr, decimal_comma=decimal_comma)
    valid = (written_decimals(canonical) <= max_decimals) & (
        integer_digits(canonical) <= MAX_INTEGER_DIGITS
    )
    return pl.when(valid).then(canonical).cast(MONEY, strict=False)


def typed_number_text(expr: pl.Expr) -> pl.Expr:
    """A typed number (Parquet decimal or float, an integer) as plain text with the type's
    padding zeros dropped: a ``Decimal(38, 4)`` 12.5000 is the value 12.5, not a person
    writing four decimals. Floats in exponent form stay unreadable (reported)."""
    text = expr.cast(pl.String)
    return text.str.replace(r"(\.\d*?)0+$", "${1}").str.replace(r"\.$", "")


_EXCEL_EPOCH_DAYS = -25569  # 1899-12-30 relative to 1970-01-01


def _cleaned(expr: pl.Expr, normalise: bool) -> pl.Expr:
    """``clean_text(expr)``, or the text as it is for a cell known to be plain."""
    return clean_text(expr) if normalise else expr.cast(pl.String)


def parse_date(expr: pl.Expr, *, dayfirst: bool = False, normalise: bool = True) -> pl.Expr:
    """A date from ISO, ``2026/10/5``, ``2026.10.05``, ``2026年10月5日``, day-first or
    month-first ``5/10/2026`` (per ``dayfirst``), or an Excel serial number.

    Impossible dates (2026-02-30) and anything else give null. ``normalise=False`` skips
    :func:`clean_text` for cells that :func:`plain_text` holds for (the parsers below too).
    """
    base = _cleaned(expr, normalise)
    text = (
        base.str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "")
        .str.replace_all(r"[年月/.]", "-")
        .str.replace_all(r"[日号]$", "")
    )
    ymd = text.str.extract_groups(r"^(?<y>\d{4})-(?<m>\d{1,2})-(?<d>\d{1,2})$")
    other = text.str.extract_groups(r"^(?<a>\d{1,2})-(?<b>\d{1,2})-(?<y>\d{4})$")
    if dayfirst:
        day, month = other.struct.field("a"), other.struct.field("b")
    else:
        month, day = other.struct.field("a"), other.struct.field("b")

    def build(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
        iso = pl.concat_str([y, m.str.zfill(2), d.str.zfill(2)], separator="-")
        return iso.str.to_date("%Y-%m-%d", strict=False)

    serial = base.str.extract(r"^(\d{5})(\.0+)?$", 1).cast(pl.Int64, strict=False)
    from_serial = (serial + _EXCEL_EPOCH_DAYS).cast(pl.Date)
    return pl.coalesce(
        build(ymd.struct.field("y"), ymd.struct.field("m"), ymd.struct.field("d")),
        build(other.struct.field("y"), month, day),
        pl.when(serial.is_between(1, 2958465)).then(from_serial),
    )


def iso_date(expr: pl.Expr) -> pl.Expr:
    """:func:`parse_date` of a cell that :data:`PLAIN_DATE` matches (``2026/10/05``)."""
    return expr.str.replace_all(r"[/.]", "-").str.to_date("%Y-%m-%d", strict=False)


def parse_id(expr: pl.Expr, *, normalise: bool = True) -> pl.Expr:
    """Identifiers stay strings: full-width normalised, trimmed, leading zeros kept."""
    return _cleaned(expr, normalise).str.replace(r"^(\d+)\.0+$", "${1}")


def parse_int(expr: pl.Expr, *, normalise: bool = True) -> pl.Expr:
    return _cleaned(expr, normalise).str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)


def parse_bool(expr: pl.Expr, *, normalise: bool = True) -> pl.Expr:
    """Yes/no flags as users write them: 1/0, true/false, yes/no, y/n, 是/否."""
    text = _cleaned(expr, normalise).str.to_lowercase()
    return (
        pl.when(text.is_in(["1", "true", "yes", "y", "是", "t", "x"]))
        .then(True)
        .when(text.is_in(["0", "false", "no", "n", "否", "f"]))
        .then(False)
        .otherwise(None)
    )
