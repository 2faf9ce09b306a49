"""A collection letter does not ask for an invoice that a receipt not yet applied probably
pays: the invoice is held (like an ERP's dunning block) until the receipt is applied or
rejected, and the letter says so.

One close as of 2026-09-30, tiers A from 91 days, B 61-90, C 1-60, letters to overdue
customers. By hand:

- Alpha (C001): INV1 1,000.00 due 2026-07-31 and INV2 800.00 due 2026-08-15, both overdue.
  R1 (80.00, memo "INV2") is INV2's amount with a digit dropped: a keying error, never
  applied, so INV2 is held. The near miss: INV1, which nothing names, is still dunned.
- Gamma (C003): INV4 600.00 due 2026-08-01, its only invoice; R3 (60.00, memo "INV4") is
  the same keying error: no letter at all.
- Delta (C004): INV5 300.00 due 2026-08-20 was short-paid by R4 (250.00, memo "INV5"),
  applied: a receipt already applied holds nothing (its unexplained shortfall is a dispute,
  which keeps INV5 out of the letters on its own account).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from arlib import pipeline
from arlib.config import load_config
from arlib.statements import payment_pending_invoices, write_statements
from tests.conftest import write

CUSTOMERS = (
    "customer_id,name,language,email\n"
    "C001,Alpha Trading Ltd,en,ap@alpha.example\n"
    "C003,Gamma Parts Ltd,en,ap@gamma.example\n"
    "C004,Delta Tools Ltd,en,ap@delta.example\n"
)
INVOICES = (
    "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
    "INV1,C001,2026-07-01,2026-07-31,1000.00,CNY\n"
    "INV2,C001,2026-07-16,2026-08-15,800.00,CNY\n"
    "INV4,C003,2026-07-02,2026-08-01,600.00,CNY\n"
    "INV5,C004,2026-07-21,2026-08-20,300.00,CNY\n"
)
RECEIPTS = (
    "receipt_id,value_date,amount,currency,payer_name,memo\n"
    "R1,2026-09-20,80.00,CNY,Alpha Trading Ltd,INV2\n"
    "R3,2026-09-21,60.00,CNY,Gamma Parts Ltd,INV4\n"
    "R4,2026-09-22,250.00,CNY,Delta Tools Ltd,INV5\n"
)


@pytest.fixture(scope="module")
def closed(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("hold")
    write(root / "data" / "customers.csv", CUSTOMERS)
    write(root / "data" / "invoices.csv", INVOICES)
    write(root / "data" / "receipts.csv", RECEIPTS)
    params = {
        "period": "2026-09",
        "base_currency": "CNY",
        "inputs": {n: f"data/{n}.csv" for n in ("customers", "invoices", "receipts")},
        "tiers": {"rules": [["A", 91, None], ["B", 61, 90], ["C", 1, 60]]},
        "statements": {"customers": "overdue"},
    }
    write(root / "params" / "2026-09.yaml", yaml.safe_dump(params))
    result = pipeline.close_stage(load_config(root / "params" / "2026-09.yaml"))
    out = root / "outputs" / "2026-09"
    write_statements(result, out)
    return result, out


def test_invoices_a_receipt_not_yet_applied_names_are_held(closed):
    result, _ = closed
    held = payment_pending_invoices(result.match, result.review.exceptions)
    assert held == {"INV2", "INV4"}  # INV5's receipt is applied: near miss


def test_the_letter_asks_only_for_what_no_receipt_is_waiting_for(closed):
    result, out = closed
    letters = {r["customer_id"]: r["invoices"] for r in result.letters.iter_rows(named=True)}
    assert letters == {"C001": ["INV1"]}
    alpha = (out / "letters" / "C001.html").read_text(encoding="utf-8")
    assert "1 invoice past due" in alpha
    assert "CNY 1,000.00" in alpha
    assert "1 further invoice (CNY 800.00) is not included" in alpha
    assert not (out / "letters" / "C003.html").exists()
