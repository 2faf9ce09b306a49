"""IFRS 9 provision matrix: hand-computed per-bucket provisions, half-up to the cent."""

from __future__ import annotations

from decimal import Decimal as D

import polars as pl
import pytest

from arlib.provision import ProvisionConfig, expected_credit_loss
from arlib.schema import MONEY


def detail(pairs):
    return pl.DataFrame(
        {"bucket": [b for b, _ in pairs], "open_amount_base": [D(a) for _, a in pairs]},
        schema={"bucket": pl.String, "open_amount_base": MONEY},
    )


def test_default_matrix_hand_computed():
    d = detail(
        [
            ("not_due", "10000.00"),  # × 0.5 % = 50.00
            ("1-30", "1234.56"),  # × 2 % = 24.6912 -> 24.69
            ("31-60", "100.10"),  # × 5 % = 5.005 -> 5.01 (half-up)
            ("61-90", "0.05"),  # × 10 % = 0.005 -> 0.01
            ("91-180", "400.00"),  # × 25 % = 100.00
            (">180", "300.00"),
            (">180", "33.33"),  # 333.33 × 50 % = 166.665 -> 166.67
            ("invalid_date", "12.34"),  # × 100 %
        ]
    )
    res = expected_credit_loss(d)
    got = dict(zip(res.matrix["bucket"], res.matrix["provision"], strict=True))
    assert got == {
        "not_due": D("50.00"),
        "1-30": D("24.69"),
        "31-60": D("5.01"),
        "61-90": D("0.01"),
        "91-180": D("100.00"),
        ">180": D("166.67"),
        "invalid_date": D("12.34"),
    }
    assert res.total_provision == D("358.72")
    assert res.total_outstanding == D("12080.38")
    assert res.matrix["provision"].sum() == res.total_provision
    assert res.movement == D("358.72")


def test_movement_against_opening_and_custom_rates():
    cfg = ProvisionConfig(loss_rates={"not_due": 0.01, "late": "0.5"})
    res = expected_credit_loss(detail([("late", "100.00")]), cfg, opening_provision="80")
    assert res.total_provision == D("50.00")
    assert res.movement == D("-30.00")
    assert res.matrix["bucket"].to_list() == ["not_due", "late"]


def test_bucket_without_rate_is_an_error():
    with pytest.raises(ValueError, match="no rate"):
        expected_credit_loss(detail([("weird", "1.00")]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        ProvisionConfig(loss_rates={"x": 2})
