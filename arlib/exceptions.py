"""Classify every residual of matching into an exception a person can act on (差异分类).

Why: matching leaves amounts it could not explain (unapplied cash, short-paid invoices,
suggestions awaiting review) and amounts it explained only by a tolerance (bank charges,
discounts, FX and rounding differences, third-party payers). An auditor needs each one
named, with the numbers that prove the name, and a next step. The checks are ordered from
the most specific (a duplicate bank line, a decimal shift) to the generic (short payment,
unidentified receipt), and each is exact: a near miss (1,000.00 vs 1,000.01 is rounding,
not a decimal shift; 1,342 vs 1,234 is not a transposition) falls through to the next.
Decimal shifts and transpositions are keying errors as :mod:`arlib.keying` defines them
(the shift factors are ``shift_factors``); customers' discount terms are read by
:mod:`arlib.terms`.

Every row has a stable ``exception_id`` (a hash of type, receipt and invoice), so a
reviewer's notes and decisions survive reruns of the same close, and a ``key`` (type and
what it is about: its receipt, its invoice, the pair or the customer) that identifies it
across closes: :func:`arlib.carry.carry_exceptions` carries open exceptions on by it.

Classes and types:

- ``technical_error``: decimal_shift, transposition, rounding, duplicate_bank_line
- ``process_gap``: discount_outside_terms, discount (within terms, not yet cleared),
  tax_difference, bank_charge_over_tolerance, bank_charge (within tolerance),
  fx_difference, write_off (a short payment within the payment tolerance),
  third_party_payment, memo_conflict
- ``dispute``: short_payment, disputed_invoice, repeated_late_payment
- ``unapplied_cash``: overpayment, duplicate_payment, unidentified_receipt

Status is ``open`` (needs a person) or ``cleared`` (a tolerance allocation inside its
tolerance: the journal proposal posts it).

Scale: the lookups are built with polars, never per row. The invoices a residual receipt may
match (decimal shift, transposition, tax, discount, bank charge) are found by equi-joins on
integer-cent keys per customer and currency (:func:`_candidate_hits`, a superset that the exact
Decimal checks then decide), duplicate payments by a join on (customer, amount), and only the
residual rows are looped over in Python, with dict lookups. The result is sorted explicitly
and does not depend on the row order of the inputs (given unique invoice and receipt ids).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Annotated

import polars as pl
from pydantic import Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from arlib.findings import quote
from arlib.keying import describe_keying_error, transpositions_expr
from arlib.kpis import HISTORY_SCHEMA, payment_history
from arlib.money import cents_expr, fmt_money, to_cents
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
)
from arlib.schema import MONEY, columns
from arlib.terms import parse_terms

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
    discount_rates: tuple[TaxRate, ...] = Field(
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


# --------------------------------------------------------------------------- pure checks
def _pct(rate: Decimal) -> str:
    """0.13 -> '13', 0.015 -> '1.5'."""
    return f"{(rate * 100).normalize():f}"


def net_of_tax(paid: Decimal, invoice: Decimal, rates, tolerance: Decimal) -> Decimal | None:
    """The VAT rate when ``paid`` ≈ ``invoice`` / (1 + rate) within ``tolerance``."""
    for rate in rates:
        if abs(paid - invoice / (1 + rate)) <= tolerance:
            return rate
    return None


def customer_discounts(text: str | None) -> list[tuple[Decimal, int]]:
    """The early-payment discounts of a customer's ``discount_terms`` as (rate, days from
    invoice date), by days: ``'2/10 net 30'`` -> ``[(0.02, 10)]``, read by
    :func:`arlib.terms.parse_terms` (text that is not terms is an error, which the
    customers check reports before matching)."""
    return list(parse_terms(text).rates)


# What an exception is about, by the family that raises it: a receipt residual is about its
# receipt, an invoice residual about its invoice (the receipts paying it change from period to
# period), a tolerance or flagged allocation about the pair, a late payer about the customer.
ABOUT = ("receipt", "invoice", "pair", "customer")


def exception_key(kind, about, receipt_id, invoice_id, customer_id) -> str:
    """``type:about:ids``, the identity of an exception across closes (``short_payment:
    invoice:INV1``): the per-period ``exception_id`` hashes the receipts too, which differ
    when an invoice short-paid in one period is paid again in the next."""
    ids = {
        "receipt": (receipt_id,),
        "invoice": (invoice_id,),
        "pair": (receipt_id, invoice_id),
        "customer": (customer_id,),
    }[about]
    return ":".join([kind, about, *(i or "" for i in ids)])


def exception_id(kind: str, receipt_id: str | None, invoice_id: str | None, extra: str = "") -> str:
    """``EX-`` + 10 hex of sha256(type|receipt_id|invoice_id[|extra]): stable across reruns."""
    key = f"{kind}|{receipt_id or ''}|{invoice_id or ''}" + (f"|{extra}" if extra else "")
    return "EX-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


# --------------------------------------------------------------------------- frame prep
# Columns the classifier reads; any an input lacks is added as nulls (as ``dict.get`` did).
_INVOICE_COLUMNS = {
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "invoice_date": pl.Date,
    "due_date": pl.Date,
    "amount": MONEY,
    "currency": pl.String,
    "tax_amount": MONEY,
    "disputed": pl.Boolean,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "applied": MONEY,
    "open_amount": MONEY,
    "status": pl.String,
}
_RECEIPT_COLUMNS = {
    "receipt_id": pl.String,
    "value_date": pl.Date,
    "amount": MONEY,
    "currency": pl.String,
    "payer_name": pl.String,
    "payer_account": pl.String,
    "memo": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "customer_id": pl.String,
    "allocated": MONEY,
    "unapplied": MONEY,
    "status": pl.String,
}
_ALLOCATION_COLUMNS = {
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "applied_amount": MONEY,
    "currency": pl.String,
    "kind": pl.String,
    "reason": pl.String,
    "flags": pl.String,
}
_SUGGESTION_COLUMNS = {
    "receipt_id": pl.String,
    "rank": pl.Int64,
    "customer_id": pl.String,
    "invoice_ids": pl.String,
    "score": pl.Float64,
    "reason": pl.String,
}
_CUSTOMER_COLUMNS = {"customer_id": pl.String, "discount_terms": pl.String}

# candidate-search tags: which check an invoice key serves (see ``_candidate_hits``)
_NEAR, _EXACT, _DISCOUNT, _CHARGE = 0, 1, 2, 3


def _complete(
    df: pl.DataFrame | None, columns: Mapping[str, pl.DataType], **defaults
) -> pl.DataFrame:
    df = pl.DataFrame(schema=dict(columns)) if df is None else df
    missing = [
        pl.lit(defaults.get(name), dtype).alias(name)
        for name, dtype in columns.items()
        if name not in df.columns
    ]
    return df.with_columns(missing) if missing else df


def _groups(rows: list[dict], key: str) -> dict[object, list[dict]]:
    out: dict[object, list[dict]] = defaultdict(list)
    for row in rows:
        out[row[key]].append(row)
    return out


def _truthy(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & (pl.col(column) != "")


def _candidate_hits(
    residual: pl.DataFrame, invoices: pl.DataFrame, config: ExceptionConfig, term_rates
) -> pl.DataFrame:
    """(``_ord``, ``_tag``, ``invoice_id``): the open invoices of a residual receipt's customer
    (same currency) that *may* pass a check, found by equi-joins on integer-cent keys.

    A superset: the exact Decimal checks (``pattern``, ``discount_on_receipt``,
    ``charge_on_receipt``) still decide, on these pairs only. Tags:

    - ``_NEAR``: the receipt is within ``near`` cents of an invoice key (rounding, tax, ÷ shift),
      compared by bucket (key // near, the receipt's bucket ± 1).
    - ``_EXACT``: the invoice amount equals receipt ÷ factor (× shift) or a transposition.
    - ``_DISCOUNT``: within ``near`` cents of invoice × (1 − rate), by bucket as ``_NEAR``.
    - ``_CHARGE``: invoice owed in (receipt, receipt + bank-charge tolerance], by bucket.
    """
    c = config
    # tolerances as the cents they reach (ceiling) or always include (floor)
    near = max(0, *(to_cents(t, ROUND_CEILING) for t in (c.rounding_tolerance, c.tax_tolerance)))
    near += 3
    charges = (c.bank_charge_tolerance, *c.bank_charge_tolerance_by_currency.values())
    charge = max(1, *(to_cents(t, ROUND_CEILING) for t in charges))
    # a bank charge is a shortfall in (rounding tolerance, tolerance of the currency]
    short_min = to_cents(c.rounding_tolerance, ROUND_FLOOR)
    default_max = to_cents(c.bank_charge_tolerance, ROUND_FLOOR)
    short_max = (
        pl.col("currency")
        .replace_strict(
            {k: to_cents(v, ROUND_FLOOR) for k, v in c.bank_charge_tolerance_by_currency.items()},
            default=default_max,
            return_dtype=pl.Int64,
        )
        .fill_null(default_max)
    )
    factors = [int(f) for f in c.shift_factors if int(f) > 0]
    on = ["customer_id", "currency", "_tag", "_key"]
    empty = pl.DataFrame(schema={"_ord": pl.UInt32, "_tag": pl.Int32, "invoice_id": pl.String})

    ask = residual.filter(_truthy("_customer") & pl.col("_pc").is_not_null()).select(
        "_ord", pl.col("_customer").alias("customer_id"), "currency", "_pc"
    )
    if ask.height == 0:
        return empty
    inv = (
        invoices.filter(pl.col("status").ne_missing("paid"))
        .join(ask.select("customer_id").unique(), on="customer_id", how="semi")
        .select(
            "customer_id",
            "currency",
            "invoice_id",
            cents_expr("open_amount").alias("_o"),
            cents_expr("amount").alias("_a"),
            cents_expr("tax_amount").alias("_t"),
        )
    )
    o, a, t = pl.col("_o"), pl.col("_a"), pl.col("_t")
    values = [pl.when(o > 0).then(o), pl.when(a > 0).then(a)]
    af = a.cast(pl.Float64)
    keys = {
        _NEAR: [
            *values,
            pl.when(t != 0).then(a - t),
            *[(af / (1 + float(r))).floor().cast(pl.Int64) for r in c.tax_rates],
            *[v // f for v in values for f in factors],
        ],
        _EXACT: values,
        _DISCOUNT: [(af * (1 - float(r))).floor().cast(pl.Int64) for r in term_rates],
        _CHARGE: [pl.when(o.is_not_null() & (o != 0)).then(o).otherwise(a)],
    }
    bucket = {_NEAR: near, _DISCOUNT: near, _CHARGE: charge}

    def long(frame: pl.DataFrame, ident: str, tag: int, exprs: list[pl.Expr]) -> pl.DataFrame:
        return (
            frame.select(
                ident,
                "customer_id",
                "currency",
                pl.lit(tag, pl.Int32).alias("_tag"),
                pl.concat_list(exprs).alias("_key"),
            )
            .explode("_key")
            .drop_nulls("_key")
        )

    anchors = pl.concat(
        [
            long(inv, "invoice_id", tag, exprs)
            .rename({"_key": "_k"})
            .with_columns(
                (pl.col("_k") // bucket[tag] if tag in bucket else pl.col("_k")).alias("_key")
            )
            for tag, exprs in keys.items()
            if exprs
        ]
    )
    p = pl.col("_pc")
    digits = len(str(abs(ask["_pc"].abs().max() or 0)))
    probes = pl.concat(
        [
            long(ask, "_ord", tag, exprs)
            for tag, exprs in {
                _NEAR: [p // near - 1, p // near, p // near + 1],
                _EXACT: [
                    *[pl.when((p > 0) & (p % f == 0)).then(p // f) for f in factors],
                    *transpositions_expr(p, digits),
                ],
                _DISCOUNT: [p // near - 1, p // near, p // near + 1] if term_rates else [],
                _CHARGE: [p // charge, p // charge + 1],
            }.items()
            if exprs
        ]
    )
    probes = probes.join(ask.select("_ord", "_pc"), on="_ord")
    gap, tag = pl.col("_k") - pl.col("_pc"), pl.col("_tag")
    return (
        probes.join(anchors, on=on, nulls_equal=True)
        .filter(
            tag.is_in([_NEAR, _DISCOUNT]).not_() | (gap.abs() <= near),
            (tag != _CHARGE) | ((gap > short_min) & (gap <= short_max)),
        )
        .select("_ord", "_tag", "invoice_id")
        .unique()
    )


# --------------------------------------------------------------------------- classifier
class _Classifier:
    """Lookups over the match result, built with polars for the rows that need them; one
    method per residual family. Python only loops over residual rows, with dict lookups."""

    def __init__(
        self, allocations, suggestions, receipts, invoices, customers, config, history, disputes
    ):
        c = self.c = config
        self.out: list[dict] = []
        self.disputes = disputes
        self.history = history
        keys = list(dict.fromkeys(c.duplicate_line_keys))

        # only the columns the checks read (rows become dicts only where needed, and narrow)
        inv = (
            _complete(invoices, _INVOICE_COLUMNS)
            .select(list(_INVOICE_COLUMNS))
            .unique("invoice_id", keep="last", maintain_order=True)
        )
        rec = _complete(receipts, _RECEIPT_COLUMNS)
        rec = rec.with_columns(pl.lit(None, pl.String).alias(k) for k in keys if k not in rec)
        rec = rec.select(list(dict.fromkeys([*_RECEIPT_COLUMNS, *keys])))
        alloc = _complete(allocations, _ALLOCATION_COLUMNS, kind="cash").select(
            list(_ALLOCATION_COLUMNS)
        )
        cash = alloc.filter(pl.col("kind") == "cash")
        sug = (_complete(suggestions, _SUGGESTION_COLUMNS).select(list(_SUGGESTION_COLUMNS))).sort(
            pl.col("receipt_id"),
            pl.col("rank").fill_null(0),
            "customer_id",
            "invoice_ids",
            "score",
            "reason",
            nulls_last=True,
            maintain_order=True,
        )
        cust = _complete(customers, _CUSTOMER_COLUMNS)
        self.terms = dict(zip(cust["customer_id"], cust["discount_terms"], strict=True))
        self._terms: dict[str | None, list[tuple[Decimal, int]]] = {}
        term_rates = sorted(
            {r for text in set(self.terms.values()) for r, _ in customer_discounts(text)}
            | set(c.discount_rates)
        )

        # receipts: customer (own, else the best suggestion's), cents, processing order
        first_sug = sug.group_by("receipt_id", maintain_order=True).agg(
            pl.col("customer_id").first().alias("_sug_customer")
        )
        receipt_by_id = rec.select(
            "receipt_id", "value_date", "payer_name", "memo", "source_file", "source_row"
        ).unique("receipt_id", keep="last", maintain_order=True)
        u = pl.col("unapplied")
        rec = (
            rec.join(first_sug, on="receipt_id", how="left", maintain_order="left")
            .with_columns(
                pl.when(_truthy("customer_id"))
                .then(pl.col("customer_id"))
                .otherwise(pl.col("_sug_customer"))
                .alias("_customer"),
                cents_expr("amount").alias("_pc"),
                (u.is_not_null() & (u != 0) & pl.col("status").ne_missing("not_ar")).alias(
                    "_residual"
                ),
                (pl.len().over(keys) if keys else pl.len()).alias("_group_n"),
            )
            .sort(
                pl.col("source_file").fill_null(""),
                pl.col("source_row").fill_null(0),
                "receipt_id",
                maintain_order=True,
            )
            .with_row_index("_ord")
        )
        res = rec.filter("_residual")
        rows = (
            rec.filter(pl.col("_residual") | (pl.col("_group_n") > 1))
            .drop("_pc", "_sug_customer")
            .to_dicts()
        )
        self.residual_receipts = [r for r in rows if r["_residual"]]
        self.line_groups: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            if r["_group_n"] > 1:
                self.line_groups[self.line_key(r)].append(r)
        res_ids = res.select("receipt_id")
        res_sug = sug.join(res_ids, on="receipt_id", how="semi", maintain_order="left")
        self.suggestions = _groups(res_sug.to_dicts(), "receipt_id")
        self.cash_by_receipt = _groups(
            cash.join(res_ids, on="receipt_id", how="semi").to_dicts(), "receipt_id"
        )

        # a receipt of the same amount from the same customer, applied whole to a paid invoice
        ask = res.filter(_truthy("_customer")).select("_ord", "receipt_id", "_customer", "_pc")
        others = (
            cash.join(inv.filter(pl.col("status") == "paid"), on="invoice_id", how="semi")
            .join(
                rec.select(
                    "receipt_id",
                    pl.col("_ord").alias("_other_ord"),
                    "_customer",
                    "_pc",
                    pl.col("amount").alias("_other_amount"),
                    pl.col("value_date").alias("_other_date"),
                ),
                on="receipt_id",
            )
            .filter(pl.col("applied_amount") == pl.col("_other_amount"))
            .select(
                "_customer",
                "_pc",
                pl.col("receipt_id").alias("_other"),
                "_other_ord",
                "_other_date",
                "invoice_id",
            )
        )
        self.dup_receipt = {
            row["_ord"]: row
            for row in ask.join(others, on=["_customer", "_pc"])
            .filter(pl.col("_other") != pl.col("receipt_id"))
            .sort("_ord", "_other_ord", "invoice_id")
            .unique("_ord", keep="first", maintain_order=True)
            .to_dicts()
        }
        self.dup_history: dict[int, dict] = {}
        asked = ask.select(pl.col("_customer").alias("customer_id")).unique()
        if history is not None:
            h = (
                _complete(history, HISTORY_SCHEMA)
                .select(
                    "period",
                    "customer_id",
                    "invoice_id",
                    "receipt_id",
                    "payment_date",
                    "applied_amount",
                )
                .filter(
                    pl.col("customer_id").is_not_null()
                    & pl.col("receipt_id").is_not_null()
                    & pl.col("applied_amount").is_not_null()
                )
                .join(asked, on="customer_id", how="semi")
                .filter(pl.len().over("customer_id", "receipt_id") == 1)  # paid one invoice
                .join(
                    inv.select("invoice_id", "status", pl.lit(True).alias("_known")),
                    on="invoice_id",
                    how="left",
                    maintain_order="left",
                )
                .filter(pl.col("_known").is_null() | (pl.col("status") == "paid"))
                .sort(
                    "period",
                    "invoice_id",
                    "receipt_id",
                    "payment_date",
                    "applied_amount",
                    nulls_last=True,
                    maintain_order=True,
                )
                .with_row_index("_hi")
                .select(
                    pl.col("customer_id").alias("_customer"),
                    cents_expr("applied_amount").alias("_pc"),
                    pl.col("receipt_id").alias("_h_receipt"),
                    "_hi",
                    "invoice_id",
                    "payment_date",
                    "period",
                )
            )
            self.dup_history = {
                row["_ord"]: row
                for row in ask.join(h, on=["_customer", "_pc"])
                .filter(pl.col("_h_receipt") != pl.col("receipt_id"))
                .sort("_ord", "_hi")
                .unique("_ord", keep="first", maintain_order=True)
                .to_dicts()
            }

        # open invoices each residual receipt may relate to, and what its customer owes
        hits = _candidate_hits(res, inv, c, term_rates)
        self.hits: dict[tuple[int, bool], set[str]] = defaultdict(set)
        for o, tag, iid in hits.iter_rows():
            self.hits[(o, tag in (_DISCOUNT, _CHARGE))].add(iid)
        self.owed = {
            (cid, cur): total
            for cid, cur, total in inv.filter(pl.col("status").ne_missing("paid"))
            .join(
                ask.select(pl.col("_customer").alias("customer_id")), on="customer_id", how="semi"
            )
            .group_by("customer_id", "currency")
            .agg(pl.col("open_amount").sum())
            .iter_rows()
        }

        # invoice residuals, and the allocations the checks look at
        applied = pl.col("applied").fill_null(0)
        residual_inv = inv.filter(
            pl.col("open_amount").is_not_null()
            & (pl.col("open_amount") > 0)
            & (
                pl.col("disputed").fill_null(False)
                | ((applied > 0) & pl.col("status").ne_missing("paid"))
            )
        ).sort("invoice_id", nulls_last=True)
        self.residual_invoices = residual_inv.to_dicts()
        inv_cash = cash.join(residual_inv.select("invoice_id"), on="invoice_id", how="semi")
        self.cash_by_invoice = _groups(inv_cash.to_dicts(), "invoice_id")
        flagged = pl.col("flags").str.contains("third_party|memo_conflict")
        tol = alloc.filter(pl.col("kind").is_in(TOLERANCE_KINDS) | flagged).sort(
            "receipt_id",
            "invoice_id",
            "kind",
            "applied_amount",
            "currency",
            "customer_id",
            "flags",
            "reason",
            nulls_last=True,
            maintain_order=True,
        )
        self.tolerance = tol.to_dicts()
        # the customer's bank charges written off in this close: evidence that its bank
        # deducts fees (see ``charge_reading``)
        self.charges: dict[tuple, list[dict]] = defaultdict(list)
        for a in self.tolerance:
            if a.get("kind") == "bank_charge" and a.get("customer_id"):
                self.charges[(a["customer_id"], a.get("currency"))].append(a)
        self.pairs = defaultdict(list)
        for a in cash.join(
            tol.filter(flagged | (pl.col("kind") == "write_off"))
            .select("receipt_id", "invoice_id")
            .unique(),
            on=["receipt_id", "invoice_id"],
            how="semi",
            nulls_equal=True,
        ).iter_rows(named=True):
            self.pairs[(a["receipt_id"], a["invoice_id"])].append(a["applied_amount"])

        sug_ids = (
            res_sug.select(pl.col("invoice_ids").str.split("|").alias("invoice_id"))
            .explode("invoice_id")
            .filter(_truthy("invoice_id"))
        )
        need = pl.concat(
            [
                hits.select("invoice_id"),
                cash.join(res_ids, on="receipt_id", how="semi").select("invoice_id"),
                sug_ids,
                tol.select("invoice_id"),
            ]
        ).unique()
        self.invoices = {
            r["invoice_id"]: r
            for r in inv.join(need, on="invoice_id", how="semi", nulls_equal=True).to_dicts()
        }
        need_rec = pl.concat([inv_cash.select("receipt_id"), tol.select("receipt_id")]).unique()
        self.receipt_by_id = {
            r["receipt_id"]: r
            for r in receipt_by_id.join(
                need_rec, on="receipt_id", how="semi", nulls_equal=True
            ).to_dicts()
        }

    # -- output
    def add(
        self,
        kind,
        *,
        customer,
        receipt,
        invoice,
        amount,
        currency,
        evidence,
        src,
        about,
        status="open",
    ):
        """One exception; ``about`` is what it is about (see :func:`exception_key`)."""
        self.out.append(
            {
                "key": exception_key(kind, about, receipt, invoice, customer),
                "class": CLASS_OF[kind],
                "type": kind,
                "customer_id": customer,
                "receipt_id": receipt,
                "invoice_id": invoice,
                "amount": amount,
                "currency": currency,
                "evidence": evidence,
                "suggested_action": self.c.action(kind),
                "status": status,
                "source_file": (src or {}).get("source_file"),
                "source_row": (src or {}).get("source_row"),
            }
        )

    # -- helpers
    def line_key(self, r: dict) -> tuple:
        return tuple(r.get(k) for k in self.c.duplicate_line_keys)

    def candidates(self, r: dict, customer: str | None, *, discount: bool) -> list[dict]:
        """Invoices a residual receipt may relate to, in review order: the customer's unpaid
        invoices (by due date), the ones this receipt was applied to, and the ones suggested
        for it. Of the customer's unpaid invoices only those the candidate search found for
        this check (``discount``: the discount / bank-charge checks, else ``pattern``) are
        listed: the others cannot pass it."""
        ids = {a["invoice_id"] for a in self.cash_by_receipt.get(r["receipt_id"], [])}
        for s in self.suggestions.get(r["receipt_id"], []):
            ids.update(i for i in (s.get("invoice_ids") or "").split("|") if i)
        own, other = [], []
        for iid in self.hits.get((r["_ord"], discount), set()) | ids:
            inv = self.invoices.get(iid)
            if inv is None:
                continue
            if (
                customer
                and inv.get("customer_id") == customer
                and (inv.get("status") != "paid" or iid in ids)
            ):
                own.append(inv)
            elif iid in ids:
                other.append(inv)
        own.sort(key=lambda i: (i.get("due_date") or dt.date.max, i["invoice_id"]))
        other.sort(key=lambda i: i["invoice_id"])
        return [inv for inv in own + other if inv.get("currency") == r.get("currency")]

    def discount_terms(self, customer: str | None) -> list[tuple[Decimal, int]]:
        if customer not in self._terms:
            self._terms[customer] = customer_discounts(self.terms.get(customer))
        return self._terms[customer]

    def payment_date(self, invoice_id: str) -> dt.date | None:
        dates = [
            self.receipt_by_id.get(a["receipt_id"], {}).get("value_date")
            for a in self.cash_by_invoice.get(invoice_id, [])
        ]
        dates = [d for d in dates if d]
        return max(dates) if dates else None

    def discount_verdict(
        self, inv: dict, discount: Decimal, paid_on: dt.date | None
    ) -> tuple[str, str]:
        """(type, evidence) for a discount taken on ``inv``: ``discount`` when the rate is
        in the customer's terms and paid inside the window, else ``discount_outside_terms``."""
        amount = inv["amount"]
        terms = self.discount_terms(inv.get("customer_id"))
        pct = f"{discount / amount * 100:.2f}%" if amount else "n/a"
        base = f"discount {fmt_money(discount)} = {pct} of invoice {fmt_money(amount)}"
        if not terms:
            return "discount_outside_terms", f"{base}; customer has no discount terms"
        tol = self.c.rounding_tolerance
        matching = [(r, d) for r, d in terms if abs(discount - amount * r) <= tol]
        if not matching:
            allowed = ", ".join(f"{_pct(r)}%" for r, _ in terms)
            return "discount_outside_terms", f"{base}; terms allow {allowed}"
        inv_date = inv.get("invoice_date")
        for rate, days in matching:
            if paid_on is None or inv_date is None:
                return "discount", f"{base}; in terms {_pct(rate)}/{days} (payment date unknown)"
            end = inv_date + dt.timedelta(days=days + self.c.discount_grace_days)
            if paid_on <= end:
                return "discount", f"{base}; paid {paid_on} within {_pct(rate)}/{days} (by {end})"
        rate, days = matching[0]
        end = inv_date + dt.timedelta(days=days + self.c.discount_grace_days)
        late = (paid_on - end).days
        return (
            "discount_outside_terms",
            f"{base}; paid {paid_on}, {late} day(s) after the {_pct(rate)}/{days} window "
            f"ended {end}",
        )

    def charge_reading(self, short: Decimal, inv: dict) -> tuple[bool, str] | None:
        """Whether a shortfall on ``inv`` that has another explanation (a digit swap, a round
        installment) reads better as a bank charge: None when it cannot be one (not short,
        within rounding, over the currency's tolerance, or not whole currency units as bank
        fees are), else (preferred, evidence). A charge is preferred only when the customer's
        bank is seen deducting charges: bank charges written off on the customer's other
        payments in this close (same currency). Between two readings of the same small amount
        that is the one an AR clerk can act on without troubling the customer; the evidence
        names the other."""
        c = self.c
        cur = inv.get("currency")
        tol = c.bank_charge_tolerance_by_currency.get(cur, c.bank_charge_tolerance)
        if not (c.rounding_tolerance < short <= tol) or short != short.to_integral_value():
            return None
        seen = [
            a
            for a in self.charges.get((inv.get("customer_id"), cur), [])
            if a.get("invoice_id") != inv["invoice_id"]
        ]
        if not seen:
            return False, (
                f"the shortfall {fmt_money(short)} is also within the bank-charge tolerance "
                f"{fmt_money(tol)}, but no bank charges of {inv.get('customer_id')} were "
                "seen this close"
            )
        amounts = ", ".join(fmt_money(a["applied_amount"]) for a in seen[:5])
        return True, (
            f"{fmt_money(short)} ≤ bank-charge tolerance {fmt_money(tol)}, and "
            f"{inv.get('customer_id')}'s bank deducted charges on {len(seen)} other "
            f"payment(s) this close ({amounts} {cur})"
        )

    def pattern(self, paid: Decimal, inv: dict, *, allow_rounding: bool) -> tuple[str, str] | None:
        """Technical / tax patterns between a payment and an invoice, most specific first."""
        c = self.c
        label = f"invoice {inv['invoice_id']}"
        values = []
        for v in (inv.get("open_amount"), inv["amount"]):
            if v is not None and v > 0 and v not in values:
                values.append(v)
        for v in values:
            if allow_rounding and paid != v and abs(paid - v) <= c.rounding_tolerance:
                return "rounding", (
                    f"{fmt_money(paid)} vs {label} {fmt_money(v)}: "
                    f"difference {fmt_money(paid - v)} ≤ {fmt_money(c.rounding_tolerance)}"
                )
        # keying errors (arlib.keying; a dropped or doubled digit is not an exception type):
        # a decimal shift of any of the values first, then a digit swap
        keyed = [
            (v, describe_keying_error(to_cents(paid), to_cents(v), factors=c.shift_factors))
            for v in values
        ]
        for v, k in keyed:
            if k is not None and k.kind == "decimal_shift":
                return "decimal_shift", f"{fmt_money(paid)} = {label} {fmt_money(v)} {k.detail}"
        for v, k in keyed:
            if k is not None and k.kind == "transposition":
                swap = (
                    f"{fmt_money(paid)} vs {label} {fmt_money(v)}: two adjacent digits "
                    f"swapped (difference {fmt_money(paid - v)}, divisible by 9)"
                )
                charge = self.charge_reading(v - paid, inv)
                if charge is None:
                    return "transposition", swap
                if charge[0]:
                    return "bank_charge", (
                        f"{fmt_money(paid)} = {label} {fmt_money(v)} − {fmt_money(v - paid)}: "
                        f"{charge[1]}; likely deducted by the bank. Also a digit swap "
                        f"({swap}): if the remittance advice shows {fmt_money(paid)}, it is a "
                        "keying error (transposition)"
                    )
                return "transposition", f"{swap}; {charge[1]}"
        amount = inv["amount"]
        tax = inv.get("tax_amount")
        if tax and abs(paid - (amount - tax)) <= c.tax_tolerance:
            return "tax_difference", (
                f"{fmt_money(paid)} = {label} {fmt_money(amount)} − VAT {fmt_money(tax)}"
            )
        rate = net_of_tax(paid, amount, c.tax_rates, c.tax_tolerance)
        if rate is not None:
            return "tax_difference", (
                f"{fmt_money(paid)} ≈ {label} {fmt_money(amount)} / (1 + {_pct(rate)}%) "
                f"= {fmt_money(amount / (1 + rate))}: paid net of VAT"
            )
        return None

    # -- receipts
    def receipt_residuals(self) -> None:
        """Residual receipts in statement order (source file, row, receipt id)."""
        for r in self.residual_receipts:
            group = self.line_groups.get(self.line_key(r), [])
            self.receipt_residual(r, group if any(o is r for o in group) else [r])

    def receipt_residual(self, r: dict, group: list[dict]) -> None:
        rid, cur, amount, unapplied = (
            r["receipt_id"],
            r.get("currency"),
            r["amount"],
            r["unapplied"],
        )
        customer = r["_customer"]
        allocated = r.get("allocated") or (amount - unapplied)

        def add(kind, evidence, invoice=None, cust=customer):
            self.add(
                kind,
                customer=cust,
                receipt=rid,
                invoice=invoice,
                amount=unapplied,
                currency=cur,
                evidence=evidence,
                src=r,
                about="receipt",
            )

        # a receipt a person held as disputed is a dispute, whatever else it looks like
        if r.get("status") == "dispute":
            sug = [
                i
                for s in self.suggestions.get(rid, [])
                for i in (s.get("invoice_ids") or "").split("|")
            ]
            named = self.disputes.get(rid)
            add(
                "disputed_invoice",
                f"receipt {fmt_money(amount)} held as dispute by a decision"
                + (f" on invoice {named}" if named else "")
                + f"; memo {r.get('memo')!r}",
                invoice=named or (sug[0] if sug and sug[0] else None),
            )
            return

        # duplicate bank line: an identical line that was applied, or an earlier residual one
        pos = next(i for i, o in enumerate(group) if o is r)
        twins = [
            o
            for i, o in enumerate(group)
            if o is not r and ((o.get("allocated") or 0) > 0 or i < pos)
        ]
        if twins:
            t = twins[0]
            add(
                "duplicate_bank_line",
                f"same {', '.join(self.c.duplicate_line_keys)} as receipt {t['receipt_id']} "
                f"({r.get('value_date')}, {fmt_money(amount)} {cur}, {r.get('payer_name')}, "
                f"memo {r.get('memo')!r}) at {t.get('source_file')}:{t.get('source_row')}",
            )
            return
        if allocated == 0 and customer:
            dup = self.duplicate_payment(r, customer)
            if dup:
                add("duplicate_payment", dup[1], invoice=dup[0])
                return
        if allocated > 0 and abs(unapplied) <= self.c.rounding_tolerance:
            add(
                "rounding",
                f"receipt {fmt_money(amount)} applied {fmt_money(allocated)}; "
                f"{fmt_money(unapplied)} left ≤ {fmt_money(self.c.rounding_tolerance)}",
            )
            return
        applied_to = {a["invoice_id"] for a in self.cash_by_receipt.get(rid, [])}
        for inv in self.candidates(r, customer, discount=False):
            # a receipt partly applied to an invoice was meant for it (memo, amount): its
            # whole amount against another invoice (5,000.00 = 50,000.00 ÷ 10) is chance
            if allocated > 0 and inv["invoice_id"] not in applied_to:
                continue
            hit = self.pattern(amount, inv, allow_rounding=allocated == 0)
            if hit:
                add(hit[0], f"receipt {hit[1]}", invoice=inv["invoice_id"])
                return
        if allocated == 0:
            for inv in self.candidates(r, customer, discount=True):
                hit = self.discount_on_receipt(r, inv) or self.charge_on_receipt(r, inv)
                if hit:
                    add(hit[0], hit[1], invoice=inv["invoice_id"])
                    return
        if allocated > 0:
            paid = sorted({a["invoice_id"] for a in self.cash_by_receipt.get(rid, [])})
            add(
                "overpayment",
                f"receipt {fmt_money(amount)} applied {fmt_money(allocated)} to "
                f"{', '.join(paid) or 'invoices'}; {fmt_money(unapplied)} left over",
            )
            return
        owed = self.owed.get((customer, cur)) or Decimal(0)
        if r.get("customer_id") and owed <= 0:
            add(
                "overpayment",
                f"receipt {fmt_money(amount)} from {customer}, who has no open {cur} invoices",
            )
            return
        sug = self.suggestions.get(rid, [])
        if sug:
            s = sug[0]
            evidence = (
                f"receipt {fmt_money(amount)} not applied; {len(sug)} suggestion(s), best: "
                f"{s.get('invoice_ids')} ({s.get('customer_id')}) score {s.get('score')} — "
                f"{s.get('reason')}"
            )
        elif customer:
            evidence = (
                f"receipt {fmt_money(amount)} from {customer} matches no open invoice or "
                f"combination (customer owes {fmt_money(owed)} {cur})"
            )
        else:
            evidence = (
                f"receipt {fmt_money(amount)} from payer {r.get('payer_name')!r} "
                f"(account {r.get('payer_account')}) not identified; memo {r.get('memo')!r}"
            )
        add("unidentified_receipt", evidence)

    def discount_on_receipt(self, r: dict, inv: dict) -> tuple[str, str] | None:
        """An unapplied receipt equal to an invoice less a discount the matcher did not take."""
        amount, paid = inv["amount"], r["amount"]
        rates = {rate for rate, _ in self.discount_terms(inv.get("customer_id"))}
        rates.update(self.c.discount_rates)
        for rate in sorted(rates):
            if abs(paid - amount * (1 - rate)) <= self.c.rounding_tolerance:
                kind, ev = self.discount_verdict(inv, amount - paid, r.get("value_date"))
                return kind, f"receipt {fmt_money(paid)} = invoice {inv['invoice_id']} less {ev}"
        return None

    def charge_on_receipt(self, r: dict, inv: dict) -> tuple[str, str] | None:
        """An unapplied receipt short of an invoice by a bank-charge-sized amount."""
        c = self.c
        owed = inv.get("open_amount") or inv["amount"]
        short = owed - r["amount"]
        tol = c.bank_charge_tolerance_by_currency.get(r.get("currency"), c.bank_charge_tolerance)
        if c.rounding_tolerance < short <= tol:
            return "bank_charge", (
                f"receipt {fmt_money(r['amount'])} = invoice {inv['invoice_id']} "
                f"{fmt_money(owed)} − {fmt_money(short)} (≤ bank-charge tolerance "
                f"{fmt_money(tol)}): likely deducted by the bank; not yet applied"
            )
        return None

    def duplicate_payment(self, r: dict, customer: str) -> tuple[str, str] | None:
        """Same amount from the same customer already applied to a now-paid invoice (an
        earlier receipt of this close, else one of the payment history)."""
        amount = r["amount"]
        other = self.dup_receipt.get(r["_ord"])
        if other is not None:
            return other["invoice_id"], (
                f"receipt {fmt_money(amount)} on {r.get('value_date')} = receipt "
                f"{other['_other']} {fmt_money(amount)} on {other['_other_date']} "
                f"already applied to invoice {other['invoice_id']} (paid)"
            )
        h = self.dup_history.get(r["_ord"])
        if h is not None:
            return h["invoice_id"], (
                f"receipt {fmt_money(amount)} on {r.get('value_date')} = receipt "
                f"{h['_h_receipt']} {fmt_money(amount)} on {h['payment_date']} "
                f"({h['period']}) already applied to invoice {h['invoice_id']}"
            )
        return None

    # -- invoices
    def invoice_residuals(self) -> None:
        """Disputed or partly paid invoices still open, by invoice id."""
        for inv in self.residual_invoices:
            self.invoice_residual(inv, inv.get("applied") or Decimal(0), inv["open_amount"])

    def invoice_residual(self, inv: dict, applied: Decimal, open_amt: Decimal) -> None:
        iid, amount = inv["invoice_id"], inv["amount"]
        cash = self.cash_by_invoice.get(iid, [])
        rids = "|".join(sorted({a["receipt_id"] for a in cash})) or None
        paid = sum((a["applied_amount"] for a in cash), Decimal(0))

        def add(kind, evidence):
            self.add(
                kind,
                customer=inv.get("customer_id"),
                receipt=rids,
                invoice=iid,
                amount=open_amt,
                currency=inv.get("currency"),
                evidence=evidence,
                src=inv,
                about="invoice",
            )

        head = (
            f"invoice {iid} {fmt_money(amount)}, paid {fmt_money(applied)}, "
            f"open {fmt_money(open_amt)}"
        )
        if inv.get("disputed"):
            add("disputed_invoice", f"{head}; invoice marked disputed")
            return
        if open_amt <= self.c.rounding_tolerance:
            add("rounding", f"{head} ≤ {fmt_money(self.c.rounding_tolerance)}")
            return
        if paid > 0:
            hit = self.pattern(paid, {**inv, "open_amount": None}, allow_rounding=False)
            if hit:
                add(hit[0], f"cash {hit[1]}; open {fmt_money(open_amt)}")
                return
            rates = {rate for rate, _ in self.discount_terms(inv.get("customer_id"))}
            rates.update(self.c.discount_rates)
            for rate in sorted(rates):
                if abs(open_amt - amount * rate) <= self.c.rounding_tolerance:
                    kind, ev = self.discount_verdict(inv, open_amt, self.payment_date(iid))
                    add(kind, f"{head}: {ev}")
                    return
            charge = self.charge_reading(open_amt, inv)
            if charge is not None and charge[0]:
                round_sum = paid % 100 == 0 and amount % 100 != 0
                add(
                    "bank_charge",
                    f"{head}: {charge[1]}; likely deducted by the bank, not written off by "
                    "matching"
                    + (
                        f". The payment {fmt_money(paid)} is a round sum: if the customer "
                        "rounded down (抹零) or paid an installment, it is a short payment"
                        if round_sum
                        else ""
                    ),
                )
                return
        add("short_payment", f"{head}; no explanation found (not rounding, tax, discount)")

    # -- tolerance allocations and flags
    def tolerance_allocations(self) -> None:
        c = self.c
        flagged: set[tuple[str, str, str]] = set()
        for a in self.tolerance:
            kind, amt, cur = a.get("kind"), a["applied_amount"], a.get("currency")
            inv = self.invoices.get(a["invoice_id"], {})
            rec = self.receipt_by_id.get(a["receipt_id"], {})
            base = dict(
                customer=a.get("customer_id") or inv.get("customer_id"),
                receipt=a["receipt_id"],
                invoice=a["invoice_id"],
                amount=amt,
                currency=cur,
                src=rec or inv,
                about="pair",
            )
            head = f"{kind} {fmt_money(amt)} {cur} on invoice {a['invoice_id']}"
            if kind == "bank_charge":
                tol = c.bank_charge_tolerance_by_currency.get(cur, c.bank_charge_tolerance)
                if abs(amt) > tol:
                    self.add(
                        "bank_charge_over_tolerance",
                        evidence=f"{head} > tolerance {fmt_money(tol)}",
                        **base,
                    )
                else:
                    self.add(
                        "bank_charge",
                        evidence=f"{head} ≤ {fmt_money(tol)}",
                        status="cleared",
                        **base,
                    )
            elif kind == "discount":
                t, ev = (
                    self.discount_verdict(inv, amt, rec.get("value_date"))
                    if inv
                    else (
                        "discount_outside_terms",
                        f"{head}; invoice not found",
                    )
                )
                self.add(t, evidence=ev, status="cleared" if t == "discount" else "open", **base)
            elif kind == "fx_difference":
                total = inv.get("amount") or Decimal(0)
                pct = abs(amt) / total * 100 if total else None
                within = pct is not None and pct <= c.fx_tolerance_pct
                shown = f"{pct:.2f}%" if pct is not None else "n/a"
                self.add(
                    "fx_difference",
                    evidence=f"{head} = {shown} of invoice {fmt_money(total)} "
                    f"({'≤' if within else '>'} {c.fx_tolerance_pct}%)",
                    status="cleared" if within else "open",
                    **base,
                )
            elif kind == "write_off":
                # matching wrote the invoice off to nothing: what was open is the pair's cash
                # and the write-off
                cleared = sum(self.pairs.get((a["receipt_id"], a["invoice_id"]), []), amt)
                pct = amt / cleared * 100 if cleared else None
                within = pct is not None and amt > 0 and pct <= c.payment_tolerance_pct
                shown = f"{pct:.2f}%" if pct is not None else "n/a"
                self.add(
                    "write_off",
                    evidence=f"{head}: a short payment of {shown} of the open "
                    f"{fmt_money(cleared)} ({'≤' if within else '>'} the payment tolerance "
                    f"{c.payment_tolerance_pct}%)",
                    status="cleared" if within else "open",
                    **base,
                )
            elif kind == "rounding":
                within = abs(amt) <= c.rounding_tolerance
                self.add(
                    "rounding",
                    evidence=f"{head} ({'≤' if within else '>'} {fmt_money(c.rounding_tolerance)})",
                    status="cleared" if within else "open",
                    **base,
                )
            flags = {f for f in (a.get("flags") or "").split("|") if f}
            for flag, t in (
                ("third_party", "third_party_payment"),
                ("memo_conflict", "memo_conflict"),
            ):
                key = (t, a["receipt_id"], a["invoice_id"])
                if flag in flags and key not in flagged:
                    flagged.add(key)
                    pair = self.pairs.get((a["receipt_id"], a["invoice_id"]), [])
                    ev = (
                        f"payer {rec.get('payer_name')!r} paid {fmt_money(sum(pair, Decimal(0)))} "
                        f"on invoice {a['invoice_id']} of {base['customer']}"
                        if t == "third_party_payment"
                        else f"memo {rec.get('memo')!r} conflicts with allocation to "
                        f"{a['invoice_id']}: {a.get('reason')}"
                    )
                    self.add(t, evidence=ev, **{**base, "amount": sum(pair, Decimal(0)) or amt})

    # -- customers
    def repeated_late(self, current: pl.DataFrame) -> None:
        c = self.c
        hist = (
            current
            if self.history is None
            else pl.concat(
                [self.history.select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA), current]
            ).unique(["period", "receipt_id", "invoice_id"], keep="last", maintain_order=True)
        )
        unit = "invoice_id" if c.late_unit == "invoices" else "period"
        totals = dict(hist.group_by("customer_id").agg(pl.col(unit).n_unique()).iter_rows())
        late = (
            hist.filter(pl.col("days_late") > c.late_grace_days)
            .filter(pl.col("customer_id").is_not_null())
            .group_by("customer_id")
            .agg(
                pl.col(unit).n_unique().alias("n"),
                pl.col("currency").n_unique().alias("currencies"),
                pl.col("currency").first(),
                pl.col("applied_amount").sum().alias("amount"),
                (pl.col("applied_amount") * pl.col("days_late")).sum().alias("weighted"),
                pl.col("period").unique().sort().alias("periods"),
                pl.col("days_late").max().alias("worst"),
            )
            .filter(pl.col("n") >= c.late_min_count)
            .sort("customer_id")
        )
        for p in late.iter_rows(named=True):
            total_amount = p["amount"]
            avg = p["weighted"] / total_amount if total_amount else Decimal(0)
            self.add(
                "repeated_late_payment",
                customer=p["customer_id"],
                receipt=None,
                invoice=None,
                amount=total_amount if p["currencies"] == 1 else None,
                currency=p["currency"] if p["currencies"] == 1 else None,
                evidence=(
                    f"late in {p['n']} of {totals[p['customer_id']]} {c.late_unit} "
                    f"({', '.join(p['periods'])}); "
                    f"average {avg:.1f} days late, worst {p['worst']} days"
                ),
                src=None,
                about="customer",
            )


def classify_exceptions(
    allocations: pl.DataFrame,
    suggestions: pl.DataFrame | None,
    receipts: pl.DataFrame,
    invoices: pl.DataFrame,
    customers: pl.DataFrame | None = None,
    config: ExceptionConfig | None = None,
    history: pl.DataFrame | None = None,
    *,
    period: str | None = None,
    disputes: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Every residual and tolerance allocation of a ``MatchResult`` as a classified exception.

    Arguments are the matcher's ``allocations``, ``suggestions``, ``receipts`` and
    ``invoices`` frames, the canonical ``customers``, an optional payment ``history``
    of earlier periods (:func:`arlib.kpis.payment_history`) and ``disputes``: the invoice a
    ``dispute`` decision names, by receipt (the disputed invoice a held receipt is about).
    Returns ``exceptions.csv`` columns plus currency and provenance, sorted by class, type
    and ids.
    """
    config = config or ExceptionConfig()
    if history is not None and history.height == 0:
        history = None
    clf = _Classifier(
        allocations, suggestions, receipts, invoices, customers, config, history, disputes or {}
    )
    clf.receipt_residuals()
    clf.invoice_residuals()
    clf.tolerance_allocations()
    clf.repeated_late(payment_history(allocations, receipts, invoices, period))

    seen: dict[str, int] = defaultdict(int)
    for row in clf.out:
        key = (
            row["type"],
            row["receipt_id"],
            row["invoice_id"] or (row["customer_id"] if row["receipt_id"] is None else None),
        )
        seen[key] += 1
        extra = "" if seen[key] == 1 else str(seen[key])
        row["exception_id"] = exception_id(key[0], key[1], key[2], extra)
        if extra:
            row["key"] += f"#{extra}"
    df = pl.DataFrame(clf.out, schema=COLUMNS) if clf.out else pl.DataFrame(schema=COLUMNS)
    return in_register_order(df.select(list(COLUMNS)))


def in_register_order(exceptions: pl.DataFrame) -> pl.DataFrame:
    """The register's one stable order: by class (as :data:`CLASS_OF` lists them), type,
    customer, receipt, invoice and id, so outputs are byte-stable."""
    order = list(dict.fromkeys(CLASS_OF.values()))
    return exceptions.sort(
        pl.col("class").replace_strict({k: i for i, k in enumerate(order)}, return_dtype=pl.Int64),
        "type",
        "customer_id",
        "receipt_id",
        "invoice_id",
        "exception_id",
        nulls_last=True,
    )
