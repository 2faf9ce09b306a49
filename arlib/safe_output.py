"""Outputs that are complete or absent, CSV cells that cannot run as formulas, and bounded
quotes of bad values in messages.

Why one module: every command that writes (``reconcile``, ``close``) must leave either all
of its outputs or none of them, whatever stops it (a full disk, a read-only folder, a
killed process). :func:`staged_output` builds everything in a hidden folder beside the
target and moves it into place only when every file is written; a failure removes the
hidden folder and leaves the previous outputs as they were. :func:`write_csv` is the one
CSV writer of the product, so the CSV-injection rule is applied everywhere or nowhere.
:func:`arlib.findings.quote` quotes a bad value in a message without echoing 10 MB of it.
"""

from __future__ import annotations

import contextlib
import errno as errno_codes
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from arlib.findings import excerpt, quote

#: A hidden build folder whose process is alive is left alone unless it has not changed
#: for this long (a process id can be reused by an unrelated program after a crash).
STALE_AFTER_S = 24 * 3600

#: Text cells starting with one of these run as a formula when the CSV is opened in a
#: spreadsheet (OWASP "CSV injection"): = + - @, tab and carriage return.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = r"^[=+\-@\t\r]"

_BUILD = re.compile(r"^\.(?P<name>.+)\.(?:building|replaced)-(?P<pid>\d+)$")


class OutputFailed(RuntimeError):
    """Outputs could not be written; nothing was published (the message says why)."""


# --------------------------------------------------------------------------- messages
def format_findings(findings: pl.DataFrame, limit: int = 200) -> list[str]:
    """One ``file:row: column: 'value' message`` line per error finding, at most ``limit``
    lines and then ``... and N more``; values are quoted with :func:`arlib.findings.quote`."""
    errors = findings.filter(pl.col("severity") == "error")
    lines = []
    for r in errors.head(limit).iter_rows(named=True):
        where = str(r["file"]) + (f":{r['row']}" if r["row"] is not None else "")
        column = f" {r['column']}:" if r["column"] else ""
        value = f" {quote(r['value'])}" if r["value"] is not None else ""
        lines.append(f"{where}:{column}{value} {r['message']}")
    if errors.height > limit:
        lines.append(f"... and {errors.height - limit} more")
    return lines


def bounded_lines(text: str, limit: int = 200, width: int = 500) -> list[str]:
    """The lines of ``text``, at most ``limit`` of them and each cut to ``width``."""
    lines = [line if len(line) <= width else line[:width] + "..." for line in text.splitlines()]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more line(s)"]
    return lines


# --------------------------------------------------------------------------- CSV
def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading ``'``.

    Only text columns (String, Categorical, Enum) change; numbers, money, dates keep their
    exact values (a negative amount -12.50 is a Decimal and stays -12.50).
    """
    text = [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    ]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).cast(pl.String).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String))
        .alias(name)
        for name in text
    )


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """The product's CSV writer: UTF-8 without BOM, ``\\n`` line ends, formula-safe text."""
    csv_safe(frame).write_csv(path, include_bom=False, line_terminator="\n")
    return Path(path)


# --------------------------------------------------------------------------- staging
def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (signal 0 sends nothing)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists but belongs to someone else
        return True
    return True


def _last_change(folder: Path) -> float:
    """Newest modification time of the folder and its direct entries."""
    newest = folder.lstat().st_mtime
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError):
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def clean_stale_builds(
    parent: Path, name: str | None = None, *, stale_after_s: float = STALE_AFTER_S
) -> list[Path]:
    """Remove hidden ``.<name>.building-<pid>`` folders left by killed runs.

    A folder is removed when its process is gone, or when it has not changed for
    ``stale_after_s`` seconds; a folder of a run still going is kept. ``name`` limits the
    clean-up to one output folder's builds (for a folder arlib does not own). Returns what
    was removed; a folder that cannot be removed is left (it is hidden and harmless).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        found = _BUILD.match(entry.name)
        if not found or (name is not None and found["name"] != name):
            continue
        path = Path(entry.path)
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            pid = int(found["pid"])
            stale = now - _last_change(path) > stale_after_s
        except OSError:
            continue
        if not pid_alive(pid) or stale:
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path)
    return removed


def os_error_of(exc: BaseException) -> OSError | None:
    """The operating-system error behind ``exc``: itself, its cause or context, or a
    library error that carries one in its text (polars: ``... (os error 28)``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            return current
        library = type(current).__module__.split(".")[0] in ("polars", "xlsxwriter", "pyarrow")
        found = re.search(r"\(os error (\d+)\)", str(current)[:2000]) if library else None
        if found:
            code = int(found.group(1))
            return OSError(code, os.strerror(code))
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return None


def describe_os_error(exc: OSError) -> str:
    """``No space left on device (disk full): /out/matches.csv``: the reason, and the file
    when known."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno_codes.ENOSPC:
        reason = "No space left on device (disk full)"
    return reason if exc.filename is None else f"{reason}: {excerpt(exc.filename)}"


def check_output_folder(final: str | Path) -> None:
    """Raise :class:`OutputFailed` when ``final`` cannot be an output folder (it is a file,
    a device, a broken link): checked before a long run, not after it."""
    final = Path(final)
    if final.exists() and not final.is_dir():
        raise OutputFailed(f"cannot write outputs to {final}: it exists and is not a folder")
    if final.is_symlink() and not final.exists():
        raise OutputFailed(f"cannot write outputs to {final}: it is a broken link")


def check_outputs_apart(final: str | Path, inputs, *, replace: bool) -> None:
    """Raise :class:`OutputFailed` when writing outputs to ``final`` could destroy anything
    that is not arlib's own output: an input lying inside it (a reconcile would overwrite it
    by name, a close would swap the folder away), or, for a close that replaces the whole
    folder, a folder that is not empty and holds no published close (``manifest.json``),
    such as a project folder named by mistake."""
    final = Path(os.path.abspath(final))
    for path in inputs:
        path = Path(os.path.abspath(path))
        if path == final or final in path.parents:
            raise OutputFailed(
                f"cannot write outputs to {final}: the input {path} lies in it and could be "
                "overwritten; choose an output folder apart from the inputs"
            )
    ours = (final / "manifest.json").is_file()
    if replace and final.is_dir() and not ours and any(final.iterdir()):
        raise OutputFailed(
            f"cannot write the close to {final}: it is a folder with other files and no "
            "published close in it, and a close replaces its whole folder; choose "
            "another out_dir or empty it"
        )


def _publish_replace(build: Path, final: Path) -> None:
    """``final`` becomes ``build``; an older ``final`` is removed only after the swap."""
    old = final.parent / f".{final.name}.replaced-{os.getpid()}"
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    try:
        build.rename(final)
    except OSError:
        if old.exists() and not final.exists():
            old.rename(final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _publish_merge(build: Path, final: Path) -> None:
    """Move every entry of ``build`` into the existing folder ``final``, keeping the
    folder's other files; entries it replaces are put back if any move fails."""
    backup = build / ".previous"
    backup.mkdir()
    moved: list[str] = []
    saved: list[str] = []
    try:
        for entry in sorted(p.name for p in build.iterdir() if p.name != ".previous"):
            target = final / entry
            if target.exists() or target.is_symlink():
                os.replace(target, backup / entry)
                saved.append(entry)
            os.replace(build / entry, target)
            moved.append(entry)
    except OSError:
        for entry in reversed(moved):
            with contextlib.suppress(OSError):
                os.replace(final / entry, build / entry)
        for entry in reversed(saved):
            with contextlib.suppress(OSError):
                os.replace(backup / entry, final / entry)
        raise


@contextlib.contextmanager
def staged_output(final: str | Path, *, replace: bool = True) -> Iterator[Path]:
    """Write a command's outputs into the yielded hidden folder; publish them as ``final``
    only when the ``with`` body finishes.

    ``replace=True`` (a close: ``outputs/<period>/`` is arlib's own) swaps the whole folder;
    ``replace=False`` (``reconcile --out DIR``, a folder the user may keep other files in)
    moves the new files into ``final`` and leaves its other files alone. On any failure
    the hidden folder is removed and ``final`` is as it was; an operating-system error
    (disk full, no permission, ``final`` is a file) becomes :class:`OutputFailed` with a
    plain message, anything else is re-raised as it is. Stale hidden folders of killed
    runs are removed first (:func:`clean_stale_builds`).
    """
    final = Path(os.path.abspath(final))
    try:
        check_output_folder(final)
        # A folder the user owns is built in (hidden), so only it must be writable; a
        # folder arlib replaces is built beside, so the swap is one rename.
        merge = not replace and final.is_dir()
        home = final if merge else final.parent
        home.mkdir(parents=True, exist_ok=True)
        clean_stale_builds(home, None if replace else final.name)
        build = home / f".{final.name}.building-{os.getpid()}"
        if build.exists():
            shutil.rmtree(build)
        build.mkdir()
    except OSError as exc:
        raise OutputFailed(
            f"cannot write outputs to {final}: {describe_os_error(exc)}; nothing was written"
        ) from None
    try:
        yield build
        if merge:
            _publish_merge(build, final)
        else:
            _publish_replace(build, final)
    except BaseException as exc:
        shutil.rmtree(build, ignore_errors=True)
        cause = os_error_of(exc) if isinstance(exc, Exception) else None
        if cause is None or isinstance(exc, OutputFailed):
            raise
        raise OutputFailed(
            f"could not write the outputs to {final}: {describe_os_error(cause)}; "
            "nothing was published (earlier outputs there, if any, are unchanged)"
        ) from None
    shutil.rmtree(build, ignore_errors=True)
