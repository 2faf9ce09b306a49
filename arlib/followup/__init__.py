"""Customer follow-up (沟通确认 and 逾期管理): what customers answered, what they dispute,
what collectors did, and who must do what next.

Four steps, one module each, on plain frames:

- :mod:`~arlib.followup.replies`: replies to statements (回函) read and checked; the
  statement register (issued, awaiting reply, confirmed, disputed) and the confirmation
  register (customer, statement, date, confirmed balance).
- :mod:`~arlib.followup.disputes`: a dispute (争议处理工单) per disputed item, with a stable id,
  an owner, a status and a history of status changes.
- :mod:`~arlib.followup.contacts`: the collectors' contact log and promises to pay, kept,
  pending or broken (exact money).
- :mod:`~arlib.followup.tasks`: collectors assigned to customers, and the tasks of each.

This module runs them: :func:`at_load` when the period is loaded (the disputes must be
known before letters are planned), :func:`follow_up` after the review (owners and tasks
need the overdue tiers). The registers are carried from close to close in files beside
``open_items.parquet`` (:data:`arlib.carry.FOLLOWUP_REGISTERS`); an open items file without
them (a close before they existed) reads as a start with nothing on record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl

from arlib import carry
from arlib import findings as fnd
from arlib.followup import contacts as ct
from arlib.followup import disputes as dp
from arlib.followup import replies as rp
from arlib.followup import tasks as tk
from arlib.followup.tasks import FollowupConfig
from arlib.schema import MONEY

SCHEMAS = {
    "statements": rp.STATEMENT_SCHEMA,
    "disputes": dp.DISPUTE_SCHEMA,
    "dispute_history": dp.HISTORY_SCHEMA,
    "contacts": ct.CONTACT_SCHEMA,
}
REGISTER_KIND = "followup_{}"

__all__ = ["FollowUp", "FollowupConfig", "at_load", "follow_up", "read_registers"]


@dataclasses.dataclass(frozen=True)
class FollowUp:
    """The follow-up of a close, computed before anything renders it."""

    statements: pl.DataFrame  # the statement register, this close's statements included
    confirmations: pl.DataFrame
    disputes: pl.DataFrame  # every dispute on record, owners assigned
    history: pl.DataFrame  # every status change of every dispute
    contacts: pl.DataFrame  # the whole contact log, promises judged
    promises: pl.DataFrame
    collectors: pl.DataFrame
    tasks: pl.DataFrame
    findings: pl.DataFrame

    def summary(self, as_of: dt.date) -> dict[str, int]:
        """The counts the notebook states and the tests read back."""
        status = self.statements.unique("statement_no")["status"]
        promised = self.promises["promise_status"]
        return {
            "statements_issued": status.len(),
            "replies_confirmed": int((status == "confirmed").sum()),
            "replies_disputed": int((status == "disputed").sum()),
            "replies_outstanding": int((status == "awaiting").sum()),
            "disputes_open": dp.open_disputes(self.disputes, as_of).height,
            "disputes_resolved": int((self.disputes["status"] == "resolved").sum()),
            "promises_kept": int((promised == "kept").sum()),
            "promises_broken": int((promised == "broken").sum()),
            "promises_pending": int((promised == "pending").sum()),
            "tasks": self.tasks.height,
            "collectors": self.tasks["collector"].n_unique(),
        }


def read_registers(opening: Path | None, shown_dir: str) -> tuple[dict, list[fnd.Finding]]:
    """The registers the previous close left beside its open items (empty where it left
    none), and a finding for one that is not a register of that kind."""
    registers = {name: pl.DataFrame(schema=schema) for name, schema in SCHEMAS.items()}
    found: list[fnd.Finding] = []
    if opening is None:
        return registers, found
    for name, schema in SCHEMAS.items():
        path = carry.followup_path(opening, name)
        if not path.is_file():
            continue
        shown = f"{shown_dir}/{path.name}" if shown_dir else path.name
        try:
            kind = pl.read_parquet_metadata(path).get(carry.KIND_KEY)
            frame = pl.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - a corrupt file is a finding
            found.append(fnd.error(shown, None, None, None, "unreadable", fnd.excerpt(str(exc))))
            continue
        missing = [c for c in schema if c not in frame.columns]
        if kind != REGISTER_KIND.format(name) or missing:
            found.append(
                fnd.error(
                    shown,
                    None,
                    ", ".join(missing) or None,
                    kind,
                    "wrong_kind",
                    f"not the follow-up register of {name} a close writes",
                )  # fmt: skip
            )
            continue
        registers[name] = frame.select([pl.col(c).cast(t) for c, t in schema.items()])
    return registers, found


def at_load(frames: dict, registers: dict, period: str, as_of: dt.date) -> list[pl.DataFrame]:
    """Check this period's replies and contacts and bring the dispute register up to date;
    ``frames`` gains ``replies`` and ``contacts`` (checked), ``disputes`` and
    ``dispute_history`` (after them) and the carried ``opening_statements`` and
    ``opening_contacts``. Returns the findings."""
    replies, found_replies = rp.check_replies(
        frames["replies"], frames["customers"], frames["invoices"], period, as_of
    )
    contacts, found_contacts = ct.check_contacts(
        frames["contacts"], frames["customers"], frames["invoices"], period, as_of
    )
    disputes, history, found_disputes = dp.update_disputes(
        registers["disputes"],
        registers["dispute_history"],
        replies,
        contacts.filter(pl.col("dispute_id").is_not_null()),
        frames["invoices"],
        period,
    )
    frames.update(
        replies=replies,
        contacts=contacts,
        disputes=disputes,
        dispute_history=history,
        opening_statements=registers["statements"],
        opening_contacts=registers["contacts"],
    )
    return [found_replies, found_contacts, found_disputes]


def statement_balances(review, match, customer_ids: list[str]) -> pl.DataFrame:
    """customer_id, currency, balance (open invoices − unapplied cash): what each of these
    customers' statements shows, as :mod:`arlib.statements` totals it."""
    zero = pl.lit(0).cast(MONEY)
    owed = (
        review.aging.detail.filter(pl.col("customer_id").is_in(customer_ids))
        .group_by("customer_id", "currency")
        .agg(pl.col("open_amount").sum().alias("_open"))
    )
    cash = (
        match.receipts.filter(pl.col("customer_id").is_in(customer_ids) & (pl.col("unapplied") > 0))
        .group_by("customer_id", "currency")
        .agg(pl.col("unapplied").sum().alias("_cash"))
    )
    both = owed.join(cash, on=["customer_id", "currency"], how="full", coalesce=True)
    return both.select(
        "customer_id",
        "currency",
        (pl.col("_open").fill_null(zero) - pl.col("_cash").fill_null(zero))
        .cast(MONEY)
        .alias("balance"),
    ).sort("customer_id", "currency")


def follow_up(config, period, match, review) -> FollowUp:
    """The close's follow-up: statements issued and replies recorded, dispute owners,
    promises judged, collectors assigned and their tasks."""
    from arlib.statements import selected_customers

    frames = period.frames
    settings: FollowupConfig = config.followup
    as_of = config.as_of
    currencies = pl.concat(
        [
            review.aging.detail.select("customer_id", "currency"),
            match.receipts.filter(pl.col("unapplied") > 0).select("customer_id", "currency"),
        ]
    ).drop_nulls()
    collectors = tk.assign_collectors(frames["customers"], review.tiers, currencies, settings)
    disputes = dp.assign_owners(frames["disputes"], tk.dispute_owners(collectors, settings))
    issued = selected_customers(review, match, config.statements)
    register = rp.issue(
        frames["opening_statements"], statement_balances(review, match, issued), config.period
    )
    register, found = rp.record_replies(register, frames["replies"], config.period)
    log = pl.concat([frames["opening_contacts"], frames["contacts"]], how="vertical_relaxed")
    log = ct.judge_promises(log, match.receipts, as_of)
    reply_by = pl.col("period").str.to_date("%Y-%m").dt.month_end() + pl.duration(
        days=config.statements.reply_days
    )
    late = register.filter((pl.col("status") == "awaiting") & (reply_by < as_of))
    broken = ct.unanswered_broken(log)
    tasks = tk.collection_tasks(
        collectors=collectors,
        customers=frames["customers"],
        broken=broken,
        disputes=dp.open_disputes(disputes, as_of),
        tiers=review.tiers,
        late_replies=late,
        as_of=as_of,
        config=settings,
    )
    return FollowUp(
        statements=register,
        confirmations=rp.confirmations(register),
        disputes=disputes,
        history=frames["dispute_history"].sort("dispute_id", "date", maintain_order=True),
        contacts=log,
        promises=ct.promises(log),
        collectors=collectors,
        tasks=tasks,
        findings=fnd.concat(found),
    )


def write_registers(result: FollowUp, items: Path) -> list[Path]:
    """The registers beside ``items`` (open_items.parquet), for the next close."""
    written = []
    for name in SCHEMAS:
        frame = result.history if name == "dispute_history" else getattr(result, name)
        path = carry.followup_path(items, name)
        frame.select(list(SCHEMAS[name])).write_parquet(
            path,
            statistics=False,
            compression="zstd",
            metadata={carry.KIND_KEY: REGISTER_KIND.format(name)},
        )
        written.append(path)
    return written


def write_tables(result: FollowUp, out: Path) -> list[Path]:
    """``followup/*.csv``: what a person opens to work the follow-up."""
    from arlib.safe_output import write_csv

    folder = out / "followup"
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "tasks": result.tasks,
        "disputes": result.disputes,
        "dispute_history": result.history,
        "confirmations": result.confirmations,
        "statements": result.statements,
        "promises": result.promises,
        "contacts": result.contacts,
        "collectors": result.collectors,
    }
    return [write_csv(frame, folder / f"{name}.csv") for name, frame in tables.items()]
