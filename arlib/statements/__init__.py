"""Customer statements (对账单) and collection letters (催收函) of a close: HTML, PDF and xlsx.

Which customers get one is the period's choice (``statements:`` in the params; none by
default, as DESIGN.md says "where the period asks for them"). A statement is a ledger per
currency (opening balance, the period's invoices, receipts, credit notes and adjustments
with a running balance, closing balance, :mod:`.ledger`), the open items behind the
closing with days overdue and an aging strip, the cash received but not yet applied, and a
reply slip (回函) for the customer to confirm the balance or list the differences. Nothing
is written unless every ledger adds up and ties to the aging and the unapplied cash of the
workpapers (:func:`.ledger.prove`).

Each document is written as HTML (opens anywhere, jinja2 escapes every value), as PDF
(:mod:`.pdf`, the one to send) and, for the statement, as xlsx for customers who reconcile
in Excel (:mod:`.xlsx`); ``statements/index.csv`` lists them with the totals.

A collection letter asks only for what is not in dispute (:func:`disputed_invoices`), and
says "second notice" or "final demand" only when the letters before it were sent: the
notices sent for its invoices decide (:func:`arlib.dunning.plan_letters`). Its wording is a
template of :mod:`.letters`, which a company can replace with its own.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from pydantic import Field, ValidationInfo, field_validator

from arlib.money import fmt_money
from arlib.paramtypes import Flag, Range, Section, Text, Whole, choice, problem
from arlib.safe_output import write_csv
from arlib.schema import MONEY
from arlib.statements.ledger import CurrencyLedger, StatementsDisagree, build_ledgers, prove
from arlib.statements.text import TEXT

SELECTIONS = ("none", "all", "overdue")
#: an open exception of these classes puts the invoice it names under dispute (a short
#: payment nobody has explained is one, until it is resolved)
DISPUTE_CLASSES = ("dispute",)
LOGO_SUFFIXES = (".png", ".jpg", ".jpeg")


Selection = choice(SELECTIONS, "customer selection")


def _project_path(info: ValidationInfo, given: str) -> Path | None:
    """A params path against the project root (None when validated without one)."""
    root = (info.context or {}).get("root")
    if root is None:
        return None
    path = Path(given)
    return path if path.is_absolute() else Path(root) / path


class SenderConfig(Section):
    """``statements.sender``: the letterhead and who signs (a plain string is the legal name,
    as older params wrote it)."""

    legal_name: Text | None = Field(None, description="the company's legal name; null: the entity")
    address: Text | None = Field(None, description="postal address on the letterhead")
    contact: Text | None = Field(
        None, description="who to call or write to: person, phone, e-mail, on one line"
    )
    bank_name: Text | None = Field(None, description="bank of the account to pay into")
    account_name: Text | None = Field(None, description="the account's name; null: legal name")
    account_number: Text | None = Field(None, description="the account to pay into")
    logo: Text | None = Field(
        None, description="PNG or JPEG file, relative to the project root, on the letterhead"
    )

    @field_validator("logo")
    @classmethod
    def _logo_is_an_image(cls, logo: str | None, info: ValidationInfo) -> str | None:
        if logo is None:
            return None
        if Path(logo).suffix.lower() not in LOGO_SUFFIXES:
            raise problem(f"{logo!r} is not a PNG or JPEG file name")
        path = _project_path(info, logo)
        if path is not None and not path.is_file():
            raise problem(f"no such file: {path}")
        return logo

    def with_defaults(self, entity: str | None) -> SenderConfig:
        name = self.legal_name or entity or ""
        return self.model_copy(
            update={"legal_name": name, "account_name": self.account_name or name}
        )

    @property
    def bank(self) -> str:
        """The account to pay into, on one line ('' without an account number)."""
        if not self.account_number:
            return ""
        parts = (self.account_name, self.bank_name, self.account_number)
        return ", ".join(p for p in parts if p)


class StatementConfig(Section):
    """``statements:`` section of the params."""

    customers: Selection = Field(
        "none",
        description="none, all (every customer with an open invoice, unapplied cash or an "
        "unapplied credit note) or overdue (customers with an overdue tier)",
    )
    customer_ids: tuple[Text, ...] = Field(
        (), description="these customers too, whatever customers says"
    )
    letters: Flag = Field(
        True,
        description="a collection letter for each selected customer with an overdue tier once "
        "its invoices under dispute are left out; worded one step past the last letter the "
        "customer was sent (reminder, second notice, final demand), never past what the tier "
        "asks for (most severe tier: final demand, mildest: reminder)",
    )
    sender: SenderConfig = Field(
        SenderConfig(),
        description="the letterhead and who signs: legal_name (null: the entity), address, "
        "contact, bank_name, account_name, account_number (the account to pay into) and logo "
        "(a PNG or JPEG file); a plain string is the legal_name alone",
    )
    reply_days: Annotated[Whole, Range(ge=0)] = Field(
        10, description="days the customer has to confirm the balance or report differences"
    )
    template_dir: Text | None = Field(
        None,
        description="the company's own letter templates (letter_<reminder|second|final>."
        "<zh|en>.j2), relative to the project root; one it lacks is the shipped one",
    )

    @field_validator("sender", mode="before")
    @classmethod
    def _plain_name(cls, value: Any) -> Any:
        if value is None:
            return {}
        return {"legal_name": value} if isinstance(value, str) else value

    @field_validator("template_dir")
    @classmethod
    def _templates_usable(cls, folder: str | None, info: ValidationInfo) -> str | None:
        if folder is None:
            return None
        path = _project_path(info, folder)
        if path is None:
            return folder
        if not path.is_dir():
            raise problem(f"no such folder: {path}")
        from arlib.statements.letters import check_folder

        if problems := check_folder(path):
            raise problem("; ".join(problems))
        return folder


INDEX_SCHEMA = {
    "customer_id": pl.String,
    "name": pl.String,
    "language": pl.String,
    "document_number": pl.String,
    "currency": pl.String,
    "opening": MONEY,
    "invoiced": MONEY,
    "received": MONEY,
    "credited": MONEY,
    "adjusted": MONEY,
    "closing": MONEY,
    "open_amount": MONEY,
    "overdue": MONEY,
    "unapplied": MONEY,
    "balance": MONEY,
    "under_dispute": MONEY,
    "tier": pl.String,
    "letter_level": pl.String,
    "statement": pl.String,
    "statement_pdf": pl.String,
    "statement_xlsx": pl.String,
    "letter": pl.String,
    "letter_pdf": pl.String,
}


def _language(declared: str | None, name: str | None) -> str:
    """The customer's ``language`` when it is Chinese or English, else by the name's script."""
    lang = (declared or "").strip().lower()
    if lang.startswith("zh"):
        return "zh"
    if lang.startswith("en"):
        return "en"
    return "zh" if re.search(r"[\u4e00-\u9fff]", name or "") else "en"


def file_stem(customer_id: str, taken: set[str]) -> str:
    """A file name from the customer id: path separators and odd characters become '_'."""
    stem = re.sub(r"[^\w.-]", "_", customer_id).strip(".") or "customer"
    candidate, k = stem, 2
    while candidate in taken:
        candidate, k = f"{stem}_{k}", k + 1
    taken.add(candidate)
    return candidate


def selected_customers(review, match, config: StatementConfig) -> list[str]:
    """Customer ids that get a statement, sorted."""
    chosen: set[str] = set(config.customer_ids)
    if config.customers == "all":
        chosen |= set(review.aging.detail.get_column("customer_id").drop_nulls().to_list())
        cash = match.receipts.filter(pl.col("unapplied") > 0)
        chosen |= set(cash.get_column("customer_id").drop_nulls().to_list())
        credits = review.aging.unapplied_credit_notes  # a credit the customer holds
        chosen |= set(credits.get_column("customer_id").drop_nulls().to_list())
    elif config.customers == "overdue":
        tiers = review.tiers.filter(pl.col("tier").is_not_null())
        chosen |= set(tiers.get_column("customer_id").drop_nulls().to_list())
    return sorted(chosen)


def disputed_invoices(
    invoices: pl.DataFrame,
    decisions: pl.DataFrame | None,
    exceptions: pl.DataFrame,
    disputes: pl.DataFrame | None = None,
) -> set[str]:
    """Invoices under dispute: flagged ``disputed`` (in the invoice file, or carried so),
    named by a ``dispute`` decision (carried ones included), by an open exception of a
    :data:`DISPUTE_CLASSES` class, or by a customer's dispute not yet resolved
    (``disputes``, the register of :mod:`arlib.followup.disputes`)."""
    from arlib.followup.disputes import open_dispute_invoices

    ids: set[str] = open_dispute_invoices(disputes)
    if "disputed" in invoices.columns:
        ids |= set(invoices.filter(pl.col("disputed").fill_null(False))["invoice_id"])
    if decisions is not None and decisions.height:
        held = decisions.filter(pl.col("action") == "dispute")["invoice_id"].drop_nulls()
        ids |= set(held)
    named = exceptions.filter(
        (pl.col("status") == "open") & pl.col("class").is_in(DISPUTE_CLASSES)
    )["invoice_id"]
    return ids | set(named.drop_nulls())


def dunning_holds(match, review, frames) -> tuple[set[str], frozenset[str]]:
    """What a letter does not ask for: the invoices under dispute, and apart from them
    those a receipt not yet applied probably pays (:func:`payment_pending_invoices`)."""
    disputed = disputed_invoices(
        match.invoices, frames["decisions"], review.exceptions, frames.get("disputes")
    )
    pending = payment_pending_invoices(match, review.exceptions) - disputed
    return disputed, frozenset(pending)


def payment_pending_invoices(match, exceptions: pl.DataFrame) -> set[str]:
    """Invoices that a receipt still unapplied probably pays: named by its best
    suggestion (rank 1) or by an open exception about it (a keying error, say).

    Why: a collector does not ask a customer for money it appears to have sent; like an
    ERP's dunning block, the invoice is held until the payment is applied or rejected.
    A receipt already applied (a short payment, say) holds nothing."""
    waiting = match.receipts.filter(pl.col("unapplied") > 0).select("receipt_id")
    suggested = (
        match.suggestions.filter(pl.col("rank") == 1)
        .join(waiting, on="receipt_id")
        .select(pl.col("invoice_ids").str.split("|").explode().str.strip_chars())
        .to_series()
    )
    raised = exceptions.filter(pl.col("status") == "open").join(waiting, on="receipt_id")
    named = set(suggested.drop_nulls()) | set(raised["invoice_id"].drop_nulls())
    return named - {""}


@dataclasses.dataclass(frozen=True)
class Document:
    """One customer's statement (and letter): what every renderer shows."""

    customer_id: str
    name: str
    lang: str
    number: str  # the statement's document number
    letter_number: str
    issue_date: str
    period: str
    sender: SenderConfig
    logo: Path | None
    reply_days: int
    ledgers: list[CurrencyLedger]
    tier: str | None
    level: str | None
    letter: list[str]  # the letter's paragraphs (none without a letter)

    @property
    def text(self) -> dict[str, str]:
        return TEXT[self.lang]


def document_number(kind: str, period: str, customer_id: str) -> str:
    """``ST-2026-10-C000075``: the same for the same close and customer, whoever runs it."""
    return f"{kind}-{period}-{customer_id}"


def write_statements(result, out: Path) -> list[Path]:
    """Write ``statements/<customer>.html|.pdf|.xlsx`` (and ``letters/<customer>.html|.pdf``)
    for the selected customers plus ``statements/index.csv``; nothing when none are
    selected, and nothing at all (:class:`StatementsDisagree`) when a figure does not tie."""
    from arlib.statements import html, pdf, xlsx
    from arlib.statements.letters import render_letter

    config = result.config.statements
    review, match = result.review, result.match
    ids = selected_customers(review, match, config)
    if not ids:
        return []
    levels = {r["customer_id"]: r["level"] for r in result.letters.iter_rows(named=True)}
    frames = result.period.frames
    disputed, pending = dunning_holds(match, review, frames)
    customers = result.period.frames["customers"]
    info = {
        r["customer_id"]: r
        for r in customers.select(
            "customer_id",
            "name",
            pl.col("language")
            if "language" in customers.columns
            else pl.lit(None, pl.String).alias("language"),
        ).iter_rows(named=True)
    }
    tiers = {r["customer_id"]: r["tier"] for r in review.tiers.iter_rows(named=True)}
    detail = review.aging.detail.filter(pl.col("customer_id").is_in(ids))
    ledgers = build_ledgers(result, ids, disputed, pending)
    prove(
        ledgers,
        detail,
        match.receipts.filter(pl.col("customer_id").is_in(ids)),
        result.review.aging.unapplied_credit_notes.filter(pl.col("customer_id").is_in(ids)),
    )
    root = result.config.root
    folder = _under(root, config.template_dir)
    sender = config.sender.with_defaults(result.config.entity)
    logo = _under(root, sender.logo)
    period, issue = result.config.period, result.config.as_of.isoformat()
    docs, taken = [], set()
    for cid in ids:
        who = info.get(cid, {"name": None, "language": None})
        name = who["name"] or cid
        lang = _language(who["language"], name)
        level = levels.get(cid)
        doc = Document(
            cid, name, lang, document_number("ST", period, cid),
            document_number("DL", period, cid), issue, period, sender, logo,
            config.reply_days, ledgers[cid], tiers.get(cid), level, [],
        )  # fmt: skip
        if level:
            values = letter_values(doc)
            doc = dataclasses.replace(doc, letter=render_letter(folder, level, lang, values))
        docs.append((file_stem(cid, taken), doc))
    index = pl.DataFrame(
        [row for stem, doc in docs for row in _index_rows(doc, stem)], schema=INDEX_SCHEMA
    )
    _check_against_aging(index, detail)
    statements, letters = out / "statements", out / "letters"
    statements.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, doc in docs:
        written += [
            html.write_statement(doc, statements / f"{stem}.html"),
            pdf.write_statement(doc, statements / f"{stem}.pdf"),
            xlsx.write_statement(doc, statements / f"{stem}.xlsx"),
        ]
        if doc.level:
            letters.mkdir(parents=True, exist_ok=True)
            written += [
                html.write_letter(doc, letters / f"{stem}.html"),
                pdf.write_letter(doc, letters / f"{stem}.pdf"),
            ]
    index_path = statements / "index.csv"
    write_csv(index, index_path)
    return [*written, index_path]


def _under(root: Path, given: str | None) -> Path | None:
    if given is None:
        return None
    path = Path(given)
    return path if path.is_absolute() else root / path


def overdue_figures(doc: Document) -> dict[str, Any]:
    """What the letter asks for: the overdue items neither under dispute nor probably paid
    by a receipt not yet applied (and those two apart)."""
    late = [
        (book.currency, item)
        for book in doc.ledgers
        for item in book.open_items
        if item.days_past_due > 0
    ]
    asked = [(ccy, i) for ccy, i in late if not (i.disputed or i.payment_pending)]
    held = [(ccy, i) for ccy, i in late if i.disputed]
    pending = [(ccy, i) for ccy, i in late if i.payment_pending and not i.disputed]
    return {
        "overdue_count": len(asked),
        "oldest_days": max((i.days_past_due for _, i in asked), default=0),
        "overdue_amount": _per_currency(asked),
        "disputed_count": len(held),
        "disputed_amount": _per_currency(held),
        "pending_count": len(pending),
        "pending_amount": _per_currency(pending),
    }


def letter_values(doc: Document) -> dict[str, Any]:
    """The placeholders of a letter template (:data:`.letters.PLACEHOLDERS`)."""
    return {
        "customer": doc.name,
        "customer_id": doc.customer_id,
        "document_number": doc.letter_number,
        "statement_number": doc.number,
        "issue_date": doc.issue_date,
        "as_of": doc.issue_date,
        "period": doc.period,
        "reply_days": doc.reply_days,
        "sender": doc.sender.legal_name,
        "contact": doc.sender.contact or "",
        "bank": doc.sender.bank,
        **overdue_figures(doc),
    }


def _per_currency(items: list[tuple[str, Any]]) -> str:
    """``CNY 1,000.00, USD 20.00``: the open amounts of ``items`` per currency."""
    by_ccy: dict[str, Decimal] = {}
    for ccy, item in items:
        by_ccy[ccy] = by_ccy.get(ccy, Decimal("0.00")) + item.amount
    return ", ".join(f"{ccy} {fmt_money(a)}" for ccy, a in sorted(by_ccy.items()))


def _index_rows(doc: Document, stem: str) -> list[dict]:
    paths = {
        "statement": f"statements/{stem}.html",
        "statement_pdf": f"statements/{stem}.pdf",
        "statement_xlsx": f"statements/{stem}.xlsx",
        "letter": f"letters/{stem}.html" if doc.level else None,
        "letter_pdf": f"letters/{stem}.pdf" if doc.level else None,
    }
    rows = []
    for book in doc.ledgers:
        moved = book.movements
        rows.append(
            {
                "customer_id": doc.customer_id,
                "name": doc.name,
                "language": doc.lang,
                "document_number": doc.number,
                "currency": book.currency,
                "opening": book.opening,
                "invoiced": moved["invoice"],
                "received": -moved["receipt"],
                "credited": -moved["credit_note"],
                "adjusted": -moved["adjustment"],
                "closing": book.closing,
                "open_amount": book.open_total,
                "overdue": book.overdue,
                "unapplied": book.unapplied_total,
                "balance": book.open_total - book.unapplied_total,
                "under_dispute": book.disputed,
                "tier": doc.tier,
                "letter_level": doc.level,
                **paths,
            }
        )
    return rows


def _check_against_aging(index: pl.DataFrame, detail: pl.DataFrame) -> None:
    """The statements' open amounts, per customer and currency, are the aging's for those
    customers (none left out, none added)."""
    keys = ["customer_id", "currency"]
    shown = index.group_by(keys).agg(pl.col("open_amount").sum())
    aged = detail.group_by(keys).agg(pl.col("open_amount").sum())
    both = shown.join(aged, on=keys, how="full", coalesce=True, suffix="_aged")
    bad = both.filter(
        pl.col("open_amount").fill_null(Decimal(0))
        != pl.col("open_amount_aged").fill_null(Decimal(0))
    )
    if bad.height:
        raise StatementsDisagree(
            f"statements not written: they do not tie to the aging: {bad.sort(keys).to_dicts()}"
        )
