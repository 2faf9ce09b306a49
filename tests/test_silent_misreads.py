"""No silent misreads: every table input loads exactly or is refused cell by cell.

Each case has its near miss: the same file written the unambiguous way loads exactly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arlib import carry
from arlib.config import InputSpec
from arlib.load import load_input
from tests.conftest import write

HEADER = "receipt_id,value_date,amount,currency,payer_name\n"


def receipts(tmp_path: Path, rows: list[tuple[str, str]], name="r.csv", **spec):
    """Load a receipts CSV whose rows are (amount text, currency)."""
    body = "".join(
        f'R{i},2026-10-01,"{amount}",{currency},Payer\n'
        for i, (amount, currency) in enumerate(rows)
    )
    path = write(tmp_path / name, HEADER + body)
    return load_input("receipts", InputSpec(path=path, **spec), tmp_path)


def refused(got) -> dict[int, str]:
    """Row -> rule of each refused amount."""
    amount = got.findings.filter(pl.col("column") == "amount")
    return dict(zip(amount["row"], amount["rule"], strict=True))


# ------------------------------------------------------------ number formats per column
def test_european_amount_in_undeclared_file_is_read_by_its_own_convention(tmp_path):
    """`12.500,00` can only be twelve thousand five hundred: never 12.50."""
    got = receipts(tmp_path, [("12.500,00", "EUR"), ("99,50", "EUR"), ("1.234", "EUR")])
    assert refused(got) == {}
    assert got.frame["amount"].to_list() == [Decimal("12500.00"), Decimal("99.50"), Decimal(1234)]


def test_decimal_comma_cell_in_a_decimal_point_column_is_refused(tmp_path):
    """`99,50` among `1,234.50` values: 9,950.00 would be a guess; refused on its row."""
    got = receipts(tmp_path, [("99,50", "CNY"), ("1,234.50", "CNY"), ("7.25", "CNY")])
    assert refused(got) == {2: "number_format"}
    assert got.frame["amount"].to_list() == [None, Decimal("1234.50"), Decimal("7.25")]


def test_declared_convention_refuses_the_other(tmp_path):
    got = receipts(tmp_path, [("1.234,56", "EUR"), ("1,234.56", "EUR")], decimal_comma=False)
    assert refused(got) == {2: "number_format"}
    assert got.frame["amount"].to_list() == [None, Decimal("1234.56")]
    got = receipts(tmp_path, [("1.234,56", "EUR"), ("1,234.56", "EUR")], decimal_comma=True)
    assert refused(got) == {3: "number_format"}
    assert got.frame["amount"].to_list() == [Decimal("1234.56"), None]


def test_declared_decimal_comma_resolves_three_digit_groups(tmp_path):
    got = receipts(tmp_path, [("12.500", "EUR"), ("3.000", "EUR")], decimal_comma=True)
    assert refused(got) == {}
    assert got.frame["amount"].to_list() == [Decimal(12500), Decimal(3000)]


def test_trailing_zeros_count_as_written_decimals(tmp_path):
    """`12.500` with no other evidence: 12.50 or 12,500? Refused, and says why."""
    got = receipts(tmp_path, [("12.500", "CNY"), ("3.000", "CNY")])
    assert refused(got) == {2: "ambiguous_amount", 3: "ambiguous_amount"}
    message = got.findings["message"][0]
    assert "CNY allows (2)" in message and "decimal_comma: true" in message
    # near miss: two written decimals load exactly
    got = receipts(tmp_path, [("12.50", "CNY"), ("3.00", "CNY")])
    assert refused(got) == {}
    assert got.frame["amount"].to_list() == [Decimal("12.50"), Decimal("3.00")]


def test_too_many_decimals_in_a_point_column_is_not_ambiguous(tmp_path):
    got = receipts(tmp_path, [("66856.505", "USD"), ("10.00", "USD"), ("1000.5", "JPY")])
    assert refused(got) == {2: "too_many_decimals", 4: "too_many_decimals"}
    messages = got.findings.sort("row")["message"].to_list()
    assert "USD allows (2)" in messages[0] and "JPY allows (0)" in messages[1]
    assert got.frame["amount"].to_list() == [None, Decimal("10.00"), None]


def test_thousands_groups_must_be_real_groups(tmp_path):
    got = receipts(tmp_path, [("1,23", "CNY"), ("12,34,567.00", "INR"), ("1'234.50", "CHF")])
    assert refused(got) == {2: "number_format"}
    assert got.frame["amount"].to_list()[1:] == [Decimal("1234567.00"), Decimal("1234.50")]


def test_amount_beyond_what_arlib_holds_is_refused(tmp_path):
    got = receipts(tmp_path, [("1000000000000000", "VND"), ("999999999999999", "VND")])
    assert refused(got) == {2: "amount_too_large"}
    assert got.frame["amount"].to_list() == [None, Decimal("999999999999999")]


def test_every_refused_amount_names_file_row_column_and_value(tmp_path):
    got = receipts(tmp_path, [("abc", "CNY"), ("1.5.5", "CNY"), ("12.345", "CNY")], name="b.csv")
    rows = got.findings.select("file", "row", "column", "value").rows()
    assert sorted(rows) == [
        ("b.csv", 2, "amount", "abc"),
        ("b.csv", 3, "amount", "1.5.5"),
        ("b.csv", 4, "amount", "12.345"),
    ]
    assert set(got.findings["severity"]) == {"error"}


def test_fx_rates_follow_the_same_rules(tmp_path):
    path = write(tmp_path / "fx.csv", 'date,currency,rate\n2026-10-31,USD,"7,1234"\n')
    got = load_input("fx_rates", InputSpec(path=path), tmp_path)
    assert got.frame["rate"].to_list() == [Decimal("7.1234")]
    path = write(tmp_path / "fx2.csv", "date,currency,rate\n2026-10-31,USD,7.123456789\n")
    got = load_input("fx_rates", InputSpec(path=path), tmp_path)
    assert got.frame["rate"].to_list() == [None]
    assert got.findings["rule"].to_list() == ["too_many_decimals"]


def test_typed_parquet_decimals_are_values_not_writing(tmp_path):
    """A Decimal(38, 4) column's padding zeros are the type's, not four written decimals."""
    frame = pl.DataFrame(
        {
            "receipt_id": ["R1", "R2", "R3"],
            "value_date": [dt.date(2026, 10, 1)] * 3,
            "amount": [Decimal("12.5000"), Decimal("1000.0000"), Decimal("1.2345")],
            "currency": ["CNY", "JPY", "CNY"],
            "payer_name": ["A", "B", "C"],
        },
        schema_overrides={"amount": pl.Decimal(38, 4)},
    )
    path = tmp_path / "r.parquet"
    frame.write_parquet(path)
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame["amount"].to_list() == [Decimal("12.50"), Decimal("1000"), None]
    assert got.findings.select("row", "rule").rows() == [(3, "too_many_decimals")]  # no header


LOCALES = {
    # name: (group separator, decimal separator, declared decimal_comma)
    "en": (",", ".", False),
    "cn_plain": ("", ".", False),
    "de": (".", ",", True),
    "fr": (" ", ",", True),
    "ch": ("'", ".", False),
}


def written(value: Decimal, locale: str) -> str:
    group, point, _ = LOCALES[locale]
    sign = "-" if value < 0 else ""
    whole, _, frac = f"{abs(value):.2f}".partition(".")
    digits = f"{int(whole):,}".replace(",", group)
    text = digits + (point + frac if frac != "00" or value % 1 else "")
    return sign + text


amounts = st.decimals(
    min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2
).filter(lambda d: d.is_finite())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(amounts, min_size=1, max_size=8), locale=st.sampled_from(sorted(LOCALES)))
def test_amounts_in_any_locale_load_exactly_or_are_refused(tmp_path, values, locale):
    """Property: written in a locale, read undeclared, every cell is exact or refused,
    never a different number; read with the locale declared, every cell is exact."""
    rows = [(written(v, locale), "EUR") for v in values]
    got = receipts(tmp_path, rows, name=f"{locale}.csv")
    for value, read, row in zip(values, got.frame["amount"], got.frame["source_row"], strict=True):
        if read is None:
            assert row in refused(got)
        else:
            assert read == value, (rows, locale)
    got = receipts(tmp_path, rows, name=f"{locale}-declared.csv", decimal_comma=LOCALES[locale][2])
    assert refused(got) == {}, rows
    assert got.frame["amount"].to_list() == values


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet="0123456789.,-() '¥$", min_size=1, max_size=14))
def test_random_amount_text_is_one_reading_or_refused(tmp_path, text):
    """Whatever the text, a value read is one the text can mean (one separator kind
    dropped, the other the decimal point), signed as written, with at most two decimals:
    never a number the text does not say."""
    got = receipts(tmp_path, [(text, "CNY")], name="fuzz.csv")
    read = got.frame["amount"][0]
    if read is None:
        assert got.findings.height >= 1 or not text.strip()
        return
    body = text.replace("¥", "").replace("$", "").replace(" ", "").replace("'", "")
    negative = body.startswith("-") or body.endswith("-") or body.startswith("(")
    if body.startswith("("):
        assert body.endswith(")")
        body = body[1:-1]
    digits = body.removeprefix("-").removeprefix("+").removesuffix("-")
    readings = set()
    for drop, point in ((",", "."), (".", ",")):
        plain = digits.replace(drop, "").replace(point, ".")
        with contextlib.suppress(ArithmeticError):
            readings.add(Decimal(plain) * (-1 if negative else 1))
    assert read in readings, (text, read, readings)
    assert read == read.quantize(Decimal("0.01"))


# --------------------------------------------------------------------- columns and sheets
def test_two_columns_read_as_one_canonical_column_is_an_error(tmp_path):
    path = write(tmp_path / "dup.csv", HEADER.strip() + ",金额\nR1,2026-10-01,1.00,CNY,A,2.00\n")
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    error = got.findings.filter(pl.col("rule") == "duplicate_column")
    assert error.select("file", "row", "column", "value").rows() == [
        ("dup.csv", 1, "amount", "amount, 金额")
    ]
    # near miss: the params say which one holds the amount
    got = load_input("receipts", InputSpec(path=path, columns={"金额": "amount"}), tmp_path)
    assert got.frame["amount"].to_list() == [Decimal("2.00")]
    assert got.findings["rule"].to_list() == ["column_not_read"]
    assert got.findings["severity"].to_list() == ["warning"]


def test_identical_headers_are_an_error(tmp_path):
    path = write(tmp_path / "same.csv", HEADER.strip() + ",amount\nR1,2026-10-01,1.00,CNY,A,2\n")
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    error = got.findings.filter(pl.col("rule") == "duplicate_column")
    assert error["value"].to_list() == ["amount, amount"]
    assert "rename one" in error["message"][0]


def workbook(path: Path, sheets: list[tuple[str, bool, int]], active: int | None = None) -> Path:
    book = xlsxwriter.Workbook(path)
    made = []
    for name, _hidden, amount in sheets:
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, HEADER.strip().split(","))
        sheet.write_row(1, 0, ["R1", "2026-10-01", amount, "CNY", "A"])
        made.append(sheet)
    if active is not None:
        made[active].activate()
    for sheet, (_name, hidden, _amount) in zip(made, sheets, strict=True):
        if hidden:
            sheet.hide()
    book.close()
    return path


def test_hidden_first_sheet_is_not_read(tmp_path):
    path = workbook(tmp_path / "b.xlsx", [("Old", True, 1), ("October", False, 2)], active=1)
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame["amount"].to_list() == [Decimal(2)]
    assert got.provenance["sheet"] == "October"
    assert got.findings.height == 0


def test_several_visible_sheets_that_could_be_the_table_need_a_name(tmp_path):
    """Two visible halves of a month: reading the active one would lose the other."""
    path = workbook(tmp_path / "b.xlsx", [("A", False, 1), ("B", False, 2)], active=1)
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame.height == 0
    assert got.findings.select("severity", "rule", "value").rows() == [
        ("error", "sheet_ambiguous", "A, B")
    ]
    got = load_input("receipts", InputSpec(path=path, sheet="A"), tmp_path)
    assert got.frame["amount"].to_list() == [Decimal(1)]


def test_a_notes_sheet_beside_the_table_is_not_a_candidate(tmp_path):
    path = workbook(tmp_path / "b.xlsx", [("Data", False, 7)])
    book = openpyxl.load_workbook(path)
    notes = book.create_sheet("Notes", 0)
    notes["A1"] = "exported from the ERP on 2026-11-01"
    book.active = 0
    book.save(path)
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame["amount"].to_list() == [Decimal(7)]
    assert got.provenance["sheet"] == "Data"
    assert got.findings.height == 0


def test_named_sheet_is_read_even_hidden_and_unknown_is_an_error(tmp_path):
    path = workbook(tmp_path / "b.xlsx", [("A", False, 1), ("B", True, 2)])
    got = load_input("receipts", InputSpec(path=path, sheet="B"), tmp_path)
    assert got.frame["amount"].to_list() == [Decimal(2)]
    assert got.findings["rule"].to_list() == ["hidden_sheet"]
    got = load_input("receipts", InputSpec(path=path, sheet="C"), tmp_path)
    assert got.frame.height == 0
    assert got.findings.select("severity", "rule").rows() == [("error", "unknown_sheet")]


# -------------------------------------------------------------------- lines and encodings
@pytest.mark.parametrize(
    "body, line, rule",
    [
        ("R1,2026-10-01,1.00,CNY,Alpha\rR2,2026-10-02,2.00,CNY,Beta\n", 2, "line_break"),
        ('R1,2026-10-01,1.00,CNY,"Alpha\nR2,2026-10-02,2.00,CNY,Beta\n', 2, "unbalanced_quote"),
        ('R1,2026-10-01,1.00,CNY,A\nR2,2026-10-02,2.00,CNY,"Be"ta\n', 3, "unreadable"),
    ],
)
def test_broken_lines_are_refused_at_the_line_they_start(tmp_path, body, line, rule):
    path = write(tmp_path / "lines.csv", HEADER + body)
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame.height == 0
    assert got.findings.select("row", "rule").rows() == [(line, rule)]


def test_line_break_near_misses_load(tmp_path):
    """CR inside quotes, CRLF files and CR-only (classic Mac) files are fine."""
    for name, body in [
        ("quoted.csv", 'R1,2026-10-01,1.00,CNY,"Al\rpha"\nR2,2026-10-02,2.00,CNY,B\n'),
        ("crlf.csv", "R1,2026-10-01,1.00,CNY,A\r\nR2,2026-10-02,2.00,CNY,B\r\n"),
    ]:
        got = load_input(
            "receipts", InputSpec(path=write(tmp_path / name, HEADER + body)), tmp_path
        )
        assert got.findings.height == 0, name
        assert got.frame["receipt_id"].to_list() == ["R1", "R2"]
    mac = (HEADER + "R1,2026-10-01,1.00,CNY,A\nR2,2026-10-02,2.00,CNY,B\n").replace("\n", "\r")
    got = load_input("receipts", InputSpec(path=write(tmp_path / "mac.csv", mac)), tmp_path)
    assert got.frame["receipt_id"].to_list() == ["R1", "R2"]


def test_decoding_error_names_the_line(tmp_path):
    text = HEADER + "R1,2026-10-01,1.00,CNY,张三\nR2,2026-10-02,2.00,CNY,李四\n"
    data = text.encode("utf-8") + b"R3,2026-10-03,3.00,CNY,\xff\xfe\n"
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame.height == 0
    assert got.findings.select("row", "value", "rule").rows() == [(4, "ff", "encoding")]
    assert "line 4" in got.findings["message"][0] and "position" not in got.findings["message"][0]
    # declared encoding that does not fit: also by line
    path.write_bytes(text.encode("gbk"))
    got = load_input("receipts", InputSpec(path=path, encoding="utf-8"), tmp_path)
    assert got.findings.select("row", "rule").rows() == [(2, "encoding")]


def test_huge_bad_value_is_quoted_as_an_excerpt(tmp_path):
    got = receipts(tmp_path, [("9" * 3_000_000 + "x", "CNY")])
    value = got.findings["value"][0]
    assert len(value) < 300 and "more characters" in value


# ------------------------------------------------------------------------- opening items
def open_items(period: str) -> pl.DataFrame:
    invoices = pl.DataFrame(
        {
            "invoice_id": ["INV1"],
            "customer_id": ["C1"],
            "invoice_date": [dt.date(2026, 9, 1)],
            "due_date": [dt.date(2026, 9, 30)],
            "currency": ["CNY"],
            "amount": [Decimal("100.00")],
            "open_amount": [Decimal("40.00")],
            "status": ["partial"],
            "source_file": ["inv.csv"],
            "source_row": [2],
        }
    )
    empty_receipts = pl.DataFrame(
        schema={
            "receipt_id": pl.String,
            "customer_id": pl.String,
            "value_date": pl.Date,
            "currency": pl.String,
            "amount": pl.Decimal(38, 2),
            "unapplied": pl.Decimal(38, 2),
            "status": pl.String,
            "source_file": pl.String,
            "source_row": pl.Int64,
        }
    )
    return carry.build_open_items(invoices, empty_receipts, pl.DataFrame(), period)


def test_opening_from_the_previous_close_is_read(tmp_path):
    path = tmp_path / "open_items.parquet"
    carry.write_open_items(open_items("2026-09"), path, period="2026-09")
    items, problems = carry.check_open_items(path, "open_items.parquet", "2026-10")
    assert problems == []
    assert items["invoices"]["open_amount"].to_list() == [Decimal("40.00")]


@pytest.mark.parametrize("stamp", [True, False])
def test_opening_of_the_wrong_period_is_refused(tmp_path, stamp):
    """Stamped or not (files from before the stamp): the period comes from the history."""
    path = tmp_path / "open_items.parquet"
    carry.write_open_items(open_items("2026-08"), path, period="2026-08" if stamp else None)
    items, problems = carry.check_open_items(path, "o.parquet", "2026-10")
    assert items is None
    assert [(p.rule, p.value) for p in problems] == [("wrong_period", "2026-08")]


def test_payment_history_as_opening_is_refused(tmp_path):
    path = tmp_path / "payment_history.parquet"
    pl.DataFrame(
        {
            "period": ["2026-09"],
            "customer_id": ["C1"],
            "invoice_id": ["I"],
            "receipt_id": ["R"],
            "applied_amount": [Decimal("1.00")],
            "currency": ["CNY"],
            "days_late": [3],
        }
    ).write_parquet(path)
    items, problems = carry.check_open_items(path, "payment_history.parquet", "2026-10")
    assert items is None
    assert [p.rule for p in problems] == ["wrong_kind"]
    assert "payment history" in problems[0].message


@pytest.mark.parametrize("data", [b"", b"PAR1 not really", b"a,b\n1,2\n"])
def test_corrupt_opening_is_refused(tmp_path, data):
    path = tmp_path / "open_items.parquet"
    path.write_bytes(data)
    items, problems = carry.check_open_items(path, "open_items.parquet", "2026-10")
    assert items is None
    assert [(p.rule, p.file) for p in problems] == [("unreadable", "open_items.parquet")]


def test_opening_with_unknown_item_types_is_refused(tmp_path):
    path = tmp_path / "open_items.parquet"
    items = open_items("2026-09").with_columns(pl.lit("invoce").alias("item_type"))
    carry.write_open_items(items, path, period="2026-09")
    got, problems = carry.check_open_items(path, "o.parquet", "2026-10")
    assert got is None
    assert [(p.row, p.column, p.value) for p in problems] == [(1, "item_type", "invoce")]


# ------------------------------------------------------------------------- xlsx as a zip
def test_workbook_that_inflates_past_the_cap_is_refused(tmp_path, monkeypatch):
    import zipfile

    from arlib import load

    path = workbook(tmp_path / "bomb.xlsx", [("A", False, 1)])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/photo.bin", random.Random(1).randbytes(8 << 20))
    monkeypatch.setattr(load, "XLSX_MAX_INFLATED", 4 << 20)
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame.height == 0
    assert set(got.findings["rule"]) == {"xlsx_member_too_large"}
    # near miss: the same workbook under the cap loads
    monkeypatch.setattr(load, "XLSX_MAX_INFLATED", 64 << 20)
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame["amount"].to_list() == [Decimal(1)]


def test_workbook_part_that_lies_about_its_size_is_refused(tmp_path):
    """A part that declares fewer bytes than it inflates to: the workbook reader would
    believe the stream; the check inflates with zipfile, which stops and fails the CRC."""
    import struct
    import zipfile

    path = workbook(tmp_path / "liar.xlsx", [("A", False, 1)])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * 100_000)
    data = bytearray(path.read_bytes())
    name = b"xl/media/padding.bin"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature + b"", 0)
        while at != -1:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", data, at + size_at, 1000)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame.height == 0
    assert got.findings["rule"].to_list() == ["xlsx_corrupt"]


def test_opening_with_balances_finer_than_cents_is_refused(tmp_path):
    path = tmp_path / "open_items.parquet"
    items = open_items("2026-09").with_columns(
        pl.lit(Decimal("1.2345")).cast(pl.Decimal(38, 4)).alias("open_amount")
    )
    carry.write_open_items(items, path, period="2026-09")
    got, problems = carry.check_open_items(path, "o.parquet", "2026-10")
    assert got is None
    assert [(p.row, p.column, p.value, p.rule) for p in problems] == [
        (1, "open_amount", "1.2345", "too_many_decimals")
    ]
    # near miss: the same scale holding whole cents is exact
    exact = items.with_columns(
        pl.lit(Decimal("40.0000")).cast(pl.Decimal(38, 4)).alias("open_amount")
    )
    carry.write_open_items(exact, path, period="2026-09")
    got, problems = carry.check_open_items(path, "o.parquet", "2026-10")
    assert problems == [] and got["invoices"]["open_amount"].to_list() == [Decimal("40.00")]


@pytest.mark.parametrize("far", ["dimension", "cell"])
def test_workbook_with_a_cell_far_out_is_refused_before_reading(tmp_path, far):
    """A sheet claiming A1:XFD1048576 would make the reader allocate 17 billion cells and
    abort the process; the span is checked first. The near miss is the same workbook."""
    import re
    import zipfile

    path = workbook(tmp_path / "far.xlsx", [("A", False, 1)])
    with zipfile.ZipFile(path) as archive:
        parts = {i.filename: archive.read(i) for i in archive.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    if far == "dimension":
        sheet = re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:XFD1048576"/>', sheet)
    else:
        sheet = sheet.replace(
            "</sheetData>",
            '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
            "</sheetData>",
        )
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    got = load_input("receipts", InputSpec(path=path), tmp_path)
    assert got.frame.height == 0
    assert got.findings.select("rule", "value").rows() == [("xlsx_too_large", "XFD1048576")]


# ----------------------------------------------- characters that are not what they seem
@pytest.mark.parametrize(
    "text", ["¹²³⁴", "1234¹", "١٢٣٤.٥٦", "१२३४.५६", "①②", "77 30.77", "1 5.00", "1  234.00"]
)
def test_digits_that_are_not_ascii_or_groups_that_are_not_groups_are_refused(tmp_path, text):
    """NFKC would turn a footnote mark ``1234¹`` into 12341, and other scripts' digits are
    not read as ours; a space groups thousands only between groups of three."""
    got = receipts(tmp_path, [(text, "CNY")])
    assert got.frame["amount"].to_list() == [None]
    assert refused(got) == {2: "bad_value"}


@pytest.mark.parametrize(
    "text, value",
    [("１２３４.５６", "1234.56"), ("100 250.00", "100250.00"), ("1\u00a0234.56", "1234.56")],
)
def test_full_width_digits_and_real_space_groups_load(tmp_path, text, value):
    got = receipts(tmp_path, [(text, "CNY")])
    assert refused(got) == {}
    assert got.frame["amount"].to_list() == [Decimal(value)]


@pytest.mark.parametrize(
    "text, currency, ok",
    [
        ("$1,234.56", "CNY", False),
        ("€1,234.56", "CNY", False),
        ("USD 1,234.56", "CNY", False),
        ("JPY1234", "CNY", False),
        ("US$1,234.56", "HKD", False),
        ("¥1,234", "JPY", True),
        ("¥1,234.56", "CNY", True),
        ("$1,234.56", "HKD", True),
        ("RMB 1,234.56", "CNY", True),
        ("1234.56 元", "CNY", True),
    ],
)
def test_a_cell_that_names_another_currency_is_refused(tmp_path, text, currency, ok):
    got = receipts(tmp_path, [(text, currency)])
    if ok:
        assert refused(got) == {}
        assert got.frame["amount"][0] is not None
    else:
        assert refused(got) == {2: "currency_mismatch"}
        assert currency in got.findings["message"][0]
