"""Collectors and their tasks: who follows up each customer, what to do next, by when.

A customer's collector is the ``collector`` column of the customer master; else the
first of the params' rules (``followup.collectors``) that fits the customer's overdue tier
and the currencies of its open items; else the default collector. A dispute's owner is
the collector the customer has by the column or a rule, else ``followup.dispute_owner``
(else the default collector).

Tasks, most urgent first (priority 1 is the highest):

1. ``broken_promise``: a promise to pay broken and nobody has talked to the customer since;
2. ``dispute``: a dispute not yet resolved, for its owner;
3. ``overdue``: an overdue tier's collection action;
4. ``reply``: a statement whose reply is overdue (past ``statements.reply_days``).

Each is due a number of days after the as-of date set per kind in params.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from pydantic import Field

from arlib.paramtypes import Days, Section, Text, choice
from arlib.schema import CURRENCY_DECIMALS, MONEY

Currency = choice(tuple(CURRENCY_DECIMALS), "currency")

TASK_KINDS = ("broken_promise", "dispute", "overdue", "reply")
TASK_SCHEMA = {
    "collector": pl.String,
    "priority": pl.Int64,
    "kind": pl.String,
    "customer_id": pl.String,
    "name": pl.String,
    "next_action": pl.String,
    "due_date": pl.Date,
    "reference": pl.String,
    "currency": pl.String,
    "amount": MONEY,
}


class CollectorRule(Section):
    """One rule of ``followup.collectors``: customers of this tier and/or currency."""

    collector: Text = Field(description="who collects from the customers the rule fits")
    tier: Text | None = Field(None, description="the customer's overdue tier (A, B, C); null: any")
    currency: Currency | None = Field(
        None, description="a currency of the customer's open items; null: any"
    )


class FollowupConfig(Section):
    """``followup:`` section of the params: collectors, dispute owners and task due days."""

    default_collector: Text = Field(
        "AR team", description="collects from every customer no column or rule assigns"
    )
    collectors: tuple[CollectorRule, ...] = Field(
        (),
        description="rules assigning collectors by tier and/or currency, the first that fits "
        "wins; the customer master's collector column wins over them",
    )
    dispute_owner: Text | None = Field(
        None,
        description="owner of the disputes of customers without a collector of their own "
        "(column or rule); null: the default collector",
    )
    broken_promise_days: Days = Field(1, description="days to follow up a broken promise")
    dispute_days: Days = Field(5, description="days to move a dispute on")
    overdue_days: Days = Field(7, description="days to take an overdue tier's action")
    reply_days: Days = Field(3, description="days to chase a statement reply that is overdue")


def assign_collectors(
    customers: pl.DataFrame, tiers: pl.DataFrame, currencies: pl.DataFrame, config: FollowupConfig
) -> pl.DataFrame:
    """customer_id, collector (every customer), own (a collector by column or rule: a
    dispute's owner is then that collector, not ``dispute_owner``) and how it was set."""
    column = (
        pl.col("collector") if "collector" in customers.columns else pl.lit(None, pl.String)
    ).str.strip_chars()
    base = (
        customers.select("customer_id", column.replace("", None).alias("_column"))
        .join(tiers.select("customer_id", "tier"), on="customer_id", how="left")
        .join(
            currencies.group_by("customer_id").agg(pl.col("currency").unique()),
            on="customer_id",
            how="left",
        )
    )
    rule = pl.lit(None, pl.String)
    for r in reversed(config.collectors):
        fits = pl.lit(True)
        if r.tier is not None:
            fits = fits & (pl.col("tier") == r.tier).fill_null(False)
        if r.currency is not None:
            fits = fits & pl.col("currency").list.contains(r.currency).fill_null(False)
        rule = pl.when(fits).then(pl.lit(r.collector)).otherwise(rule)
    return base.select(
        "customer_id",
        pl.coalesce("_column", rule, pl.lit(config.default_collector)).alias("collector"),
        pl.coalesce("_column", rule).is_not_null().alias("own"),
        pl.when(pl.col("_column").is_not_null())
        .then(pl.lit("customer master"))
        .when(rule.is_not_null())
        .then(pl.lit("rule"))
        .otherwise(pl.lit("default"))
        .alias("assigned_by"),
    )


def dispute_owners(collectors: pl.DataFrame, config: FollowupConfig) -> pl.DataFrame:
    """customer_id, collector: who owns the customer's disputes."""
    fallback = config.dispute_owner or config.default_collector
    return collectors.select(
        "customer_id",
        pl.when(pl.col("own"))
        .then(pl.col("collector"))
        .otherwise(pl.lit(fallback))
        .alias("collector"),
    )


def collection_tasks(
    *,
    collectors: pl.DataFrame,
    customers: pl.DataFrame,
    broken: pl.DataFrame,
    disputes: pl.DataFrame,
    tiers: pl.DataFrame,
    late_replies: pl.DataFrame,
    as_of: dt.date,
    config: FollowupConfig,
) -> pl.DataFrame:
    """Every task of the close (:data:`TASK_SCHEMA`), by collector, priority, due date."""

    def due(days: int) -> pl.Expr:
        return pl.lit(as_of + dt.timedelta(days=days))

    parts = [
        broken.select(
            pl.lit(1).alias("priority"),
            pl.lit("broken_promise").alias("kind"),
            "customer_id",
            pl.format(
                "call: promised {} {} by {}, received {}; ask why and for a new date",
                "currency",
                "promise_amount",
                "promise_date",
                "paid",
            ).alias("next_action"),
            due(config.broken_promise_days).alias("due_date"),
            pl.col("promise_date").cast(pl.String).alias("reference"),
            "currency",
            (pl.col("promise_amount") - pl.col("paid")).cast(MONEY).alias("amount"),
        ),
        disputes.select(
            pl.lit(2).alias("priority"),
            pl.lit("dispute").alias("kind"),
            "customer_id",
            pl.format(
                "{} dispute on {}: {}", "status", "invoice_id", pl.col("remark").fill_null("")
            ).alias("next_action"),
            due(config.dispute_days).alias("due_date"),
            pl.col("dispute_id").alias("reference"),
            "currency",
            "amount",
            pl.col("owner").alias("collector"),
        ),
        tiers.filter(pl.col("tier").is_not_null()).select(
            pl.lit(3).alias("priority"),
            pl.lit("overdue").alias("kind"),
            "customer_id",
            pl.format("tier {}: {}", "tier", pl.col("action").fill_null("")).alias("next_action"),
            due(config.overdue_days).alias("due_date"),
            pl.format("tier {}", "tier").alias("reference"),
            pl.lit(None, pl.String).alias("currency"),
            pl.lit(None, MONEY).alias("amount"),
        ),
        late_replies.select(
            pl.lit(4).alias("priority"),
            pl.lit("reply").alias("kind"),
            "customer_id",
            pl.format("chase the reply to statement {}", "statement_no").alias("next_action"),
            due(config.reply_days).alias("due_date"),
            pl.col("statement_no").alias("reference"),
            "currency",
            pl.col("balance").alias("amount"),
        ),
    ]
    tasks = pl.concat(parts, how="diagonal_relaxed")
    if "collector" not in tasks.columns:
        tasks = tasks.with_columns(pl.lit(None, pl.String).alias("collector"))
    names = customers.select("customer_id", "name")
    return (
        tasks.join(
            collectors.select("customer_id", pl.col("collector").alias("_c")),
            on="customer_id",
            how="left",
        )
        .with_columns(
            pl.coalesce("collector", "_c", pl.lit(config.default_collector)).alias("collector")
        )
        .join(names, on="customer_id", how="left")
        .select([pl.col(c).cast(t) for c, t in TASK_SCHEMA.items()])
        .sort("collector", "priority", "due_date", "customer_id", "reference", nulls_last=True)
    )


def tasks_per_collector(tasks: pl.DataFrame) -> pl.DataFrame:
    """How many tasks each collector has, of each kind, and the first due date."""
    counts = tasks.group_by("collector").agg(
        pl.len().alias("tasks"),
        *[(pl.col("kind") == k).sum().alias(k) for k in TASK_KINDS],
        pl.col("due_date").min().alias("first_due"),
    )
    return counts.sort("collector")
