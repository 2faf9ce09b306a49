"""Bad input and faults never lose money: every failure leaves complete outputs or none,
exits 2 with a plain message, never a traceback.

Faults the machine cannot be made to have on demand are simulated: a full disk is a
writer raising ``ENOSPC``, a read-only folder one raising ``EACCES`` (the tests run as
root in CI, which ignores permissions; a real ``chmod`` test runs for other users). Only
one test starts a notebook kernel (the failed close listing every data error).
"""

from __future__ import annotations

import csv
import errno
import os
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import yaml

from arlib.cli import main
from arlib.close import CloseFailed, run_close
from arlib.config import ConfigError, load_config
from arlib.findings import quote
from arlib.pipeline import close_stage, write_close_outputs
from arlib.safe_output import (
    OutputFailed,
    clean_stale_builds,
    csv_safe,
    staged_output,
    write_csv,
)
from tests.conftest import ROOT, fake_notebooks

PERIOD = "2026-09"
INVOICES = f"data/sample/{PERIOD}/invoices.csv"
BANK = f"data/sample/{PERIOD}/bank_statement.csv"
CUSTOMERS = "data/sample/customers.csv"
RECONCILE_FILES = [
    "exceptions.csv",
    "findings.csv",
    "matches.csv",
    "open_invoices.csv",
    "suggestions.csv",
    "unapplied_receipts.csv",
]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the 2026-09 sample project (notebooks linked) that a test may break."""
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    shutil.copy2(ROOT / "params" / f"{PERIOD}.yaml", root / "params")
    shutil.copytree(ROOT / "data" / "sample" / PERIOD, root / "data" / "sample" / PERIOD)
    shutil.copy2(ROOT / CUSTOMERS, root / CUSTOMERS)
    (root / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    return root


def params_of(project: Path) -> Path:
    return project / "params" / f"{PERIOD}.yaml"


def set_params(project: Path, **sections) -> Path:
    path = params_of(project)
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    params.update(sections)
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def hidden(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if ".building-" in p.name or ".replaced-" in p.name
    )


def fail_writing(monkeypatch, name: str, error: OSError) -> None:
    """``DataFrame.write_csv`` raises ``error`` for a file called ``name`` (as a full disk
    or a read-only folder would); every other file is written."""
    original = pl.DataFrame.write_csv

    def write_csv(self, file=None, *args, **kwargs):
        if file is not None and Path(file).name == name:
            raise error
        return original(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_csv", write_csv)


def disk_full(path: str = "") -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path or None)


# ------------------------------------------------------------ complete outputs or none
def test_disk_full_during_reconcile_publishes_nothing(project, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    fail_writing(monkeypatch, "unapplied_receipts.csv", disk_full())
    code, printed, err = run(
        ["reconcile", "--params", str(params_of(project)), "--out", str(out)], capsys
    )
    assert code == 2, printed + err
    assert "No space left on device" in err and str(out) in err
    assert "Traceback" not in printed + err
    assert not out.exists()  # no matches.csv without its unapplied_receipts.csv
    assert hidden(tmp_path) == []


def test_disk_full_keeps_the_previous_outputs(project, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the analyst's own file\n", encoding="utf-8")
    argv = ["reconcile", "--params", str(params_of(project)), "--out", str(out)]
    code, printed, err = run(argv, capsys)
    assert code == 0, printed + err
    before = snapshot(out)
    assert sorted(before) == sorted([*RECONCILE_FILES, "notes.txt"])
    fail_writing(monkeypatch, "exceptions.csv", disk_full())  # the very last file
    code, printed, err = run(argv, capsys)
    assert code == 2 and "No space left on device" in err
    assert snapshot(out) == before
    assert hidden(out) == [] and hidden(tmp_path) == []


def test_reconcile_into_an_existing_folder_keeps_its_other_files(project, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n", encoding="utf-8")
    (out / "matches.csv").write_text("stale\n", encoding="utf-8")
    argv = ["reconcile", "--params", str(params_of(project)), "--out", str(out)]
    code, printed, err = run(argv, capsys)
    assert code == 0, printed + err
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me\n"
    assert (out / "matches.csv").read_text(encoding="utf-8").startswith("receipt_id,")
    assert f"wrote {out / 'matches.csv'}" in printed
    assert hidden(out) == []


def test_library_io_error_is_named_and_nothing_published(tmp_path):
    """Polars reports a full disk while writing Parquet as a ComputeError naming the OS
    error; it is still a plain disk-full message."""
    final = tmp_path / "outputs" / PERIOD
    with pytest.raises(OutputFailed, match="No space left on device"), staged_output(final) as b:
        (b / "matches.csv").write_text("half\n", encoding="utf-8")
        raise pl.exceptions.ComputeError(
            "parquet: File out of specification: underlying IO error: "
            "No space left on device (os error 28)"
        )
    assert not final.exists() and hidden(final.parent) == []


def test_other_errors_pass_through_and_leave_nothing(tmp_path):
    final = tmp_path / "outputs" / PERIOD
    with pytest.raises(KeyError), staged_output(final) as build:
        (build / "matches.csv").write_text("half\n", encoding="utf-8")
        raise KeyError("a bug")
    assert not final.exists() and hidden(final.parent) == []


def test_out_that_is_a_file_exits_2(project, tmp_path, capsys):
    target = tmp_path / "out.csv"
    target.write_text("not a folder\n", encoding="utf-8")
    code, printed, err = run(
        ["reconcile", "--params", str(params_of(project)), "--out", str(target)], capsys
    )
    assert code == 2, printed + err
    assert "is not a folder" in err and "Traceback" not in err
    assert target.read_text(encoding="utf-8") == "not a folder\n"
    assert "wrote" not in printed


def test_close_out_dir_that_is_a_file_exits_2_before_any_notebook(project, capsys, monkeypatch):
    import papermill

    def no_notebooks(*args, **kwargs):
        raise AssertionError("a notebook ran")

    monkeypatch.setattr(papermill, "execute_notebook", no_notebooks)
    (project / "outputs").mkdir()
    (project / "outputs" / PERIOD).write_text("a file\n", encoding="utf-8")
    code, _, err = run(["close", "--params", str(params_of(project)), "--quiet"], capsys)
    assert code == 2
    assert "is not a folder" in err and "Traceback" not in err


def test_read_only_output_folder_simulated(project, tmp_path, monkeypatch, capsys):
    """EACCES on the first file written (what a read-only --out gives), as any user."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out / "matches.csv"))
    fail_writing(monkeypatch, "matches.csv", denied)
    code, printed, err = run(
        ["reconcile", "--params", str(params_of(project)), "--out", str(out)], capsys
    )
    assert code == 2, printed + err
    assert "Permission denied" in err and "Traceback" not in err
    assert snapshot(out) == {"notes.txt": b"mine\n"}


def test_read_only_parent_simulated(project, tmp_path, monkeypatch, capsys):
    """The hidden build folder cannot be made beside a new --out: exit 2, nothing made."""
    out = tmp_path / "locked" / "out"
    original = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if "locked" in self.parts:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    code, printed, err = run(
        ["reconcile", "--params", str(params_of(project)), "--out", str(out)], capsys
    )
    assert code == 2, printed + err
    assert "Permission denied" in err and "Traceback" not in err
    assert not (tmp_path / "locked").exists()


def test_disk_full_while_close_publishes_keeps_previous_close(project, monkeypatch, capsys):
    fake_notebooks(monkeypatch)
    code, printed, err = run(["close", "--params", str(params_of(project)), "--quiet"], capsys)
    assert code == 0, printed + err
    published = project / "outputs" / PERIOD
    before = snapshot(published)
    assert "aging.csv" in before and "manifest.json" in before
    fail_writing(monkeypatch, "aging.csv", disk_full())
    again = ["close", "--params", str(params_of(project)), "--quiet", "--reopen", "--reason", "x"]
    code, printed, err = run(again, capsys)
    assert code == 2, printed + err
    assert "No space left on device" in err and "Traceback" not in err
    assert snapshot(published) == before
    assert hidden(project / "outputs") == []


def test_failed_close_survives_a_full_disk_in_its_failure_record(project, monkeypatch, capsys):
    """Writing FAILED/README.txt itself hits the full disk: still exit 2 with the reason."""
    fake_notebooks(monkeypatch, fail=RuntimeError("kernel died"))
    original = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name == "README.txt":
            raise disk_full(str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    code, printed, err = run(["close", "--params", str(params_of(project)), "--quiet"], capsys)
    assert code == 2, printed + err
    assert "kernel died" in err and "No space left on device" in err
    assert "Traceback" not in err
    assert not (project / "outputs" / PERIOD).exists()
    assert hidden(project / "outputs") == []


# ------------------------------------------------------------ stale build folders
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_build_folders_removed_live_kept(project, monkeypatch, capsys):
    outputs = project / "outputs"
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folders = {
            "dead": outputs / f".{PERIOD}.building-{dead}",
            "dead_other_period": outputs / f".2026-08.building-{dead}",
            "live": outputs / f".{PERIOD}.building-{live.pid}",
            "live_but_untouched_for_days": outputs / f".2026-07.building-{live.pid}",
        }
        for folder in folders.values():
            (folder / ".state").mkdir(parents=True)
            (folder / "matches.csv").write_text("half\n", encoding="utf-8")
        old = time.time() - 3 * 24 * 3600
        for path in (
            folders["live_but_untouched_for_days"],
            *folders["live_but_untouched_for_days"].iterdir(),
        ):
            os.utime(path, (old, old))
        fake_notebooks(monkeypatch, fail=RuntimeError("stop after the clean-up"))
        code, _, err = run(["close", "--params", str(params_of(project)), "--quiet"], capsys)
        assert code == 2 and "stop after the clean-up" in err
        left = {name for name, folder in folders.items() if folder.exists()}
        assert left == {"live"}
    finally:
        live.kill()
        live.wait()


def test_reconcile_cleans_only_its_own_stale_builds(tmp_path):
    dead = _dead_pid()
    mine = tmp_path / f".out.building-{dead}"
    theirs = tmp_path / f".photos.building-{dead}"  # a folder arlib does not own
    for folder in (mine, theirs):
        folder.mkdir()
    with staged_output(tmp_path / "out", replace=False) as build:
        (build / "matches.csv").write_text("receipt_id\n", encoding="utf-8")
    assert not mine.exists() and theirs.exists()
    assert (tmp_path / "out" / "matches.csv").is_file()


def test_clean_stale_builds_keeps_a_live_run(tmp_path):
    live = tmp_path / f".{PERIOD}.building-{os.getppid()}"
    live.mkdir()
    assert clean_stale_builds(tmp_path) == []
    assert live.exists()


# ------------------------------------------------------------ a failed close names every error
def test_failed_close_lists_every_data_error(project, capsys):
    path = project / INVOICES
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    column = rows[0].index("amount")
    for i in range(1, 231):  # 230 bad amounts on file lines 2..231
        rows[i][column] = f"bad{i}"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    code, _, err = run(["close", "--params", str(params_of(project)), "--quiet"], capsys)
    assert code == 2
    assert "Traceback" not in err
    readme = (project / "outputs" / f"{PERIOD}.FAILED" / "README.txt").read_text(encoding="utf-8")
    for text in (err, readme):
        assert "01_load_and_validate.ipynb" in text and "DataErrors" in text
        listed = [line for line in text.splitlines() if f"{INVOICES}:" in line]
        assert len(listed) == 200, text
        assert f"{INVOICES}:2: amount: 'bad1' cannot read as an amount" in text
        assert f"{INVOICES}:201: amount: 'bad200'" in text  # far beyond the first line
        assert "... and 30 more" in text
    assert not (project / "outputs" / PERIOD).exists()
    assert hidden(project / "outputs") == []


# ------------------------------------------------------------ inputs and params
@pytest.mark.parametrize("kind", ["folder", "device"])
def test_input_that_is_not_a_regular_file_is_a_params_error(project, kind, capsys):
    if kind == "folder":
        target = project / "data" / "a-folder"
        target.mkdir()
        expected = "is a folder"
    else:
        target = Path("/dev/zero")
        if not target.exists():
            pytest.skip("no /dev/zero here")
        expected = "not a regular file"
    params = yaml.safe_load(params_of(project).read_text(encoding="utf-8"))
    params["inputs"]["invoices"] = str(target)
    path = set_params(project, inputs=params["inputs"])
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = [p for p in info.value.problems if p.startswith("inputs.invoices")]
    assert expected in problem, problem
    code, _, err = run(["validate", "--params", str(path)], capsys)
    assert code == 2 and "inputs.invoices:" in err and expected in err


@pytest.mark.parametrize(
    ("section", "values", "named"),
    [
        ("exceptions", {"shift_factors": [0]}, "exceptions.shift_factors"),
        ("exceptions", {"tax_rates": [-1]}, "exceptions.tax_rates"),
        ("exceptions", {"discount_grace_days": 10**10}, "exceptions.discount_grace_days"),
        ("matching", {"suggest_max_candidates": -1}, "matching.suggest_max_candidates"),
        ("matching", {"date_window_days": 10**12}, "matching.date_window_days"),
        ("matching", {"suggest_near_pct": "NaN"}, "matching.suggest_near_pct"),
        ("matching", {"rounding_tolerance": "-Infinity"}, "matching.rounding_tolerance"),
        ("kpis", {"days_in_period": 0}, "kpis.days_in_period"),
        ("aging", {"buckets": [["early", None, 0], ["late", 1, None]]}, "provision.loss_rates"),
    ],
)
def test_params_that_would_break_a_stage_are_params_errors(project, section, values, named):
    path = set_params(project, **{section: values})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any(named in p for p in info.value.problems), info.value.problems


def test_divide_by_zero_params_exit_2_not_a_traceback(project, tmp_path, capsys):
    path = set_params(project, exceptions={"shift_factors": [10, 0]})
    code, printed, err = run(
        ["reconcile", "--params", str(path), "--out", str(tmp_path / "o")], capsys
    )
    assert code == 2
    assert "exceptions.shift_factors" in err and "Traceback" not in printed + err
    assert not (tmp_path / "o").exists()


def _bomb(levels: int = 10, width: int = 10) -> str:
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_fails_fast(project, capsys):
    path = params_of(project)
    bomb = _bomb() + "statements: {customer_ids: *a9}\n"  # 10**9 values when expanded
    path.write_text(path.read_text(encoding="utf-8") + bomb, encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.perf_counter() - started < 5
    (problem,) = info.value.problems
    assert "alias" in problem and "100,000" in problem
    code, _, err = run(["validate", "--params", str(path)], capsys)
    assert code == 2 and "alias" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("period: 2026-09\nx: &a [*a]\n", "recursive alias"),
        ("period: 2026-09\nx: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than"),
        ("period: 2026-09\nx: " + "1" * 10_000 + "\n", "x: unknown key"),
        ("period: 2026-09\n# " + "x" * 1_100_000 + "\n", "at most 1,000,000"),
    ],
)
def test_hostile_params_yaml_is_refused_plainly(tmp_path, text, expected):
    path = tmp_path / "params" / "p.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any(expected in p for p in info.value.problems), info.value.problems
    assert len(str(info.value)) < 5_000


# ------------------------------------------------------------ bounded quotes of bad values
def test_quoted_values_are_bounded():
    assert quote("2026-09-31") == "'2026-09-31'"
    assert quote(None) == "None"
    big = quote("x" * 10_000_000)
    assert len(big) < 200 and "10,000,000 characters" in big
    assert len(quote(list(range(1_000_000)))) <= 90
    assert len(quote({"k": "v" * 10_000})) <= 90


def test_validate_quotes_a_huge_cell_briefly(project, capsys):
    path = project / INVOICES
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    rows[1][rows[0].index("amount")] = "9" * 2_000_000 + "x"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    code, printed, err = run(["validate", "--params", str(params_of(project))], capsys)
    assert code == 2
    (line,) = [x for x in printed.splitlines() if x.startswith("ERROR") and f"{INVOICES}:2:" in x]
    assert len(line) < 600 and "characters" in line
    assert len(printed + err) < 20_000


def test_printed_findings_are_bounded_whoever_made_them(capsys):
    from arlib.cli import _print_findings
    from arlib.findings import FINDING_SCHEMA

    findings = pl.DataFrame(
        [
            {
                "severity": "error",
                "file": "invoices.csv",
                "row": 2,
                "column": "memo",
                "value": "=" * 10_000_000,
                "rule": "bad_value",
                "message": "too long",
            }
        ],
        schema=FINDING_SCHEMA,
    )
    assert _print_findings(findings) == (1, 0)
    printed = capsys.readouterr().out
    assert len(printed) < 500 and "10,000,000 characters" in printed


def test_params_messages_quote_huge_values_briefly(project):
    path = set_params(
        project,
        period="x" * 200_000,
        matching={"date_window_days": "y" * 200_000},
        **{"z" * 200_000: 1},
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert len(message) < 3_000
    assert "period: 'xxx" in message and "200,000 characters" in message
    assert "matching.date_window_days: 'yyy" in message


# ------------------------------------------------------------ CSV cells never run as formulas
def test_write_csv_defuses_formulas_only_in_text_columns(tmp_path):
    frame = pl.DataFrame(
        {
            "name": ["=1+1", "+86 21", "-12.50", "@SUM(A1)", "\tTAB", "\rCR", "plain", None],
            "amount": [Decimal("-12.50")] * 8,
            "days": [-3] * 8,
        },
        schema={"name": pl.String, "amount": pl.Decimal(38, 2), "days": pl.Int64},
    )
    with write_csv(frame, tmp_path / "x.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows[1:]] == [
        "'=1+1",
        "'+86 21",
        "'-12.50",
        "'@SUM(A1)",
        "'\tTAB",
        "'\rCR",
        "plain",
        "",
    ]
    assert {r[1] for r in rows[1:]} == {"-12.50"} and {r[2] for r in rows[1:]} == {"-3"}
    assert csv_safe(frame)["amount"].dtype == pl.Decimal(38, 2)


def test_every_csv_output_is_formula_safe_and_parquet_exact(project, tmp_path):
    link = '=HYPERLINK("http://evil.example","click")'
    with (project / BANK).open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow(
            ["B2026099999", "2026/09/15", "12,345.67", "CNY", link, "", "@SUM(1+1)", "+861234"]
        )
    customers = pl.read_csv(project / CUSTOMERS, infer_schema=False)
    customers = customers.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("=cmd|' /C calc'!A0"))
        .otherwise(pl.col("name"))
        .alias("name")
    )
    customers.write_csv(project / CUSTOMERS)
    config = load_config(set_params(project, statements={"customers": "all", "letters": False}))
    out = tmp_path / "close"
    out.mkdir()
    write_close_outputs(close_stage(config), out)

    with (out / "unapplied_receipts.csv").open(encoding="utf-8", newline="") as handle:
        (row,) = [r for r in csv.DictReader(handle) if r["receipt_id"] == "B2026099999"]
    assert row["payer_name"] == "'" + link
    assert row["memo"] == "'@SUM(1+1)" and row["bank_ref"] == "'+861234"
    assert row["amount"] == "12345.67"
    items = pl.read_parquet(out / "open_items.parquet").filter(pl.col("item_id") == "B2026099999")
    assert items["payer_name"].to_list() == [link] and items["memo"].to_list() == ["@SUM(1+1)"]
    index = (out / "statements" / "index.csv").read_text(encoding="utf-8")
    assert "'=cmd|' /C calc'!A0" in index

    negatives = 0
    for path in sorted(out.rglob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for record in list(csv.reader(handle))[1:]:
                for cell in record:
                    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        Decimal(cell)  # only a number may start so (a negative amount)
                        negatives += 1
    assert negatives > 0  # negative numbers are written as numbers, unquoted


def test_close_failed_is_what_run_close_raises(project, monkeypatch):
    fake_notebooks(monkeypatch, fail=RuntimeError("boom\nsecond line of the error"))
    with pytest.raises(CloseFailed) as info:
        run_close(params_of(project), progress=False)
    assert "boom" in str(info.value) and "second line of the error" in str(info.value)


# ------------------------------------------------- outputs never destroy anything else
def test_reconcile_into_the_folder_of_an_input_is_refused(project, capsys):
    """--out data/sample/2026-09 would overwrite an input named like an output."""
    inputs = project / "data" / "sample" / PERIOD
    before = snapshot(inputs)
    code, printed, err = run(
        ["reconcile", "--params", str(params_of(project)), "--out", str(inputs)], capsys
    )
    assert code == 2, printed + err
    assert "lies in it" in err and "Traceback" not in err
    assert snapshot(inputs) == before


def test_close_never_replaces_a_folder_that_is_not_a_close(project, monkeypatch, capsys):
    """out_dir naming a folder of other files (the project's docs, say): a close replaces
    its whole folder, so it refuses; an empty folder is fine."""
    fake_notebooks(monkeypatch)
    keep = project / "notes"
    keep.mkdir()
    (keep / "todo.txt").write_text("mine")
    text = re.sub(r"(?m)^out_dir: .*$", "out_dir: notes", params_of(project).read_text())
    params_of(project).write_text(text)
    code, printed, err = run(["close", "--params", str(params_of(project)), "--quiet"], capsys)
    assert code == 2, printed + err
    assert "no published close in it" in err
    assert snapshot(keep) == {"todo.txt": b"mine"}
    (keep / "todo.txt").unlink()
    code, printed, err = run(["close", "--params", str(params_of(project)), "--quiet"], capsys)
    assert code == 0, printed + err


@pytest.mark.parametrize("entity", ["../../escaped", "a/b", ".."])
def test_entity_must_be_a_plain_folder_name(project, monkeypatch, capsys, entity):
    fake_notebooks(monkeypatch)
    code, printed, err = run(
        ["close", "--params", str(params_of(project)), "--entity", entity, "--quiet"], capsys
    )
    assert code == 2, printed + err
    assert "not a plain name" in err
    assert not (project.parent / "escaped").exists()
