"""Tie-out of the sub-ledger's net AR to the GL control balance, with hand-computed cases."""

import dataclasses
from decimal import Decimal
from types import SimpleNamespace

import polars as pl
import pytest

from arlib.config import load_config
from arlib.pipeline import tie_out
from arlib.schema import MONEY
from tests.conftest import ROOT

D = Decimal


def review(journal_rows):
    aging = SimpleNamespace(
        total_outstanding=D("1000.00"),
        unapplied=pl.DataFrame({"unapplied_base": [D("150.00")]}, schema={"unapplied_base": MONEY}),
        credits=pl.DataFrame(schema={"open_amount_base": MONEY}),
    )
    journal = pl.DataFrame(
        journal_rows,
        schema={"account": pl.String, "debit": MONEY, "credit": MONEY},
        orient="row",
    )
    return SimpleNamespace(aging=aging, journal=journal)


@pytest.fixture
def config():
    return load_config(ROOT / "params" / "2026-09.yaml")


def test_without_gl_balance_the_tie_out_is_not_performed(config):
    tie = tie_out(config, review([]))
    assert tie["net_ar_base"] == D("850.00")
    assert tie["difference"] is None
    assert tie["status"].startswith("not performed")


def test_gl_equal_to_net_ar_ties(config):
    tie = tie_out(dataclasses.replace(config, gl_control_balance=D("850.00")), review([]))
    assert tie["difference"] == 0
    assert tie["status"] == "ties"


def test_difference_explained_by_unbooked_bank_charge(config):
    # GL still carries a 20.00 bank charge that the sub-ledger wrote off (proposed, not booked)
    rows = [("6603", D("20.00"), D("0.00")), ("1122", D("0.00"), D("20.00"))]
    tie = tie_out(dataclasses.replace(config, gl_control_balance=D("870.00")), review(rows))
    assert tie["difference"] == D("20.00")
    assert tie["explained_by_proposed_adjustments"] == D("20.00")
    assert tie["unexplained"] == 0
    assert tie["status"] == "ties after the proposed adjustments"


def test_unexplained_difference_is_flagged(config):
    rows = [("6603", D("20.00"), D("0.00")), ("1122", D("0.00"), D("20.00"))]
    tie = tie_out(dataclasses.replace(config, gl_control_balance=D("900.01")), review(rows))
    assert tie["unexplained"] == D("30.01")
    assert tie["status"] == "DIFFERENCE"
