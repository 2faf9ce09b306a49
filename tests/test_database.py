"""Inputs read from a database (issue 14): the params contract, bound parameters, the
SQLite sample against its CSVs, findings and failures as findings, and a real PostgreSQL
server (a throwaway cluster, tests.pgcluster) closing the sample period with a password
that must appear in no output."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import polars as pl
import pytest
import yaml

from arlib import cli, erp
from arlib.config import ConfigError, from_mapping, load_config
from arlib.database import bind, result_sha256
from arlib.load import load_period
from tests import pgcluster
from tests.conftest import ROOT

SAMPLE = ROOT / "data" / "sample"
ERP_PARAMS = ROOT / "params" / "2026-09-erp.yaml"
PASSWORD = "Erp-s3cret/with:odd@chars"
PROVENANCE = ["source_file", "source_row"]


def test_placeholders_become_positional_outside_quotes_comments_and_casts():
    sql = (
        "SELECT ':as_of', \"a:b\", d::date FROM t -- :nope\n"
        "WHERE d <= :as_of AND e >= :period_start /* :x */ AND f < :as_of"
    )
    text, names = bind(sql, "postgresql")
    assert names == ["as_of", "period_start"]
    assert text == (
        "SELECT ':as_of', \"a:b\", d::date FROM t -- :nope\n"
        "WHERE d <= $1 AND e >= $2 /* :x */ AND f < $1"
    )
    assert bind(sql, "sqlite")[0].endswith("e >= ?2 /* :x */ AND f < ?1")


def _params(**inputs) -> dict:
    files = {
        "invoices": "data/sample/2026-09/invoices.csv",
        "receipts": "data/sample/2026-09/bank_statement.csv",
        "customers": "data/sample/customers.csv",
    }
    return {"period": "2026-09", "inputs": {**files, **inputs}}


def _problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        from_mapping(raw, root=ROOT)
    return caught.value.problems


def test_params_refuse_what_the_contract_does_not_allow():
    raw = _params(
        invoices={
            "sql": "SELECT * FROM invoices WHERE d <= :as_of AND x = :today",
            "connection": "erp",
        },
        customers={"table": "customers", "connection": "nowhere"},
        credit_notes={"table": "credit_notes; DROP TABLE x", "connection": "erp"},
        fx_rates={
            "path": "data/sample/2026-09/fx_rates.csv",
            "sql": "SELECT 1",
            "connection": "erp",
        },
        decisions={"table": "decisions", "connection": "erp"},
    )
    raw["connections"] = {
        "erp": "sqlite:///data/sample/erp.db",
        "ledger": {"url": "postgresql://arlib:hunter2@db:5432/erp"},
        "gone": "sqlite:///data/sample/nowhere.db",
        "odd": "mysql://db/erp",
    }
    problems = _problems(raw)
    expected = [
        "inputs.invoices.sql: :today is not a parameter arlib binds",
        "inputs.credit_notes.table: 'credit_notes; DROP TABLE x' is not a table name",
        "inputs.fx_rates: give one of path, sql and table, not path and sql",
        "inputs.decisions: decisions is read from a file, not a database",
        "connections.ledger.url: the URL holds a password",
        "connections.odd.url: 'mysql://db/erp' is not a database URL",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert "hunter2" not in "\n".join(problems)


def test_unknown_connection_and_missing_database_file_are_named():
    raw = _params(customers={"table": "customers", "connection": "nowhere"})
    raw["connections"] = {"gone": "sqlite:///data/sample/nowhere.db"}
    problems = _problems(raw)
    assert any(
        p.startswith("inputs.customers.connection: 'nowhere' is not a connection (known: gone)")
        for p in problems
    ), problems
    assert any(p.startswith("connections.gone.url: database file not found") for p in problems)


def _reconcile(params: Path, out: Path) -> None:
    assert cli.main(["reconcile", "--params", str(params), "--out", str(out)]) == 0


def _same_results(csv_out: Path, db_out: Path) -> None:
    """matches.csv byte for byte; exceptions.csv byte for byte once the columns (and the
    evidence's 'at <file>:<row>') that say where a row was read are set aside."""
    assert (csv_out / "matches.csv").read_bytes() == (db_out / "matches.csv").read_bytes()
    at = r" at \S.*:\d+$"

    def without_provenance(path: Path) -> pl.DataFrame:
        frame = pl.read_csv(path, infer_schema=False).drop(PROVENANCE)
        return frame.with_columns(pl.col("evidence").str.replace(at, ""))

    a, b = (without_provenance(d / "exceptions.csv") for d in (csv_out, db_out))
    assert a.height > 100
    assert a.write_csv() == b.write_csv()


def test_sqlite_sample_gives_the_csv_paths_matches_and_exceptions(tmp_path):
    _reconcile(ROOT / "params" / "2026-09.yaml", tmp_path / "csv")
    _reconcile(ERP_PARAMS, tmp_path / "db")
    _same_results(tmp_path / "csv", tmp_path / "db")


def test_sample_erp_is_the_sample_period():
    """data/sample/erp.db holds the 2026-09 CSVs: regenerated from them it dumps alike,
    and the invoice lines add up to the invoices' amounts."""
    tables = erp.sample_tables(SAMPLE, "2026-09")
    lines = tables["invoice_lines"][0].group_by("invoice_id").agg(pl.col("amount_cents").sum())
    assert lines.height == tables["invoices"][0].height == 2500
    assert (lines["amount_cents"] > 0).all()
    with sqlite3.connect(SAMPLE / "erp.db") as db:
        total = db.execute("SELECT SUM(amount_cents) FROM invoice_lines").fetchone()[0]
    invoices = pl.read_csv(SAMPLE / "2026-09" / "invoices.csv", infer_schema=False)
    assert total == invoices["amount"].str.replace(".", "", literal=True).cast(pl.Int64).sum()


def test_provenance_records_connection_query_rows_and_result_hash():
    config = load_config(ERP_PARAMS)
    period = load_period(config)
    invoices = next(p for p in period.provenance if p["input"] == "invoices")
    assert invoices["url"] == "sqlite:///data/sample/erp.db"
    assert invoices["query"] == config.params.inputs.invoices.sql
    assert invoices["parameters"] == {"period_start": "2026-09-01", "as_of": "2026-09-30"}
    assert invoices["rows"] == 2500
    with sqlite3.connect(SAMPLE / "erp.db") as db:
        rows = db.execute("SELECT date, currency, rate FROM fx_rates ORDER BY id").fetchall()
    fx_rates = next(p for p in period.provenance if p["input"] == "fx_rates")
    expected = pl.DataFrame(rows, schema=["date", "currency", "rate"], orient="row")
    assert fx_rates["sha256"] == result_sha256(expected)


def _small_erp(root: Path, rows: list[tuple]) -> Path:
    (root / "params").mkdir(parents=True)
    with sqlite3.connect(root / "erp.db") as db:
        db.execute(
            "CREATE TABLE inv (invoice_id TEXT, customer_id TEXT, invoice_date TEXT, "
            "due_date TEXT, amount TEXT, currency TEXT)"
        )
        db.executemany("INSERT INTO inv VALUES (?, ?, ?, ?, ?, ?)", rows)
    for name in ("customers.csv", "2026-09/bank_statement.csv"):
        (root / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SAMPLE / name, root / "data" / name)
    return root


def _small_params(root: Path, invoices: dict, **connection) -> Path:
    raw = {
        "period": "2026-09",
        "connections": {"erp": {"url": "sqlite:///erp.db", **connection}},
        "inputs": {
            "invoices": {"connection": "erp", **invoices},
            "receipts": "data/2026-09/bank_statement.csv",
            "customers": "data/customers.csv",
        },
    }
    path = root / "params" / "2026-09.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _errors(params: Path) -> pl.DataFrame:
    period = load_period(load_config(params))
    return period.findings.filter(pl.col("severity") == "error")


def test_findings_name_the_query_and_the_rows_key(tmp_path):
    root = _small_erp(
        tmp_path,
        [
            ("INV1", "C000001", "2026-09-01", "2026-09-30", "100.00", "CNY"),
            ("INV2", "C000001", "2026-09-02", "2026-09-31", "12x.00", "CNY"),
        ],
    )
    errors = _errors(_small_params(root, {"table": "inv"}))
    bad = errors.filter(pl.col("column").is_in(["due_date", "amount"])).sort("column")
    assert bad["file"].to_list() == ["erp:inv table [invoice_id=INV2]"] * 2
    assert bad["row"].to_list() == [None, None]
    assert bad["value"].to_list() == ["12x.00", "2026-09-31"]


def test_database_failures_are_findings_naming_the_input(tmp_path):
    root = _small_erp(tmp_path, [("INV1", "C000001", "2026-09-01", "2026-09-30", "1.00", "CNY")])
    cases = {
        "query_failed": {"sql": "SELECT nope FROM inv WHERE invoice_date <= :as_of"},
        "missing_column": {"sql": "SELECT invoice_id, customer_id FROM inv"},
        "unreadable_type": {"sql": "SELECT *, x'00ff' AS blob FROM inv"},
    }
    for rule, invoices in cases.items():
        errors = _errors(_small_params(root, invoices))
        assert rule in errors["rule"].to_list(), (rule, errors)
        assert errors.filter(pl.col("rule") == rule)["file"][0] == "erp:invoices query"
    errors = _errors(_small_params(root, {"table": "inv"}, password_env="ARLIB_TEST_UNSET"))
    refused = errors.filter(pl.col("file") == "erp:inv table")
    assert refused["rule"].to_list() == ["database_password"]
    assert "ARLIB_TEST_UNSET" in refused["message"][0]


def test_a_query_cannot_write(tmp_path):
    root = _small_erp(tmp_path, [("INV1", "C000001", "2026-09-01", "2026-09-30", "1.00", "CNY")])
    errors = _errors(_small_params(root, {"sql": "DELETE FROM inv RETURNING *"}))
    refused = errors.filter(pl.col("file") == "erp:invoices query")
    assert refused["rule"].to_list() == ["query_failed"]
    assert "readonly" in refused["message"][0]
    with sqlite3.connect(root / "erp.db") as db:
        assert db.execute("SELECT COUNT(*) FROM inv").fetchone() == (1,)


# ------------------------------------------------------------------ a real PostgreSQL


@pytest.fixture(scope="module")
def postgres():
    reason = pgcluster.missing_reason()
    if reason:
        pytest.skip(reason)
    with pgcluster.cluster(PASSWORD) as server:
        pgcluster.psql(server, PASSWORD, erp.postgres_script(erp.sample_tables(SAMPLE, "2026-09")))
        yield server


def _postgres_project(root: Path, server: dict, **connection) -> Path:
    """A project whose 2026-09 params read the sample ERP from the server."""
    shutil.copytree(SAMPLE, root / "data" / "sample")
    (root / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    (root / "params").mkdir()
    raw = yaml.safe_load(ERP_PARAMS.read_text(encoding="utf-8"))
    url = f"postgresql://{server['user']}@{server['host']}:{server['port']}/{server['database']}"
    raw["connections"] = {"erp": {"url": url, "password_env": "ARLIB_TEST_PG", **connection}}
    raw["out_dir"] = "outputs/2026-09"
    path = root / "params" / "2026-09.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_postgres_close_equals_csv_and_no_output_holds_the_password(
    postgres, tmp_path, monkeypatch
):
    from arlib.close import run_close

    monkeypatch.setenv("ARLIB_TEST_PG", PASSWORD)
    params = _postgres_project(tmp_path / "project", postgres)
    _reconcile(ROOT / "params" / "2026-09.yaml", tmp_path / "csv")
    _reconcile(params, tmp_path / "pg")
    _same_results(tmp_path / "csv", tmp_path / "pg")
    out = run_close(params, progress=False)
    manifest = (out / "manifest.json").read_text(encoding="utf-8")
    assert '"query": "WITH totals AS' in manifest and postgres["host"] in manifest
    shown = (out / "01_load_and_validate.ipynb").read_text(encoding="utf-8")
    for text in ("from connection `erp`", "2,500 rows read", "WITH totals AS", ":as_of"):
        assert text in shown, text  # notebook 01: the connection, the query, the counts
    written = [
        p for p in (tmp_path / "project").rglob("*") if p.is_file() and "data" not in p.parts
    ]
    assert any(p.suffix == ".ipynb" for p in written) and any(
        p.name == "manifest.json" for p in written
    )
    for path in written:
        data = path.read_bytes()
        assert PASSWORD.encode() not in data, path
        assert b"Erp-s3cret" not in data, path


def test_postgres_failures_are_findings(postgres, tmp_path, monkeypatch):
    monkeypatch.setenv("ARLIB_TEST_PG", PASSWORD)
    params = _postgres_project(tmp_path / "project", postgres, timeout_seconds=1)
    raw = yaml.safe_load(params.read_text(encoding="utf-8"))
    raw["inputs"]["customers"] = {
        "connection": "erp",
        "sql": "SELECT pg_sleep(3), * FROM customers",
    }
    raw["inputs"]["fx_rates"] = {
        "connection": "erp",
        "sql": "UPDATE fx_rates SET rate = 0 RETURNING *",
    }
    params.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    errors = _errors(params)
    by_input = {f.split(" ")[0]: r for f, r in errors.select("file", "rule").iter_rows()}
    assert by_input["erp:customers"] == "query_timeout"
    assert by_input["erp:fx_rates"] == "query_failed"
    assert (
        "read-only transaction"
        in errors.filter(pl.col("file") == "erp:fx_rates query")["message"][0]
    )
    monkeypatch.setenv("ARLIB_TEST_PG", "wrong password")
    errors = _errors(params)
    assert set(errors["rule"]) == {"database_unreachable"}
    assert "password authentication failed" in errors["message"][0]
    raw["connections"]["erp"]["url"] = raw["connections"]["erp"]["url"].replace(
        str(postgres["port"]), str(pgcluster._free_port())
    )
    params.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    errors = _errors(params)
    assert "Connection refused" in errors["message"][0]
