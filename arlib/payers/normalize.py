"""Name normalisation: the exact, loose, prefix and spaced forms of company names, and
the normalised payer account."""

from __future__ import annotations

import polars as pl

_PUNCT = r"[\p{P}\p{S}\s]+"
_EN_SUFFIX = (
    r"(?:\s+(?:co|company|ltd|limited|inc|incorporated|llc|l\s?l\s?c|gmbh|corp|corporation"
    r"|plc|pte|pty|sa|ag|bv|kk|group))+\s*$"
)
_ZH_SUFFIX = r"(?:有限责任公司|股份有限公司|集团有限公司|有限公司|集团公司|公司|有限公|有限)$"


def nfkc(texts: pl.Series) -> pl.Series:
    """``texts`` in NFKC; an ASCII text is its own NFKC form, and (half the names) is not
    copied for it."""
    wide = (texts.str.len_bytes() != texts.str.len_chars()).arg_true()
    if wide.len() == 0:
        return texts
    return texts.clone().scatter(wide, texts.gather(wide).str.normalize("NFKC"))


def _empty_null(expr: pl.Expr) -> pl.Expr:
    """An empty text as null (``expr`` evaluated once, unlike a when/then on it)."""
    return expr.replace("", None)


def spaced_nf(s: pl.Expr) -> pl.Expr:
    """:func:`_spaced_expr` of a text already in NFKC."""
    return _unsuffixed(_spaced_runs(s))


def _spaced_runs(s: pl.Expr) -> pl.Expr:
    """Lower case, each run of punctuation, symbols and whitespace one space: the only
    whitespace left (so no later step needs a whitespace regex)."""
    return s.str.to_lowercase().str.replace_all(_PUNCT, " ")


def _unsuffixed(s: pl.Expr) -> pl.Expr:
    """:func:`_spaced_runs` stripped and its trailing company suffixes removed."""
    s = (" " + s.str.strip_chars()).str.replace(_EN_SUFFIX, "").str.strip_chars()
    return s.str.replace(_ZH_SUFFIX, "").str.strip_chars()


def _spaced_expr(expr: pl.Expr) -> pl.Expr:
    """Lower case, NFKC, punctuation to single spaces, trailing company suffixes removed."""
    return spaced_nf(expr.str.normalize("NFKC"))


def normalize_name_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression form of :func:`normalize_name` (vectorised)."""
    return _empty_null(_spaced_expr(expr).str.replace_all(" ", ""))


def normalize_name(name: str | None) -> str | None:
    """Normalise one company name, e.g. ``'ＡＣＭＥ Trading Co.,Ltd.'`` -> ``'acmetrading'``."""
    if name is None:
        return None
    return pl.select(normalize_name_expr(pl.lit(name, dtype=pl.String))).item()


def loose_nf(s: pl.Expr) -> pl.Expr:
    """:func:`_loose_text` of a text already in NFKC."""
    s = s.str.replace(r"^(.+?)\(\s*(\p{Han}{2,4})\s*\)(.*)$", "${2}${1}${3}")
    return s.str.replace(r"^(\p{Han}{2,3}?)市", "${1}")


def _loose_text(expr: pl.Expr) -> pl.Expr:
    return loose_nf(expr.str.normalize("NFKC"))


def loose_key_expr(expr: pl.Expr) -> pl.Expr:
    """The loose key: a parenthesised Chinese place moved to the front
    (``佳禾家电（厦门）有限公司`` -> ``厦门佳禾家电有限公司``), the ``市`` after a leading 2-3
    character city dropped, then :func:`normalize_name_expr`."""
    return normalize_name_expr(_loose_text(expr))


def plain_expr(expr: pl.Expr) -> pl.Expr:
    """Free text (a memo) for a name search: NFKC, lower case, punctuation and spaces
    removed, suffixes kept."""
    return plain_nf(expr.str.normalize("NFKC"))


def plain_nf(s: pl.Expr) -> pl.Expr:
    return _empty_null(s.str.to_lowercase().str.replace_all(_PUNCT, ""))


def name_forms(names: pl.Series) -> pl.DataFrame:
    """The forms of each of ``names`` (a frame in their order): ``norm``
    (:func:`normalize_name_expr`), ``loose`` (:func:`loose_key_expr`), ``prefix``
    (normalised like the loose key but with the company suffix kept: a truncated bank
    field keeps part of it, ``厦门市佳禾家电贸易有``) and ``spaced`` (:func:`_spaced_expr`).
    Each step is evaluated once (eager polars shares no sub-expression): the prefix is the
    spaced runs without their spaces, and the loose rules run only on the names they can
    change (a ``(`` or a ``市`` in them; else the loose key is ``norm``)."""
    d = pl.DataFrame({"_nf": nfkc(names.cast(pl.String))})
    d = d.with_columns(_spaced_runs(pl.col("_nf")).alias("_p"))
    d = d.with_columns(
        _unsuffixed(pl.col("_p")).alias("spaced"),
        _empty_null(pl.col("_p").str.replace_all(" ", "", literal=True)).alias("prefix"),
    )
    d = d.with_columns(
        _empty_null(pl.col("spaced").str.replace_all(" ", "", literal=True)).alias("norm")
    )
    maybe = d.select(
        pl.col("_nf").str.contains("(", literal=True)
        | pl.col("_nf").str.contains("市", literal=True)
    )
    maybe = maybe.to_series().arg_true()
    if maybe.len():
        moved = d.select(pl.col("_nf").gather(maybe)).with_columns(
            loose_nf(pl.col("_nf")).alias("_lt")
        )
        changed = moved.select(pl.col("_lt").ne_missing(pl.col("_nf"))).to_series()
        moved = moved.filter(changed).select(
            normalize_name_expr(pl.col("_lt")).alias("loose"),
            plain_nf(pl.col("_lt")).alias("prefix"),
        )
        at = maybe.filter(changed)
        d = d.with_columns(
            d.get_column(k).clone().scatter(at, moved.get_column(v)).alias(v)
            for k, v in (("norm", "loose"), ("prefix", "prefix"))
        )
    else:
        d = d.with_columns(pl.col("norm").alias("loose"))
    return d.select("norm", "loose", "prefix", "spaced")


def normalize_account_expr(expr: pl.Expr) -> pl.Expr:
    """A payer account without spaces and hyphens, upper case (NFKC first)."""
    return _account_nf(expr.str.normalize("NFKC"))


def normalize_account(accounts: pl.Series) -> pl.Series:
    """:func:`normalize_account_expr` of ``accounts``."""
    return pl.select(_account_nf(pl.lit(nfkc(accounts.cast(pl.String))))).to_series()


def _account_nf(s: pl.Expr) -> pl.Expr:
    return _empty_null(s.str.replace_all(r"[\s\-]+", "").str.to_uppercase())
