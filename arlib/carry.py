"""Carry-forward: what one close leaves open is where the next one starts.

``open_items.parquet`` holds, in one frame, the open invoices (with their open balance),
unapplied cash and open exceptions/disputes of a close, each with the period it first
appeared and a short history. The next period's params point ``inputs.opening`` at it;
:func:`read_open_items` turns it back into canonical invoices and receipts so that the
matching engine sees old and new items alike.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import polars as pl

from arlib import findings as fnd
from arlib.schema import MONEY, columns

OPEN_ITEM_SCHEMA: dict[str, pl.DataType] = {
    "item_type": pl.String,  # invoice | unapplied_cash | exception
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
    invoices: pl.DataFrame, receipts: pl.DataFrame, exceptions: pl.DataFrame, period: str
) -> pl.DataFrame:
    """Open items after a close, sorted for byte-stable output.

    Args:
        invoices: matching output with ``open_amount`` and ``status``; paid ones are dropped.
        receipts: matching output with ``unapplied``; fully applied ones are dropped.
        exceptions: classified exceptions; only ``open`` ones are carried (``cleared`` ones
            are tolerance write-offs the journal proposal already deals with).
        period: the period being closed (becomes ``origin_period`` for new items).
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
    cash = receipts.filter(pl.col("unapplied") > 0).select(
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
    if exceptions.height:
        open_ex = exceptions.filter(pl.col("status") == "open")
        parts.append(
            _fit(
                open_ex.select(
                    pl.lit("exception").alias("item_type"),
                    pl.col("exception_id").alias("item_id"),
                    "customer_id",
                    pl.col("currency") if "currency" in open_ex.columns else pl.lit(None),
                    "amount",
                    pl.col("amount").alias("open_amount"),
                    "status",
                    pl.lit(period).alias("origin_period"),
                    pl.format("{}: {}", pl.lit(period), pl.col("type")).alias("history"),
                    pl.col("class").alias("exception_class"),
                    pl.col("type").alias("exception_type"),
                    "receipt_id",
                    "invoice_id",
                    "evidence",
                )
            )
        )
    order = {"invoice": 0, "unapplied_cash": 1, "exception": 2}
    return pl.concat(parts).sort(
        pl.col("item_type").replace_strict(order, return_dtype=pl.Int8), "item_id"
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
        event = pl.format(
            "{}: unapplied {} of {}", pl.lit(period), pl.col("unapplied"), pl.col("amount")
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
ITEM_TYPES = ("invoice", "unapplied_cash", "exception")
REQUIRED_COLUMNS = ("item_type", "item_id", "customer_id", "currency", "amount", "open_amount")


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
        (pl.col("item_type") != "exception")
        & (pl.col("open_amount").is_null() | pl.col("currency").is_null())
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
    (unapplied cash as receipts whose amount is what is still unapplied) and
    ``exceptions`` (open exceptions as they were).
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
    exceptions = items.filter(pl.col("item_type") == "exception")
    return {"invoices": invoices, "receipts": receipts, "exceptions": exceptions}
