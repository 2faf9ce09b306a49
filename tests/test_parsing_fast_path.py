"""The short path for cells in plain form gives exactly what the full normalisation gives.

:func:`arlib.parsing.by_form` sends plain cells (printable ASCII, plain numbers, ISO-like
dates) the short way; these tests hold each short path to the full one on the cells it
takes and on their near misses (which must go the long way), and hold the loader's output
to the one the full path alone gives.
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlib import parsing
from arlib.config import InputSpec
from arlib.load import canonicalise

NEAR_MISSES = [
    "1234.56",
    "-1234.56",
    "0",
    "-0",
    "007.50",
    "12.500",
    "1.234",
    "1234",
    " 1234.56",
    "1234.56 ",
    "+5",
    "--5",
    "-",
    ".5",
    "5.",
    "1e5",
    "1,234.56",
    "1.234,56",
    "-16,334.00",
    "1 234 567.00",
    "1'234.50",
    "1,,2",
    "12,34,567.89",
    "1234.56-",
    "12-34",
    "- 12",
    "１２３４.５６",
    "¥12.00",
    "12.00元",
    "(12.00)",
    "12.00-",
    "1234¹",
    "9" * 300,
    "9" * 16,
    "",
    "   ",
    "\t12",
    "2026-10-01",
    "2026/10/01",
    "2026.10.01",
    "2026-1-01",
    "2026-02-30",
    "2026-13-01",
    "２０２６-10-01",
    "2026-10-01 12:30",
    "2026年10月1日",
    "01/10/2026",
    "46000",
    "INV-0001",
    " INV-0001",
    "INV-0001\u3000",
    "inv 12.0",
    "00042.0",
    "ＩＮＶ-1",
    "é",
    "yes",
    "YES ",
    "是",
    None,
]


def _both(cells: list[str | None], plain: pl.Expr, short, full) -> tuple[pl.DataFrame, ...]:
    frame = pl.DataFrame({"s": cells}, schema={"s": pl.String})
    fast = parsing.by_form(frame, plain, [short.alias("v")], [full.alias("v")])
    return fast, frame.select(full.alias("v"))


@pytest.mark.parametrize(
    "parser",
    [
        lambda e, n: parsing.parse_id(e, normalise=n),
        lambda e, n: parsing.parse_int(parsing.bounded(e), normalise=n),
        lambda e, n: parsing.parse_bool(parsing.bounded(e), normalise=n),
        lambda e, n: parsing.parse_date(parsing.bounded(e), normalise=n),
        lambda e, n: parsing.parse_date(parsing.bounded(e), dayfirst=True, normalise=n),
        lambda e, n: parsing.clean_text(e) if n else e,
    ],
    ids=["id", "int", "bool", "date", "date-dayfirst", "text"],
)
def test_plain_text_short_path_equals_full(parser):
    col = pl.col("s")
    fast, full = _both(NEAR_MISSES, parsing.plain_text(col), parser(col, False), parser(col, True))
    assert fast.equals(full)


def test_plain_date_short_path_equals_full():
    col = pl.col("s")
    plain = col.str.contains(parsing.PLAIN_DATE)
    full_expr = parsing.parse_date(parsing.bounded(col))
    fast, full = _both(NEAR_MISSES, plain, parsing.iso_date(col), full_expr)
    assert fast.equals(full)
    taken = pl.DataFrame({"s": NEAR_MISSES}).filter(plain.fill_null(False))["s"].to_list()
    assert taken == ["2026-10-01", "2026/10/01", "2026.10.01", "2026-02-30", "2026-13-01"]


def test_plain_number_takes_only_plain_cells():
    frame = pl.DataFrame({"s": NEAR_MISSES}, schema={"s": pl.String})
    taken = frame.filter(parsing.plain_number(pl.col("s")))["s"].to_list()
    assert taken == [
        "1234.56",
        "-1234.56",
        "0",
        "-0",
        "007.50",
        "12.500",
        "1.234",
        "1234",
        "1,234.56",
        "1.234,56",
        "-16,334.00",
        "1 234 567.00",
        "1'234.50",
        "1,,2",
        "12,34,567.89",
        "9" * 16,
        "2026.10.01",  # digits and separators: the grammar refuses it on either path
        "46000",
        "00042.0",
    ]  # "9" * 300 is longer than any value and goes the long way, to be refused


def _load(cells: list[str | None], dates: list[str | None], full: bool, monkeypatch):
    """canonicalise an invoices frame; ``full`` forces every cell the long way."""
    if full:
        original = parsing.by_form
        monkeypatch.setattr(
            parsing,
            "by_form",
            lambda frame, plain, short, long: original(frame, pl.lit(False), short, long),
        )
    n = len(cells)
    raw = pl.DataFrame(
        {
            "invoice_id": [f"INV-{i}" if i % 3 else f" ＩＮＶ-{i} " for i in range(n)],
            "customer_id": ["C1"] * n,
            "invoice_date": dates,
            "due_date": dates,
            "amount": cells,
            "currency": [("CNY", "cny", "USD")[i % 3] for i in range(n)],
            "source_row": list(range(2, n + 2)),
        },
        schema_overrides={"amount": pl.String, "invoice_date": pl.String, "due_date": pl.String},
    )
    mapping = {c: c for c in raw.columns if c != "source_row"}
    frame, findings = canonicalise("invoices", raw, mapping, InputSpec(path="x.csv"), "x.csv")
    if full:
        monkeypatch.undo()
    return frame, findings


def test_loader_output_equals_the_full_path(monkeypatch):
    cells = NEAR_MISSES
    dates = list(reversed(NEAR_MISSES))
    fast = _load(cells, dates, full=False, monkeypatch=monkeypatch)
    full = _load(cells, dates, full=True, monkeypatch=monkeypatch)
    assert fast[0].equals(full[0])
    assert fast[1].equals(full[1])
    assert full[1].height > 20  # the near misses are refused with their reasons


_CHARS = st.sampled_from(list("0123456789-.,'+ ()¥$元１２．，") + ["RMB", "12", "\u3000"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(_CHARS, max_size=8).map("".join)), min_size=1))
def test_money_by_form_equals_full_path_on_any_cells(cells):
    """read_money's parts on random money-like cells, short path allowed vs forbidden."""
    col = pl.col("s")
    short = parsing.money_parts(col, plain=True)
    full = parsing.money_parts(col, plain=False)
    frame = pl.DataFrame({"s": cells}, schema={"s": pl.String})
    fast = parsing.by_form(frame, parsing.plain_number(col), short, full)
    assert fast.equals(frame.select(full))


@pytest.mark.parametrize("decimal_comma", [False, True])
def test_canonical_counts_equal_the_regex_counts(decimal_comma):
    """The dot-position counts on canonical text give what the regex counts give."""
    cells = [*NEAR_MISSES, "-0.000", "000", "0.5", "-00012.30", "1.234.567,891", "9" * 20 + ".1"]
    body, negative = parsing.money_body(pl.col("s")), parsing.money_negative(pl.col("s"))
    canonical = parsing.canonical_from_body(body, negative, decimal_comma=decimal_comma)
    frame = pl.DataFrame({"s": cells}, schema={"s": pl.String}).select(canonical.alias("c"))
    c = pl.col("c")
    counts = frame.select(
        parsing.canonical_decimals(c).alias("fast_decimals"),
        parsing.written_decimals(c).alias("decimals"),
        parsing.canonical_integer_digits(c).alias("fast_digits"),
        parsing.integer_digits(c).alias("digits"),
    )
    assert counts["fast_decimals"].to_list() == counts["decimals"].to_list()
    assert counts["fast_digits"].to_list() == counts["digits"].to_list()
    assert frame["c"].null_count() < frame.height  # some cells read: the counts are tested
    assert counts["digits"].max() >= 20 and counts["decimals"].max() == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(_CHARS, max_size=10).map("".join)), min_size=1))
def test_canonical_counts_on_any_cells(cells):
    body, negative = parsing.money_body(pl.col("s")), parsing.money_negative(pl.col("s"))
    canonical = parsing.canonical_from_body(body, negative, decimal_comma=False)
    frame = pl.DataFrame({"s": cells}, schema={"s": pl.String}).select(canonical.alias("c"))
    c = pl.col("c")
    assert frame.select(parsing.canonical_decimals(c)).to_series().to_list() == (
        frame.select(parsing.written_decimals(c)).to_series().to_list()
    )
    assert frame.select(parsing.canonical_integer_digits(c)).to_series().to_list() == (
        frame.select(parsing.integer_digits(c)).to_series().to_list()
    )
