"""Customers' replies to statements (回函): checked, and kept in the statement register.

A reply file (``inputs.replies``, the template is ``docs/templates/replies_template.csv``)
has one row per reply that confirms the balance, and one row per disputed invoice of a
reply that does not: customer, statement number, confirmed (是/否, Y/N, yes/no,
true/false), and for a difference the invoice, the amount and the customer's remark.

Statement numbers are ``<period>-<customer_id>`` (``2026-09-C000005``): statements carry
no number of their own yet, and this is the form the statements are to print.

A reply that confirms the balance *and* lists a difference is refused (an error on its
row): confirming means there is no difference, so reading it either way would be a guess;
the customer (or the preparer, after asking) writes 否 and lists the items.

The statement register holds every statement a close issued, per currency, with the
balance it showed, and what came of it: ``awaiting`` a reply, ``confirmed``, ``disputed``,
or ``superseded`` (a later statement went out before any reply). Its confirmed rows are the
confirmation register: customer, statement, date, confirmed balance.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from arlib import findings as fnd
from arlib.schema import MONEY

STATEMENT_STATUSES = ("awaiting", "confirmed", "disputed", "superseded")
STATEMENT_SCHEMA = {
    "statement_no": pl.String,
    "customer_id": pl.String,
    "period": pl.String,  # the close that issued it
    "currency": pl.String,
    "balance": MONEY,  # as the statement showed it: open invoices − unapplied cash
    "status": pl.String,
    "reply_date": pl.Date,
    "stated_balance": MONEY,  # the balance the customer wrote, when they wrote one
    "replied_in": pl.String,  # the close whose reply file held the reply
}
_NUMBER = r"^(\d{4}-\d{2})-(.+)$"


def statement_no(period: str, customer_id: str) -> str:
    """A statement's number: its period and the customer (``2026-09-C000005``)."""
    return f"{period}-{customer_id}"


def statement_period(number: pl.Expr) -> pl.Expr:
    """The period of a statement number (null when it is not one)."""
    return number.str.extract(_NUMBER, 1)


def check_replies(
    replies: pl.DataFrame,
    customers: pl.DataFrame,
    invoices: pl.DataFrame,
    period: str,
    as_of: dt.date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The replies that can be acted on, and a finding for every row that cannot.

    Refused, each naming file, row, column and value: an unknown customer; a statement
    number not of the form ``<period>-<customer_id>`` (or the statement's document number
    ``ST-<period>-<customer_id>``) of the row's customer, or of a period
    after this close; a reply that confirms and lists a difference; a difference without
    an invoice of that customer, or without an amount above zero and at most the
    invoice's; the same invoice twice in one reply; one reply both confirming and not.
    A reply that does not confirm but names no invoice is kept with a warning (someone
    must ask what differs). ``reply_date`` defaults to the as-of date.
    """
    if replies.height == 0:
        return replies.with_columns(pl.lit(None, pl.Date).alias("reply_date")), fnd.concat()
    # the number printed on the statement is its document number, ST-<period>-<customer>
    replies = replies.with_columns(pl.col("statement_no").str.strip_prefix("ST-"))
    work = replies.with_columns(
        pl.col("reply_date").fill_null(as_of),
        statement_period(pl.col("statement_no")).alias("_period"),
        pl.col("statement_no").str.extract(_NUMBER, 2).alias("_customer"),
    ).join(
        invoices.select(
            "invoice_id",
            pl.col("customer_id").alias("_invoice_customer"),
            pl.col("amount").alias("_invoice_amount"),
        ).unique("invoice_id", keep="first"),
        on="invoice_id",
        how="left",
    )
    differs = pl.col("invoice_id").is_not_null() | pl.col("amount").is_not_null()
    confirmed = pl.col("confirmed").fill_null(False)
    reply_key = ["source_file", "statement_no"]
    answers = pl.col("confirmed").drop_nulls().n_unique().over(reply_key)
    mixed = (answers > 1) & pl.col("confirmed").is_not_null()
    repeated = (
        pl.col("invoice_id").is_not_null() & pl.struct("statement_no", "invoice_id").is_duplicated()
    )
    known = pl.col("customer_id").is_in(customers["customer_id"].implode())
    checks = [
        (~known & pl.col("customer_id").is_not_null(), "customer_id", "unknown_customer",
         "no such customer in the customer master"),
        (pl.col("statement_no").is_not_null()
         & (pl.col("_customer").is_null() | (pl.col("_customer") != pl.col("customer_id"))),
         "statement_no", "bad_statement_no",
         pl.format("expected <period>-<customer_id>, here {}-{}", pl.lit(period),
                   pl.col("customer_id"))),
        (pl.col("_period") > period, "statement_no", "future_statement",
         f"a statement of a period after {period}, the period being closed"),
        (confirmed & differs, "confirmed", "confirmed_with_differences",
         "the reply confirms the balance and lists a difference: write 否 (not confirmed) "
         "to dispute the item, or leave the invoice and amount empty to confirm"),
        (mixed, "confirmed", "mixed_reply",
         "rows of this statement's reply both confirm and do not: one reply, one answer"),
        (~confirmed & pl.col("amount").is_not_null() & pl.col("invoice_id").is_null(),
         "invoice_id", "missing_value", "a disputed amount needs the invoice it is about"),
        (~confirmed & pl.col("invoice_id").is_not_null()
         & (pl.col("_invoice_customer").is_null()
            | (pl.col("_invoice_customer") != pl.col("customer_id"))),
         "invoice_id", "unknown_invoice", "not an open invoice of this customer"),
        (~confirmed & pl.col("invoice_id").is_not_null() & pl.col("amount").is_null(),
         "amount", "missing_value", "a disputed invoice needs the amount in dispute"),
        (pl.col("amount") <= 0, "amount", "bad_value", "a disputed amount is above zero"),
        (pl.col("amount") > pl.col("_invoice_amount"), "amount", "bad_value",
         pl.format("more than the invoice's amount {}", pl.col("_invoice_amount"))),
        (repeated, "invoice_id", "duplicate_item", "the same invoice twice in one reply"),
    ]  # fmt: skip
    found, bad = fnd.from_checks(work, checks)
    silent = ~confirmed & ~differs & pl.col("confirmed").is_not_null()
    found.append(
        fnd.from_rows(
            work,
            silent,
            severity="warning",
            column="invoice_id",
            rule="no_items",
            message="the reply does not confirm the balance but names no invoice: ask the "
            "customer which items differ",
        )
    )
    usable = work.filter(
        ~bad & pl.col("confirmed").is_not_null() & pl.col("customer_id").is_not_null()
    )
    return usable.drop("_period", "_customer", "_invoice_customer", "_invoice_amount"), fnd.concat(
        *found
    )


def empty_register() -> pl.DataFrame:
    return pl.DataFrame(schema=STATEMENT_SCHEMA)


def issue(register: pl.DataFrame, balances: pl.DataFrame, period: str) -> pl.DataFrame:
    """The register with this close's statements added (``balances``: customer_id,
    currency, balance), superseding the earlier ones of the same customers still awaiting
    a reply."""
    customers = balances["customer_id"].unique().implode()
    register = register.with_columns(
        pl.when((pl.col("status") == "awaiting") & pl.col("customer_id").is_in(customers))
        .then(pl.lit("superseded"))
        .otherwise(pl.col("status"))
        .alias("status")
    )
    issued = balances.select(
        (pl.lit(f"{period}-") + pl.col("customer_id")).alias("statement_no"),
        "customer_id",
        pl.lit(period).alias("period"),
        "currency",
        pl.col("balance").cast(MONEY),
        pl.lit("awaiting").alias("status"),
    )
    return pl.concat([register, issued], how="diagonal_relaxed").select(
        [pl.col(c).cast(t) for c, t in STATEMENT_SCHEMA.items()]
    )


def record_replies(
    register: pl.DataFrame, replies: pl.DataFrame, period: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The register with each reply's answer recorded on its statement, and a warning for
    a reply to a statement no close on record issued (recorded all the same, with the
    balance the customer wrote, so that the confirmation is not lost)."""
    if replies.height == 0:
        return register, fnd.concat()
    answers = replies.group_by("statement_no", maintain_order=True).agg(
        pl.col("customer_id").first(),
        pl.col("confirmed").first(),
        pl.col("reply_date").max(),
        pl.col("balance").drop_nulls().first().alias("stated_balance"),
        pl.col("source_file").first(),
        pl.col("source_row").first(),
    )
    unknown = answers.join(register, on="statement_no", how="anti")
    found = fnd.from_rows(
        unknown,
        pl.lit(True),
        severity="warning",
        column="statement_no",
        rule="statement_unknown",
        message="no close on record issued this statement; its reply is recorded with the "
        "balance the customer wrote",
    )
    status = pl.when(pl.col("confirmed")).then(pl.lit("confirmed")).otherwise(pl.lit("disputed"))
    update = answers.select(
        "statement_no",
        status.alias("_status"),
        pl.col("reply_date").alias("_date"),
        pl.col("stated_balance").alias("_stated"),
    )
    merged = register.join(update, on="statement_no", how="left").with_columns(
        pl.coalesce("_status", "status").alias("status"),
        pl.coalesce("_date", "reply_date").alias("reply_date"),
        pl.coalesce("_stated", "stated_balance").alias("stated_balance"),
        pl.when(pl.col("_status").is_not_null())
        .then(pl.lit(period))
        .otherwise(pl.col("replied_in"))
        .alias("replied_in"),
    )
    added = unknown.select(
        "statement_no",
        "customer_id",
        statement_period(pl.col("statement_no")).alias("period"),
        status.alias("status"),
        "reply_date",
        "stated_balance",
        pl.col("stated_balance").alias("balance"),
        pl.lit(period).alias("replied_in"),
    )
    out = pl.concat([merged.drop("_status", "_date", "_stated"), added], how="diagonal_relaxed")
    return out.select([pl.col(c).cast(t) for c, t in STATEMENT_SCHEMA.items()]), found


def confirmations(register: pl.DataFrame) -> pl.DataFrame:
    """The confirmation register: customer, statement, reply date, confirmed balance (the
    statement's, per currency) and the one the customer wrote, with their difference."""
    return (
        register.filter(pl.col("status") == "confirmed")
        .select(
            "customer_id",
            "statement_no",
            "reply_date",
            "currency",
            pl.col("balance").alias("confirmed_balance"),
            "stated_balance",
            (pl.col("stated_balance") - pl.col("balance")).cast(MONEY).alias("difference"),
            "replied_in",
        )
        .sort("reply_date", "customer_id", "statement_no", nulls_last=True)
    )
