"""Helpers shared by the benchmarks: generating synthetic periods and loading them the way a
close does (``arlib.config`` + ``arlib.load``), so the benchmarks measure the real path.

The bank statements written by :func:`arlib.synth.generate` carry the Chinese headers of a
real bank export; the header mapping is read from the bundled ``params/2026-09.yaml`` so the
benchmarks stay in step with the sample params.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from arlib.config import Config, from_mapping
from arlib.synth import generate

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "benchmarks" / ".data"
SAMPLE_PARAMS = REPO / "params" / "2026-09.yaml"
PERIOD_INPUTS = ("invoices", "receipts", "credit_notes", "fx_rates")
FILE_OF = {
    "invoices": "invoices",
    "receipts": "bank_statement",
    "credit_notes": "credit_notes",
    "fx_rates": "fx_rates",
}


def sample_columns() -> dict[str, dict[str, str]]:
    """The ``columns:`` header mapping of the bundled sample params (bank export headers)."""
    raw = yaml.safe_load(SAMPLE_PARAMS.read_text(encoding="utf-8")) or {}
    return dict(raw.get("columns") or {})


def period_config(
    data_dir: Path,
    period: str,
    fmt: str = "csv",
    *,
    opening: Path | None = None,
    base_currency: str = "CNY",
    out_dir: Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Config:
    """A validated :class:`arlib.config.Config` for one generated period (as a params YAML
    for that period would describe it)."""
    inputs: dict[str, str] = {"customers": str(data_dir / f"customers.{fmt}")}
    for name in PERIOD_INPUTS:
        inputs[name] = str(data_dir / period / f"{FILE_OF[name]}.{fmt}")
    if opening is not None:
        inputs["opening"] = str(opening)
    raw = {
        "period": period,
        "base_currency": base_currency,
        "inputs": inputs,
        "columns": sample_columns(),
        "out_dir": str(out_dir or data_dir / "out" / period),
        **(extra or {}),
    }
    return from_mapping(raw, root=data_dir, source=f"<benchmark {period}>")


def read_truth(data_dir: Path, period: str, fmt: str = "csv") -> pl.DataFrame:
    """The generator's answer key for a period (money as ``Decimal(38, 2)``)."""
    path = data_dir / period / f"truth.{fmt}"
    truth = pl.read_parquet(path) if fmt == "parquet" else pl.read_csv(path, infer_schema=False)
    return truth.with_columns(
        pl.col("applied_amount", "receipt_amount").cast(pl.Decimal(38, 2)),
    )


def cached_generate(
    name: str,
    *,
    seed: int,
    periods: tuple[str, ...],
    n_customers: int,
    invoices_per_period: int,
    fmt: str,
    paid_share: float | None = None,
    world: str = "default",
    log=print,
) -> tuple[Path, dict, float | None]:
    """Generate into ``benchmarks/.data/<name>/`` unless a complete copy is there already.

    Returns (folder, generator summary, seconds spent generating or None when cached).
    A ``summary.json`` written last marks a complete generation.
    """
    folder = DATA_DIR / name
    marker = folder / "summary.json"
    args = {
        "seed": seed,
        "periods": list(periods),
        "n_customers": n_customers,
        "invoices_per_period": invoices_per_period,
        "fmt": fmt,
        "paid_share": paid_share,
    }
    if world != "default":  # the key of data cached before worlds existed stays as it was
        args["world"] = world
    if marker.is_file():
        saved = json.loads(marker.read_text(encoding="utf-8"))
        if saved.get("args") == args:
            return folder, saved["summary"], None
    log(f"generating {name} ({invoices_per_period:,} invoices, {n_customers:,} customers) ...")
    start = time.perf_counter()
    summary = generate(
        folder,
        seed=seed,
        periods=periods,
        n_customers=n_customers,
        invoices_per_period=invoices_per_period,
        fmt=fmt,
        paid_share=paid_share,
        world=world,
    )
    seconds = time.perf_counter() - start
    marker.write_text(json.dumps({"args": args, "summary": summary}, indent=1), encoding="utf-8")
    return folder, summary, seconds


def pct(num: float, den: float) -> float:
    return 100.0 * num / den if den else float("nan")


def verdict(value: float, target: float, *, higher_is_better: bool = True) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "FAIL"


def table(frame: pl.DataFrame, max_rows: int = 60) -> str:
    """A frame as a plain-text table (no truncation of columns, wide strings allowed)."""
    with pl.Config(
        tbl_rows=max_rows,
        tbl_cols=-1,
        tbl_width_chars=250,
        fmt_str_lengths=80,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
    ):
        return str(frame)


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


class RssSampler:
    """Sample this process's RSS every ``interval`` seconds in a daemon thread; ``peak()``
    returns the highest sample since the last ``reset()``."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, rss_bytes())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        self._peak = rss_bytes()

    def peak(self) -> int:
        self._peak = max(self._peak, rss_bytes())
        return self._peak


GIB = 1024**3
