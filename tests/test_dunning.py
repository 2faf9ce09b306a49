"""Collection letters: disputed invoices are not dunned, and a letter's wording follows what
was actually sent before (reminder, then second notice, then final demand), never more than
the overdue tier asks for.

Three small closes, each as of its period end, statements for overdue customers:

- Alpha (C001): INV1 1,000.00 due 2026-07-31 (61 days overdue at September's end: tier B);
  INV2 400.00 due 2026-09-15 is flagged disputed in the invoice file.
- Beta (C002): INV3 2,000.00 due 2026-06-01 (121 days: tier A); INV4 300.00 due 2026-09-20
  is paid 100.00 by R1, an unexplained short payment: an open dispute exception.
- Gamma (C003): INV5 500.00 due 2026-09-29 (1 day: tier C) is held by a ``dispute`` decision
  on R2: nothing of Gamma's is dunned, in September or later (the dispute carries).
- Delta (C004): INV6 150.00 due 2026-09-20 (10 days: C); paid in October by R3, while INV7
  80.00 due 2026-10-25 is 6 days overdue (C) at October's end.

Letters: September all first letters, so reminders (Alpha's tier B and Beta's tier A would
have said "second notice" and "final demand" before). October: Alpha (92 days, A) and Beta
(152 days, A) had a reminder, so a second notice; Delta had a reminder but tier C asks only
for a reminder (near miss: history alone does not escalate). November: Alpha and Beta a
final demand; Delta, nothing overdue, no letter.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from arlib import carry, pipeline
from arlib.config import load_config
from arlib.statements import write_statements
from tests.conftest import write

CUSTOMERS = (
    "customer_id,name,language\n"
    "C001,Alpha Trading Ltd,en\nC002,Beta Foods Co,en\nC003,Gamma Parts Ltd,en\n"
    "C004,Delta Tools Ltd,en\n"
)
INVOICE_HEADER = "invoice_id,customer_id,invoice_date,due_date,amount,currency,disputed\n"
RECEIPT_HEADER = "receipt_id,value_date,amount,currency,payer_name,memo\n"
DECISION_HEADER = "receipt_id,action,invoice_id,amount,who,when,why\n"
DATA = {
    "2026-09": {
        "invoices": INVOICE_HEADER
        + "INV1,C001,2026-07-01,2026-07-31,1000.00,CNY,\n"
        + "INV2,C001,2026-08-16,2026-09-15,400.00,CNY,yes\n"
        + "INV3,C002,2026-05-02,2026-06-01,2000.00,CNY,\n"
        + "INV4,C002,2026-08-21,2026-09-20,300.00,CNY,\n"
        + "INV5,C003,2026-08-30,2026-09-29,500.00,CNY,\n"
        + "INV6,C004,2026-08-21,2026-09-20,150.00,CNY,\n",
        "receipts": RECEIPT_HEADER
        + "R1,2026-09-25,100.00,CNY,Beta Foods Co,INV4\n"
        + "R2,2026-09-26,50.00,CNY,Gamma Parts Ltd,\n",
        "decisions": DECISION_HEADER + "R2,dispute,INV5,,li.wei,2026-09-30,wrong parts\n",
    },
    "2026-10": {
        "invoices": INVOICE_HEADER + "INV7,C004,2026-09-25,2026-10-25,80.00,CNY,\n",
        "receipts": RECEIPT_HEADER + "R3,2026-10-10,150.00,CNY,Delta Tools Ltd,INV6\n",
    },
    "2026-11": {
        "invoices": INVOICE_HEADER,
        "receipts": RECEIPT_HEADER + "R4,2026-11-10,80.00,CNY,Delta Tools Ltd,INV7\n",
    },
}
PREVIOUS = {"2026-09": None, "2026-10": "2026-09", "2026-11": "2026-10"}


def close(root: Path, period: str) -> pipeline.CloseResult:
    inputs = {n: f"data/{period}/{n}.csv" for n in DATA[period]}
    inputs["customers"] = "data/customers.csv"
    if PREVIOUS[period]:
        inputs["opening"] = f"outputs/{PREVIOUS[period]}/open_items.parquet"
    for name, text in DATA[period].items():
        write(root / "data" / period / f"{name}.csv", text)
    params = {
        "period": period,
        "base_currency": "CNY",
        "inputs": inputs,
        "statements": {"customers": "overdue"},
    }
    write(root / "params" / f"{period}.yaml", yaml.safe_dump(params))
    result = pipeline.close_stage(load_config(root / "params" / f"{period}.yaml"))
    out = root / "outputs" / period
    out.mkdir(parents=True)
    carry.write_open_items(result.open_items, out / "open_items.parquet", period=period)
    write_statements(result, out)
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dunning")
    write(root / "data" / "customers.csv", CUSTOMERS)
    for period in DATA:
        close(root, period)
    return root


#: what each level's shipped English letter says (arlib/templates/letter_<level>.en.j2)
WORDING = {
    "reminder": "Perhaps this has been overlooked",
    "second": "This is our second notice",
    "final": "This is our final demand",
}


def letter(project: Path, period: str, customer: str) -> str | None:
    path = project / "outputs" / period / "letters" / f"{customer}.html"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def level(page: str | None) -> str | None:
    """Which wording a letter uses (None: no letter)."""
    if page is None:
        return None
    [found] = [k for k, words in WORDING.items() if words in page]
    return found


def test_letters_escalate_by_what_was_sent_and_never_past_the_tier(project):
    got = {
        period: {c: level(letter(project, period, c)) for c in ("C001", "C002", "C003", "C004")}
        for period in DATA
    }
    assert got == {
        "2026-09": {"C001": "reminder", "C002": "reminder", "C003": None, "C004": "reminder"},
        "2026-10": {"C001": "second", "C002": "second", "C003": None, "C004": "reminder"},
        "2026-11": {"C001": "final", "C002": "final", "C003": None, "C004": None},
    }


def test_disputed_invoices_are_left_out_of_the_overdue_total(project):
    alpha = letter(project, "2026-09", "C001")
    # 1 undisputed invoice, 61 days, 1,000.00; INV2 (400.00, flagged) is named as disputed
    assert "Our records show 1 invoice(s) past due, the oldest by 61 days" in alpha
    assert "totalling CNY 1,000.00" in alpha
    assert "1 invoice(s) under dispute (CNY 400.00)" in alpha
    beta = letter(project, "2026-10", "C002")  # INV4's 200.00 short payment is still open
    assert "1 invoice(s) past due, the oldest by 152 days, totalling CNY 2,000.00" in beta
    assert "1 invoice(s) under dispute (CNY 200.00)" in beta


def test_the_statement_shows_disputed_invoices_as_under_dispute(project):
    page = (project / "outputs" / "2026-09" / "statements" / "C003.html").read_text("utf-8")
    page = page[page.index("Open items") :]  # the open items, after the period's ledger
    row = page[page.index("INV5") : page.index("</tr>", page.index("INV5"))]
    assert "Under dispute" in row
    alpha = (project / "outputs" / "2026-09" / "statements" / "C001.html").read_text("utf-8")
    alpha = alpha[alpha.index("Open items") :]
    inv1 = alpha[alpha.index("INV1") : alpha.index("</tr>", alpha.index("INV1"))]
    assert "Under dispute" not in inv1  # near miss: overdue, not disputed


def test_the_index_and_open_items_record_each_letter(project):
    import csv

    with open(project / "outputs/2026-10/statements/index.csv", encoding="utf-8") as handle:
        index = {r["customer_id"]: r for r in csv.DictReader(handle)}
    assert index["C001"]["letter_level"] == "second" and index["C003"]["letter_level"] == ""
    assert index["C003"]["under_dispute"] == "500.00"
    items = pl.read_parquet(project / "outputs" / "2026-10" / "open_items.parquet")
    sent = items.filter(pl.col("item_type") == "dunning").sort("customer_id")
    assert sent.select("customer_id", "status", "history").rows() == [
        ("C001", "second", "2026-09: reminder | 2026-10: second"),
        ("C002", "second", "2026-09: reminder | 2026-10: second"),
        ("C004", "reminder", "2026-09: reminder | 2026-10: reminder"),
    ]
