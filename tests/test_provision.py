"""IFRS 9 provision matrix: hand-computed per-bucket provisions, half-up to the cent."""

from __future__ import annotations

from decimal import Decimal as D

import polars as pl
import pytest

from arlib.provision import (
    OpeningProvision,
    ProvisionConfig,
    expected_credit_loss,
    movement_lines,
    opening_provision,
)
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
    res = expected_credit_loss(detail([("late", "100.00")]), cfg, OpeningProvision(D("80"), "x"))
    assert res.total_provision == D("50.00")
    assert res.movement == D("-30.00")
    assert res.matrix["bucket"].to_list() == ["not_due", "late"]


def test_bucket_without_rate_is_an_error():
    with pytest.raises(ValueError, match="no rate"):
        expected_credit_loss(detail([("weird", "1.00")]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        ProvisionConfig(loss_rates={"x": 2})


# ------------------------------------------------------------ opening provision and movement
def test_movement_lines_opening_charge_closing():
    opening = OpeningProvision(D("400.00"), "recorded by the previous close in o.parquet")
    res = expected_credit_loss(
        detail([("not_due", "10000.00"), ("1-30", "1234.56")]), None, opening
    )
    assert res.total_provision == D("74.69")  # 50.00 + 24.69, as in the hand-computed matrix
    assert (res.opening_provision, res.movement) == (D("400.00"), D("-325.31"))  # a release
    assert res.opening_source == opening.source
    lines = movement_lines(res)
    assert lines["amount"].to_list() == [D("400.00"), D("-325.31"), D("74.69")]
    assert lines["line"][0].startswith("Opening provision")
    assert lines["note"][0] == opening.source


@pytest.mark.parametrize(
    ("configured", "recorded", "opening_file", "amount", "source", "rule"),
    [
        (None, None, None, "0.00", "first close: none", None),
        ("1200.50", None, None, "1200.50", "given in params (provision.opening_provision)", None),
        (
            None,
            "431659.19",
            "o.parquet",
            "431659.19",
            "recorded by the previous close in o.parquet",
            None,
        ),
        (
            "431659.19",
            "431659.19",
            "o.parquet",
            "431659.19",
            "recorded by the previous close in o.parquet",
            None,
        ),
        (
            "100.00",
            None,
            "o.parquet",
            "100.00",
            "given in params (provision.opening_provision)",
            None,
        ),
        (None, None, "o.parquet", "0.00", "none recorded", "no_opening_provision"),
        ("431659.18", "431659.19", "o.parquet", "431659.19", "", "provision_mismatch"),
    ],
)
def test_opening_provision_from_params_or_the_previous_close(
    configured, recorded, opening_file, amount, source, rule
):
    got, problems = opening_provision(
        None if configured is None else D(configured),
        None if recorded is None else D(recorded),
        opening_file=opening_file,
    )
    assert got.amount == D(amount)
    assert source in got.source
    assert [p.rule for p in problems] == ([rule] if rule else [])
    if rule == "provision_mismatch":
        assert problems[0].severity == "error" and problems[0].file == "o.parquet"
        assert "431,659.19" in problems[0].message and "431,659.18" in problems[0].message
    if rule == "no_opening_provision":
        assert problems[0].severity == "warning"


def test_opening_provision_in_params_must_be_a_non_negative_amount():
    with pytest.raises(ValueError, match="opening_provision"):
        ProvisionConfig(opening_provision=D("-1.00"))
    assert ProvisionConfig(opening_provision="12.30").opening_provision == D("12.30")


def test_closing_provision_travels_in_the_open_items(tmp_path):
    import polars as pl

    from arlib import carry

    path = tmp_path / "open_items.parquet"
    items = carry.empty_open_items()
    carry.write_open_items(items, path, period="2026-09", provision=D("12.30"), base_currency="CNY")
    assert carry.recorded_provision(path, "o.parquet", "CNY") == (D("12.30"), [])
    amount, problems = carry.recorded_provision(path, "o.parquet", "USD")
    assert amount is None and [p.rule for p in problems] == ["wrong_currency"]
    carry.write_open_items(items, path, period="2026-09")  # an earlier arlib recorded none
    assert carry.recorded_provision(path, "o.parquet", "CNY") == (None, [])
    meta = {carry.KIND_KEY: carry.OPEN_ITEMS_KIND, carry.PROVISION_KEY: "twelve"}
    items.write_parquet(path, metadata=meta)
    amount, problems = carry.recorded_provision(path, "o.parquet", "CNY")
    assert amount is None and [p.rule for p in problems] == ["bad_value"]
    assert pl.read_parquet_metadata(path)[carry.PROVISION_KEY] == "twelve"


def test_loss_rates_shown_as_the_percentages_they_are():
    cfg = ProvisionConfig(loss_rates={"not_due": "0.00125"})
    res = expected_credit_loss(detail([("not_due", "10000.00")]), cfg)
    assert res.matrix["loss_rate"].to_list() == [D("0.00125")]  # not cut to 0.0012
    assert res.matrix["computation"][0] == "10,000.00 × 0.125 % = 12.50 (half-up to the cent)"
    with pytest.raises(ValueError, match="more than 6 decimals"):
        ProvisionConfig(loss_rates={"not_due": "0.0000001"})
