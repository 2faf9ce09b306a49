"""Month-end close: run the notebooks with papermill and publish the outputs atomically.

A close builds everything in a hidden folder beside ``outputs/<period>/`` and moves it
into place only when every notebook ran and every output was written, so a half-finished
close never looks complete (:func:`arlib.safe_output.staged_output`; hidden folders left by
a killed close are removed by the next one). When a notebook fails, papermill's
error-bannered copy is kept under ``outputs/<period>.FAILED/`` as the record of the failed
run, and the error names the notebook, the cell and every data error (up to 200 lines). A
full disk or a folder that cannot be written is a plain :class:`CloseFailed`, even when
the failure record itself cannot be written. Each step appends one JSON line to
``audit_log.jsonl``: step, parameters, input and output hashes, row counts and time.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path

from arlib.config import Config, ConfigError, as_plain, load_config
from arlib.safe_output import (
    OutputFailed,
    bounded_lines,
    describe_os_error,
    format_findings,
    os_error_of,
    staged_output,
)

NOTEBOOKS = (
    "01_load_and_validate.ipynb",
    "02_reconcile.ipynb",
    "03_exceptions_and_aging.ipynb",
    "04_close_and_signoff.ipynb",
)
PACKAGES = ("arlib", "polars", "pandas", "papermill", "rapidfuzz", "xlsxwriter", "pyarrow")


# A kernel that does not start, or a cell that runs this long, fails the close (named)
# instead of hanging it; a 1,000,000-invoice close takes about 3 minutes in all.
KERNEL_START_TIMEOUT_S = 180
CELL_TIMEOUT_S = 3600
# A failed close lists at most this many error lines (then "... and N more").
ERROR_LINES = 200


def _kernel_manager(socket_dir: Path):
    """A kernel on local IPC sockets in ``socket_dir``: no TCP ports to race for when closes
    run side by side, and nothing listening on the network."""
    from jupyter_client import KernelManager

    return KernelManager(
        kernel_name="python3",
        transport="ipc",
        connection_file=str(socket_dir / "kernel.json"),
    )


class CloseFailed(RuntimeError):
    """A close that stopped; the message says where and what to look at."""


def notebooks_dir(root: Path) -> Path:
    here = root / "notebooks"
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "notebooks"


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_context(config: Config) -> dict[str, str]:
    """Who, when and with what the close ran; shown at the top of every notebook."""
    return {
        "run_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "run_by": os.environ.get("ARLIB_USER") or getpass.getuser(),
        "arlib_version": package_versions()["arlib"],
        "git_commit": git_commit(config.root),
    }


class AuditLog:
    """One JSON line per step: what ran, on what, producing what, and how long it took."""

    def __init__(self, path: Path):
        self.path = path

    def _label(self, path: Path) -> str:
        """Outputs by their path in the close folder (statements/C1.html, letters/C1.html)."""
        return path.relative_to(self.path.parent).as_posix()

    def step(self, step: str, *, parameters=None, inputs=(), outputs=(), rows=None, seconds=0.0):
        from arlib.load import sha256_of

        record = {
            "step": step,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "parameters": parameters or {},
            "inputs": {str(p.name): sha256_of(p) for p in map(Path, inputs) if p.is_file()},
            "outputs": {self._label(p): sha256_of(p) for p in map(Path, outputs) if p.is_file()},
            "rows": rows or {},
            "seconds": round(seconds, 3),
        }
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def _html(notebook: Path, target: Path) -> None:
    """A code-hidden HTML copy for reviewers who do not run Jupyter."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    with warnings.catch_warnings():
        # The machine-readable figures (scrapbook outputs) have no HTML form, by design.
        warnings.filterwarnings("ignore", message="Your element with mimetype")
        body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    target.write_text(body, encoding="utf-8")


def _failed_cell(exc) -> str:
    """``cell 12 (execution count 9): DataErrors: <first line of the message>``."""
    index = getattr(exc, "exec_count", None)
    cell = getattr(exc, "cell_index", None)
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    where = f"cell {cell}" if cell is not None else "a cell"
    if index is not None:
        where += f" (execution count {index})"
    first_line = str(evalue).strip().splitlines()[0] if str(evalue).strip() else ""
    if len(first_line) > 300:
        first_line = first_line[:300] + f"... ({len(first_line):,} characters)"
    return f"{where}: {ename}: {first_line}"


def _failure_details(exc, state: Path) -> list[str]:
    """Every line of what stopped the close, bounded (200 lines).

    Data errors are listed from the findings the load step left in this close's state
    (every error, not the first 20 the notebook's message names); any other error by the
    rest of its message.
    """
    ename = getattr(exc, "ename", type(exc).__name__)
    if ename == "DataErrors":
        load = state / "load.pkl"
        try:
            with open(load, "rb") as handle:
                period = pickle.load(handle)  # noqa: S301 - written by this close, just now
            lines = format_findings(period.findings, limit=ERROR_LINES)
        except Exception:  # noqa: BLE001 - fall back to the notebook's own message
            lines = []
        if lines:
            return lines
    evalue = str(getattr(exc, "evalue", str(exc))).strip()
    return bounded_lines(evalue, limit=ERROR_LINES)[1:]


def _keep_failed_run(build: Path, failed: Path, text: str) -> str | None:
    """Copy the failed run's notebooks and a README into ``failed``; returns why that
    could not be done (a full disk, no permission), or None."""
    try:
        shutil.rmtree(failed, ignore_errors=True)
        failed.mkdir(parents=True)
        for done in sorted(build.glob("*.ipynb")):
            shutil.copy2(done, failed / done.name)
        (failed / "README.txt").write_text(text, encoding="utf-8")
    except OSError as exc:
        return describe_os_error(exc)
    return None


def run_close(params_file: Path, *, overrides=None, progress: bool = True) -> Path:
    """Close one period: notebooks, HTML, workpapers, CSVs, open items, manifest, audit log.

    Returns the published output folder. Raises :class:`CloseFailed` (with the notebook and
    cell named, and every data error listed) when anything stops the close; nothing is
    published then.
    """
    try:
        config = load_config(params_file, overrides)
    except ConfigError as exc:
        raise CloseFailed(str(exc)) from None
    final = config.out_dir
    failed = final.parent / f"{final.name}.FAILED"
    try:
        with staged_output(final, replace=True) as build:
            _run_notebooks(config, params_file, overrides, build, failed, progress)
    except OutputFailed as exc:
        raise CloseFailed(f"close of {config.period}: {exc}") from None
    shutil.rmtree(failed, ignore_errors=True)
    return final


def _run_notebooks(config: Config, params_file, overrides, build: Path, failed: Path, progress):
    """The four notebooks, their HTML copies and the outputs, all written into ``build``."""
    import papermill as pm
    from tqdm import tqdm

    state = build / ".state"
    state.mkdir()
    audit = AuditLog(build / "audit_log.jsonl")
    context = run_context(config)
    parameters = {
        "params_file": str(Path(params_file).resolve()),
        "state_dir": str(state),
        "overrides": dict(overrides or {}),
        "run_context": context,
    }
    books = [notebooks_dir(config.root) / name for name in NOTEBOOKS]
    bar = tqdm(books, desc=f"close {config.period}", unit="notebook", disable=not progress)
    for notebook in bar:
        bar.set_postfix_str(notebook.name)
        target = build / notebook.name
        started = time.perf_counter()
        sockets = Path(tempfile.mkdtemp(prefix="arlib-kernel-"))
        try:
            pm.execute_notebook(
                str(notebook),
                str(target),
                parameters=parameters,
                cwd=str(notebook.parent),
                progress_bar=False,
                kernel_name="python3",
                km=_kernel_manager(sockets),
                start_timeout=KERNEL_START_TIMEOUT_S,
                execution_timeout=CELL_TIMEOUT_S,
                # keep the kernel's own start-up/shutdown chatter out of the user's terminal
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a clean, named stop
            where = _failed_cell(exc)
            details = "".join(f"  {line}\n" for line in _failure_details(exc, state))
            kept = _keep_failed_run(
                build,
                failed,
                f"This close of {config.period} FAILED in {notebook.name}, {where}"
                + ("\n" if where.endswith(":") else ".\n")
                + details
                + "These notebooks are the record of the failed run, not a complete close.\n",
            )
            record = (
                f"the error-bannered notebook is kept in {failed}"
                if kept is None
                else f"the record of the failed run could not be kept in {failed}: {kept}"
            )
            raise CloseFailed(f"{notebook.name} failed at {where}\n{details}{record}") from None
        finally:
            shutil.rmtree(sockets, ignore_errors=True)
        _html(target, target.with_suffix(".html"))
        audit.step(
            notebook.stem,
            parameters={"params_file": parameters["params_file"]},
            outputs=[target],
            seconds=time.perf_counter() - started,
        )
    try:
        _publish_outputs(config, state, build, audit, context)
    except Exception as exc:  # noqa: BLE001 - named like a failed notebook, nothing published
        if os_error_of(exc) is not None:
            raise  # staged_output names the disk or permission problem
        raise CloseFailed(
            f"writing the outputs of {config.period} failed: {type(exc).__name__}: "
            + "\n".join(bounded_lines(str(exc), limit=ERROR_LINES))
        ) from None
    shutil.rmtree(state)


def _publish_outputs(config: Config, state: Path, build: Path, audit: AuditLog, context) -> None:
    """Machine-readable outputs and workpapers, written from the state the notebooks built."""
    from arlib import pipeline

    started = time.perf_counter()
    result = pipeline.close_stage(config, state)
    written = pipeline.write_close_outputs(result, build)
    inputs = [spec.path for spec in config.inputs.values()]
    audit.step(
        "outputs",
        parameters={"row_cap": config.section("workpapers").row_cap},
        inputs=inputs,
        outputs=written,
        rows=result.row_counts(),
        seconds=time.perf_counter() - started,
    )
    manifest = {
        "entity": config.entity,
        "period": config.period,
        "as_of": str(config.as_of),
        "run": context,
        "versions": package_versions(),
        "platform": sys.platform,
        "params": as_plain(config.raw),
        "inputs": result.period.provenance,
        "control_totals": result.control_totals(),
        "outputs": sorted(p.relative_to(build).as_posix() for p in written),
    }
    (build / "manifest.json").write_text(
        json.dumps(as_plain(manifest), ensure_ascii=False, indent=2, sort_keys=True),
        encoding="utf-8",
    )
