"""Classify every residual of matching into an exception a person can act on (差异分类).

Why: matching leaves amounts it could not explain (unapplied cash, short-paid invoices,
suggestions awaiting review) and amounts it explained only by a tolerance (bank charges,
discounts, FX and rounding differences, third-party payers). An auditor needs each one
named, with the numbers that prove the name, and a next step. The checks are ordered from
the most specific (a duplicate bank line, a decimal shift) to the generic (short payment,
unidentified receipt), and each is exact: a near miss (1,000.00 vs 1,000.01 is rounding,
not a decimal shift; 1,342 vs 1,234 is not a transposition) falls through to the next.
Decimal shifts and transpositions are keying errors as :mod:`arlib.keying` defines them
(the shift factors are ``shift_factors``); customers' discount terms are read by
:mod:`arlib.terms`.

Every row has a stable ``exception_id`` (a hash of type, receipt and invoice), so a
reviewer's notes and decisions survive reruns of the same close, and a ``key`` (type and
what it is about: its receipt, its invoice, the pair or the customer) that identifies it
across closes: :func:`arlib.carry.carry_exceptions` carries open exceptions on by it.

Classes and types:

- ``technical_error``: decimal_shift, transposition, rounding, duplicate_bank_line
- ``process_gap``: discount_outside_terms, discount (within terms, not yet cleared),
  tax_difference, bank_charge_over_tolerance, bank_charge (within tolerance),
  fx_difference, write_off (a short payment within the payment tolerance),
  third_party_payment, memo_conflict, unapplied_credit_note
- ``dispute``: short_payment, disputed_invoice, repeated_late_payment
- ``unapplied_cash``: overpayment, duplicate_payment, unidentified_receipt

Status is ``open`` (needs a person) or ``cleared`` (a tolerance allocation inside its
tolerance: the journal proposal posts it).

Scale: the lookups are built with polars, never per row. The invoices a residual receipt may
match (decimal shift, transposition, tax, discount, bank charge) are found by equi-joins on
integer-cent keys per customer and currency (:func:`_candidate_hits`, a superset that the exact
Decimal checks then decide), duplicate payments by a join on (customer, amount). The checks
are polars columns over all the rows of a family; only the residual receipts that reach their
candidate invoices are read in Python, with dict lookups. The result is sorted explicitly and
does not depend on the row order of the inputs (given unique invoice and receipt ids).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import polars as pl

from arlib.exceptions.config import (
    CLASS_OF,
    COLUMNS,
    DEFAULT_ACTIONS,
    TOLERANCE_KINDS,
    ExceptionConfig,
)
from arlib.exceptions.context import Context, customer_discounts, net_of_tax
from arlib.exceptions.credit_notes import unapplied_credit_notes
from arlib.exceptions.invoices import invoice_residuals
from arlib.exceptions.late import repeated_late
from arlib.exceptions.receipts import receipt_residuals
from arlib.exceptions.register import exception_id, exception_key, finish, in_register_order
from arlib.exceptions.tolerance import tolerance_allocations
from arlib.kpis import payment_history


@dataclasses.dataclass(frozen=True)
class Family:
    """A family of checks: what it looks at, and the function raising its rows (a frame of
    :data:`~arlib.exceptions.register.ROW_SCHEMA`, in the order raised)."""

    about: str
    description: str
    check: Callable[[Context], pl.DataFrame]


# The families in the order they raise (a second exception on the same ids is numbered in
# this order); within a family each row's checks run most specific first.
FAMILIES = (
    Family("receipt", "residual receipts, in statement order", receipt_residuals),
    Family("invoice", "disputed or short-paid invoices still open, by id", invoice_residuals),
    Family("pair", "tolerance allocations and flagged ones, by ids", tolerance_allocations),
    Family("customer", "customers late again and again", repeated_late),
    Family("credit_note", "credit notes left unapplied, by id", unapplied_credit_notes),
)


def classify_exceptions(
    allocations: pl.DataFrame,
    suggestions: pl.DataFrame | None,
    receipts: pl.DataFrame,
    invoices: pl.DataFrame,
    customers: pl.DataFrame | None = None,
    config: ExceptionConfig | None = None,
    history: pl.DataFrame | None = None,
    *,
    period: str | None = None,
    disputes: Mapping[str, str] | None = None,
    current_history: pl.DataFrame | None = None,
    credit_notes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every residual and tolerance allocation of a ``MatchResult`` as a classified exception.

    Arguments are the matcher's ``allocations``, ``suggestions``, ``receipts`` and
    ``invoices`` frames, the canonical ``customers``, an optional payment ``history``
    of earlier periods (:func:`arlib.kpis.payment_history`) and ``disputes``: the invoice a
    ``dispute`` decision names, by receipt (the disputed invoice a held receipt is about);
    ``current_history`` is this period's payment history when the caller has it already;
    ``credit_notes`` the matcher's credit notes (with ``applied`` and ``unapplied``).
    Returns ``exceptions.csv`` columns plus currency and provenance, sorted by class, type
    and ids.
    """
    config = config or ExceptionConfig()
    if history is not None and history.height == 0:
        history = None
    ctx = Context(
        allocations,
        suggestions,
        receipts,
        invoices,
        customers,
        config,
        history,
        disputes or {},
        (
            payment_history(allocations, receipts, invoices, period)
            if current_history is None
            else current_history
        ),
        credit_notes,
    )
    rows = pl.concat([family.check(ctx) for family in FAMILIES])
    return in_register_order(finish(rows, config))


__all__ = [
    "CLASS_OF",
    "COLUMNS",
    "DEFAULT_ACTIONS",
    "TOLERANCE_KINDS",
    "ExceptionConfig",
    "classify_exceptions",
    "customer_discounts",
    "exception_id",
    "exception_key",
    "in_register_order",
    "net_of_tax",
]
