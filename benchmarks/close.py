"""Close time: the sample periods with their notebooks, and a generated large period.

Closes the bundled 2026-09 and 2026-10 sample periods (as ``arlib demo`` does) and a
generated period (default 1,000,000 invoices, 50,000 customers), each in a temporary
project folder so the repository's outputs/ are untouched, and prints per close its wall
and CPU seconds (this process and the notebook kernel; the machine may be shared, CPU is
what the close itself cost), the seconds of each audit-log step, and the targets of
issue 11 with PASS/FAIL: a sample close <= 8 s, the large close <= 60 s and <= 4 GiB (the
largest process's peak), workbook included. The large period's inputs are generated once
into ``benchmarks/.data/close-...`` and read from there afterwards.

    .venv/bin/python benchmarks/close.py [--invoices 1000000] [--customers 50000] [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import cached_generate  # noqa: E402

from arlib.close import NOTEBOOKS  # noqa: E402

SAMPLE_PERIODS = ("2026-09", "2026-10")
SAMPLE_TARGET_S = 8
LARGE_TARGET_S = 60
LARGE_TARGET_GIB = 4
LARGE_SEED = 20261031


def make_project(folder: Path) -> Path:
    """A throw-away project: params/, data/ and notebooks/ copied from the repository."""
    shutil.copytree(ROOT / "params", folder / "params")
    shutil.copytree(ROOT / "data", folder / "data")
    shutil.copytree(ROOT / "notebooks", folder / "notebooks")
    return folder


def cpu_seconds(times: os.times_result) -> float:
    """User + system seconds of this process and of its finished children (the kernel)."""
    return times.user + times.system + times.children_user + times.children_system


def timed_close(params: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one close; prints each audit-log step's own seconds."""
    from arlib.close import run_close

    cpu = os.times()
    started = time.perf_counter()
    folder = run_close(params, progress=False)
    seconds = time.perf_counter() - started
    used = cpu_seconds(os.times()) - cpu_seconds(cpu)
    steps = [json.loads(line) for line in (folder / "audit_log.jsonl").open(encoding="utf-8")]
    print("  steps: " + ", ".join(f"{s['step']} {s['seconds']:.1f} s" for s in steps))
    return seconds, used


def large_params(folder: Path, invoices: int, customers: int) -> Path:
    """Params of the generated large period, whose inputs stay in benchmarks/.data."""
    data, _, generated = cached_generate(
        f"close-i{invoices}-c{customers}-s{LARGE_SEED}",
        seed=LARGE_SEED,
        periods=("2026-09",),
        n_customers=customers,
        invoices_per_period=invoices,
        fmt="parquet",
    )
    if generated is not None:
        print(f"generated {invoices:,} invoices in {generated:.1f} s")
    sample = yaml.safe_load((ROOT / "params" / "2026-09.yaml").read_text(encoding="utf-8"))
    sample["inputs"] = {
        "invoices": str(data / "2026-09" / "invoices.parquet"),
        "receipts": str(data / "2026-09" / "bank_statement.parquet"),
        "customers": str(data / "customers.parquet"),
        "credit_notes": str(data / "2026-09" / "credit_notes.parquet"),
        "fx_rates": str(data / "2026-09" / "fx_rates.parquet"),
    }
    sample["out_dir"] = "outputs/large-2026-09"
    path = folder / "params" / "large-2026-09.yaml"
    path.write_text(yaml.safe_dump(sample, allow_unicode=True), encoding="utf-8")
    return path


def peak_gib() -> float:
    """The largest peak resident size of this process or any finished child (a kernel)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024 / 1024


def target(label: str, value: float, limit: float, unit: str) -> str:
    verdict = "PASS" if value <= limit else "FAIL"
    return f"  {label:<34} {value:7.2f} {unit:<4} target <= {limit} {unit}  {verdict}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    lines = ["#### targets (issue 11; wall seconds, CPU beside them)"]
    with tempfile.TemporaryDirectory(prefix="arlib-close-bench-") as tmp:
        project = make_project(Path(tmp))
        for period in SAMPLE_PERIODS:
            wall, cpu = timed_close(project / "params" / f"{period}.yaml")
            shown = f"{wall:.2f} s wall, {cpu:.2f} s CPU"
            print(f"sample close {period} ({len(NOTEBOOKS)} notebooks): {shown}")
            lines.append(target(f"sample close {period}", wall, SAMPLE_TARGET_S, "s"))
            lines[-1] += f"  (CPU {cpu:.2f} s)"
        if not args.skip_large:
            before = peak_gib()
            params = large_params(project, args.invoices, args.customers)
            if peak_gib() > before:
                print("(the generation raised this process's peak; the memory check is loose)")
            wall, cpu = timed_close(params)
            peak = peak_gib()
            print(
                f"large close ({args.invoices:,} invoices): {wall:.1f} s wall, {cpu:.1f} s CPU, "
                f"peak {peak:.2f} GiB"
            )
            lines.append(target(f"large close {args.invoices:,}", wall, LARGE_TARGET_S, "s"))
            lines[-1] += f"  (CPU {cpu:.1f} s)"
            lines.append(target("large close peak memory", peak, LARGE_TARGET_GIB, "GiB"))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
