"""Data problems as values, not exceptions.

Every loader and check returns findings instead of raising, so a user sees every problem
in one run. A finding names the file, the row as the user sees it in that file, the
column, the offending value and what was expected. ``severity`` is ``error`` (the close
cannot be trusted) or ``warning`` (shown and carried, but does not stop the run).
"""

from __future__ import annotations

import reprlib
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

FINDING_SCHEMA = {
    "severity": pl.String,
    "file": pl.String,
    "row": pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "rule": pl.String,
    "message": pl.String,
}


@dataclass(frozen=True)
class Finding:
    severity: str
    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.row}" if self.row is not None else "")
        col = f" {self.column}:" if self.column else ""
        val = f" {self.value!r}" if self.value is not None else ""
        return f"{where}:{col}{val} {self.message} [{self.severity}: {self.rule}]"


def _finding(severity, file, row, column, value, rule, message) -> Finding:
    """A finding whose value is quoted as a bounded excerpt."""
    shown = None if value is None else excerpt(str(value))
    return Finding(severity, str(file), row, column, shown, rule, message)


def error(file, row, column, value, rule, message) -> Finding:
    return _finding("error", file, row, column, value, rule, message)


def warning(file, row, column, value, rule, message) -> Finding:
    return _finding("warning", file, row, column, value, rule, message)


def to_frame(findings: list[Finding] | pl.DataFrame) -> pl.DataFrame:
    """Findings as a frame (stable order: errors first, then by file and row)."""
    if isinstance(findings, pl.DataFrame):
        df = findings
    else:
        df = pl.DataFrame([asdict(f) for f in findings], schema=FINDING_SCHEMA)
    return df.sort(
        [pl.col("severity") != "error", "file", "row", "column"],
        nulls_last=True,
        maintain_order=True,
    )


def concat(*parts: list[Finding] | pl.DataFrame) -> pl.DataFrame:
    """Join findings from several stages into one frame."""
    frames = [to_frame(p) for p in parts]
    if not frames:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    return to_frame(pl.concat(frames, how="vertical"))


# A finding quotes at most this much of a bad value: a 10 MB cell must not flood a terminal,
# a notebook or a workpaper.
VALUE_EXCERPT = 200


def excerpt(value: Any, limit: int = VALUE_EXCERPT) -> str | None:
    """``value`` as text (unquoted: names, paths, cells) cut to ``limit`` characters,
    saying how much was left out; None stays None."""
    if value is None:
        return None
    value = str(value)
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… ({len(value) - limit:,} more characters)"


def quote(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to about ``limit`` characters with the full length named.

    ``quote("2026-09-31")`` is ``'2026-09-31'``; a 10 MB cell is its first ``limit``
    characters and ``... (10,000,000 characters)``. Containers are cut element-wise
    (``reprlib``), so quoting a huge list costs no more than quoting a short one.
    """
    if isinstance(value, str | bytes):
        if len(value) <= limit:
            return repr(value)
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{value[:limit]!r}... ({len(value):,} {unit})"
    short = reprlib.Repr()
    short.maxstring = short.maxother = max(limit, 12)
    short.maxlevel = 3
    text = short.repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def excerpt_expr(value: pl.Expr, limit: int = VALUE_EXCERPT) -> pl.Expr:
    """:func:`excerpt` as a polars expression."""
    length = value.str.len_chars()
    cut = pl.concat_str(
        [
            value.str.slice(0, limit),
            pl.lit("… ("),
            (length - limit).cast(pl.String),
            pl.lit(" more characters)"),
        ]
    )
    return pl.when(length > limit).then(cut).otherwise(value)


def from_rows(
    df: pl.DataFrame,
    mask: pl.Expr,
    *,
    severity: str,
    column: str,
    rule: str | pl.Expr,
    message: str | pl.Expr,
) -> pl.DataFrame:
    """Vectorised findings: one per row of ``df`` where ``mask`` holds.

    ``df`` must carry ``source_file`` and ``source_row``; the finding's value is the
    row's ``column`` as text (or the raw text kept under ``_raw_<column>``), cut to
    :data:`VALUE_EXCERPT` characters. ``rule`` and ``message`` may be expressions on
    ``df``.
    """
    raw = f"_raw_{column}"
    value = pl.col(raw) if raw in df.columns else pl.col(column).cast(pl.String)
    text = message if isinstance(message, pl.Expr) else pl.lit(message)
    return df.filter(mask).select(
        pl.lit(severity).alias("severity"),
        pl.col("source_file").alias("file"),
        pl.col("source_row").alias("row"),
        pl.lit(column).alias("column"),
        excerpt_expr(value).alias("value"),
        (rule if isinstance(rule, pl.Expr) else pl.lit(rule)).cast(pl.String).alias("rule"),
        text.cast(pl.String).alias("message"),
    )


def from_checks(df: pl.DataFrame, checks) -> tuple[list[pl.DataFrame], pl.Expr]:
    """Error findings of a table of row checks ``(mask, column, rule, message)`` (see
    :func:`from_rows`), and the mask of the rows any of them refused (null counts as
    passed)."""
    found = [
        from_rows(df, mask.fill_null(False), severity="error", column=c, rule=r, message=m)
        for mask, c, r, m in checks
    ]
    bad = pl.lit(False)
    for mask, *_ in checks:
        bad = bad | mask.fill_null(False)
    return found, bad


def has_errors(findings: pl.DataFrame) -> bool:
    return findings.filter(pl.col("severity") == "error").height > 0
