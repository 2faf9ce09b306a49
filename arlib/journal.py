"""Proposed balancing adjustments (调平): the journal entries that bring the ledger in line
with what matching cleared.

Why proposals and not postings: bank charges, discounts, FX differences and small rounding
differences were written off against invoices by matching rules; the general ledger only
agrees with the AR subledger once matching journal entries are posted, and a person must
approve them. Each entry is two lines (debit = credit, checked), in base currency, linked
to the exception or allocation it clears, with accounts taken from the params.

What is proposed:

- tolerance allocations (bank_charge, discount, fx_difference, write_off; rounding up to
  the write-off threshold) whose exception is ``cleared`` (``open`` ones wait for review
  unless ``include_open``);
- open ``rounding`` exceptions (small residuals) up to the write-off threshold;
- the change in the expected-credit-loss provision: closing − opening (the matrix gives
  the balance the allowance should have; the ledger already holds the opening one).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import polars as pl
from pydantic import Field

from arlib.aging import to_base
from arlib.money import fmt_money, fmt_money_expr
from arlib.paramtypes import Exact, Flag, Range, Section, Text
from arlib.provision import ProvisionResult
from arlib.schema import MONEY

LINE_COLUMNS = {
    "journal_id": pl.String,
    "line": pl.Int64,
    "account": pl.String,
    "account_name": pl.String,
    "debit": MONEY,
    "credit": MONEY,
    "currency": pl.String,
    "customer_id": pl.String,
    "reference": pl.String,
    "description": pl.String,
    # True when matching already wrote the amount off in the sub-ledger (tolerance
    # allocations): the GL differs from the sub-ledger by it until the entry is booked, so
    # the GL tie-out counts it as explained. False for write-offs of residuals still open
    # in both ledgers, and for the provision.
    "in_subledger": pl.Boolean,
}

ZERO = Decimal("0.00")


class JournalConfig(Section):
    """``adjustments:`` section of the params (account codes default to 中国企业会计准则)."""

    ar_account: Text = Field("1122", description="the receivable control account (应收账款)")
    ar_account_name: Text = Field("应收账款", description="the name of ar_account")
    bank_charge_account: Text = Field("6603", description="bank charges (财务费用-手续费)")
    bank_charge_account_name: Text = Field(
        "财务费用-手续费", description="the name of bank_charge_account"
    )
    discount_account: Text = Field("6603.02", description="cash discounts allowed (现金折扣)")
    discount_account_name: Text = Field("现金折扣", description="the name of discount_account")
    fx_account: Text = Field("6603.03", description="FX differences (汇兑损益)")
    fx_account_name: Text = Field("汇兑损益", description="the name of fx_account")
    write_off_account: Text = Field(
        "6711", description="small short payments written off (营业外支出)"
    )
    write_off_account_name: Text = Field("营业外支出", description="the name of write_off_account")
    write_off_gain_account: Text = Field(
        "6301", description="small over-receipts taken to income (营业外收入)"
    )
    write_off_gain_account_name: Text = Field(
        "营业外收入", description="the name of write_off_gain_account"
    )
    unapplied_cash_account: Text = Field(
        "2203", description="where unapplied cash is held (预收账款)"
    )
    unapplied_cash_account_name: Text = Field(
        "预收账款", description="the name of unapplied_cash_account"
    )
    impairment_account: Text = Field(
        "6702", description="the ECL provision movement's expense (信用减值损失)"
    )
    impairment_account_name: Text = Field(
        "信用减值损失", description="the name of impairment_account"
    )
    allowance_account: Text = Field("1231", description="the ECL allowance (坏账准备)")
    allowance_account_name: Text = Field("坏账准备", description="the name of allowance_account")
    write_off_threshold: Annotated[Exact, Range(ge=0)] = Field(
        Decimal("10.00"),
        description="largest rounding difference (base currency) proposed for write-off",
    )
    include_open: Flag = Field(
        False,
        description="also propose tolerance allocations whose exception is still open (over "
        "tolerance / outside terms)",
    )
    journal_prefix: Text = Field("ADJ", description="journal ids are <prefix>-<period>-NNN")

    def account(self, role: str) -> tuple[str, str]:
        return getattr(self, f"{role}_account"), getattr(self, f"{role}_account_name")


# allocation kind -> (account role, exception types that clear it, description)
_KINDS = {
    "bank_charge": ("bank_charge", ("bank_charge", "bank_charge_over_tolerance"), "bank charge"),
    "discount": ("discount", ("discount", "discount_outside_terms"), "cash discount allowed"),
    "fx_difference": ("fx", ("fx_difference",), "FX difference"),
    "rounding": ("write_off", ("rounding",), "rounding difference written off"),
    "write_off": ("write_off", ("write_off",), "short payment written off (payment tolerance)"),
}


# (kind, exception type, preference): the exception a tolerance allocation clears is the
# first of its kind's types raised on its receipt and invoice
_CLEARED_BY = pl.DataFrame(
    [(kind, t, i) for kind, (_, types, _) in _KINDS.items() for i, t in enumerate(types)],
    schema={"kind": pl.String, "type": pl.String, "_pref": pl.Int64},
    orient="row",
)
_ITEM_COLUMNS = {
    "in_subledger": pl.Boolean,
    "role": pl.String,
    "counter": pl.String,
    "amount": MONEY,
    "customer_id": pl.String,
    "reference": pl.String,
    "description": pl.String,
}
_PAIR = ["receipt_id", "invoice_id"]


def _text(column: str) -> pl.Expr:
    """A value as an f-string writes it (``None`` for null)."""
    return pl.col(column).cast(pl.String).fill_null("None")


def propose_adjustments(
    allocations: pl.DataFrame,
    exceptions: pl.DataFrame,
    *,
    period: str,
    as_of: dt.date,
    base_currency: str = "CNY",
    fx_rates: pl.DataFrame | None = None,
    config: JournalConfig | None = None,
    provision: ProvisionResult | None = None,
) -> pl.DataFrame:
    """Balanced journal proposal lines (see :data:`LINE_COLUMNS`).

    ``provision`` proposes its movement (closing − opening), never its closing balance.

    Foreign amounts are converted at the as-of rate; items without a rate are left out
    (the aging reports the missing rate). Raises ``AssertionError`` if unbalanced.
    Entries are numbered in order: tolerance allocations by kind, receipt and invoice,
    then small rounding residuals by exception id, then the provision (all in polars: a
    Python loop over the allocations took 4 s at a million invoices).
    """
    config = config or JournalConfig()
    fx = {"base_currency": base_currency, "fx_rates": fx_rates, "as_of": as_of}
    tol = allocations.filter(pl.col("kind").is_in(list(_KINDS)))
    tol = to_base(tol, "applied_amount", **fx).sort("kind", "receipt_id", "invoice_id")
    tol = tol.with_row_index("_row")
    if "customer_id" not in tol.columns:
        tol = tol.with_columns(pl.lit(None, dtype=pl.String).alias("customer_id"))
    first = exceptions.select("type", *_PAIR, "exception_id", "status").unique(
        ["type", *_PAIR], keep="first", maintain_order=True
    )
    cleared = (
        tol.select("_row", "kind", *_PAIR)
        .join(_CLEARED_BY, on="kind")
        .join(first, on=["type", *_PAIR], nulls_equal=True)
        .sort("_row", "_pref")
        .unique("_row", keep="first", maintain_order=True)
        .select("_row", "exception_id", "status", pl.lit(True).alias("_cleared"))
    )
    tol = tol.join(cleared, on="_row", how="left").sort("_row")
    amount = pl.col("amount_base")
    # an allocation whose exception is still open waits for review, unless include_open
    waits = (pl.col("_cleared") & (pl.col("status") == "open")).fill_null(False)
    if config.include_open:
        waits = pl.lit(False)
    too_big = (pl.col("kind") == "rounding") & (amount.abs() > config.write_off_threshold)
    roles = {k: v[0] for k, v in _KINDS.items()}
    labels = {k: v[2] for k, v in _KINDS.items()}
    booked = tol.filter(amount.is_not_null() & (amount != 0) & ~waits & ~too_big).select(
        pl.lit(True).alias("in_subledger"),
        pl.col("kind").replace_strict(roles).alias("role"),
        pl.lit("ar").alias("counter"),
        amount.alias("amount"),
        pl.col("customer_id").cast(pl.String),
        pl.when(pl.col("_cleared"))
        .then(pl.col("exception_id"))
        .otherwise(pl.concat_str(_text("receipt_id"), pl.lit("|"), _text("invoice_id")))
        .alias("reference"),
        pl.concat_str(
            pl.col("kind").replace_strict(labels),
            pl.lit(": receipt "),
            _text("receipt_id"),
            pl.lit(" on invoice "),
            _text("invoice_id"),
            pl.lit(" ("),
            fmt_money_expr("applied_amount"),
            pl.lit(" "),
            _text("currency"),
            pl.lit(")"),
        ).alias("description"),
    )

    rounded = tol.filter(pl.col("kind") == "rounding").select(_PAIR)
    small = exceptions.filter(
        (pl.col("type") == "rounding") & (pl.col("status") == "open") & (pl.col("amount") != 0)
    )
    small = to_base(small, "amount", **fx).sort("exception_id")
    small = small.join(rounded, on=_PAIR, how="anti", nulls_equal=True, maintain_order="left")
    over_receipt = pl.col("invoice_id").is_null()
    written_off = small.filter(
        amount.is_not_null() & (amount.abs() <= config.write_off_threshold)
    ).select(
        pl.lit(False).alias("in_subledger"),
        pl.when(over_receipt)
        .then(pl.lit("unapplied_cash"))
        .otherwise(pl.lit("write_off"))
        .alias("role"),
        pl.when(over_receipt)
        .then(pl.lit("write_off_gain"))
        .otherwise(pl.lit("ar"))
        .alias("counter"),
        amount.alias("amount"),
        pl.col("customer_id").cast(pl.String),
        pl.col("exception_id").cast(pl.String).alias("reference"),
        pl.concat_str(
            pl.when(over_receipt)
            .then(pl.concat_str(pl.lit("small over-receipt on "), _text("receipt_id")))
            .otherwise(pl.lit("small short payment on invoice ")),
            pl.when(over_receipt)
            .then(pl.lit(" taken to income"))
            .otherwise(pl.concat_str(_text("invoice_id"), pl.lit(" written off"))),
            pl.lit(" ("),
            fmt_money_expr("amount"),
            pl.lit(" "),
            _text("currency"),
            pl.lit(")"),
        ).alias("description"),
    )

    items = [booked.cast(_ITEM_COLUMNS), written_off.cast(_ITEM_COLUMNS)]
    if provision is not None and provision.movement:
        movement = provision.movement
        items.append(
            pl.DataFrame(
                [
                    {
                        "in_subledger": False,
                        "role": "impairment",
                        "counter": "allowance",
                        "amount": movement,
                        "customer_id": None,
                        "reference": f"ECL {period}",
                        "description": "expected credit loss (IFRS 9 matrix): closing "
                        f"{fmt_money(provision.total_provision)} − opening "
                        f"{fmt_money(provision.opening_provision)} = "
                        f"{'charge' if movement > 0 else 'release'} {fmt_money(abs(movement))}",
                    }
                ],
                schema=_ITEM_COLUMNS,
            )
        )
    return _lines(pl.concat(items, how="vertical"), period, base_currency, config)


def _lines(
    items: pl.DataFrame, period: str, base_currency: str, config: JournalConfig
) -> pl.DataFrame:
    """Two lines per entry, in order: the debit (the role's account when the amount is
    positive, else the counter's) then the credit, each for the amount's absolute value."""
    roles = ("ar", "unapplied_cash", "write_off_gain", "impairment", "allowance")
    roles += tuple(dict.fromkeys(role for role, _, _ in _KINDS.values()))
    codes = {r: config.account(r)[0] for r in roles}
    names = {r: config.account(r)[1] for r in roles}
    positive = pl.col("amount") > 0
    size = pl.col("amount").abs()
    zero = pl.lit(ZERO, dtype=MONEY)
    entries = items.with_row_index("_n", offset=1).with_columns(
        pl.when(positive).then("role").otherwise("counter").alias("_dr"),
        pl.when(positive).then("counter").otherwise("role").alias("_cr"),
    )
    keep = ("_n", "customer_id", "reference", "description", "in_subledger")
    sides = [
        entries.select(*keep, pl.lit(line).alias("line"), pl.col(role).alias("_role"), *money)
        for line, role, money in (
            (1, "_dr", (size.alias("debit"), zero.alias("credit"))),
            (2, "_cr", (zero.alias("debit"), size.alias("credit"))),
        )
    ]
    lines = (
        pl.concat(sides, how="vertical")
        .sort("_n", "line")
        .select(
            pl.format(
                "{}-{}-{}",
                pl.lit(config.journal_prefix),
                pl.lit(period),
                pl.col("_n").cast(pl.String).str.zfill(3),
            ).alias("journal_id"),
            "line",
            pl.col("_role").replace_strict(codes).alias("account"),
            pl.col("_role").replace_strict(names).alias("account_name"),
            "debit",
            "credit",
            pl.lit(base_currency).alias("currency"),
            "customer_id",
            "reference",
            "description",
            "in_subledger",
        )
        .cast(LINE_COLUMNS)
    )
    check_balanced(lines)
    return lines


def check_balanced(lines: pl.DataFrame) -> None:
    """Raise ``AssertionError`` unless every journal (and the whole proposal) balances."""
    per = lines.group_by("journal_id").agg(pl.col("debit").sum(), pl.col("credit").sum())
    bad = per.filter(pl.col("debit") != pl.col("credit"))
    if bad.height:
        raise AssertionError(f"unbalanced journals: {bad['journal_id'].to_list()}")
    if lines["debit"].sum() != lines["credit"].sum():
        raise AssertionError("journal proposal does not balance")
