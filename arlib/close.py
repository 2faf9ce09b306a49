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
import functools
import importlib.util
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import types
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from pydantic_core import to_jsonable_python

from arlib.config import Config, ConfigError, load_config
from arlib.match.templates import record as matching_record
from arlib.safe_output import (
    OutputFailed,
    bounded_lines,
    check_outputs_apart,
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
    "05_customer_followup.ipynb",
)
# the notebook a reader starts with: the close's conclusions and sign-off
SUMMARY_NOTEBOOK = "04_close_and_signoff.ipynb"
PACKAGES = ("arlib", "polars", "pydantic", "papermill", "rapidfuzz", "xlsxwriter", "pyarrow")


# A kernel that does not start, or a cell that runs this long, fails the close (named)
# instead of hanging it; a 1,000,000-invoice close takes about 3 minutes in all.
KERNEL_START_TIMEOUT_S = 180
CELL_TIMEOUT_S = 3600
# A failed close lists at most this many error lines (then "... and N more").
ERROR_LINES = 200


def _kernel_manager(socket_dir: Path):
    """A kernel manager on local IPC sockets in ``socket_dir``."""
    from jupyter_client import KernelManager

    return KernelManager(
        kernel_name="python3",
        transport="ipc",
        connection_file=str(socket_dir / "kernel.json"),
    )


# What every notebook imports first: the kernel imports these as it starts, while arlib
# loads papermill (IPython's exec_lines: no cell, no output, no execution count), so the
# notebooks' own import cells find them loaded.
KERNEL_PRELOAD = "import polars; from arlib import charts, notebook, pipeline, views"

# Between two notebooks on one kernel: the next starts as on a new kernel (no variables,
# no history, execution count 1, nothing left to collect, every warning shown again the
# first time it is raised: appending the catch-all "default" filter changes no filtering
# but forgets which warnings were shown), with the modules still loaded.
CLEAN_SLATE = """\
get_ipython().reset(new_session=True)
__import__("gc").collect()
__import__("warnings").onceregistry.clear()
__import__("warnings").simplefilter("default", append=True)
"""


class Kernel:
    """The kernel the notebooks of a close run on, one after the other, on local IPC
    sockets: no TCP ports to race for when closes run side by side, and nothing listening
    on the network. Started when made, so it starts (and imports arlib) while the close
    gets ready; shut down by :meth:`close` whatever happened (kernels left over hung later
    runs). Each notebook after the first begins on a clean slate (:data:`CLEAN_SLATE`), so
    its outputs are those of a kernel of its own, without paying for one."""

    def __init__(self, cwd: Path):
        self.sockets = Path(tempfile.mkdtemp(prefix="arlib-kernel-"))
        self.manager = _kernel_manager(self.sockets)
        self.used = False
        # the kernel's own start-up/shutdown chatter stays out of the user's terminal
        self.manager.start_kernel(
            cwd=str(cwd),
            extra_arguments=[
                "--IPKernelApp.log_level=CRITICAL",
                f"--IPKernelApp.exec_lines={KERNEL_PRELOAD!r}",
            ],
        )

    def clear(self) -> None:
        """Forget what the previous notebook left in the kernel (see :data:`CLEAN_SLATE`)."""
        client = self.manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=KERNEL_START_TIMEOUT_S)
            reply = client.execute_interactive(
                CLEAN_SLATE,
                silent=True,
                store_history=False,
                timeout=CELL_TIMEOUT_S,
                output_hook=lambda _message: None,
            )
        finally:
            client.stop_channels()
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the kernel could not be cleared: {reply['content']}")

    def close(self) -> None:
        try:
            if self.manager.has_kernel:
                self.manager.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001, S110 - a kernel already gone needs no shutdown
            pass
        shutil.rmtree(self.sockets, ignore_errors=True)


def execute_notebook(
    source: Path,
    target: Path,
    *,
    parameters: dict | None,
    cwd: Path,
    kernel: Kernel | None = None,
) -> None:
    """Run one notebook with papermill on ``kernel`` (cleared first if a notebook ran on
    it; the caller shuts it down), or on a kernel of its own, shut down afterwards:
    papermill leaves a kernel it did not start running.

    Papermill writes the notebook once, when it has run (or failed: then with its error
    banner), not after every cell, which cost seconds per close; a notebook that ran is
    then rewritten once more with its recorded paths made relative (:func:`_relative_paths`)."""
    _defer_iri_grammar()
    import papermill as pm

    own = kernel is None
    kernel = kernel or Kernel(cwd)
    try:
        if kernel.used:
            kernel.clear()
        kernel.used = True
        pm.execute_notebook(
            str(source),
            str(target),
            parameters=parameters,
            cwd=str(cwd),
            progress_bar=False,
            request_save_on_cell_execute=False,
            kernel_name="python3",
            km=kernel.manager,
            start_timeout=KERNEL_START_TIMEOUT_S,
            execution_timeout=CELL_TIMEOUT_S,
        )
    finally:
        if own:
            kernel.close()
    _relative_paths(Path(target))


def _relative_paths(target: Path) -> None:
    """Papermill records the absolute paths it read and wrote (a build folder that is gone
    once the close is published): keep only the notebooks' names, so an executed notebook
    says nothing about the machine it ran on."""
    import nbformat

    book = nbformat.read(target, as_version=4)
    record = book.metadata.get("papermill", {})
    record.update(
        {key: Path(record[key]).name for key in ("input_path", "output_path") if record.get(key)}
    )
    nbformat.write(book, target)


IRI_GRAMMAR = "rfc3987_syntax"


def _defer_iri_grammar() -> None:
    """Build jsonschema's IRI grammar when it is first used, not when papermill and
    nbconvert are imported. jsonschema (read by nbformat) imports ``rfc3987_syntax``, which
    compiles ~35 Earley parsers as it is imported: 1-2 CPU-s of every close, for a format
    check no notebook schema asks for (python-jsonschema/jsonschema#1428). A stand-in
    module with the same function imports the real one on its first call."""
    if IRI_GRAMMAR in sys.modules or importlib.util.find_spec(IRI_GRAMMAR) is None:
        return
    stand_in = types.ModuleType(IRI_GRAMMAR, "imports rfc3987_syntax when first used")

    @functools.cache
    def real():
        if sys.modules.get(IRI_GRAMMAR) is stand_in:
            del sys.modules[IRI_GRAMMAR]
        return importlib.import_module(IRI_GRAMMAR)

    def is_valid_syntax(term: str, value: str) -> bool:
        return real().is_valid_syntax(term, value)

    stand_in.is_valid_syntax = is_valid_syntax
    sys.modules[IRI_GRAMMAR] = stand_in


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


PREPARER_VARIABLE = "ARLIB_PREPARER"
NOT_NAMED = "not named (set params preparer or ARLIB_PREPARER)"


def preparer(config: Config) -> str:
    """Who prepared the close: the params' ``preparer``, else the ``ARLIB_PREPARER``
    environment variable. A login account names a machine user, not the accountable
    person, so it is never used; an unnamed preparer is said to be unnamed."""
    return config.preparer or os.environ.get(PREPARER_VARIABLE) or NOT_NAMED


def run_context(config: Config) -> dict[str, str]:
    """Who, when and with what the close ran; shown at the top of every notebook."""
    return {
        "run_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "run_by": preparer(config),
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


def _load_exporter() -> None:
    """Import nbconvert (a second or two) while the first notebook runs."""
    import nbconvert  # noqa: F401


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


HISTORY = ".history"


def run_close(
    params_file: Path,
    *,
    overrides=None,
    progress: bool = True,
    period: str | None = None,
    reopen: str | None = None,
) -> Path:
    """Close one period: notebooks, HTML, workpapers, CSVs, open items, manifest, audit log.

    Args:
        params_file: the period's params.
        overrides: params keys set on the command line (``--entity``).
        progress: show a progress bar.
        period: the period the user asked for (``--period``); the params must be for it.
        reopen: the reason for closing an already published period again. A published
            close is evidence: without a reason it is never replaced, and with one the
            previous version is kept under ``.history/`` and the reopening logged.

    Returns the published output folder. Raises :class:`CloseFailed` (with the notebook and
    cell named, and every data error listed) when anything stops the close; nothing is
    published then.
    """
    try:
        config = load_config(params_file, overrides)
    except ConfigError as exc:
        raise CloseFailed(str(exc)) from None
    if period is not None and config.period != period:
        raise CloseFailed(
            f"{params_file} is the params of {config.period}, not of {period} (--period): "
            "nothing was closed"
        )
    final = config.out_dir
    try:
        check_outputs_apart(final, config.input_files, replace=True)
    except OutputFailed as exc:
        raise CloseFailed(str(exc)) from None
    previous = published_close(final)
    if previous is not None and not (reopen or "").strip():
        raise CloseFailed(
            f"{final} is the published close of {config.period} (run {previous['run_at']} by "
            f"{previous['run_by']}); it is not replaced silently. To close it again, give "
            "--reopen --reason '...': the published version is then kept in "
            f"{final / HISTORY}/"
        )
    failed = final.parent / f"{final.name}.FAILED"
    try:
        with staged_output(final, replace=True) as build:
            _run_notebooks(config, params_file, overrides, build, failed, progress)
            if previous is not None:
                _keep_previous(final, build, previous, reopen.strip(), preparer(config))
                _keep_contact_log(final, build)
    except OutputFailed as exc:
        raise CloseFailed(f"close of {config.period}: {exc}") from None
    shutil.rmtree(failed, ignore_errors=True)
    return final


# Files of a close folder that change after it is published, or are not its outputs
# (arlib send appends to the outbox's contact log).
UNHASHED = ("manifest.json", "audit_log.jsonl", "signoff.yaml", "outbox/contact_log.csv")


def output_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every output in a close folder, by relative path: the next close checks
    its opening file against this, and an auditor can check any file."""
    from arlib.load import sha256_of

    hashes = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        skipped = relative.parts[0] in (STATE, HISTORY, *UNHASHED)
        if not path.is_file() or skipped or relative.as_posix() in UNHASHED:
            continue
        hashes[relative.as_posix()] = sha256_of(path)
    return hashes


def close_summary(folder: Path) -> list[str]:
    """What a person needs first after a close, read back from what was published: the
    tie-out status, open exceptions by class, warnings, and where to start reading."""
    import polars as pl

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    from arlib.notebook import tie_out_sentence

    tie = (manifest.get("control_totals") or {}).get("tie_out")
    lines = [tie_out_sentence(tie) if tie else "tie-out to the GL: not recorded"]
    exceptions = folder / "exceptions.csv"
    if exceptions.is_file():
        frame = pl.read_csv(exceptions, infer_schema=False)
        open_ = frame.filter(pl.col("status") == "open")
        by_class = open_.group_by("class").len().sort("len", descending=True)
        parts = ", ".join(f"{c} {n}" for c, n in by_class.iter_rows())
        lines.append(f"open exceptions: {open_.height}" + (f" ({parts})" if parts else ""))
    findings = folder / "findings.csv"
    if findings.is_file():
        frame = pl.read_csv(findings, infer_schema=False)
        warned = frame.filter(pl.col("severity") == "warning").height
        lines.append(f"input warnings: {warned} (findings.csv, workpaper AR-10)")
    tasks, disputes = folder / "followup" / "tasks.csv", folder / "followup" / "disputes.csv"
    if tasks.is_file() and disputes.is_file():
        todo = pl.read_csv(tasks, infer_schema=False)
        held = pl.read_csv(disputes, infer_schema=False).filter(pl.col("status") != "resolved")
        lines.append(
            f"follow-up: {todo.height} collection tasks for {todo['collector'].n_unique()} "
            f"collectors, {held.height} {'dispute' if held.height == 1 else 'disputes'} "
            "unresolved (followup/, workpapers AR-12 to AR-15)"
        )
    lines.append(f"start with {folder / SUMMARY_NOTEBOOK.replace('.ipynb', '.html')}")
    return lines


def published_close(folder: Path) -> dict | None:
    """``run_at`` and ``run_by`` of the close published in ``folder``, or None if none is."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        run = json.loads(manifest.read_text(encoding="utf-8")).get("run") or {}
    except (OSError, ValueError):
        run = {}
    return {"run_at": run.get("run_at", "unknown"), "run_by": run.get("run_by", "unknown")}


def earlier_closes(config: Config) -> list[dict]:
    """The manifests of the closes this one continues from, newest first: the close whose
    folder holds this period's opening file, then the close whose folder holds that one's,
    and so on while each is a close of the same entity and of an earlier period. Following
    the opening files, rather than listing folders, finds a ledger's own history wherever
    its outputs are kept, and never another entity's. Paths in an earlier close's params
    are relative to the project root, as this close's are."""
    found: list[dict] = []
    spec = config.inputs.get("opening")
    opening = None if spec is None else Path(spec.path)
    period = config.period
    while opening is not None:
        manifest = opening.parent / "manifest.json"
        try:
            earlier = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            break
        if earlier.get("entity") != config.entity or not str(earlier.get("period")) < period:
            break
        found.append(earlier)
        period = str(earlier["period"])
        given = ((earlier.get("params") or {}).get("inputs") or {}).get("opening")
        given = given.get("path") if isinstance(given, dict) else given
        opening = None if not given else config.root / str(given)
    return found


def _keep_previous(final: Path, build: Path, previous: dict, reason: str, who: str) -> None:
    """Copy the published close into the new one's ``.history/<timestamp>/`` (with the
    history it had), and log who reopened it, when and why, in ``.history/log.jsonl`` and
    the audit log. Its sign-off stays with it: the new close starts unsigned."""
    history = build / HISTORY
    if (final / HISTORY).is_dir():
        shutil.copytree(final / HISTORY, history)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = history / stamp
    shutil.copytree(final, kept, ignore=shutil.ignore_patterns(HISTORY))
    record = {
        "reopened_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "reopened_by": who,
        "reason": reason,
        "previous_run_at": previous["run_at"],
        "previous_run_by": previous["run_by"],
        "kept_in": kept.relative_to(build).as_posix(),
    }
    with open(history / "log.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    AuditLog(build / "audit_log.jsonl").step("reopen", parameters=record)


def _keep_contact_log(final: Path, build: Path) -> None:
    """The reopened close keeps what was sent from its outbox: a message is sent once, and
    its notice counts, however often the period is closed again."""
    log = Path("outbox") / "contact_log.csv"
    if (final / log).is_file() and (build / "outbox").is_dir():
        shutil.copy2(final / log, build / log)


STATE = ".state"


def notebook_parameters(config: Config, params_file, overrides, build: Path, context) -> dict:
    """What ``arlib close`` injects into each notebook, as paths that stay true once the
    close is published: the params file relative to the project root, the project root
    relative to the close folder (the notebook's working folder), and the stage cache as
    a folder inside it. Re-executing a published notebook from its folder reads the same
    params and inputs (the cache is gone by then, so the stages are computed anew)."""
    params = Path(params_file).resolve()
    shown = params.relative_to(config.root) if params.is_relative_to(config.root) else params
    return {
        "params_file": shown.as_posix(),
        "project_root": Path(os.path.relpath(config.root, build)).as_posix(),
        "state_dir": STATE,
        "overrides": dict(overrides or {}),
        "run_context": context,
    }


def _run_notebooks(config: Config, params_file, overrides, build: Path, failed: Path, progress):
    """The notebooks of :data:`NOTEBOOKS` in order, their HTML copies and the outputs, all
    written into ``build``."""
    from tqdm import tqdm

    state = build / STATE
    state.mkdir()
    audit = AuditLog(build / "audit_log.jsonl")
    context = run_context(config)
    parameters = notebook_parameters(config, params_file, overrides, build, context)
    books = [notebooks_dir(config.root) / name for name in NOTEBOOKS]
    bar = tqdm(books, desc=f"close {config.period}", unit="notebook", disable=not progress)
    kernel = Kernel(build)
    _defer_iri_grammar()
    # the HTML copies are written beside the next notebook's run, one at a time, in order
    exports = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arlib-html")
    pending: list[Future] = [exports.submit(_load_exporter)]
    try:
        for notebook in bar:
            bar.set_postfix_str(notebook.name)
            pending.append(
                _run_one(config, notebook, build, parameters, kernel, audit, exports, failed)
            )
        for done in pending:
            done.result()
    finally:
        kernel.close()
        exports.shutdown(wait=True)
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


def _run_one(config, notebook, build, parameters, kernel, audit, exports, failed) -> Future:
    """Run one notebook on ``kernel``; its HTML copy and audit step go to ``exports``
    (returned as a future). A failure becomes a :class:`CloseFailed` naming the cell, with
    the error-bannered notebooks kept in ``failed``."""
    target = build / notebook.name
    started = time.perf_counter()
    try:
        execute_notebook(notebook, target, parameters=parameters, cwd=build, kernel=kernel)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a clean, named stop
        where = _failed_cell(exc)
        details = "".join(f"  {line}\n" for line in _failure_details(exc, build / STATE))
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
    ran = time.perf_counter() - started

    def export() -> None:
        exported = time.perf_counter()
        _html(target, target.with_suffix(".html"))
        audit.step(
            notebook.stem,
            parameters={"params_file": parameters["params_file"]},
            outputs=[target],
            seconds=ran + time.perf_counter() - exported,
        )

    return exports.submit(export)


def _publish_outputs(config: Config, state: Path, build: Path, audit: AuditLog, context) -> None:
    """Machine-readable outputs and workpapers, written from the state the notebooks built."""
    from arlib import pipeline
    from arlib.export import workpaper_sections

    started = time.perf_counter()
    result = pipeline.close_stage(config, state)
    written = pipeline.write_close_outputs(result, build)
    inputs = config.input_files
    audit.step(
        "outputs",
        parameters={"row_cap": config.workpapers.row_cap},
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
        # as written, the file it was read from, and as the run understood it (resolved:
        # every default filled in), so an auditor need not know arlib's defaults
        "params": config.raw,
        "params_sha256": config.params_sha256,
        "params_resolved": config.resolved(),
        # the matching rule set: preset and templates chosen, what set each setting, and
        # the cascade with each rule's switch and templates (arlib.match.templates)
        "matching": matching_record(config.matching, config.raw.get("matching")),
        "inputs": result.period.provenance,
        "control_totals": result.control_totals(),
        "outputs": sorted(p.relative_to(build).as_posix() for p in written),
        "output_sha256": output_hashes(build),
        "kpis": {
            row["kpi"]: None if row["value"] is None else str(row["value"])
            for row in result.review.kpis.summary.iter_rows(named=True)
        },
        "workpaper_sections": [
            {"ref": ref, "title": title} for ref, title in workpaper_sections(result)
        ],
    }
    (build / "manifest.json").write_text(
        json.dumps(to_jsonable_python(manifest), ensure_ascii=False, indent=2, sort_keys=True),
        encoding="utf-8",
    )
