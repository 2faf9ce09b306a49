"""Open exceptions carry from close to close until a recorded resolution closes them.

Three small closes (September, October, November) with hand-known stories:

- INV1 (1,000.00) is paid 600.00 in September: a short payment, still open in October and
  November (no payment), assigned to li.wei by an October decision.
- INV4 (700.00) is paid 200.00 in September; October's R11 pays the rest 500.00 by
  reference: resolved by that match.
- INV5 (900.00) is paid 100.00 in September; an October ``resolve`` decision closes it
  (the invoice itself stays open in AR).
- R2 (300.00, an unknown payer) is unidentified in September; an October ``not_ar``
  decision takes it out of AR: resolved by that decision.
- R6 (1,450.00 from Alpha naming INV7 of 1,000.00) overpays in September; in October the
  450.00 left is carried in and read again: the same exception, whatever its new type.
- R7 (120.00 from Beta) is held by a September ``dispute`` decision against INV9: the
  dispute carries (the receipt stays held) until November's ``match`` decision applies it.

Near misses: INV6 has no exception, so ``resolve`` of it changes nothing (a warning); an
``assign`` without an owner is an error before anything runs.
"""

from __future__ import annotations

import csv
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest
import yaml

from arlib import carry, pipeline
from arlib.config import load_config
from arlib.load import load_period
from tests.conftest import write

CUSTOMERS = "customer_id,name\nC001,Alpha Trading Ltd\nC002,Beta Foods Co\n"
INVOICE_HEADER = "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
RECEIPT_HEADER = "receipt_id,value_date,amount,currency,payer_name,memo\n"
DECISION_HEADER = "receipt_id,action,invoice_id,amount,who,when,why,owner,exception_id\n"
DATA = {
    "2026-09": {
        "invoices": INVOICE_HEADER
        + "INV1,C001,2026-09-01,2026-09-30,1000.00,CNY\n"
        + "INV4,C001,2026-09-02,2026-10-02,700.00,CNY\n"
        + "INV5,C002,2026-09-03,2026-10-03,900.00,CNY\n"
        + "INV7,C001,2026-09-04,2026-10-04,1000.00,CNY\n"
        + "INV9,C002,2026-09-05,2026-10-05,300.00,CNY\n",
        "receipts": RECEIPT_HEADER
        + "R1,2026-09-10,600.00,CNY,Alpha Trading Ltd,INV1\n"
        + "R2,2026-09-11,300.00,CNY,Unknown Holdings,\n"
        + "R4,2026-09-12,200.00,CNY,Alpha Trading Ltd,INV4\n"
        + "R5,2026-09-13,100.00,CNY,Beta Foods Co,INV5\n"
        + "R6,2026-09-14,1450.00,CNY,Alpha Trading Ltd,INV7\n"
        + "R7,2026-09-15,120.00,CNY,Beta Foods Co,\n",
        "decisions": DECISION_HEADER
        + "R7,dispute,INV9,,zhang.min,2026-09-30,goods returned damaged,,\n",
    },
    "2026-10": {
        "invoices": INVOICE_HEADER + "INV6,C002,2026-10-05,2026-11-04,250.00,CNY\n",
        "receipts": RECEIPT_HEADER + "R11,2026-10-08,500.00,CNY,Alpha Trading Ltd,INV4\n",
        "decisions": DECISION_HEADER
        + ",assign,INV1,,zhang.min,2026-10-31,chasing the customer,li.wei,\n"
        + ",resolve,INV5,,zhang.min,2026-10-31,customer agreed to pay in November,,\n"
        + "R2,not_ar,,,zhang.min,2026-10-31,bank interest refund,,\n"
        + ",resolve,INV6,,zhang.min,2026-10-31,nothing to resolve,,\n",
    },
    "2026-11": {
        "invoices": INVOICE_HEADER + "INV8,C002,2026-11-05,2026-12-05,80.00,CNY\n",
        "receipts": RECEIPT_HEADER,
        "decisions": DECISION_HEADER
        + "R7,match,INV9,120.00,zhang.min,2026-11-30,credit agreed; pays the rest,,\n",
    },
}


def params(root: Path, period: str, previous: str | None) -> Path:
    inputs = {
        "invoices": f"data/{period}/invoices.csv",
        "receipts": f"data/{period}/receipts.csv",
        "customers": "data/customers.csv",
    }
    if previous:
        inputs["opening"] = f"outputs/{previous}/open_items.parquet"
    if "decisions" in DATA[period]:
        inputs["decisions"] = f"data/{period}/decisions.csv"
    path = root / "params" / f"{period}.yaml"
    write(path, yaml.safe_dump({"period": period, "base_currency": "CNY", "inputs": inputs}))
    return path


def close(root: Path, period: str, previous: str | None) -> pipeline.CloseResult:
    """One close without notebooks; its open items are written where the next one reads."""
    for name, text in DATA[period].items():
        write(root / "data" / period / f"{name}.csv", text)
    result = pipeline.close_stage(load_config(params(root, period, previous)))
    out = root / "outputs" / period
    out.mkdir(parents=True, exist_ok=True)
    carry.write_open_items(result.open_items, out / "open_items.parquet", period=period)
    pipeline.write_reconcile_outputs(result.match, out, result.findings)
    return result


@pytest.fixture(scope="module")
def closes(tmp_path_factory) -> dict[str, pipeline.CloseResult]:
    root = tmp_path_factory.mktemp("carry")
    write(root / "data" / "customers.csv", CUSTOMERS)
    return {
        "2026-09": close(root, "2026-09", None),
        "2026-10": close(root, "2026-10", "2026-09"),
        "2026-11": close(root, "2026-11", "2026-10"),
    }


def rows(result: pipeline.CloseResult) -> dict[str, dict]:
    """Exceptions of a close by the receipt or invoice they are about (their key's id)."""
    return {r["key"].split(":")[2]: r for r in result.review.exceptions.to_dicts()}


def test_september_raises_each_story(closes):
    sep = rows(closes["2026-09"])
    assert {k: (r["type"], r["amount"]) for k, r in sep.items() if k not in ("R6", "R7")} == {
        "INV1": ("short_payment", D("400.00")),
        "INV4": ("short_payment", D("500.00")),
        "INV5": ("short_payment", D("800.00")),
        "R2": ("unidentified_receipt", D("300.00")),
    }
    assert (sep["R6"]["type"], sep["R6"]["amount"]) == ("overpayment", D("450.00"))
    assert (sep["R7"]["type"], sep["R7"]["invoice_id"]) == ("disputed_invoice", "INV9")
    for r in sep.values():
        assert (r["first_seen"], r["age_periods"], r["owner"]) == ("2026-09", 0, "unassigned")
        assert r["status"] == "open" and r["resolution"] is None


def test_an_open_short_payment_is_carried_with_its_first_seen_owner_and_history(closes):
    sep, oct_, nov = (rows(closes[p]) for p in ("2026-09", "2026-10", "2026-11"))
    for got, age in ((oct_["INV1"], 1), (nov["INV1"], 2)):
        assert got["exception_id"] == sep["INV1"]["exception_id"]  # one id across periods
        assert (got["type"], got["status"], got["amount"]) == ("short_payment", "open", D("400.00"))
        assert (got["first_seen"], got["age_periods"], got["owner"]) == ("2026-09", age, "li.wei")
    events = nov["INV1"]["history"].split(" | ")
    assert [e[:7] for e in events] == ["2026-09", "2026-10", "2026-10", "2026-11"]
    assert "li.wei" in events[2] and "zhang.min" in events[2]


def test_a_match_that_clears_the_invoice_resolves_it(closes):
    got = rows(closes["2026-10"])["INV4"]
    assert (got["status"], got["first_seen"], got["age_periods"]) == ("resolved", "2026-09", 1)
    assert "R11" in got["resolution"] and "reference" in got["resolution"]
    assert got["resolution"] in got["history"].split(" | ")[-1]


def test_decisions_resolve_with_who_when_and_why(closes):
    oct_ = rows(closes["2026-10"])
    assert (oct_["INV5"]["status"], oct_["INV5"]["resolution"]) == (
        "resolved",
        "decision by zhang.min on 2026-10-31: customer agreed to pay in November",
    )
    assert oct_["R2"]["resolution"] == (
        "decision by zhang.min on 2026-10-31: receipt R2 is not AR (bank interest refund)"
    )
    # the invoice itself stays open in AR: only the exception is closed
    open_inv = closes["2026-10"].match.invoices.filter(pl.col("invoice_id") == "INV5")
    assert open_inv["open_amount"].item() == D("800.00")


def test_cash_read_again_keeps_its_exception(closes):
    sep, oct_ = rows(closes["2026-09"])["R6"], rows(closes["2026-10"])["R6"]
    assert oct_["exception_id"] == sep["exception_id"]
    assert (oct_["type"], oct_["first_seen"], oct_["status"], oct_["amount"]) == (
        "unidentified_receipt",
        "2026-09",
        "open",
        D("450.00"),
    )
    assert oct_["history"].split(" | ") == [
        "2026-09: open as overpayment",
        "2026-10: open as unidentified_receipt",
    ]
    assert (
        sum(1 for r in closes["2026-10"].review.exceptions.to_dicts() if r["receipt_id"] == "R6")
        == 1
    )


def test_only_open_exceptions_are_carried_on(closes):
    items = closes["2026-10"].open_items.filter(pl.col("item_type") == "exception")
    assert sorted(items["invoice_id"].drop_nulls().to_list()) == ["INV1", "INV9"]
    assert sorted(items["receipt_id"].to_list()) == ["R1", "R6", "R7"]
    assert set(items["owner"].to_list()) == {"li.wei", "unassigned"}


def test_cash_taken_out_of_ar_is_not_carried_again(closes):
    """R2 was decided not AR in October: it is no cash of November (near miss: R6, still
    unapplied, is)."""
    cash = closes["2026-10"].open_items.filter(pl.col("item_type") == "unapplied_cash")
    assert sorted(cash["item_id"].to_list()) == ["R6", "R7"]
    assert "R2" not in closes["2026-11"].review.exceptions["receipt_id"].to_list()


def test_a_dispute_holds_its_receipt_until_a_decision_replaces_it(closes):
    sep, oct_, nov = (rows(closes[p])["R7"] for p in ("2026-09", "2026-10", "2026-11"))
    october = closes["2026-10"].match.receipts.filter(pl.col("receipt_id") == "R7")
    assert october["status"].item() == "dispute"  # held again without a new decision
    assert (oct_["exception_id"], oct_["status"], oct_["age_periods"]) == (
        sep["exception_id"],
        "open",
        1,
    )
    assert oct_["invoice_id"] == "INV9"
    assert nov["status"] == "resolved"
    assert nov["resolution"] == "receipt R7 applied in full to invoice INV9 (manual)"
    assert rows(closes["2026-11"])["INV9"]["type"] == "short_payment"  # 300.00 - 120.00


def test_every_carried_exception_ends_in_the_next_exceptions_csv(closes):
    """Independent path: September's open exceptions straight from its open items, each
    found by id in October's exceptions (open or resolved)."""
    sep_ids = set(
        closes["2026-09"].open_items.filter(pl.col("item_type") == "exception")["item_id"]
    )
    oct_ids = set(closes["2026-10"].review.exceptions["exception_id"])
    assert len(sep_ids) == 6 and sep_ids <= oct_ids


def test_a_resolve_that_matches_nothing_is_a_warning_in_findings_csv(tmp_path, closes):
    found = closes["2026-10"].findings.filter(pl.col("rule") == "decision_no_exception")
    assert [(r["severity"], r["row"], r["column"], r["value"]) for r in found.to_dicts()] == [
        ("warning", 5, "invoice_id", "INV6")
    ]
    pipeline.write_reconcile_outputs(closes["2026-10"].match, tmp_path, closes["2026-10"].findings)
    with open(tmp_path / "findings.csv", encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["rule"] == "decision_no_exception"]
    assert [r["value"] for r in rows] == ["INV6"]


def test_exception_decisions_are_checked_before_the_close(tmp_path):
    write(tmp_path / "data" / "customers.csv", CUSTOMERS)
    for name, text in DATA["2026-10"].items():
        write(tmp_path / "data" / "2026-10" / f"{name}.csv", text)
    write(
        tmp_path / "data" / "2026-10" / "decisions.csv",
        DECISION_HEADER
        + ",assign,INV6,,zhang.min,2026-10-31,x,,\n"  # row 2: no owner
        + ",resolve,,,zhang.min,2026-10-31,x,,\n"  # row 3: about nothing
        + ",resolve,INV99,,zhang.min,2026-10-31,x,,\n"  # row 4: no such invoice
        + ",assign,INV6,,zhang.min,2026-10-31,x,li.wei,\n",  # row 5: near miss, fine
    )
    found = load_period(load_config(params(tmp_path, "2026-10", None))).findings
    assert [(r["severity"], r["row"], r["column"], r["rule"]) for r in found.to_dicts()] == [
        ("error", 2, "owner", "decision_without_owner"),
        ("error", 3, "invoice_id", "decision_without_subject"),
        ("error", 4, "invoice_id", "decision_unknown_invoice"),
    ]


def test_notebook_states_what_was_carried_and_how_it_ended(closes):
    from arlib.notebook import carried_prose, conclusions

    october = closes["2026-10"]
    text = carried_prose(october.review.exceptions, october.config)
    assert "6 exceptions were carried in open from earlier closes" in text
    assert "(the oldest first seen in 2026-09). 3 are resolved in this close" in text
    assert "(1 by a match or credit note clearing what they are about, 2 by a decision)" in text
    assert "3 stay open and are carried on, 1 of them with an owner" in text
    assert "every exception above is first seen" in carried_prose(
        closes["2026-09"].review.exceptions, closes["2026-09"].config
    )
    # INV1, R6 and R7, carried open; October's own data raises none
    assert "- 3 exceptions are open for follow-up" in conclusions(october)
