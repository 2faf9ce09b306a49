"""Disputes (争议处理工单): one per invoice a customer disputes, followed until resolved.

A reply that does not confirm opens a dispute for each invoice it names, with the amount
and the customer's remark, unless one on that invoice is still unresolved (then the
repeat is noted in its history). Its id is ``D-<statement number>-<invoice>``, so the same
reply gives the same id in every rerun and every later close. Its status is ``open``,
``in_review`` or ``resolved``; it changes when a collector logs a contact naming the
dispute and its new status (``inputs.contacts``: ``dispute_id``, ``dispute_status``), or
when the customer later confirms a statement of a later period (the balance they confirm
holds the invoice at our amount, so the difference is settled). Every change is a row of
the history: date, close, status, by whom, why.

An invoice under an unresolved dispute is not dunned
(:func:`arlib.statements.disputed_invoices` asks :func:`open_dispute_invoices`).

The registers are small (the disputes of a customer base, not its invoices), so they are
updated row by row, in date order, which keeps each change's reason readable.
"""

from __future__ import annotations

import polars as pl

from arlib import findings as fnd
from arlib.schema import MONEY

DISPUTE_STATUSES = ("open", "in_review", "resolved")
UNRESOLVED = ("open", "in_review")
DISPUTE_SCHEMA = {
    "dispute_id": pl.String,
    "customer_id": pl.String,
    "invoice_id": pl.String,
    "currency": pl.String,
    "amount": MONEY,
    "remark": pl.String,
    "statement_no": pl.String,
    "opened": pl.Date,
    "opened_in": pl.String,
    "owner": pl.String,
    "status": pl.String,
    "status_date": pl.Date,
    "source_file": pl.String,
    "source_row": pl.Int64,
}
HISTORY_SCHEMA = {
    "dispute_id": pl.String,
    "date": pl.Date,
    "period": pl.String,
    "status": pl.String,
    "by": pl.String,
    "note": pl.String,
}


def dispute_id(statement_no: str, invoice_id: str) -> str:
    return f"D-{statement_no}-{invoice_id}"


def empty_disputes() -> pl.DataFrame:
    return pl.DataFrame(schema=DISPUTE_SCHEMA)


def empty_history() -> pl.DataFrame:
    return pl.DataFrame(schema=HISTORY_SCHEMA)


def open_dispute_invoices(disputes: pl.DataFrame | None) -> set[str]:
    """Invoices under a dispute not yet resolved: they count as disputed for dunning."""
    if disputes is None or disputes.height == 0:
        return set()
    held = disputes.filter(pl.col("status").is_in(UNRESOLVED))["invoice_id"].drop_nulls()
    return set(held.to_list())


def update_disputes(
    disputes: pl.DataFrame,
    history: pl.DataFrame,
    replies: pl.DataFrame,
    changes: pl.DataFrame,
    invoices: pl.DataFrame,
    period: str,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The registers after this close's replies (checked, :func:`~arlib.followup.replies.
    check_replies`) and status changes (contacts naming a dispute and a status); a finding
    for a change naming a dispute that is not on record.

    Returns (disputes, history, findings).
    """
    rows = {r["dispute_id"]: r for r in disputes.iter_rows(named=True)}
    events = history.to_dicts()
    currency = dict(
        invoices.select("invoice_id", "currency").unique("invoice_id", keep="first").iter_rows()
    )

    def change(d: dict, date, status: str, by: str | None, note: str | None) -> None:
        events.append(
            {"dispute_id": d["dispute_id"], "date": date, "period": period, "status": status,
             "by": by, "note": note}
        )  # fmt: skip
        d["status"], d["status_date"] = status, date

    ordered = replies.sort("reply_date", "source_row") if replies.height else replies
    for r in ordered.iter_rows(named=True):
        by = f"customer reply {r['statement_no']}"
        if r["confirmed"]:
            reply_period = r["statement_no"][:7]
            for d in rows.values():
                if (
                    d["customer_id"] == r["customer_id"]
                    and d["status"] in UNRESOLVED
                    and d["statement_no"][:7] < reply_period
                ):
                    change(d, r["reply_date"], "resolved", by, "the customer confirmed the "
                           f"balance of statement {r['statement_no']}")  # fmt: skip
            continue
        if r["invoice_id"] is None:
            continue
        held = [
            d
            for d in rows.values()
            if d["invoice_id"] == r["invoice_id"] and d["status"] in UNRESOLVED
        ]
        if held:
            d = held[0]
            events.append(
                {"dispute_id": d["dispute_id"], "date": r["reply_date"], "period": period,
                 "status": d["status"], "by": by,
                 "note": f"raised again: {r['amount']} {r['remark'] or ''}".strip()}
            )  # fmt: skip
            continue
        new = dispute_id(r["statement_no"], r["invoice_id"])
        rows[new] = {
            "dispute_id": new,
            "customer_id": r["customer_id"],
            "invoice_id": r["invoice_id"],
            "currency": currency.get(r["invoice_id"]),
            "amount": r["amount"],
            "remark": r["remark"],
            "statement_no": r["statement_no"],
            "opened": r["reply_date"],
            "opened_in": period,
            "owner": None,
            "source_file": r["source_file"],
            "source_row": r["source_row"],
        }
        change(rows[new], r["reply_date"], "open", by, r["remark"])
    unknown = []
    ordered = changes.sort("date", "source_row") if changes.height else changes
    for c in ordered.iter_rows(named=True):
        d = rows.get(c["dispute_id"])
        if d is None or d["customer_id"] != c["customer_id"]:
            unknown.append(c)
            continue
        if d["status"] != c["dispute_status"]:
            change(d, c["date"], c["dispute_status"], c["person"], c["outcome"])
    found = fnd.from_rows(
        pl.DataFrame(unknown, schema=changes.schema),
        pl.lit(True),
        severity="error",
        column="dispute_id",
        rule="unknown_dispute",
        message="no dispute of this customer on record with this id",
    )
    register = pl.DataFrame(list(rows.values()), schema=DISPUTE_SCHEMA).sort("dispute_id")
    log = pl.DataFrame(events, schema=HISTORY_SCHEMA)
    return register, log, found


def assign_owners(disputes: pl.DataFrame, collectors: pl.DataFrame) -> pl.DataFrame:
    """Each dispute without an owner gets its customer's collector (``collectors``:
    customer_id, collector); an owner once given stays, whoever collects later."""
    return (
        disputes.join(collectors, on="customer_id", how="left")
        .with_columns(pl.coalesce("owner", "collector").alias("owner"))
        .select(list(DISPUTE_SCHEMA))
    )


def open_disputes(disputes: pl.DataFrame, as_of) -> pl.DataFrame:
    """Unresolved disputes with their age in days (from the reply that opened them), the
    oldest first: the register a reviewer reads by age and owner."""
    return (
        disputes.filter(pl.col("status").is_in(UNRESOLVED))
        .with_columns((pl.lit(as_of) - pl.col("opened")).dt.total_days().alias("age_days"))
        .sort("age_days", "dispute_id", descending=[True, False])
    )


def by_owner(disputes: pl.DataFrame, as_of, bands: tuple[int, ...] = (30, 60, 90)) -> pl.DataFrame:
    """Unresolved disputes per owner and age band (days since opened), with their amount
    per currency: how many and how much each owner holds, and for how long."""
    aged = open_disputes(disputes, as_of)
    band = pl.lit(f">{bands[-1]}")
    for low, high in reversed(list(zip((-1, *bands), bands, strict=False))):
        band = pl.when(pl.col("age_days") <= high).then(pl.lit(f"{low + 1}-{high}")).otherwise(band)
    return (
        aged.with_columns(band.cast(pl.String).alias("age_band"))
        .group_by("owner", "age_band", "currency")
        .agg(pl.len().alias("disputes"), pl.col("amount").sum())
        .sort("owner", "age_band", "currency", nulls_last=True)
    )
