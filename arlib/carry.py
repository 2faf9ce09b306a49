"""Carry-forward: what one close leaves open is where the next one starts.

``open_items.parquet`` holds, in one frame, the open invoices (with their open balance),
unapplied cash and open exceptions/disputes of a close, each with the period it first
appeared and a short history, and the dunning notices about each open invoice (which
notice, by which channel, to whom, and whether it was sent: :mod:`arlib.dunning`). Files
of earlier versions held one ``dunning`` row per customer instead: they are still read,
and not counted as notices sent (nothing recorded that they were). The next period's params point
``inputs.opening`` at it; :func:`read_open_items` turns it back into canonical invoices and
receipts so that the matching engine sees old and new items alike.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import polars as pl

from arlib import findings as fnd
from arlib.schema import DECISION_COLUMNS, MONEY, columns

OPEN_ITEM_SCHEMA: dict[str, pl.DataType] = {
    # invoice | unapplied_cash | credit_note | exception | notice | rejection
    "item_type": pl.String,
    "item_id": pl.String,
    "customer_id": pl.String,
    "date": pl.Date,
    "due_date": pl.Date,
    "currency": pl.String,
    "amount": MONEY,
    "open_amount": MONEY,
    "status": pl.String,
    "origin_period": pl.String,
    "history": pl.String,
    "payer_name": pl.String,
    "payer_account": pl.String,
    "memo": pl.String,
    "bank_ref": pl.String,
    "tax_amount": MONEY,
    "po_number": pl.String,
    "description": pl.String,
    "disputed": pl.Boolean,
    "exception_class": pl.String,
    "exception_type": pl.String,
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "evidence": pl.String,
    "exception_key": pl.String,
    "owner": pl.String,
    "channel": pl.String,
    "recipient": pl.String,
    "dunning_level": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
}


def _fit(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [
        pl.lit(None, dtype=t).alias(c)
        for c, t in OPEN_ITEM_SCHEMA.items()
        if c not in frame.columns
    ]
    return frame.with_columns(missing).select(
        [pl.col(c).cast(t) for c, t in OPEN_ITEM_SCHEMA.items()]
    )


def empty_open_items() -> pl.DataFrame:
    return pl.DataFrame(schema=OPEN_ITEM_SCHEMA)


def build_open_items(
    invoices: pl.DataFrame,
    receipts: pl.DataFrame,
    exceptions: pl.DataFrame,
    period: str,
    notices: pl.DataFrame | None = None,
    rejections: pl.DataFrame | None = None,
    credit_notes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Open items after a close, sorted for byte-stable output.

    Args:
        invoices: matching output with ``open_amount`` and ``status``; paid ones are dropped.
        receipts: matching output with ``unapplied``; fully applied ones are dropped, and so
            are those a ``not_ar`` decision took out of AR (they are no cash to apply).
        exceptions: the close's exceptions as :func:`carry_exceptions` returns them; only
            ``open`` ones are carried, with their first period, owner and history
            (``cleared`` ones are tolerance write-offs the journal proposal deals with,
            ``resolved`` ones were closed by this close).
        period: the period being closed (becomes ``origin_period`` for new items).
        notices: the dunning notices about open invoices (:func:`arlib.dunning.notice_history`):
            one ``notice`` item per notice and invoice.
        rejections: (receipt, invoice) pairs people rejected that still matter
            (:func:`arlib.learning.rejections_to_carry`): one ``rejection`` item each.
        credit_notes: matching output with ``unapplied``: each credit note with some left
            is a ``credit_note`` item whose open amount is what is left, so a later close
            can net it (the AR account was credited with all of it when it was issued).
    """
    origin = pl.col("origin_period") if "origin_period" in invoices.columns else pl.lit(None)
    inv = invoices.filter(pl.col("open_amount") != 0).select(
        pl.lit("invoice").alias("item_type"),
        pl.col("invoice_id").alias("item_id"),
        "customer_id",
        pl.col("invoice_date").alias("date"),
        "due_date",
        "currency",
        "amount",
        "open_amount",
        pl.col("status"),
        pl.coalesce(origin, pl.lit(period)).alias("origin_period"),
        _history(invoices, period, "invoice"),
        *[
            c
            for c in ("tax_amount", "po_number", "description", "disputed")
            if c in invoices.columns
        ],
        pl.col("invoice_id"),
        "source_file",
        "source_row",
    )
    r_origin = pl.col("origin_period") if "origin_period" in receipts.columns else pl.lit(None)
    cash = receipts.filter(
        (pl.col("unapplied") > 0) & pl.col("status").ne_missing("not_ar")
    ).select(
        pl.lit("unapplied_cash").alias("item_type"),
        pl.col("receipt_id").alias("item_id"),
        "customer_id",
        pl.col("value_date").alias("date"),
        "currency",
        "amount",
        pl.col("unapplied").alias("open_amount"),
        "status",
        pl.coalesce(r_origin, pl.lit(period)).alias("origin_period"),
        _history(receipts, period, "receipt"),
        *[c for c in ("payer_name", "payer_account", "memo", "bank_ref") if c in receipts.columns],
        "receipt_id",
        "source_file",
        "source_row",
    )
    parts = [_fit(inv), _fit(cash)]
    if credit_notes is not None and "unapplied" in credit_notes.columns:
        parts.append(_fit(_credit_note_items(credit_notes, period)))
    if exceptions.height:
        open_ex = exceptions.filter(pl.col("status") == "open")
        parts.append(
            _fit(
                open_ex.select(
                    pl.lit("exception").alias("item_type"),
                    pl.col("exception_id").alias("item_id"),
                    "customer_id",
                    "currency",
                    "amount",
                    pl.col("amount").alias("open_amount"),
                    "status",
                    pl.col("first_seen").alias("origin_period"),
                    "history",
                    pl.col("class").alias("exception_class"),
                    pl.col("type").alias("exception_type"),
                    "receipt_id",
                    "invoice_id",
                    "evidence",
                    pl.col("key").alias("exception_key"),
                    "owner",
                    "source_file",
                    "source_row",
                )
            )
        )
    if notices is not None and notices.height:
        from arlib.dunning import notice_items

        parts.append(_fit(notice_items(notices)))
    if rejections is not None and rejections.height:
        parts.append(
            _fit(
                rejections.select(
                    pl.lit("rejection").alias("item_type"),
                    pl.col("receipt_id").alias("item_id"),
                    "customer_id",
                    pl.col("first_period").alias("origin_period"),
                    "history",
                    "receipt_id",
                    "invoice_id",
                )
            )
        )
    order = {name: n for n, name in enumerate(ITEM_TYPES)}
    return pl.concat(parts).sort(
        pl.col("item_type").replace_strict(order, return_dtype=pl.Int8),
        "item_id",
        pl.col("invoice_id"),
        nulls_last=True,
    )


def _credit_note_items(credit_notes: pl.DataFrame, period: str) -> pl.DataFrame:
    """Credit notes with an unapplied amount as ``credit_note`` open items."""
    cn = credit_notes.filter(pl.col("unapplied") > 0)
    origin = pl.col("origin_period") if "origin_period" in cn.columns else pl.lit(None)
    return cn.select(
        pl.lit("credit_note").alias("item_type"),
        pl.col("credit_id").alias("item_id"),
        "customer_id",
        "date",
        "currency",
        pl.col("original_amount" if "original_amount" in cn.columns else "amount").alias("amount"),
        pl.col("unapplied").alias("open_amount"),
        pl.lit("unapplied").alias("status"),
        pl.coalesce(origin, pl.lit(period)).alias("origin_period"),
        _history(cn, period, "credit_note"),
        pl.col("reason").alias("description"),
        "invoice_id",
        *[c for c in ("source_file", "source_row") if c in cn.columns],
    )


def _history(frame: pl.DataFrame, period: str, kind: str) -> pl.Expr:
    previous = pl.col("history") if "history" in frame.columns else pl.lit(None, pl.String)
    if kind == "invoice":
        event = pl.format(
            "{}: {} open {} of {}",
            pl.lit(period),
            pl.col("status"),
            pl.col("open_amount"),
            pl.col("amount"),
        )
    else:
        whole = "original_amount" if "original_amount" in frame.columns else "amount"
        event = pl.format(
            "{}: unapplied {} of {}", pl.lit(period), pl.col("unapplied"), pl.col(whole)
        )
    return (
        pl.when(previous.is_null())
        .then(event)
        .otherwise(pl.concat_str([previous, event], separator=" | "))
    ).alias("history")


# Written into the Parquet file's key-value metadata, so that the next close can tell its
# opening file from any other Parquet file (the payment history lies beside it).
KIND_KEY, PERIOD_KEY, ENTITY_KEY = "arlib_kind", "arlib_period", "arlib_entity"
# The closing ECL provision of the close that wrote the file (an exact decimal string) and
# its currency: the next close starts its provision from it (arlib.provision). It is a
# figure of the close, not an open item, so it travels as metadata, not as a row.
PROVISION_KEY, BASE_CURRENCY_KEY = "arlib_provision", "arlib_base_currency"
OPEN_ITEMS_KIND = "open_items"
#: ``dunning`` (one row per customer) is what files of earlier versions hold instead of
#: ``notice`` rows: read, never written
ITEM_TYPES = (
    "invoice",
    "unapplied_cash",
    "credit_note",
    "exception",
    "notice",
    "rejection",
    "dunning",
)
REQUIRED_COLUMNS = ("item_type", "item_id", "customer_id", "currency", "amount", "open_amount")


# The customer follow-up registers (arlib.followup) travel beside the open items, one
# Parquet file each, so that an open items file of a close before them stays as it was
# and still reads (without them, nothing was on record).
FOLLOWUP_REGISTERS = ("statements", "disputes", "dispute_history", "contacts")


def followup_path(items: Path, register: str) -> Path:
    """Where a follow-up register lies beside ``open_items.parquet``."""
    return items.with_name(f"followup_{register}.parquet")


def write_open_items(
    items: pl.DataFrame,
    path: Path,
    *,
    period: str | None = None,
    entity: str | None = None,
    provision: Decimal | None = None,
    base_currency: str | None = None,
) -> None:
    """Write the open items, stamped with their kind, the period that left them open and
    (when given) that close's closing provision in its base currency."""
    metadata = {KIND_KEY: OPEN_ITEMS_KIND}
    if period:
        metadata[PERIOD_KEY] = period
    if entity:
        metadata[ENTITY_KEY] = entity
    if provision is not None:
        metadata[PROVISION_KEY] = str(provision)
        metadata[BASE_CURRENCY_KEY] = base_currency or ""
    items.write_parquet(path, statistics=False, compression="zstd", metadata=metadata)


def recorded_provision(
    path: Path, shown: str, base_currency: str
) -> tuple[Decimal | None, list[fnd.Finding]]:
    """The closing provision the previous close recorded in its open items (None when it
    recorded none), or an error when the figure is not an amount in ``base_currency``."""
    stamped = pl.read_parquet_metadata(path)
    text = stamped.get(PROVISION_KEY)
    if text is None:
        return None, []
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        return None, [
            fnd.error(
                shown, None, PROVISION_KEY, text, "bad_value", "recorded provision is not an amount"
            )
        ]
    currency = stamped.get(BASE_CURRENCY_KEY)
    if currency != base_currency:
        return None, [
            fnd.error(
                shown,
                None,
                BASE_CURRENCY_KEY,
                currency,
                "wrong_currency",
                f"the previous close recorded its provision in {currency}; this close's base "
                f"currency is {base_currency}",
            )
        ]
    return amount, []


def previous_period(period: str) -> str:
    year, month = map(int, period.split("-"))
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return f"{year:04d}-{month:02d}"


def check_open_items(
    path: Path, shown: str, period: str, entity: str | None = None
) -> tuple[dict[str, pl.DataFrame] | None, list[fnd.Finding]]:
    """Read the previous close's open items, or say why this file is not them.

    A wrong file must never read as "nothing was open": that would make last period's AR
    vanish. So the file must be Parquet, carry the open-items columns (and, when it was
    written by a close that stamps it, say it is open items), know only the item types a
    close writes, and come from the period just before ``period``.

    Returns the frames of :func:`read_open_items` (None when refused) and findings.
    """

    def refuse(column, value, rule, message):
        return None, [fnd.error(shown, None, column, value, rule, message)]

    try:
        stamped = pl.read_parquet_metadata(path)
        items = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file is a finding
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return refuse(
            None, None, "unreadable", f"not a Parquet file of open items: {fnd.excerpt(first)}"
        )
    kind = stamped.get(KIND_KEY)
    if kind is not None and kind != OPEN_ITEMS_KIND:
        return refuse(
            None,
            kind,
            "wrong_kind",
            f"this file holds {kind}, not open items: "
            "point inputs.opening at the previous close's open_items.parquet",
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in items.columns]
    if missing:
        looks = " (it looks like a payment history)" if "days_late" in items.columns else ""
        return refuse(
            ", ".join(missing),
            None,
            "wrong_kind",
            f"not open items{looks}: columns {missing} are missing; point "
            "inputs.opening at the previous close's open_items.parquet",
        )
    inexact = _inexact_money(items, shown)
    if inexact:
        return None, inexact
    try:
        items = _fit(items)
    except Exception as exc:  # noqa: BLE001 - a column of the wrong type
        return refuse(
            None,
            None,
            "wrong_kind",
            f"open items with columns of the wrong type: {fnd.excerpt(str(exc).splitlines()[0])}",
        )
    rows = items.with_row_index("_row", offset=1)
    strange = rows.filter(~pl.col("item_type").is_in(ITEM_TYPES).fill_null(False))
    problems = [
        fnd.error(
            shown,
            row,
            "item_type",
            value,
            "bad_value",
            f"unknown item type (known: {', '.join(ITEM_TYPES)})",
        )
        for row, value in strange.select("_row", "item_type").head(50).iter_rows()
    ]
    no_balance = rows.filter(
        (
            pl.col("item_type").is_in(["invoice", "unapplied_cash"])
            & (pl.col("open_amount").is_null() | pl.col("currency").is_null())
        )
        # a credit note may name no currency (it then nets in any, as when issued)
        | ((pl.col("item_type") == "credit_note") & pl.col("open_amount").is_null())
    )
    problems += [
        fnd.error(
            shown,
            row,
            "open_amount",
            None,
            "missing_value",
            f"open {kind_} {item} has no open amount or currency",
        )
        for row, kind_, item in no_balance.select("_row", "item_type", "item_id")
        .head(50)
        .iter_rows()
    ]
    closed = stamped.get(PERIOD_KEY) or _period_from_history(items)
    expected = previous_period(period)
    if closed is not None and closed != expected:
        problems.append(
            fnd.error(
                shown,
                None,
                None,
                closed,
                "wrong_period",
                f"open items left by the close of {closed}; the close of {period} starts "
                f"from those of {expected}",
            )
        )
    recorded_entity = stamped.get(ENTITY_KEY)
    if recorded_entity and entity and recorded_entity != entity:
        problems.append(
            fnd.error(
                shown,
                None,
                None,
                recorded_entity,
                "wrong_entity",
                f"open items of entity {recorded_entity}, not {entity}",
            )
        )
    if problems:
        return None, problems
    return split_open_items(items), []


def _inexact_money(items: pl.DataFrame, shown: str) -> list[fnd.Finding]:
    """Money columns stored finer than cents (a ``Decimal(38, 4)`` or a float written by
    another tool) must hold whole cents: casting 1.2345 to cents would round it silently."""
    from arlib.parsing import typed_number_text, written_decimals

    found = []
    for column, dtype in OPEN_ITEM_SCHEMA.items():
        if dtype != MONEY or column not in items.columns or items.schema[column] == MONEY:
            continue
        if not items.schema[column].is_numeric():
            continue
        finer = items.with_row_index("_row", offset=1).filter(
            written_decimals(typed_number_text(pl.col(column))) > 2
        )
        found += [
            fnd.error(
                shown,
                row,
                column,
                str(value),
                "too_many_decimals",
                "finer than cents: an open balance is never rounded",
            )
            for row, value in finer.select("_row", column).head(50).iter_rows()
        ]
    return found


def _period_from_history(items: pl.DataFrame) -> str | None:
    """The period of the close that wrote ``items``, for files written before the stamp:
    every item's history ends with that close's ``YYYY-MM: ...`` event."""
    last = items.select(
        pl.col("history").str.extract(r"(?:^|\| )(\d{4}-\d{2}): [^|]*$", 1).max()
    ).item()
    return last


def read_open_items(path: Path) -> dict[str, pl.DataFrame]:
    """Open items of the previous close as canonical frames (no checks: see
    :func:`check_open_items`)."""
    return split_open_items(_fit(pl.read_parquet(path)))


def split_open_items(items: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Open items as canonical frames.

    Returns ``invoices`` (canonical + open_amount, origin_period, history), ``receipts``
    (unapplied cash as receipts whose amount is what is still unapplied), ``credit_notes``
    (credit notes whose amount is what is still unapplied, ``original_amount`` the issued
    one) and
    ``exceptions`` (open exceptions with their key, first period, owner and history, as
    :func:`carry_exceptions` reads them; files written before exceptions had keys carry
    them by the receipt and invoice they name), ``notices`` (the dunning notices about
    open invoices, :func:`arlib.dunning.notices_of`), ``legacy_dunning`` (the per-customer
    letter rows of files of earlier versions) and ``rejections`` (remembered (receipt,
    invoice) rejections, :mod:`arlib.learning`).
    """
    inv = items.filter(pl.col("item_type") == "invoice")
    invoices = inv.select(
        pl.col("item_id").alias("invoice_id"),
        "customer_id",
        pl.col("date").alias("invoice_date"),
        "due_date",
        "amount",
        "currency",
        "tax_amount",
        "po_number",
        "description",
        "disputed",
        "source_file",
        "source_row",
        "open_amount",
        "origin_period",
        "history",
    )
    cash = items.filter(pl.col("item_type") == "unapplied_cash")
    receipts = cash.select(
        pl.col("item_id").alias("receipt_id"),
        pl.col("date").alias("value_date"),
        pl.col("open_amount").alias("amount"),
        "currency",
        "payer_name",
        "payer_account",
        "memo",
        "bank_ref",
        pl.lit(None, pl.String).alias("end_to_end_id"),
        "source_file",
        "source_row",
        "customer_id",
        "origin_period",
        "history",
    )
    receipts = receipts.select([*columns("receipts"), "customer_id", "origin_period", "history"])
    credit_notes = items.filter(pl.col("item_type") == "credit_note").select(
        pl.col("item_id").alias("credit_id"),
        "customer_id",
        "date",
        pl.col("open_amount").alias("amount"),
        "currency",
        "invoice_id",
        pl.col("description").alias("reason"),
        "source_file",
        "source_row",
        pl.col("amount").alias("original_amount"),
        "origin_period",
        "history",
    )
    named = pl.concat_str(
        pl.col("exception_type"),
        pl.lit("pair"),
        pl.col("receipt_id").fill_null(""),
        pl.col("invoice_id").fill_null(""),
        separator=":",
    )
    exceptions = items.filter(pl.col("item_type") == "exception").select(
        pl.col("item_id").alias("exception_id"),
        pl.col("exception_class").alias("class"),
        pl.col("exception_type").alias("type"),
        "customer_id",
        "receipt_id",
        "invoice_id",
        "amount",
        "currency",
        "evidence",
        "status",
        "source_file",
        "source_row",
        pl.coalesce("exception_key", named).alias("key"),
        pl.col("origin_period").alias("first_seen"),
        pl.col("owner").fill_null(UNASSIGNED),
        "history",
    )
    from arlib.dunning import notices_of

    legacy = items.filter(pl.col("item_type") == "dunning").select(
        "customer_id", pl.col("status").alias("level"), "history"
    )
    rejections = items.filter(pl.col("item_type") == "rejection").select(
        "receipt_id",
        "invoice_id",
        "customer_id",
        pl.col("origin_period").alias("first_period"),
        "history",
    )
    return {
        "invoices": invoices,
        "receipts": receipts,
        "credit_notes": credit_notes,
        "exceptions": exceptions,
        "notices": notices_of(items),
        "legacy_dunning": legacy,
        "rejections": rejections,
    }


# ------------------------------------------------------------------ exceptions carried on
UNASSIGNED = "unassigned"
#: what a close adds to each exception: when it was first seen, how many closes ago, who
#: owns it, how it was closed, and one event per close (``YYYY-MM: ...`` joined by `` | ``)
CARRY_COLUMNS = {
    "first_seen": pl.String,
    "age_periods": pl.Int64,
    "owner": pl.String,
    "resolution": pl.String,
    "history": pl.String,
}
#: exceptions about a receipt or an invoice (the ``about`` of their key) are resolved when a
#: match or credit note of the close clears that item (a credit note: netting it in full);
#: those about a pair (a flagged or
#: tolerance allocation) or a customer are closed only by a ``resolve`` decision
CLEARED_BY = {"receipt": "receipt_id", "invoice": "invoice_id", "credit_note": "receipt_id"}
#: how a resolution by a person's decision starts (``decision by li.wei on 2026-10-31: ...``)
DECIDED = "decision by"


def _about(key: pl.Expr) -> pl.Expr:
    """``invoice`` of ``short_payment:invoice:INV1``."""
    return key.str.split(":").list.get(1, null_on_oob=True)


def _subject(key: pl.Expr) -> pl.Expr:
    """``invoice:INV1`` of ``short_payment:invoice:INV1``: the key without its type."""
    return key.str.splitn(":", 2).struct.field("field_1")


def _months(period: pl.Expr) -> pl.Expr:
    parts = period.str.split("-")
    return parts.list.get(0).cast(pl.Int64) * 12 + parts.list.get(1).cast(pl.Int64)


def _text(value) -> str:
    """A person's words in a history event: '|' separates events, so it may not occur."""
    return str(value or "?").replace("|", "/")


def carry_exceptions(
    found: pl.DataFrame,
    opening: pl.DataFrame | None,
    *,
    invoices: pl.DataFrame,
    receipts: pl.DataFrame,
    allocations: pl.DataFrame,
    decisions: pl.DataFrame | None,
    period: str,
    actions,
    credit_notes: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """This close's exceptions with those the previous close left open, each with its first
    period, age, owner, resolution and history.

    Why: an exception is closed only by a resolution the register records, never by the
    close forgetting it. A carried exception that this close raises again (same key, else
    the same receipt or invoice read as another type) keeps its ``exception_id``, first
    period, owner and history and takes this close's evidence; one it does not raise again
    stays open as it was, unless the close resolves it: a match or credit note clearing the
    receipt or invoice it is about (:data:`CLEARED_BY`), a ``not_ar`` decision on its
    receipt, or a ``resolve`` decision. ``assign`` decisions set the owner. A ``resolve`` or
    ``assign`` that finds no exception is a warning finding: it changes no figure.

    Args:
        found: :func:`arlib.exceptions.classify_exceptions` of this close.
        opening: the previous close's open exceptions (:func:`split_open_items`).
        invoices, receipts, allocations, credit_notes: this close's matching result.
        decisions: the period's decisions (canonical, validated), or None.
        period: the period being closed.
        actions: ``type -> suggested action`` (:meth:`ExceptionConfig.action`).

    Returns:
        (exceptions, findings): exceptions with :data:`CARRY_COLUMNS` after the classifier's
        columns, ``status`` ``open`` / ``cleared`` / ``resolved``; findings of decisions.
    """
    from arlib.exceptions import CLASS_OF, COLUMNS, in_register_order

    now = found.select(list(COLUMNS)).with_columns(
        pl.lit(period).alias("first_seen"),
        pl.lit(UNASSIGNED).alias("owner"),
        pl.lit(None, pl.String).alias("_before"),
        pl.lit(None, pl.String).alias("resolution"),
    )
    carried = (
        opening.select(
            "key",
            pl.col("exception_id").alias("_id"),
            pl.col("first_seen").alias("_first"),
            pl.col("owner").alias("_owner"),
            pl.col("history").alias("_hist"),
        ).unique("key", keep="first", maintain_order=True)
        if opening is not None and opening.height
        else pl.DataFrame(
            schema={k: pl.String for k in ("key", "_id", "_first", "_owner", "_hist")}
        )
    )
    # 1. the same key; 2. else the same receipt or invoice, one exception on each side
    same = now.join(carried, on="key", how="inner").select("key", "_id")
    rest = carried.join(same, on="_id", how="anti").with_columns(
        _subject(pl.col("key")).alias("_s")
    )
    fresh = now.join(same, on="key", how="anti").with_columns(_subject(pl.col("key")).alias("_s"))
    unique = pl.len().over("_s") == 1
    retyped = (
        fresh.filter(unique & _about(pl.col("key")).is_in(list(CLEARED_BY)))
        .select("key", "_s")
        .join(rest.filter(unique).select("_s", "_id"), on="_s")
        .select("key", "_id")
    )
    links = pl.concat([same, retyped]).join(carried.drop("key"), on="_id")
    now = (
        now.join(links, on="key", how="left")
        .with_columns(
            pl.coalesce("_id", "exception_id").alias("exception_id"),
            pl.coalesce("_first", "first_seen").alias("first_seen"),
            pl.coalesce("_owner", "owner").alias("owner"),
            pl.col("_hist").alias("_before"),
        )
        .drop("_id", "_first", "_owner", "_hist")
    )
    left = (
        opening.join(links.select("_id"), left_on="exception_id", right_on="_id", how="anti")
        if opening is not None and opening.height
        else None
    )
    if left is not None and left.height:
        action = {t: actions(t) for t in CLASS_OF}
        left = left.with_columns(
            pl.lit("open").alias("status"),
            pl.col("type").replace_strict(action, default=None).alias("suggested_action"),
            pl.col("history").alias("_before"),
            _cleared(left, invoices, receipts, allocations, credit_notes).alias("resolution"),
        ).with_columns(
            pl.when(pl.col("resolution").is_not_null())
            .then(pl.lit("resolved"))
            .otherwise(pl.col("status"))
            .alias("status")
        )
        now = pl.concat([now, left.select(now.columns)], how="vertical_relaxed")
    merged, findings = _apply_decisions(now, decisions, period)
    status_event = pl.when(pl.col("status") != "resolved").then(
        pl.format("{}: {} as {}", pl.lit(period), "status", "type")
    )
    resolved_event = pl.when(pl.col("status") == "resolved").then(
        pl.format("{}: resolved: {}", pl.lit(period), "resolution")
    )
    merged = merged.with_columns(
        (_months(pl.lit(period)) - _months(pl.col("first_seen"))).alias("age_periods"),
        pl.concat_str(
            ["_before", status_event, "_events", resolved_event],
            separator=" | ",
            ignore_nulls=True,
        ).alias("history"),
    )
    columns = [c for c in COLUMNS if c != "key"] + list(CARRY_COLUMNS) + ["key"]
    return in_register_order(merged.select(columns)), findings


def _cleared(
    carried: pl.DataFrame,
    invoices: pl.DataFrame,
    receipts: pl.DataFrame,
    allocations: pl.DataFrame,
    credit_notes: pl.DataFrame | None = None,
) -> pl.Expr:
    """How this close cleared the receipt or invoice a carried exception is about (None when
    it did not): by which receipts, credit notes and write-offs, or to which invoices."""
    how = allocations.sort("receipt_id", "invoice_id", "kind", "rule").with_columns(
        pl.when(pl.col("kind") == "credit_note")
        .then(pl.format("credit note {}", "receipt_id"))
        .when(pl.col("kind") == "cash")
        .then(pl.format("receipt {} ({})", "receipt_id", "rule"))
        .otherwise(pl.format("{} {} written off", "kind", "applied_amount"))
        .alias("_by"),
        pl.format("invoice {} ({})", "invoice_id", "rule").alias("_to"),
    )
    paid = invoices.filter(pl.col("open_amount") == 0).select("invoice_id")
    by = how.join(paid, on="invoice_id", how="semi").group_by("invoice_id", maintain_order=True)
    by_invoice = dict(by.agg(pl.col("_by").unique(maintain_order=True).str.join(", ")).iter_rows())
    applied = receipts.filter(pl.col("unapplied") == 0).select("receipt_id")
    to = how.filter(pl.col("kind") == "cash").join(applied, on="receipt_id", how="semi")
    to_receipt = dict(
        to.group_by("receipt_id", maintain_order=True)
        .agg(pl.col("_to").unique(maintain_order=True).str.join(", "))
        .iter_rows()
    )
    netted = {}
    if credit_notes is not None and "unapplied" in credit_notes.columns:
        done = credit_notes.filter(pl.col("unapplied") == 0).select("credit_id")
        on = how.filter(pl.col("kind") == "credit_note").join(
            done, left_on="receipt_id", right_on="credit_id", how="semi"
        )
        netted = dict(
            on.group_by("receipt_id", maintain_order=True)
            .agg(pl.col("invoice_id").unique(maintain_order=True).str.join(", "))
            .iter_rows()
        )
    about = _about(pl.col("key"))
    credit_text = pl.format(
        "credit note {} netted in full against invoice {}",
        "receipt_id",
        pl.col("receipt_id").replace_strict(netted, default=None, return_dtype=pl.String),
    )
    invoice_text = pl.format(
        "invoice {} cleared by {}",
        "invoice_id",
        pl.col("invoice_id").replace_strict(by_invoice, default=None, return_dtype=pl.String),
    )
    receipt_text = pl.format(
        "receipt {} applied in full to {}",
        "receipt_id",
        pl.col("receipt_id").replace_strict(to_receipt, default=None, return_dtype=pl.String),
    )
    return (
        pl.when(about == "invoice")
        .then(invoice_text)
        .when(about == "receipt")
        .then(receipt_text)
        .when(about == "credit_note")
        .then(credit_text)
    )


def _apply_decisions(
    exceptions: pl.DataFrame, decisions: pl.DataFrame | None, period: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply ``resolve``, ``assign`` and ``not_ar`` decisions to the exceptions they name.

    A decision names one exception by ``exception_id``, or every exception about its
    ``receipt_id`` and/or ``invoice_id``; ``not_ar`` resolves the exceptions about its
    receipt. Returns the exceptions with this period's assignment events (``_events``) and
    findings for ``resolve`` / ``assign`` decisions that found nothing.
    """
    rows = exceptions.with_row_index("_i")
    if decisions is None or decisions.height == 0:
        return rows.with_columns(pl.lit(None, pl.String).alias("_events")), fnd.to_frame([])
    wanted = decisions.filter(pl.col("action").is_in(["assign", "resolve", "not_ar"])).sort(
        "source_file", "source_row", nulls_last=True, maintain_order=True
    )
    open_ = rows.filter(pl.col("status") != "cleared")
    resolution: dict[int, str] = {}
    owner: dict[int, str] = {}
    events: dict[int, list[str]] = {}
    problems: list[fnd.Finding] = []
    for d in wanted.iter_rows(named=True):
        by = f"{_text(d['who'])} on {_text(d['when'])}"
        why = _text(d["why"] or "no reason given")
        if d["action"] == "not_ar":
            hit = open_.filter(
                (_about(pl.col("key")) == "receipt") & (pl.col("receipt_id") == d["receipt_id"])
            )
            for i in hit["_i"]:
                resolution[i] = f"{DECIDED} {by}: receipt {d['receipt_id']} is not AR ({why})"
            continue
        if d.get("exception_id") is not None:
            mask = pl.col("exception_id") == d["exception_id"]
            column, value = "exception_id", d["exception_id"]
        else:
            mask = pl.lit(True)
            if d["receipt_id"] is not None:
                mask &= pl.col("receipt_id").str.split("|").list.contains(d["receipt_id"])
            if d["invoice_id"] is not None:
                mask &= pl.col("invoice_id") == d["invoice_id"]
            column = "invoice_id" if d["invoice_id"] is not None else "receipt_id"
            value = d[column]
        hit = open_.filter(mask.fill_null(False))["_i"].to_list()
        if not hit:
            problems.append(
                fnd.warning(
                    d["source_file"],
                    d["source_row"],
                    column,
                    value,
                    "decision_no_exception",
                    f"no open exception is about this: nothing was {d['action']}ed",
                )
            )
        for i in hit:
            if d["action"] == "resolve":
                resolution[i] = f"{DECIDED} {by}: {why}"
            else:
                owner[i] = _text(d["owner"])
                events.setdefault(i, []).append(
                    f"{period}: owner {owner[i]} (assigned by {by}: {why})"
                )
    rows = rows.with_columns(
        pl.col("_i").replace_strict(owner, default=pl.col("owner")).alias("owner"),
        pl.col("_i")
        .replace_strict(resolution, default=pl.col("resolution"), return_dtype=pl.String)
        .alias("resolution"),
        pl.col("_i")
        .replace_strict(
            {i: " | ".join(e) for i, e in events.items()}, default=None, return_dtype=pl.String
        )
        .alias("_events"),
    ).with_columns(
        pl.when(pl.col("_i").is_in(list(resolution)))
        .then(pl.lit("resolved"))
        .otherwise(pl.col("status"))
        .alias("status")
    )
    return rows, fnd.to_frame(problems)


def disputed_by_receipt(decisions: pl.DataFrame | None) -> dict[str, str]:
    """The invoice each ``dispute`` decision holds its receipt against, by receipt."""
    if decisions is None or decisions.height == 0:
        return {}
    held = decisions.filter((pl.col("action") == "dispute") & pl.col("invoice_id").is_not_null())
    return dict(
        held.select("receipt_id", "invoice_id").unique("receipt_id", keep="last").iter_rows()
    )


def carried_disputes(
    opening: pl.DataFrame, receipts: pl.DataFrame, decisions: pl.DataFrame, shown: str
) -> pl.DataFrame:
    """The previous close's open disputes of receipts, as ``dispute`` decisions of this one.

    Why: a receipt a person held as disputed stays held until a person decides otherwise;
    otherwise the dispute would lapse at the month end and the cash be matched (or the
    invoice dunned) as if nothing were in dispute. A decision of this period on the receipt
    (any action, ``resolve`` included) replaces the carried one.
    """
    schema = {**{c: pl.String for c in DECISION_COLUMNS}, "amount": MONEY}
    schema |= {"source_file": pl.String, "source_row": pl.Int64}
    if opening.height == 0:
        return pl.DataFrame(schema=schema)
    held = opening.filter(
        (pl.col("type") == "disputed_invoice") & (_about(pl.col("key")) == "receipt")
    ).join(receipts.select("receipt_id"), on="receipt_id", how="semi")
    if decisions.height:
        held = held.join(decisions.select("receipt_id").drop_nulls(), on="receipt_id", how="anti")
    return held.select(
        "receipt_id",
        pl.lit("dispute").alias("action"),
        "invoice_id",
        pl.lit(None, MONEY).alias("amount"),
        pl.lit("carried").alias("who"),
        pl.col("first_seen").alias("when"),
        pl.format("dispute {} open since {}", "exception_id", "first_seen").alias("why"),
        pl.lit(None, pl.String).alias("owner"),
        pl.lit(None, pl.String).alias("exception_id"),
        pl.lit(shown).alias("source_file"),
        pl.lit(None, pl.Int64).alias("source_row"),
    ).cast(schema)
