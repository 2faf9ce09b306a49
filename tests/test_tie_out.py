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


def review(journal_rows, credit_notes=()):
    aging = SimpleNamespace(
        total_outstanding=D("1000.00"),
        unapplied=pl.DataFrame({"unapplied_base": [D("150.00")]}, schema={"unapplied_base": MONEY}),
        credits=pl.DataFrame(schema={"open_amount_base": MONEY}),
        unapplied_credit_notes=pl.DataFrame(
            {"unapplied_base": list(credit_notes)}, schema={"unapplied_base": MONEY}
        ),
    )
    journal = pl.DataFrame(
        journal_rows,
        schema={"account": pl.String, "debit": MONEY, "credit": MONEY, "in_subledger": pl.Boolean},
        orient="row",
    )
    return SimpleNamespace(aging=aging, journal=journal)


def with_gl(config, balance):
    """``config`` with another ``gl_control_balance`` (params are frozen: a copy)."""
    params = config.params.model_copy(update={"gl_control_balance": balance})
    return dataclasses.replace(config, params=params)


@pytest.fixture
def config():
    """The sample's config without its GL balance: each test sets the one it needs."""
    return with_gl(load_config(ROOT / "params" / "2026-09.yaml"), None)


def test_without_gl_balance_the_tie_out_is_not_performed(config):
    tie = tie_out(config, review([]))
    assert tie["net_ar_base"] == D("850.00")
    assert tie["difference"] is None
    assert tie["status"] == "not performed"


def test_unapplied_credit_notes_come_off_net_ar(config):
    # 1,000.00 open − 150.00 unapplied cash − (40.00 + 10.00) unapplied credit notes = 800.00
    tie = tie_out(with_gl(config, D("800.00")), review([], [D("40.00"), D("10.00")]))
    assert tie["unapplied_credit_notes_base"] == D("50.00")
    assert (tie["net_ar_base"], tie["status"]) == (D("800.00"), "ties")
    near = tie_out(with_gl(config, D("850.00")), review([], [D("40.00"), D("10.00")]))
    assert (near["difference"], near["status"]) == (D("50.00"), "difference")


def test_gl_equal_to_net_ar_ties(config):
    tie = tie_out(with_gl(config, D("850.00")), review([]))
    assert tie["difference"] == 0
    assert tie["status"] == "ties"


def test_difference_explained_by_unbooked_bank_charge(config):
    # GL still carries a 20.00 bank charge that the sub-ledger wrote off (proposed, not booked)
    rows = [("6603", D("20.00"), D("0.00"), True), ("1122", D("0.00"), D("20.00"), True)]
    tie = tie_out(with_gl(config, D("870.00")), review(rows))
    assert tie["difference"] == D("20.00")
    assert tie["explained_by_proposed_adjustments"] == D("20.00")
    assert tie["unexplained"] == 0
    assert tie["status"] == "ties after adjustments"


def test_residual_write_off_is_no_difference_between_gl_and_sub_ledger(config):
    # a 0.04 short payment still open in the sub-ledger (and in the GL): writing it off is
    # proposed, but until then both carry it, so it explains nothing
    rows = [("6711", D("0.04"), D("0.00"), False), ("1122", D("0.00"), D("0.04"), False)]
    tie = tie_out(with_gl(config, D("850.00")), review(rows))
    assert tie["explained_by_proposed_adjustments"] == 0
    assert (tie["difference"], tie["unexplained"], tie["status"]) == (0, 0, "ties")


def test_unexplained_difference_is_flagged(config):
    rows = [("6603", D("20.00"), D("0.00"), True), ("1122", D("0.00"), D("20.00"), True)]
    tie = tie_out(with_gl(config, D("900.01")), review(rows))
    assert tie["unexplained"] == D("30.01")
    assert tie["status"] == "difference"


@pytest.mark.parametrize(
    ("gl", "rows", "expected"),
    [
        (
            None,
            [],
            "GL tie-out: not performed (no gl_control_balance in params); net AR per "
            "sub-ledger ¥850.00.",
        ),
        (
            "850.00",
            [],
            "GL tie-out: ties. GL control balance ¥850.00 = net AR per sub-ledger ¥850.00.",
        ),
        (
            "870.00",
            [("1122", D("0.00"), D("20.00"), True)],
            "GL tie-out: ties after adjustments. GL control balance ¥870.00 − net AR per "
            "sub-ledger ¥850.00 = ¥20.00, all of it write-offs made by matching that the "
            "proposed adjustments (AR-7) book.",
        ),
        (
            "900.01",
            [("1122", D("0.00"), D("20.00"), True)],
            "GL tie-out: difference. GL control balance ¥900.01 − net AR per sub-ledger "
            "¥850.00 = ¥50.01; write-offs made by matching, proposed in AR-7, explain ¥20.00; "
            "¥30.01 is unexplained: investigate before sign-off.",
        ),
    ],
)
def test_one_sentence_per_status_from_the_figures_or_their_json(config, gl, rows, expected):
    import json

    from pydantic_core import to_jsonable_python

    from arlib.notebook import tie_out_sentence

    given = None if gl is None else D(gl)
    tie = tie_out(with_gl(config, given), review(rows))
    assert tie_out_sentence(tie) == expected
    manifest = json.loads(json.dumps(to_jsonable_python(tie)))  # as a manifest holds it
    assert tie_out_sentence(manifest) == expected


def test_a_status_outside_the_set_is_refused(config):
    from arlib.notebook import tie_out_sentence

    tie = tie_out(config, review([])) | {"status": "DIFFERENCE"}
    with pytest.raises(ValueError, match="unknown tie-out status"):
        tie_out_sentence(tie)
