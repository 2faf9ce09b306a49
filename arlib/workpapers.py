"""Excel workpapers: render a close's result objects into one auditable workbook.

Compute first, render second: every number here was computed (and tested) before this
module sees it. The workbook has an Index with workpaper references (AR-1, AR-2, ...),
money formats, headers in words (:func:`arlib.schema.column_words`, as in the notebooks),
frozen header rows, filters, widths that fit and long text wrapped; overdue rows are
highlighted. Cell text is always written as text, so a payer name such as
``=HYPERLINK(...)`` can never become a formula. Detail sheets stop at a row cap and name the
CSV/Parquet with the full detail; summaries, exceptions and aging are always complete.

Cross-references are what let an auditor follow a figure: a sheet's row may carry a
:class:`Ref` to the sheet and row (or total row) that supports it, written as a link, and
tick marks (:data:`TICK_MARKS`, explained on the Index and the Lead) say which check the
figure passed. Total rows show Σ beside their figures: they are the sums of the rows above.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from arlib.money import fmt_money
from arlib.schema import column_words, value_kind
from arlib.sheetxml import as_text, wide_characters, write_rows

EXCEL_MAX_ROWS = 1_048_576
HEAD_ROW = 2  # zero-based: the title, a note line, then the header
# Number formats per kind of value (arlib.schema.value_kind): a loss rate 0.005 shows as
# 0.50 % (0.00125 as 0.125 %), an FX rate with up to its eight decimals, money to the cent.
MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
PERCENT_FORMAT = "0.00##%"
RATE_FORMAT = "0.0000####"
# A total cell keeps its value a number and shows the footing tick beside it.
TOTAL_FORMAT = '#,##0.00" Σ";[Red]-#,##0.00" Σ"'
NUMBER_FORMATS = {
    "money": MONEY_FORMAT,
    "fraction": PERCENT_FORMAT,
    "rate": RATE_FORMAT,
    "date": "yyyy-mm-dd",
}
# Text longer than this (evidence, reasons, histories) wraps in a column this wide rather
# than running into the next column or being cut at the cell's edge.
WRAP_AT = 60
OVERDUE_FILL = "#F8D7DA"

# The tick marks used in the workbook and what each says was done; the Index and the Lead
# print this legend.
TICK_MARKS = (
    ("✓", "agreed to the supporting schedule named in Ref: the same figure, to the cent"),
    ("Σ", "footed: a total (or Σ) row is the sum of the rows above it"),
    ("⊕", "tied to the GL control balance (gl_control_balance in the params)"),
    ("◊", "recomputed from the lines named in Ref"),
    (
        "✗",
        "does not agree with its support or recomputation, or a difference that must be 0 "
        "is not: investigate before sign-off",
    ),
)


@dataclasses.dataclass(frozen=True)
class Subtotal:
    """A total row over part of a sheet (say one currency's cash allocations): ``label``
    in the first column, the sums of the sheet's total columns over the rows ``where``
    selects. It comes before the sheet's own total rows."""

    label: str
    where: pl.Expr


@dataclasses.dataclass(frozen=True)
class Ref:
    """Where a figure is supported: a total row of a sheet (``total``, its label), or
    rows of a sheet (``rows``, each named by the values of some of its columns, e.g.
    ``(("input", "invoices"), ("currency", "CNY"))``); ``column`` holds the figure, and
    ``less`` a column subtracted from it (a credit − debit balance). Several rows are the
    lines a figure is recomputed from."""

    sheet: str
    column: str
    total: str | None = None
    rows: tuple[tuple[tuple[str, Any], ...], ...] = ()
    less: str | None = None


@dataclasses.dataclass(frozen=True)
class Sheet:
    """One workpaper tab.

    Attributes:
        ref: Workpaper reference shown in the Index (``AR-1``).
        name: Sheet name (≤ 31 characters).
        title: What the sheet shows, one line.
        frame: The rows.
        capped: Whether the row cap applies (detail sheets); summaries are never capped.
        full_detail: Where the complete rows are when the cap cuts them (e.g. matches.csv).
        highlight: Boolean column whose true value marks a row as overdue/attention (red fill).
        total_columns: Money columns to total at the bottom.
        total_by: The column naming each row's currency when the rows are in several:
            then there is one total row per currency (``Total CNY``, ``Total EUR``...),
            because money of different currencies is never added, and a last ``Total`` of
            the base-currency columns (named ``*_base``). Without it the sheet must be in
            one currency (or total only base amounts), or writing fails.
        subtotals: Total rows over parts of the sheet, before its totals (:class:`Subtotal`).
        note: A line under the title (what the sheet ties to).
        refs: Per row of ``frame``, the :class:`Ref` supporting it, written in a last
            ``Ref`` column as a link to that cell; or a reference in words (a params key),
            or None.
        footnotes: Lines below the table (the Lead's tick-mark legend).
    """

    ref: str
    name: str
    title: str
    frame: pl.DataFrame
    capped: bool = False
    full_detail: str | None = None
    highlight: str | None = None
    total_columns: tuple[str, ...] = ()
    total_by: str | None = None
    subtotals: tuple[Subtotal, ...] = ()
    note: str | None = None
    refs: tuple[Ref | str | None, ...] = ()
    footnotes: tuple[str, ...] = ()


def _plain(value):
    """Excel cell value: money as a number (cents are exact in a double up to 10^13)."""
    if isinstance(value, Decimal):
        return float(value)
    return value


def total_rows(sheet: Sheet) -> list[tuple[str, dict[str, Any]]]:
    """(label, {column: sum}) of every total row of ``sheet``, in the order written: its
    subtotals, then one per currency with ``total_by`` (and a last ``Total`` of the base
    columns when there are several), else one ``Total``. The writer and :func:`ref_value`
    both read them here, so a Ref's figure is the one the sheet shows.

    Raises ``ValueError`` rather than add money of different currencies into one total.
    """
    frame = sheet.frame
    columns = [c for c in sheet.total_columns if c in frame.columns]
    if not columns:
        return []
    groups = [(s.label, frame.filter(s.where), columns) for s in sheet.subtotals]
    if sheet.total_by is None:
        groups.append(("Total", frame, columns))
    else:
        per_currency = []
        values = frame[sheet.total_by].unique().to_list()
        for currency in sorted(values, key=lambda c: (c is None, c)):
            part = frame.filter(pl.col(sheet.total_by).eq_missing(currency))
            if all(part[c].null_count() == part.height for c in columns):
                continue  # rows without an amount (e.g. a pattern exception) have no total
            per_currency.append((f"Total {currency or '(no currency)'}", part, columns))
        groups += per_currency
        base = [c for c in columns if c.endswith("_base")]
        if base and len(per_currency) > 1:
            groups.append(("Total", frame, base))
    rows = []
    for label, part, summed in groups:
        mixed = "currency" in part.columns and part["currency"].n_unique() > 1
        foreign = [c for c in summed if not c.endswith("_base")]
        if mixed and foreign:
            raise ValueError(
                f"{sheet.ref} {sheet.name}: a total of {foreign} ({label}) would add "
                "different currencies; give the sheet total_by='currency'"
            )
        rows.append((label, {c: part[c].sum() for c in summed}))
    return rows


def row_index(sheet: Sheet, key: tuple[tuple[str, Any], ...]) -> int | None:
    """The position in ``sheet.frame`` of the first row with the values ``key`` names."""
    where = pl.lit(True)
    for column, value in key:
        where &= pl.col(column).eq_missing(value)
    found = sheet.frame.with_row_index("__row").filter(where)["__row"]
    return None if found.is_empty() else int(found[0])


def ref_value(sheet: Sheet, ref: Ref) -> Decimal | None:
    """The figure ``ref`` points at on ``sheet`` (its total row or single row), or None
    when it names none (a missing row, or several rows to recompute from)."""
    if ref.total is not None:
        values = dict(total_rows(sheet)).get(ref.total)
    elif len(ref.rows) == 1 and (i := row_index(sheet, ref.rows[0])) is not None:
        values = sheet.frame.row(i, named=True)
    else:
        values = None
    if values is None or values.get(ref.column) is None:
        return None
    less = values.get(ref.less) if ref.less else None
    return Decimal(str(values[ref.column])) - Decimal(str(less or 0))


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Where a sheet's rows land (zero-based worksheet rows), known before any is written
    so that another sheet's Ref can link to them."""

    sheet: Sheet
    limit: int  # data rows written (after the cap)
    totals: dict[str, int]  # total row label -> row

    def data_row(self, i: int) -> int | None:
        return HEAD_ROW + 1 + i if i < self.limit else None


def _layout(sheet: Sheet, row_cap: int) -> _Layout:
    frame = sheet.frame
    limit = frame.height if not sheet.capped else min(frame.height, row_cap)
    totals = {}
    if sheet.total_columns and limit == frame.height:
        first = HEAD_ROW + limit + 1
        totals = {label: first + i for i, (label, _) in enumerate(total_rows(sheet))}
    return _Layout(sheet, limit, totals)


def _ref_link(ref: Ref | str, layouts: dict[str, _Layout]) -> tuple[str, str | None]:
    """A Ref as the text a reader sees (``AR-2 Σ cash applied CNY``, ``AR-1.1 row 12``)
    and the internal link to its cell (None when the row cap left the cell out, or for a
    reference in words, such as to the params)."""
    if isinstance(ref, str):
        return ref, None
    target = layouts[ref.sheet]
    column = target.sheet.frame.columns.index(ref.column)
    less = f" ({column_words(ref.column)} − {column_words(ref.less)})" if ref.less else ""
    if ref.total is not None:
        row = target.totals.get(ref.total)
        where = "" if row is not None else f" (in {target.sheet.full_detail})"
        named = len(target.sheet.total_columns) > 1 and not ref.less
        which = f", {column_words(ref.column)}" if named else ""
        text = f"{ref.sheet} {ref.total}{which}{less}{where}"
        return text, None if row is None else _cell_url(target.sheet, row, column)
    rows = [row_index(target.sheet, key) for key in ref.rows]
    shown = [target.data_row(i) for i in rows if i is not None]
    if not shown or None in shown or len(shown) < len(rows):
        return f"{ref.sheet} (row not shown)", None
    numbers = sorted(r + 1 for r in shown)  # as Excel numbers its rows
    if len(numbers) == 1:
        text = f"{ref.sheet} row {numbers[0]}"
    elif numbers == list(range(numbers[0], numbers[-1] + 1)):
        text = f"{ref.sheet} rows {numbers[0]}–{numbers[-1]}"
    else:
        text = f"{ref.sheet} rows {', '.join(str(n) for n in numbers)}"
    return text + less, _cell_url(target.sheet, min(shown), column)


def _cell_url(sheet: Sheet, row: int, column: int) -> str:
    return f"internal:'{sheet.name[:31]}'!{xl_rowcol_to_cell(row, column)}"


def _formats(book):
    """One xlsxwriter format per distinct set of properties, made when first asked for."""
    made: dict[tuple, Any] = {}

    def get(**properties):
        key = tuple(sorted(properties.items()))
        if key not in made:
            made[key] = book.add_format(properties)
        return made[key]

    return get


def _cell_format(fmt, kind: str, *, overdue=False, wrap=False, centre=False):
    """A data cell's format: its kind's number format, the overdue fill, wrapping; every
    cell sits at the top, so a row whose reason wraps onto three lines still reads across."""
    properties: dict[str, Any] = {"valign": "top"}
    if centre:
        properties["align"] = "center"
    if kind in NUMBER_FORMATS:
        properties["num_format"] = NUMBER_FORMATS[kind]
    if overdue:
        properties["bg_color"] = OVERDUE_FILL
    if wrap:
        properties["text_wrap"] = True
    return fmt(**properties)


def write_workbook(
    path: Path,
    sheets: list[Sheet],
    *,
    header: dict[str, str],
    row_cap: int,
    signoff: list[list[str]],
) -> dict[str, int]:
    """Write the workbook; returns rows written per sheet (after any cap).

    Args:
        header: Entity, period, as-of, prepared-at lines printed above the Index.
        row_cap: Maximum detail rows on capped sheets.
        signoff: the Sign-off table: its header, then one row per workpaper section.
    """
    row_cap = min(row_cap, EXCEL_MAX_ROWS - 10)
    book = xlsxwriter.Workbook(
        path,
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            # rows go to disk as they are written: flat memory and no shared-string table
            # for a million-row close (every sheet is written top to bottom, once)
            "constant_memory": True,
        },
    )
    book.set_properties(
        {"title": header.get("Title", "AR workpapers"), "created": dt.datetime(2000, 1, 1)}
    )
    fmt = _formats(book)
    index = book.add_worksheet("Index")
    layouts = {sheet.ref: _layout(sheet, row_cap) for sheet in sheets}
    for sheet in sheets:
        _write_sheet(book, layouts[sheet.ref], layouts, fmt)
    written = {sheet.name: layouts[sheet.ref].limit for sheet in sheets}
    _write_index(index, sheets, written, header, fmt)
    _write_signoff(book.add_worksheet("Sign-off"), signoff, header, fmt)
    book.close()
    return written


def _write_index(ws, sheets, written, header, fmt) -> None:
    bold, head = fmt(bold=True), _head_format(fmt)
    ws.write_string(0, 0, header.get("Title", "AR reconciliation workpapers"), _title(fmt))
    row = 2
    for key, value in header.items():
        if key == "Title":
            continue
        ws.write_string(row, 0, key, bold)
        ws.write_string(row, 1, str(value))
        row += 1
    row += 1
    for col, text in enumerate(["Ref", "Sheet", "Contents", "Rows", "Complete in workbook"]):
        ws.write_string(row, col, text, head)
    for sheet in sheets:
        row += 1
        ws.write_string(row, 0, sheet.ref)
        ws.write_url(row, 1, f"internal:'{sheet.name}'!A1", string=sheet.name)
        ws.write_string(row, 2, sheet.title)
        ws.write_number(row, 3, sheet.frame.height)
        complete = written[sheet.name] >= sheet.frame.height
        ws.write_string(
            row, 4, "yes" if complete else f"first {written[sheet.name]:,}; see {sheet.full_detail}"
        )
    row += 2
    ws.write_string(row, 0, "Tick marks", bold)
    for mark, meaning in TICK_MARKS:
        row += 1
        ws.write_string(row, 0, mark, bold)
        ws.write_string(row, 1, meaning)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 24)
    ws.set_column(2, 2, max(_display_width(sheet.title) for sheet in sheets) + 2)
    ws.set_column(3, 3, 8)
    ws.set_column(4, 4, 22)
    _print_setup(ws, "Index")


def tick_legend() -> tuple[str, ...]:
    """The tick-mark legend as lines (``✓ agreed to ...``), for a sheet's footnotes."""
    return ("Tick marks:", *(f"{mark}  {meaning}" for mark, meaning in TICK_MARKS))


def _title(fmt):
    return fmt(bold=True, font_size=14)


def _head_format(fmt):
    return fmt(bold=True, bg_color="#DDE4EE", border=1, text_wrap=True, valign="top")


def _write_sheet(book, layout: _Layout, layouts: dict[str, _Layout], fmt) -> None:
    sheet = layout.sheet
    ws = book.add_worksheet(sheet.name[:31])
    frame = sheet.frame
    ws.write_string(0, 0, f"{sheet.ref}  {sheet.title}", _title(fmt))
    limit = layout.limit
    notes = [sheet.note] if sheet.note else []
    if limit < frame.height:
        notes.insert(
            0,
            f"Showing the first {limit:,} of {frame.height:,} rows; the full detail is in "
            f"{sheet.full_detail}.",
        )
    if notes:
        ws.write_string(1, 0, "  ".join(notes), fmt(italic=True, font_color="#7A4B00"))
    columns = frame.columns
    kinds = [value_kind(frame.schema[c]) for c in columns]
    widths, wraps = _widths(frame, kinds)
    totals = total_rows(sheet) if layout.totals else []
    for _, sums in totals:  # a total is wider than its rows, and shows " Σ" beside it
        for name, value in sums.items():
            at = columns.index(name)
            widths[at] = max(widths[at], len(f"{fmt_money(value or 0)} Σ") + 2)
    headers = [column_words(c) for c in columns]
    if sheet.refs:
        headers.append("Ref")
        widths.append(
            max((_display_width(_ref_link(r, layouts)[0]) for r in sheet.refs if r), default=8) + 2
        )
    ws.set_row(
        HEAD_ROW, LINE_HEIGHT * max(_lines(h, w) for h, w in zip(headers, widths, strict=True))
    )
    for col, text in enumerate(headers):
        ws.write_string(HEAD_ROW, col, text, _head_format(fmt))
    data = frame.head(limit)
    marked = data[sheet.highlight].cast(pl.Boolean) if sheet.highlight in columns else None
    styles = [
        tuple(
            _cell_format(fmt, kind, overdue=overdue, wrap=wrap, centre=name == "tick")
            for overdue in (False, True)
        )
        for name, kind, wrap in zip(columns, kinds, wraps, strict=True)
    ]
    wrapped = [(columns[c], widths[c]) for c, wrap in enumerate(wraps) if wrap]
    write_rows(
        ws,
        data,
        HEAD_ROW + 1,
        kinds=kinds,
        styles=styles,
        marked=marked,
        heights=_row_heights(data, wrapped),
        extra=[None if r is None else _ref_link(r, layouts) for r in sheet.refs[:limit]],
        extra_format=fmt(font_color="blue", underline=1),
    )
    last = HEAD_ROW + limit
    if totals:
        bold, total = fmt(bold=True), fmt(num_format=TOTAL_FORMAT, bold=True, top=1)
        for label, sums in totals:
            row = layout.totals[label]
            ws.write_string(row, 0, label, bold)
            for name, value in sums.items():
                ws.write_number(row, columns.index(name), _plain(value) or 0, total)
            last = row
    note = fmt(italic=True)
    for offset, text in enumerate(sheet.footnotes, start=2):
        ws.write_string(last + offset, 0, text, note)
    _print_setup(ws, f"{sheet.ref} {sheet.title}", repeat_row=HEAD_ROW)
    ws.freeze_panes(HEAD_ROW + 1, 0)
    if columns:
        ws.autofilter(HEAD_ROW, 0, max(HEAD_ROW + limit, HEAD_ROW), len(headers) - 1)
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)


LINE_HEIGHT = 15  # points per line of 11-point text


def _display_width(text: str) -> int:
    """Columns ``text`` takes in a cell: a Chinese character (East Asian wide) takes two."""
    if text.isascii():  # no wide character: one column each
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _row_heights(frame: pl.DataFrame, wrapped: list[tuple[str, int]]) -> pl.Series | None:
    """Per row, the height in points its wrapped cells need (a reader does not size rows),
    or None where one line is enough: :func:`_lines` over whole columns."""
    if not wrapped:
        return None
    counts = []
    for name, width in wrapped:
        text = as_text(frame[name])
        part = pl.element().str.len_chars()
        if (wide := wide_characters(text)) is not None:
            part = part + pl.element().str.count_matches(wide)
        room = max(width - 1, 1)
        lines = text.str.split("\n").list.eval(
            (0.9 * part.cast(pl.Float64) / room).ceil().clip(lower_bound=1)
        )
        counts.append(pl.lit(lines.list.sum()).fill_null(1))
    lines = pl.select(pl.max_horizontal(counts).cast(pl.Int64)).to_series()
    return pl.select(pl.when(lines > 1).then(LINE_HEIGHT * lines)).to_series()


def _lines(value, width: int) -> int:
    """Lines a text needs when wrapped in a column ``width`` wide. Column widths count the
    digit 0; prose in the default font averages about 0.9 of that, and the estimate keeps a
    character of slack, so a wrapped cell is never cut."""
    if value is None:
        return 1
    room = max(width - 1, 1)
    parts = str(value).split("\n")
    return sum(max(math.ceil(0.9 * _display_width(part) / room), 1) for part in parts)


def _widths(frame: pl.DataFrame, kinds: list[str]) -> tuple[list[int], list[bool]]:
    """Column widths that fit the values as shown (money with its separators, Chinese text
    at two columns a character) and whether a column wraps: prose longer than
    :data:`WRAP_AT` (evidence, reasons, histories) wraps at that width, while a long token
    without spaces (a SHA-256, a key) keeps its full width. A header in words wraps at
    its spaces rather than widening a column of short values."""
    widths, wraps = [], []
    for name, kind in zip(frame.columns, kinds, strict=True):
        values = [v for v in frame[name].head(200).to_list() if v is not None]
        if kind in ("money", "decimal", "number"):
            texts = [fmt_money(v) for v in values]
        elif kind == "date":
            texts = ["2026-01-01"] if values else []
        else:
            texts = [str(v) for v in values]
        longest = max((_display_width(t) for t in texts), default=0)
        wrap = kind == "text" and longest > WRAP_AT and any(" " in t for t in texts)
        header = max(len(word) for word in column_words(name).split())
        shown = WRAP_AT if wrap else max(longest, header)
        widths.append(min(max(shown, 8), 2 * WRAP_AT) + 2)
        wraps.append(wrap)
    return widths, wraps


def _print_setup(ws, title: str, repeat_row: int | None = None) -> None:
    """Workpapers get printed: landscape, one page wide, headers repeated, ref in the footer."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    if repeat_row is not None:
        ws.repeat_rows(repeat_row)
    ws.set_footer(f"&L{title.replace('&', '&&')}&RPage &P of &N")


SIGNOFF_HEADER_ROW = 3  # zero-based: title, entity line, a blank row, then the table


def _write_signoff(ws, signoff, header, fmt) -> None:
    """The sign-off table (header row, then one row per section), laid out so that
    :func:`replace_signoff_table` can rewrite its rows after the close is published."""
    ws.write_string(0, 0, "Sign-off", _title(fmt))
    ws.write_string(1, 0, f"{header.get('Entity', '')} {header.get('Period', '')}".strip())
    head, *body = signoff
    for col, text in enumerate(head):
        ws.write_string(SIGNOFF_HEADER_ROW, col, text, _head_format(fmt))
    for i, row in enumerate(body, start=SIGNOFF_HEADER_ROW + 1):
        for col, text in enumerate(row):
            if text:
                ws.write_string(i, col, str(text), fmt(bold=True) if col == 0 else None)
    ws.set_column(0, 0, 10)
    ws.set_column(1, 1, 24)
    ws.set_column(2, 5, 18)
    ws.set_column(6, 6, 60)
    _print_setup(ws, "Sign-off")


def replace_signoff_table(path: Path, table: list[list[str]]) -> None:
    """Rewrite the Sign-off sheet's table rows in a written workbook, leaving every other
    part byte for byte as it was (the workbook of a million-row close is not rebuilt to
    record a signature). Styles are those the sheet's own header and first column use."""
    import re
    import zipfile
    from xml.sax.saxutils import escape

    with zipfile.ZipFile(path) as book:
        workbook = book.read("xl/workbook.xml").decode("utf-8")
        rels = book.read("xl/_rels/workbook.xml.rels").decode("utf-8")
        rid = re.search(r'<sheet name="Sign-off" sheetId="\d+" r:id="(rId\d+)"', workbook).group(1)
        target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"', rels).group(1)
        part = f"xl/{target}"
        sheet = book.read(part).decode("utf-8")
        parts = [(info, book.read(info)) for info in book.infolist()]

    def style(cell: str) -> str:
        found = re.search(rf'<c r="{cell}" s="(\d+)"', sheet)
        return f' s="{found.group(1)}"' if found else ""

    first = SIGNOFF_HEADER_ROW + 1
    head_style, ref_style = style(f"A{first}"), style(f"A{first + 1}")
    rows = []
    for number, row in enumerate(table, start=first):
        cells = []
        for col, text in enumerate(row):
            if not text and number != first:
                continue
            look = head_style if number == first else ref_style if col == 0 else ""
            cells.append(
                f'<c r="{chr(65 + col)}{number}"{look} t="inlineStr">'
                f"<is><t>{escape(str(text))}</t></is></c>"
            )
        rows.append(f'<row r="{number}">{"".join(cells)}</row>')
    before = "".join(
        m.group(0)
        for m in re.finditer(r'<row r="(\d+)".*?</row>', sheet)
        if int(m.group(1)) < first
    )
    sheet = re.sub(
        r"<sheetData>.*</sheetData>",
        lambda _: f"<sheetData>{before}{''.join(rows)}</sheetData>",
        sheet,
    )
    last = first + len(table) - 1
    sheet = re.sub(
        r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{chr(64 + len(table[0]))}{last}"/>', sheet
    )
    temporary = path.with_name(f".{path.name}.signing")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info, data in parts:
            out.writestr(info, sheet.encode("utf-8") if info.filename == part else data)
    temporary.replace(path)
