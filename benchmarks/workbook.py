"""Time of writing the Excel workpapers alone, on a generated period's parked close result.

The close of a large period takes minutes; the workbook is one step of it. The first run
closes the generated period in process (``arlib.pipeline.close_stage``, the period of
``benchmarks/close.py``) and parks what ``arlib.workpapers.write_workbook`` is given (the
sheets, header, row cap and sign-off table) in ``benchmarks/.data/close-.../workbook.pkl``;
every run then times ``write_workbook`` on it: CPU seconds (the machine may be shared)
and wall, best of ``--repeat``. ``--out F`` keeps the workbook written, to compare two
versions with ``benchmarks/workbook_content.py``.

    .venv/bin/python benchmarks/workbook.py [--invoices 1000000] [--customers 50000] [--out F]
"""

from __future__ import annotations

import argparse
import pickle
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from close import LARGE_SEED, large_params, make_project  # noqa: E402
from common import DATA_DIR  # noqa: E402


def parked(invoices: int, customers: int) -> Path:
    """The pickled arguments of write_workbook for the period, made once."""
    path = DATA_DIR / f"close-i{invoices}-c{customers}-s{LARGE_SEED}" / "workbook.pkl"
    if path.is_file():
        return path
    from arlib import export
    from arlib.config import load_config
    from arlib.pipeline import close_stage

    calls = []
    with tempfile.TemporaryDirectory(prefix="arlib-workbook-bench-") as tmp:
        params = large_params(make_project(Path(tmp)), invoices, customers)
        started = time.perf_counter()
        result = close_stage(load_config(params))
        print(f"closed {invoices:,} invoices in process in {time.perf_counter() - started:.1f} s")
        real = export.write_workbook
        export.write_workbook = lambda *args, **kwargs: calls.append((args, kwargs))
        try:
            export.write_workpapers(result, Path(tmp) / "workpapers.xlsx")
        finally:
            export.write_workbook = real
    ((args, kwargs),) = calls
    path.write_bytes(pickle.dumps((args[1:], kwargs)))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, help="keep the workbook written here")
    args = parser.parse_args()
    (sheets,), kwargs = pickle.loads(parked(args.invoices, args.customers).read_bytes())
    rows = sum(sheet.frame.height for sheet in sheets)
    print(f"{len(sheets)} sheets, {rows:,} rows before the cap of {kwargs['row_cap']:,}")
    from arlib.workpapers import write_workbook

    best_cpu = best_wall = float("inf")
    with tempfile.TemporaryDirectory(prefix="arlib-workbook-bench-") as tmp:
        out = args.out or Path(tmp) / "workpapers.xlsx"
        for _ in range(args.repeat):
            cpu, wall = time.process_time(), time.perf_counter()
            written = write_workbook(out, sheets, **kwargs)
            best_cpu = min(best_cpu, time.process_time() - cpu)
            best_wall = min(best_wall, time.perf_counter() - wall)
    print("rows written: " + ", ".join(f"{name} {n:,}" for name, n in written.items()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(
        f"write_workbook ({args.invoices:,} invoices): best of {args.repeat} "
        f"{best_cpu:.2f} s CPU, {best_wall:.2f} s wall; peak of this process {peak:.2f} GiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
