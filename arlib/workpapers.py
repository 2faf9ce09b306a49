"""Excel workpapers: render a close's result objects into one auditable workbook.

Compute first, render second: every number here was computed (and tested) before this
module sees it. The workbook has an Index with workpaper references (AR-1, AR-2, ...),
money formats, frozen headers, filters and widths; overdue rows are highlighted. Cell text
is always written as text, so a payer name such as ``=HYPERLINK(...)`` can never become a
formula. Detail sheets stop at a row cap and name the CSV/Parquet with the full detail;
summaries, exceptions and aging are always complete.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import xlsxwriter

from arlib.schema import value_kind

EXCEL_MAX_ROWS = 1_048_576
# Number formats per kind of value (arlib.schema.value_kind): a loss rate 0.005 shows as
# 0.50 % (0.00125 as 0.125 %), an FX rate with up to its eight decimals, money to the cent.
PERCENT_FORMAT = "0.00##%"
RATE_FORMAT = "0.0000####"


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
        highlight: Column whose truthy value marks a row as overdue/attention (red fill).
        total_columns: Money columns to total at the bottom.
        total_by: The column naming each row's currency when the rows are in several:
            then there is one total row per currency (``Total CNY``, ``Total EUR``...),
            because money of different currencies is never added. Without it the sheet
            must be in one currency (base amounts are named ``*_base``), or writing fails.
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


def _plain(value):
    """Excel cell value: money as a number (cents are exact in a double up to 10^13)."""
    if isinstance(value, Decimal):
        return float(value)
    return value


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
    fmt = {
        "title": book.add_format({"bold": True, "font_size": 14}),
        "bold": book.add_format({"bold": True}),
        "head": book.add_format(
            {"bold": True, "bg_color": "#DDE4EE", "border": 1, "text_wrap": True}
        ),
        "money": book.add_format({"num_format": "#,##0.00;[Red]-#,##0.00"}),
        "money_total": book.add_format(
            {"num_format": "#,##0.00;[Red]-#,##0.00", "bold": True, "top": 1}
        ),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "fraction": book.add_format({"num_format": PERCENT_FORMAT}),
        "rate": book.add_format({"num_format": RATE_FORMAT}),
        "overdue": book.add_format({"bg_color": "#F8D7DA"}),
        "money_overdue": book.add_format(
            {"num_format": "#,##0.00;[Red]-#,##0.00", "bg_color": "#F8D7DA"}
        ),
        "date_overdue": book.add_format({"num_format": "yyyy-mm-dd", "bg_color": "#F8D7DA"}),
        "fraction_overdue": book.add_format({"num_format": PERCENT_FORMAT, "bg_color": "#F8D7DA"}),
        "rate_overdue": book.add_format({"num_format": RATE_FORMAT, "bg_color": "#F8D7DA"}),
        "note": book.add_format({"italic": True, "font_color": "#7A4B00"}),
    }
    index = book.add_worksheet("Index")
    written: dict[str, int] = {}
    for sheet in sheets:
        written[sheet.name] = _write_sheet(book, sheet, fmt, row_cap)
    _write_index(index, sheets, written, header, fmt)
    _write_signoff(book.add_worksheet("Sign-off"), signoff, header, fmt)
    book.close()
    return written


def _write_index(ws, sheets, written, header, fmt) -> None:
    ws.write_string(0, 0, header.get("Title", "AR reconciliation workpapers"), fmt["title"])
    row = 2
    for key, value in header.items():
        if key == "Title":
            continue
        ws.write_string(row, 0, key, fmt["bold"])
        ws.write_string(row, 1, str(value))
        row += 1
    row += 1
    for col, text in enumerate(["Ref", "Sheet", "Contents", "Rows", "Complete in workbook"]):
        ws.write_string(row, col, text, fmt["head"])
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
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 24)
    ws.set_column(2, 2, 60)
    ws.set_column(3, 4, 22)
    _print_setup(ws, "Index")


def _write_sheet(book, sheet: Sheet, fmt, row_cap: int) -> int:
    ws = book.add_worksheet(sheet.name[:31])
    frame = sheet.frame
    ws.write_string(0, 0, f"{sheet.ref}  {sheet.title}", fmt["title"])
    limit = frame.height if not sheet.capped else min(frame.height, row_cap)
    if limit < frame.height:
        ws.write_string(
            1,
            0,
            f"Showing the first {limit:,} of {frame.height:,} rows; the full detail is in "
            f"{sheet.full_detail}.",
            fmt["note"],
        )
    head_row = 2
    columns = frame.columns
    for col, name in enumerate(columns):
        ws.write_string(head_row, col, name, fmt["head"])
    kinds = [value_kind(frame.schema[c]) for c in columns]
    highlight = columns.index(sheet.highlight) if sheet.highlight in columns else None
    for i, values in enumerate(frame.head(limit).iter_rows()):
        r = head_row + 1 + i
        marked = highlight is not None and bool(values[highlight])
        for c, value in enumerate(values):
            _write_cell(ws, r, c, value, kinds[c], fmt, fmt["overdue"] if marked else None)
    last = head_row + limit
    if sheet.total_columns and limit == frame.height:
        for offset, (label, part) in enumerate(_total_groups(sheet), start=1):
            ws.write_string(last + offset, 0, label, fmt["bold"])
            for name in sheet.total_columns:
                if name in columns:
                    total = part[name].sum()
                    ws.write_number(
                        last + offset, columns.index(name), _plain(total) or 0, fmt["money_total"]
                    )
    _print_setup(ws, f"{sheet.ref} {sheet.title}", repeat_row=head_row)
    ws.freeze_panes(head_row + 1, 0)
    if columns:
        ws.autofilter(head_row, 0, max(last, head_row), len(columns) - 1)
    for c, name in enumerate(columns):
        sample = [len(str(v)) for v in frame[name].head(200).to_list() if v is not None]
        width = max([len(name) + 2, *(min(s, 60) + 2 for s in sample)])
        ws.set_column(c, c, min(max(width, 10), 62))
    return limit


def _total_groups(sheet: Sheet) -> list[tuple[str, pl.DataFrame]]:
    """(label, rows) per total row: one per currency with ``total_by``, else one.

    Raises ``ValueError`` rather than add money of different currencies into one total.
    """
    frame = sheet.frame
    if sheet.total_by is None:
        mixed = "currency" in frame.columns and frame["currency"].n_unique() > 1
        foreign = [c for c in sheet.total_columns if not c.endswith("_base")]
        if mixed and foreign:
            raise ValueError(
                f"{sheet.ref} {sheet.name}: a total of {foreign} would add different "
                "currencies; give the sheet total_by='currency'"
            )
        return [("Total", frame)]
    groups = []
    for currency in sorted(frame[sheet.total_by].unique().to_list(), key=lambda c: (c is None, c)):
        part = frame.filter(pl.col(sheet.total_by).eq_missing(currency))
        if all(part[c].null_count() == part.height for c in sheet.total_columns):
            continue  # rows without an amount (e.g. a pattern exception) have no total
        groups.append((f"Total {currency or '(no currency)'}", part))
    return groups


def _print_setup(ws, title: str, repeat_row: int | None = None) -> None:
    """Workpapers get printed: landscape, one page wide, headers repeated, ref in the footer."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    if repeat_row is not None:
        ws.repeat_rows(repeat_row)
    ws.set_footer(f"&L{title.replace('&', '&&')}&RPage &P of &N")


def _write_cell(ws, r, c, value, kind, fmt, fill) -> None:
    if value is None:
        ws.write_blank(r, c, None, fill)
        return
    if kind in ("money", "fraction", "rate"):
        ws.write_number(r, c, float(value), fmt[f"{kind}_overdue" if fill else kind])
    elif kind == "date":
        moment = dt.datetime.combine(value, dt.time())
        ws.write_datetime(r, c, moment, fmt["date_overdue" if fill else "date"])
    elif kind in ("decimal", "integer", "number"):
        ws.write_number(r, c, _plain(value), fill)
    elif kind == "bool":
        ws.write_boolean(r, c, bool(value), fill)
    else:
        ws.write_string(r, c, str(value), fill)


SIGNOFF_HEADER_ROW = 3  # zero-based: title, entity line, a blank row, then the table


def _write_signoff(ws, signoff, header, fmt) -> None:
    """The sign-off table (header row, then one row per section), laid out so that
    :func:`replace_signoff_table` can rewrite its rows after the close is published."""
    ws.write_string(0, 0, "Sign-off", fmt["title"])
    ws.write_string(1, 0, f"{header.get('Entity', '')} {header.get('Period', '')}".strip())
    head, *body = signoff
    for col, text in enumerate(head):
        ws.write_string(SIGNOFF_HEADER_ROW, col, text, fmt["head"])
    for i, row in enumerate(body, start=SIGNOFF_HEADER_ROW + 1):
        for col, text in enumerate(row):
            if text:
                ws.write_string(i, col, str(text), fmt["bold"] if col == 0 else None)
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
