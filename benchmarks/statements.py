"""Statement step time: the documents of the 2026-10 sample close, in CPU seconds.

Closes the bundled sample periods in a temporary project folder (2026-09 first, for the
carried open items), then writes the 2026-10 statements and letters (``write_statements``:
HTML, PDF and xlsx of each statement, HTML and PDF of each letter, the index) three times
and prints the best CPU time of this process, overall and per kind of document, beside the
CPU time of the close stage itself (load, match, review) for scale. The machine may be
shared: CPU, not wall time, is what the step costs.

    .venv/bin/python benchmarks/statements.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from arlib import carry, pipeline
    from arlib import statements as st
    from arlib.config import load_config
    from arlib.statements import html, pdf, xlsx

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        shutil.copytree(ROOT / "params", project / "params")
        shutil.copytree(ROOT / "data", project / "data")
        first = pipeline.close_stage(load_config(project / "params" / "2026-09.yaml"))
        (project / "outputs" / "2026-09").mkdir(parents=True)
        carry.write_open_items(
            first.open_items,
            project / "outputs" / "2026-09" / "open_items.parquet",
            period="2026-09",
            entity=first.config.entity,
            provision=first.review.provision.total_provision,
            base_currency=first.config.base_currency,
        )
        started = time.process_time()
        result = pipeline.close_stage(load_config(project / "params" / "2026-10.yaml"))
        close_cpu = time.process_time() - started
        spent: Counter[str] = Counter()
        for module in (html, pdf, xlsx):
            for name in ("write_statement", "write_letter"):
                if hasattr(module, name):
                    setattr(module, name, _timed(getattr(module, name), spent, module, name))
        runs = []
        for k in range(3):
            spent.clear()
            started = time.process_time()
            written = st.write_statements(result, project / f"run{k}")
            runs.append((time.process_time() - started, dict(spent)))
        best, parts = min(runs, key=lambda run: run[0])
    statements = sum(1 for p in written if p.parent.name == "statements" and p.suffix == ".pdf")
    letters = sum(1 for p in written if p.parent.name == "letters" and p.suffix == ".pdf")
    print(f"2026-10 sample: {statements} statements, {letters} letters, {len(written)} files")
    print(f"close stage (load, match, review): {close_cpu:.2f} s CPU")
    print(
        f"write_statements, best of 3: {best:.2f} s CPU ({', '.join(f'{r[0]:.2f}' for r in runs)})"
    )
    for key, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<24} {seconds:.2f} s")
    return 0


def _timed(function, spent, module, name):
    label = f"{module.__name__.rsplit('.', 1)[-1]} {name.removeprefix('write_')}"

    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    return timed


if __name__ == "__main__":
    raise SystemExit(main())
