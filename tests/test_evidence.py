"""A published close is evidence: never overwritten silently, reproducible, signed off.

Most tests close the 2026-09 sample with papermill replaced by a stub (the outputs are still
written by the real pipeline), so each close takes seconds; the re-execution of real
published notebooks is tested in tests/test_close_e2e.py.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import nbformat
import openpyxl
import polars as pl
import pytest
from papermill.inspection import _infer_parameters

from arlib import cli
from arlib.close import (
    NOT_NAMED,
    PREPARER_VARIABLE,
    CloseFailed,
    close_summary,
    notebook_parameters,
    output_hashes,
    run_close,
    run_context,
)
from arlib.config import USER_KEYS, Params, load_config
from arlib.load import load_period, sha256_of
from arlib.signoff import SignOffError, read_signoffs, sign
from tests.conftest import ROOT, fake_notebooks

PERIOD = "2026-09"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    for period in ("2026-09", "2026-10"):
        shutil.copy2(ROOT / "params" / f"{period}.yaml", root / "params")
        shutil.copytree(ROOT / "data" / "sample" / period, root / "data" / "sample" / period)
    shutil.copy2(ROOT / "data" / "sample" / "customers.csv", root / "data" / "sample")
    (root / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    return root


def close(project: Path, period: str = PERIOD, **kwargs) -> Path:
    return run_close(project / "params" / f"{period}.yaml", progress=False, **kwargs)


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


# -------------------------------------------------------------- 8. published closes
def test_params_of_another_period_are_refused(project, monkeypatch, capsys):
    fake_notebooks(monkeypatch)
    code = cli.main(
        ["close", "--period", "2026-10", "--params", str(project / "params" / "2026-09.yaml")]
    )
    assert code == 2
    assert "params of 2026-09, not of 2026-10" in capsys.readouterr().err
    assert not (project / "outputs").exists()


def test_published_close_is_not_replaced_without_a_reason(project, monkeypatch, capsys):
    fake_notebooks(monkeypatch)
    out = close(project)
    before = files(out)
    with pytest.raises(CloseFailed, match="--reopen --reason"):
        close(project)
    assert files(out) == before
    # the command line asks for the reason with --reopen, and for --reopen with a reason
    assert (
        cli.main(["close", "--params", str(project / "params" / "2026-09.yaml"), "--reopen"]) == 2
    )
    assert "--reopen needs --reason" in capsys.readouterr().err
    assert files(out) == before


def test_reopen_keeps_the_previous_version_and_logs_why(project, monkeypatch):
    fake_notebooks(monkeypatch)
    monkeypatch.setenv(PREPARER_VARIABLE, "Li Wei")
    out = close(project)
    sign(out, sections=["AR-1"], role="preparer", name="Li Wei")
    before = files(out)
    close(project, reopen="late credit note CN-77")
    kept = list((out / ".history").iterdir())
    versions = [p for p in kept if p.is_dir()]
    assert len(versions) == 1
    assert files(versions[0]) == before  # the old version, sign-off included, byte for byte
    log = [json.loads(line) for line in (out / ".history" / "log.jsonl").read_text().splitlines()]
    assert [(r["reason"], r["reopened_by"]) for r in log] == [("late credit note CN-77", "Li Wei")]
    assert log[0]["kept_in"] == f".history/{versions[0].name}"
    steps = [
        json.loads(line)["step"] for line in (out / "audit_log.jsonl").read_text().splitlines()
    ]
    assert steps[-1] == "reopen"
    assert read_signoffs(out) == []  # the new version starts unsigned
    # a second reopening keeps both earlier versions
    close(project, reopen="second look")
    assert len([p for p in (out / ".history").iterdir() if p.is_dir()]) == 2


def test_manifest_lists_the_sha256_of_every_output(project, monkeypatch):
    fake_notebooks(monkeypatch)
    out = close(project)
    manifest = json.loads((out / "manifest.json").read_text())
    recorded = manifest["output_sha256"]
    assert recorded == output_hashes(out)
    assert recorded["open_items.parquet"] == sha256_of(out / "open_items.parquet")
    assert "manifest.json" not in recorded and "audit_log.jsonl" not in recorded


def test_manifest_records_the_params_resolved_beside_the_file_as_written(project, monkeypatch):
    """An auditor reads what the close was told without knowing arlib's defaults: every
    default filled in, the file's own keys over them, and the SHA-256 of the file read."""
    fake_notebooks(monkeypatch)
    path = project / "params" / f"{PERIOD}.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "matching: {bank_charge_max: {CNY: 30}, date_window_days: '90'}\n"
        + "provision: {opening_provision: 0.1}\n",
        encoding="utf-8",
    )
    manifest = json.loads((close(project) / "manifest.json").read_text())
    assert manifest["params_sha256"] == sha256_of(path)
    assert manifest["params"]["matching"] == {
        "bank_charge_max": {"CNY": 30},
        "date_window_days": "90",
    }
    resolved = manifest["params_resolved"]
    others = {k: v for k, v in manifest["params"].items() if k not in ("matching", "provision")}
    expected = Params.model_validate(others).model_dump(
        mode="json", exclude={"params_file", "root"}
    )
    expected["matching"].update(bank_charge_max={"CNY": "30"}, date_window_days=90)
    expected["provision"]["opening_provision"] = "0.1"  # exactly, not 0.1000000000000000055...
    assert resolved == expected
    assert resolved["as_of"] == "2026-09-30" and resolved["out_dir"] == "outputs/2026-09"
    assert resolved["inputs"]["invoices"]["format"] is None  # every default, also per input
    assert load_config(path).resolved() == resolved


def test_opening_changed_after_the_close_is_an_error(project, monkeypatch):
    fake_notebooks(monkeypatch)
    out = close(project)
    config = load_config(project / "params" / "2026-10.yaml")
    assert "opening_changed" not in set(load_period(config).findings["rule"])
    # the same open items, rewritten: different bytes, so no longer what was published
    items = pl.read_parquet(out / "open_items.parquet")
    items.head(items.height - 1).write_parquet(out / "open_items.parquet")
    found = load_period(config).findings.filter(pl.col("rule") == "opening_changed")
    assert found.select("severity", "file").rows() == [
        ("error", "outputs/2026-09/open_items.parquet")
    ]


def test_opening_without_a_manifest_is_a_warning(project, monkeypatch):
    fake_notebooks(monkeypatch)
    out = close(project)
    (out / "manifest.json").unlink()
    config = load_config(project / "params" / "2026-10.yaml")
    found = load_period(config).findings.filter(pl.col("rule") == "opening_unverified")
    assert found["severity"].to_list() == ["warning"]


# ------------------------------------------------------------ 9. reproducible notebooks
def test_injected_parameters_are_relative_and_stay_true_once_published(project):
    config = load_config(project / "params" / "2026-09.yaml")
    build = config.out_dir.parent / f".{config.out_dir.name}.building-1"
    parameters = notebook_parameters(config, project / "params" / "2026-09.yaml", {}, build, {})
    assert parameters["params_file"] == "params/2026-09.yaml"
    assert parameters["project_root"] == "../.."
    assert (config.out_dir / parameters["project_root"]).resolve() == project.resolve()
    assert not any(str(project) in str(v) for v in parameters.values())


def test_run_by_names_the_preparer_never_the_login(project, monkeypatch):
    monkeypatch.delenv(PREPARER_VARIABLE, raising=False)
    monkeypatch.delenv("ARLIB_USER", raising=False)
    config = load_config(project / "params" / "2026-09.yaml")
    assert run_context(config)["run_by"] == NOT_NAMED
    monkeypatch.setenv(PREPARER_VARIABLE, "Wang Fang")
    assert run_context(config)["run_by"] == "Wang Fang"
    text = (project / "params" / "2026-09.yaml").read_text() + "preparer: Chen Jie\n"
    (project / "params" / "2026-09.yaml").write_text(text)
    assert run_context(load_config(project / "params" / "2026-09.yaml"))["run_by"] == "Chen Jie"


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")))
def test_parameters_cell_knows_every_params_key(notebook):
    """`papermill NB OUT -f params/P.yaml` passes the YAML's keys: every one of them, and
    every key the config knows, is a parameter, so papermill never warns of an unknown one."""
    import yaml

    declared = {p.name for p in _infer_parameters(nbformat.read(notebook, as_version=4))}
    assert set(USER_KEYS) <= declared
    for params in (ROOT / "params").glob("*.yaml"):
        assert set(yaml.safe_load(params.read_text(encoding="utf-8"))) <= declared, params


# ----------------------------------------------------------------------- 10. sign-off
def signoff_sheet(out: Path) -> list[tuple]:
    book = openpyxl.load_workbook(out / "workpapers.xlsx", read_only=True)
    rows = list(book["Sign-off"].iter_rows(values_only=True))
    return [r for r in rows[4:] if r[0]]


def test_signoff_is_recorded_shown_in_the_workbook_and_kept_true_in_the_manifest(
    project, monkeypatch
):
    fake_notebooks(monkeypatch)
    out = close(project)
    assert all(row[2] is None for row in signoff_sheet(out))  # unsigned at close
    sign(out, sections=["AR-1", "AR-4"], role="preparer", name="Li Wei", note="tied out")
    sign(out, sections=["AR-1"], role="reviewer", name="Zhang San", on=dt.date.today())
    rows = {row[0]: row for row in signoff_sheet(out)}
    today = str(dt.date.today())
    assert rows["AR-1"][:7] == ("AR-1", "Lead", "Li Wei", today, "Zhang San", today, "tied out")
    assert rows["AR-4"][2:5] == ("Li Wei", today, None)
    assert rows["AR-2"][2] is None
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["output_sha256"]["workpapers.xlsx"] == sha256_of(out / "workpapers.xlsx")
    assert [(s["section"], s["role"]) for s in manifest["signoff"]] == [
        ("AR-1", "preparer"),
        ("AR-4", "preparer"),
        ("AR-1", "reviewer"),
    ]
    # every other sheet is untouched by the sign-off
    book = openpyxl.load_workbook(out / "workpapers.xlsx", read_only=True)
    assert book.sheetnames[0] == "Index" and book.sheetnames[-1] == "Sign-off"


@pytest.mark.parametrize(
    "first, second, message",
    [
        (None, ("reviewer", "Zhang San"), "not yet signed by its preparer"),
        (("preparer", "Li Wei"), ("reviewer", "li  wei"), "cannot also review it"),
        (None, ("approver", "Li Wei"), "expected one of preparer, reviewer"),
        (None, ("preparer", "  "), "needs the signer's name"),
    ],
)
def test_signoff_rules(project, monkeypatch, first, second, message):
    fake_notebooks(monkeypatch)
    out = close(project)
    if first:
        sign(out, sections=["AR-1"], role=first[0], name=first[1])
    with pytest.raises(SignOffError, match=message):
        sign(out, sections=["AR-1"], role=second[0], name=second[1])


def test_signoff_dates_and_sections_are_checked(project, monkeypatch):
    fake_notebooks(monkeypatch)
    out = close(project)
    with pytest.raises(SignOffError, match="no workpaper section"):
        sign(out, sections=["AR-99"], role="preparer", name="Li Wei")
    with pytest.raises(SignOffError, match="in the future"):
        sign(
            out, sections=["AR-1"], role="preparer", name="Li", on=dt.date.today() + dt.timedelta(1)
        )
    sign(out, sections=["all"], role="preparer", name="Li Wei")
    with pytest.raises(SignOffError, match="cannot precede its preparation"):
        sign(out, sections=["AR-1"], role="reviewer", name="Zhang", on=dt.date(2020, 1, 1))
    assert {s.section for s in read_signoffs(out)} == {r[0] for r in signoff_sheet(out)}


def test_signoff_command_line(project, monkeypatch, capsys):
    fake_notebooks(monkeypatch)
    close(project)
    params = str(project / "params" / "2026-09.yaml")
    base = ["signoff", "--params", params, "--section", "AR-1,AR-2"]
    assert cli.main([*base, "--role", "preparer", "--name", "Li Wei"]) == 0
    assert "signed AR-1, AR-2 of 2026-09 as preparer: Li Wei" in capsys.readouterr().out
    assert cli.main([*base, "--role", "reviewer", "--name", "Li Wei"]) == 2
    assert "cannot also review it" in capsys.readouterr().err
    assert cli.main([*base, "--role", "reviewer", "--name", "Z", "--date", "2026-13-01"]) == 2


def test_close_summary_states_what_to_read_first(project, monkeypatch):
    fake_notebooks(monkeypatch)
    out = close(project)
    lines = close_summary(out)
    exceptions = pl.read_csv(out / "exceptions.csv", infer_schema=False)
    open_count = exceptions.filter(pl.col("status") == "open").height
    assert lines[0].startswith("GL tie-out: ")
    assert lines[1].startswith(f"open exceptions: {open_count} (")
    assert lines[-1].endswith("04_close_and_signoff.html")
