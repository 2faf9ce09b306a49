"""Hostile files: loaders never raise or hang and never hand back half a table.

Each file either loads correctly or yields findings that name it (and the row/column where
that applies); a file that cannot be read gives an empty canonical frame plus an error.
"""

import io
import random
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from arlib import findings as fnd
from arlib.cli import main
from arlib.config import InputSpec
from arlib.load import load_input
from arlib.schema import FRAMES, columns
from tests.conftest import write

HEADER = "receipt_id,value_date,amount,currency,payer_name\n"
GOOD = "R1,2026-10-01,1.00,CNY,Alpha Ltd\n"
FORMULA = "=cmd|' /C calc'!A0"


def load(path: Path, name: str = "receipts", **spec):
    started = time.monotonic()
    got = load_input(name, InputSpec(path=path, **spec), path.parent)
    assert time.monotonic() - started < 30, "loader too slow"
    assert got.frame.columns == list(columns(name)), "not a canonical frame"
    assert set(got.findings["file"].to_list()) <= {path.name}
    return got


def assert_unreadable(got, file: str, rule: str | None = None) -> None:
    """Nothing half-loaded: no rows, and an error naming the file."""
    assert got.frame.height == 0
    errors = got.findings.filter(pl.col("severity") == "error")
    assert errors.height >= 1, got.findings
    assert set(errors["file"]) == {file}
    if rule:
        assert rule in set(errors["rule"]), got.findings


def zip_of_junk() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("junk.bin", b"\x00garbage\xff" * 100)
        archive.writestr("[Content_Types].xml", b"<not-really/>")
    return buf.getvalue()


def truncated_parquet() -> bytes:
    buf = io.BytesIO()
    pl.DataFrame(
        {"receipt_id": [f"R{i}" for i in range(500)], "amount": ["1.00"] * 500}
    ).write_parquet(buf)
    data = buf.getvalue()
    return data[: len(data) // 2]


UNREADABLE = {
    "binary.csv": (bytes(range(256)) * 40, "encoding"),
    "random.csv": (b"\x89PNG\r\n\x1a\n" + random.Random(7).randbytes(8192), None),
    "junk.xlsx": (zip_of_junk(), "unreadable"),
    "not_a_zip.xlsx": (b"this is not a spreadsheet\n" * 10, "unreadable"),
    "empty.xlsx": (b"", "unreadable"),
    "truncated.parquet": (truncated_parquet(), "unreadable"),
    "empty.parquet": (b"", "unreadable"),
}


@pytest.mark.parametrize("filename", list(UNREADABLE))
def test_unreadable_files_are_findings(tmp_path, filename):
    data, rule = UNREADABLE[filename]
    path = tmp_path / filename
    path.write_bytes(data)
    got = load(path)
    assert_unreadable(got, filename, rule)
    assert got.provenance["rows"] == 0
    assert len(got.provenance["sha256"]) == 64


@pytest.mark.parametrize("name", list(FRAMES))
def test_empty_file_names_missing_columns(tmp_path, name):
    got = load(write(tmp_path / "empty.csv", ""), name)
    assert got.frame.height == 0
    missing = got.findings.filter(pl.col("rule") == "missing_column")
    assert sorted(missing["column"]) == sorted(FRAMES[name][0])
    assert set(missing["severity"]) == {"error"}


def test_header_only_file_loads_empty(tmp_path):
    got = load(write(tmp_path / "header.csv", HEADER))
    assert got.frame.height == 0
    assert got.findings.height == 0


def test_20mb_single_line(tmp_path):
    huge = "x" * 20_000_000
    got = load(write(tmp_path / "long.csv", HEADER + f"R1,2026-10-01,1.00,CNY,{huge}\n" + GOOD))
    assert got.findings.height == 0, got.findings
    assert got.frame["receipt_id"].to_list() == ["R1", "R1"]
    assert got.frame["payer_name"].str.len_chars().to_list() == [20_000_000, 9]


def test_20mb_line_without_newlines_or_commas(tmp_path):
    got = load(write(tmp_path / "blob.csv", "y" * 20_000_000))
    assert got.frame.height == 0
    assert fnd.has_errors(got.findings)
    assert all(len(m) < 2_000 for m in got.findings["message"])


def test_ragged_rows_name_the_row(tmp_path):
    text = (
        HEADER
        + "R1,2026-10-01,1.00,CNY,Alpha Ltd,extra,more\n"  # row 2: too many values
        + "R2,2026-10-02\n"  # row 3: too few
        + "R3,2026-10-03,3.00,CNY,Gamma\n"  # row 4: fine
        + "R4,2026-10-04,4.00,CNY,Delta,\n"  # row 5: a trailing empty value is harmless
    )
    got = load(write(tmp_path / "ragged.csv", text))
    assert got.frame["receipt_id"].to_list() == ["R1", "R2", "R3", "R4"]
    ragged = got.findings.filter(pl.col("rule") == "ragged_row").rows(named=True)
    assert [(r["severity"], r["file"], r["row"], r["value"]) for r in ragged] == [
        ("error", "ragged.csv", 2, "extra,more")
    ]
    short = got.findings.filter(pl.col("rule") == "missing_value")
    assert set(short["row"]) == {3}
    # payer_name is optional and may be empty (DESIGN.md): not missing
    assert sorted(short["column"]) == ["amount", "currency"]


def test_utf16_with_bom_loads(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes((HEADER + "R1,2026-10-01,1.00,CNY,张三贸易\n").encode("utf-16"))
    got = load(path)
    assert got.findings.height == 0, got.findings
    assert got.frame["payer_name"].to_list() == ["张三贸易"]
    assert got.frame["amount"].to_list() == [Decimal("1.00")]


def test_utf16_without_bom_is_read_as_utf16(tmp_path):
    for encoding in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes((HEADER + GOOD).encode(encoding))
        got = load(path)
        assert got.findings.height == 0, got.findings
        assert got.provenance["encoding"] == encoding
        assert got.frame["payer_name"].to_list() == ["Alpha Ltd"]


def test_formula_text_stays_text_in_csv(tmp_path):
    got = load(write(tmp_path / "formula.csv", HEADER + f'R1,2026-10-01,1.00,CNY,"{FORMULA}"\n'))
    assert got.findings.height == 0
    assert got.frame.schema["payer_name"] == pl.String
    assert got.frame["payer_name"].to_list() == [FORMULA]


def test_formula_text_stays_text_in_xlsx(tmp_path):
    path = tmp_path / "formula.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    for col, value in enumerate(HEADER.strip().split(",")):
        sheet.write_string(0, col, value)
    for col, value in enumerate(["R1", "2026-10-01", "1.00", "CNY", FORMULA]):
        sheet.write_string(1, col, value)
    book.close()
    got = load(path)
    assert got.findings.height == 0, got.findings
    assert got.frame["payer_name"].to_list() == [FORMULA]


def test_ten_thousand_columns(tmp_path):
    names = HEADER.strip() + "," + ",".join(f"extra{i}" for i in range(10_000))
    row = GOOD.strip() + "," + ",".join(str(i) for i in range(10_000))
    got = load(write(tmp_path / "wide.csv", f"{names}\n{row}\n{row.replace('R1', 'R2')}\n"))
    assert got.findings.height == 0, got.findings
    assert got.frame["receipt_id"].to_list() == ["R1", "R2"]


def test_ten_thousand_columns_without_required_ones(tmp_path):
    names = ",".join(f"c{i}" for i in range(10_000))
    got = load(write(tmp_path / "wide.csv", f"{names}\n{names}\n"))
    assert got.frame.height == 1  # kept with nulls, as every unreadable row is
    assert got.frame.drop("source_file", "source_row").null_count().row(0) == (
        (1,) * (len(got.frame.columns) - 2)
    )
    missing = got.findings.filter(pl.col("rule") == "missing_column")
    assert sorted(missing["column"]) == sorted(FRAMES["receipts"][0])
    assert set(got.findings["rule"]) == {"missing_column"}
    assert all(len(m) < 2_000 for m in got.findings["message"])  # headers listed, capped


def test_nul_bytes_inside_values_are_refused_on_their_line(tmp_path):
    """A NUL inside a memo would hide a reference if removed: refused, not cleaned."""
    path = tmp_path / "nul.csv"
    path.write_bytes(
        (HEADER + "R1,2026-10-01,1.00,CNY,Alpha\nR2\x00,2026-10-02,2.00,CNY,B\n").encode()
    )
    got = load(path)
    [hit] = got.findings.rows(named=True)
    assert (hit["severity"], hit["file"], hit["row"], hit["rule"]) == (
        "error",
        "nul.csv",
        3,
        "nul_bytes",
    )
    assert got.frame.height == 0


def test_nul_padding_at_the_end_is_ignored_with_a_warning(tmp_path):
    path = tmp_path / "padded.csv"
    path.write_bytes((HEADER + GOOD).encode() + b"\x00" * 64)
    got = load(path)
    assert got.findings.select("severity", "rule").rows() == [("warning", "nul_bytes")]
    assert got.frame["payer_name"].to_list() == ["Alpha Ltd"]


def test_hostile_receipts_through_cli(tmp_path, capsys):
    """The whole command: exit 2, the file named, no traceback."""
    for name in ("invoices", "customers"):
        write(
            tmp_path / f"{name}.csv",
            {
                "invoices": "invoice_id,customer_id,invoice_date,due_date,amount,currency\n",
                "customers": "customer_id,name\n",
            }[name],
        )
    (tmp_path / "receipts.parquet").write_bytes(truncated_parquet())
    params = write(
        tmp_path / "p.yaml",
        "period: 2026-10\ninputs:\n  invoices: invoices.csv\n  receipts: receipts.parquet\n"
        "  customers: customers.csv\n",
    )
    code = main(["validate", "--params", str(params)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    assert "ERROR   receipts.parquet:" in out
