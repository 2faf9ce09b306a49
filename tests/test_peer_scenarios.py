"""Peer scenarios: matching cases other reconciliation projects test, restated as facts in
``../shared/fixtures/peer-scenarios`` (README.md says what each expects), one test each.

A scenario names its setting by meaning ("a 2 % payment tolerance"); :data:`SETTINGS` is the
one place where each meaning becomes this engine's params. Every scenario runs with only
its setting on: bank-charge and rounding write-offs are off (:data:`SETTINGS`
``only_the_named_setting``) so that a shortfall the setting does not cover stays open.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.ledger import WRITE_OFF_KINDS, inv, rec, run

SCENARIOS = Path(__file__).parents[1].parent / "shared" / "fixtures" / "peer-scenarios"

VALUE = object()  # stands for the scenario's own value of the setting

# named setting -> (where it goes, {param: value}); "customers" are columns of the paying
# customer's master data, "matching" are MatchConfig params (docs/params-defaults.yaml).
SETTINGS: dict[str, tuple[str, dict]] = {
    # "2/10 net 30": the customer's early-payment terms
    "payment_terms": ("customers", {"discount_terms": VALUE}),
    # a short payment up to this % of the invoice's open amount is written off
    "payment_tolerance_pct": ("matching", {"payment_tolerance_pct": VALUE}),
    # a reference that fits several invoices is not applied, only suggested
    "unique_reference_only": ("matching", {"unique_reference_only": VALUE}),
    # an invoice's po_number (the customer's own reference) is a reference a memo may carry,
    # on whenever a scenario's invoices have one (invoice numbers are references anyway)
    "po_number": ("matching", {"invoice_reference_columns": ("po_number",)}),
    # in every scenario: no write-off the scenario does not name
    "only_the_named_setting": (
        "matching",
        {"bank_charge_max": {"*": "0"}, "rounding_tolerance": "0"},
    ),
}

# scenario id -> why it fails yet (a strict xfail: it must fail for that reason); none now
XFAIL: dict[str, str] = {}


def load() -> dict:
    return yaml.safe_load((SCENARIOS / "scenarios.yaml").read_text(encoding="utf-8"))


def params(scenario) -> list:
    return [
        pytest.param(
            s,
            id=s["id"],
            marks=[pytest.mark.xfail(strict=True, reason=XFAIL[s["id"]])]
            if s["id"] in XFAIL
            else [],
        )
        for s in scenario["scenarios"]
    ]


DATA = load()


def settings_of(scenario) -> tuple[dict, dict]:
    """(customer columns, MatchConfig params) for a scenario, from :data:`SETTINGS`."""
    named = dict(scenario["settings"])
    if any(row[5] for row in scenario["invoices"]):
        named["po_number"] = True
    named["only_the_named_setting"] = True
    customer, matching = {}, {}
    for name, value in named.items():
        where, mapping = SETTINGS[name]
        target = customer if where == "customers" else matching
        target |= {k: value if v is VALUE else v for k, v in mapping.items()}
    return customer, matching


def run_scenario(s):
    customer, matching = settings_of(s)
    customers = [{"customer_id": k, "name": v, **customer} for k, v in DATA["customers"].items()]
    invoices = [
        inv(iid, cust, amount, date=date, due=due, ccy="EUR", po_number=po or None)
        for iid, cust, date, due, amount, po in s["invoices"]
    ]
    receipts = [
        rec(rid, amount, payer, memo or None, date=date, ccy="EUR")
        for rid, date, amount, payer, memo in s["receipts"]
    ]
    # the fixture shows credits negative; the canonical credit_notes are positive amounts
    credits = [
        {"credit_id": cid, "customer_id": cust, "date": date, "amount": abs(D(amount))}
        for cid, cust, date, amount in s.get("credit_notes", [])
    ]
    return run(invoices, receipts, customers, credits or None, base="EUR", **matching)


def by(rows, key, value, keep) -> dict:
    out: dict = defaultdict(lambda: D(0))
    for r in rows:
        if keep(r):
            out[r[key]] += r[value]
    return dict(out)


@pytest.mark.parametrize("s", params(DATA))
def test_peer_scenario(s):
    res = run_scenario(s)
    expect = s["expect"]
    rows = list(res.allocations.iter_rows(named=True))

    if expect.get("auto") is False:
        automatic = [r for r in rows if r["rule"] != "manual"]
        assert automatic == []
        for rid, *_ in s["receipts"]:
            assert res.suggestions.filter(pl.col("receipt_id") == rid).height > 0, rid
        return

    cash = defaultdict(dict)
    for r in rows:
        if r["kind"] == "cash":
            cash[r["receipt_id"]][r["invoice_id"]] = (
                cash[r["receipt_id"]].get(r["invoice_id"], D(0)) + r["applied_amount"]
            )
    expected_cash = {
        rid: {iid: D(a) for iid, a in per.items()} for rid, per in expect["allocations"].items()
    }
    assert dict(cash) == expected_cash

    written_off = by(rows, "invoice_id", "applied_amount", lambda r: r["kind"] in WRITE_OFF_KINDS)
    assert written_off == {iid: D(a) for iid, a in expect.get("write_offs", {}).items()}
    assert {r["kind"] for r in rows} <= {"cash", "credit_note", *WRITE_OFF_KINDS}

    credited = by(rows, "invoice_id", "applied_amount", lambda r: r["kind"] == "credit_note")
    assert credited == {iid: D(a) for iid, a in expect.get("credits_applied", {}).items()}

    open_amounts = dict(res.invoices.select("invoice_id", "open_amount").iter_rows())
    for iid, amount in expect.get("open", {}).items():
        assert open_amounts[iid] == D(amount), iid

    unapplied = dict(res.receipts.select("receipt_id", "unapplied").iter_rows())
    for rid, _, amount, *_ in s["receipts"]:
        left = D(amount) - sum(expected_cash.get(rid, {}).values(), D(0))
        assert unapplied[rid] == D(expect.get("unapplied", {}).get(rid, left)), rid
