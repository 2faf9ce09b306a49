"""A credit note that nets no invoice stays visible until it does: listed, raised, carried.

Two small closes with hand-known stories (CNY, one rate):

- September. Alpha (C001) owes INV1 1,000.00 and was given CN1 200.00 naming no invoice; it
  pays nothing this month, so CN1 nets nothing: unapplied 200.00. Beta (C002) owes INV2
  500.00 and INV3 50.00; CN2 150.00 names INV2 and is netted in full (the near miss: nothing
  left), CN3 80.00 names INV3 and nets only its 50.00 (30.00 left).
  CN4 60.00 names no invoice of Beta and is left whole.
  Sub-ledger: open invoices 1,000.00 + 350.00 = 1,350.00; unapplied credit notes 290.00;
  net AR 1,060.00. Credit notes: issued 490.00 = applied 200.00 + left unapplied 290.00.
- October. Alpha pays R1 800.00 naming INV1: with the carried CN1 (200.00) that is INV1
  exactly, so CN1 is netted and its exception resolved. CN3's 30.00 is still unapplied:
  the same exception, a period older. Credit notes: carried in 230.00 = applied 200.00 +
  left unapplied 30.00. CN4 60.00 (Beta, naming no invoice) is left too; an October
  ``resolve`` decision records that it was refunded: it leaves AR (not carried, not taken
  off net AR again) and the bridge shows it as taken out by a decision.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest
import yaml

from arlib import carry, pipeline
from arlib.config import load_config
from tests.conftest import write

CUSTOMERS = "customer_id,name\nC001,Alpha Trading Ltd\nC002,Beta Foods Co\n"
INVOICE_HEADER = "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
RECEIPT_HEADER = "receipt_id,value_date,amount,currency,payer_name,memo\n"
CREDIT_HEADER = "credit_id,customer_id,date,amount,currency,invoice_id,reason\n"
DATA = {
    "2026-09": {
        "invoices": INVOICE_HEADER
        + "INV1,C001,2026-09-01,2026-09-30,1000.00,CNY\n"
        + "INV2,C002,2026-09-02,2026-10-02,500.00,CNY\n"
        + "INV3,C002,2026-09-03,2026-10-03,50.00,CNY\n",
        "receipts": RECEIPT_HEADER,
        "credit_notes": CREDIT_HEADER
        + "CN1,C001,2026-09-20,200.00,CNY,,volume rebate\n"
        + "CN2,C002,2026-09-21,150.00,CNY,INV2,goods returned\n"
        + "CN3,C002,2026-09-22,80.00,CNY,INV3,price correction\n"
        + "CN4,C002,2026-09-23,60.00,CNY,,late delivery\n",
    },
    "2026-10": {
        "invoices": INVOICE_HEADER,
        "receipts": RECEIPT_HEADER + "R1,2026-10-08,800.00,CNY,Alpha Trading Ltd,INV1\n",
        "credit_notes": CREDIT_HEADER,
        "decisions": "receipt_id,action,invoice_id,amount,who,when,why,owner,exception_id\n"
        + "CN4,resolve,,,zhang.min,2026-10-31,refunded to the customer by transfer,,\n",
    },
}


def params(root: Path, period: str, previous: str | None) -> Path:
    inputs = {name: f"data/{period}/{name}.csv" for name in DATA[period]}
    inputs["customers"] = "data/customers.csv"
    if previous:
        inputs["opening"] = f"outputs/{previous}/open_items.parquet"
    path = root / "params" / f"{period}.yaml"
    write(path, yaml.safe_dump({"period": period, "base_currency": "CNY", "inputs": inputs}))
    return path


def close(root: Path, period: str, previous: str | None) -> pipeline.CloseResult:
    for name, text in DATA[period].items():
        write(root / "data" / period / f"{name}.csv", text)
    result = pipeline.close_stage(load_config(params(root, period, previous)))
    out = root / "outputs" / period
    out.mkdir(parents=True, exist_ok=True)
    carry.write_open_items(result.open_items, out / "open_items.parquet", period=period)
    return result


@pytest.fixture(scope="module")
def closes(tmp_path_factory) -> dict[str, pipeline.CloseResult]:
    root = tmp_path_factory.mktemp("credit_notes")
    write(root / "data" / "customers.csv", CUSTOMERS)
    return {
        "2026-09": close(root, "2026-09", None),
        "2026-10": close(root, "2026-10", "2026-09"),
    }


def unapplied(result) -> dict[str, D]:
    cn = result.match.credit_notes
    return dict(cn.filter(pl.col("unapplied") > 0).select("credit_id", "unapplied").iter_rows())


def raised(result) -> dict[str, dict]:
    ex = result.review.exceptions.filter(pl.col("type") == "unapplied_credit_note")
    return {r["receipt_id"]: r for r in ex.to_dicts()}


def test_september_leaves_two_credit_notes_unapplied(closes):
    assert unapplied(closes["2026-09"]) == {
        "CN1": D("200.00"),
        "CN3": D("30.00"),
        "CN4": D("60.00"),
    }


def test_each_unapplied_credit_note_is_an_open_process_gap_naming_it(closes):
    got = raised(closes["2026-09"])
    assert sorted(got) == ["CN1", "CN3", "CN4"]  # CN2 netted in full: nothing to raise
    cn1, cn3 = got["CN1"], got["CN3"]
    assert (cn1["class"], cn1["status"], cn1["amount"], cn1["customer_id"]) == (
        "process_gap",
        "open",
        D("200.00"),
        "C001",
    )
    assert cn1["invoice_id"] is None and "names no invoice" in cn1["evidence"]
    assert cn3["amount"] == D("30.00") and cn3["invoice_id"] == "INV3"
    assert "80.00" in cn3["evidence"] and "50.00" in cn3["evidence"]


def test_the_tie_out_takes_unapplied_credit_notes_off_net_ar(closes):
    tie = closes["2026-09"].tie_out
    assert tie["closing_ar_base"] == D("1350.00")
    assert tie["unapplied_credit_notes_base"] == D("290.00")
    assert tie["net_ar_base"] == D("1060.00")
    keys = [k for k, _ in pipeline.TIE_OUT_LINES]
    assert keys.index("unapplied_credit_notes_base") < keys.index("net_ar_base")


def test_aging_by_customer_nets_them(closes):
    by = closes["2026-09"].review.aging.by_customer
    rows = {r["customer_id"]: r for r in by.to_dicts()}
    assert rows["C001"]["unapplied_credit_notes"] == D("200.00")
    assert rows["C001"]["net_balance"] == D("800.00")
    assert rows["C002"]["unapplied_credit_notes"] == D("90.00")
    assert rows["C002"]["net_balance"] == D("260.00")


def bridge(result) -> dict[str, D]:
    frame = result.credit_note_bridge.filter(pl.col("currency") == "CNY")
    labels = {label: key for key, label in pipeline.CREDIT_NOTE_BRIDGE_LINES}
    return {labels[line]: amount for line, amount in frame.select("line", "amount").iter_rows()}


def test_the_credit_note_bridge_ties_issued_to_the_rollforward(closes):
    sep, oct_ = bridge(closes["2026-09"]), bridge(closes["2026-10"])
    assert (sep["issued"], sep["carried_in"], sep["left_unapplied"], sep["taken_out"]) == (
        D("490.00"),
        D("0.00"),
        D("290.00"),
        D("0.00"),
    )
    assert sep["applied"] == sep["rollforward"] == D("200.00") and sep["difference"] == 0
    assert (oct_["issued"], oct_["carried_in"], oct_["left_unapplied"], oct_["taken_out"]) == (
        D("0.00"),
        D("290.00"),
        D("30.00"),
        D("60.00"),
    )
    assert oct_["applied"] == oct_["rollforward"] == D("200.00") and oct_["difference"] == 0


def test_unapplied_credit_notes_are_carried_at_what_is_left(closes):
    items = closes["2026-09"].open_items.filter(pl.col("item_type") == "credit_note")
    got = {r["item_id"]: (r["amount"], r["open_amount"], r["invoice_id"]) for r in items.to_dicts()}
    assert got == {
        "CN1": (D("200.00"), D("200.00"), None),
        "CN3": (D("80.00"), D("30.00"), "INV3"),
        "CN4": (D("60.00"), D("60.00"), None),
    }


def test_october_nets_the_carried_credit_note_and_resolves_its_exception(closes):
    oct_ = closes["2026-10"]
    inv1 = oct_.match.invoices.filter(pl.col("invoice_id") == "INV1")
    assert inv1["open_amount"].item() == D("0.00")
    netted = oct_.match.allocations.filter(pl.col("receipt_id") == "CN1")
    assert netted.select("invoice_id", "kind", "applied_amount").rows() == [
        ("INV1", "credit_note", D("200.00"))
    ]
    # matching nets neither CN3 nor CN4 (the decision on CN4 acts on the close, below)
    assert unapplied(oct_) == {"CN3": D("30.00"), "CN4": D("60.00")}
    got = raised(oct_)
    sep = raised(closes["2026-09"])
    assert got["CN1"]["status"] == "resolved"
    assert "CN1" in got["CN1"]["resolution"] and "INV1" in got["CN1"]["resolution"]
    assert (got["CN3"]["status"], got["CN3"]["age_periods"]) == ("open", 1)
    assert got["CN3"]["exception_id"] == sep["CN3"]["exception_id"]
    left = oct_.open_items.filter(pl.col("item_type") == "credit_note")
    assert left["item_id"].to_list() == ["CN3"]


def test_a_resolve_decision_takes_a_refunded_credit_note_out_of_ar(closes):
    oct_ = closes["2026-10"]
    got = raised(oct_)["CN4"]
    assert got["status"] == "resolved"
    assert got["resolution"] == (
        "decision by zhang.min on 2026-10-31: refunded to the customer by transfer"
    )
    # not listed as unapplied at close, not taken off net AR, not carried
    listed = oct_.review.aging.unapplied_credit_notes["credit_id"].to_list()
    assert listed == ["CN3"]
    assert oct_.tie_out["unapplied_credit_notes_base"] == D("30.00")
    assert "CN4" not in oct_.open_items["item_id"].to_list()
    assert oct_.review.credit_notes.filter(pl.col("credit_id") == "CN4")["status"].item() == (
        "taken_out"
    )
