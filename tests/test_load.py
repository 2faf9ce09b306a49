"""Loaders: encodings, layouts, header mapping, and findings that name file/row/column."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from arlib.config import InputSpec
from arlib.load import detect_encoding, is_utf8, load_input
from tests.conftest import write

INVOICES = (
    "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
    'INV001,C001,2026-10-01,2026-10-31,"1,234.56",CNY\n'
    "00042,C002,2026/10/5,2026年11月4日,¥99.00,CNY\n"
)


def load(tmp_path: Path, name: str, path: Path, **spec):
    return load_input(name, InputSpec(path=path, **spec), tmp_path)


def test_utf8_csv_loads_exact_values(tmp_path):
    got = load(tmp_path, "invoices", write(tmp_path / "inv.csv", INVOICES))
    assert got.findings.height == 0
    frame = got.frame
    assert frame["invoice_id"].to_list() == ["INV001", "00042"]
    assert frame["amount"].to_list() == [Decimal("1234.56"), Decimal("99.00")]
    assert [str(d) for d in frame["due_date"]] == ["2026-10-31", "2026-11-04"]
    assert frame["source_row"].to_list() == [2, 3]
    assert frame["source_file"].to_list() == ["inv.csv", "inv.csv"]
    assert got.provenance["control_totals"] == {"CNY": "1333.56"}
    assert len(got.provenance["sha256"]) == 64


def test_bom_and_gbk_detected(tmp_path):
    assert detect_encoding("\ufeffa,b".encode()) == "utf-8-sig"
    assert detect_encoding("发票号".encode("gbk")) == "gb18030"
    bom = write(tmp_path / "bom.csv", "\ufeff" + INVOICES)
    assert load(tmp_path, "invoices", bom).frame.height == 2


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a,b\n",
        "发票号,金额\n".encode(),
        "😀".encode(),
        "\U0010ffff".encode(),
        b"a\x00b",
        "\ufeffa".encode(),
        b"\xed\x9f\xbf",  # U+D7FF, the last before the surrogates
        b"\xed\xa0\x80",  # a surrogate
        b"\xc0\x80",  # an overlong NUL
        b"\xe0\x80\xaf",  # an overlong slash
        b"\xf4\x90\x80\x80",  # past U+10FFFF
        b"abc\xe4\xb8",  # a character cut at the end
        b"\x80",
        b"\xff",
        "发票号".encode("gbk"),
    ],
)
def test_is_utf8_agrees_with_python(data):
    try:
        data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert is_utf8(data) is valid


def test_gbk_csv_with_chinese_headers_mapped(tmp_path):
    text = (
        "单据编号,客户,开票日期,到期日,价税合计,币种\n"
        'FP-0001,C001,2026-10-01,2026-10-31,"1,000.00",CNY\n'
    )
    path = write(tmp_path / "gbk.csv", text, encoding="gbk")
    got = load(
        tmp_path, "invoices", path, columns={"单据编号": "invoice_id", "客户": "customer_id"}
    )
    assert got.provenance["encoding"] == "gb18030"
    assert got.findings.height == 0, got.findings
    assert got.frame.row(0, named=True)["invoice_id"] == "FP-0001"
    assert got.frame["amount"].to_list() == [Decimal("1000.00")]


def test_builtin_chinese_headers_without_mapping(tmp_path):
    text = "发票号,客户编号,开票日期,到期日,金额,币种\nA1,C1,2026-10-01,2026-10-31,5,CNY\n"
    got = load(tmp_path, "invoices", write(tmp_path / "cn.csv", text))
    assert got.findings.height == 0
    assert got.frame["invoice_id"].to_list() == ["A1"]


def test_title_rows_above_csv_header_are_skipped(tmp_path):
    text = "某某公司应收发票清单\n导出日期: 2026-11-01\n" + INVOICES
    got = load(tmp_path, "invoices", write(tmp_path / "t.csv", text))
    assert got.findings.height == 0
    assert got.frame["source_row"].to_list() == [4, 5]


def test_xlsx_named_sheet_with_title_rows(tmp_path):
    path = tmp_path / "inv.xlsx"
    book = xlsxwriter.Workbook(path)
    book.add_worksheet("Cover").write(0, 0, "nothing here")
    sheet = book.add_worksheet("AR")
    sheet.write(0, 0, "Accounts receivable — October 2026")
    header = ["invoice_id", "customer_id", "invoice_date", "due_date", "amount", "currency"]
    sheet.write_row(2, 0, header)
    sheet.write_row(3, 0, ["00077", "C1", "2026-10-01", 46326, "1234.5", "CNY"])
    book.close()
    got = load(tmp_path, "invoices", path, sheet="AR")
    assert got.findings.height == 0, got.findings
    row = got.frame.row(0, named=True)
    assert row["invoice_id"] == "00077"
    assert str(row["due_date"]) == "2026-10-31"
    assert row["amount"] == Decimal("1234.50")
    assert row["source_row"] == 4  # Excel row number the user sees


def test_parquet_typed_and_text(tmp_path):
    path = tmp_path / "inv.parquet"
    pl.DataFrame(
        {
            "invoice_id": ["001"],
            "customer_id": ["C1"],
            "invoice_date": [dt.date(2026, 10, 1)],
            "due_date": ["2026-10-31"],
            "amount": ["12.30"],
            "currency": ["CNY"],
        }
    ).write_parquet(path)
    got = load(tmp_path, "invoices", path)
    assert got.findings.height == 0
    assert got.frame["amount"].to_list() == [Decimal("12.30")]


def test_every_bad_value_is_a_finding_with_file_row_column(tmp_path):
    text = (
        "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
        "A1,C1,2026-02-30,2026-10-31,10.00,CNY\n"
        "A2,C1,2026-10-01,2026-10-31,12.345,CNY\n"
        "A3,C1,2026-10-01,2026-10-31,abc,CNY\n"
        "A4,C1,2026-10-01,2026-10-31,100.5,JPY\n"
        ",C1,2026-10-01,2026-10-31,1,CNY\n"
    )
    got = load(tmp_path, "invoices", write(tmp_path / "bad.csv", text))
    found = {
        (r["row"], r["column"], r["rule"], r["value"]) for r in got.findings.iter_rows(named=True)
    }
    assert (2, "invoice_date", "bad_value", "2026-02-30") in found
    assert (3, "amount", "too_many_decimals", "12.345") in found
    assert (4, "amount", "bad_value", "abc") in found
    assert (5, "amount", "too_many_decimals", "100.5") in found
    assert (6, "invoice_id", "missing_value", None) in found
    assert all(f == "bad.csv" for f in got.findings["file"])
    assert got.frame.height == 5  # rows are kept, never dropped


def test_missing_required_column_named(tmp_path):
    text = "invoice_id,customer_id,invoice_date,amount,currency\nA1,C1,2026-10-01,1,CNY\n"
    got = load(tmp_path, "invoices", write(tmp_path / "m.csv", text))
    rules = got.findings.filter(pl.col("rule") == "missing_column")
    assert rules["column"].to_list() == ["due_date"]
    assert "m.csv" in rules["file"].to_list()


def test_receipts_from_a_zip_of_statements_keep_member_names(tmp_path):
    import zipfile

    from tests.conftest import ROOT

    source = ROOT / "tests" / "fixtures" / "bank" / "mt940" / "ing.sta"
    archive = tmp_path / "statements.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(source, "ing.sta")
    single = load_input("receipts", InputSpec(path=source), ROOT)
    zipped = load(tmp_path, "receipts", archive)
    assert zipped.frame["amount"].to_list() == single.frame["amount"].to_list()
    assert set(zipped.frame["source_file"]) == {"statements.zip!ing.sta"}


BANK_WITHOUT_PAYERS = (
    "receipt_id,value_date,amount,currency,payer_name,memo\n"
    "R1,2026-10-05,4250.00,CNY,,INV-20002\n"
    'R2,2026-10-06,99.00,CNY,"",transfer\n'
    "R3,2026-10-07,10.00,CNY,Alpha Ltd,\n"
)


def test_bank_lines_with_an_empty_payer_name_load(tmp_path):
    """DESIGN.md: payer_name is optional and may be empty (many bank lines carry none)."""
    got = load(tmp_path, "receipts", write(tmp_path / "bank.csv", BANK_WITHOUT_PAYERS))
    assert got.findings.height == 0, got.findings
    assert got.frame["receipt_id"].to_list() == ["R1", "R2", "R3"]
    # an empty cell reads as null, a quoted empty one as an empty text: both carry no name
    assert [v or None for v in got.frame["payer_name"]] == [None, None, "Alpha Ltd"]


def test_a_bank_file_without_a_payer_column_loads(tmp_path):
    text = "receipt_id,value_date,amount,currency,memo\nR1,2026-10-05,4250.00,CNY,INV-20002\n"
    got = load(tmp_path, "receipts", write(tmp_path / "bank.csv", text))
    assert got.findings.height == 0, got.findings
    assert got.frame["payer_name"].to_list() == [None]


def test_a_receipt_without_payer_naming_an_invoice_with_its_amount_is_applied(tmp_path):
    from arlib.match import match
    from tests.ledger import frame, inv

    receipts = load(tmp_path, "receipts", write(tmp_path / "bank.csv", BANK_WITHOUT_PAYERS)).frame
    invoices = frame(
        "invoices", [inv("INV-20001", "C1", "3100.00"), inv("INV-20002", "C2", "4250.00")]
    )
    customers = frame(
        "customers",
        [{"customer_id": "C1", "name": "Alpha Ltd"}, {"customer_id": "C2", "name": "Beta Ltd"}],
    )
    res = match(invoices, receipts, customers)
    r1 = res.allocations.filter(pl.col("receipt_id") == "R1").row(0, named=True)
    assert (r1["invoice_id"], r1["customer_id"], r1["kind"]) == ("INV-20002", "C2", "cash")
    assert r1["applied_amount"] == Decimal("4250.00")
    assert res.receipts.filter(pl.col("receipt_id") == "R1")["status"].item() == "applied"
