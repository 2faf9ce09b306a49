"""The stable command line: exit codes, every problem at once with file:row and column."""

import csv
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from arlib.cli import main
from arlib.config import defaults_yaml
from tests.conftest import ROOT, write

SAMPLE_PARAMS = ROOT / "params" / "2026-09.yaml"
INVOICES = "data/sample/2026-09/invoices.csv"
CUSTOMERS = "data/sample/customers.csv"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the sample project (params + 2026-09 data) that a test may break."""
    (tmp_path / "params").mkdir()
    shutil.copy(SAMPLE_PARAMS, tmp_path / "params" / "2026-09.yaml")
    shutil.copytree(ROOT / "data" / "sample" / "2026-09", tmp_path / "data/sample/2026-09")
    shutil.copy(ROOT / CUSTOMERS, tmp_path / CUSTOMERS)
    return tmp_path


def test_validate_sample_exits_0(capsys):
    code, out, err = run(["validate", "--params", str(SAMPLE_PARAMS)], capsys)
    assert code == 0, out + err
    assert "0 error(s)" in out
    assert "invoices" in out and "data/sample/2026-09/invoices.csv" in out


def test_validate_copied_sample_exits_0(project, capsys):
    code, out, _ = run(["validate", "--params", str(project / "params/2026-09.yaml")], capsys)
    assert code == 0, out


def break_project(project: Path) -> None:
    """GBK invoices with Chinese headers (mapped in params), a bad date, a bad amount, a
    duplicate id; customers without their required ``name`` column."""
    with open(ROOT / INVOICES, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[:12]
    header = rows[0]
    assert header[:6] == ["invoice_id", "customer_id", "invoice_date", "due_date", "amount"] + [
        "currency"
    ]
    rows[0] = ["单据编号", "客户", "单据日期", "付款期限", "应收金额", "币种", *header[6:]]
    rows[3][2] = "2026-09-31"  # file row 4: impossible date
    rows[5][4] = "12,3a4.00"  # file row 6: not an amount
    rows[8][0] = rows[1][0]  # file row 9: duplicates the id on row 2
    lines = [",".join(f'"{v}"' for v in row) for row in rows]
    write(project / INVOICES, "\n".join(lines) + "\n", encoding="gbk")
    params = yaml.safe_load((project / "params/2026-09.yaml").read_text(encoding="utf-8"))
    params["columns"]["invoices"] = {
        "单据编号": "invoice_id",
        "客户": "customer_id",
        "单据日期": "invoice_date",
        "付款期限": "due_date",
        "应收金额": "amount",
    }
    # the first 11 invoices are kept: the sample's replies and contacts name others
    for name in ("replies", "contacts"):
        params["inputs"].pop(name, None)
    text = yaml.safe_dump(params, allow_unicode=True, sort_keys=False)
    write(project / "params/2026-09.yaml", text)
    customers = pl.read_csv(project / CUSTOMERS, infer_schema=False).drop("name")
    customers.write_csv(project / CUSTOMERS)


def test_validate_broken_copy_lists_every_problem(project, capsys):
    break_project(project)
    code, out, err = run(["validate", "--params", str(project / "params/2026-09.yaml")], capsys)
    assert code == 2, out + err
    assert "Traceback" not in out + err
    errors = [line for line in out.splitlines() if line.startswith("ERROR")]
    expected = [
        (f"{INVOICES}:4: invoice_date: '2026-09-31'", "cannot read as a date"),
        (f"{INVOICES}:6: amount: '12,3a4.00'", "cannot read as an amount"),
        (f"{INVOICES}:9: invoice_id:", "already used on row 2"),
        (f"{CUSTOMERS}: name:", "required column 'name' not found"),
    ]
    for where, what in expected:
        assert any(where in line and what in line for line in errors), (where, out)
    assert f"{len(errors)} error(s)" in out
    assert len(errors) == 4, out  # no cascade of follow-on errors


def test_reconcile_writes_matches_with_design_columns(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run(
        ["reconcile", "--params", str(SAMPLE_PARAMS), "--out", str(out_dir)], capsys
    )
    assert code == 0, out + err
    matches = pl.read_csv(out_dir / "matches.csv", infer_schema=False)
    assert matches.columns[:7] == [
        "receipt_id",
        "invoice_id",
        "applied_amount",
        "currency",
        "rule",
        "confidence",
        "reason",
    ]
    assert matches.height > 0
    assert matches.filter(pl.col("reason").is_null() | pl.col("rule").is_null()).is_empty()
    assert (out_dir / "exceptions.csv").is_file()
    assert f"wrote {out_dir / 'matches.csv'}" in out


def test_reconcile_stops_on_data_errors(project, tmp_path, capsys):
    break_project(project)
    out_dir = tmp_path / "out"
    code, out, _ = run(
        ["reconcile", "--params", str(project / "params/2026-09.yaml"), "--out", str(out_dir)],
        capsys,
    )
    assert code == 2
    assert "reconcile stopped" in out
    assert not (out_dir / "matches.csv").exists()  # no half output


def test_defaults_prints_yaml(capsys):
    code, out, _ = run(["defaults"], capsys)
    assert code == 0
    assert out == defaults_yaml()
    parsed = yaml.safe_load(out)
    assert {"matching", "aging", "tiers", "workpapers"} <= set(parsed)


def test_params_error_exits_2_without_traceback(tmp_path, capsys):
    path = write(
        tmp_path / "params" / "bad.yaml",
        "period: 2026-09\nas_of: 2026-02-30\ncolour: blue\nmatching: {date_window_days: ten}\n",
    )
    for command in (["validate"], ["reconcile", "--out", str(tmp_path / "out")]):
        code, out, err = run([*command, "--params", str(path)], capsys)
        assert code == 2
        assert "Traceback" not in out + err
        for key in ("as_of:", "colour:", "matching.date_window_days:", "inputs:"):
            assert key in err, (key, err)


def test_missing_params_file_exits_2(tmp_path, capsys):
    code, _, err = run(["validate", "--params", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2
    assert "params file not found" in err
