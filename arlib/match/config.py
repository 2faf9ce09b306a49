"""``matching:`` params section: the engine's settings, typed, each with its default."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

import polars as pl
from pydantic import AfterValidator, Field, field_validator, model_validator

from arlib.findings import quote
from arlib.match import templates as library
from arlib.money import to_cents
from arlib.paramtypes import (
    Days,
    Exact,
    Flag,
    Float,
    Range,
    Section,
    Text,
    Whole,
    check_places,
    choice,
    problem,
    problems_at,
)
from arlib.schema import FRAMES

#: the switches of ``matching.rules``: each turns on one or more rules of the cascade
ALL_RULES: tuple[str, ...] = (
    "credit_note",
    "manual",
    "reference",
    "exact_amount",
    "combined",
    "partial",
    "balance_forward",
    "suggestions",
)

Rule = choice(ALL_RULES, "matching rule")


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise problem(f"{quote(pattern)} is not a regular expression: {exc}") from None
    return pattern


Pattern = Annotated[Text, AfterValidator(_regex)]
Money = Annotated[Exact, Range(ge=0)]
Count = Annotated[Whole, Range(ge=0)]
Score = Annotated[Float, Range(ge=0, le=1)]
Percent = Annotated[Exact, Range(ge=0, lt=100)]


def _invoice_text_column(name: str) -> str:
    optional = FRAMES["invoices"][1]
    known = ["invoice_id", *(c for c, t in optional.items() if t == pl.String)]
    if name not in known:
        raise problem(f"{quote(name)} is no invoice text column (known: {', '.join(known)})")
    return name


InvoiceText = Annotated[Text, AfterValidator(_invoice_text_column)]


class MatchConfig(Section):
    """``matching:`` section of the params: every field has a default.

    Money fields are in the invoice's currency units; percentages are percent (``2`` =
    2 %), scores 0-1. ``preset`` and ``templates`` choose rule templates
    (``arlib/presets/``, :mod:`arlib.match.templates`), resolved before the other fields
    are read: defaults, then the preset's templates, then the extra templates, then the
    keys written here.
    """

    # -- rule templates and presets (issue 10 §3): kept as fields, so the resolved config
    # records where its settings came from
    preset: choice(library.PRESET_NAMES, "matching preset") | None = Field(
        None,
        description="a named bundle of rule templates for a kind of business (arlib "
        "templates lists them); null: the defaults below, which are preset standard",
    )
    templates: tuple[choice(library.TEMPLATE_IDS, "rule template"), ...] = Field(
        (),
        description="extra rule templates, applied in order after the preset's; any key "
        "written in matching: is applied after both",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_templates(cls, data: Any) -> Any:
        return library.resolve(data, cls)

    rules: tuple[Rule, ...] = Field(
        ALL_RULES, description="rules to run, any subset of them (the order of execution is fixed)"
    )
    reference_patterns: tuple[Pattern, ...] = Field(
        (r"(?i)(?:inv(?:oice)?|发票号?|no\.?)?[\s\-_#:：.]*\d+",),
        description="regexes whose matches in memo / bank_ref are invoice numbers (digits of "
        "each match, leading zeros stripped, are compared whole with the invoice's number); a "
        "match with letters in it (a prefix such as INV / 发票号) counts whatever its length",
    )
    reference_columns: tuple[Text, ...] = Field(
        ("memo", "bank_ref"), description="receipt columns searched for references"
    )
    invoice_key_pattern: Pattern = Field(
        r"(\d+)\D*$",
        description="regex with one group: the invoice's number inside invoice_id (default: "
        "the last digit run)",
    )
    reference_min_digits: Count = Field(
        4,
        description="bare numbers (no prefix) with fewer digits, leading zeros included, are "
        "ignored",
    )
    reference_short_own: Flag = Field(
        True,
        description="... except one stand-alone short number equal to the number of exactly "
        "one open invoice of the resolved payer's own customer (memo '556' or '556 第2期')",
    )
    invoice_reference_columns: tuple[InvoiceText, ...] = Field(
        (),
        description="invoice columns holding the customer's own reference (e.g. [po_number]): "
        "a word of memo / bank_ref equal to one of them, case aside and whole (a1b2c3 is not "
        "in xa1b2c3), names that invoice like its number does; only invoices of the payer's "
        "own customer or a related company count (an unidentified payer: when the reference "
        "belongs to one customer only). Empty: invoice numbers only",
    )
    unique_reference_only: Flag = Field(
        False,
        description="a reference (an invoice number or customer reference in the memo) that "
        "names several open invoices is never applied automatically: the receipt is left to "
        "people, with suggestions. Off: it counts as naming each of them (applied, e.g., "
        "when their open amounts add up to the receipt)",
    )
    payment_tolerance_pct: Percent = Field(
        Decimal("0"),
        description="short-payment tolerance, % of the invoice's open amount: a receipt naming "
        "the invoice (paid by its own customer or an unidentified payer) and short by at most "
        "this much, the boundary included (2 accepts 98.00 of 100.00), clears it and the "
        "shortfall is written off (kind write_off) when no rounding, discount or bank charge "
        "explains it; never an overpayment, an instalment or a keying error. 0: off",
    )
    rounding_tolerance: Money = Field(
        Decimal("0.05"),
        description="|difference| up to this is written off as rounding (either direction)",
    )
    bank_charge_max: dict[Text, Money] = Field(
        {
            "CNY": Decimal("50"),
            "USD": Decimal("50"),
            "EUR": Decimal("50"),
            "GBP": Decimal("50"),
            "HKD": Decimal("300"),
            "JPY": Decimal("5000"),
            "*": Decimal("0"),
        },
        description="short payment up to this (per currency; '*' for any other) is a "
        "bank_charge; no more decimals than the currency has",
    )
    bank_charge_whole_units: Flag = Field(
        True,
        description="without a reference, a shortfall is a bank charge only in whole currency "
        "units (banks charge 15.00, not 13.47: among a customer's many open invoices one is "
        "within the cap of almost any amount by chance)",
    )
    bank_charge_max_pct: Money = Field(
        Decimal("10"),
        description="... and at most this % of the invoice's open amount (a larger shortfall "
        "is a partial payment, not a fee; the sample's bank charges reach 6.7 % of small EUR "
        "invoices)",
    )
    fx_tolerance_pct: Money = Field(
        Decimal("2"),
        description="cross-currency reference match: converted amount within this % of the "
        "open amount",
    )
    fx_max_rate_age_days: Days = Field(
        7,
        description="use the latest fx rate on or before the value date, at most this many "
        "days old",
    )
    date_window_days: Days = Field(
        180,
        description="without a reference, a near amount (exact_amount.tolerance / .fx) or an "
        "instalment goes only to an invoice dated at most this many days before the value date "
        "(an exact amount is applied however old, its reason saying so) ...",
    )
    date_window_prepay_days: Days = Field(
        30, description="... and at most this many days after it (prepayment)"
    )
    combined_max_invoices: Annotated[Whole, Range(ge=2)] = Field(
        5, description="combined: most invoices one receipt may clear"
    )
    combined_max_candidates: Count = Field(
        40,
        description="combined: open invoices considered per receipt (referenced first, then "
        "oldest)",
    )
    combined_max_nodes: Annotated[Whole, Range(ge=1)] = Field(
        2_000, description="combined: search nodes per receipt (deterministic bound)"
    )
    fuzzy_auto_threshold: Score = Field(
        0.85, description="payer fuzzy match accepted as the payer at or above this score ..."
    )
    fuzzy_margin: Score = Field(
        0.05, description="... when it beats the next customer by this margin"
    )
    fuzzy_suggest_threshold: Score = Field(
        0.75, description="below auto but at or above this: candidate payer, suggestions only"
    )
    # payer candidates (issue 10 §2.4, §2.5): a name several customers share, a fuzzy name
    # near several, the customer's name in the memo of a bank line without payer name
    payer_max_candidates: Annotated[Whole, Range(ge=1)] = Field(
        8,
        description="a payer name (or memo) that fits more customers than this identifies "
        "nobody; up to it, the customers are candidates and a reference or an exact amount "
        "among their open invoices decides",
    )
    suggest_near_pct: Money = Field(
        Decimal("10"),
        description='suggestions: open amounts within this % of the receipt are "near"',
    )
    suggest_max_candidates: Count = Field(5, description="suggestions kept per receipt")

    @field_validator("bank_charge_max")
    @classmethod
    def _currency_places(cls, caps: dict[str, Decimal]) -> dict[str, Decimal]:
        return check_places(caps)

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> MatchConfig:
        if self.fuzzy_suggest_threshold > self.fuzzy_auto_threshold:
            above = f"must not be above fuzzy_auto_threshold ({self.fuzzy_auto_threshold})"
            message = f"{self.fuzzy_suggest_threshold} {above}"
            raise problems_at("matching", [(("fuzzy_suggest_threshold",), message)])
        return self

    def bank_charge_cents(self, currency: str) -> int:
        m = self.bank_charge_max
        return to_cents(m.get(currency, m.get("*", Decimal(0))))
