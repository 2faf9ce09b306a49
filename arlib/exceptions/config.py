"""The exception types, their classes and default actions, the register's columns, and the
``exceptions:`` section of the params (:class:`ExceptionConfig`)."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Annotated

import polars as pl
from pydantic import AfterValidator, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from arlib.findings import quote
from arlib.money import fmt_money, to_cents
from arlib.paramtypes import (
    Days,
    Exact,
    Range,
    Section,
    Text,
    Whole,
    check_places,
    choice,
    problem,
    shown,
)
from arlib.schema import MONEY, columns

CLASS_OF = {
    "decimal_shift": "technical_error",
    "transposition": "technical_error",
    "rounding": "technical_error",
    "duplicate_bank_line": "technical_error",
    "discount_outside_terms": "process_gap",
    "discount": "process_gap",
    "tax_difference": "process_gap",
    "bank_charge_over_tolerance": "process_gap",
    "bank_charge": "process_gap",
    "fx_difference": "process_gap",
    "write_off": "process_gap",
    "third_party_payment": "process_gap",
    "memo_conflict": "process_gap",
    "unapplied_credit_note": "process_gap",
    "short_payment": "dispute",
    "disputed_invoice": "dispute",
    "repeated_late_payment": "dispute",
    "overpayment": "unapplied_cash",
    "duplicate_payment": "unapplied_cash",
    "unidentified_receipt": "unapplied_cash",
}

DEFAULT_ACTIONS = {
    "decimal_shift": "confirm the intended amount with the customer; refund or collect the "
    "difference",
    "transposition": "confirm the amount with the customer/bank and correct the entry",
    "rounding": "write off under the small-difference threshold",
    "duplicate_bank_line": "check the bank statement import; remove the duplicate line",
    "discount_outside_terms": "reject the discount and collect the balance, or approve an "
    "exception",
    "discount": "post the discount allowed per terms",
    "tax_difference": "check the VAT invoice (发票) was received; collect the tax portion",
    "bank_charge_over_tolerance": "ask the bank/customer for the charge advice; collect or "
    "approve the write-off",
    "bank_charge": "post the bank charge to 财务费用-手续费",
    "fx_difference": "review the rate used; post FX gain/loss",
    "write_off": "post the short payment written off within the payment tolerance",
    "third_party_payment": "obtain the third-party payment agreement (三方协议) before applying",
    "memo_conflict": "confirm which invoice the customer meant (remittance advice)",
    "unapplied_credit_note": "apply it to an open invoice of the customer (a decision) or "
    "refund it; a resolve decision records which",
    "short_payment": "send a statement and ask the customer for the reason",
    "disputed_invoice": "resolve the dispute with sales; hold dunning",
    "repeated_late_payment": "review credit terms (prepayment / credit hold)",
    "overpayment": "confirm with the customer: refund or keep on account",
    "duplicate_payment": "contact the customer: refund or apply to the next invoice",
    "unidentified_receipt": "ask the bank / customers for remittance details",
}

COLUMNS = {
    "exception_id": pl.String,
    "class": pl.String,
    "type": pl.String,
    "customer_id": pl.String,
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "amount": MONEY,
    "currency": pl.String,
    "evidence": pl.String,
    "suggested_action": pl.String,
    "status": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "key": pl.String,
}

TOLERANCE_KINDS = ("bank_charge", "discount", "fx_difference", "rounding", "write_off")


Tolerance = Annotated[Exact, Range(ge=0)]
TaxRate = Annotated[Exact, Range(ge=0, lt=1)]

#: discount rates are compared as exact integers, rate × 10 ** RATE_DECIMALS
RATE_DECIMALS = 12


def _compared_exactly(rate: Decimal) -> Decimal:
    """A discount rate the checks can compare exactly, refused in the params, not later."""
    if rate != rate.quantize(Decimal(1).scaleb(-RATE_DECIMALS)):
        raise problem(
            f"{shown(rate)} has more than {RATE_DECIMALS} decimals "
            "(discount rates are compared exactly to that many)"
        )
    return rate


DiscountRate = Annotated[TaxRate, AfterValidator(_compared_exactly)]
ExceptionType = choice(tuple(CLASS_OF), "exception type")
LateUnit = choice(("invoices", "periods"), "unit")


class ExceptionConfig(Section):
    """``exceptions:`` section of the params (amounts in the item's own currency).

    The rounding, bank-charge, fx and payment tolerances are not set here: they are
    matching's (``matching.rounding_tolerance``, ``bank_charge_max``, ``fx_tolerance_pct``,
    ``payment_tolerance_pct``), copied in when the params are validated, so the two stages
    judge a difference alike."""

    rounding_tolerance: SkipJsonSchema[Tolerance] = Field(
        Decimal("0.05"),
        exclude=True,
        description="a difference up to this is rounding (set from matching.rounding_tolerance)",
    )
    shift_factors: tuple[Annotated[Whole, Range(ge=2)], ...] = Field(
        (10, 100, 1000),
        description="decimal-shift factors checked both ways (amounts are divided by them)",
    )
    tax_rates: tuple[TaxRate, ...] = Field(
        (Decimal("0.13"), Decimal("0.09"), Decimal("0.06")),
        description="VAT rates (fractions) for paid-net-of-tax checks",
    )
    tax_tolerance: Tolerance = Field(Decimal("0.02"), description="how close net-of-tax must be")
    discount_rates: tuple[DiscountRate, ...] = Field(
        (Decimal("0.01"), Decimal("0.02"), Decimal("0.03")),
        description="early-payment discounts (fractions) recognised even when not in the "
        "customer's terms",
    )
    discount_grace_days: Days = Field(0, description="days past the discount window still accepted")
    bank_charge_tolerance: SkipJsonSchema[Tolerance] = Field(
        Decimal("0"),
        exclude=True,
        description="largest bank charge in a currency not listed below (set from "
        "matching.bank_charge_max['*'])",
    )
    bank_charge_tolerance_by_currency: SkipJsonSchema[dict[Text, Tolerance]] = Field(
        exclude=True,
        default={
            "CNY": Decimal("50"),
            "USD": Decimal("50"),
            "EUR": Decimal("50"),
            "GBP": Decimal("50"),
            "HKD": Decimal("300"),
            "JPY": Decimal("5000"),
        },
        description="largest bank charge per currency (set from matching.bank_charge_max)",
    )
    fx_tolerance_pct: SkipJsonSchema[Tolerance] = Field(
        Decimal("2"),
        exclude=True,
        description="FX difference in % of the invoice accepted (set from "
        "matching.fx_tolerance_pct)",
    )
    payment_tolerance_pct: SkipJsonSchema[Tolerance] = Field(
        Decimal("0"),
        exclude=True,
        description="short payment in % of the invoice's open amount written off (set from "
        "matching.payment_tolerance_pct)",
    )
    late_min_count: Annotated[Whole, Range(ge=1)] = Field(
        3,
        description="a customer late in at least this many late_unit of the history, more "
        "than late_grace_days after due, is a repeated late payer",
    )
    late_unit: LateUnit = Field(
        "invoices", description="what late_min_count counts: invoices or periods"
    )
    late_grace_days: Days = Field(0, description="days after due before a payment is late")
    duplicate_line_keys: tuple[Text, ...] = Field(
        ("value_date", "amount", "currency", "payer_name", "memo"),
        description="receipt columns that make two bank lines the same",
    )
    actions: dict[ExceptionType, Text] = Field(
        {}, description="suggested action per exception type (overrides the built-in text)"
    )

    @field_validator("duplicate_line_keys")
    @classmethod
    def _known_receipt_columns(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        known = [c for c in columns("receipts") if c not in ("source_file", "source_row")]
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise problem(
                f"{', '.join(map(quote, unknown))} is no receipt column (known: {', '.join(known)})"
            )
        return keys

    @field_validator("bank_charge_tolerance_by_currency")
    @classmethod
    def _currency_places(cls, tolerances: dict[str, Decimal]) -> dict[str, Decimal]:
        return check_places(tolerances)

    def action(self, kind: str) -> str:
        return self.actions.get(kind, DEFAULT_ACTIONS[kind])

    def bank_charge_cents(self, currency: pl.Expr) -> pl.Expr:
        """The largest bank charge of each row's currency, in whole cents it reaches (a
        charge of integer cents is within it exactly when it is at most this)."""
        caps = self.bank_charge_tolerance_by_currency
        return currency.replace_strict(
            {k: to_cents(v, ROUND_FLOOR) for k, v in caps.items()},
            default=to_cents(self.bank_charge_tolerance, ROUND_FLOOR),
            return_dtype=pl.Int64,
        )

    def bank_charge_text(self, currency: pl.Expr) -> pl.Expr:
        """The same limit as the evidence writes it (``50.00``)."""
        return currency.replace_strict(
            {k: fmt_money(v) for k, v in self.bank_charge_tolerance_by_currency.items()},
            default=fmt_money(self.bank_charge_tolerance),
            return_dtype=pl.String,
        )

    def with_tolerances_of(self, matching) -> ExceptionConfig:
        """This section with matching's rounding, bank-charge, fx and payment tolerances, so a
        shortfall matching writes off is never over tolerance here, and one it leaves open
        is never within it."""
        caps = matching.bank_charge_max
        return self.model_copy(
            update={
                "rounding_tolerance": matching.rounding_tolerance,
                "bank_charge_tolerance": caps.get("*", Decimal(0)),
                "bank_charge_tolerance_by_currency": {k: v for k, v in caps.items() if k != "*"},
                "fx_tolerance_pct": matching.fx_tolerance_pct,
                "payment_tolerance_pct": matching.payment_tolerance_pct,
            }
        )
