"""A worksheet's data rows as XML built by polars over whole columns, for xlsxwriter.

xlsxwriter writes a cell in about 10 µs of Python; the exceptions and aging sheets of a
million-invoice close are complete (every row an auditor must see), some twelve million
cells, so writing them cell by cell took minutes. Here each column becomes its cells' XML
in one polars expression, and a block of rows goes into the worksheet's row stream
(xlsxwriter's ``constant_memory`` mode writes rows to disk in order) as one string. The
XML is the one xlsxwriter writes for those cells, byte for byte: the same cell
references, style numbers, in-line strings with the same escapes (control characters as
``_xHHHH_``, ``xml:space="preserve"`` on edge blanks), numbers as ``%.16G`` of the value as
a float, dates as Excel serial days, row heights; and the same hyperlink records and sheet
dimensions. ``tests/test_sheetxml.py`` writes the same cells with xlsxwriter and compares.

This leans on a few xlsxwriter internals of the ``constant_memory`` stream (the row
stream ``fh``, ``previous_row``, ``_write_single_row``, ``_check_dimensions``,
``ignore_write_string`` and ``Format._get_xf_index``), which that test pins down.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

import polars as pl
from xlsxwriter.utility import xl_col_to_name

CHUNK_ROWS = 20_000  # rows turned into one string at a time (bounds the memory)
NUMBER_KINDS = ("money", "fraction", "rate", "decimal", "integer", "number")
# What Python's ``\s`` matches (xlsxwriter's test for a blank at a string's edge), less
# \x1c-\x1f, which are escaped as control characters before that test.
EDGE_SPACE = "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
CONTROL = "[\x00-\x08\x0b-\x1f]"
STRING_MAX = 32_767  # UTF-16 units in a cell, as xlsxwriter truncates
EXACT_INT = 2**53  # integers below this are exact as a float, so %.16G shows their digits
# Days from 1899-12-31 (Excel's day 0) to 1970-01-01 (polars' day 0).
EXCEL_DAY_1970 = (dt.date(1970, 1, 1) - dt.date(1899, 12, 31)).days


def as_text(series: pl.Series) -> pl.Series:
    """``str(value)`` of every value (None stays None), as the cell text."""
    if series.dtype in (pl.String, pl.Null):
        return series.cast(pl.String)
    if isinstance(series.dtype, (pl.Categorical, pl.Enum)):
        return series.cast(pl.String)
    return pl.Series(
        series.name, [None if v is None else str(v) for v in series.to_list()], pl.String
    )


def wide_characters(texts: pl.Series) -> str | None:
    """A regex class of the East Asian wide characters (two columns each) in ``texts``, or
    None when there are none. Only the distinct non-ASCII characters present are asked."""
    found = texts.str.extract_all(r"[^\x00-\x7f]").explode().drop_nulls().unique()
    wide = sorted(c for c in found.to_list() if unicodedata.east_asian_width(c) in "WF")
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in wide) + "]" if wide else None


def _strings(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(the escaped text, its ``<t>`` attribute) of in-line strings as xlsxwriter writes
    them: cut to Excel's limit, control characters as ``_xHHHH_`` (and a literal
    ``_xHHHH_`` kept literal), blanks at an edge preserved, ``& < >`` escaped. Each escape
    runs only on a column that needs it."""
    text = as_text(series)
    if (text.str.len_chars() > STRING_MAX // 2).any():  # rare: only then Python
        from xlsxwriter.utility import _utf16_len, _utf16_truncate

        text = pl.Series(
            text.name,
            [
                v if v is None or _utf16_len(v) <= STRING_MAX else _utf16_truncate(v, STRING_MAX)
                for v in text.to_list()
            ],
            pl.String,
        )
    if text.str.contains(r"_x[0-9a-fA-F]{4}_").any():
        text = text.str.replace_all(r"(_x[0-9a-fA-F]{4}_)", "_x005F${1}")
    if text.str.contains(f"{CONTROL}|\ufffe|\uffff").any():
        for code in [*range(0x00, 0x09), *range(0x0B, 0x20), 0xFFFE, 0xFFFF]:
            text = text.str.replace_all(chr(code), f"_x{code:04X}_", literal=True)
    preserve = text.str.contains(f"^{EDGE_SPACE}|{EDGE_SPACE}$")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        if text.str.contains(char, literal=True).any():
            text = text.str.replace_all(char, entity, literal=True)
    attribute = pl.select(
        pl.when(pl.lit(preserve)).then(pl.lit(' xml:space="preserve"')).otherwise(pl.lit(""))
    ).to_series()
    return text, attribute


def _numbers(series: pl.Series) -> pl.Series:
    """``%.16G`` of each value as a float (what xlsxwriter writes): polars' own digits for
    integers exact in a float, Python's formatting otherwise (a float's 16 significant
    digits, e.g. 9.300000000000001 for 9.30, are not polars' shortest form)."""
    if series.dtype.is_integer():
        wide = series.cast(pl.Int128)  # an unsigned or narrow column compares without overflow
        inside = series.is_null() | ((wide > -EXACT_INT) & (wide < EXACT_INT))
        if inside.all():
            return series.cast(pl.String)
    values = series.cast(pl.Float64)
    if (values.is_nan() | values.is_infinite()).any():
        raise ValueError(f"column {series.name}: NaN or infinity cannot be written to Excel")
    return pl.Series(
        series.name, [None if v is None else f"{v:.16G}" for v in values.to_list()], pl.String
    )


def _dates(series: pl.Series) -> pl.Series:
    """Excel serial days: 1900-01-01 is day 0 as xlsxwriter counts it, and Excel's 29
    February 1900 (day 60) is skipped."""
    days = series.cast(pl.Int64) + EXCEL_DAY_1970
    days = pl.select(
        pl.when(days == 1).then(0).when(days > 59).then(days + 1).otherwise(days)
    ).to_series()
    return days.cast(pl.String)


def _values(series: pl.Series, kind: str) -> dict[str, Any]:
    """A column's cells as pieces: ``v`` the value text, ``open`` what comes between the
    style and it, ``t`` (strings) the ``<t>`` attribute."""
    if kind in NUMBER_KINDS:
        return {"v": _numbers(series), "open": '"><v>'}
    if kind == "date":
        return {"v": _dates(series), "open": '"><v>'}
    if kind == "bool":
        return {"v": series.cast(pl.UInt8).cast(pl.String), "open": '" t="b"><v>'}
    text, attribute = _strings(series)
    return {"v": text, "t": attribute, "open": '" t="inlineStr"><is><t'}


def _cell(letters: str, name: str, pieces: dict[str, Any], style: pl.Expr | None) -> pl.Expr:
    """A cell's XML from the columns ``name`` + ``.v`` (+ ``.t``): ``<c r="B7" s="4"><v>12.5
    </v></c>``, a blank ``<c r="B7" s="4"/>``, a string ``<c r="B7" s="4" t="inlineStr">
    <is><t>...</t></is></c>``."""
    start = [pl.lit(f'<c r="{letters}'), pl.col("__row")]
    if style is not None:
        start += [pl.lit('" s="'), style]
    text = pl.col(f"{name}.v")
    if "t" in pieces:
        body = [pl.col(f"{name}.t"), pl.lit(">"), text, pl.lit("</t></is></c>")]
    else:
        body = [text, pl.lit("</v></c>")]
    body = pl.concat_str([pl.lit(pieces["open"]), *body])
    return pl.concat_str([*start, pl.when(text.is_null()).then(pl.lit('"/>')).otherwise(body)])


def _style_ids(styles, marked: pl.Series | None, link_row: int | None, link_format):
    """Number the formats in the order xlsxwriter would have met them (it numbers a format
    when it writes the first cell using it, row by row, left to right); returns each
    column's (plain, marked) number, None for a state no row is in."""
    if marked is None:
        first = {False: 0}
    else:
        first = {}
        for state, rows in ((False, (~marked).arg_true()), (True, marked.arg_true())):
            if not rows.is_empty():
                first[state] = int(rows[0])
    events = [
        (row, c, styles[c][state]) for state, row in first.items() for c in range(len(styles))
    ]
    if link_row is not None:
        events.append((link_row, len(styles), link_format))
    for _, _, fmt in sorted(events, key=lambda e: e[:2]):
        fmt._get_xf_index()
    return [
        tuple(
            styles[c][state]._get_xf_index() if state in first else None for state in (False, True)
        )
        for c in range(len(styles))
    ]


def _row_attributes(ws, heights: pl.Series) -> pl.Series:
    """The ``<row>`` attributes of a height in points, as xlsxwriter's set_row writes them."""
    attributes = {}
    for points in heights.drop_nulls().unique().to_list():
        pixels = int(points * 4.0 / 3.0 + 0.5)
        if pixels != ws.original_row_height or pixels != ws.default_row_height:
            attributes[points] = f' ht="{pixels * 0.75:.16g}" customHeight="1"'
    return heights.replace_strict(attributes, default="", return_dtype=pl.String).fill_null("")


def write_rows(
    ws,
    frame: pl.DataFrame,
    first_row: int,
    *,
    kinds: list[str],
    styles: list[tuple[Any, Any]],
    marked: pl.Series | None = None,
    heights: pl.Series | None = None,
    extra: list[tuple[str, str | None] | None] = (),
    extra_format=None,
) -> None:
    """Write ``frame``'s rows from worksheet row ``first_row`` on, every cell written (a
    None as a blank with its format), as xlsxwriter's write_* calls would.

    Args:
        kinds: Each column's :func:`arlib.schema.value_kind`.
        styles: Each column's (plain, marked) xlsxwriter format.
        marked: Per row, whether it takes the marked formats (None: every row plain).
        heights: Per row, its height in points, or None for the default.
        extra: Per row (or fewer), an extra last cell: (text, internal link or None).
        extra_format: The format of an extra cell with a link.
    """
    n = frame.height
    if n == 0 or frame.width == 0:
        return
    last_row = first_row + n - 1
    if last_row >= ws.xls_rowmax:
        raise ValueError(f"{ws.name}: {n:,} rows do not fit in one Excel sheet")
    if marked is not None:
        marked = marked.fill_null(False)
    has_extra = any(e is not None for e in extra)
    extra = list(extra) + [None] * (n - len(extra)) if has_extra else []
    links = [i for i, e in enumerate(extra) if e is not None and e[1] is not None]
    ws._write_single_row(first_row)  # the rows above go out first, as xlsxwriter's own
    ids = _style_ids(styles, marked, links[0] if links else None, extra_format)
    ws._check_dimensions(first_row, 0)
    ws._check_dimensions(last_row, frame.width - 1 + has_extra)
    ws.ignore_write_string = True  # write_url records the link; its cell is in the XML
    try:
        for i in links:
            ws.write_url(first_row + i, frame.width, extra[i][1], extra_format, string=extra[i][0])
    finally:
        ws.ignore_write_string = False
    link_style = str(extra_format._get_xf_index()) if links else None
    letters = [xl_col_to_name(c) for c in range(frame.width + 1)]
    attributes = _row_attributes(ws, heights) if heights is not None else None
    for start in range(0, n, CHUNK_ROWS):
        part = frame.slice(start, CHUNK_ROWS)
        numbers = pl.int_range(
            first_row + start + 1, first_row + start + 1 + part.height, eager=True
        )
        columns = {"__row": numbers.cast(pl.String)}
        if marked is not None:
            columns["__marked"] = marked.slice(start, CHUNK_ROWS)
        cells = []
        for c, name in enumerate(part.columns):
            pieces = _values(part[name], kinds[c])
            columns[f"{c}.v"] = pieces["v"]
            if "t" in pieces:
                columns[f"{c}.t"] = pieces["t"]
            plain, mark = ids[c]
            style = pl.lit(str(plain if plain is not None else mark))
            if plain is not None and mark is not None and plain != mark:
                style = pl.when(pl.col("__marked")).then(pl.lit(str(mark))).otherwise(style)
            cells.append(_cell(letters[c], str(c), pieces, style))
        if has_extra:
            chunk = extra[start : start + CHUNK_ROWS]
            texts = pl.Series([None if e is None else e[0] for e in chunk], dtype=pl.String)
            pieces = _values(texts, "text")
            columns["x.v"], columns["x.t"] = pieces["v"], pieces["t"]
            columns["x.s"] = pl.Series(
                [None if e is None or e[1] is None else link_style for e in chunk], dtype=pl.String
            )
            cells.append(
                pl.when(pl.col("x.v").is_null())
                .then(pl.lit(""))
                .when(pl.col("x.s").is_null())
                .then(_cell(letters[frame.width], "x", pieces, None))
                .otherwise(_cell(letters[frame.width], "x", pieces, pl.col("x.s")))
            )
        tall = pl.lit("")
        if attributes is not None:
            columns["__ht"] = attributes.slice(start, CHUNK_ROWS)
            tall = pl.col("__ht")
        row = pl.concat_str(
            [
                pl.lit('<row r="'),
                pl.col("__row"),
                pl.lit('"'),
                tall,
                pl.lit(">"),
                *cells,
                pl.lit("</row>"),
            ]
        )
        xml = pl.DataFrame(columns).select(row.str.join("").cast(pl.Binary)).item()
        ws.fh.flush()  # the UTF-8 bytes go straight to the file under the text stream
        ws.fh.buffer.write(xml)
    ws.previous_row = last_row
