"""What a customer's statement says, as exact figures: the ledger of the period per currency
(opening, movements with a running balance, closing) and the open items behind the closing.

Why a ledger built apart from the aging: a customer reconciles a statement against its own
payables ledger line by line, so it must see every invoice, receipt, credit note and
adjustment of the period, not only what is left open. Both views are built from matching's
invoices, receipts and allocations, and :func:`prove` refuses the statements unless, per
customer and currency, opening + movements = closing and the closing is the aging's open
amount less the unapplied cash the workpapers show.

The balance is the customer's: its open invoices less the cash it paid that is not yet
applied. A receipt's line is what it moved on this customer's account in that currency:
the cash applied to the customer's invoices plus the change of its unapplied rest, so a
carried receipt applied this period moves nothing (it was already in the opening), a
payment made for another customer's invoice shows on that customer's statement, and a
receipt in another currency shows where it was applied, at the applied amount.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import polars as pl

from arlib.money import fmt_money

ZERO = Decimal("0.00")
#: a line's kind, in the order lines of one day are listed
KINDS = ("invoice", "receipt", "credit_note", "adjustment")


class StatementsDisagree(ValueError):
    """The statements' figures do not tie to the workpapers: nothing is written."""


@dataclasses.dataclass(frozen=True)
class Line:
    date: dt.date | None
    kind: str  # one of KINDS
    reference: str  # the customer's reference: their memo / bank ref, PO, credit note id
    ours: str  # our id (invoice, receipt, credit note)
    note: str  # what the renderers word: "", other_currency, paid_by, part, credit_for, or
    # the adjustment's kind (discount, bank_charge, fx_difference, ...)
    note_arg: str  # what the note names: the amount received, the payer, the invoice
    amount: Decimal  # + raises what the customer owes, − lowers it
    balance: Decimal = ZERO


@dataclasses.dataclass(frozen=True)
class OpenItem:
    invoice_id: str
    invoice_date: dt.date | None
    due_date: dt.date | None
    reference: str  # the customer's PO number, when the invoice has one
    amount: Decimal
    days_past_due: int
    bucket: str
    disputed: bool
    payment_pending: bool = False  # a receipt not yet applied probably pays it


@dataclasses.dataclass(frozen=True)
class Cash:
    receipt_id: str
    value_date: dt.date | None
    reference: str
    amount: Decimal


@dataclasses.dataclass(frozen=True)
class CurrencyLedger:
    currency: str
    opening: Decimal
    lines: tuple[Line, ...]
    closing: Decimal
    open_items: tuple[OpenItem, ...]
    unapplied: tuple[Cash, ...]
    aging: tuple[tuple[str, Decimal], ...]  # (bucket, open amount), every bucket in order

    @property
    def open_total(self) -> Decimal:
        return sum((i.amount for i in self.open_items), ZERO)

    @property
    def unapplied_total(self) -> Decimal:
        return sum((c.amount for c in self.unapplied), ZERO)

    @property
    def overdue(self) -> Decimal:
        return sum((i.amount for i in self.open_items if i.days_past_due > 0), ZERO)

    @property
    def disputed(self) -> Decimal:
        return sum((i.amount for i in self.open_items if i.disputed), ZERO)

    @property
    def movements(self) -> dict[str, Decimal]:
        """Σ of the lines by kind (every kind, 0.00 when none)."""
        sums = dict.fromkeys(KINDS, ZERO)
        for line in self.lines:
            sums[line.kind] += line.amount
        return sums


def customer_reference(memo: str | None, bank_ref: str | None) -> str:
    """How the customer knows its payment: its remittance text, then the bank's reference."""
    parts = [p.strip() for p in (memo, bank_ref) if p and p.strip()]
    return " / ".join(dict.fromkeys(parts))


def build_ledgers(
    result, ids: list[str], disputed: set[str], pending: frozenset[str] = frozenset()
) -> dict[str, list[CurrencyLedger]]:
    """Each selected customer's ledgers, one per currency it has figures in, by currency."""
    match, review = result.match, result.review
    buckets = [b[0] for b in result.config.aging.buckets]
    wanted = pl.col("customer_id").is_in(ids)
    invoices = match.invoices.filter(wanted)
    receipts = match.receipts.select(
        "receipt_id",
        "value_date",
        "amount",
        "currency",
        "memo",
        "bank_ref",
        "payer_name",
        "origin",
        "unapplied",
        pl.col("customer_id").alias("payer_id"),
    )
    credits = _credit_notes(result, ids)
    # opening: the carried invoices' balance less the carried cash and credit notes not yet
    # applied
    opening = pl.concat(
        [
            credits.filter(pl.col("origin") == "opening").select(
                "customer_id", "currency", -pl.col("amount")
            ),
            invoices.filter(pl.col("origin") == "opening").select(
                "customer_id", "currency", pl.col("open_at_start").alias("amount")
            ),
            receipts.filter((pl.col("origin") == "opening") & pl.col("payer_id").is_in(ids)).select(
                pl.col("payer_id").alias("customer_id"), "currency", -pl.col("amount")
            ),
        ]
    )
    lines = [
        _invoice_lines(invoices),
        *_allocation_lines(result, invoices, receipts, ids, credits),
    ]
    detail = review.aging.detail.filter(wanted)
    cash = pl.concat(
        [
            receipts.filter(pl.col("payer_id").is_in(ids) & (pl.col("unapplied") > 0)),
            _unapplied_credits(credits),
        ],
        how="diagonal_relaxed",
    )
    keys = sorted(
        set(opening.select("customer_id", "currency").iter_rows())
        | {k for frame in lines for k in frame.select("customer_id", "currency").iter_rows()}
        | set(detail.select("customer_id", "currency").iter_rows())
        | set(cash.select("payer_id", "currency").iter_rows())
    )
    open_sum = _sums(opening)
    by_key = _group(pl.concat(lines).sort("date", "order", "ours", nulls_last=True))
    items_by_key = _group(detail.sort("due_date", "invoice_id", nulls_last=True))
    cash_by_key = _group(cash.rename({"payer_id": "customer_id"}).sort("value_date", "receipt_id"))
    ledgers: dict[str, list[CurrencyLedger]] = {cid: [] for cid in ids}
    for cid, ccy in keys:
        start = open_sum.get((cid, ccy), ZERO)
        running, shown = start, []
        for r in by_key.get((cid, ccy), []):
            running += r["amount"]
            if r["note"] in ("other_currency", "part"):  # "USD 1234.50" -> "USD 1,234.50"
                currency, amount = r["note_arg"].split(" ")
                r["note_arg"] = f"{currency} {fmt_money(Decimal(amount))}"
            shown.append(
                Line(
                    r["date"],
                    r["kind"],
                    r["reference"] or "",
                    r["ours"],
                    r["note"] or "",
                    r["note_arg"] or "",
                    r["amount"],
                    running,
                )  # fmt: skip
            )
        items = tuple(
            OpenItem(
                r["invoice_id"],
                r["invoice_date"],
                r["due_date"],
                r.get("po_number") or "",
                r["open_amount"],
                max(r["days_past_due"] or 0, 0),
                r["bucket"],
                r["invoice_id"] in disputed,
                r["invoice_id"] in pending,
            )
            for r in items_by_key.get((cid, ccy), [])
        )
        unapplied = tuple(
            Cash(
                r["receipt_id"],
                r["value_date"],
                customer_reference(r["memo"], r["bank_ref"]),
                r["unapplied"],
            )
            for r in cash_by_key.get((cid, ccy), [])
        )
        aged = dict.fromkeys(buckets, ZERO)
        for item in items:
            aged[item.bucket] = aged.get(item.bucket, ZERO) + item.amount
        ledgers[cid].append(
            CurrencyLedger(ccy, start, tuple(shown), running, items, unapplied, tuple(aged.items()))
        )
    return ledgers


LINE_SCHEMA = {
    "customer_id": pl.String,
    "currency": pl.String,
    "date": pl.Date,
    "order": pl.Int8,
    "kind": pl.String,
    "reference": pl.String,
    "ours": pl.String,
    "note": pl.String,
    "note_arg": pl.String,
    "amount": pl.Decimal(38, 2),
}


def _invoice_lines(invoices: pl.DataFrame) -> pl.DataFrame:
    current = invoices.filter(pl.col("origin") != "opening")
    po = pl.col("po_number") if "po_number" in current.columns else pl.lit(None, pl.String)
    return current.select(
        "customer_id",
        "currency",
        pl.col("invoice_date").alias("date"),
        pl.lit(0, pl.Int8).alias("order"),
        pl.lit("invoice").alias("kind"),
        po.cast(pl.String).alias("reference"),
        pl.col("invoice_id").alias("ours"),
        pl.lit(None, pl.String).alias("note"),
        pl.lit(None, pl.String).alias("note_arg"),
        "amount",
    ).cast(LINE_SCHEMA)


def _credit_notes(result, ids: list[str]) -> pl.DataFrame:
    """The selected customers' credit notes with what is left on them at close
    (``left``: unapplied and still in AR; one a decision took out of AR has none left) and
    their currency (a credit note naming none is in the base currency, as in the aging)."""
    notes = result.review.credit_notes
    schema = {
        "credit_id": pl.String,
        "customer_id": pl.String,
        "date": pl.Date,
        "currency": pl.String,
        "amount": pl.Decimal(38, 2),
        "left": pl.Decimal(38, 2),
        "origin": pl.String,
        "reason": pl.String,
    }
    if notes.height == 0 or "unapplied" not in notes.columns:
        return pl.DataFrame(schema=schema)
    return (
        notes.filter(pl.col("customer_id").is_in(ids))
        .with_columns(
            [
                pl.lit(None, pl.String).alias(c)
                for c in ("reason", "origin")
                if c not in notes.columns
            ]
        )
        .select(
            pl.col("credit_id").cast(pl.String),
            pl.col("customer_id").cast(pl.String),
            "date",
            pl.col("currency").fill_null(result.config.base_currency),
            "amount",
            pl.when(pl.col("status") == "unapplied")
            .then(pl.col("unapplied"))
            .otherwise(0)
            .alias("left"),
            "origin",
            pl.col("reason").cast(pl.String),
        )
        .cast(schema)
    )


def _unapplied_credits(credits: pl.DataFrame) -> pl.DataFrame:
    """Credit notes with something left, in the shape of the unapplied receipts shown."""
    return credits.filter(pl.col("left") > 0).select(
        pl.col("credit_id").alias("receipt_id"),
        pl.col("date").alias("value_date"),
        "currency",
        pl.col("reason").alias("memo"),  # the id is in our column, in either language
        pl.lit(None, pl.String).alias("bank_ref"),
        pl.col("left").alias("unapplied"),
        pl.col("customer_id").alias("payer_id"),
    )


def _allocation_lines(result, invoices, receipts, ids, credits) -> list[pl.DataFrame]:
    """Receipt, credit note and adjustment lines from matching's allocations (those to the
    customers' invoices) and the change of each of their receipts' and credit notes'
    unapplied rest (a credit note carried in is in the opening balance already)."""
    alloc = result.match.allocations.filter(
        pl.col("invoice_id").is_in(invoices["invoice_id"].implode())
    )
    # cash: applied to the customer's invoices, plus (its own receipts) the unapplied change
    applied = alloc.filter(pl.col("kind") == "cash").select(
        "customer_id", "currency", "receipt_id", pl.col("applied_amount").alias("moved")
    )
    own = receipts.filter(pl.col("payer_id").is_in(ids)).select(
        pl.col("payer_id").alias("customer_id"),
        "currency",
        "receipt_id",
        (
            pl.col("unapplied")
            - pl.when(pl.col("origin") == "opening").then(pl.col("amount")).otherwise(0)
        )
        .cast(pl.Decimal(38, 2))
        .alias("moved"),
    )
    cash = (
        pl.concat([applied.cast({"moved": pl.Decimal(38, 2)}), own])
        .group_by("customer_id", "currency", "receipt_id")
        .agg(pl.col("moved").sum())
        .filter(pl.col("moved") != 0)
        .join(receipts, on="receipt_id", how="left", suffix="_receipt")
    )
    other_currency = pl.col("currency_receipt") != pl.col("currency")
    paid_by = pl.col("payer_id").is_null() | (pl.col("payer_id") != pl.col("customer_id"))
    note = (
        pl.when(other_currency)
        .then(pl.lit("other_currency"))
        .when(paid_by)
        .then(pl.lit("paid_by"))
        .when(pl.col("moved") != pl.col("amount"))
        .then(pl.lit("part"))
    )
    money = pl.concat_str("currency_receipt", pl.lit(" "), pl.col("amount").cast(pl.String))
    note_arg = pl.when(other_currency | ~paid_by).then(money).otherwise(pl.col("payer_name"))
    receipt_lines = cash.select(
        "customer_id",
        "currency",
        pl.col("value_date").alias("date"),
        pl.lit(1, pl.Int8).alias("order"),
        pl.lit("receipt").alias("kind"),
        pl.concat_list(_text("memo"), _text("bank_ref"))
        .list.drop_nulls()
        .list.unique(maintain_order=True)
        .list.join(" / ")
        .alias("reference"),
        pl.col("receipt_id").alias("ours"),
        note.alias("note"),
        note_arg.alias("note_arg"),
        (-pl.col("moved")).alias("amount"),
    ).cast(LINE_SCHEMA)
    netted = (
        alloc.filter(pl.col("kind") == "credit_note")
        .group_by("customer_id", "currency", pl.col("receipt_id").alias("credit_id"))
        .agg(
            pl.col("applied_amount").sum().alias("netted"),
            pl.col("invoice_id").unique(maintain_order=True).str.join(", ").alias("for"),
        )
    )
    moved = credits.select(
        "customer_id",
        "currency",
        "credit_id",
        (pl.col("left") - pl.when(pl.col("origin") == "opening").then("amount").otherwise(0)).alias(
            "netted"
        ),
        pl.lit(None, pl.String).alias("for"),
    )
    credit_lines = (
        pl.concat([netted.cast({"netted": pl.Decimal(38, 2)}), moved.cast(netted.schema)])
        .group_by("customer_id", "currency", "credit_id")
        .agg(pl.col("netted").sum(), pl.col("for").drop_nulls().first())
        .filter(pl.col("netted") != 0)
        .join(credits.select("credit_id", "date", "reason"), on="credit_id", how="left")
        .select(
            "customer_id",
            "currency",
            "date",
            pl.lit(2, pl.Int8).alias("order"),
            pl.lit("credit_note").alias("kind"),
            pl.col("credit_id").alias("reference"),
            pl.col("credit_id").alias("ours"),
            pl.when(pl.col("for").is_not_null()).then(pl.lit("credit_for")).alias("note"),
            pl.concat_str(pl.col("for").fill_null(""), pl.lit(" "), pl.col("reason").fill_null(""))
            .str.strip_chars()
            .alias("note_arg"),
            (-pl.col("netted")).alias("amount"),
        )
        .cast(LINE_SCHEMA)
    )
    period_end = result.config.period_end
    adjustment_lines = (
        alloc.filter(~pl.col("kind").is_in(["cash", "credit_note"]))
        .join(receipts.select("receipt_id", "value_date"), on="receipt_id", how="left")
        .select(
            "customer_id",
            "currency",
            pl.col("value_date").fill_null(period_end).alias("date"),
            pl.lit(3, pl.Int8).alias("order"),
            pl.lit("adjustment").alias("kind"),
            pl.lit(None, pl.String).alias("reference"),
            pl.col("receipt_id").alias("ours"),
            pl.col("kind").alias("note"),
            pl.col("invoice_id").alias("note_arg"),
            (-pl.col("applied_amount")).alias("amount"),
        )
        .cast(LINE_SCHEMA)
    )
    return [receipt_lines, credit_lines, adjustment_lines]


def _text(column: str) -> pl.Expr:
    """A text column stripped, blank as null."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text != "").then(text)


def _sums(frame: pl.DataFrame) -> dict[tuple[str, str], Decimal]:
    summed = frame.group_by("customer_id", "currency").agg(pl.col("amount").sum())
    return {(c, k): a for c, k, a in summed.iter_rows()}


def _group(frame: pl.DataFrame) -> dict[tuple[str, str], list[dict]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in frame.iter_rows(named=True):
        groups.setdefault((row["customer_id"], row["currency"]), []).append(row)
    return groups


def prove(
    ledgers: dict[str, list[CurrencyLedger]],
    detail: pl.DataFrame,
    receipts,
    credit_notes: pl.DataFrame | None = None,
) -> None:
    """Refuse the statements unless each ledger adds up and its closing is what the
    workpapers show: per customer and currency, opening + Σ lines = closing = the aging's
    open amount − the unapplied cash (matching's receipts) − the unapplied credit notes
    (the aging's, AR-11.1), in exact Decimals."""
    aged = _sums(detail.select("customer_id", "currency", pl.col("open_amount").alias("amount")))
    left = [
        receipts.filter(pl.col("unapplied") > 0).select(
            "customer_id", "currency", pl.col("unapplied").alias("amount")
        )
    ]
    if credit_notes is not None and credit_notes.height:
        left.append(
            credit_notes.select(
                "customer_id", "currency", pl.col("unapplied").alias("amount")
            ).cast({"amount": left[0].schema["amount"]})
        )
    cash = _sums(pl.concat(left))
    problems = []
    for cid, books in ledgers.items():
        for book in books:
            key = (cid, book.currency)
            added = book.opening + sum((line.amount for line in book.lines), ZERO)
            shown = book.open_total - book.unapplied_total
            workpapers = aged.get(key, ZERO) - cash.get(key, ZERO)
            if not added == book.closing == shown == workpapers:
                problems.append(
                    f"{cid} {book.currency}: opening {book.opening} + movements = {added}, "
                    f"open items − unapplied cash = {shown}, aging − unapplied = {workpapers}"
                )
    if problems:
        raise StatementsDisagree(
            "statements not written: they do not tie to the workpapers: " + "; ".join(problems)
        )
