"""Expected credit loss on trade receivables (IFRS 9 simplified approach, 坏账准备).

Why a provision matrix: IFRS 9 lets trade receivables without a significant financing
component use lifetime expected losses from a matrix of loss rates per aging bucket. The
rates are a judgement the entity documents, so they live in params; this stage only
applies them to the aging, exactly: each bucket's provision is its outstanding (base
currency) × rate, rounded half-up to the cent, and the total is the sum of the rounded
bucket provisions, so the workpaper foots.

Why the opening provision matters: the matrix gives the provision the balance sheet should
carry at the period end (坏账准备 closing balance). The ledger already carries the one
booked at the previous period end, so only the difference, closing − opening, is the charge
(or release) to propose; proposing the closing balance every month would book the provision
again each month. The closing provision therefore travels with the open items to the next
close (see :mod:`arlib.carry`), and :func:`opening_provision` decides what the next close
starts from.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

import polars as pl
from pydantic import AfterValidator, Field

from arlib import findings as fnd
from arlib.money import fmt_money, fmt_percent, round_money
from arlib.paramtypes import Exact, Range, Section, Text, problem, shown
from arlib.schema import FRACTION, MONEY

DEFAULT_LOSS_RATES = {
    "not_due": Decimal("0.005"),
    "1-30": Decimal("0.02"),
    "31-60": Decimal("0.05"),
    "61-90": Decimal("0.10"),
    "91-180": Decimal("0.25"),
    ">180": Decimal("0.50"),
    "invalid_date": Decimal("1.00"),
}


def _six_places(rate: Decimal) -> Decimal:
    # the matrix holds rates as FRACTION (6 decimals): a finer rate would be shown cut
    if -rate.normalize().as_tuple().exponent > 6:
        raise problem(f"{shown(rate)} has more than 6 decimals")
    return rate


LossRate = Annotated[Exact, Range(ge=0, le=1), AfterValidator(_six_places)]


class ProvisionConfig(Section):
    """``provision:`` section of the params."""

    loss_rates: dict[Text, LossRate] = Field(
        DEFAULT_LOSS_RATES,
        description="loss rate (a fraction, 0.02 = 2 %, at most 6 decimals) per aging bucket "
        "label; every bucket of the aging needs one. Default not_due 0.5 %, 1-30 2 %, 31-60 "
        "5 %, 61-90 10 %, 91-180 25 %, >180 50 %, invalid_date 100 %",
    )
    opening_provision: Annotated[Exact, Range(ge=0)] | None = Field(
        None,
        description="the provision booked at the previous period end, in base currency, for a "
        "close that has no previous close to read it from (the first close, or an opening "
        "file written before arlib recorded it). Default none: the previous close's open "
        "items say what it was, and a first close starts from 0. When both say, they must "
        "agree to the cent, or the close stops with a provision_mismatch error naming both "
        "figures: a second source that disagrees is a question for a person, not something "
        "to settle by precedence",
    )


@dataclass(frozen=True)
class OpeningProvision:
    """The provision at the start of the period (base currency) and where that figure
    comes from, so the workpapers can say why the charge is what it is."""

    amount: Decimal
    source: str


FIRST_CLOSE = OpeningProvision(Decimal("0.00"), "first close: none")


def opening_provision(
    configured: Decimal | None, recorded: Decimal | None, *, opening_file: str | None
) -> tuple[OpeningProvision, list[fnd.Finding]]:
    """The opening provision from ``provision.opening_provision`` (``configured``) and the
    closing provision the previous close recorded in its open items (``recorded``).

    ``opening_file`` is the opening input as shown to the user (None: no previous close).
    A disagreement is an error finding; an opening file that records no provision, with
    none in params, is a warning and the close starts from 0 (the charge is then the
    whole provision: the warning says so).
    """
    key = "provision.opening_provision"
    if opening_file is None or recorded is None:
        if configured is not None:
            return OpeningProvision(round_money(configured), f"given in params ({key})"), []
        if opening_file is None:
            return FIRST_CLOSE, []
        return OpeningProvision(
            Decimal("0.00"), f"none recorded in {opening_file}: taken as 0.00"
        ), [
            fnd.warning(
                opening_file,
                None,
                None,
                None,
                "no_opening_provision",
                "the previous close's open items record no closing provision (written by an "
                "earlier arlib), so the whole provision is proposed as this period's charge; "
                f"set {key} to the provision booked at the previous period end",
            )
        ]
    found = OpeningProvision(
        round_money(recorded), f"recorded by the previous close in {opening_file}"
    )
    if configured is None or round_money(configured) == found.amount:
        return found, []
    return found, [
        fnd.error(
            opening_file,
            None,
            None,
            str(recorded),
            "provision_mismatch",
            f"the previous close recorded a closing provision of {fmt_money(recorded)}, but "
            f"{key} in params is {fmt_money(configured)}: they must agree (remove {key} "
            "to start from the previous close's figure, or correct it)",
        )
    ]


@dataclass(frozen=True)
class ProvisionResult:
    """``matrix``: bucket, outstanding, loss_rate, provision, computation (one row per
    bucket in rate order); totals (``total_provision`` is the closing provision);
    ``movement`` = closing − opening provision (the charge to propose, negative = a
    release); ``opening_source`` says where the opening figure came from."""

    matrix: pl.DataFrame
    total_outstanding: Decimal
    total_provision: Decimal
    opening_provision: Decimal
    movement: Decimal
    opening_source: str


def expected_credit_loss(
    aging_detail: pl.DataFrame,
    config: ProvisionConfig | None = None,
    opening: OpeningProvision = FIRST_CLOSE,
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
                "computation": f"{fmt_money(outstanding)} × {fmt_percent(rate)} = "
                f"{fmt_money(provision)} (half-up to the cent)",
            }
        )
    matrix = pl.DataFrame(
        rows,
        schema={
            "bucket": pl.String,
            "outstanding": MONEY,
            "loss_rate": FRACTION,
            "provision": MONEY,
            "computation": pl.String,
        },
    )
    total_out = sum(matrix["outstanding"].to_list(), Decimal("0.00"))
    total = sum(matrix["provision"].to_list(), Decimal("0.00"))
    start = round_money(opening.amount)
    return ProvisionResult(matrix, total_out, total, start, total - start, opening.source)


def movement_lines(provided: ProvisionResult) -> pl.DataFrame:
    """Opening + charge = closing, as the notebook and workpaper AR-8 show it."""
    return pl.DataFrame(
        {
            "line": [
                "Opening provision",
                "+ Charge for the period (closing − opening; negative: a release), AR-7",
                "= Closing provision (matrix, AR-8.1)",
            ],
            "amount": [provided.opening_provision, provided.movement, provided.total_provision],
            "note": [
                provided.opening_source,
                "impairment 信用减值损失 against the allowance 坏账准备",
                "per aging bucket: base outstanding × loss rate, half-up to the cent",
            ],
        },
        schema={"line": pl.String, "amount": MONEY, "note": pl.String},
    )
