"""arlib.sheetxml writes the XML xlsxwriter writes: the same cells written cell by cell
with xlsxwriter's own write_* calls (as the workbook did before) give the same file,
byte for byte, for values chosen where a vectorised writer could slip (a float's 16th
digit, dates around Excel's 1900 leap day, integers past 2**53, control characters,
blanks at an edge, wide characters, strings past Excel's cell limit)."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from arlib.schema import FRACTION, MONEY, RATE, value_kind
from arlib.sheetxml import EDGE_SPACE, write_rows

OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "constant_memory": True,
}
FIRST = 2  # a title row and a header row come first, written by xlsxwriter


def _formats(book, width: int):
    plain = [book.add_format({"valign": "top", "num_format": f"0.{'0' * c}"}) for c in range(width)]
    marked = [book.add_format({"valign": "top", "bg_color": "#F8D7DA"}) for _ in range(width)]
    return list(zip(plain, marked, strict=True)), book.add_format({"underline": 1})


def _by_cell(ws, r, c, value, kind, style) -> None:
    """The cell-by-cell writer the workbook used before arlib.sheetxml."""
    if value is None:
        ws.write_blank(r, c, None, style)
    elif kind in ("money", "fraction", "rate"):
        ws.write_number(r, c, float(value), style)
    elif kind == "date":
        ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), style)
    elif kind in ("decimal", "integer", "number"):
        ws.write_number(r, c, float(value) if isinstance(value, Decimal) else value, style)
    elif kind == "bool":
        ws.write_boolean(r, c, bool(value), style)
    else:
        ws.write_string(r, c, str(value), style)


def _book(
    path: Path,
    frame: pl.DataFrame,
    vectorised: bool,
    *,
    marked=None,
    heights=None,
    extra=(),
    footer=True,
) -> Path:
    book = xlsxwriter.Workbook(path, OPTIONS)
    book.set_properties({"created": dt.datetime(2000, 1, 1)})
    ws = book.add_worksheet("Data")
    ws.write_string(0, 0, "title", book.add_format({"bold": True}))
    ws.set_row(1, 30)
    for c, name in enumerate(frame.columns):
        ws.write_string(1, c, name, book.add_format({"bold": True, "border": 1}))
    styles, link = _formats(book, frame.width)
    kinds = [value_kind(frame.schema[c]) for c in frame.columns]
    if vectorised:
        write_rows(
            ws,
            frame,
            FIRST,
            kinds=kinds,
            styles=styles,
            marked=marked,
            heights=heights,
            extra=list(extra),
            extra_format=link,
        )
    else:
        for i, values in enumerate(frame.iter_rows()):
            r = FIRST + i
            if heights is not None and heights[i] is not None:
                ws.set_row(r, heights[i])
            state = int(bool(marked[i])) if marked is not None else 0
            for c, value in enumerate(values):
                _by_cell(ws, r, c, value, kinds[c], styles[c][state])
            if i < len(extra) and extra[i] is not None:
                text, url = extra[i]
                if url is None:
                    ws.write_string(r, frame.width, text)
                else:
                    ws.write_url(r, frame.width, url, link, string=text)
    if footer:
        ws.write_string(FIRST + frame.height + 1, 0, "footer", book.add_format({"italic": True}))
    book.close()
    return path


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as book:
        return {name: book.read(name) for name in book.namelist()}


def _same(tmp_path: Path, frame: pl.DataFrame, **kwargs) -> None:
    before = _parts(_book(tmp_path / "by_cell.xlsx", frame, False, **kwargs))
    after = _parts(_book(tmp_path / "vectorised.xlsx", frame, True, **kwargs))
    assert after.keys() == before.keys()
    for name in before:
        assert after[name] == before[name], name


TEXTS = [
    "plain",
    "",
    None,
    " leading",
    "trailing\u3000",
    "\ttab",
    "two\nlines",
    "bell\x07 and \x1f unit separator",
    "_x0041_ stays literal",
    "non-character \ufffe\uffff",
    "escape & < > \" '",
    "上海浦东发展银行",
    "emoji 😀 beyond the BMP",
    '=HYPERLINK("http://x","y")',
    "x" * 40_000,
    "😀" * 20_000,
    "\xa0nbsp\x85",
]


def test_every_kind_of_value_is_written_as_xlsxwriter_writes_it(tmp_path):
    n = len(TEXTS)
    money = ["9.30", "0.10", "-1234567.89", "0", None, "99999999999.99", "0.07", "1.15"]
    frame = pl.DataFrame(
        {
            "text": TEXTS,
            "money": [Decimal(v) if v else None for v in (money * 3)[:n]],
            "rate": [
                Decimal("7.12345678"),
                Decimal("0.00000001"),
                None,
                *[Decimal("1.1")] * (n - 3),
            ],
            "fraction": [Decimal("0.005"), Decimal("0.333333"), *[None] * (n - 2)],
            "integer": [0, -5, 2**53 + 1, -(2**62), None, 10**16 + 1, *range(n - 6)],
            "count": [3, 0, None, *range(n - 3)],  # unsigned, as pl.len() and ranks give
            "number": [0.1 + 0.2, 1e-7, 1e20, None, -0.0, 1 / 3, 123.0, *[2.5] * (n - 7)],
            "date": [
                dt.date(1900, 1, 1),
                dt.date(1900, 2, 28),
                dt.date(1900, 3, 1),
                dt.date(1899, 12, 31),
                dt.date(1850, 6, 1),
                dt.date(2026, 10, 31),
                None,
                *[dt.date(2026, 1, 1)] * (n - 7),
            ],
            "flag": [True, False, None, *[True] * (n - 3)],
            "nothing": [None] * n,
            "decimal": [Decimal("12.5"), *[None] * (n - 1)],
        },
        schema_overrides={
            "money": MONEY,
            "rate": RATE,
            "fraction": FRACTION,
            "decimal": pl.Decimal(38, 3),
            "nothing": pl.Null,
            "count": pl.UInt32,
        },
    )
    _same(tmp_path, frame)


def test_marked_rows_heights_and_links_are_written_as_xlsxwriter_writes_them(tmp_path):
    frame = pl.DataFrame({"id": [f"I{i}" for i in range(6)], "amount": [1.5] * 6})
    marked = pl.Series([False, None, True, False, True, False])
    heights = pl.Series([None, 30, None, 45, 30, None])
    extra = [
        ("Lead row 9", "internal:'Data'!B9"),
        None,
        ("see params", None),
        ("AR-2 row 4", "internal:'Data'!A4"),
    ]
    _same(tmp_path, frame, marked=marked, heights=heights, extra=extra)
    _same(tmp_path, frame, marked=marked, heights=heights, extra=extra, footer=False)
    # the first marked row comes first: the marked formats are numbered first
    _same(tmp_path, frame, marked=~marked.fill_null(False))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=30),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=30),
)
def test_numbers_are_written_as_xlsxwriter_writes_them(tmp_path_factory, money, floats, ints):
    n = min(len(money), len(floats), len(ints))
    frame = pl.DataFrame(
        {"money": money[:n], "float": floats[:n], "int": ints[:n]},
        schema={"money": MONEY, "float": pl.Float64, "int": pl.Int64},
    )
    _same(tmp_path_factory.mktemp("numbers"), frame)


def test_rich_string_markup_stays_text(tmp_path):
    """xlsxwriter writes a string that looks like rich-text XML (``<r>...</r>``) into the
    file unescaped; a payer's name must stay text, so the writer escapes it."""
    frame = pl.DataFrame({"payer_name": ["<r><t>evil</t></r>", "<r>x</r>"]})
    path = _book(tmp_path / "book.xlsx", frame, True)
    ws = openpyxl.load_workbook(path)["Data"]
    assert [ws.cell(row=r, column=1).value for r in (3, 4)] == ["<r><t>evil</t></r>", "<r>x</r>"]


def test_edge_space_is_what_python_calls_space():
    """Every code point Python's ``\\s`` matches (xlsxwriter's test) is in EDGE_SPACE but
    \\x1c-\\x1f, which are escaped as control characters before the test."""
    python = {c for c in range(0x110000) if re.match(r"\s", chr(c))}
    ours = {c for c in range(0x110000) if re.fullmatch(EDGE_SPACE, chr(c))}
    assert ours == python - set(range(0x1C, 0x20))


def test_too_many_rows_is_an_error_not_lost_rows(tmp_path):
    book = xlsxwriter.Workbook(tmp_path / "big.xlsx", OPTIONS)
    ws = book.add_worksheet("Data")
    frame = pl.DataFrame({"n": [1, 2]})
    with pytest.raises(ValueError, match="do not fit"):
        write_rows(ws, frame, ws.xls_rowmax - 1, kinds=["integer"], styles=[(None, None)])
    book.close()
