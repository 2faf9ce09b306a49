"""Cross-row and cross-file checks on the canonical frames.

Loading already reports values that cannot be read; this stage checks what only makes
sense across rows and files: unique ids, due dates not before invoice dates, known
currencies, customers that exist, customers' discount terms that read (:mod:`arlib.terms`),
sign conventions, duplicate bank lines (flagged, never dropped), and FX rates for every
foreign currency in use. Findings are values, so the notebook shows them as a table and
``arlib validate`` prints them all at once.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from arlib import findings as fnd
from arlib.schema import CURRENCY_DECIMALS, DECISION_ACTIONS
from arlib.terms import terms_problem_expr


def _known_currency(column: str = "currency") -> pl.Expr:
    return pl.col(column).is_in(list(CURRENCY_DECIMALS)) | pl.col(column).is_null()


def _duplicates(df: pl.DataFrame, key: str, label: str) -> pl.DataFrame:
    """Second and later rows with an id already used; the message names the first row."""
    if df.height == 0 or key not in df.columns:
        return fnd.to_frame([])
    # only rows whose id repeats can be findings: windows over those alone, not 1M keys
    marked = (
        df.filter(pl.col(key).is_duplicated())
        .with_columns(
            pl.col("source_row").first().over(key).alias("_first_row"),
            pl.int_range(pl.len()).over(key).alias("_nth"),
        )
        .filter(pl.col(key).is_not_null() & (pl.col("_nth") > 0))
    )
    return marked.select(
        pl.lit("error").alias("severity"),
        pl.col("source_file").alias("file"),
        pl.col("source_row").alias("row"),
        pl.lit(key).alias("column"),
        pl.col(key).alias("value"),
        pl.lit(f"duplicate_{label}").alias("rule"),
        pl.format(
            "{} already used on row {}", pl.lit(label.replace("_", " ")), pl.col("_first_row")
        ).alias("message"),
    )


def check_invoices(invoices: pl.DataFrame, customers: pl.DataFrame, as_of: dt.date) -> list:
    parts = [_duplicates(invoices, "invoice_id", "invoice_id")]
    parts.append(
        fnd.from_rows(
            invoices,
            (pl.col("due_date") < pl.col("invoice_date")).fill_null(False),
            severity="error",
            column="due_date",
            rule="due_before_invoice",
            message="due date is before the invoice date",
        )
    )
    parts.append(
        fnd.from_rows(
            invoices,
            (pl.col("amount") <= 0).fill_null(False),
            severity="error",
            column="amount",
            rule="sign",
            message="invoice amounts must be positive (put credits in credit_notes)",
        )
    )
    parts.append(
        fnd.from_rows(
            invoices,
            (pl.col("invoice_date") > as_of).fill_null(False),
            severity="warning",
            column="invoice_date",
            rule="after_as_of",
            message=f"invoice dated after the as-of date {as_of}",
        )
    )
    if "tax_amount" in invoices.columns:
        parts.append(
            fnd.from_rows(
                invoices,
                (pl.col("tax_amount").abs() > pl.col("amount").abs()).fill_null(False),
                severity="warning",
                column="tax_amount",
                rule="tax_over_amount",
                message="tax amount exceeds the invoice amount",
            )
        )
    parts.append(_unknown_currency(invoices))
    parts.append(_unknown_customer(invoices, customers))
    return parts


def _unknown_currency(df: pl.DataFrame) -> pl.DataFrame:
    if "currency" not in df.columns:
        return fnd.to_frame([])
    return fnd.from_rows(
        df,
        ~_known_currency(),
        severity="error",
        column="currency",
        rule="unknown_currency",
        message=f"unknown currency (known: {', '.join(sorted(CURRENCY_DECIMALS))})",
    )


def _unknown_customer(df: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    if "customer_id" not in df.columns or customers.height == 0:
        return fnd.to_frame([])
    known = customers["customer_id"].drop_nulls().unique()
    return fnd.from_rows(
        df,
        pl.col("customer_id").is_not_null() & ~pl.col("customer_id").is_in(known.implode()),
        severity="error",
        column="customer_id",
        rule="unknown_customer",
        message="customer not in the customers file",
    )


def check_receipts(receipts: pl.DataFrame, period_start: dt.date, period_end: dt.date) -> list:
    parts = [_duplicates(receipts, "receipt_id", "receipt_id")]
    parts.append(
        fnd.from_rows(
            receipts,
            (pl.col("amount") <= 0).fill_null(False),
            severity="error",
            column="amount",
            rule="sign",
            message="receipts must be positive credits (debits belong elsewhere)",
        )
    )
    # Cash carried in from the previous close (origin ``opening``) is from before this
    # period by definition: only this period's bank lines can lie outside it.
    this_period = (
        (pl.col("origin") != "opening").fill_null(True)
        if "origin" in receipts.columns
        else pl.lit(True)
    )
    parts.append(
        fnd.from_rows(
            receipts,
            ~pl.col("value_date").is_between(period_start, period_end).fill_null(True)
            & this_period,
            severity="warning",
            column="value_date",
            rule="outside_period",
            message=f"value date outside the period {period_start}..{period_end}",
        )
    )
    parts.append(_unknown_currency(receipts))
    parts.append(duplicate_bank_lines(receipts))
    return parts


DUPLICATE_LINE_KEY = ("value_date", "amount", "currency", "payer_name", "payer_account", "memo")


def duplicate_bank_lines(receipts: pl.DataFrame) -> pl.DataFrame:
    """Lines identical in date, amount, payer and memo: flagged, kept, never dropped."""
    if receipts.height == 0:
        return fnd.to_frame([])
    key = [c for c in DUPLICATE_LINE_KEY if c in receipts.columns]
    # the only candidates: lines repeating the whole key, found among the few that repeat
    # its cheap numeric part (every line sharing a key shares that part too)
    cheap = [c for c in ("value_date", "amount") if c in key]
    repeated = receipts.filter(pl.struct(cheap).is_duplicated()) if cheap else receipts
    repeated = repeated.filter(pl.struct(key).is_duplicated())
    marked = repeated.with_columns(
        pl.col("source_row").first().over(key, order_by="source_row").alias("_first_row"),
        pl.col("receipt_id").first().over(key, order_by="source_row").alias("_first_id"),
        pl.col("source_row").rank("ordinal").over(key).alias("_nth"),
    ).filter((pl.col("_nth") > 1) & pl.col("amount").is_not_null())
    return marked.select(
        pl.lit("warning").alias("severity"),
        pl.col("source_file").alias("file"),
        pl.col("source_row").alias("row"),
        pl.lit("receipt_id").alias("column"),
        pl.col("receipt_id").alias("value"),
        pl.lit("duplicate_bank_line").alias("rule"),
        pl.format(
            "same date, amount, payer and memo as receipt {} (row {}); kept and flagged",
            pl.col("_first_id"),
            pl.col("_first_row"),
        ).alias("message"),
    )


def check_customers(customers: pl.DataFrame) -> list:
    parts = [_duplicates(customers, "customer_id", "customer_id")]
    if "parent_id" in customers.columns:
        known = customers["customer_id"].drop_nulls().unique().implode()
        parts.append(
            fnd.from_rows(
                customers,
                pl.col("parent_id").is_not_null() & ~pl.col("parent_id").is_in(known),
                severity="warning",
                column="parent_id",
                rule="unknown_parent",
                message="parent customer not in the customers file",
            )
        )
    if "discount_terms" in customers.columns:
        # terms read wrongly would misjudge every discount of the customer: refused here,
        # so matching and the exceptions read only terms arlib.terms understands
        problem = terms_problem_expr(pl.col("discount_terms")).alias("_terms_problem")
        checked = customers.with_columns(problem)
        parts.append(
            fnd.from_rows(
                checked,
                pl.col("_terms_problem").is_not_null(),
                severity="error",
                column="discount_terms",
                rule="bad_discount_terms",
                message=pl.col("_terms_problem"),
            )
        )
    return parts


def check_credit_notes(credits: pl.DataFrame, invoices: pl.DataFrame, customers) -> list:
    if credits.height == 0:
        return []
    parts = [_duplicates(credits, "credit_id", "credit_id")]
    parts.append(
        fnd.from_rows(
            credits,
            (pl.col("amount") <= 0).fill_null(False),
            severity="error",
            column="amount",
            rule="sign",
            message="credit note amounts are positive (the credit reduces the invoice)",
        )
    )
    parts.append(_unknown_customer(credits, customers))
    # the invoices the credit notes name that exist: a set of the few names, not of 1M ids
    named = credits["invoice_id"].drop_nulls().unique().implode()
    known = (
        invoices.select(pl.col("invoice_id").filter(pl.col("invoice_id").is_in(named)))
        .to_series()
        .unique()
        .implode()
    )
    parts.append(
        fnd.from_rows(
            credits,
            pl.col("invoice_id").is_not_null()
            & ~pl.col("invoice_id").is_in(known)
            # one carried from the last close was checked then (its invoice may be paid)
            & (pl.col("origin").ne_missing("opening") if "origin" in credits.columns else True),
            severity="warning",
            column="invoice_id",
            rule="unknown_invoice",
            message="credit note names an invoice that is neither in this period nor open",
        )
    )
    return parts


def check_fx(
    fx_rates: pl.DataFrame, invoices: pl.DataFrame, receipts: pl.DataFrame, base: str
) -> list:
    parts = []
    if fx_rates.height:
        parts.append(
            fnd.from_rows(
                fx_rates,
                (pl.col("rate") <= 0).fill_null(False),
                severity="error",
                column="rate",
                rule="sign",
                message="FX rates must be positive",
            )
        )
    have = set(fx_rates["currency"].drop_nulls().to_list()) | {base}
    for frame in (invoices, receipts):
        if frame.height == 0 or "currency" not in frame.columns:
            continue
        missing = frame.filter(
            pl.col("currency").is_not_null() & ~pl.col("currency").is_in(list(have))
        )
        first = missing.group_by("currency").agg(pl.col("source_file", "source_row").first())
        for currency, file, row in first.sort("currency").iter_rows():
            parts.append(
                fnd.to_frame(
                    [
                        fnd.error(
                            file,
                            row,
                            "currency",
                            currency,
                            "missing_fx_rate",
                            f"no {currency}→{base} rate in fx_rates (first use shown)",
                        )
                    ]
                )
            )
    return parts


def check_decisions(frames: dict[str, pl.DataFrame], config) -> list:
    """Every decision that matching could not apply, as an error naming its row.

    Why an error: the preparer asked for a match, rejection or dispute that would not
    happen, so the close would not say what they believe it says. Matching's own rule
    judges them (:func:`arlib.match.check_decisions`) on this period's balances.
    """
    from arlib.match import check_decisions as judged

    decisions = frames.get("decisions")
    if decisions is None or decisions.height == 0:
        return []
    # an unknown action is already a load error of its own row
    decisions = decisions.filter(pl.col("action").is_in(list(DECISION_ACTIONS)))
    return [
        *check_exception_decisions(decisions, frames),
        judged(
            frames["invoices"],
            frames["receipts"],
            frames["credit_notes"],
            frames["fx_rates"],
            decisions,
            config.matching,
            config.base_currency,
        ),
    ]


def check_exception_decisions(decisions: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> list:
    """``assign`` and ``resolve`` decisions that could not find their exception: naming
    nothing, an owner missing, or a receipt or invoice that neither this period nor the
    previous close's open exceptions know. Whether an exception is about them is known
    only after the exceptions are classified (see :func:`arlib.carry.carry_exceptions`)."""
    on_exceptions = decisions.filter(
        pl.col("action").replace_strict(DECISION_ACTIONS, default=None) == "exception"
    )
    if on_exceptions.height == 0:
        return []
    opening = frames.get("opening_exceptions")
    known_receipts = frames["receipts"]["receipt_id"]
    known_invoices = frames["invoices"]["invoice_id"]
    if opening is not None and opening.height:
        named = opening["receipt_id"].drop_nulls().str.split("|").explode()
        known_receipts = pl.concat([known_receipts, named])
        known_invoices = pl.concat([known_invoices, opening["invoice_id"]])
    named_nothing = pl.all_horizontal(
        pl.col(c).is_null() for c in ("exception_id", "receipt_id", "invoice_id")
    )
    return [
        fnd.from_rows(
            on_exceptions,
            named_nothing,
            severity="error",
            column="invoice_id",
            rule="decision_without_subject",
            message="names no exception_id, receipt_id or invoice_id: nothing to act on",
        ),
        fnd.from_rows(
            on_exceptions,
            (pl.col("action") == "assign") & pl.col("owner").is_null() & ~named_nothing,
            severity="error",
            column="owner",
            rule="decision_without_owner",
            message="an assign decision names no owner; nothing is assigned",
        ),
        fnd.from_rows(
            on_exceptions,
            pl.col("receipt_id").is_not_null()
            & ~pl.col("receipt_id").is_in(known_receipts.drop_nulls().implode()),
            severity="error",
            column="receipt_id",
            rule="decision_unknown_receipt",
            message="no such receipt in this period or the open exceptions carried in",
        ),
        fnd.from_rows(
            on_exceptions,
            pl.col("invoice_id").is_not_null()
            & ~pl.col("invoice_id").is_in(known_invoices.drop_nulls().implode()),
            severity="error",
            column="invoice_id",
            rule="decision_unknown_invoice",
            message="no such invoice in this period or the open exceptions carried in",
        ),
    ]


def validate(frames: dict[str, pl.DataFrame], config) -> pl.DataFrame:
    """All cross-row checks for a period's canonical frames, as one findings frame."""
    invoices = frames["invoices"]
    customers = frames["customers"]
    all_invoices = frames.get("all_invoices", invoices)
    parts: list = []
    parts += check_invoices(invoices, customers, config.as_of)
    parts += check_receipts(frames["receipts"], config.period_start, config.period_end)
    parts += check_customers(customers)
    parts += check_credit_notes(frames["credit_notes"], all_invoices, customers)
    parts += check_fx(frames["fx_rates"], all_invoices, frames["receipts"], config.base_currency)
    parts += check_decisions(frames, config)
    return fnd.concat(*parts)
