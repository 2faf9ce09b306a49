"""Dunning (催收) that follows the record: which notice each overdue invoice gets, from the
notices it was actually sent.

Why per invoice, and why only what was sent: a letter that says "second notice" claims a
first one reached the customer. Mature ERPs (SAP's dunning run, Oracle's collections)
keep a dunning level on each open item and raise it by one for every notice that went out;
the notice's level is the highest level of the items it names, never more than the
procedure allows. Here:

- an invoice's level is the number of closes in which a notice about it was **sent** or
  **confirmed** (:data:`COUNTED`), plus one: two channels of one close (an e-mail and an
  SMS) are one notice;
- a notice is ``prepared`` when a close writes it into its outbox (:mod:`arlib.outbox`),
  ``sent`` when ``arlib send`` recorded that the mail server accepted it, ``failed`` when
  it refused it, and ``confirmed`` when a person recorded that it went out by another way
  (an SMS uploaded to the gateway, a phone call made: ``arlib send --confirm``). A close
  whose outbox was never sent (the demo never sends) therefore escalates nobody: what was
  only prepared is not a notice the customer had;
- the customer's letter takes the highest level of its overdue, undisputed invoices,
  capped by what its overdue tier asks for (:func:`tier_cap`): the most severe tier
  (A, legal letter and stop supply) up to a final demand, the mildest (C, e-mail reminder)
  a reminder only, those between (B, SMS and phone) a second notice;
- invoices under dispute (:func:`arlib.statements.disputed_invoices`) are not dunned, nor
  are those a receipt not yet applied probably pays
  (:func:`arlib.statements.payment_pending_invoices`) until that receipt is settled.

The notices travel with the open items (``item_type`` ``notice``: one row per notice and
invoice, with its channel, recipient, level, status and history) while their invoice is
open; the next close reads them back, with the results ``arlib send`` logged in the
previous close's outbox (:func:`with_contact_log`).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl

#: a notice's wording, mildest first: level 1, 2, 3
LEVELS = ("reminder", "second", "final")
STATUSES = ("prepared", "sent", "failed", "confirmed")
#: the statuses that make a notice one the customer had
COUNTED = ("sent", "confirmed")
CHANNELS = ("email", "sms", "phone")
#: words of a tier's collection action (``tiers.actions``) and the channel each means
CHANNEL_WORDS = {
    "email": ("email", "e-mail", "mail", "letter", "邮件", "函"),
    "sms": ("sms", "text message", "短信"),
    "phone": ("phone", "call", "电话"),
}

NOTICE_SCHEMA = {
    "notice_id": pl.String,  # the outbox message (2026-10/C001/email)
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "period": pl.String,  # the close that prepared it
    "level": pl.String,
    "channel": pl.String,
    "recipient": pl.String,
    "status": pl.String,
    "date": pl.Date,  # prepared: the as-of date; sent / confirmed / failed: when logged
    "history": pl.String,
}
LETTER_SCHEMA = {
    "customer_id": pl.String,
    "tier": pl.String,
    "level": pl.String,
    "invoices": pl.List(pl.String),  # the overdue, undisputed invoices the letter names
    "notices_before": pl.Int64,  # notices counted for the most-dunned of them
}


def tier_cap(tier: str, order: list[str]) -> str:
    """The most a notice may say for a tier, by the tier's place: the most severe tier a
    final demand, the mildest a reminder, any between a second notice."""
    pos = order.index(tier)
    if pos == 0 and len(order) > 1:
        return "final"
    return "reminder" if pos == len(order) - 1 else "second"


def action_channels(action: str | None) -> tuple[str, ...]:
    """The channels a collection action names (:data:`CHANNEL_WORDS`, in
    :data:`CHANNELS` order): "legal letter and stop supply" is e-mail, "daily SMS / phone
    call" SMS and phone; an action naming none (``escalate to sales``) sends nothing."""
    text = (action or "").lower()
    found = []
    for channel in CHANNELS:
        words = CHANNEL_WORDS[channel]
        if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text) for w in words):
            found.append(channel)
    return tuple(found)


def tier_channels(config) -> dict[str, tuple[str, ...]]:
    """Channels per tier: ``outbox.channels`` where given, else read from the action."""
    given = config.outbox.channels
    return {
        tier: tuple(given[tier]) if tier in given else action_channels(config.tiers.actions[tier])
        for tier in config.tiers.order
    }


def counted_notices(notices: pl.DataFrame) -> pl.DataFrame:
    """Per invoice, how many closes sent or confirmed a notice about it (``sent``)."""
    return (
        notices.filter(pl.col("status").is_in(COUNTED))
        .group_by("invoice_id")
        .agg(pl.col("period").n_unique().cast(pl.Int64).alias("sent"))
    )


def plan_letters(config, review, match, frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The collection letters a close writes (:data:`LETTER_SCHEMA`, by customer).

    One per selected customer with an overdue tier once its invoices under dispute are left
    out. Its level is one past the most notices counted for any of its overdue invoices
    (``frames['notices']``, carried in the open items), never past what the tier asks for.
    """
    from arlib.aging import overdue_tiers
    from arlib.statements import dunning_holds, selected_customers

    settings = config.statements
    ids = selected_customers(review, match, settings) if settings.letters else []
    if not ids:
        return pl.DataFrame(schema=LETTER_SCHEMA)
    disputed, pending = dunning_holds(match, review, frames)
    dunnable = review.aging.detail.filter(
        pl.col("customer_id").is_in(ids) & ~pl.col("invoice_id").is_in([*disputed, *pending])
    )
    tier_config = config.tiers
    tiers = overdue_tiers(dunnable, frames["customers"], tier_config).filter(
        pl.col("tier").is_not_null()
    )
    before = (
        dunnable.filter(pl.col("days_past_due") > 0)
        .join(counted_notices(frames["notices"]), on="invoice_id", how="left")
        .sort("customer_id", "due_date", "invoice_id")
        .group_by("customer_id", maintain_order=True)
        .agg(
            pl.col("invoice_id").alias("invoices"),
            pl.col("sent").fill_null(0).max().alias("notices_before"),
        )
    )
    rows = []
    for cid, tier, invoices, sent in (
        tiers.join(before, on="customer_id")
        .select("customer_id", "tier", "invoices", "notices_before")
        .sort("customer_id")
        .iter_rows()
    ):
        cap = LEVELS.index(tier_cap(tier, tier_config.order))
        level = LEVELS[min(sent, cap)]
        rows.append(
            {
                "customer_id": cid,
                "tier": tier,
                "level": level,
                "invoices": invoices,
                "notices_before": sent,
            }
        )
    return pl.DataFrame(rows, schema=LETTER_SCHEMA)


# --------------------------------------------------------------------------- history
def prepared_notices(messages: pl.DataFrame, as_of: dt.date, period: str) -> pl.DataFrame:
    """This close's notices (:data:`NOTICE_SCHEMA`): one row per sendable ``notice``
    message of the outbox plan (:func:`arlib.outbox.plan_messages`) and invoice it names."""
    wanted = messages.filter((pl.col("kind") == "notice") & pl.col("sendable"))
    return (
        wanted.select(
            pl.col("message_id").alias("notice_id"),
            pl.col("invoices").str.split("|").alias("invoice_id"),
            "customer_id",
            pl.lit(period).alias("period"),
            "level",
            "channel",
            "recipient",
            pl.lit("prepared").alias("status"),
            pl.lit(as_of).alias("date"),
            pl.format(
                "{}: {} prepared by {} to {}", pl.lit(period), "level", "channel", "recipient"
            ).alias("history"),
        )
        .explode("invoice_id")
        .cast(NOTICE_SCHEMA)
        .select(list(NOTICE_SCHEMA))
    )


def notice_history(
    carried: pl.DataFrame, prepared: pl.DataFrame, open_invoices: pl.DataFrame
) -> pl.DataFrame:
    """The notices the next close starts from: those carried and this close's, for the
    invoices still open (a paid invoice's notices have done their work)."""
    still = open_invoices.filter(pl.col("open_amount") != 0).select("invoice_id")
    both = pl.concat([carried.select(list(NOTICE_SCHEMA)).cast(NOTICE_SCHEMA), prepared])
    return both.join(still, on="invoice_id", how="semi").sort("notice_id", "invoice_id")


CONTACT_LOG = "contact_log.csv"
#: the contact log ``arlib send`` appends to (outputs/<period>/outbox/contact_log.csv)
LOG_COLUMNS = (
    "logged_at",
    "message_id",
    "customer_id",
    "channel",
    "recipient",
    "result",
    "reply",
    "by",
)


def read_contact_log(path: Path) -> pl.DataFrame:
    """The contact log as text columns (empty when there is none; see
    :func:`check_contact_log` for one a person may have edited)."""
    if not path.is_file():
        return pl.DataFrame(schema={c: pl.String for c in LOG_COLUMNS})
    log = pl.read_csv(path, infer_schema=False)
    for c in LOG_COLUMNS:
        if c not in log.columns:
            log = log.with_columns(pl.lit(None, pl.String).alias(c))
    return log.select(LOG_COLUMNS).with_columns(pl.col("result").str.strip_chars("'"))


def check_contact_log(path: Path, shown: str) -> tuple[pl.DataFrame, list]:
    """The contact log and findings: one that cannot be read counts nothing (an error:
    the levels would be too low), a row whose result is none of :data:`STATUSES` counts
    nothing (a warning naming the row)."""
    from arlib import findings as fnd

    try:
        log = read_contact_log(path)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file is a finding
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        problem = f"the contact log cannot be read, so no notice counts as sent: {first}"
        empty = pl.DataFrame(schema={c: pl.String for c in LOG_COLUMNS})
        return empty, [fnd.error(shown, None, None, None, "unreadable", fnd.excerpt(problem))]
    known = pl.col("result").is_in(STATUSES[1:]).fill_null(False)
    odd = log.with_row_index("_row", offset=2).filter(~known)
    problems = [
        fnd.warning(
            shown,
            row,
            "result",
            value,
            "bad_value",
            "not a result of a message (sent, failed, confirmed): counted as nothing",
        )
        for row, value in odd.select("_row", "result").head(50).iter_rows()
    ]
    return log, problems


def message_results(log: pl.DataFrame) -> pl.DataFrame:
    """Each message's result: ``sent`` or ``confirmed`` when any row says so (the first
    such), else its last ``failed``; with when it was logged and what the server said."""
    rows = log.with_row_index("_n")
    counted = rows.filter(pl.col("result").is_in(COUNTED)).unique(
        "message_id", keep="first", maintain_order=True
    )
    rest = rows.join(counted.select("message_id"), on="message_id", how="anti").unique(
        "message_id", keep="last", maintain_order=True
    )
    return (
        pl.concat([counted, rest])
        .sort("_n")
        .select("message_id", "result", "logged_at", "reply", "by")
    )


def with_contact_log(notices: pl.DataFrame, log: pl.DataFrame) -> pl.DataFrame:
    """The carried notices with what the previous close's contact log says of them: a
    prepared notice becomes sent, confirmed or failed, dated when it was logged."""
    if log.height == 0 or notices.height == 0:
        return notices
    results = message_results(log).rename({"message_id": "notice_id"})
    joined = notices.join(results, on="notice_id", how="left")
    changed = pl.col("result").is_not_null() & (pl.col("result") != pl.col("status"))
    when = pl.col("logged_at").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    event = pl.format(
        "{}: {}{}",
        pl.col("logged_at").str.slice(0, 10),
        "result",
        pl.when(pl.col("reply").fill_null("") != "")
        .then(pl.format(" ({})", pl.col("reply").str.replace_all(r"\|", "/")))
        .otherwise(pl.lit("")),
    )
    return joined.with_columns(
        pl.when(changed).then(pl.col("result")).otherwise(pl.col("status")).alias("status"),
        pl.when(changed).then(when).otherwise(pl.col("date")).alias("date"),
        pl.when(changed)
        .then(pl.concat_str(["history", event], separator=" | "))
        .otherwise(pl.col("history"))
        .alias("history"),
    ).select(list(NOTICE_SCHEMA))


def legacy_findings(legacy: pl.DataFrame, shown: str) -> list:
    """A warning when the opening file holds per-customer letter rows of an earlier
    version: nothing recorded that those letters were sent, so they count as none."""
    from arlib import findings as fnd

    if legacy.height == 0:
        return []
    return [
        fnd.warning(
            shown,
            None,
            "item_type",
            "dunning",
            "unsent_letters",
            f"{legacy.height:,} customer(s) have letters of an earlier close that were never "
            "recorded as sent: they are not counted, so their next letter is a reminder",
        )
    ]


# --------------------------------------------------------------------------- open items
def notice_items(notices: pl.DataFrame) -> pl.DataFrame:
    """The notices as open-item rows (``item_type`` ``notice``; :mod:`arlib.carry`)."""
    return notices.select(
        pl.lit("notice").alias("item_type"),
        pl.col("notice_id").alias("item_id"),
        "customer_id",
        "date",
        "status",
        pl.col("period").alias("origin_period"),
        "history",
        "invoice_id",
        "channel",
        "recipient",
        pl.col("level").alias("dunning_level"),
    )


def notices_of(items: pl.DataFrame) -> pl.DataFrame:
    """The notices among open items (:data:`NOTICE_SCHEMA`)."""
    return (
        items.filter(pl.col("item_type") == "notice")
        .select(
            pl.col("item_id").alias("notice_id"),
            "invoice_id",
            "customer_id",
            pl.col("origin_period").alias("period"),
            pl.col("dunning_level").alias("level"),
            "channel",
            "recipient",
            "status",
            "date",
            "history",
        )
        .cast(NOTICE_SCHEMA)
    )
