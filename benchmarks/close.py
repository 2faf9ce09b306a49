"""Close time: the sample period with all notebook kernels, and a generated large period.

Prints wall seconds for ``arlib close`` of the bundled 2026-09 sample (goal ≤ 30 s) and of a
generated period (default 1,000,000 invoices, goal ≤ 180 s). Everything runs in a temporary
project folder, so the repository's outputs/ are untouched.

    .venv/bin/python benchmarks/close.py [--invoices 1000000] [--customers 50000] [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def make_project(folder: Path) -> Path:
    """A throw-away project: params/, data/ and notebooks/ copied from the repository."""
    shutil.copytree(ROOT / "params", folder / "params")
    shutil.copytree(ROOT / "data", folder / "data")
    shutil.copytree(ROOT / "notebooks", folder / "notebooks")
    return folder


def timed_close(params: Path) -> float:
    """Wall seconds of one close; prints each audit-log step's own seconds."""
    from arlib.close import run_close

    started = time.perf_counter()
    folder = run_close(params, progress=False)
    seconds = time.perf_counter() - started
    steps = [json.loads(line) for line in (folder / "audit_log.jsonl").open(encoding="utf-8")]
    print("  " + ", ".join(f"{s['step']} {s['seconds']:.1f} s" for s in steps))
    return seconds


def large_params(folder: Path, invoices: int, customers: int) -> Path:
    from arlib.synth import generate

    data = folder / "data" / "large"
    started = time.perf_counter()
    generate(
        data,
        periods=("2026-09",),
        n_customers=customers,
        invoices_per_period=invoices,
        fmt="parquet",
    )
    print(f"generated {invoices:,} invoices in {time.perf_counter() - started:.1f} s")
    sample = yaml.safe_load((ROOT / "params" / "2026-09.yaml").read_text(encoding="utf-8"))
    sample["inputs"] = {
        "invoices": "data/large/2026-09/invoices.parquet",
        "receipts": "data/large/2026-09/bank_statement.parquet",
        "customers": "data/large/customers.parquet",
        "credit_notes": "data/large/2026-09/credit_notes.parquet",
        "fx_rates": "data/large/2026-09/fx_rates.parquet",
    }
    sample["out_dir"] = "outputs/large-2026-09"
    path = folder / "params" / "large-2026-09.yaml"
    path.write_text(yaml.safe_dump(sample, allow_unicode=True), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arlib-close-bench-") as tmp:
        project = make_project(Path(tmp))
        seconds = timed_close(project / "params" / "2026-09.yaml")
        verdict = "PASS" if seconds <= 30 else "FAIL"
        print(f"sample close 2026-09 (4 notebooks): {seconds:.1f} s  [goal <= 30 s: {verdict}]")
        if not args.skip_large:
            params = large_params(project, args.invoices, args.customers)
            seconds = timed_close(params)
            verdict = "PASS" if seconds <= 180 else "FAIL"
            print(
                f"large close ({args.invoices:,} invoices): {seconds:.1f} s  "
                f"[goal <= 180 s: {verdict}]"
            )
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
        print(f"peak memory of the largest notebook kernel: {peak:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
