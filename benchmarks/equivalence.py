"""Hashes of the matching outputs on several periods, to prove a speed change changes nothing.

    .venv/bin/python benchmarks/equivalence.py --save /tmp/before.json   # before the change
    .venv/bin/python benchmarks/equivalence.py --check /tmp/before.json  # after: exit 1 on a change

Periods (generated once into ``benchmarks/.data/``, git-ignored):

* ``sample``   the bundled September sample, through the real command line
               (``arlib reconcile --params params/2026-09.yaml``): ``matches.csv`` and
               ``exceptions.csv`` hashed as a user gets them
* ``synth-100k`` :func:`arlib.synth.generate`, 100,000 invoices, 5,000 customers
* ``wide-20k`` the synth generator's wide world (shared stems, shared aliases, third parties)
* ``world-101``, ``world-202`` ``benchmarks/worldgen.py``'s independent worlds, through the
               command line like ``sample``

For the in-process periods the allocations, the suggestions and each receipt's status and
unapplied rest are hashed as CSV. The match stage's seconds are printed beside (a speed
change should move only those).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import worldgen
from common import DATA_DIR, REPO, cached_generate, period_config

from arlib.load import load_period
from arlib.match import match

CLI_FILES = ("matches.csv", "exceptions.csv", "suggestions.csv", "unapplied_receipts.csv")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def in_process(folder: Path, period: str) -> tuple[dict[str, str], float]:
    """Hashes of one generated period matched in this process, and the match seconds."""
    config = period_config(folder, period, fmt="parquet")
    frames = load_period(config).frames
    start = time.perf_counter()
    result = match(
        frames["invoices"],
        frames["receipts"],
        frames["customers"],
        frames["credit_notes"],
        frames["fx_rates"],
        config.matching,
        config.base_currency,
    )
    seconds = time.perf_counter() - start
    status = result.receipts.select("receipt_id", "status", "unapplied")
    hashes = {
        "allocations": digest(result.allocations.write_csv().encode()),
        "suggestions": digest(result.suggestions.write_csv().encode()),
        "receipt_status": digest(status.write_csv().encode()),
    }
    return hashes, seconds


def command_line(params: Path, cwd: Path) -> tuple[dict[str, str], float]:
    """Hashes of the files ``arlib reconcile`` writes for ``params``, and its wall seconds."""
    with tempfile.TemporaryDirectory(prefix="arlib-eq-") as tmp:
        command = [sys.executable, "-m", "arlib.cli", "reconcile", "--params", str(params)]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        start = time.perf_counter()
        done = subprocess.run(
            [*command, "--out", tmp], capture_output=True, text=True, env=env, cwd=cwd
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"arlib reconcile failed on {params}:\n{done.stdout}\n{done.stderr}")
        return {name: digest((Path(tmp) / name).read_bytes()) for name in CLI_FILES}, seconds


def periods() -> dict[str, object]:
    """name -> a function returning (hashes, seconds)."""
    quiet = {"log": lambda *a: None}

    def synth(name: str, **kw):
        def run():
            folder, _, _ = cached_generate(name, periods=("2026-09",), fmt="parquet", **kw, **quiet)
            return in_process(folder, "2026-09")

        return run

    def world(seed: int):
        def run():
            folder = DATA_DIR / f"eq-world-{seed}"
            if not (folder / "world.json").exists():
                worldgen.generate(folder, seed)
            params = folder / json.loads((folder / "world.json").read_text())["params"]
            return command_line(params, folder)

        return run

    return {
        "sample": lambda: command_line(REPO / "params" / "2026-09.yaml", REPO),
        "synth-100k": synth("eq-100k", seed=5, n_customers=5000, invoices_per_period=100_000),
        "wide-20k": synth(
            "eq-wide-20k", seed=7, n_customers=2000, invoices_per_period=20_000, world="wide"
        ),
        "world-101": world(101),
        "world-202": world(202),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--save", type=Path, help="write the hashes to this JSON file")
    ap.add_argument("--check", type=Path, help="compare with saved hashes; exit 1 if any differ")
    ap.add_argument("--only", nargs="+", help="only these periods")
    args = ap.parse_args(argv)
    runs = periods()
    names = args.only or list(runs)
    expected = json.loads(args.check.read_text()) if args.check else {}
    found: dict[str, dict[str, str]] = {}
    differ = 0
    for name in names:
        hashes, seconds = runs[name]()
        found[name] = hashes
        for what, value in hashes.items():
            want = expected.get(name, {}).get(what)
            mark = "" if want is None else ("same" if want == value else f"DIFFERS (was {want})")
            differ += bool(want is not None and want != value)
            print(f"{name:12s} {what:24s} {value}  {mark}")
        print(f"{name:12s} {'seconds':24s} {seconds:.2f}", flush=True)
    if args.save:
        args.save.write_text(json.dumps(found, indent=1) + "\n")
    if args.check:
        print("all identical" if not differ else f"{differ} hashes differ")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
