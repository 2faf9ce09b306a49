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
            "payer_name": pl.String,
        },
        {
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
