"""Excel workpapers: the published workbook read back with openpyxl, and write_workbook units.

The published workbook comes from one `run_close` of the 2026-09 sample in a temporary
project (nothing is written into the repository's outputs/).
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from arlib.close import run_close
from arlib.schema import column_words
from arlib.workpapers import Sheet, write_workbook
from tests.test_close_e2e import make_project

MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
LEAD_LINES = {
    "opening_ar": "Opening AR (previous close's open items)",
    "invoiced": "+ Invoiced in the period",
    "cash_applied": "− Cash applied",
    "credit_notes_applied": "− Credit notes applied",
    "adjustments": "− Bank charges, discounts, FX and rounding written off",
    "closing_computed": "= Closing AR (computed)",
    "closing_listed": "Closing AR (open items listed)",
    "difference": "Difference (must be 0)",
}
HEAD_ROW = 3  # 1-based: title, note, header


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("workpapers") / "project", ("2026-09",))
    return run_close(root / "params" / "2026-09.yaml", progress=False)


@pytest.fixture(scope="module")
def book(published):
    workbook = openpyxl.load_workbook(published / "workpapers.xlsx")
    yield workbook
    workbook.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def header(ws) -> list[str]:
    return [c.value for c in ws[HEAD_ROW]]


def data_rows(ws) -> list[tuple]:
    """Rows under the header up to (not including) the Σ and Total rows."""
    rows = []
    for row in ws.iter_rows(min_row=HEAD_ROW + 1, values_only=True):
        if str(row[0]).startswith(("Total", "Σ")):
            break
        if all(v is None for v in row):
            continue
        rows.append(row)
    return rows


def total_row(ws) -> tuple:
    for row in ws.iter_rows(min_row=HEAD_ROW + 1, values_only=True):
        if row[0] == "Total":
            return row
    raise AssertionError(f"{ws.title}: no Total row")


# ------------------------------------------------------------------ published workbook
def test_index_lists_every_sheet_with_reference(book):
    index = book["Index"]
    rows = list(index.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[:2] == ("Ref", "Sheet"))
    end = next(i for i, r in enumerate(rows) if i > start and r[0] is None)
    listed = {r[1]: r[0] for r in rows[start + 1 : end]}
    detail = [name for name in book.sheetnames if name not in ("Index", "Sign-off")]
    assert set(listed) == set(detail)
    assert all(str(ref).startswith("AR-") for ref in listed.values())
    assert len(set(listed.values())) == len(listed)
    assert listed["Lead"] == "AR-1" and listed["Matches"] == "AR-2"
    for name in ("Lead", "Matches", "Exceptions", "Aging detail"):
        assert name in book.sheetnames
    assert book.sheetnames[0] == "Index" and book.sheetnames[-1] == "Sign-off"
    for name, ref in listed.items():
        assert str(book[name]["A1"].value).startswith(f"{ref} "), name


def test_lead_rollforward_equals_csv(book, published):
    lead = book["Lead"]
    assert header(lead) == ["Currency", "Line", "Amount", "Tick", "Ref"]
    shown = {(r[0], r[1]): r[2] for r in data_rows(lead)}
    rollforward = read_csv(published / "rollforward.csv")
    assert rollforward
    for row in rollforward:
        for key, label in LEAD_LINES.items():
            value = shown[(row["currency"], label)]
            assert Decimal(str(value)).quantize(Decimal("0.01")) == Decimal(row[key]), (
                row["currency"],
                key,
            )


def test_matches_totals_per_currency_equal_csv(book, published):
    ws = book["Matches"]
    names = header(ws)
    col = names.index("Applied amount")
    matches = read_csv(published / "matches.csv")
    expected: dict[str, Decimal] = {}
    for r in matches:
        expected[r["currency"]] = expected.get(r["currency"], Decimal(0)) + Decimal(
            r["applied_amount"]
        )
    assert len(data_rows(ws)) == len(matches)  # the sample is under the row cap
    totals = {
        row[0]: round(row[col], 2)
        for row in ws.iter_rows(min_row=HEAD_ROW + 1, values_only=True)
        if str(row[0]).startswith("Total")
    }
    assert totals == {f"Total {c}": float(v) for c, v in sorted(expected.items())}


@pytest.mark.parametrize(
    ("sheet", "csv_name"),
    [
        ("Exceptions", "exceptions.csv"),
        ("Aging detail", "aging.csv"),
        ("Aging by customer", "aging_by_customer.csv"),
    ],
)
def test_complete_sheets_have_every_row(book, published, sheet, csv_name):
    rows = read_csv(published / csv_name)
    assert rows
    ws = book[sheet]
    assert {column_words(c) for c in rows[0]} <= set(header(ws))
    assert len(data_rows(ws)) == len(rows)
    assert not str(ws["A2"].value or "").startswith("Showing the first")  # not truncated


@pytest.mark.parametrize("sheet", ["Matches", "Suggestions", "Exceptions", "Aging detail"])
def test_detail_sheets_frozen_and_filtered(book, sheet):
    ws = book[sheet]
    assert ws.freeze_panes == f"A{HEAD_ROW + 1}"
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith(f"A{HEAD_ROW}:")


@pytest.mark.parametrize(
    ("sheet", "column"),
    [("Matches", "Applied amount"), ("Exceptions", "Amount"), ("Lead", "Amount")],
)
def test_money_cells_have_number_format(book, sheet, column):
    ws = book[sheet]
    col = header(ws).index(column) + 1
    cells = [
        ws.cell(row=r, column=col)
        for r in range(HEAD_ROW + 1, min(ws.max_row, HEAD_ROW + 50) + 1)
        if isinstance(ws.cell(row=r, column=col).value, int | float)
    ]
    assert cells
    assert {c.number_format for c in cells} == {MONEY_FORMAT}


# ------------------------------------------------------------------ write_workbook units
def _write(tmp_path: Path, sheets: list[Sheet], row_cap: int = 100) -> Path:
    path = tmp_path / "wp.xlsx"
    write_workbook(
        path,
        sheets,
        header={"Title": "t", "Entity": "E", "Period": "2026-09"},
        row_cap=row_cap,
        signoff=[("Preparer", "did it")],
    )
    return path


def test_formula_like_text_is_stored_as_text(tmp_path):
    texts = ['=HYPERLINK("http://x","y")', "+1+2", "-3-4", "@SUM(A1)", "=1+1"]
    frame = pl.DataFrame({"payer_name": texts, "memo": list(reversed(texts))})
    path = _write(tmp_path, [Sheet("AR-1", "Payers", "payers", frame)])
    ws = openpyxl.load_workbook(path)["Payers"]
    for r, text in enumerate(texts, start=HEAD_ROW + 1):
        cell = ws.cell(row=r, column=1)
        assert cell.data_type == "s", (text, cell.data_type)
        assert cell.value == text
        assert ws.cell(row=r, column=2).data_type == "s"


def test_row_cap_truncates_capped_sheet_only(tmp_path):
    amounts = [Decimal(f"{i}.10") for i in range(25)]
    detail = pl.DataFrame(
        {"receipt_id": [f"R{i:03d}" for i in range(25)], "applied_amount": amounts},
        schema={"receipt_id": pl.String, "applied_amount": pl.Decimal(38, 2)},
    )
    summary = detail.rename({"applied_amount": "amount"})
    path = _write(
        tmp_path,
        [
            Sheet(
                "AR-2",
                "Matches",
                "allocations",
                detail,
                capped=True,
                full_detail="matches.csv",
                total_columns=("applied_amount",),
            ),
            Sheet("AR-4", "Exceptions", "all", summary, total_columns=("amount",)),
        ],
        row_cap=10,
    )
    book = openpyxl.load_workbook(path)
    capped = book["Matches"]
    assert len(data_rows(capped)) == 10
    assert [r[0] for r in data_rows(capped)] == [f"R{i:03d}" for i in range(10)]
    note = capped["A2"].value
    assert "matches.csv" in note and "10" in note and "25" in note
    complete = book["Exceptions"]
    assert len(data_rows(complete)) == 25
    assert complete["A2"].value is None
    assert round(total_row(complete)[1], 2) == float(sum(amounts))
    index = [r for r in book["Index"].iter_rows(values_only=True) if r[0] in ("AR-2", "AR-4")]
    assert "matches.csv" in index[0][4] and index[1][4] == "yes"


def test_overdue_rows_highlighted(tmp_path):
    frame = pl.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3"],
            "due_date": [dt.date(2026, 8, 1), dt.date(2026, 10, 31), dt.date(2026, 7, 1)],
            "open_amount": [Decimal("10.00"), Decimal("20.00"), Decimal("30.00")],
            "overdue": [True, False, True],
        },
        schema_overrides={"open_amount": pl.Decimal(38, 2)},
    )
    path = _write(tmp_path, [Sheet("AR-5.2", "Aging detail", "aging", frame, highlight="overdue")])
    ws = openpyxl.load_workbook(path)["Aging detail"]

    def fill(row: int, col: int) -> str | None:
        cell = ws.cell(row=HEAD_ROW + row, column=col)
        return cell.fill.fgColor.rgb if cell.fill.fill_type == "solid" else None

    for col in (1, 2, 3):
        assert fill(1, col) == "FFF8D7DA"
        assert fill(2, col) is None
        assert fill(3, col) == "FFF8D7DA"
    assert ws.cell(row=HEAD_ROW + 1, column=3).number_format == MONEY_FORMAT


def test_totals_never_add_different_currencies(tmp_path):
    frame = pl.DataFrame(
        {
            "receipt_id": ["R1", "R2", "R3", "R4"],
            "amount": [Decimal("10.00"), Decimal("0.05"), Decimal("7.10"), Decimal("2.95")],
            "currency": ["CNY", "USD", "USD", "CNY"],
        },
        schema_overrides={"amount": pl.Decimal(38, 2)},
    )
    with pytest.raises(ValueError, match="different currencies"):
        _write(tmp_path, [Sheet("AR-4", "Exceptions", "x", frame, total_columns=("amount",))])
    path = _write(
        tmp_path,
        [Sheet("AR-4", "Exceptions", "x", frame, total_columns=("amount",), total_by="currency")],
    )
    rows = list(openpyxl.load_workbook(path)["Exceptions"].iter_rows(values_only=True))
    totals = {r[0]: r[1] for r in rows[HEAD_ROW:] if str(r[0]).startswith("Total")}
    assert totals == {"Total CNY": 12.95, "Total USD": 7.15}  # 10.00 + 2.95; 0.05 + 7.10


def test_display_width_counts_wide_characters_twice():
    from arlib.workpapers import _display_width

    assert _display_width("") == 0
    assert _display_width("C000269 short_payment") == 21
    assert _display_width("广州市旭日 (C000269)") == 10 + 10
    assert _display_width("ＡＢ1") == 5  # full-width letters take two columns


def test_row_heights_fit_every_wrapped_cell():
    """The heights written over whole columns are those :func:`_lines` gives cell by cell:
    the most lines any wrapped cell of the row needs, Chinese text at two columns a
    character, each line of a multi-line text counted apart; one line needs no height."""
    from arlib.workpapers import LINE_HEIGHT, _lines, _row_heights

    evidence = [
        "short",
        None,
        "",
        "word " * 30,
        "上海浦东发展银行" * 6,
        "one\n" * 4,
        "a" * 67,
        "a" * 68,
        "中" * 33 + "\n" + "x" * 10,
    ]
    history = ["h " * 40, *[None] * 7, "h"]
    frame = pl.DataFrame({"evidence": evidence, "history": history})
    heights = _row_heights(frame, [("evidence", 62), ("history", 40)]).to_list()
    expected = [max(_lines(e, 62), _lines(h, 40)) for e, h in zip(evidence, history, strict=True)]
    assert heights == [LINE_HEIGHT * n if n > 1 else None for n in expected]
    assert expected == [2, 1, 1, 3, 2, 5, 1, 2, 2]  # by hand: 0.9 × columns ÷ 61, rounded up
    assert _row_heights(frame, []) is None
