"""Expected credit loss on trade receivables (IFRS 9 simplified approach, 坏账准备).

Why a provision matrix: IFRS 9 lets trade receivables without a significant financing
component use lifetime expected losses from a matrix of loss rates per aging bucket. The
rates are a judgement the entity documents, so they live in params; this stage only
applies them to the aging, exactly: each bucket's provision is its outstanding (base
currency) × rate, rounded half-up to the cent, and the total is the sum of the rounded
bucket provisions, so the workpaper foots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

from arlib.aging import fmt_money, round_money, to_decimal
from arlib.schema import MONEY

DEFAULT_LOSS_RATES = {
    "not_due": Decimal("0.005"),
    "1-30": Decimal("0.02"),
    "31-60": Decimal("0.05"),
    "61-90": Decimal("0.10"),
    "91-180": Decimal("0.25"),
    ">180": Decimal("0.50"),
    "invalid_date": Decimal("1.00"),
}


@dataclass(frozen=True)
class ProvisionConfig:
    """``provision:`` section of the params.

    - ``loss_rates``: loss rate (a fraction, 0.02 = 2 %) per aging bucket label; every
      bucket in the aging must have one. Default not_due 0.5 %, 1-30 2 %, 31-60 5 %,
      61-90 10 %, 91-180 25 %, >180 50 %, invalid_date 100 %.
    """

    loss_rates: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_LOSS_RATES))

    def __post_init__(self) -> None:
        rates = {str(k): to_decimal(v) for k, v in self.loss_rates.items()}
        bad = [k for k, v in rates.items() if not Decimal(0) <= v <= Decimal(1)]
        if bad:
            raise ValueError(f"provision.loss_rates must be between 0 and 1: {bad}")
        object.__setattr__(self, "loss_rates", rates)


@dataclass(frozen=True)
class ProvisionResult:
    """``matrix``: bucket, outstanding, loss_rate, provision, computation (one row per
    bucket in rate order); totals; ``movement`` = total − opening provision (the charge
    to post, positive = increase)."""

    matrix: pl.DataFrame
    total_outstanding: Decimal
    total_provision: Decimal
    opening_provision: Decimal
    movement: Decimal


def expected_credit_loss(
    aging_detail: pl.DataFrame,
    config: ProvisionConfig | None = None,
    opening_provision: Decimal | int | str = Decimal("0.00"),
) -> ProvisionResult:
    """Apply the provision matrix to :attr:`arlib.aging.AgingResult.detail`.

    Raises ``ValueError`` if the aging has a bucket without a loss rate (a params error).
    """
    config = config or ProvisionConfig()
    rates = config.loss_rates
    missing = sorted(set(aging_detail["bucket"].unique().to_list()) - set(rates))
    if missing:
        raise ValueError(f"provision.loss_rates has no rate for aging bucket(s) {missing}")
    sums = {
        b: v
        for b, v in aging_detail.group_by("bucket")
        .agg(pl.col("open_amount_base").sum())
        .iter_rows()
    }
    rows = []
    for bucket, rate in rates.items():
        outstanding = sums.get(bucket, Decimal("0.00"))
        provision = round_money(outstanding * rate)
        rows.append(
            {
                "bucket": bucket,
                "outstanding": outstanding,
                "loss_rate": rate,
                "provision": provision,
                "computation": f"{fmt_money(outstanding)} × {rate * 100:.2f}% = "
                f"{fmt_money(provision)} (half-up to the cent)",
            }
        )
    matrix = pl.DataFrame(
        rows,
        schema={
            "bucket": pl.String,
            "outstanding": MONEY,
            "loss_rate": pl.Decimal(38, 4),
            "provision": MONEY,
            "computation": pl.String,
        },
    )
    total_out = sum(matrix["outstanding"].to_list(), Decimal("0.00"))
    total = sum(matrix["provision"].to_list(), Decimal("0.00"))
    opening = round_money(to_decimal(opening_provision))
    return ProvisionResult(matrix, total_out, total, opening, total - opening)
