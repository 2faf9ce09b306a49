"""Text → typed values for money, dates and identifiers, as polars expressions.

Finance files write the same number many ways (``¥1,234.56``, ``RMB 1234.5``,
``(1,234.56)``, full-width digits, ``1.234,56`` in decimal-comma locales) and the same date
many ways (``2026/10/5``, ``2026年10月5日``, Excel serials). Every parser here is a pure
expression so that a million rows parse in polars, and each returns a null where the text
is not a valid value; the loader turns those nulls into findings that quote the raw text.
"""

from __future__ import annotations

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


def money_text(expr: pl.Expr, *, decimal_comma: bool = False) -> pl.Expr:
    """Normalise money text to a plain signed decimal string such as ``-1234.56``.

    Returns the canonical text (not yet validated): callers check it against
    :data:`MONEY_PATTERN` and the currency's decimals before casting.
    """
    text = clean_text(expr)
    text = text.str.replace_all(_CURRENCY_WORDS, "").str.replace_all(_CURRENCY_SIGNS, "")
    text = text.str.strip_chars()
    negative = (text.str.starts_with("(") & text.str.ends_with(")")) | text.str.ends_with("-")
    text = text.str.strip_chars("()").str.strip_chars_end("-").str.strip_chars()
    if decimal_comma:
        text = text.str.replace_all(r"[.\s']", "").str.replace(",", ".", literal=True)
    else:
        text = text.str.replace_all(r"[,\s']", "")
    text = text.str.strip_chars_start("+")
    return pl.when(negative & ~text.str.starts_with("-")).then("-" + text).otherwise(text)


MONEY_PATTERN = r"^-?\d+(\.\d+)?$"


def money_decimals(canonical: pl.Expr) -> pl.Expr:
    """Number of significant decimals in canonical money text (trailing zeros ignored)."""
    frac = canonical.str.extract(r"\.(\d+)$", 1).str.strip_chars_end("0")
    return frac.str.len_chars().fill_null(0)


def parse_money(expr: pl.Expr, *, decimal_comma: bool = False) -> pl.Expr:
    """Exact money (``pl.Decimal(38, 2)``) or null when the text is not a number.

    Values with more than two significant decimals are null here too; the loader reports
    them against the currency's own minor units.
    """
    canonical = money_text(expr, decimal_comma=decimal_comma)
    valid = canonical.str.contains(MONEY_PATTERN) & (money_decimals(canonical) <= 2)
    return pl.when(valid).then(canonical).otherwise(None).cast(MONEY, strict=False)


_EXCEL_EPOCH_DAYS = -25569  # 1899-12-30 relative to 1970-01-01


def parse_date(expr: pl.Expr, *, dayfirst: bool = False) -> pl.Expr:
    """A date from ISO, ``2026/10/5``, ``2026.10.05``, ``2026年10月5日``, day-first or
    month-first ``5/10/2026`` (per ``dayfirst``), or an Excel serial number.

    Impossible dates (2026-02-30) and anything else give null.
    """
    base = clean_text(expr)
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


def parse_id(expr: pl.Expr) -> pl.Expr:
    """Identifiers stay strings: full-width normalised, trimmed, leading zeros kept."""
    return clean_text(expr).str.replace(r"^(\d+)\.0+$", "${1}")


def parse_int(expr: pl.Expr) -> pl.Expr:
    return clean_text(expr).str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)


def parse_bool(expr: pl.Expr) -> pl.Expr:
    """Yes/no flags as users write them: 1/0, true/false, yes/no, y/n, 是/否."""
    text = clean_text(expr).str.to_lowercase()
    return (
        pl.when(text.is_in(["1", "true", "yes", "y", "是", "t", "x"]))
        .then(True)
        .when(text.is_in(["0", "false", "no", "n", "否", "f"]))
        .then(False)
        .otherwise(None)
    )
