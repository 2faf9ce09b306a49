"""Match quality as a gate: ``benchmarks/match_quality.py`` run in process on the bundled
sample (``data/sample``, both periods, carried forward as a close does) against its truth.

Targets (the benchmark's): precision of automatic allocations >= 99.9 % by amount, >= 98.5 %
of applicable receipts applied exactly, every scenario >= 95 % handled right (a ``hold``
receipt left unapplied or suggested counts as right). Takes a few seconds.
"""

from __future__ import annotations

import importlib
import sys

import polars as pl
import pytest

from arlib.synth import SCENARIOS
from tests.conftest import ROOT

BENCH = ROOT / "benchmarks"
SAMPLE = ROOT / "data" / "sample"


def _benchmark():
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("match_quality")
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def mq():
    return _benchmark()


@pytest.fixture(scope="module")
def quality(mq):
    return mq.evaluate(SAMPLE, "sample", lambda *args: None)


def test_sample_meets_every_match_quality_target(quality):
    assert quality["failures"] == []


def test_sample_precision_recall_and_holds_meet_their_targets(quality, mq):
    """Precision, recall and hold violations on their own, so a failure says which."""
    h = quality["overall"]
    assert h["precision_amount"] >= mq.PRECISION_TARGET
    assert h["recall"] >= mq.RECALL_TARGET
    assert h["hold_violations"] == 0


def test_every_sample_scenario_is_scored(quality):
    assert set(quality["scenarios"]["scenario"]) == set(SCENARIOS)


def test_failures_name_each_missed_target(mq):
    results = {
        "overall": {
            "precision_amount": 99.5,
            "recall": 99.0,
            "applied_exactly": 99,
            "applicable": 100,
        }
    }
    scenarios = pl.DataFrame(
        {"scenario": ["a", "b"], "score_%": [100.0, 90.0], "ok": [5, 9], "receipts": [5, 10]}
    ).with_columns(
        verdict=pl.when(pl.col("score_%") >= mq.SCENARIO_TARGET)
        .then(pl.lit("PASS"))
        .otherwise(pl.lit("FAIL"))
    )
    out = mq.failures(results, scenarios)
    assert len(out) == 2
    assert out[0].startswith("precision by amount 99.500 %")
    assert out[1].startswith("scenario b 90.00 %")
