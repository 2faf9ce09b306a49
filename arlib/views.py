"""The lists a person reads, in the order that matters, for the workbook and the notebooks.

A reviewer reads a list from the top and stops when time runs out, so the top must hold
what matters most: the largest amounts and the oldest items, not the lowest ids. Amounts of
different currencies are weighed in base currency at the as-of rates (never added), so a
EUR receipt is ranked against a CNY one by what it is worth. The workbook's sheets and the
notebooks' tables take their rows from here, so both show the same rows in the same order;
the CSVs keep a stable order by id for systems (README, outputs).
"""

from __future__ import annotations

import polars as pl

from arlib.aging import days_unapplied, to_base
from arlib.config import Config
from arlib.schema import MONEY

# The states of an exception in the order a reviewer takes them: what needs a person, what
# tolerance cleared (booked by the proposed adjustments), what this close resolved.
EXCEPTION_STATUSES = ("open", "cleared", "resolved")


def _in_base(frame: pl.DataFrame, amount: str, out: str, config: Config, fx_rates, currency: str):
    """``frame`` with ``out``: ``amount`` in base currency at the as-of rates (null without
    a rate, so the row sorts last instead of being guessed)."""
    converted = to_base(
        frame,
        amount,
        base_currency=config.base_currency,
        fx_rates=fx_rates,
        as_of=config.as_of,
        currency_col=currency,
        out=out,
    )
    return converted.drop("fx_rate") if "fx_rate" not in frame.columns else converted


def suggestions_with_amounts(result) -> pl.DataFrame:
    """Matching's suggestions with the receipt's amount beside the invoice's open amount
    and the difference, receipt − invoice: the figure a reviewer judges a candidate by
    (a near amount 319.00 short, a bank charge, a decimal shift). ``currency`` is the
    invoice's (as in matches.csv); a candidate in another currency than the receipt has no
    difference, since amounts of two currencies are not subtracted. Rows stay in matching's
    order (receipt, rank): this is suggestions.csv."""
    receipts = result.receipts.select(
        "receipt_id",
        pl.col("amount").alias("receipt_amount"),
        pl.col("currency").alias("receipt_currency"),
    )
    currencies = result.invoices.select(pl.col("invoice_id").alias("_first"), "currency").unique(
        "_first", keep="first"
    )
    same = pl.col("currency") == pl.col("receipt_currency")
    return (
        result.suggestions.with_columns(
            pl.col("invoice_ids").str.split("|").list.first().alias("_first")
        )
        .join(receipts, on="receipt_id", how="left")
        .join(currencies, on="_first", how="left")
        .with_columns(
            pl.when(same)
            .then(pl.col("receipt_amount") - pl.col("amount"))
            .cast(MONEY)
            .alias("difference")
        )
        .drop("_first")
    )


def suggestions_for_review(result, config: Config, fx_rates) -> pl.DataFrame:
    """The suggestions a person reviews, largest receipt first (base currency at the as-of
    rates), each receipt's candidates together in rank order: who paid, how much, which
    invoice(s) it may be for, their open amount and the difference."""
    dates = result.receipts.select("receipt_id", "value_date", "payer_name")
    rows = _in_base(
        suggestions_with_amounts(result).join(dates, on="receipt_id", how="left"),
        "receipt_amount",
        "_receipt_base",
        config,
        fx_rates,
        "receipt_currency",
    )
    return rows.sort(
        ["_receipt_base", "receipt_id", "rank"], descending=[True, False, False], nulls_last=True
    ).select(
        "receipt_id",
        "value_date",
        "payer_name",
        "receipt_amount",
        "receipt_currency",
        "rank",
        "customer_id",
        "invoice_ids",
        pl.col("amount").alias("invoice_amount"),
        "currency",
        "difference",
        "score",
        "rule",
        "reason",
    )


def unapplied_for_review(receipts: pl.DataFrame, config: Config, fx_rates) -> pl.DataFrame:
    """Receipts not (fully) applied (unapplied_receipts.csv's rows), the largest unapplied
    amount first (base currency at the as-of rates), then the oldest, with how long each
    has waited."""
    rows = _in_base(
        receipts.filter(pl.col("unapplied") != 0),
        "unapplied",
        "unapplied_base",
        config,
        fx_rates,
        "currency",
    ).with_columns(days_unapplied(config.as_of))
    return rows.sort(
        ["unapplied_base", "value_date", "receipt_id"],
        descending=[True, False, False],
        nulls_last=True,
    ).select(
        "receipt_id",
        "value_date",
        "days_unapplied",
        "payer_name",
        "payer_account",
        "customer_id",
        "memo",
        "amount",
        "currency",
        "allocated",
        "unapplied",
        "unapplied_base",
        "status",
        "origin_period",
        "source_file",
        "source_row",
    )


def exceptions_for_review(exceptions: pl.DataFrame, config: Config, fx_rates) -> pl.DataFrame:
    """Exceptions open first, then cleared, then resolved (:data:`EXCEPTION_STATUSES`);
    within each the largest amount first (absolute, base currency at the as-of rates, shown
    as ``amount_base``), then the oldest (first seen), then by id. Those without an amount
    (a pattern, such as repeated late payment) close each group."""
    rank = {status: i for i, status in enumerate(EXCEPTION_STATUSES)}
    rows = _in_base(exceptions, "amount", "amount_base", config, fx_rates, "currency")
    ordered = rows.sort(
        pl.col("status").replace_strict(rank, default=len(rank), return_dtype=pl.Int64),
        pl.col("amount_base").abs(),
        "first_seen",
        "exception_id",
        descending=[False, True, False, False],
        nulls_last=True,
    )
    columns = [c for c in ordered.columns if c != "amount_base"]
    at = columns.index("currency") + 1
    return ordered.select(*columns[:at], "amount_base", *columns[at:])


def aging_by_customer(by_customer: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    """The aging per customer with each customer's name, the largest total outstanding
    first. Unapplied cash from payers no customer was found for has no customer id; its row
    says so in the name."""
    names = customers.select("customer_id", "name").unique("customer_id", keep="first")
    named = by_customer.join(names, on="customer_id", how="left").with_columns(
        pl.when(pl.col("customer_id").is_null())
        .then(pl.lit("(payer not identified)"))
        .otherwise(pl.col("name"))
        .alias("name")
    )
    columns = by_customer.columns
    return named.sort(
        ["total_outstanding", "net_balance", "customer_id"],
        descending=[True, True, False],
        nulls_last=True,
    ).select(columns[0], "name", *columns[1:])
