"""The cash bridge on a tiny hand-made ledger: every line computed by hand.

Receipts R1–R3 arrive on this period's statement in CNY, R0 is unapplied CNY cash carried
in from the previous close. R1 pays a USD invoice in CNY (a cross-currency payment), R2
pays a CNY invoice exactly, R0 and R3 name nobody and stay unapplied.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import polars as pl

from arlib.pipeline import CASH_BRIDGE_LINES, cash_bridge
from tests.test_match import FX, inv, rec, run

LINES = [key for key, _ in CASH_BRIDGE_LINES]


def ledger():
    invoices = [inv("INV0000200", "C4", "1000.00", ccy="USD"), inv("INV0000100", "C1", "5000.00")]
    receipts = [
        rec("R0", "200.00", "Unknown Trader"),
        rec("R1", "7150.00", "Delta Foods", "INV0000200"),
        rec("R2", "5000.00", "Acme Trading", "INV0000100"),
        rec("R3", "300.00", "Someone Else"),
    ]
    result = run(invoices, receipts, fx=FX)
    origin = (
        pl.when(pl.col("receipt_id") == "R0").then(pl.lit("opening")).otherwise(pl.lit("period"))
    )
    return dataclasses.replace(
        result,
        receipts=result.receipts.with_columns(origin.alias("origin")),
        invoices=result.invoices.with_columns(pl.lit("period").alias("origin")),
    )


def lines(bridge: pl.DataFrame, currency: str) -> list[D]:
    return bridge.filter(pl.col("currency") == currency)["amount"].to_list()


def test_every_line_by_hand_with_a_cross_currency_payment():
    result = ledger()
    cash = result.allocations.filter(pl.col("kind") == "cash")
    # the engine applied CNY 7,150.00 as USD 1,007.04 (rate 7.10) and R2 in full
    assert sorted(cash.select("receipt_id", "applied_amount", "currency").rows()) == [
        ("R1", D("1007.04"), "USD"),
        ("R2", D("5000.00"), "CNY"),
    ]
    bridge = cash_bridge(result)
    assert bridge["currency"].unique(maintain_order=True).to_list() == ["CNY", "USD"]
    assert bridge.filter(pl.col("currency") == "CNY")["line"].to_list() == [
        label for _, label in CASH_BRIDGE_LINES
    ]
    cny = dict(zip(LINES, lines(bridge, "CNY"), strict=True))
    assert cny == {
        "received": D("12450.00"),  # 7,150.00 + 5,000.00 + 300.00
        "carried_in": D("200.00"),  # R0
        "available": D("12650.00"),
        "left_partial": D("0.00"),
        "left_suggested": D("0.00"),
        "left_unapplied": D("500.00"),  # R0 200.00 + R3 300.00
        "left_dispute": D("0.00"),
        "left_not_ar": D("0.00"),
        "applied_from": D("12150.00"),  # 12,650.00 − 500.00
        "to_other": D("7150.00"),  # R1, as received
        "from_other": D("0.00"),
        "applied_to": D("5000.00"),  # 12,150.00 − 7,150.00
        "rollforward": D("5000.00"),  # R2 on INV0000100
        "difference": D("0.00"),
    }
    usd = dict(zip(LINES, lines(bridge, "USD"), strict=True))
    assert usd == {key: D("0.00") for key in LINES} | {
        "from_other": D("1007.04"),  # R1 in the invoice's currency
        "applied_to": D("1007.04"),
        "rollforward": D("1007.04"),
    }


def test_a_cash_row_the_receipts_do_not_account_for_shows_as_a_difference():
    result = ledger()
    extra = result.allocations.filter(pl.col("receipt_id") == "R2").with_columns(
        pl.lit("R9").alias("receipt_id")
    )  # 5,000.00 applied from a receipt that is not on any statement
    broken = dataclasses.replace(result, allocations=pl.concat([result.allocations, extra]))
    cny = dict(zip(LINES, lines(cash_bridge(broken), "CNY"), strict=True))
    assert (cny["applied_to"], cny["rollforward"]) == (D("5000.00"), D("10000.00"))
    assert cny["difference"] == D("5000.00")
