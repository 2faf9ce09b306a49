"""The engine's shape: rules as declared data, one checked Ledger, rule_id on every row."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from decimal import Decimal as D

import polars as pl
import pytest

from arlib.match import CASCADE, LedgerError, MatchConfig, match
from arlib.match.cascade import Proposal, Receipts, Rule, proposal_rows
from arlib.match.config import ALL_RULES
from arlib.match.frames import ALLOCATION_ROWS
from arlib.match.ledger import Ledger
from tests.conftest import ROOT
from tests.test_match import CUSTOMERS, OCT1, OCT5, frame, inv, rec, run


def ledger_of(invoices: list[tuple[str, int]], receipts: list[tuple[str, int]]) -> Ledger:
    """A ledger over invoices and receipts given as (id, cents)."""
    inv_frame = pl.DataFrame(
        {
            "inv_idx": list(range(len(invoices))),
            "invoice_id": [i for i, _ in invoices],
            "customer_id": ["C1"] * len(invoices),
            "currency": ["CNY"] * len(invoices),
            "invoice_date": [OCT1] * len(invoices),
            "amt_c": [c for _, c in invoices],
            "start_c": [c for _, c in invoices],
        },
        schema_overrides={"inv_idx": pl.Int64, "amt_c": pl.Int64, "start_c": pl.Int64},
    )
    rec_frame = pl.DataFrame(
        {
            "rec_idx": list(range(len(receipts))),
            "receipt_id": [r for r, _ in receipts],
            "amt_c": [c for _, c in receipts],
            "origin": [None] * len(receipts),
        },
        schema_overrides={"rec_idx": pl.Int64, "amt_c": pl.Int64, "origin": pl.String},
    )
    return Ledger(inv_frame, rec_frame)


def allocation(ri, ii, kind, applied, received) -> pl.DataFrame:
    """One allocation row (ALLOCATION_ROWS) of a toy rule."""
    row = {
        "receipt_id": "R", "rec_idx": ri, "inv_idx": ii, "kind": kind, "applied_c": applied,
        "receipt_c": received, "rule": "toy", "rule_id": "toy.rule", "confidence": 1.0,
        "reason": "why", "flags": "",
    }  # fmt: skip
    return pl.DataFrame([row], schema=ALLOCATION_ROWS)


def test_ledger_apply_moves_balances_and_refuses_over_application():
    ledger = ledger_of([("I1", 10_000)], [("R1", 12_000)])
    ledger.apply(allocation(0, 0, "cash", 6_000, 6_000), "toy")
    assert ledger.inv_open.tolist() == [4_000] and ledger.rec_rem.tolist() == [6_000]
    with pytest.raises(
        LedgerError, match=r"invoice I1 is open 40\.00; the rule would clear 60\.00"
    ):
        ledger.apply(allocation(0, 0, "cash", 6_000, 6_000), "toy")
    # nothing moved on the refused proposal
    assert ledger.inv_open.tolist() == [4_000] and ledger.rec_rem.tolist() == [6_000]


def test_ledger_refuses_spending_a_receipt_twice():
    ledger = ledger_of([("I1", 10_000), ("I2", 10_000)], [("R1", 10_000)])
    ledger.apply(allocation(0, 0, "cash", 10_000, 10_000), "toy")
    with pytest.raises(LedgerError, match=r"receipt R1 has 0\.00 left; the rule would spend"):
        ledger.apply(allocation(0, 1, "cash", 10_000, 10_000), "toy")


def test_ledger_refuses_a_write_off_that_takes_cash_and_an_unknown_kind():
    ledger = ledger_of([("I1", 10_000)], [("R1", 10_000)])
    with pytest.raises(LedgerError, match="write-off rows take no cash"):
        ledger.apply(allocation(0, 0, "bank_charge", 100, 100), "toy")
    with pytest.raises(LedgerError, match="unknown allocation kind 'gift'"):
        ledger.apply(allocation(0, 0, "gift", 100, 0), "toy")


def test_ledger_refuses_a_receipt_under_peoples_control():
    ledger = ledger_of([("I1", 10_000)], [("R1", 10_000)])
    ledger.lock([0])
    with pytest.raises(LedgerError, match="under people's control"):
        ledger.apply(allocation(0, 0, "cash", 10_000, 10_000), "toy")
    ledger.apply(allocation(0, 0, "cash", 10_000, 10_000), "manual", locked_ok=True)
    assert ledger.inv_open.tolist() == [0]


def test_ledger_verify_proves_conservation_and_names_what_does_not_add_up():
    ledger = ledger_of([("I1", 10_000), ("I2", 5_000)], [("R1", 12_000), ("R2", 3_000)])
    ledger.apply(allocation(0, 0, "cash", 10_000, 10_000), "toy")
    ledger.apply(allocation(0, 1, "cash", 2_000, 2_000), "toy")
    ledger.apply(allocation(None, 1, "credit_note", 1_000, 0), "toy")
    assert ledger.verify().height == 3  # I2: 5,000 = 2,000 + 1,000 + 2,000 open
    ledger.inv_open[1] += 1  # a balance that moved outside apply(): a cent appears
    with pytest.raises(LedgerError, match="invoice I2: allocations do not conserve"):
        ledger.verify()
    ledger.inv_open[1] -= 1
    ledger.rec_rem[1] -= 1  # R2 was never used, yet a cent of it is gone
    with pytest.raises(LedgerError, match="receipt R2: allocations do not conserve"):
        ledger.verify()


def test_ledger_checks_hold_under_python_dash_o():
    """Money invariants are raise statements: ``python -O`` strips asserts, not these."""
    code = (
        "from tests.test_match_cascade import ledger_of, allocation\n"
        "from arlib.match import LedgerError\n"
        "l = ledger_of([('I1', 100)], [('R1', 500)])\n"
        "try:\n    l.apply(allocation(0, 0, 'cash', 500, 500), 'toy')\n"
        "except LedgerError:\n    print('refused')\n"
    )
    out = subprocess.run(
        [sys.executable, "-O", "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "refused"


def test_every_allocation_row_names_a_declared_sub_rule():
    declared = {sub for rule in CASCADE for sub in rule.confidence}
    res = run(
        [inv("INV0000001", "C4", "100.00"), inv("INV0000002", "C1", "250.00")],
        [rec("R1", "100.00", "Delta Foods"), rec("R2", "250.00", "Acme Trading", "INV0000002")],
    )
    got = dict(zip(res.allocations["receipt_id"], res.allocations["rule_id"], strict=True))
    assert got == {"R1": "exact_amount.unique", "R2": "reference.exact"}
    assert set(res.allocations["rule_id"]) <= declared


def test_rule_ids_name_the_write_off_and_the_instalment():
    res = run(
        [inv("INV0000001", "C4", "1000.00"), inv("INV0000002", "C4", "900.00")],
        [
            rec("R1", "985.00", "Delta Foods", "INV0000001"),
            rec("R2", "300.00", "Delta Foods", "INV0000002"),
            rec("R3", "600.00", "Delta Foods", date=OCT5.replace(day=9)),
        ],
    )
    ids = {(r, k): i for r, k, i in res.allocations.select("receipt_id", "kind", "rule_id").rows()}
    assert ids[("R1", "cash")] == ids[("R1", "bank_charge")] == "reference.bank_charge"
    assert ids[("R2", "cash")] == "partial.named"
    assert ids[("R3", "cash")] == "instalment.last"  # 600.00 is exactly the open rest


def test_every_switch_turns_on_some_rule_and_ids_are_unique():
    ids = [rule.id for rule in CASCADE]
    assert len(ids) == len(set(ids))
    assert {rule.switch for rule in CASCADE if rule.switch} == set(ALL_RULES)
    for rule in CASCADE:
        for name in rule.settings:
            assert name in MatchConfig.model_fields, (rule.id, name)


def toy_rule(ctx, receipts) -> Proposal:
    """Applies every untouched receipt of payer 'Acme' to invoice 0, in full."""
    rows = [
        (
            n,
            0,
            r["value_date"],
            r["receipt_id"],
            r["rec_idx"],
            0,
            "cash",
            r["amt_c"],
            r["amt_c"],
            "toy",
            "toy.everything",
            "a test rule",
            "",
        )  # fmt: skip
        for n, r in enumerate(receipts.iter_rows(named=True))
    ]
    return Proposal(rows=proposal_rows(rows))


TOY = Rule(
    id="toy",
    switch=None,
    description="a rule a newcomer adds: one module and one line in the cascade",
    receipts=Receipts(payer=True),
    propose=toy_rule,
    ties="unique",
    confidence={"toy.everything": 0.5},
)


def test_a_new_rule_is_one_declaration_and_the_cascade_applies_selection_and_checks():
    """The cascade, not the rule, selects receipts (payer known), resolves ties (two
    receipts proposing the same invoice: the earlier value date wins) and scales the
    confidence by a fuzzy payer's score; the ledger refuses what does not fit."""
    invoices = frame("invoices", [inv("INV0000001", "C4", "500.00")])
    receipts = frame(
        "receipts",
        [
            rec("R1", "200.00", "Delta Foods", date=OCT5),
            rec("R2", "100.00", "Delta Foods", date=OCT1),
            rec("R3", "50.00", "nobody we know"),
        ],
    )
    res = match(
        invoices, receipts, frame("customers", CUSTOMERS), cascade=(TOY,), config=MatchConfig()
    )
    a = res.allocations
    assert a.select("receipt_id", "applied_amount", "rule_id", "confidence").rows() == [
        ("R2", D("100.00"), "toy.everything", 0.5)
    ]
    too_big = dataclasses.replace(TOY, ties="in_order")
    with pytest.raises(LedgerError, match="invoice INV0000001 is open 500.00"):
        big = frame("receipts", [rec("R1", "600.00", "Delta Foods")])
        match(invoices, big, frame("customers", CUSTOMERS), cascade=(too_big,))


def test_arlib_rules_prints_the_cascade_with_effective_settings(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text(
        "period: 2026-10\ninputs: {invoices: nowhere.csv, receipts: x.csv, customers: y.csv}\n"
        "matching:\n  rules: [reference, exact_amount]\n  date_window_days: 365\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, "-m", "arlib.cli", "rules", "--params", str(params)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    order = [m[1] for m in re.finditer(r"(?m)^\s*\d+\. (\S+)", out)]
    assert order == [rule.id for rule in CASCADE]
    assert "exact_amount  [switch exact_amount: on]" in out
    assert "combined  [switch combined: OFF]" in out
    assert "date_window_days = 365" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("period: 2026-10\nmatching: {date_window_days: -3}\n", encoding="utf-8")
    failed = subprocess.run(
        [sys.executable, "-m", "arlib.cli", "rules", "--params", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2 and "matching.date_window_days" in failed.stderr + failed.stdout
    assert "Traceback" not in failed.stderr


def test_suggestions_of_equal_standing_are_ranked_the_same_in_any_input_order():
    """Ties are broken by explicit keys, never by input order: two suggestions of the same
    receipt, invoice, score and rule (memo and bank reference naming the same invoice) keep
    the same one, by reason text."""
    from arlib.match.frames import SUGGESTION_ROWS
    from arlib.match.rules.suggestions import ranked

    def one(reason: str, invoice: str = "I1", score: float = 0.4) -> tuple:
        return (0, 0, "C1", invoice, 100, score, "reference", reason)

    rows = [one("bank_ref 'I1' names invoice I1"), one("memo 'I1' names invoice I1"),
            one("near", "I2", 0.3), one("better", "I3", 0.5)]  # fmt: skip
    outcomes = set()
    for order in (rows, rows[::-1], rows[1:] + rows[:1]):
        parts = [pl.DataFrame([r], schema=SUGGESTION_ROWS, orient="row") for r in order]
        out = ranked(parts, MatchConfig())
        outcomes.add(tuple(out.select("invoice_ids", "rank", "reason").iter_rows()))
    assert outcomes == {
        (("I3", 1, "better"), ("I1", 2, "bank_ref 'I1' names invoice I1"), ("I2", 3, "near"))
    }
