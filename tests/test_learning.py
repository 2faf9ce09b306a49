"""Learning from decisions (issue 10 §5): a payer name people matched is proposed as an
alias, used by the next close only once accepted; a rejected pair stays rejected while its
receipt is open.

Two small closes:

- September: R1 from "Zhongshan Hengfeng Trading" (a name of no customer) pays 500.00 naming
  nothing; a person matches it to Omega's INV1 (decision). R2 (300.00) from Omega pays
  neither of Omega's open invoices exactly; a person rejects the pair (R2, INV2) and R2 is
  carried as unapplied cash. R3 from an unknown "Unnamed Pay Ltd" is applied by reference
  (no decision): nothing to learn.
- October: R4 from "Zhongshan Hengfeng Trading" pays 250.00, exactly Omega's only open
  invoice of that amount (INV3). With the alias accepted it is applied by exact amount;
  near miss: not accepted, it stays unapplied. R2, carried in, is never suggested INV2
  again, while INV4 (300.00, exact) still is.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
import yaml

from arlib import carry, learning, pipeline
from arlib.config import load_config
from tests.conftest import write

CUSTOMERS = "customer_id,name\nC001,Omega Instruments Ltd\nC002,Sigma Foods Co\n"
INVOICE_HEADER = "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
RECEIPT_HEADER = "receipt_id,value_date,amount,currency,payer_name,memo\n"
DECISION_HEADER = "receipt_id,action,invoice_id,amount,who,when,why\n"
SEPTEMBER = {
    "invoices": INVOICE_HEADER
    + "INV1,C001,2026-09-01,2026-10-01,500.00,CNY\n"
    + "INV2,C001,2026-09-02,2026-10-02,320.00,CNY\n"
    + "INV5,C002,2026-09-03,2026-10-03,90.00,CNY\n",
    "receipts": RECEIPT_HEADER
    + "R1,2026-09-20,500.00,CNY,Zhongshan Hengfeng Trading,payment\n"
    + "R2,2026-09-21,300.00,CNY,Omega Instruments Ltd,payment\n"
    + "R3,2026-09-22,90.00,CNY,Unnamed Pay Ltd,INV5\n",
    "decisions": DECISION_HEADER
    + "R1,match,INV1,,li.wei,2026-09-30,agent of Omega per phone call\n"
    + "R2,reject,INV2,,li.wei,2026-09-30,customer says it is not for INV2\n",
}
OCTOBER = {
    "invoices": INVOICE_HEADER
    + "INV3,C001,2026-10-05,2026-11-05,250.00,CNY\n"
    + "INV4,C001,2026-10-06,2026-11-06,300.00,CNY\n",
    "receipts": RECEIPT_HEADER + "R4,2026-10-20,250.00,CNY,Zhongshan Hengfeng Trading,payment\n",
}


def close(root: Path, period: str, data: dict, opening: str | None) -> pipeline.CloseResult:
    inputs = {n: f"data/{period}/{n}.csv" for n in data} | {"customers": "data/customers.csv"}
    if opening:
        inputs["opening"] = f"outputs/{opening}/open_items.parquet"
    for name, text in data.items():
        write(root / "data" / period / f"{name}.csv", text)
    params = {"period": period, "base_currency": "CNY", "inputs": inputs}
    write(root / "params" / f"{period}.yaml", yaml.safe_dump(params))
    result = pipeline.close_stage(load_config(root / "params" / f"{period}.yaml"))
    out = root / "outputs" / period
    out.mkdir(parents=True, exist_ok=True)
    carry.write_open_items(result.open_items, out / "open_items.parquet", period=period)
    pipeline._csv(result.learned_aliases, out / learning.LEARNED_ALIASES)
    return result


@pytest.fixture(scope="module")
def september(tmp_path_factory) -> tuple[Path, pipeline.CloseResult]:
    root = tmp_path_factory.mktemp("learning")
    write(root / "data" / "customers.csv", CUSTOMERS)
    return root, close(root, "2026-09", SEPTEMBER, None)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_matched_unknown_payer_name_is_proposed_for_review(september):
    root, _ = september
    learned = rows(root / "outputs" / "2026-09" / learning.LEARNED_ALIASES)
    assert learned == [
        {
            "payer_name": "Zhongshan Hengfeng Trading",
            "customer_id": "C001",
            "customer_name": "Omega Instruments Ltd",
            "receipt_id": "R1",
            "invoice_id": "INV1",
            "decided_by": "li.wei",
            "period": "2026-09",
            "accepted": "",
        }
    ]  # near miss: R3's unknown payer was applied by reference, not by a person


def test_a_rejected_pair_is_carried_while_the_receipt_is_open(september):
    _, result = september
    carried = result.open_items.filter(pl.col("item_type") == "rejection")
    assert carried.select("receipt_id", "invoice_id", "origin_period").rows() == [
        ("R2", "INV2", "2026-09")
    ]
    assert "rejected by li.wei on 2026-09-30: customer says it is not for INV2" in (
        carried["history"].item()
    )


def october(root: Path, accept: str) -> pipeline.CloseResult:
    """October after an analyst wrote ``accept`` in September's learned aliases."""
    path = root / "outputs" / "2026-09" / learning.LEARNED_ALIASES
    reviewed = rows(path)
    reviewed[0]["accepted"] = accept
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(reviewed[0]))
        writer.writeheader()
        writer.writerows(reviewed)
    out = root / "outputs" / "2026-10"
    if out.exists():
        for f in out.iterdir():
            f.unlink()
    return close(root, "2026-10", OCTOBER, "2026-09")


def test_an_accepted_alias_resolves_the_payer_next_period(september):
    root, _ = september
    result = october(root, "yes")
    r4 = result.match.allocations.filter(pl.col("receipt_id") == "R4")
    assert r4.select("invoice_id", "applied_amount", "rule").rows() == [
        ("INV3", pl.Series([250]).cast(pl.Decimal(38, 2))[0], "exact_amount")
    ]
    seen = [p for p in result.period.provenance if p["input"] == "learned_aliases"]
    assert seen and seen[0]["accepted"] == 1


def test_an_alias_not_accepted_is_not_used(september):
    root, _ = september
    result = october(root, "")
    assert result.match.allocations.filter(pl.col("receipt_id") == "R4").height == 0


def test_a_bad_accepted_value_is_a_warning_naming_the_row(september):
    root, _ = september
    result = october(root, "maybe")
    found = result.period.findings.filter(pl.col("rule") == "bad_value")
    assert found.select("severity", "row", "column", "value").rows() == [
        ("warning", 2, "accepted", "maybe")
    ]


def test_a_remembered_rejection_is_never_suggested_again(september):
    root, _ = september
    result = october(root, "yes")
    suggested = result.match.suggestions.filter(pl.col("receipt_id") == "R2")
    assert "INV2" not in set(suggested["invoice_ids"])
    # near miss: R2 is still a candidate for what nobody rejected (INV4, exactly 300.00)
    applied = result.match.allocations.filter(pl.col("receipt_id") == "R2")
    assert set(applied["invoice_id"]) | set(suggested["invoice_ids"]) == {"INV4"}
    carried = result.period.frames["decisions"].filter(pl.col("who") == learning.CARRIED)
    assert carried.select("receipt_id", "action", "invoice_id", "when").rows() == [
        ("R2", "reject", "INV2", "2026-09")
    ]
