"""Time the sample generator at scale: one 1,000,000-invoice period as Parquet.

Usage: ``.venv/bin/python benchmarks/synth_scale.py [invoices] [customers]``.
Target: at most 90 s on a 2-core machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from arlib.synth import generate


def main() -> None:
    invoices = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    customers = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = generate(
            Path(tmp),
            periods=("2026-10",),
            n_customers=customers,
            invoices_per_period=invoices,
            fmt="parquet",
        )
        seconds = time.perf_counter() - start
        rows = {
            p.relative_to(tmp).as_posix(): pl.scan_parquet(p).select(pl.len()).collect().item()
            for p in sorted(Path(tmp).rglob("*.parquet"))
        }
    print(f"generated {invoices:,} invoices / {customers:,} customers in {seconds:.1f} s")
    for name, n in rows.items():
        print(f"  {name:32s} {n:>10,} rows")
    print("  scenarios (receipts):", summary["periods"]["2026-10"]["scenarios"])


if __name__ == "__main__":
    main()
