"""Canonical frames: the column names and polars types every stage agrees on.

Loaders turn whatever the user's files look like into these shapes; every later stage
reads only these. Money is ``pl.Decimal(38, 2)`` (exact; JPY-style zero-decimal
currencies are checked at load), dates are ``pl.Date``, identifiers are strings.
Every canonical row also carries ``source_file`` and ``source_row`` (the row number a
person sees when opening the file: header on row 1 means the first record is row 2).
"""

from __future__ import annotations

import polars as pl

MONEY = pl.Decimal(38, 2)
RATE = pl.Decimal(38, 8)  # an FX rate: units of base currency per unit
FRACTION = pl.Decimal(38, 6)  # a loss rate (a fraction): 0.005 is 0.50 %, shown as a percentage


def value_kind(dtype: pl.DataType) -> str:
    """How a column's values are shown, by its type: ``money``, ``rate`` (FX),
    ``fraction`` (a percentage), ``decimal``, ``date``, ``integer``, ``number``, ``bool`` or
    ``text``. The notebooks' tables and the workbook both ask here, so a loss rate is never
    printed like money (0.005 as "0.01") in one of them."""
    if dtype == MONEY:
        return "money"
    if dtype == RATE:
        return "rate"
    if dtype == FRACTION:
        return "fraction"
    if isinstance(dtype, pl.Decimal):
        return "decimal"
    if dtype == pl.Date:
        return "date"
    if dtype.is_integer():
        return "integer"
    if dtype.is_numeric():
        return "number"
    if dtype == pl.Boolean:
        return "bool"
    return "text"


# Column names in words, for every table a person reads (the workbook's headers and the
# notebooks' tables ask :func:`column_words`): one mapping, so a column is called the same
# in both. Amounts converted at the as-of rates say "(base)"; CSVs keep the names.
COLUMN_WORDS: dict[str, str] = {
    "account": "Account",
    "account_name": "Account name",
    "action": "Action",
    "age_periods": "Age (closes)",
    "allocated": "Allocated",
    "allocations": "Allocations",
    "amount": "Amount",
    "amount_base": "Amount (base)",
    "applied_amount": "Applied amount",
    "bank_ref": "Bank reference",
    "bucket": "Bucket",
    "cash_applied": "− Cash applied",
    "cei": "CEI (%)",
    "class": "Class",
    "cleared": "Cleared",
    "closing_balance": "Closing balance",
    "closing_computed": "= Closing AR (computed)",
    "closing_listed": "Closing AR (open items listed)",
    "column": "Column",
    "computation": "Computation",
    "computed_closing": "Computed closing",
    "confidence": "Confidence",
    "control_total": "Control total",
    "credit": "Credit",
    "credit_balance": "Credit balance (base)",
    "credit_id": "Credit note",
    "credit_limit": "Credit limit",
    "credit_notes_applied": "− Credit notes applied",
    "credit_policy": "Credit policy",
    "credits_total": "Credits",
    "currency": "Currency",
    "customer_id": "Customer ID",
    "customers": "Customers",
    "date": "Date",
    "days_past_due": "Days past due",
    "days_unapplied": "Days unapplied",
    "debit": "Debit",
    "debits_total": "Debits",
    "description": "Description",
    "difference": "Difference",
    "dso": "DSO (days)",
    "due_date": "Due date",
    "encoding": "Encoding",
    "end_to_end_id": "End-to-end ID",
    "evidence": "Evidence",
    "exception_id": "Exception ID",
    "exceptions": "Exceptions",
    "file": "File",
    "findings": "Findings",
    "first_seen": "First seen",
    "flags": "Flags",
    "format": "Format",
    "formula": "Formula",
    "fx_rate": "FX rate",
    "history": "History",
    "in_subledger": "In sub-ledger",
    "input": "Input",
    "invalid_date": "Invalid date",
    "invalid_reason": "Why invalid",
    "invoice_amount": "Invoice open amount",
    "invoice_currency": "Invoice currency",
    "invoice_date": "Invoice date",
    "invoice_id": "Invoice ID",
    "invoice_ids": "Invoice ID(s)",
    "invoiced": "+ Invoiced",
    "invoices": "Invoices",
    "item_type": "Item type",
    "items": "Items",
    "journal_id": "Journal ID",
    "key": "Key",
    "kind": "Kind",
    "kpi": "KPI",
    "kpi_name": "Measure",
    "late_payments": "Late payments",
    "line": "Line",
    "lines": "Lines",
    "loss_rate": "Loss rate",
    "max_days_past_due": "Max days past due",
    "mean_score": "Mean score",
    "memo": "Memo",
    "message": "Message",
    "name": "Customer name",
    "net_balance": "Net balance (base)",
    "not_due": "Not due",
    "note": "Note",
    "open": "Open",
    "open_amount": "Open amount",
    "open_amount_base": "Open amount (base)",
    "opening_ar": "Opening AR",
    "opening_balance": "Opening balance",
    "origin": "Origin",
    "origin_period": "Origin period",
    "outstanding": "Outstanding (base)",
    "overdue": "Overdue",
    "overdue_amount": "Overdue amount (base)",
    "overdue_invoices": "Overdue invoices",
    "owner": "Owner",
    "parameter": "Parameter",
    "payer_account": "Payer account",
    "payer_method": "Payer identified by",
    "payer_name": "Payer name",
    "payer_score": "Payer score",
    "period": "Period",
    "period_end": "Period end",
    "period_start": "Period start",
    "provision": "Provision (base)",
    "rank": "Rank",
    "query": "Connection: query",
    "reason": "Reason",
    "receipt_amount": "Receipt amount",
    "receipt_currency": "Receipt currency",
    "receipt_id": "Receipt ID",
    "receipts": "Receipts",
    "reference": "Reference",
    "resolution": "Resolution",
    "row": "Row",
    "rows": "Rows",
    "rule": "Rule",
    "rule_id": "Sub-rule",
    "score": "Score",
    "severity": "Severity",
    "sha256": "SHA-256",
    "share_pct": "Share (%)",
    "source_file": "Source file",
    "source_row": "Source row",
    "statement_id": "Statement",
    "status": "Status",
    "suggested_action": "Suggested action",
    "tick": "Tick",
    "tier": "Tier",
    "total_outstanding": "Total outstanding (base)",
    "type": "Type",
    "unapplied": "Unapplied",
    "unapplied_base": "Unapplied (base)",
    "unapplied_cash": "Unapplied cash (base)",
    "unapplied_credit_notes": "Unapplied credit notes (base)",
    "unit": "Unit",
    "value": "Value",
    "value_date": "Value date",
    "adjustments": "− Written off (bank charges, discounts, FX, rounding)",
    "balanced": "Balanced",
    # customer follow-up (arlib.followup)
    "age_band": "Age band (days)",
    "age_days": "Age (days)",
    "balance": "Statement balance",
    "broken": "Broken",
    "broken_promise": "Broken promises",
    "dispute": "Dispute tasks",
    "first_due": "First due",
    "reply": "Replies overdue",
    "tasks": "Tasks",
    "by": "By",
    "collector": "Collector",
    "confirmed_balance": "Confirmed balance",
    "dispute_id": "Dispute ID",
    "disputes": "Disputes",
    "next_action": "Next action",
    "opened": "Opened",
    "opened_in": "Opened in (close)",
    "paid": "Received since promise",
    "person": "Person",
    "priority": "Priority",
    "promise_amount": "Promised amount",
    "promise_date": "Promise date",
    "promise_status": "Promise status",
    "remark": "Customer's remark",
    "replied_in": "Replied in (close)",
    "reply_date": "Reply date",
    "short": "Short of promise",
    "stated_balance": "Balance stated by customer",
    "statement_no": "Statement no.",
    "status_date": "Status since",
    "urgent": "Urgent",
}


def column_words(name: str) -> str:
    """A column's header in words (:data:`COLUMN_WORDS`). A name without an entry (an aging
    bucket label from params, such as ``not_yet_due``) reads as its words, capitalised."""
    if name in COLUMN_WORDS:
        return COLUMN_WORDS[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


PROVENANCE = {"source_file": pl.String, "source_row": pl.Int64}

# name -> (required columns with types, optional columns with types)
FRAMES: dict[str, tuple[dict[str, pl.DataType], dict[str, pl.DataType]]] = {
    "invoices": (
        {
            "invoice_id": pl.String,
            "customer_id": pl.String,
            "invoice_date": pl.Date,
            "due_date": pl.Date,
            "amount": MONEY,
            "currency": pl.String,
        },
        {
            "tax_amount": MONEY,
            "po_number": pl.String,
            "description": pl.String,
            "disputed": pl.Boolean,
        },
    ),
    "receipts": (
        {
            "receipt_id": pl.String,
            "value_date": pl.Date,
            "amount": MONEY,
            "currency": pl.String,
        },
        {
            # optional, and may be empty: many bank lines carry no payer name (DESIGN.md)
            "payer_name": pl.String,
            "payer_account": pl.String,
            "memo": pl.String,
            "bank_ref": pl.String,
            "end_to_end_id": pl.String,
        },
    ),
    "customers": (
        {"customer_id": pl.String, "name": pl.String},
        {
            "aliases": pl.String,
            "payer_accounts": pl.String,
            "payment_terms_days": pl.Int64,
            "credit_limit": MONEY,
            "email": pl.String,
            "phone": pl.String,
            "language": pl.String,
            "parent_id": pl.String,
            "discount_terms": pl.String,
            "policy": pl.String,
            "collector": pl.String,
        },
    ),
    "credit_notes": (
        {
            "credit_id": pl.String,
            "customer_id": pl.String,
            "date": pl.Date,
            "amount": MONEY,
        },
        {"invoice_id": pl.String, "reason": pl.String, "currency": pl.String},
    ),
    "fx_rates": (
        {"date": pl.Date, "currency": pl.String, "rate": RATE},
        {},
    ),
    # customers' replies to statements (回函, arlib.followup.replies): one row per reply
    # that confirms, or per disputed invoice of a reply that does not
    "replies": (
        {"customer_id": pl.String, "statement_no": pl.String, "confirmed": pl.Boolean},
        {
            "reply_date": pl.Date,
            "invoice_id": pl.String,
            "amount": MONEY,
            "remark": pl.String,
            "balance": MONEY,
        },
    ),
    # the collectors' contact log (催收记录, arlib.followup.contacts)
    "contacts": (
        {"date": pl.Date, "customer_id": pl.String, "channel": pl.String},
        {
            "person": pl.String,
            "outcome": pl.String,
            "promise_date": pl.Date,
            "promise_amount": MONEY,
            "currency": pl.String,
            "dispute_id": pl.String,
            "dispute_status": pl.String,
        },
    ),
}

# Decisions a preparer records (params ``inputs.decisions``) and what each acts on: the
# first four on a receipt in matching (arlib.match), ``assign`` and ``resolve`` on the open
# exceptions about a receipt and/or an invoice (arlib.carry).
DECISION_ACTIONS: dict[str, str] = {
    "match": "receipt",
    "reject": "receipt",
    "dispute": "receipt",
    "not_ar": "receipt",
    "assign": "exception",
    "resolve": "exception",
}

# Columns of a decisions file: ``owner`` (who an exception is assigned to) and
# ``exception_id`` are optional, read only by the ``assign`` and ``resolve`` actions.
DECISION_COLUMNS = (
    "receipt_id",
    "action",
    "invoice_id",
    "amount",
    "who",
    "when",
    "why",
    "owner",
    "exception_id",
)

# Minor units per ISO currency. A value with more decimals than this is a load error.
CURRENCY_DECIMALS: dict[str, int] = {
    "CNY": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "HUF": 2,
    "PLN": 2,
    "RUB": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "TWD": 2,
    "THB": 2,
    "MYR": 2,
    "INR": 2,
    "NZD": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
}


def columns(frame: str) -> dict[str, pl.DataType]:
    """All canonical columns of ``frame`` (required, optional, provenance) with types."""
    required, optional = FRAMES[frame]
    return {**required, **optional, **PROVENANCE}


def empty(frame: str) -> pl.DataFrame:
    """An empty canonical frame, so optional inputs flow through the pipeline unchanged."""
    return pl.DataFrame(schema=columns(frame))


def conform(frame: str, df: pl.DataFrame) -> pl.DataFrame:
    """Add missing optional columns as nulls and order columns canonically."""
    cols = columns(frame)
    extra = [c for c in df.columns if c not in cols]
    df = df.with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in cols.items()
        if name not in df.columns
    )
    return df.select([*cols, *extra])
