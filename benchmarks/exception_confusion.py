"""Confusion table: planted noise in the sample's ground truth vs the exception types found.

For every receipt whose truth scenario is a keying error or a tolerance case (decimal
shift, transposition, duplicate, bank charge, discount, FX, overpayment, unidentified),
which exception types did the close raise for it? Closes the two sample periods in order
through the pipeline (no notebooks) in a temporary project, so outputs/ is untouched.

    .venv/bin/python benchmarks/exception_confusion.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl

from arlib import carry, pipeline
from arlib.config import load_config

ROOT = Path(__file__).resolve().parents[1]
# scenario -> the exception types that classify it correctly (a duplicated payment that is
# also an identical bank line is rightly reported as either)
EXPECTED = {
    "decimal_shift": ("decimal_shift",),
    "transposition": ("transposition",),
    "duplicate": ("duplicate_payment", "duplicate_bank_line"),
    "bank_charge": ("bank_charge",),
    "discount": ("discount",),
    "fx": ("fx_difference",),
    "overpayment": ("overpayment",),
    "unidentified": ("unidentified_receipt",),
}


def close_in_order(project: Path) -> dict[str, pipeline.CloseResult]:
    results = {}
    for period in ("2026-09", "2026-10"):
        config = load_config(project / "params" / f"{period}.yaml")
        result = pipeline.close_stage(config)
        config.out_dir.mkdir(parents=True, exist_ok=True)
        carry.write_open_items(result.open_items, config.out_dir / "open_items.parquet")
        result.review.history.write_parquet(config.out_dir / "payment_history.parquet")
        results[period] = result
    return results


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="arlib-confusion-") as tmp:
        project = Path(tmp)
        shutil.copytree(ROOT / "params", project / "params")
        shutil.copytree(ROOT / "data", project / "data")
        results = close_in_order(project)
        table: dict[str, Counter] = defaultdict(Counter)
        receipts_per: Counter = Counter()
        for period, result in results.items():
            truth = pl.read_csv(
                project / "data" / "sample" / period / "truth.csv", infer_schema=False
            )
            # of a duplicated payment, only the second (unapplied) copy is the error
            planted = (
                truth.filter(pl.col("scenario").is_in(list(EXPECTED)))
                .filter((pl.col("scenario") != "duplicate") | (pl.col("kind") == "unapplied"))
                .group_by("receipt_id")
                .agg(pl.col("scenario").first())
            )
            found = result.review.exceptions.group_by("receipt_id").agg(pl.col("type"))
            joined = planted.join(found, on="receipt_id", how="left")
            for scenario, types in joined.select("scenario", "type").iter_rows():
                receipts_per[scenario] += 1
                types = types or []
                right = [t for t in EXPECTED[scenario] if t in types]
                label = right[0] if right else (types[0] if types else "(none)")
                table[scenario][label] += 1
    print("scenario          receipts  classified-as-expected  other types")
    total = hit = 0
    for scenario in EXPECTED:
        counts = table[scenario]
        expected = EXPECTED[scenario]
        right = sum(counts[t] for t in expected)
        others = ", ".join(f"{t}:{n}" for t, n in counts.most_common() if t not in expected)
        names = "/".join(expected)
        print(f"{scenario:17} {receipts_per[scenario]:8}  {right:8} ({names})  {others}")
        total += receipts_per[scenario]
        hit += right
    print(f"overall: {hit} of {total} planted cases classified as their type")
    return 0


if __name__ == "__main__":
    sys.exit(main())
