"""The independent world generator's own invariants (benchmarks/worldgen.py).

Only the generator is checked here, never the engine's score: the same seed writes the
same files, every receipt is in the truth once with one expectation, the truth's rows of
each applied receipt add up to the receipt (cash in the receipt's currency) and clear no
more than is open, and every amount has at most its currency's decimals.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import worldgen  # noqa: E402

SIZE = {"seed": 11, "n_customers": 90, "n_invoices": 700}


def _read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    worldgen.generate(folder, **SIZE)
    return folder


def _places(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def test_same_seed_same_files(world, tmp_path):
    again = tmp_path / "again"
    worldgen.generate(again, **SIZE)
    assert _digests(again) == _digests(world)
    other = tmp_path / "other"
    worldgen.generate(other, **{**SIZE, "seed": 12})
    assert _digests(other)["truth.csv"] != _digests(world)["truth.csv"]


def test_every_receipt_in_truth_once(world):
    bank = _read(world / "data" / worldgen.PERIOD / "银行流水.csv")
    truth = _read(world / "truth.csv")
    ids = [r["凭证号"] for r in bank]
    assert len(ids) == len(set(ids))
    by_receipt = defaultdict(list)
    for row in truth:
        by_receipt[row["receipt_id"]].append(row)
    assert set(by_receipt) == set(ids)
    for rid, rows in by_receipt.items():
        assert len({r["expected"] for r in rows}) == 1, rid
        assert len({r["scenario"] for r in rows}) == 1, rid
        expected = rows[0]["expected"]
        assert expected in ("apply", "hold"), rid
        if expected == "hold":
            assert len(rows) == 1 and rows[0]["invoice_id"] == "", rid
        else:
            assert all(r["invoice_id"] and r["kind"] for r in rows), rid
    scenarios = {rows[0]["scenario"] for rows in by_receipt.values()}
    assert len(scenarios) >= 30  # every principle is represented, near misses included


def test_apply_rows_add_up_to_the_receipt(world):
    bank = {r["凭证号"]: r for r in _read(world / "data" / worldgen.PERIOD / "银行流水.csv")}
    invoices = {r["单据编号"]: r for r in _read(world / "data" / worldgen.PERIOD / "invoices.csv")}
    credits = defaultdict(Decimal)
    for note in _read(world / "data" / worldgen.PERIOD / "credit_notes.csv"):
        credits[note["invoice_id"]] += Decimal(note["amount"])
    cash = defaultdict(Decimal)
    cleared = defaultdict(Decimal)
    for row in _read(world / "truth.csv"):
        if row["expected"] != "apply":
            continue
        line = bank[row["receipt_id"]]
        assert row["receipt_currency"] == line["货币"]
        assert Decimal(row["receipt_total"]) == Decimal(line["金额"].replace(",", ""))
        invoice = invoices[row["invoice_id"]]
        assert row["currency"] == invoice["currency"]
        applied = Decimal(row["applied_amount"])
        assert applied > 0 or row["kind"] == "fx_difference"
        if row["kind"] == "cash":
            cash[row["receipt_id"]] += Decimal(row["receipt_amount"])
        else:
            assert row["kind"] in ("bank_charge", "discount", "fx_difference")
            assert Decimal(row["receipt_amount"]) == 0
        cleared[row["invoice_id"]] += applied
    for rid, total in cash.items():
        assert total == Decimal(bank[rid]["金额"].replace(",", "")), rid
    for invoice_id, total in cleared.items():
        open_amount = Decimal(invoices[invoice_id]["amount"]) - credits[invoice_id]
        assert total <= open_amount, invoice_id


def test_money_has_its_currency_places(world):
    data = world / "data" / worldgen.PERIOD
    checks = [
        (data / "invoices.csv", "amount", "currency"),
        (data / "银行流水.csv", "金额", "货币"),
        (data / "credit_notes.csv", "amount", "currency"),
        (world / "truth.csv", "applied_amount", "currency"),
        (world / "truth.csv", "receipt_amount", "receipt_currency"),
        (world / "truth.csv", "receipt_total", "receipt_currency"),
    ]
    for path, column, currency in checks:
        for row in _read(path):
            value = row[column].replace(",", "")
            if not value:
                continue
            assert _places(value) <= 2, (path.name, row)
            assert _places(value) == worldgen.DECIMALS[row[currency]], (path.name, row)
            Decimal(value)  # a number


def test_params_name_this_worlds_headers(world):
    text = (world / "params" / f"{worldgen.PERIOD}.yaml").read_text(encoding="utf-8")
    for header in worldgen.BANK_HEADERS:
        assert f'"{header}":' in text
    assert "银行流水.csv" in text


def test_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("someone else's", encoding="utf-8")
    with pytest.raises(FileExistsError):
        worldgen.generate(tmp_path, **SIZE)
