"""The collectors' contact log (催收记录) and the promises to pay in it.

Each row is one contact: date, customer, channel, person, outcome, and optionally a
promise to pay (date and amount, in the row's currency or, when it names none, the
currency of the customer's open invoices) or a dispute's new status. The log is carried
from close to close, so a customer's whole contact history stays on record.

A promise is ``kept`` once the receipts identified as the customer's, in its currency,
dated from the day it was made (the contact's date) to the as-of date, add up to at least
the amount promised; ``broken`` when its date has passed (is before the as-of date) with
less received; else ``pending``. A promise due on the as-of date or later is not broken
yet. Amounts are exact: one cent short is short. What each close counted is added to
``paid``, so a promise made in one period and paid in the next is judged on both;
a kept or broken promise stays so.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from arlib import findings as fnd
from arlib.followup.disputes import DISPUTE_STATUSES
from arlib.schema import MONEY

PROMISE_STATUSES = ("pending", "kept", "broken")
CONTACT_SCHEMA = {
    "date": pl.Date,
    "customer_id": pl.String,
    "channel": pl.String,
    "person": pl.String,
    "outcome": pl.String,
    "promise_date": pl.Date,
    "promise_amount": MONEY,
    "currency": pl.String,
    "dispute_id": pl.String,
    "dispute_status": pl.String,
    "period": pl.String,  # the close whose contact file held it
    "paid": MONEY,  # received towards the promise so far
    "promise_status": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
}


def empty_log() -> pl.DataFrame:
    return pl.DataFrame(schema=CONTACT_SCHEMA)


def check_contacts(
    contacts: pl.DataFrame,
    customers: pl.DataFrame,
    invoices: pl.DataFrame,
    period: str,
    as_of: dt.date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """This close's contacts ready for the log, and a finding for every row that cannot
    be: an unknown customer; a contact after the as-of date; a promise with a date but no
    amount (or the reverse), an amount not above zero, a date before the contact, or no
    currency to judge it in (none written, and the customer's open invoices in several or
    none); a dispute status not one of open, in_review, resolved, or without the dispute."""
    currencies = (
        invoices.group_by("customer_id")
        .agg(pl.col("currency").unique().alias("_currencies"))
        .with_columns(
            pl.when(pl.col("_currencies").list.len() == 1)
            .then(pl.col("_currencies").list.first())
            .alias("_currency")
        )
        .select("customer_id", "_currency")
    )
    work = contacts.join(currencies, on="customer_id", how="left").with_columns(
        pl.col("dispute_status").str.to_lowercase().str.replace_all(r"[\s-]+", "_"),
    )
    promise = pl.col("promise_date").is_not_null() | pl.col("promise_amount").is_not_null()
    known = pl.col("customer_id").is_in(customers["customer_id"].implode())
    checks = [
        (~known & pl.col("customer_id").is_not_null(), "customer_id", "unknown_customer",
         "no such customer in the customer master"),
        (pl.col("date") > as_of, "date", "future_contact",
         f"after the as-of date {as_of.isoformat()}"),
        (pl.col("promise_amount").is_not_null() & pl.col("promise_date").is_null(),
         "promise_date", "missing_value", "a promised amount needs the date it is due"),
        (pl.col("promise_date").is_not_null() & pl.col("promise_amount").is_null(),
         "promise_amount", "missing_value", "a promise date needs the amount promised"),
        (pl.col("promise_amount") <= 0, "promise_amount", "bad_value",
         "a promised amount is above zero"),
        (pl.col("promise_date") < pl.col("date"), "promise_date", "bad_value",
         "a promise falls due on or after the day it was made"),
        (promise & pl.col("currency").is_null() & pl.col("_currency").is_null(), "currency",
         "missing_value", "name the currency of the promise (the customer's open invoices "
         "are in several currencies, or none)"),
        (pl.col("dispute_status").is_not_null()
         & ~pl.col("dispute_status").is_in(list(DISPUTE_STATUSES)),
         "dispute_status", "bad_value", f"a dispute status is one of {list(DISPUTE_STATUSES)}"),
        (pl.col("dispute_status").is_not_null() & pl.col("dispute_id").is_null(), "dispute_id",
         "missing_value", "a dispute status needs the dispute it is about"),
        (pl.col("dispute_id").is_not_null() & pl.col("dispute_status").is_null(),
         "dispute_status", "missing_value", "name the dispute's new status"),
    ]  # fmt: skip
    found, bad = fnd.from_checks(work, checks)
    usable = work.filter(~bad & pl.col("customer_id").is_not_null() & pl.col("date").is_not_null())
    log = usable.with_columns(
        pl.when(promise).then(pl.coalesce("currency", "_currency")).alias("currency"),
        pl.lit(period).alias("period"),
        pl.when(promise).then(pl.lit(0).cast(MONEY)).alias("paid"),
        pl.when(promise).then(pl.lit("pending")).alias("promise_status"),
    ).select([pl.col(c).cast(t) for c, t in CONTACT_SCHEMA.items()])
    return log, fnd.concat(*found)


def judge_promises(log: pl.DataFrame, receipts: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The log with each pending promise's ``paid`` raised by this close's receipts of the
    customer in its currency dated from the promise's day to ``as_of``, and its status
    judged (module docstring). ``receipts`` are the matched receipts of the close; those
    carried in from earlier closes (``origin`` opening) were counted there."""
    mine = receipts.filter(
        (pl.col("origin") == "period") & pl.col("customer_id").is_not_null()
    ).select("customer_id", "currency", "value_date", "amount")
    pending = log.with_row_index("_row").filter(pl.col("promise_status") == "pending")
    counted = (
        pending.select("_row", "customer_id", "currency", "date")
        .join(mine, on=["customer_id", "currency"], how="inner")
        .filter((pl.col("value_date") >= pl.col("date")) & (pl.col("value_date") <= as_of))
        .group_by("_row")
        .agg(pl.col("amount").sum().cast(MONEY).alias("_received"))
    )
    judged = log.with_row_index("_row").join(counted, on="_row", how="left")
    paid = (pl.col("paid") + pl.col("_received").fill_null(0)).cast(MONEY)
    pending_now = (pl.col("promise_status") == "pending").fill_null(False)
    status = (
        pl.when(~pending_now)
        .then(pl.col("promise_status"))
        .when(paid >= pl.col("promise_amount"))
        .then(pl.lit("kept"))
        .when(pl.col("promise_date") < as_of)
        .then(pl.lit("broken"))
        .otherwise(pl.lit("pending"))
    )
    return judged.with_columns(
        pl.when(pending_now).then(paid).otherwise(pl.col("paid")).alias("paid"),
        status.alias("promise_status"),
    ).select(list(CONTACT_SCHEMA))


def promises(log: pl.DataFrame) -> pl.DataFrame:
    """The promises to pay of the log, each with what is still short of it."""
    return (
        log.filter(pl.col("promise_status").is_not_null())
        .select(
            "customer_id",
            "date",
            "person",
            "promise_date",
            "currency",
            "promise_amount",
            "paid",
            pl.when(pl.col("paid") < pl.col("promise_amount"))
            .then(pl.col("promise_amount") - pl.col("paid"))
            .otherwise(pl.lit(0))
            .cast(MONEY)
            .alias("short"),
            "promise_status",
            (pl.col("promise_status") == "broken").alias("broken"),
            "period",
        )
        .sort("promise_date", "customer_id", "date")
    )


def unanswered_broken(log: pl.DataFrame) -> pl.DataFrame:
    """Broken promises with no contact of the customer logged after their date: each
    raises the customer's follow-up until someone talks to the customer again."""
    latest = log.group_by("customer_id").agg(pl.col("date").max().alias("_last"))
    return (
        log.filter(pl.col("promise_status") == "broken")
        .join(latest, on="customer_id", how="left")
        .filter(pl.col("_last") <= pl.col("promise_date"))
        .drop("_last")
    )
