"""``arlib reconcile`` from CSV at scale, as a user runs it, beside the machine's floor.

Usage::

    .venv/bin/python benchmarks/reconcile_scale.py                    # 100,000 and 1,000,000
    .venv/bin/python benchmarks/reconcile_scale.py --sizes 200000

A size n is at least n invoices and n bank lines in one period (1.11 n invoices generated,
every invoice of a paying customer paid in the month, as in ``scale.py``), written as CSV
with the bank's Chinese headers, with 0.06 n customers (60,000 at 1M) of the synthetic
generator's *wide* world: trade names shared by several customers in different cities,
short aliases shared by several, third-party payers. Data is cached under
``benchmarks/.data/`` (git-ignored).

For each size, three child processes, each timed on its own:

* **floor**: what reading the same files and joining references costs in raw polars on this
  machine: read the invoice and bank CSVs, extract reference tokens from the memos, join
  them to the invoices, write one CSV.
* **command line**: ``python -m arlib.cli reconcile --params ... --out ...``; wall seconds
  and peak memory (the child's ``ru_maxrss``).
* **stages**: the same work in process, timed per stage: ``load`` (read, parse and
  validate every input), ``match``, ``exceptions`` (the review ``reconcile`` writes) and
  ``write``.

Printed: each figure in seconds and as a multiple of the floor, the growth from the
smallest to the largest size per stage with its exponent (time ∝ size^k; 1 is linear), and
PASS/FAIL against the targets of issue 11 at 1M: reconcile ≤ 15 s wall, ≤ 3 GiB, ≤ 12× the
floor; load + validate ≤ 3 s; review (exceptions) ≤ 4 s; ≤ ×11 time for ×10 data in every
stage. Always exits 0 (a measurement).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import yaml
from common import FILE_OF, GIB, PERIOD_INPUTS, cached_generate, sample_columns, verdict

PERIOD = "2026-10"
SEED = 20261031
INVOICES_PER_RECEIPT = 1.11
CUSTOMERS_PER_ROW = 0.06
TARGETS = {"wall": 15.0, "rss": 3.0, "floor_ratio": 12.0, "load": 3.0, "review": 4.0}
GROWTH_TARGET = 11.0


def params_for(folder: Path) -> Path:
    """A params file for the generated period, as a user would write it."""
    inputs = {"customers": str(folder / "customers.csv")}
    for name in PERIOD_INPUTS:
        inputs[name] = str(folder / PERIOD / f"{FILE_OF[name]}.csv")
    raw = {"period": PERIOD, "base_currency": "CNY", "inputs": inputs, "columns": sample_columns()}
    path = folder / "reconcile-params.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


# ----------------------------------------------------------------------- child processes
def child_floor(folder: Path) -> dict:
    """Raw polars: read, tokenise memos, join to invoices, write."""
    start = time.perf_counter()
    invoices = pl.read_csv(folder / PERIOD / "invoices.csv", infer_schema=False)
    bank = pl.read_csv(folder / PERIOD / "bank_statement.csv", infer_schema=False)
    memo = bank.columns[6]  # 摘要 (memo) in the generated bank export
    tokens = bank.select(
        pl.col(bank.columns[0]).alias("line"),
        pl.col(memo).str.to_uppercase().str.extract_all(r"[A-Z]*[0-9]{4,}").alias("ref"),
    ).explode("ref")
    joined = tokens.join(invoices, left_on="ref", right_on="invoice_id", how="left")
    with tempfile.TemporaryDirectory(prefix="arlib-floor-") as tmp:
        joined.write_csv(Path(tmp) / "joined.csv")
    return {"seconds": time.perf_counter() - start}


def child_stages(params: Path) -> dict:
    """The reconcile's stages in process (as ``arlib reconcile`` runs them)."""
    from arlib import findings as fnd
    from arlib.config import load_config
    from arlib.pipeline import exceptions_stage, load_stage, match_stage, write_reconcile_outputs
    from arlib.safe_output import write_csv

    config = load_config(params)
    state: dict = {}
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    period = load_stage(config, state)
    seconds["load"] = time.perf_counter() - start
    start = time.perf_counter()
    result = match_stage(config, state)
    seconds["match"] = time.perf_counter() - start
    start = time.perf_counter()
    raised = exceptions_stage(config, state)
    seconds["exceptions"] = time.perf_counter() - start
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arlib-stages-") as tmp:
        findings = fnd.concat(period.findings, result.findings, raised.findings)
        write_reconcile_outputs(result, Path(tmp), findings)
        write_csv(raised.carried, Path(tmp) / "exceptions.csv")
    seconds["write"] = time.perf_counter() - start
    rows = {
        "invoices": period.frames["invoices"].height,
        "receipts": period.frames["receipts"].height,
        "customers": period.frames["customers"].height,
        "exceptions": raised.carried.height,
    }
    return {"stages": seconds, "rows": rows}


def _run(command: list[str]) -> tuple[str, float, float, int]:
    """Run a child to the end: (its output, wall seconds, peak RSS GiB, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return out, wall, usage.ru_maxrss * 1024 / GIB, os.waitstatus_to_exitcode(status)


def run_child(*args: str) -> tuple[dict | None, float, str]:
    """(the child's JSON, peak RSS GiB, output tail) of this script run as a child."""
    out, _, rss, _ = _run([sys.executable, str(Path(__file__).resolve()), *args])
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else None), rss, out[-2000:]


def command_line(params: Path) -> tuple[float, float, int, str]:
    """``arlib reconcile`` as a user runs it: wall seconds, peak RSS GiB, exit code, tail."""
    with tempfile.TemporaryDirectory(prefix="arlib-cli-") as tmp:
        command = [sys.executable, "-m", "arlib.cli", "reconcile", "--params", str(params)]
        out, wall, rss, code = _run([*command, "--out", str(Path(tmp) / "out")])
    return wall, rss, code, out[-400:]


# ----------------------------------------------------------------------------- report
def measure(n: int, log) -> dict:
    invoices = round(n * INVOICES_PER_RECEIPT)
    customers = max(300, round(n * CUSTOMERS_PER_ROW))
    folder, _, gen_s = cached_generate(
        f"reconcile-wide-i{invoices}-c{customers}-s{SEED}",
        seed=SEED,
        periods=(PERIOD,),
        n_customers=customers,
        invoices_per_period=invoices,
        paid_share=1.0,
        fmt="csv",
        world="wide",
        log=log,
    )
    params = params_for(folder)
    floor, _, err = run_child("--child-floor", str(folder))
    if floor is None:
        raise SystemExit(f"floor child failed:\n{err}")
    cli_wall, cli_rss, code, tail = command_line(params)
    stages, stages_rss, err = run_child("--child-stages", str(params))
    if stages is None:
        raise SystemExit(f"stages child failed:\n{err}")
    return {
        "n": n,
        "generated_s": gen_s,
        "floor": floor["seconds"],
        "cli_wall": cli_wall,
        "cli_rss": cli_rss,
        "cli_exit": code,
        "cli_tail": tail,
        "stages": stages["stages"],
        "rows": stages["rows"],
        "stages_rss": stages_rss,
    }


def report(r: dict, log) -> None:
    floor = r["floor"]
    rows = r["rows"]
    log(
        f"\n== size {r['n']:,}: {rows['invoices']:,} invoices, {rows['receipts']:,} receipts, "
        f"{rows['customers']:,} customers (wide world), {rows['exceptions']:,} exceptions"
    )
    log(f"  floor (raw polars read + tokens + join + write)  {floor:7.2f} s")
    log(
        f"  arlib reconcile (command line)                   {r['cli_wall']:7.2f} s  "
        f"x{r['cli_wall'] / floor:5.1f} floor   peak {r['cli_rss']:.2f} GiB   exit {r['cli_exit']}"
    )
    if r["cli_exit"] != 0:
        log(f"  (the command failed: {r['cli_tail']})")
    for name, seconds in r["stages"].items():
        log(f"    {name:12s} {seconds:7.2f} s  x{seconds / floor:5.1f} floor")


def targets(r: dict, log) -> None:
    s = r["stages"]
    ratio = r["cli_wall"] / r["floor"]
    log(f"\n#### targets at size {r['n']:,} (issue 11)")
    checks = [
        ("reconcile wall", r["cli_wall"], TARGETS["wall"], "s"),
        ("reconcile peak", r["cli_rss"], TARGETS["rss"], "GiB"),
        ("reconcile / floor", ratio, TARGETS["floor_ratio"], "x"),
        ("load + validate", s["load"], TARGETS["load"], "s"),
        ("review (exceptions)", s["exceptions"], TARGETS["review"], "s"),
    ]
    for name, value, target, unit in checks:
        log(
            f"  {name:20s} {value:7.2f} {unit:3s} target <= {target:g} {unit:3s} "
            f"{verdict(value, target, higher_is_better=False)}"
        )


def growth(small: dict, big: dict, log) -> None:
    factor = big["n"] / small["n"]
    log(f"\n#### growth {small['n']:,} -> {big['n']:,} (x{factor:g} data; exponent 1 = linear)")
    pairs = [
        ("floor", small["floor"], big["floor"]),
        ("reconcile", small["cli_wall"], big["cli_wall"]),
    ]
    pairs += [(k, small["stages"][k], big["stages"][k]) for k in big["stages"]]
    for name, a, b in pairs:
        ratio = b / a if a else float("nan")
        exponent = math.log(ratio) / math.log(factor) if a and b else float("nan")
        mark = verdict(ratio, GROWTH_TARGET, higher_is_better=False) if factor == 10 else ""
        log(
            f"  {name:12s} {a:7.2f} s -> {b:7.2f} s   x{ratio:5.1f}  "
            f"exponent {exponent:4.2f}  {mark}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--child-floor", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-stages", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_floor:
        print(json.dumps(child_floor(args.child_floor)))
        return 0
    if args.child_stages:
        print(json.dumps(child_stages(args.child_stages)))
        return 0

    def log(text: str = "") -> None:
        print(text, flush=True)

    log(f"polars {pl.__version__}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    results = [measure(n, log) for n in sorted(args.sizes)]
    for r in results:
        report(r, log)
    targets(results[-1], log)
    if len(results) > 1:
        growth(results[0], results[-1], log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
