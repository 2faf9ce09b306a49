"""Decisions (params ``inputs.decisions``) that cannot be applied are errors, never dropped.

A small period with hand-known balances: each bad row is found by ``arlib validate`` with
its file, row, column and value, and each has a near miss that is applied.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import polars as pl
import yaml

from arlib.cli import main
from arlib.config import load_config
from arlib.load import load_period
from arlib.match import match
from tests.conftest import write

INVOICES = (
    "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
    "INV1,C001,2026-10-01,2026-10-31,100.00,CNY\n"
    "INV2,C001,2026-10-02,2026-11-01,200.00,CNY\n"  # credit note CN1 nets 30.00: open 170.00
    "INV4,C001,2026-10-03,2026-11-02,500.00,CNY\n"
)
RECEIPTS = (
    "receipt_id,value_date,amount,currency,payer_name,memo\n"
    "R1,2026-10-05,100.00,CNY,Alpha Ltd,\n"
    "R2,2026-10-06,300.00,CNY,Alpha Ltd,\n"
)
CREDIT_NOTES = "credit_id,customer_id,date,amount,invoice_id\nCN1,C001,2026-10-04,30.00,INV2\n"
CUSTOMERS = "customer_id,name\nC001,Alpha Ltd\n"
HEADER = "receipt_id,action,invoice_id,amount,who,when,why\n"
# (file row, decision, the finding it must give or None when it is applied)
ROWS = [
    (2, "R1,match,INV1,100.00", None),  # the whole receipt on the whole invoice
    (3, "R9,match,INV1,10.00", ("receipt_id", "R9")),  # no such receipt
    (4, "R2,match,INV9,10.00", ("invoice_id", "INV9")),  # no such invoice
    (5, "R2,match,INV2,180.00", ("amount", "180.00")),  # INV2 is open 200.00 - 30.00 = 170.00
    (6, "R2,match,INV2,170.00", None),  # near miss: exactly the open balance
    (7, "R2,match,INV4,-5.00", ("amount", "-5.00")),  # negative
    (8, ",dispute,INV1,", ("receipt_id", None)),  # invoice-level, no receipt
    (9, "R2,reject,INV7,", ("invoice_id", "INV7")),  # rejects an unknown invoice
    (10, "R2,match,INV4,140.00", ("amount", "140.00")),  # R2 has 300.00 - 170.00 = 130.00 left
    (11, "R2,match,INV4,130.00", None),  # near miss: exactly what is left of R2
]


def project(tmp_path: Path) -> Path:
    for name, text in {
        "invoices": INVOICES,
        "receipts": RECEIPTS,
        "credit_notes": CREDIT_NOTES,
        "customers": CUSTOMERS,
        "decisions": HEADER + "".join(f"{line},li.wei,2026-10-31,x\n" for _, line, _ in ROWS),
    }.items():
        write(tmp_path / "data" / f"{name}.csv", text)
    params = {
        "period": "2026-10",
        "base_currency": "CNY",
        "inputs": {n: f"data/{n}.csv" for n in ("invoices", "receipts", "customers")}
        | {"credit_notes": "data/credit_notes.csv", "decisions": "data/decisions.csv"},
    }
    write(tmp_path / "params" / "2026-10.yaml", yaml.safe_dump(params))
    return tmp_path / "params" / "2026-10.yaml"


def test_every_decision_that_cannot_be_applied_is_an_error_with_its_row(tmp_path):
    period = load_period(load_config(project(tmp_path)))
    found = period.findings.filter(pl.col("rule").str.starts_with("decision_"))
    got = [(r["severity"], r["file"], r["row"], r["column"], r["value"]) for r in found.to_dicts()]
    want = [
        ("error", "data/decisions.csv", row, *finding)
        for row, _, finding in ROWS
        if finding is not None
    ]
    assert got == want
    assert period.findings.height == found.height  # nothing else is wrong with the period


def test_the_valid_decisions_are_applied_as_checked(tmp_path):
    """The near misses are applied by matching exactly as validation judged them."""
    period = load_period(load_config(project(tmp_path)))
    f = period.frames
    result = match(
        f["invoices"], f["receipts"], f["customers"], f["credit_notes"], f["fx_rates"],
        decisions=f["decisions"],
    )  # fmt: skip
    manual = result.allocations.filter(pl.col("rule") == "manual")
    assert sorted(manual.select("receipt_id", "invoice_id", "applied_amount").rows()) == [
        ("R1", "INV1", D("100.00")),
        ("R2", "INV2", D("170.00")),
        ("R2", "INV4", D("130.00")),
    ]
    assert result.findings.filter(pl.col("severity") == "error").height == 7  # same verdicts


def test_validate_exits_2_and_names_each_bad_decision(tmp_path, capsys):
    code = main(["validate", "--params", str(project(tmp_path))])
    out = capsys.readouterr().out
    assert code == 2
    errors = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 7
    assert any("data/decisions.csv:5: amount: '180.00'" in line for line in errors)
    assert any("data/decisions.csv:8: receipt_id:" in line for line in errors)


def test_decisions_with_the_manual_rule_switched_off_are_errors(tmp_path):
    """With ``matching.rules`` leaving out ``manual`` no decision is applied: each says so."""
    params = project(tmp_path)
    config = load_config(params, {"matching": {"rules": ["credit_note", "reference"]}})
    found = load_period(config).findings
    assert found.filter(pl.col("rule") == "decision_rule_off")["row"].to_list() == [
        row for row, _, _ in ROWS
    ]
