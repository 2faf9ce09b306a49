"""Whether two workbooks hold the same content: a speed change to the workbook writer must
leave what a reader sees as it was, whatever the bytes of the file.

Compares, sheet by sheet and in order: every cell's value and type, number format, font,
fill, border, alignment and hyperlink; row heights, column widths, freeze panes, the
autofilter, print setup (orientation, paper, fit to pages, repeated rows, footer), and the
workbook's defined names. Prints the first differences and exits 1 when there is any. Also
says whether every part of the two files (the zip's members) is byte for byte the same.

    .venv/bin/python benchmarks/workbook_content.py BEFORE.xlsx AFTER.xlsx
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import openpyxl


def _style(cell) -> tuple:
    font, fill, border, align = cell.font, cell.fill, cell.border, cell.alignment
    return (
        cell.number_format,
        (font.b, font.i, font.sz, font.u, font.color.rgb if font.color else None),
        (fill.patternType, fill.fgColor.rgb if fill.fgColor else None),
        tuple(getattr(border, side).style for side in ("left", "right", "top", "bottom")),
        (align.horizontal, align.vertical, align.wrap_text),
    )


def _link(cell) -> tuple | None:
    link = cell.hyperlink
    return None if link is None else (link.target, link.location, link.display)


def _cells(ws):
    for row in ws.iter_rows():
        for cell in row:
            yield cell.coordinate, (cell.value, cell.data_type, _style(cell), _link(cell))


def _sheet_setup(ws) -> dict:
    setup = ws.page_setup
    return {
        "freeze_panes": ws.freeze_panes,
        "autofilter": ws.auto_filter.ref,
        "orientation": setup.orientation,
        "paper": setup.paperSize,
        "fit": (ws.sheet_properties.pageSetUpPr.fitToPage, setup.fitToWidth, setup.fitToHeight),
        "print_title_rows": ws.print_title_rows,
        "footer": (ws.oddFooter.left.text, ws.oddFooter.right.text),
        "dimensions": ws.dimensions,
        "columns": {k: (d.width, d.min, d.max) for k, d in sorted(ws.column_dimensions.items())},
        "rows": {k: d.height for k, d in sorted(ws.row_dimensions.items()) if d.height},
    }


def differences(before: Path, after: Path, limit: int = 20) -> list[str]:
    """The first ``limit`` differences in content between two workbooks."""
    a, b = openpyxl.load_workbook(before), openpyxl.load_workbook(after)
    found = []
    if a.sheetnames != b.sheetnames:
        return [f"sheets: {a.sheetnames} != {b.sheetnames}"]
    names = (sorted(a.defined_names.items()), sorted(b.defined_names.items()))
    if repr(names[0]) != repr(names[1]):
        found.append(f"defined names: {names[0]} != {names[1]}")
    for name in a.sheetnames:
        wa, wb = a[name], b[name]
        sa, sb = _sheet_setup(wa), _sheet_setup(wb)
        found += [f"{name} {k}: {sa[k]} != {sb[k]}" for k in sa if sa[k] != sb[k]]
        ca, cb = dict(_cells(wa)), dict(_cells(wb))
        for key in sorted(ca.keys() | cb.keys()):
            if ca.get(key) != cb.get(key):
                found.append(f"{name}!{key}: {ca.get(key)} != {cb.get(key)}")
                if len(found) >= limit:
                    return found
    return found


def same_parts(before: Path, after: Path) -> list[str]:
    """The zip members that differ in bytes (or exist in one file only)."""
    with zipfile.ZipFile(before) as a, zipfile.ZipFile(after) as b:
        names = sorted(set(a.namelist()) | set(b.namelist()))
        return [
            n
            for n in names
            if n not in a.namelist() or n not in b.namelist() or a.read(n) != b.read(n)
        ]


def main() -> int:
    before, after = (Path(p) for p in sys.argv[1:3])
    parts = same_parts(before, after)
    print("parts byte-identical" if not parts else f"parts differing in bytes: {parts}")
    found = differences(before, after)
    for line in found:
        print(line)
    print("content identical" if not found else "content DIFFERS")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
