"""Matching (核销): apply receipts to invoices, rule by rule, and explain every allocation.

``match(invoices, receipts, customers, credit_notes, fx_rates, config)`` returns a
:class:`MatchResult` (see docs/CONTRACTS.md). Money is handled internally as Int64 minor
units ("cents": the canonical ``Decimal(38, 2)`` times 100, also for zero-decimal
currencies) and converted back to ``Decimal(38, 2)`` at the end; nothing is ever a float.

Order of the rules (each can be switched off through ``MatchConfig.rules``):

``credit_note``     credit notes naming an invoice are netted against it first (allocation
                    rows of kind ``credit_note`` whose ``receipt_id`` is the *credit_id*, so
                    the row says which document cleared the invoice; ``receipt_amount`` 0,
                    ``receipt_currency`` null). A receipt of invoice - credit then matches
                    exactly. Credit notes without a known invoice stay unapplied
                    (``MatchResult.credit_notes``).
``manual``          decisions (receipt_id, action, invoice_id, amount, who, when, why):
                    ``match`` allocates, ``reject`` forbids the pair (or, without invoice_id,
                    any automatic match of the receipt), ``dispute`` / ``not_ar`` take the
                    receipt out of matching with that status. A receipt with any decision
                    other than a pair ``reject`` is left to people: rules below skip it.
                    A decision that cannot be applied (unknown receipt or invoice, no
                    receipt, amount <= 0 or beyond what is left of the receipt or open on the
                    invoice, no fx rate across currencies) is an error finding naming its
                    row; :func:`check_decisions` gives the same verdicts at validation.
``reference``       invoice numbers found in memo / bank_ref (``reference_patterns``; the
                    digits of each match, leading zeros stripped, compared whole with the
                    invoice's number from ``invoice_key_pattern``, so '12345' never matches
                    112345). Equal amount, or within tolerance: ``rounding``, ``discount``
                    (customer's ``discount_terms`` like ``2/10 net 30`` when paid within the
                    window), ``bank_charge`` (short payment up to ``bank_charge_max`` of the
                    currency), ``fx_difference`` (other currency at the value-date rate
                    within ``fx_tolerance_pct``); the difference is its own allocation row.
                    Several referenced invoices summing to the amount: combined by reference.
                    A related company (parent, subsidiary or sibling by ``parent_id``)
                    paying another customer's invoice by reference and exact amount is
                    applied and flagged ``third_party``; an unrelated customer's invoice is
                    never applied.
                    A bare number shorter than ``reference_min_digits`` (memo ``556`` or
                    ``556 第2期``) names an invoice only when it is the one stand-alone
                    short number of the text (instalment markers 第2期 / 2/3 removed), the
                    receipt names nothing else, and exactly one open invoice of the
                    resolved payer's own customer has that number. A memo announcing an
                    instalment (第N期, 分期, installment) never gets a bank charge write-off.
``exact_amount``    the payer's (resolved customer's) only open invoice with this exact amount
                    and currency, invoice dated within the date window. Then within
                    tolerance: among the candidates, the strongest evidence decides when it
                    names one invoice (rounding, then the customer's discount to the cent,
                    then a bank charge -- without a reference only in whole currency units,
                    ``bank_charge_whole_units``).
``combined``        one receipt = 2..``combined_max_invoices`` open invoices of the customer
                    (bounded subset sum, per-receipt node budget and global time budget;
                    referenced invoices first, then oldest, only those that fit the amount),
                    exact. A memo that counts its invoices (付INV0012345等6笔货款, 6 invoices)
                    asks for exactly that many, its named invoices among them, up to 10.
``partial``         a receipt naming open invoices by reference whose amount does not fit:
                    applied oldest-first to them, flagged ``partial`` (the invoice stays
                    partly open) or ``overpayment`` (cash left unapplied). Then a receipt
                    naming no invoice whose memo announces an instalment goes onto the
                    payer's only open invoice in its currency (date window), when it does
                    not exceed the open amount (flag ``partial``, confidence 0.6). Last, the
                    next instalment of an invoice part-paid this period by a receipt that
                    named it: a receipt naming nothing that equals its open rest (0.8), or
                    announces an instalment and fits the customer's only such invoice (0.6).
``balance_forward`` customers with ``policy == balance_forward``: remaining cash applied
                    oldest-first (invoice_date, invoice_id) to their open invoices.
``suggestions``     anything weaker (fuzzy payer below the auto threshold, near amount, several
                    equal candidates, decimal-shifted or transposed amount, reference with the
                    wrong amount or another customer) is a ranked suggestion, never applied.

After the rules, a cash allocation by a non-reference rule whose receipt's memo names
existing invoices none of which it cleared is flagged ``memo_conflict`` (the payer + exact
amount won over the memo). Ties are broken by explicit sort keys (value_date, receipt_id,
invoice_date, invoice_id), never by input order; conservation is asserted before returning.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice
from typing import Annotated, Any

import numpy as np
import polars as pl
from pydantic import AfterValidator, Field, field_validator, model_validator

from arlib.findings import FINDING_SCHEMA, quote
from arlib.paramtypes import (
    Days,
    Exact,
    Flag,
    Float,
    Range,
    Section,
    Text,
    Whole,
    check_places,
    choice,
    problem,
    problems_at,
)
from arlib.payers import resolve_payers
from arlib.schema import DECISION_ACTIONS, MONEY

ALL_RULES: tuple[str, ...] = (
    "credit_note",
    "manual",
    "reference",
    "exact_amount",
    "combined",
    "partial",
    "balance_forward",
    "suggestions",
)

KINDS = ("cash", "bank_charge", "discount", "fx_difference", "credit_note", "rounding")


def _d(x: Any) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


Rule = choice(ALL_RULES, "matching rule")


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise problem(f"{quote(pattern)} is not a regular expression: {exc}") from None
    return pattern


Pattern = Annotated[Text, AfterValidator(_regex)]
Money = Annotated[Exact, Range(ge=0)]
Count = Annotated[Whole, Range(ge=0)]
Score = Annotated[Float, Range(ge=0, le=1)]


class MatchConfig(Section):
    """``matching:`` section of the params: every field has a default.

    Money fields are in the invoice's currency units; percentages are percent (``2`` =
    2 %), scores 0-1.
    """

    rules: tuple[Rule, ...] = Field(
        ALL_RULES, description="rules to run, any subset of them (the order of execution is fixed)"
    )
    reference_patterns: tuple[Pattern, ...] = Field(
        (r"(?i)(?:inv(?:oice)?|发票号?|no\.?)?[\s\-_#:：.]*\d+",),
        description="regexes whose matches in memo / bank_ref are invoice numbers (digits of "
        "each match, leading zeros stripped, are compared whole with the invoice's number); a "
        "match with letters in it (a prefix such as INV / 发票号) counts whatever its length",
    )
    reference_columns: tuple[Text, ...] = Field(
        ("memo", "bank_ref"), description="receipt columns searched for references"
    )
    invoice_key_pattern: Pattern = Field(
        r"(\d+)\D*$",
        description="regex with one group: the invoice's number inside invoice_id (default: "
        "the last digit run)",
    )
    reference_min_digits: Count = Field(
        4,
        description="bare numbers (no prefix) with fewer digits, leading zeros included, are "
        "ignored",
    )
    reference_short_own: Flag = Field(
        True,
        description="... except one stand-alone short number equal to the number of exactly "
        "one open invoice of the resolved payer's own customer (memo '556' or '556 第2期')",
    )
    rounding_tolerance: Money = Field(
        Decimal("0.05"),
        description="|difference| up to this is written off as rounding (either direction)",
    )
    bank_charge_max: dict[Text, Money] = Field(
        {
            "CNY": Decimal("50"),
            "USD": Decimal("50"),
            "EUR": Decimal("50"),
            "GBP": Decimal("50"),
            "HKD": Decimal("300"),
            "JPY": Decimal("5000"),
            "*": Decimal("0"),
        },
        description="short payment up to this (per currency; '*' for any other) is a "
        "bank_charge; no more decimals than the currency has",
    )
    bank_charge_whole_units: Flag = Field(
        True,
        description="without a reference, a shortfall is a bank charge only in whole currency "
        "units (banks charge 15.00, not 13.47: among a customer's many open invoices one is "
        "within the cap of almost any amount by chance)",
    )
    bank_charge_max_pct: Money = Field(
        Decimal("10"),
        description="... and at most this % of the invoice's open amount (a larger shortfall "
        "is a partial payment, not a fee; the sample's bank charges reach 6.7 % of small EUR "
        "invoices)",
    )
    fx_tolerance_pct: Money = Field(
        Decimal("2"),
        description="cross-currency reference match: converted amount within this % of the "
        "open amount",
    )
    fx_max_rate_age_days: Days = Field(
        7,
        description="use the latest fx rate on or before the value date, at most this many "
        "days old",
    )
    date_window_days: Days = Field(
        180,
        description="exact_amount: invoice dated at most this many days before the value date ...",
    )
    date_window_prepay_days: Days = Field(
        30, description="... and at most this many days after it (prepayment)"
    )
    combined_max_invoices: Annotated[Whole, Range(ge=2)] = Field(
        5, description="combined: most invoices one receipt may clear"
    )
    combined_max_candidates: Count = Field(
        40,
        description="combined: open invoices considered per receipt (referenced first, then "
        "oldest)",
    )
    combined_max_nodes: Annotated[Whole, Range(ge=1)] = Field(
        2_000, description="combined: search nodes per receipt (deterministic bound)"
    )
    combined_time_budget_s: Annotated[Float, Range(ge=0)] = Field(
        30.0,
        description="combined: wall-clock budget in seconds for the whole rule, a safety valve "
        "only (the deterministic bound is combined_max_nodes; when hit, the rest is left "
        "unmatched, a warning finding is emitted and results then depend on speed: it is not "
        "hit at 1M rows)",
    )
    fuzzy_auto_threshold: Score = Field(
        0.85, description="payer fuzzy match accepted as the payer at or above this score ..."
    )
    fuzzy_margin: Score = Field(
        0.05, description="... when it beats the next customer by this margin"
    )
    fuzzy_suggest_threshold: Score = Field(
        0.75, description="below auto but at or above this: candidate payer, suggestions only"
    )
    suggest_near_pct: Money = Field(
        Decimal("10"),
        description='suggestions: open amounts within this % of the receipt are "near"',
    )
    suggest_max_candidates: Count = Field(5, description="suggestions kept per receipt")

    @field_validator("bank_charge_max")
    @classmethod
    def _currency_places(cls, caps: dict[str, Decimal]) -> dict[str, Decimal]:
        return check_places(caps)

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> MatchConfig:
        if self.fuzzy_suggest_threshold > self.fuzzy_auto_threshold:
            above = f"must not be above fuzzy_auto_threshold ({self.fuzzy_auto_threshold})"
            message = f"{self.fuzzy_suggest_threshold} {above}"
            raise problems_at("matching", [(("fuzzy_suggest_threshold",), message)])
        return self

    def bank_charge_cents(self, currency: str) -> int:
        m = self.bank_charge_max
        return _cents_py(m.get(currency, m.get("*", Decimal(0))))


@dataclass(frozen=True)
class MatchResult:
    """What matching produced. Frames as documented in docs/CONTRACTS.md, plus:

    ``credit_notes``: canonical credit notes + applied, unapplied (Decimal).
    ``findings``: problems found while matching (unusable decisions, budget hit), in
    :data:`arlib.findings.FINDING_SCHEMA`.
    ``stats``: counts per rule and seconds per stage.
    """

    allocations: pl.DataFrame
    suggestions: pl.DataFrame
    receipts: pl.DataFrame
    invoices: pl.DataFrame
    payers: pl.DataFrame
    credit_notes: pl.DataFrame
    findings: pl.DataFrame
    stats: dict[str, Any]


ALLOCATION_SCHEMA = {
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "applied_amount": MONEY,
    "currency": pl.String,
    "receipt_amount": MONEY,
    "receipt_currency": pl.String,
    "kind": pl.String,
    "rule": pl.String,
    "confidence": pl.Float64,
    "reason": pl.String,
    "flags": pl.String,
}

SUGGESTION_SCHEMA = {
    "receipt_id": pl.String,
    "rank": pl.Int64,
    "customer_id": pl.String,
    "invoice_ids": pl.String,
    "amount": MONEY,
    "score": pl.Float64,
    "rule": pl.String,
    "reason": pl.String,
}

# internal allocation rows
_AI = {
    "receipt_id": pl.String,
    "rec_idx": pl.Int64,
    "inv_idx": pl.Int64,
    "kind": pl.String,
    "applied_c": pl.Int64,
    "receipt_c": pl.Int64,
    "rule": pl.String,
    "confidence": pl.Float64,
    "reason": pl.String,
    "flags": pl.String,
}
# internal suggestion rows
_SI = {
    "rec_idx": pl.Int64,
    "rank": pl.Int64,
    "customer_id": pl.String,
    "invoice_ids": pl.String,
    "amount_c": pl.Int64,
    "score": pl.Float64,
    "rule": pl.String,
    "reason": pl.String,
}


# ---------------------------------------------------------------------------------- helpers
def _cents(expr: pl.Expr) -> pl.Expr:
    return (expr.cast(MONEY) * 100).cast(pl.Int64)


def _cents_py(x: Decimal) -> int:
    return int((_d(x) * 100).to_integral_value(ROUND_HALF_UP))


def _money(expr: pl.Expr) -> pl.Expr:
    """Int64 cents -> Decimal(38, 2), exactly."""
    return (expr.cast(pl.Int64).cast(MONEY) / 100).cast(MONEY)


def _fmt(expr: pl.Expr) -> pl.Expr:
    return _money(expr).cast(pl.String)


def _fmt_py(c: int) -> str:
    sign = "-" if c < 0 else ""
    c = abs(int(c))
    return f"{sign}{c // 100}.{c % 100:02d}"


def _short(text: str | None, n: int = 60) -> str:
    t = (text or "").replace("\n", " ").replace("'", "’")
    return t if len(t) <= n else t[: n - 1] + "…"


def _col_or_null(df: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype=dtype)


def _ensure(df: pl.DataFrame, cols: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return df.with_columns(
        pl.lit(None, dtype=t).alias(c) for c, t in cols.items() if c not in df.columns
    )


def _sorted_unique(df: pl.DataFrame, key: str, what: str) -> pl.DataFrame:
    tie = [c for c in ("source_file", "source_row") if c in df.columns]
    df = df.sort([key, *tie], nulls_last=True)
    dup = df.filter(pl.col(key).is_duplicated() | pl.col(key).is_null())
    if dup.height:
        raise ValueError(
            f"match: {what} need unique, non-null {key}; offending: "
            f"{dup.get_column(key).unique().head(5).to_list()}"
        )
    return df


_VAL_BITS = 42  # cents below 2**42 (44 billion units) fit the composite sort key


def _range_join(
    left: pl.DataFrame,
    right: pl.DataFrame,
    by: list[str],
    val: str,
    lo: pl.Expr,
    hi: pl.Expr,
    cap: int,
    from_end: bool = False,
) -> pl.DataFrame:
    """Rows of ``left`` x rows of ``right`` with equal ``by`` and ``right[val]`` within
    ``[lo, hi]`` (expressions on ``left``), at most ``cap`` per left row (the smallest
    values, or the largest with ``from_end``), plus ``_n_in_range`` (all of them).

    A sorted search (O((n + m) log m)), never a per-key cartesian product: a customer with
    20,000 open invoices and 15,000 receipts costs 35,000 rows, not 300 million."""
    right_cols = [c for c in right.columns if c not in by]
    empty = (
        left.head(0)
        .join(right.head(0), on=by, how="inner")
        .with_columns(pl.lit(0, dtype=pl.Int64).alias("_n_in_range"))
    )
    if left.height == 0 or right.height == 0:
        return empty
    groups = right.select(by).unique().sort(by, nulls_last=True).with_row_index("_g")
    r = (
        right.join(groups, on=by, how="inner", nulls_equal=False)
        .filter(pl.col(val).is_between(0, (1 << _VAL_BITS) - 1))
        .sort(["_g", val])
    )
    lf = left.with_columns(lo.alias("_lo"), hi.alias("_hi")).join(groups, on=by, how="inner")
    if lf.height == 0 or r.height == 0:
        return empty
    key = (r.get_column("_g").cast(pl.Int64).to_numpy() << _VAL_BITS) + r.get_column(val).to_numpy()
    g = lf.get_column("_g").cast(pl.Int64).to_numpy() << _VAL_BITS
    top = (1 << _VAL_BITS) - 1
    lo_v = np.clip(lf.get_column("_lo").to_numpy(), 0, top)
    hi_v = np.clip(lf.get_column("_hi").to_numpy(), -1, top)
    a = np.searchsorted(key, g + lo_v, side="left")
    b = np.searchsorted(key, g + hi_v, side="right")
    n = np.maximum(b - a, 0)
    k = np.minimum(n, cap)
    rep = np.repeat(np.arange(lf.height), k)
    off = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
    start = (b - k) if from_end else a
    ridx = start[rep] + off
    out = lf.drop("_lo", "_hi", "_g", *[c for c in right_cols if c in lf.columns])[rep]
    out = out.with_columns(pl.Series("_n_in_range", n[rep], dtype=pl.Int64))
    return pl.concat([out, r.select(right_cols)[ridx]], how="horizontal")


def _typo_of(received: int, expected: int) -> str | None:
    """'decimal shift' / 'transposed digits' when ``received`` looks like a keying error of
    ``expected`` (both in cents), else None."""
    if received <= 0 or expected <= 0 or received == expected:
        return None
    # x10 / x100, or /10 / /100 rounded to the cent
    if received in (expected * 10, expected * 100) or expected in (received * 10, received * 100):
        return "decimal shift"
    if abs(received * 10 - expected) <= 5 or abs(received * 100 - expected) <= 50:
        return "decimal shift"
    a, b = str(received), str(expected)
    if len(a) == len(b):
        d = [i for i in range(len(a)) if a[i] != b[i]]
        if len(d) == 2 and d[1] == d[0] + 1 and a[d[0]] == b[d[1]] and a[d[1]] == b[d[0]]:
            return "transposed digits"
    return None


def _typo_mask(df: pl.DataFrame, received: str, expected: str) -> pl.Series:
    return pl.Series(
        [
            _typo_of(int(x), int(y)) is not None
            for x, y in zip(
                df.get_column(received).to_list(), df.get_column(expected).to_list(), strict=True
            )
        ],
        dtype=pl.Boolean,
    )


class _BudgetExceeded(Exception):
    pass


def _subsets(
    amounts: list[int],
    target: int,
    tol: int,
    kmax: int,
    max_nodes: int,
    first_within: int = 0,
    limit: int = 2,
    kmin: int = 2,
) -> tuple[list[list[int]], bool]:
    """Combinations of kmin..kmax positive amounts summing into [target, target + tol], at most
    ``limit`` of them, each a sorted list of positions, in preference order (lexicographic by
    position) among those found; and whether the search was complete (False when
    ``max_nodes`` search nodes ran out first: a deterministic bound). With ``first_within``
    > 0 a combination must include one of the first ``first_within`` positions.

    The search runs over the amounts sorted ascending, so a branch stops as soon as the sum
    overshoots and is skipped when even the largest remaining amounts cannot reach."""
    n = len(amounts)
    hi = target + tol
    order = sorted(range(n), key=lambda k: (amounts[k], k))
    v = [amounts[k] for k in order]
    named = [k < first_within for k in order]
    pre = [0] * (n + 1)
    for i in range(n):
        pre[i + 1] = pre[i] + v[i]
    path: list[int] = []
    found: list[list[int]] = []
    nodes = 0

    def dfs(start: int, partial: int, depth: int, has_named: bool) -> bool:
        """True when the search should stop (enough solutions)."""
        nonlocal nodes
        slots = kmax - depth - 1  # picks still allowed after this one
        need = max(0, kmin - depth - 1)  # picks still required after this one
        if slots == 0:  # the last pick: a sorted search for what is missing, not a scan
            nodes += 1
            if nodes > max_nodes:
                raise _BudgetExceeded
            if depth + 1 < kmin:
                return False
            a = bisect_left(v, target - partial, start, n)
            for i in range(a, bisect_right(v, hi - partial, start, n)):
                if has_named or named[i] or not first_within:
                    found.append(sorted(order[k] for k in (*path, i)))
                    if len(found) >= limit:
                        return True
            return False
        for i in range(start, n - need):
            nodes += 1
            if nodes > max_nodes:
                raise _BudgetExceeded
            s = partial + v[i]
            if s + pre[i + 1 + need] - pre[i + 1] > hi:
                break  # even the smallest required picks overshoot
            hn = has_named or named[i]
            if s >= target and need == 0:
                if hn or not first_within:
                    found.append(sorted(order[k] for k in (*path, i)))
                    if len(found) >= limit:
                        return True
                continue
            if slots > 0 and s + pre[n] - pre[max(i + 1, n - slots)] >= target:
                path.append(i)
                if dfs(i + 1, s, depth + 1, hn):
                    return True
                path.pop()
        return False

    try:
        dfs(0, 0, 0, False)
        complete = True
    except _BudgetExceeded:
        complete = False
    return sorted(found), complete


def _subset(
    amounts: list[int], target: int, tol: int, kmax: int, max_nodes: int, first_within: int = 0
) -> list[int] | None:
    """The first combination (see :func:`_subsets`), or None."""
    found, _ = _subsets(amounts, target, tol, kmax, max_nodes, first_within, limit=1)
    return found[0] if found else None


def _parse_discount(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """'2/10 net 30' -> (basis points 200, days 10)."""
    pat = r"^\s*(\d+(?:\.\d+)?)\s*%?\s*/\s*(\d+)"
    pct = expr.str.extract(pat, 1).cast(pl.Decimal(38, 4))
    bp = (pct * 100).cast(pl.Int64)
    days = expr.str.extract(pat, 2).cast(pl.Int64)
    return bp, days


# -------------------------------------------------------------------------------- the state
class _State:
    def __init__(self, inv: pl.DataFrame, rec: pl.DataFrame, cfg: MatchConfig):
        self.cfg = cfg
        self.inv_id = inv.get_column("invoice_id").to_list()
        self.inv_date = inv.get_column("invoice_date").to_list()
        self.inv_cust = inv.get_column("customer_id").to_list()
        self.inv_ccy = inv.get_column("currency").to_list()
        self.inv_amt = inv.get_column("amt_c").to_list()
        self.budget_exhausted = False
        self.inv = inv
        self.rec = rec
        self.inv_open = inv.get_column("start_c").to_numpy().copy()
        self.rec_rem = rec.get_column("amt_c").to_numpy().copy()
        self.rec_amt = rec.get_column("amt_c").to_numpy()
        self.locked = [False] * rec.height
        # receipts left to reference / manual only: carried-in cash, suspected duplicates
        self.noauto = (rec.get_column("origin") == "opening").fill_null(False).to_numpy().copy()
        self.frames: list[pl.DataFrame] = []
        self.rejected: set[tuple[int, int]] = set()
        self.counts: dict[str, int] = defaultdict(int)
        self.extra_sugg: list[tuple] = []
        self.named_partial: set[int] = set()  # invoices part-paid by a receipt naming them

    # live views --------------------------------------------------------------------------
    def open_invoices(self) -> pl.DataFrame:
        return self.inv.with_columns(open_c=pl.Series(self.inv_open)).filter(pl.col("open_c") > 0)

    def fresh_receipts(self, auto: bool = False) -> pl.DataFrame:
        """Receipts not yet touched by any rule, positive, not under manual control; with
        ``auto`` also not reserved for reference matching (``noauto``)."""
        mask = (self.rec_rem == self.rec_amt) & (self.rec_amt > 0)
        mask &= ~pl.Series(self.locked, dtype=pl.Boolean).to_numpy()
        if auto:
            mask &= ~self.noauto
        return self.rec.filter(pl.Series(mask))

    def drop_rejected(self, cands: pl.DataFrame) -> pl.DataFrame:
        if not self.rejected or cands.height == 0:
            return cands
        rej = pl.DataFrame(
            list(self.rejected), schema={"rec_idx": pl.Int64, "inv_idx": pl.Int64}, orient="row"
        )
        return cands.join(rej, on=["rec_idx", "inv_idx"], how="anti")

    # commit ------------------------------------------------------------------------------
    def commit(self, df: pl.DataFrame, *, update: bool = True) -> None:
        """Record allocation rows (``_AI`` columns); with ``update`` also move the balances,
        refusing (AssertionError) any over-application or over-allocation."""
        if df.height == 0:
            return
        df = df.select(list(_AI)).cast(_AI)
        if update:
            per_inv = df.group_by("inv_idx").agg(pl.col("applied_c").sum())
            ii = per_inv.get_column("inv_idx").to_numpy()
            amt = per_inv.get_column("applied_c").to_numpy()
            new_open = self.inv_open[ii] - amt
            assert (new_open >= 0).all(), "match bug: invoice over-applied"
            self.inv_open[ii] = new_open
            per_rec = (
                df.filter(pl.col("rec_idx").is_not_null())
                .group_by("rec_idx")
                .agg(pl.col("receipt_c").sum())
            )
            ri = per_rec.get_column("rec_idx").to_numpy()
            amt = per_rec.get_column("receipt_c").to_numpy()
            new_rem = self.rec_rem[ri] - amt
            assert (new_rem >= 0).all(), "match bug: receipt over-allocated"
            self.rec_rem[ri] = new_rem
        for rule, n in (
            df.filter(pl.col("kind") != "credit_note").group_by("rule").len().iter_rows()
        ):
            self.counts[rule] += n
        self.frames.append(df)

    def take(self, rec_idx: int | None, inv_idx: int, applied: int, received: int) -> None:
        """Move balances for one row in Python loops (checked)."""
        o = int(self.inv_open[inv_idx]) - applied
        assert o >= 0, "match bug: invoice over-applied"
        self.inv_open[inv_idx] = o
        if rec_idx is not None:
            r = int(self.rec_rem[rec_idx]) - received
            assert r >= 0, "match bug: receipt over-allocated"
            self.rec_rem[rec_idx] = r


def _rows_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=_AI, orient="row")


# ---------------------------------------------------------------------------- preparation
def _prep_invoices(invoices: pl.DataFrame, cfg: MatchConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    inv0 = _sorted_unique(
        invoices.with_columns(pl.col("invoice_id").cast(pl.String)), "invoice_id", "invoices"
    )
    start = _cents(pl.col("amount"))
    if "open_amount" in inv0.columns:
        start = pl.coalesce(_cents(pl.col("open_amount")), start)
    key = (
        pl.col("invoice_id")
        .str.extract(cfg.invoice_key_pattern, 1)
        .str.replace_all(r"\D", "")
        .str.strip_chars_start("0")
    )
    inv = inv0.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("inv_idx"),
        "invoice_id",
        pl.col("customer_id").cast(pl.String),
        pl.col("currency").cast(pl.String),
        pl.col("invoice_date").cast(pl.Date),
        pl.col("due_date").cast(pl.Date),
        _cents(pl.col("amount")).alias("amt_c"),
        start.alias("start_c"),
        pl.when(key.str.len_chars() > 0).then(key).otherwise(None).alias("key"),
    )
    return inv0, inv


def _prep_customers(customers: pl.DataFrame) -> pl.DataFrame:
    c = customers.with_columns(pl.col("customer_id").cast(pl.String)).unique(
        "customer_id", keep="first", maintain_order=True
    )
    terms = _col_or_null(c, "discount_terms", pl.String)
    bp, days = _parse_discount(terms)
    return c.select(
        "customer_id",
        _col_or_null(c, "parent_id", pl.String).alias("parent_id"),
        _col_or_null(c, "policy", pl.String).str.strip_chars().str.to_lowercase().alias("policy"),
        bp.alias("disc_bp"),
        days.alias("disc_days"),
        terms.alias("discount_terms"),
    )


def _prep_receipts(
    receipts: pl.DataFrame, payers: pl.DataFrame, cust: pl.DataFrame, cfg: MatchConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    rec0 = _sorted_unique(
        receipts.with_columns(pl.col("receipt_id").cast(pl.String)), "receipt_id", "receipts"
    )
    rec0 = _ensure(rec0, {"payer_account": pl.String, "memo": pl.String, "bank_ref": pl.String})
    rec = rec0.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("rec_idx"),
        "receipt_id",
        pl.col("value_date").cast(pl.Date),
        pl.col("currency").cast(pl.String),
        _cents(pl.col("amount")).alias("amt_c"),
        pl.col("payer_name").cast(pl.String),
        pl.col("payer_account").cast(pl.String),
        pl.col("memo").cast(pl.String),
        pl.col("bank_ref").cast(pl.String),
        _col_or_null(rec0, "origin", pl.String).alias("origin"),
    )
    rec = (
        rec.join(payers, on=["payer_name", "payer_account"], how="left", nulls_equal=True)
        .rename({"customer_id": "c_pay", "method": "payer_method", "score": "payer_score"})
        .with_columns(
            pl.col("payer_method").fill_null("none"), pl.col("payer_score").fill_null(0.0)
        )
        .join(
            cust.select("customer_id", pl.col("parent_id").alias("par_pay"), "policy"),
            left_on="c_pay",
            right_on="customer_id",
            how="left",
        )
        .with_columns(
            pl.any_horizontal(
                pl.col(c).str.contains(_INSTALMENT_MEMO).fill_null(False)
                for c in ("memo", "bank_ref")
            ).alias("inst")
        )
        .sort("rec_idx")
    )
    return rec0, rec


#: a memo announcing an instalment (第2期, 分期, installment 2/3): a short amount is a partial
#: payment, never a bank charge written off
_INSTALMENT_MEMO = r"(?i)第\s*\d+\s*期|分期|\binstal(?:l)?ments?\b"


def _extract_refs(
    rec: pl.DataFrame, inv: pl.DataFrame, cust: pl.DataFrame, cfg: MatchConfig
) -> pl.DataFrame:
    """(rec_idx, inv_idx, src, text): every existing invoice a receipt's text names."""
    parts = []
    for col in cfg.reference_columns:
        if col not in rec.columns:
            continue
        t = rec.select("rec_idx", pl.col(col).alias("text")).drop_nulls("text")
        toks = t.with_columns(
            pl.concat_list(
                [pl.col("text").str.extract_all(p) for p in cfg.reference_patterns]
            ).alias("tok"),
            pl.lit(col).alias("src"),
        ).explode("tok")
        parts.append(toks)
    schema = {"rec_idx": pl.Int64, "inv_idx": pl.Int64, "src": pl.String, "text": pl.String}
    if not parts:
        return pl.DataFrame(schema=schema)
    toks = (
        pl.concat(parts)
        .with_columns(pl.col("tok").str.replace_all(r"\D", "").alias("digits"))
        .filter(
            (pl.col("digits").str.len_chars() >= max(1, cfg.reference_min_digits))
            | pl.col("tok").str.contains(r"[\p{L}]")
        )
        .with_columns(pl.col("digits").str.strip_chars_start("0").alias("key"))
        .filter(pl.col("key").str.len_chars() > 0)
    )
    refs = toks.join(inv.select("inv_idx", "key").drop_nulls("key"), on="key", how="inner")
    if cfg.reference_short_own and cfg.reference_min_digits > 1:
        short = _short_own_refs(rec, inv, cust, cfg, refs.select("rec_idx").unique())
        refs = pl.concat([refs.select(list(schema)).cast(schema), short.cast(schema)])
    refs = (
        refs.sort(["rec_idx", "inv_idx", "src"])
        .unique(["rec_idx", "inv_idx"], keep="first", maintain_order=True)
        .select(list(schema))
        .cast(schema)
    )
    return refs


# instalment markers and counts whose digits are no invoice number: 第2期, 2期, 2/3,
# 2 of 3, installment 2, part 2, #2 of 3
_SHORT_MARKERS = (
    r"(?i)\d+\s*(?:/|of)\s*\d+",
    r"(?i)第\s*\d+\s*[期笔次批]|\d+\s*[期笔次批个件张]"
    r"|(?:instal(?:l)?ments?|tranche|part|phase|payment|pmt|期)\s*#?\s*\d+",
)


def _short_own_refs(
    rec: pl.DataFrame,
    inv: pl.DataFrame,
    cust: pl.DataFrame,
    cfg: MatchConfig,
    has_refs: pl.DataFrame,
) -> pl.DataFrame:
    """Short bare numbers (fewer than ``reference_min_digits`` digits, e.g. memo ``556`` or
    ``556 第2期``) naming an open invoice of the resolved payer's own customer.

    Only when the receipt's payer is resolved, the text column holds exactly one such
    stand-alone number (instalment markers like 第2期 / 2/3 removed first), the receipt names
    no invoice otherwise, and exactly one open invoice of that customer has that number.
    Failing that, a related company's (parent, subsidiary or sibling) invoice with that number
    *and* the receipt's exact amount, when exactly one does: a parent paying its
    subsidiary's invoice (flagged ``third_party`` by the reference rule). An unrelated
    customer's invoice is never named this way."""
    schema = {"rec_idx": pl.Int64, "inv_idx": pl.Int64, "src": pl.String, "text": pl.String}
    parts = []
    for col in cfg.reference_columns:
        if col not in rec.columns:
            continue
        t = (
            rec.filter(pl.col("c_pay").is_not_null())
            .join(has_refs, on="rec_idx", how="anti")
            .select("rec_idx", "c_pay", "currency", "amt_c", pl.col(col).alias("text"))
            .drop_nulls("text")
        )
        words = (
            t.with_columns(
                pl.col("text")
                .str.replace_all(_SHORT_MARKERS[0], " ")
                .str.replace_all(_SHORT_MARKERS[1], " ")
                .str.extract_all(r"[^\s,，;；、()（）\[\]【】]+")
                .alias("word"),
                pl.lit(col).alias("src"),
            )
            .explode("word")
            .filter(pl.col("word").str.contains(r"^[#＃]?\d+$"))
            .with_columns(pl.col("word").str.replace_all(r"\D", "").alias("digits"))
            .filter(pl.col("digits").str.len_chars() < cfg.reference_min_digits)
            .with_columns(pl.col("digits").str.strip_chars_start("0").alias("key"))
            .filter(pl.col("key").str.len_chars() > 0)
        )
        # exactly one stand-alone short number in the text: '9 15' could be a date
        words = words.filter(pl.len().over("rec_idx") == 1)
        parts.append(words.select("rec_idx", "c_pay", "currency", "amt_c", "key", "src", "text"))
    if not parts:
        return pl.DataFrame(schema=schema)
    own = inv.filter((pl.col("start_c") > 0) & pl.col("key").is_not_null()).select(
        "inv_idx", pl.col("customer_id").alias("c_pay"), "key"
    )
    words = pl.concat(parts)
    hits = words.join(own, on=["c_pay", "key"], how="inner")
    hits = hits.filter(pl.len().over(["rec_idx", "src"]) == 1)
    parents = cust.select("customer_id", "parent_id")
    related = (
        words.join(hits.select("rec_idx"), on="rec_idx", how="anti")
        .join(
            inv.filter(pl.col("key").is_not_null()).select(
                "inv_idx",
                pl.col("customer_id").alias("c_inv"),
                "currency",
                "key",
                pl.col("start_c").alias("amt_c"),
            ),
            on=["currency", "key", "amt_c"],
        )
        .filter(pl.col("c_inv") != pl.col("c_pay"))
        .join(
            parents.rename({"customer_id": "c_pay", "parent_id": "par_pay"}), on="c_pay", how="left"
        )
        .join(
            parents.rename({"customer_id": "c_inv", "parent_id": "par_inv"}), on="c_inv", how="left"
        )
        .filter(_related())
        .filter(pl.len().over(["rec_idx", "src"]) == 1)
    )
    return pl.concat([hits.select(list(schema)), related.select(list(schema))]).cast(schema)


def _fx_table(fx_rates: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"date": pl.Date, "currency": pl.String, "rate_i": pl.Int128}
    if fx_rates is None or fx_rates.height == 0:
        return pl.DataFrame(schema=schema)
    return (
        fx_rates.select(
            pl.col("date").cast(pl.Date),
            pl.col("currency").cast(pl.String),
            (pl.col("rate").cast(pl.Decimal(38, 8)) * 100_000_000).cast(pl.Int128).alias("rate_i"),
        )
        .filter(pl.col("rate_i") > 0)
        .unique(["date", "currency"], keep="first")
        .sort(["currency", "date"])
    )


def _with_rate(
    df: pl.DataFrame, ccy_col: str, out: str, fx: pl.DataFrame, base: str, cfg: MatchConfig
) -> pl.DataFrame:
    """Add the rate (units of base per unit, x1e8, Int128) of ``ccy_col`` at value_date."""
    left = df.with_columns(pl.int_range(pl.len()).alias("_row")).sort("value_date")
    j = left.join_asof(
        fx.rename({"date": "value_date", "currency": ccy_col, "rate_i": out}).sort("value_date"),
        on="value_date",
        by=ccy_col,
        strategy="backward",
        tolerance=f"{int(cfg.fx_max_rate_age_days)}d",
        check_sortedness=False,
    )
    j = j.with_columns(
        pl.when(pl.col(ccy_col) == base)
        .then(pl.lit(100_000_000, dtype=pl.Int128))
        .otherwise(pl.col(out))
        .alias(out)
    )
    return j.sort("_row").drop("_row")


# --------------------------------------------------------------------------------- the rules
def _rule_credit_notes(st: _State, credit_notes: pl.DataFrame | None) -> pl.DataFrame:
    """Net credit notes against their invoices; returns the credit-notes output frame."""
    if credit_notes is None:
        return pl.DataFrame()
    cn = _ensure(
        credit_notes, {"invoice_id": pl.String, "reason": pl.String, "currency": pl.String}
    )
    tie = [c for c in ("source_file", "source_row") if c in cn.columns]
    cn = cn.with_columns(pl.col("credit_id").cast(pl.String)).sort(
        ["date", "credit_id", *tie], nulls_last=True
    )
    cn = cn.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_cn"),
        _cents(pl.col("amount")).abs().alias("_cred_c"),
    )
    applied = pl.DataFrame(schema={"_cn": pl.Int64, "_app_c": pl.Int64})
    if cn.height and "credit_note" in st.cfg.rules:
        inv = st.inv.with_columns(open_c=pl.Series(st.inv_open))
        c = cn.join(
            inv.select(
                "inv_idx",
                "invoice_id",
                pl.col("customer_id").alias("_inv_cust"),
                pl.col("currency").alias("_inv_ccy"),
                "open_c",
            ),
            left_on=pl.col("invoice_id").cast(pl.String),
            right_on="invoice_id",
            how="inner",
        ).filter(
            (pl.col("open_c") > 0)
            & (pl.col("currency").is_null() | (pl.col("currency") == pl.col("_inv_ccy")))
            & (pl.col("customer_id").cast(pl.String) == pl.col("_inv_cust"))
        )
        c = (
            c.sort("_cn")
            .with_columns(
                (pl.col("_cred_c").cum_sum().over("inv_idx") - pl.col("_cred_c")).alias("_before")
            )
            .with_columns(
                pl.min_horizontal(
                    pl.col("_cred_c"), (pl.col("open_c") - pl.col("_before")).clip(0)
                ).alias("_app_c")
            )
            .filter(pl.col("_app_c") > 0)
        )
        rows = c.select(
            pl.col("credit_id").alias("receipt_id"),
            pl.lit(None, dtype=pl.Int64).alias("rec_idx"),
            "inv_idx",
            pl.lit("credit_note").alias("kind"),
            pl.col("_app_c").alias("applied_c"),
            pl.lit(0, dtype=pl.Int64).alias("receipt_c"),
            pl.lit("credit_note").alias("rule"),
            pl.lit(1.0).alias("confidence"),
            pl.format(
                "credit note {} ({}) nets {} against invoice {}",
                "credit_id",
                pl.col("reason").fill_null("no reason given"),
                _fmt(pl.col("_app_c")),
                "invoice_id",
            ).alias("reason"),
            pl.lit("").alias("flags"),
        )
        st.commit(rows)
        applied = c.select("_cn", "_app_c")
    out = cn.join(applied, on="_cn", how="left").with_columns(pl.col("_app_c").fill_null(0))
    return out.with_columns(
        _money(pl.col("_app_c")).alias("applied"),
        _money(pl.col("_cred_c") - pl.col("_app_c")).alias("unapplied"),
    ).drop("_cn", "_cred_c", "_app_c")


def _rule_manual(
    st: _State, decisions: pl.DataFrame | None, fx: pl.DataFrame, base: str
) -> tuple[dict[int, str], list[dict]]:
    """Apply the decisions in file order; every one that cannot be applied is an error
    finding naming its row (the preparer asked for something that did not happen)."""
    status: dict[int, str] = {}
    findings: list[dict] = []
    if decisions is None or decisions.height == 0:
        return status, findings
    d = _ensure(
        decisions,
        {
            "invoice_id": pl.String,
            "amount": MONEY,
            "who": pl.String,
            "when": pl.String,
            "why": pl.String,
            "source_file": pl.String,
            "source_row": pl.Int64,
        },
    )
    d = d.with_columns(pl.int_range(pl.len()).alias("_order"))
    d = d.sort(["source_file", "source_row", "_order"], nulls_last=True)
    rec_ix = dict(
        zip(
            st.rec.get_column("receipt_id").to_list(),
            st.rec.get_column("rec_idx").to_list(),
            strict=True,
        )
    )
    inv_ix = dict(
        zip(
            st.inv.get_column("invoice_id").to_list(),
            st.inv.get_column("inv_idx").to_list(),
            strict=True,
        )
    )
    rec_ccy = st.rec.get_column("currency").to_list()
    rec_date = st.rec.get_column("value_date").to_list()
    inv_ccy = st.inv.get_column("currency").to_list()
    rows: list[tuple] = []

    def problem(r: dict, col: str, value: Any, rule: str, msg: str) -> None:
        findings.append(
            {
                "severity": "error",
                "file": r.get("source_file") or "decisions",
                "row": r.get("source_row"),
                "column": col,
                "value": None if value is None else str(value),
                "rule": f"decision_{rule}",
                "message": f"{msg}; the decision is not applied",
            }
        )

    for r in d.iter_rows(named=True):
        rid = None if r["receipt_id"] is None else str(r["receipt_id"])
        action = (r.get("action") or "").strip().lower()
        iid = r.get("invoice_id")
        iid = None if iid is None or str(iid).strip() == "" else str(iid).strip()
        if DECISION_ACTIONS.get(action) == "exception":
            continue  # assign / resolve act on exceptions (arlib.carry), not in matching
        if action not in DECISION_ACTIONS:
            problem(
                r, "action", action, "action", f"action must be one of {list(DECISION_ACTIONS)}"
            )
            continue
        if rid is None:
            problem(
                r,
                "receipt_id",
                None,
                "without_receipt",
                f"a {action} decision acts on a receipt and names none (an invoice in "
                "dispute without a payment is marked in the invoices' disputed column)",
            )
            continue
        if rid not in rec_ix:
            problem(
                r,
                "receipt_id",
                rid,
                "unknown_receipt",
                "no such receipt in this period's bank lines or the cash carried in",
            )
            continue
        ri = rec_ix[rid]
        if iid is not None and iid not in inv_ix:
            problem(
                r,
                "invoice_id",
                iid,
                "unknown_invoice",
                "no such invoice in this period or open from the previous close",
            )
            continue
        who, when, why = r.get("who") or "?", r.get("when") or "?", r.get("why") or ""
        if action == "reject":
            if iid is None:
                st.locked[ri] = True
            else:
                st.rejected.add((ri, inv_ix[iid]))
            continue
        if action in ("dispute", "not_ar"):
            st.locked[ri] = True
            status[ri] = "dispute" if action == "dispute" else "not_ar"
            continue
        st.locked[ri] = True
        if iid is None:
            problem(r, "invoice_id", None, "without_invoice", "a match decision names no invoice")
            continue
        ii = inv_ix[iid]
        rem, open_ = int(st.rec_rem[ri]), int(st.inv_open[ii])
        same = rec_ccy[ri] == inv_ccy[ii]
        amt = r.get("amount")
        if same:
            want = min(rem, open_) if amt is None else _cents_py(amt)
            if want <= 0 or want > rem or want > open_:
                problem(
                    r,
                    "amount",
                    amt,
                    "amount",
                    f"amount must be >0 and within what is left of receipt {rid} "
                    f"({_fmt_py(rem)}) and open on invoice {iid} ({_fmt_py(open_)})",
                )
                continue
            recv, app = want, want
        else:
            recv = rem if amt is None else _cents_py(amt)
            rate_r = _rate_py(fx, rec_ccy[ri], rec_date[ri], base, st.cfg)
            rate_i = _rate_py(fx, inv_ccy[ii], rec_date[ri], base, st.cfg)
            if recv <= 0 or recv > rem:
                problem(
                    r,
                    "amount",
                    amt,
                    "amount",
                    f"amount must be >0 and within what is left of receipt {rid} "
                    f"({_fmt_py(rem)} {rec_ccy[ri]})",
                )
                continue
            if rate_r is None or rate_i is None:
                missing = rec_ccy[ri] if rate_r is None else inv_ccy[ii]
                problem(
                    r,
                    "invoice_id",
                    iid,
                    "fx_rate",
                    f"a {rec_ccy[ri]} receipt on a {inv_ccy[ii]} invoice needs a {missing} "
                    f"rate at most {st.cfg.fx_max_rate_age_days} days before {rec_date[ri]}",
                )
                continue
            app = min(open_, (recv * rate_r * 2 + rate_i) // (2 * rate_i))
        st.take(ri, ii, app, recv)
        rows.append(
            (
                rid,
                ri,
                ii,
                "cash",
                app,
                recv,
                "manual",
                1.0,
                f"manual decision by {who} on {when}: {_short(why, 80) or 'no reason given'}",
                "",
            )
        )
    st.commit(_rows_frame(rows), update=False)
    return status, findings


def check_decisions(
    invoices: pl.DataFrame,
    receipts: pl.DataFrame,
    credit_notes: pl.DataFrame | None,
    fx_rates: pl.DataFrame | None,
    decisions: pl.DataFrame,
    config: MatchConfig | None = None,
    base_currency: str = "CNY",
) -> pl.DataFrame:
    """Findings for every decision that matching would not apply, without matching.

    Why: ``arlib validate`` must name a decision that cannot happen before anyone closes on
    it. Decisions run right after credit notes, before any other rule, so running those two
    steps alone on the period's balances gives matching's own verdicts: one code path, not a
    copy that could drift. Rows that other checks already refuse (no id, unreadable amount,
    a repeated id: errors of their own) are left out here.
    """
    cfg = config or MatchConfig()
    if decisions.height == 0:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    if "manual" not in cfg.rules:
        return decisions.select(
            pl.lit("error").alias("severity"),
            pl.col("source_file").alias("file"),
            pl.col("source_row").alias("row"),
            pl.lit("action").alias("column"),
            pl.col("action").alias("value"),
            pl.lit("decision_rule_off").alias("rule"),
            pl.lit("matching.rules leaves out 'manual': no decision is applied").alias("message"),
        ).cast(FINDING_SCHEMA)
    inv = invoices.filter(
        pl.col("invoice_id").is_not_null() & pl.col("amount").is_not_null()
    ).unique("invoice_id", keep="first", maintain_order=True)
    rec = receipts.filter(
        pl.col("receipt_id").is_not_null() & pl.col("amount").is_not_null()
    ).unique("receipt_id", keep="first", maintain_order=True)
    _, inv = _prep_invoices(inv, cfg)
    rec = rec.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("rec_idx"),
        pl.col("receipt_id").cast(pl.String),
        pl.col("value_date").cast(pl.Date),
        pl.col("currency").cast(pl.String),
        _cents(pl.col("amount")).alias("amt_c"),
        _col_or_null(rec, "origin", pl.String).alias("origin"),
    )
    st = _State(inv, rec, cfg)
    if credit_notes is not None:
        readable = pl.col("amount").is_not_null() & pl.col("credit_id").is_not_null()
        _rule_credit_notes(st, credit_notes.filter(readable))
    _, found = _rule_manual(st, decisions, _fx_table(fx_rates), base_currency)
    return pl.DataFrame(found, schema=FINDING_SCHEMA)


def _rate_py(fx: pl.DataFrame, ccy: str, day, base: str, cfg: MatchConfig) -> int | None:
    if ccy == base:
        return 100_000_000
    f = fx.filter(
        (pl.col("currency") == ccy)
        & (pl.col("date") <= day)
        & (pl.col("date") >= pl.lit(day) - pl.duration(days=cfg.fx_max_rate_age_days))
    )
    if f.height == 0:
        return None
    return int(f.sort("date").get_column("rate_i")[-1])


def _related() -> pl.Expr:
    """Payer ``c_pay`` and invoice customer ``c_inv`` (another customer) are related by
    ``parent_id`` (``par_pay``, ``par_inv``): parent, subsidiary, or two subsidiaries of
    one parent."""
    return (
        (pl.col("par_pay") == pl.col("c_inv"))
        | (pl.col("par_inv") == pl.col("c_pay"))
        | (pl.col("par_pay") == pl.col("par_inv"))
    )


def _ref_candidates(st: _State, refs: pl.DataFrame, cust: pl.DataFrame) -> pl.DataFrame:
    """Fresh receipts x open referenced invoices with relation and amounts."""
    fr = st.fresh_receipts()
    oi = st.open_invoices()
    c = (
        refs.join(
            fr.select(
                "rec_idx",
                "receipt_id",
                "value_date",
                pl.col("currency").alias("r_ccy"),
                "amt_c",
                "c_pay",
                "par_pay",
                "payer_method",
                "payer_score",
                "inst",
            ),
            on="rec_idx",
        )
        .join(
            oi.select(
                "inv_idx",
                "invoice_id",
                pl.col("customer_id").alias("c_inv"),
                pl.col("currency").alias("i_ccy"),
                "invoice_date",
                pl.col("amt_c").alias("inv_amt_c"),
                "open_c",
            ),
            on="inv_idx",
        )
        .join(
            cust.select(
                pl.col("customer_id").alias("c_inv"),
                pl.col("parent_id").alias("par_inv"),
                "disc_bp",
                "disc_days",
                "discount_terms",
            ),
            on="c_inv",
            how="left",
        )
    )
    c = st.drop_rejected(c)
    rel = (
        pl.when(pl.col("c_pay").is_null())
        .then(pl.lit("unknown"))
        .when(pl.col("c_pay") == pl.col("c_inv"))
        .then(pl.lit("own"))
        .when(_related())
        .then(pl.lit("related"))
        .otherwise(pl.lit("other"))
    )
    return c.with_columns(rel.alias("rel"))


def _ref_text() -> pl.Expr:
    return pl.format("{} '{}' names invoice {}", "src", pl.col("text_s"), "invoice_id")


def _rule_reference(
    st: _State, refs: pl.DataFrame, cust: pl.DataFrame, fx: pl.DataFrame, base: str
) -> None:
    cfg = st.cfg
    c = _ref_candidates(st, refs, cust).filter(pl.col("rel") != "other")
    if c.height == 0:
        return
    rt = _cents_py(cfg.rounding_tolerance)
    bc = _bc_expr(cfg, "i_ccy", "open_c")
    same = pl.col("r_ccy") == pl.col("i_ccy")
    # fx conversion (Int128, exact half-up rounding) for the cross-currency rows
    cross = c.filter(~same).with_columns(pl.lit(None, dtype=pl.Int64).alias("conv_c"))
    if cross.height:
        cross = cross.drop("conv_c")
        cross = _with_rate(cross, "r_ccy", "rate_r", fx, base, cfg)
        cross = _with_rate(cross, "i_ccy", "rate_i", fx, base, cfg)
        cross = cross.with_columns(
            (
                (pl.col("amt_c").cast(pl.Int128) * pl.col("rate_r") * 2 + pl.col("rate_i"))
                // (2 * pl.col("rate_i"))
            )
            .cast(pl.Int64)
            .alias("conv_c")
        ).drop("rate_r", "rate_i")
    c = pl.concat(
        [c.filter(same).with_columns(pl.col("amt_c").alias("conv_c")), cross],
        how="vertical_relaxed",
    )
    diff = pl.col("open_c") - pl.col("conv_c")
    disc_c = (pl.col("inv_amt_c") * pl.col("disc_bp") * 2 + 10_000) // 20_000
    disc_ok = (
        pl.col("disc_bp").is_not_null()
        & (pl.col("value_date") <= pl.col("invoice_date") + pl.duration(days=pl.col("disc_days")))
        & ((diff - disc_c).abs() <= rt)
    )
    fx_tol = pl.col("open_c").cast(pl.Decimal(38, 4)) * pl.lit(cfg.fx_tolerance_pct) / 100
    own = pl.col("rel").is_in(["own", "unknown"])
    kind = (
        pl.when(diff == 0)
        .then(pl.lit("exact"))
        .when(~own)
        .then(pl.lit(None, dtype=pl.String))
        .when(same & (diff.abs() <= rt))
        .then(pl.lit("rounding"))
        .when(same & (diff > 0) & disc_ok)
        .then(pl.lit("discount"))
        .when(
            same
            & (diff > 0)
            & (diff <= bc)
            & ~_round_sum(pl.col("conv_c"), pl.col("open_c"))
            & ~pl.col("inst")
            & (pl.col("rec_idx").n_unique().over("inv_idx") == 1)
        )
        .then(pl.lit("bank_charge"))
        .when(~same & (diff.abs().cast(pl.Decimal(38, 4)) <= fx_tol))
        .then(pl.lit("fx_difference"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    prio = pl.col("wo").replace_strict(
        {"exact": 0, "rounding": 1, "discount": 2, "bank_charge": 3, "fx_difference": 4},
        return_dtype=pl.Int64,
    ) * 2 + (pl.col("rel") == "related").cast(pl.Int64)
    c = c.with_columns(kind.alias("wo"), disc_c.alias("disc_c")).filter(pl.col("wo").is_not_null())
    # a short amount that is the named invoice's amount with two digits swapped is a keying
    # error (the exceptions stage classifies it), not a bank charge or rounding
    wo_rows = c.filter(pl.col("wo").is_in(["rounding", "bank_charge"]))
    if wo_rows.height:
        typo = wo_rows.filter(_typo_mask(wo_rows, "conv_c", "open_c")).select("rec_idx").unique()
        c = c.join(typo, on="rec_idx", how="anti")
    c = c.with_columns(prio.alias("prio"))
    best = c.filter(pl.col("prio") == pl.col("prio").min().over("rec_idx"))
    uniq = best.filter(pl.len().over("rec_idx") == 1)
    uniq = uniq.sort(["inv_idx", "prio", "value_date", "receipt_id"]).filter(
        pl.int_range(pl.len()).over("inv_idx") == 0
    )
    if uniq.height == 0:
        return
    uniq = uniq.with_columns(
        pl.col("text")
        .str.replace_all("\n", " ")
        .str.replace_all("'", "’")
        .str.slice(0, 60)
        .alias("text_s")
    )
    conf = (
        pl.when(pl.col("rel") == "related")
        .then(0.9)
        .when(pl.col("rel") == "unknown")
        .then(0.9)
        .when(pl.col("wo") == "exact")
        .then(1.0)
        .otherwise(0.95)
    ) * pl.when(pl.col("payer_method") == "fuzzy").then(pl.col("payer_score")).otherwise(1.0)
    detail = (
        pl.when(pl.col("wo") == "exact")
        .then(pl.lit("amount equal"))
        .when(pl.col("wo") == "rounding")
        .then(pl.format("difference {} written off as rounding", _fmt(diff)))
        .when(pl.col("wo") == "discount")
        .then(
            pl.format(
                "short {} = early-payment discount ({}) paid within {} days",
                _fmt(diff),
                "discount_terms",
                "disc_days",
            )
        )
        .when(pl.col("wo") == "bank_charge")
        .then(pl.format("short {} written off as bank charge", _fmt(diff)))
        .otherwise(
            pl.format(
                "{} {} at the value-date rate = {} {}; fx difference {}",
                "r_ccy",
                _fmt(pl.col("amt_c")),
                "i_ccy",
                _fmt(pl.col("conv_c")),
                _fmt(diff),
            )
        )
    )
    who = (
        pl.when(pl.col("rel") == "related")
        .then(pl.format("; paid by related company {} for {}", "c_pay", "c_inv"))
        .when(pl.col("rel") == "unknown")
        .then(pl.lit("; payer not identified"))
        .otherwise(pl.lit(""))
    )
    flags = pl.when(pl.col("rel") == "related").then(pl.lit("third_party")).otherwise(pl.lit(""))
    meta = [
        pl.lit("reference").alias("rule"),
        conf.alias("confidence"),
        pl.format("{}; {}{}", _ref_text(), detail, who).alias("reason"),
        flags.alias("flags"),
    ]
    st.commit(
        _cash_with_write_off(
            uniq,
            applied=pl.col("conv_c"),
            received=pl.col("amt_c"),
            write_off_kind=pl.col("wo"),
            write_off=diff,
            write_off_rows=pl.col("wo") != "exact",
            meta=meta,
        )
    )


def _cash_with_write_off(
    c: pl.DataFrame,
    *,
    applied: pl.Expr,
    received: pl.Expr,
    write_off_kind: pl.Expr,
    write_off: pl.Expr,
    write_off_rows: pl.Expr,
    meta: list[pl.Expr],
) -> pl.DataFrame:
    """Allocation rows for an invoice cleared by cash plus a write-off: the cash row, and
    for ``write_off_rows`` a row of ``write_off_kind`` that clears ``write_off`` cents of the
    invoice and consumes no cash. ``meta`` gives rule, confidence, reason and flags."""
    keys = ("receipt_id", "rec_idx", "inv_idx")
    cash = c.select(
        *keys,
        pl.lit("cash").alias("kind"),
        applied.alias("applied_c"),
        received.alias("receipt_c"),
        *meta,
    )
    written_off = c.filter(write_off_rows).select(
        *keys,
        write_off_kind.alias("kind"),
        write_off.alias("applied_c"),
        pl.lit(0, dtype=pl.Int64).alias("receipt_c"),
        *meta,
    )
    return pl.concat([cash, written_off])


def _residue_lists(st: _State, customers_of: pl.DataFrame) -> dict[tuple[str, str], list[int]]:
    """(customer_id, currency) -> open invoice indexes sorted oldest first."""
    oi = st.open_invoices().join(customers_of, on="customer_id", how="semi")
    g = (
        oi.sort(["invoice_date", "invoice_id"])
        .group_by(["customer_id", "currency"], maintain_order=True)
        .agg(pl.col("inv_idx"))
    )
    return {(c, k): list(v) for c, k, v in g.iter_rows()}


def _rule_reference_combined(st: _State, refs: pl.DataFrame, cust: pl.DataFrame) -> None:
    """Several referenced invoices (own / unidentified payer, same currency) sum to the amount."""
    cfg = st.cfg
    c = _ref_candidates(st, refs, cust).filter(
        pl.col("rel").is_in(["own", "unknown"]) & (pl.col("r_ccy") == pl.col("i_ccy"))
    )
    c = c.filter(
        (pl.len().over("rec_idx") >= 2) & (pl.col("c_inv").n_unique().over("rec_idx") == 1)
    )
    if c.height == 0:
        return
    g = (
        c.sort(["invoice_date", "invoice_id"])
        .group_by("rec_idx", maintain_order=False)
        .agg(
            "receipt_id",
            "value_date",
            "amt_c",
            "r_ccy",
            "src",
            "text",
            "payer_method",
            "payer_score",
            "rel",
            pl.col("inv_idx"),
            pl.col("invoice_id").alias("iids"),
        )
        .sort(["value_date", "receipt_id"])
    )
    rows: list[tuple] = []
    for r in g.iter_rows(named=True):
        ri = r["rec_idx"]
        amt = int(r["amt_c"][0])
        idxs = [i for i in r["inv_idx"] if st.inv_open[i] > 0]
        amounts = [int(st.inv_open[i]) for i in idxs]
        bcm = cfg.bank_charge_cents(r["r_ccy"][0])
        pct_bp = int((cfg.bank_charge_max_pct * 100).to_integral_value(ROUND_HALF_UP))
        sol = None
        for tol in (0, bcm) if bcm > 0 else (0,):
            found, complete = _subsets(
                amounts, amt, tol, cfg.combined_max_invoices, cfg.combined_max_nodes
            )
            if found or not complete:
                # the only combination of the named invoices, or nothing (people decide)
                if len(found) == 1 and complete:
                    sol = found[0]
                break
        if sol is None:
            continue
        if sum(amounts[k] for k in sol) - amt > sum(amounts[k] for k in sol) * pct_bp // 10_000:
            continue
        chosen = [idxs[k] for k in sol]
        total = sum(amounts[k] for k in sol)
        short = total - amt
        iids = [st.inv_id[i] for i in chosen]
        text = _short(r["text"][0])
        conf = (0.95 if r["rel"][0] == "own" else 0.85) * (
            r["payer_score"][0] if r["payer_method"][0] == "fuzzy" else 1.0
        )
        reason = (
            f"{r['src'][0]} '{text}' names invoices {', '.join(iids)}; "
            f"their open amounts sum to {_fmt_py(total)}"
        )
        reason += (
            "; amount equal"
            if short == 0
            else f"; short {_fmt_py(short)} written off as bank charge"
        )
        for n, i in enumerate(chosen):
            o = int(st.inv_open[i])
            wo = short if (n == len(chosen) - 1 and short) else 0
            st.take(ri, i, o, o - wo)
            rows.append(
                (r["receipt_id"][0], ri, i, "cash", o - wo, o - wo, "reference", conf, reason, "")
            )
            if wo:
                rows.append(
                    (r["receipt_id"][0], ri, i, "bank_charge", wo, 0, "reference", conf, reason, "")
                )
    st.commit(_rows_frame(rows), update=False)


def _mark_duplicates(st: _State, refs: pl.DataFrame) -> None:
    """Reserve suspected duplicates for reference / manual matching (``noauto``): a waiting
    receipt that names an invoice already cleared, for that invoice's amount; or that has a
    twin (same payer, currency and amount, value dates at most 7 days apart) already
    applied, unless its memo names an invoice still open. The exceptions stage classifies
    them; no other invoice may absorb the cash."""
    fr = st.fresh_receipts(auto=True)
    if fr.height == 0:
        return
    open_now = st.inv.select("inv_idx", pl.col("amt_c").alias("inv_amt_c")).with_columns(
        open_c=pl.Series(st.inv_open)
    )
    named = (
        refs.join(fr.select("rec_idx", "amt_c"), on="rec_idx")
        .join(open_now, on="inv_idx")
        .filter((pl.col("open_c") == 0) & (pl.col("amt_c") == pl.col("inv_amt_c")))
    )
    # a memo naming an invoice still open is no copy of a payment already applied
    # (an open invoice of the payer's own customer)
    names_open = refs.join(
        open_now.filter(pl.col("open_c") > 0).join(
            st.inv.select("inv_idx", pl.col("customer_id").alias("c_pay")), on="inv_idx"
        ),
        on="inv_idx",
    ).join(st.rec.select("rec_idx", "c_pay"), on=["rec_idx", "c_pay"], how="semi")
    done = st.rec.with_columns(rem=pl.Series(st.rec_rem)).filter(
        (pl.col("rem") < pl.col("amt_c")) & pl.col("c_pay").is_not_null()
    )
    twins = (
        fr.filter(pl.col("c_pay").is_not_null())
        .join(names_open.select("rec_idx"), on="rec_idx", how="anti")
        .select("rec_idx", "c_pay", "currency", "amt_c", "value_date")
        .join(
            done.select("c_pay", "currency", "amt_c", pl.col("value_date").alias("vd2")),
            on=["c_pay", "currency", "amt_c"],
        )
        .filter((pl.col("value_date") - pl.col("vd2")).dt.total_days().abs() <= 7)
    )
    idx = pl.concat([named.select("rec_idx"), twins.select("rec_idx")]).unique()
    if idx.height:
        st.noauto[idx.get_column("rec_idx").to_numpy()] = True


def _rule_exact(st: _State) -> None:
    cfg = st.cfg
    fr = st.fresh_receipts(auto=True).filter(pl.col("c_pay").is_not_null())
    oi = st.open_invoices()
    c = fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        "c_pay",
        "payer_name",
        "payer_method",
        "payer_score",
    ).join(
        oi.select(
            "inv_idx",
            "invoice_id",
            pl.col("customer_id").alias("c_pay"),
            "currency",
            pl.col("open_c").alias("amt_c"),
            "invoice_date",
        ),
        on=["c_pay", "currency", "amt_c"],
    )
    c = c.filter(
        (pl.col("invoice_date") >= pl.col("value_date") - pl.duration(days=cfg.date_window_days))
        & (
            pl.col("invoice_date")
            <= pl.col("value_date") + pl.duration(days=cfg.date_window_prepay_days)
        )
    )
    c = st.drop_rejected(c)
    c = c.filter(pl.len().over("rec_idx") == 1)
    c = c.sort(["inv_idx", "value_date", "receipt_id"]).filter(
        pl.int_range(pl.len()).over("inv_idx") == 0
    )
    if c.height == 0:
        return
    fuzzy = pl.col("payer_method") == "fuzzy"
    rows = c.select(
        "receipt_id",
        "rec_idx",
        "inv_idx",
        pl.lit("cash").alias("kind"),
        pl.col("amt_c").alias("applied_c"),
        pl.col("amt_c").alias("receipt_c"),
        pl.lit("exact_amount").alias("rule"),
        (pl.lit(0.9) * pl.when(fuzzy).then(pl.col("payer_score")).otherwise(1.0)).alias(
            "confidence"
        ),
        pl.format(
            "payer '{}' is customer {} (by {}); amount {} equals invoice {}, "
            "its only open invoice of that amount within the date window",
            pl.col("payer_name").fill_null(""),
            "c_pay",
            "payer_method",
            _fmt(pl.col("amt_c")),
            "invoice_id",
        ).alias("reason"),
        pl.lit("").alias("flags"),
    )
    st.commit(rows)


def _bc_cap(cfg: MatchConfig, ccy: str) -> pl.Expr:
    """The currency's bank-charge cap in cents (``bank_charge_max``, '*' for the rest)."""
    bc_map = {k: _cents_py(v) for k, v in cfg.bank_charge_max.items()}
    return pl.col(ccy).replace_strict(bc_map, default=bc_map.get("*", 0), return_dtype=pl.Int64)


def _bc_bp(cfg: MatchConfig) -> int:
    return int((cfg.bank_charge_max_pct * 100).to_integral_value(ROUND_HALF_UP))


def _bc_expr(cfg: MatchConfig, ccy: str, open_col: str) -> pl.Expr:
    """Largest bank charge for the row: the currency's cap, and at most
    ``bank_charge_max_pct`` of the open amount (integer cents, floor)."""
    return pl.min_horizontal(_bc_cap(cfg, ccy), pl.col(open_col) * _bc_bp(cfg) // 10_000)


def _round_sum(received: pl.Expr, open_: pl.Expr) -> pl.Expr:
    """A round sum (whole hundreds) against an amount that is not: an installment or a
    payment on account, not the invoice minus a fee."""
    return (received % 10_000 == 0) & (open_ % 10_000 != 0)


def _keying_error_receipts(st: _State, fr: pl.DataFrame) -> pl.DataFrame:
    """``rec_idx`` of receipts whose amount looks like a keying error (x10 / x100 either
    way, two adjacent digits swapped) of the open or invoiced amount of one of the payer's
    open invoices in the currency, wherever that invoice's amount lies: such a receipt is
    ambiguous, never an invoice less a fee. Exact variants are joined, the rounded x10 /
    x100 bands found by a sorted search."""
    keys = ["c_pay", "currency"]
    left = fr.filter(pl.col("c_pay").is_not_null()).select("rec_idx", *keys, "amt_c")
    oi = st.open_invoices().select(
        pl.col("customer_id").alias("c_pay"), "currency", "open_c", "amt_c"
    )
    targets = pl.concat(
        [
            oi.select(*keys, pl.col("open_c").alias("e")),
            oi.select(*keys, pl.col("amt_c").alias("e")),
        ]
    ).unique()
    if left.height == 0 or targets.height == 0:
        return pl.DataFrame(schema={"rec_idx": pl.Int64})
    amounts = left.get_column("amt_c").to_list()
    variants = [sorted(_exact_keying_errors(a)) for a in amounts]
    exact = (
        left.with_columns(pl.Series("e", variants, dtype=pl.List(pl.Int64)))
        .explode("e")
        .join(targets, on=[*keys, "e"], how="semi")
        .select("rec_idx")
    )
    hits = [exact]
    for factor, slack in ((10, 5), (100, 50)):
        band = _range_join(
            left,
            targets,
            keys,
            "e",
            pl.col("amt_c") * factor - slack,
            pl.col("amt_c") * factor + slack,
            cap=1,
        )
        hits.append(band.select("rec_idx"))
    return pl.concat(hits).unique()


def _rule_exact_tolerance(st: _State, cust: pl.DataFrame, refs: pl.DataFrame) -> None:
    """No reference, payer known (not a balance-forward customer, whose lump sums come near
    invoices by chance): the customer's only open invoice within tolerance (rounding,
    discount within its window, bank charge up to the currency's cap and
    ``bank_charge_max_pct``, never on a round sum against an amount that is not) in the
    date window; an amount that looks like a keying error of an open invoice (transposed
    digits) makes the receipt ambiguous (suggestion)."""
    cfg = st.cfg
    # a receipt whose memo names invoices is for the reference / partial rules
    fr = (
        st.fresh_receipts(auto=True)
        .filter(pl.col("c_pay").is_not_null())
        .filter(pl.col("policy").fill_null("") != "balance_forward")
        .join(refs.select("rec_idx"), on="rec_idx", how="anti")
    )
    oi = st.open_invoices()
    rt = _cents_py(cfg.rounding_tolerance)
    left = fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        "c_pay",
        "payer_name",
        "payer_method",
        "payer_score",
        "inst",
    ).join(
        cust.select(pl.col("customer_id").alias("c_pay"), "disc_bp", "disc_days", "discount_terms"),
        on="c_pay",
        how="left",
    )
    # the widest write-off possible for this receipt: rounding, its currency's bank charge
    # (open <= amount + fee and fee <= pct of open), or twice the customer's discount
    bp = _bc_bp(cfg)
    width = pl.max_horizontal(
        pl.lit(rt),
        pl.min_horizontal(_bc_cap(cfg, "currency"), pl.col("amt_c") * bp // max(1, 10_000 - bp)),
        pl.col("amt_c") * pl.col("disc_bp").fill_null(0) * 2 // 10_000,
    )
    c = _range_join(
        left,
        oi.select(
            "inv_idx",
            "invoice_id",
            pl.col("customer_id").alias("c_pay"),
            "currency",
            "open_c",
            "invoice_date",
            pl.col("amt_c").alias("inv_amt_c"),
        ),
        ["c_pay", "currency"],
        "open_c",
        pl.col("amt_c") - rt,
        pl.col("amt_c") + width + rt + 1,
        cap=20,
    )
    c = c.filter(pl.col("_n_in_range") <= 20)  # a crowd of near amounts: people decide
    c = c.filter(
        (pl.col("invoice_date") >= pl.col("value_date") - pl.duration(days=cfg.date_window_days))
        & (
            pl.col("invoice_date")
            <= pl.col("value_date") + pl.duration(days=cfg.date_window_prepay_days)
        )
    )
    if c.height == 0:
        return
    c = st.drop_rejected(c)
    bc = _bc_expr(cfg, "currency", "open_c")
    diff = pl.col("open_c") - pl.col("amt_c")
    disc_c = (pl.col("inv_amt_c") * pl.col("disc_bp") * 2 + 10_000) // 20_000
    disc_ok = (
        pl.col("disc_bp").is_not_null()
        & (pl.col("value_date") <= pl.col("invoice_date") + pl.duration(days=pl.col("disc_days")))
        & ((diff - disc_c).abs() <= rt)
    )
    kind = (
        pl.when(diff == 0)
        .then(pl.lit(None, dtype=pl.String))  # exact: done (or ambiguous)
        .when(diff.abs() <= rt)
        .then(pl.lit("rounding"))
        .when((diff > 0) & disc_ok)
        .then(pl.lit("discount"))
        .when((diff > 0) & (diff <= bc) & pl.col("inst"))
        .then(pl.lit("typo"))  # an instalment short of an invoice: ambiguous, not a fee
        .when(
            (diff > 0)
            & (diff <= bc)
            & ~_round_sum(pl.col("amt_c"), pl.col("open_c"))
            & (pl.lit(not cfg.bank_charge_whole_units) | (diff % 100 == 0))
        )
        .then(pl.lit("bank_charge"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    # a keying error of any open invoice of the payer (not only of the candidates in range)
    suspects = fr.join(c.select("rec_idx").unique(), on="rec_idx", how="semi")
    c = c.join(_keying_error_receipts(st, suspects), on="rec_idx", how="anti")
    c = c.with_columns(kind.alias("wo"))
    # an exact candidate (ambiguous or rejected) keeps the receipt out of this rule
    c = c.filter(~(diff == 0).any().over("rec_idx")).filter(pl.col("wo").is_not_null())
    c = c.filter(~(pl.col("wo") == "typo").any().over("rec_idx"))
    # several candidates: the strongest evidence decides when it names one invoice -- a
    # rounding difference, then the customer's discount to the cent, then a bank charge
    strength = (
        pl.when(pl.col("wo") == "rounding")
        .then(0)
        .when(pl.col("wo") == "discount")
        .then(1)
        .otherwise(2)
    )
    c = c.with_columns(strength.alias("_strength"))
    c = c.filter(pl.col("_strength") == pl.col("_strength").min().over("rec_idx"))
    c = c.filter(pl.len().over("rec_idx") == 1)
    c = c.sort(["inv_idx", "value_date", "receipt_id"]).filter(
        pl.int_range(pl.len()).over("inv_idx") == 0
    )
    if c.height == 0:
        return
    fuzzy = pl.col("payer_method") == "fuzzy"
    detail = (
        pl.when(pl.col("wo") == "rounding")
        .then(pl.format("difference {} written off as rounding", _fmt(diff)))
        .when(pl.col("wo") == "discount")
        .then(pl.format("short {} = early-payment discount ({})", _fmt(diff), "discount_terms"))
        .otherwise(pl.format("short {} written off as bank charge", _fmt(diff)))
    )
    common = [
        pl.lit("exact_amount").alias("rule"),
        (pl.lit(0.85) * pl.when(fuzzy).then(pl.col("payer_score")).otherwise(1.0)).alias(
            "confidence"
        ),
        pl.format(
            "payer '{}' is customer {} (by {}); amount {} is within tolerance of invoice {} "
            "(open {}), its only such open invoice in the date window; {}",
            pl.col("payer_name").fill_null(""),
            "c_pay",
            "payer_method",
            _fmt(pl.col("amt_c")),
            "invoice_id",
            _fmt(pl.col("open_c")),
            detail,
        ).alias("reason"),
        pl.lit("").alias("flags"),
    ]
    st.commit(
        _cash_with_write_off(
            c,
            applied=pl.col("amt_c"),
            received=pl.col("amt_c"),
            write_off_kind=pl.col("wo"),
            write_off=diff,
            write_off_rows=pl.lit(True),
            meta=common,
        )
    )


def _rule_fx_amount(st: _State, refs: pl.DataFrame, fx: pl.DataFrame, base: str) -> None:
    """No reference, payer known, receipt in a foreign currency: converted at the value-date
    rate, the only open base-currency invoice of the payer within ``fx_tolerance_pct`` and
    within a quarter of it, in the date window -> applied, the difference as
    ``fx_difference``."""
    cfg = st.cfg
    fr = (
        st.fresh_receipts(auto=True)
        .filter(pl.col("c_pay").is_not_null() & (pl.col("currency") != base))
        .join(refs.select("rec_idx"), on="rec_idx", how="anti")
    )
    if fr.height == 0 or fx.height == 0:
        return
    fr = _with_rate(fr, "currency", "rate_r", fx, base, cfg).filter(pl.col("rate_r").is_not_null())
    fr = fr.with_columns(
        ((pl.col("amt_c").cast(pl.Int128) * pl.col("rate_r") * 2 + 100_000_000) // 200_000_000)
        .cast(pl.Int64)
        .alias("conv_c"),
        pl.lit(base).alias("i_ccy"),
    )
    bp = int((cfg.fx_tolerance_pct * 100).to_integral_value(ROUND_HALF_UP))
    c = _range_join(
        fr.select(
            "rec_idx",
            "receipt_id",
            "value_date",
            "currency",
            "amt_c",
            "conv_c",
            "i_ccy",
            "c_pay",
            "payer_name",
            "payer_method",
            "payer_score",
        ),
        st.open_invoices().select(
            "inv_idx",
            "invoice_id",
            pl.col("customer_id").alias("c_pay"),
            pl.col("currency").alias("i_ccy"),
            "open_c",
            "invoice_date",
        ),
        ["c_pay", "i_ccy"],
        "open_c",
        pl.col("conv_c") * (10_000 - bp) // 10_000,
        pl.col("conv_c") * (10_000 + bp) // 10_000,
        cap=5,
    )
    # alone within the full tolerance, and close: within a quarter of it (bank rates differ
    # from the book rate by tenths of a percent; a wider gap is a partial or another fee)
    close = (pl.col("open_c") - pl.col("conv_c")).abs() * 40_000 <= pl.col("conv_c") * bp
    c = c.filter(
        (pl.col("_n_in_range") == 1)
        & close
        & (pl.col("invoice_date") >= pl.col("value_date") - pl.duration(days=cfg.date_window_days))
        & (
            pl.col("invoice_date")
            <= pl.col("value_date") + pl.duration(days=cfg.date_window_prepay_days)
        )
    )
    c = st.drop_rejected(c)
    c = c.sort(["inv_idx", "value_date", "receipt_id"]).filter(
        pl.int_range(pl.len()).over("inv_idx") == 0
    )
    if c.height == 0:
        return
    diff = pl.col("open_c") - pl.col("conv_c")
    fuzzy = pl.col("payer_method") == "fuzzy"
    common = [
        pl.lit("exact_amount").alias("rule"),
        (pl.lit(0.8) * pl.when(fuzzy).then(pl.col("payer_score")).otherwise(1.0)).alias(
            "confidence"
        ),
        pl.format(
            "payer '{}' is customer {} (by {}); {} {} at the value-date rate = {} {}, within "
            "{}% of invoice {} (open {}), its only such open invoice in the date window; "
            "fx difference {}",
            pl.col("payer_name").fill_null(""),
            "c_pay",
            "payer_method",
            "currency",
            _fmt(pl.col("amt_c")),
            "i_ccy",
            _fmt(pl.col("conv_c")),
            pl.lit(str(cfg.fx_tolerance_pct)),
            "invoice_id",
            _fmt(pl.col("open_c")),
            _fmt(diff),
        ).alias("reason"),
        pl.lit("").alias("flags"),
    ]
    st.commit(
        _cash_with_write_off(
            c,
            applied=pl.col("conv_c"),
            received=pl.col("amt_c"),
            write_off_kind=pl.lit("fx_difference"),
            write_off=diff,
            write_off_rows=diff != 0,
            meta=common,
        )
    )


#: how many invoices a memo says it pays: 付INV0012345等6笔货款, 共3笔, 6 invoices
_INVOICE_COUNT = (r"(?:等|共)\s*(\d{1,2})\s*[笔张份项]", r"(?i)\b(\d{1,2})\s+invoices\b")
#: ... but never more than this many in one combination
_COMBINED_HARD_MAX = 10


def _rule_combined(st: _State, refs: pl.DataFrame, findings: list[dict]) -> None:
    """One receipt = the exact sum of 2..k open invoices of its payer, found by a bounded
    search over the oldest ``combined_max_candidates`` (named ones first) and applied only
    when that combination is the only one (else suggestions). No bank-charge tolerance
    here: a near sum of unnamed invoices is too often a coincidence (the referenced
    combination in the reference rule may write one off)."""
    cfg = st.cfg
    fr = st.fresh_receipts(auto=True).filter(pl.col("c_pay").is_not_null())
    fr = fr.sort(["value_date", "receipt_id"]).with_columns(
        pl.coalesce(
            pl.col(c).str.extract(p, 1).cast(pl.Int64, strict=False)
            for c in ("memo", "bank_ref")
            for p in _INVOICE_COUNT
        ).alias("n_named")
    )
    if fr.height == 0:
        return
    lists = _residue_lists(st, fr.select(pl.col("c_pay").alias("customer_id")).unique())
    if not lists:
        return
    ref_sets: dict[int, set[int]] = defaultdict(set)
    for ri, ii in (
        refs.join(fr.select("rec_idx"), on="rec_idx", how="semi")
        .select("rec_idx", "inv_idx")
        .iter_rows()
    ):
        ref_sets[ri].add(ii)
    # invoices named by some other receipt still waiting are left for that receipt
    claimed: dict[int, set[int]] = defaultdict(set)
    for ri, ii in (
        refs.join(st.fresh_receipts().select("rec_idx"), on="rec_idx", how="semi")
        .select("rec_idx", "inv_idx")
        .iter_rows()
    ):
        claimed[ii].add(ri)
    deadline = time.monotonic() + cfg.combined_time_budget_s
    rows: list[tuple] = []
    inv_date, inv_id, inv_open = st.inv_date, st.inv_id, st.inv_open
    heads: dict[tuple[str, str], int] = defaultdict(int)  # first possibly open position
    for r in fr.select(
        "rec_idx",
        "receipt_id",
        "currency",
        "amt_c",
        "c_pay",
        "payer_name",
        "payer_method",
        "payer_score",
        "n_named",
    ).iter_rows(named=True):
        gk = (r["c_pay"], r["currency"])
        lst = lists.get(gk)
        if not lst or len(lst) < 2:
            continue
        if time.monotonic() > deadline:
            findings.append(
                {
                    "severity": "warning",
                    "file": "match",
                    "row": None,
                    "column": None,
                    "value": r["receipt_id"],
                    "rule": "match.combined_budget",
                    "message": f"combined-payment search stopped after "
                    f"{cfg.combined_time_budget_s}s; later receipts were not searched",
                }
            )
            st.budget_exhausted = True
            break
        ri = r["rec_idx"]
        refd = ref_sets.get(ri, set())
        # the memo names invoices, none of them open for this payer: not a combination
        named_open = sorted(
            i
            for i in refd
            if inv_open[i] > 0 and st.inv_cust[i] == gk[0] and st.inv_ccy[i] == gk[1]
        )
        if refd and not named_open:
            continue
        # open invoices only ever decrease: skip the paid head of the list once and for all
        h = heads[gk]
        while h < len(lst) and inv_open[lst[h]] <= 0:
            h += 1
        heads[gk] = h
        open_l = [i for i in named_open if (ri, i) not in st.rejected]
        named_set = set(open_l)
        amt = r["amt_c"]
        # a memo counting its invoices (付INV0012345等6笔货款): exactly that many, every named
        # one among them, even beyond the usual maximum
        count = r["n_named"] or 0
        forced = 2 <= count <= _COMBINED_HARD_MAX and count >= len(open_l)
        # what an unnamed invoice may fill: beside all named ones (forced), or beside the
        # smallest named one (a combination needs one of them)
        named_amounts = [int(inv_open[i]) for i in open_l]
        room = amt - (sum(named_amounts) if forced else min(named_amounts, default=0))
        # the oldest open invoices that fit, looking at no more than a few times as many
        # open ones as there are candidate places (big customers have thousands open)
        looked = 0
        for i in islice(lst, h, None):  # no copy of a long list per receipt
            if (
                len(open_l) >= cfg.combined_max_candidates
                or looked >= 4 * cfg.combined_max_candidates
            ):
                break
            o = inv_open[i]
            if o > 0 and i not in named_set and (ri, i) not in st.rejected and not claimed.get(i):
                looked += 1
                if o <= room:
                    open_l.append(i)
        if len(open_l) < 2:
            continue
        open_l.sort(key=lambda i: (0 if i in named_set else 1, inv_date[i], inv_id[i]))
        amounts = [int(inv_open[i]) for i in open_l]
        n_named = len(named_set)
        found: list[list[int]] = []
        complete = True
        if forced:  # room: what the named invoices leave for exactly k more
            k = count - n_named
            if k == 0:
                found = [list(range(n_named))] if room == 0 else []
            else:
                found, complete = _subsets(
                    amounts[n_named:], room, 0, k, cfg.combined_max_nodes, kmin=k
                )
                found = [[*range(n_named), *(n_named + x for x in f)] for f in found]
        # no combination of the counted size: what does add up is only a suggestion
        off_count = forced and not found
        if not found:
            kmax = cfg.combined_max_invoices
            if amt > sum(sorted(amounts)[-kmax:]):
                continue
            found, complete = _subsets(amounts, amt, 0, kmax, cfg.combined_max_nodes, n_named)
        if len(found) != 1 or not complete or off_count:
            # several combinations fit (or the search was cut short): people decide
            for k, f in enumerate(found):
                ids = "|".join(inv_id[open_l[x]] for x in f)
                st.extra_sugg.append(
                    (
                        ri,
                        0,
                        r["c_pay"],
                        ids,
                        sum(amounts[x] for x in f),
                        0.5 - 0.05 * k,
                        "combined",
                        f"amount equals the sum of open invoices {ids.replace('|', ', ')}; "
                        + (
                            f"but the memo counts {count} invoices"
                            if off_count
                            else "other combinations also fit"
                            if complete
                            else "search cut short"
                        ),
                    )
                )
            continue
        chosen = [open_l[k] for k in found[0]]
        n_ref = sum(1 for i in chosen if i in named_set)
        conf = (0.9 if n_ref == len(chosen) else 0.8) * (
            r["payer_score"] if r["payer_method"] == "fuzzy" else 1.0
        )
        iids = [inv_id[i] for i in chosen]
        reason = (
            f"payer '{_short(r['payer_name'], 40)}' is customer {r['c_pay']}; "
            f"amount {_fmt_py(amt)} = open invoices "
            f"{', '.join(iids)} ({len(chosen)} invoices, {n_ref} named in memo), "
            "the only combination that adds up"
        )
        for i in chosen:
            o = int(inv_open[i])
            st.take(ri, i, o, o)
            rows.append((r["receipt_id"], ri, i, "cash", o, o, "combined", conf, reason, ""))
    st.commit(_rows_frame(rows), update=False)


def _rule_partial(st: _State, refs: pl.DataFrame, cust: pl.DataFrame) -> None:
    """Receipts naming open invoices whose amount does not fit: oldest-first onto them."""
    c = _ref_candidates(st, refs, cust).filter(
        (pl.col("rel") != "other") & (pl.col("r_ccy") == pl.col("i_ccy"))
    )
    c = c.join(st.fresh_receipts(auto=True).select("rec_idx"), on="rec_idx", how="semi")
    # a receipt equal to one of the invoices it names was ambiguous, not partial: leave it
    c = c.filter(~(pl.col("open_c") == pl.col("amt_c")).any().over("rec_idx"))
    if c.height == 0:
        return
    # an amount that is a named invoice's amount x10, /10 or with two digits swapped is a
    # keying error, not a partial payment: left as a suggestion (amount_typo)
    typo = c.filter(_typo_mask(c, "amt_c", "open_c") | _typo_mask(c, "amt_c", "inv_amt_c"))
    c = c.join(typo.select("rec_idx").unique(), on="rec_idx", how="anti")
    if c.height == 0:
        return
    g = (
        c.sort(["invoice_date", "invoice_id"])
        .group_by("rec_idx")
        .agg(
            pl.col("receipt_id").first(),
            pl.col("value_date").first(),
            pl.col("src").first(),
            pl.col("text").first(),
            pl.col("payer_method").first(),
            pl.col("payer_score").first(),
            "inv_idx",
            "rel",
            "c_pay",
            "c_inv",
        )
        .sort(["value_date", "receipt_id"])
    )
    rows: list[tuple] = []
    for r in g.iter_rows(named=True):
        ri = r["rec_idx"]
        rem = int(st.rec_rem[ri])
        if rem != int(st.rec_amt[ri]) or rem <= 0:
            continue
        mult = r["payer_score"] if r["payer_method"] == "fuzzy" else 1.0
        text = _short(r["text"])
        pending = []
        for i, rel, cpay, cinv in zip(r["inv_idx"], r["rel"], r["c_pay"], r["c_inv"], strict=True):
            if rem <= 0:
                break
            o = int(st.inv_open[i])
            if o <= 0:
                continue
            a = min(rem, o)
            rem -= a
            pending.append((i, a, o, rel, cpay, cinv))
        for i, a, o, rel, cpay, cinv in pending:
            st.take(ri, i, a, a)
            st.named_partial.add(i)
            flags = []
            if a < o:
                flags.append("partial")
            if rem > 0:
                flags.append("overpayment")
            if rel == "related":
                flags.append("third_party")
            reason = (
                f"{r['src']} '{text}' names invoice {st.inv_id[i]} (open {_fmt_py(o)}); "
                f"applied {_fmt_py(a)}"
            )
            if a < o:
                reason += f" as a partial payment, {_fmt_py(o - a)} left open"
            if rem > 0:
                reason += f"; {_fmt_py(rem)} of the receipt left unapplied (overpayment)"
            if rel == "related":
                reason += f"; paid by related company {cpay} for {cinv}"
            conf = (0.85 if rel == "own" else 0.75) * mult
            rows.append(
                (r["receipt_id"], ri, i, "cash", a, a, "partial", conf, reason, "|".join(flags))
            )
    st.commit(_rows_frame(rows), update=False)


def _rule_instalment_single(st: _State, refs: pl.DataFrame) -> None:
    """A receipt whose memo announces an instalment (第2期货款, 分期货款, installment 2/3)
    but names no invoice: applied to the payer's *only* open invoice in the receipt's
    currency (dated within the date window) when the receipt does not exceed its open
    amount; flagged ``partial`` while the invoice stays partly open. Two or more open
    invoices, or a larger receipt, are left to people (suggestions)."""
    cfg = st.cfg
    fr = (
        st.fresh_receipts(auto=True)
        .filter(pl.col("c_pay").is_not_null() & pl.col("inst"))
        .filter(pl.col("policy").fill_null("") != "balance_forward")
        .join(refs.select("rec_idx"), on="rec_idx", how="anti")
    )
    if fr.height == 0:
        return
    oi = st.open_invoices().select(
        "inv_idx", "invoice_id", pl.col("customer_id").alias("c_pay"), "currency", "invoice_date"
    )
    oi = oi.filter(pl.len().over(["c_pay", "currency"]) == 1)
    c = fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "c_pay",
        "memo",
        "bank_ref",
        "payer_method",
        "payer_score",
    ).join(oi, on=["c_pay", "currency"])
    c = c.filter(
        (pl.col("invoice_date") >= pl.col("value_date") - pl.duration(days=cfg.date_window_days))
        & (
            pl.col("invoice_date")
            <= pl.col("value_date") + pl.duration(days=cfg.date_window_prepay_days)
        )
    )
    c = st.drop_rejected(c).sort(["value_date", "receipt_id"])
    rows: list[tuple] = []
    for r in c.iter_rows(named=True):
        ri, i = r["rec_idx"], r["inv_idx"]
        amt, o = int(st.rec_rem[ri]), int(st.inv_open[i])
        if amt <= 0 or amt != int(st.rec_amt[ri]) or amt > o:
            continue
        st.take(ri, i, amt, amt)
        mult = r["payer_score"] if r["payer_method"] == "fuzzy" else 1.0
        text = _short(r["memo"] if r["memo"] is not None else r["bank_ref"])
        reason = (
            f"memo '{text}' announces an instalment; invoice {st.inv_id[i]} is the only open "
            f"{r['currency']} invoice of customer {r['c_pay']} (open {_fmt_py(o)}); "
            f"applied {_fmt_py(amt)}"
        )
        if amt < o:
            reason += f" as a partial payment, {_fmt_py(o - amt)} left open"
        rows.append(
            (
                r["receipt_id"],
                ri,
                i,
                "cash",
                amt,
                amt,
                "partial",
                0.6 * mult,
                reason,
                "partial" if amt < o else "",
            )
        )
    st.commit(_rows_frame(rows), update=False)


def _in_progress(st: _State) -> dict[tuple[str, str], list[int]]:
    """Invoices being paid in parts: part-paid this period by a receipt that named them
    (the partial rule), still open and dated; per (customer, currency), oldest first."""
    live = [i for i in st.named_partial if st.inv_open[i] > 0 and st.inv_date[i] is not None]
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in sorted(live, key=lambda i: (st.inv_date[i], st.inv_id[i])):
        out[(st.inv_cust[i], st.inv_ccy[i])].append(i)
    return out


def _near_or_typo(
    st: _State, others: dict, key: tuple[str, str], amt: int, near_bp: int
) -> list[int]:
    """Open invoices of ``key`` (as at the start of the rule) whose open amount or invoice
    amount could equal ``amt``, lie within ``near_bp`` above it, or be a keying error of it
    (x10 / x100 either way, swapped digits): a sorted search per range, so a customer with
    thousands of open invoices costs a few lookups, not a scan."""
    index = others.setdefault("index", {})
    if key not in index:
        ids = np.asarray(others["lists"].get(key, []), dtype=np.int64)
        values = np.concatenate([st.inv_open[ids], others["amt"][ids]])
        order = np.argsort(values, kind="stable")
        index[key] = (values[order], np.concatenate([ids, ids])[order])
    values, ids = index[key]
    ranges = [
        (amt, amt * 10_000 // max(1, 10_000 - near_bp) + 1),
        (amt * 10 - 5, amt * 10 + 5),
        (amt * 100 - 50, amt * 100 + 50),
        *((v, v) for v in _exact_keying_errors(amt)),
    ]
    lo = np.searchsorted(values, [a for a, _ in ranges], side="left")
    hi = np.searchsorted(values, [b for _, b in ranges], side="right")
    return np.concatenate([ids[a:b] for a, b in zip(lo, hi, strict=True)]).tolist()


def _rule_instalment_progress(st: _State, refs: pl.DataFrame) -> None:
    """The next instalment of an invoice already being paid in parts: a receipt naming no
    invoice, from a customer with an invoice part-paid this period (by a receipt that named
    it), goes onto that invoice when its amount equals the invoice's open rest (the last
    instalment), or -- when that is the customer's only invoice in progress in the
    currency -- when it fits inside the rest. Never when another open invoice of the
    customer has the receipt's amount, or the amount looks like a keying error (x10, /10,
    swapped digits) of an open invoice, or comes within ``suggest_near_pct`` below one:
    those stay suggestions. Applied in value-date order, so a third instalment sees the
    rest the second one left."""
    cfg = st.cfg
    progress = _in_progress(st)
    if not progress:
        return
    fr = (
        st.fresh_receipts(auto=True)
        .filter(pl.col("c_pay").is_not_null())
        .filter(pl.col("policy").fill_null("") != "balance_forward")
        .join(refs.select("rec_idx"), on="rec_idx", how="anti")
        .sort(["value_date", "receipt_id"])
    )
    keys = pl.DataFrame(
        [k for k in progress], schema={"c_pay": pl.String, "currency": pl.String}, orient="row"
    )
    fr = fr.join(keys, on=["c_pay", "currency"], how="semi")
    if fr.height == 0:
        return
    lists = _residue_lists(st, fr.select(pl.col("c_pay").alias("customer_id")).unique())
    others: dict = {"lists": lists, "amt": np.asarray(st.inv_amt, dtype=np.int64)}
    near_bp = int((cfg.suggest_near_pct * 100).to_integral_value(ROUND_HALF_UP))
    lo = dt.timedelta(days=cfg.date_window_days)
    hi = dt.timedelta(days=cfg.date_window_prepay_days)
    rows: list[tuple] = []
    for r in fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        "c_pay",
        "memo",
        "bank_ref",
        "inst",
        "payer_method",
        "payer_score",
    ).iter_rows(named=True):
        key, ri, amt = (r["c_pay"], r["currency"]), r["rec_idx"], r["amt_c"]
        if int(st.rec_rem[ri]) != amt or r["value_date"] is None:
            continue
        live = [
            i
            for i in progress[key]
            if st.inv_open[i] > 0
            and r["value_date"] - lo <= st.inv_date[i] <= r["value_date"] + hi
            and (ri, i) not in st.rejected
        ]
        if not live:
            continue
        rest_equal = [i for i in live if st.inv_open[i] == amt]
        if len(rest_equal) == 1:
            target, last = rest_equal[0], True
        elif r["inst"] and len(live) == 1 and amt < st.inv_open[live[0]]:
            target, last = live[0], False
        else:
            continue
        suspects = set(progress[key]).union(_near_or_typo(st, others, key, amt, near_bp))
        clash = False
        for i in suspects:
            o = int(st.inv_open[i])
            if o <= 0 or i == target:
                continue
            amounts = (o, st.inv_amt[i])
            if (
                amt in amounts
                or any(_typo_of(amt, a) for a in amounts)
                or (not last and 0 < o - amt <= o * near_bp // 10_000)
            ):
                clash = True
                break
        if clash or (not last and _typo_of(amt, st.inv_amt[target])):
            continue
        o = int(st.inv_open[target])
        st.take(ri, target, amt, amt)
        mult = r["payer_score"] if r["payer_method"] == "fuzzy" else 1.0
        text = _short(r["memo"] if r["memo"] is not None else r["bank_ref"])
        reason = (
            f"memo '{text}' names no invoice; customer {r['c_pay']} is paying invoice "
            f"{st.inv_id[target]} in instalments (open {_fmt_py(o)}); "
        )
        if last:
            reason += f"amount {_fmt_py(amt)} equals its open rest: it clears the invoice"
        else:
            reason += (
                f"it is the customer's only {r['currency']} invoice in progress; applied "
                f"{_fmt_py(amt)}, {_fmt_py(o - amt)} left open"
            )
        rows.append(
            (
                r["receipt_id"],
                ri,
                target,
                "cash",
                amt,
                amt,
                "partial",
                (0.8 if last else 0.6) * mult,
                reason,
                "" if last else "partial",
            )
        )
    st.commit(_rows_frame(rows), update=False)


def _rule_balance_forward(st: _State, refs: pl.DataFrame) -> None:
    """Balance-forward customers: cash applied oldest-first, but only when nothing better
    identifies the invoice: the memo names no invoice, and the amount is not equal to (nor
    a keying error of) one of the customer's open invoices -- those are left to the
    suggestions."""
    fr = (
        st.fresh_receipts(auto=True)
        .filter(pl.col("c_pay").is_not_null() & (pl.col("policy") == "balance_forward"))
        .join(refs.select("rec_idx"), on="rec_idx", how="anti")
        .sort(["value_date", "receipt_id"])
    )
    if fr.height == 0:
        return
    lists = _residue_lists(st, fr.select(pl.col("c_pay").alias("customer_id")).unique())
    # amounts of the open invoices (and their keying-error variants) per customer/currency
    open_amounts: dict[tuple[str, str], set[int]] = defaultdict(set)
    for key, lst in lists.items():
        for i in lst:
            o = int(st.inv_open[i])
            open_amounts[key].update((o, o * 10, o * 100), _transpositions(o))
            if o % 10 == 0:
                open_amounts[key].add(o // 10)
            if o % 100 == 0:
                open_amounts[key].add(o // 100)
    heads: dict[tuple[str, str], int] = defaultdict(int)
    rows: list[tuple] = []
    for r in fr.select(
        "rec_idx", "receipt_id", "currency", "amt_c", "c_pay", "payer_method", "payer_score"
    ).iter_rows(named=True):
        key = (r["c_pay"], r["currency"])
        lst = lists.get(key)
        if not lst or r["amt_c"] in open_amounts[key]:
            continue
        ri, rem = r["rec_idx"], r["amt_c"]
        mult = r["payer_score"] if r["payer_method"] == "fuzzy" else 1.0
        h = heads[key]
        while h < len(lst) and st.inv_open[lst[h]] <= 0:
            h += 1
        heads[key] = h
        for i in islice(lst, h, None):
            if rem <= 0:
                break
            o = int(st.inv_open[i])
            if o <= 0 or (ri, i) in st.rejected:
                continue
            a = min(rem, o)
            rem -= a
            st.take(ri, i, a, a)
            reason = (
                f"customer {r['c_pay']} pays on balance forward: {_fmt_py(a)} applied "
                "oldest-first to "
                f"invoice {st.inv_id[i]} (open {_fmt_py(o)}); the memo names no invoice and "
                "no open invoice has the receipt's amount"
            )
            rows.append(
                (
                    r["receipt_id"],
                    ri,
                    i,
                    "cash",
                    a,
                    a,
                    "balance_forward",
                    0.75 * mult,
                    reason,
                    "partial" if a < o else "",
                )
            )
    st.commit(_rows_frame(rows), update=False)


# ----------------------------------------------------------------------------- suggestions
def _exact_keying_errors(amount: int) -> set[int]:
    """The amounts ``e`` that ``amount`` is an exact keying error of (see :func:`_typo_of`):
    ``e`` with two adjacent digits swapped, or ``e`` x10 / x100. The rounded x10 / x100
    readings (``e`` about ten or a hundred times ``amount``) are ranges, searched apart."""
    return _transpositions(amount) | {amount // d for d in (10, 100) if amount % d == 0}


def _transpositions(c: int) -> set[int]:
    s = str(c)
    out = set()
    for k in range(len(s) - 1):
        if s[k] != s[k + 1]:
            t = s[:k] + s[k + 1] + s[k] + s[k + 2 :]
            if t[0] != "0":
                out.add(int(t))
    return out


def _suggestions(st: _State, refs: pl.DataFrame, cust: pl.DataFrame) -> pl.DataFrame:
    cfg = st.cfg
    fr = st.fresh_receipts()
    oi = st.open_invoices()
    parts: list[pl.DataFrame] = []
    inv_cols = oi.select(
        "inv_idx", "invoice_id", "customer_id", "currency", "open_c", "invoice_date"
    )

    def emit(df: pl.DataFrame, score: pl.Expr, rule: str, reason: pl.Expr) -> None:
        if df.height:
            parts.append(
                df.select(
                    "rec_idx",
                    pl.lit(0, dtype=pl.Int64).alias("rank"),
                    "customer_id",
                    pl.col("invoice_id").alias("invoice_ids"),
                    pl.col("open_c").alias("amount_c"),
                    score.cast(pl.Float64).alias("score"),
                    pl.lit(rule).alias("rule"),
                    reason.alias("reason"),
                )
            )

    resolved = fr.filter(pl.col("c_pay").is_not_null()).select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        pl.col("c_pay").alias("customer_id"),
    )
    # several equal candidates (or the only one outside the date window): an equality join
    eq = st.drop_rejected(
        resolved.join(
            inv_cols.with_columns(pl.col("open_c").alias("amt_c")),
            on=["customer_id", "currency", "amt_c"],
        )
    )
    eq = eq.with_columns(pl.len().over("rec_idx").alias("n"))
    emit(
        eq,
        pl.when(pl.col("n") == 1).then(0.6).otherwise(0.5 / pl.col("n").cast(pl.Float64) + 0.2),
        "exact_amount",
        pl.when(pl.col("n") == 1)
        .then(
            pl.format(
                "amount equals invoice {} of the payer, but outside the date window", "invoice_id"
            )
        )
        .otherwise(
            pl.format(
                "amount equals {} open invoices of customer {}; which one is a person's call",
                "n",
                "customer_id",
            )
        ),
    )
    # near amount: the closest few below and above (a sorted search, not a per-customer
    # cartesian product)
    pct_bp = int((cfg.suggest_near_pct * 100).to_integral_value(ROUND_HALF_UP))
    k = cfg.suggest_max_candidates
    near = pl.concat(
        [
            _range_join(
                resolved,
                inv_cols,
                ["customer_id", "currency"],
                "open_c",
                pl.col("amt_c") * 10_000 // (10_000 + pct_bp),
                pl.col("amt_c") - 1,
                cap=k,
                from_end=True,
            ),
            _range_join(
                resolved,
                inv_cols,
                ["customer_id", "currency"],
                "open_c",
                pl.col("amt_c") + 1,
                pl.col("amt_c") * 10_000 // max(1, 10_000 - pct_bp),
                cap=k,
            ),
        ]
    ).drop("_n_in_range")
    near = st.drop_rejected(near)
    d = (pl.col("open_c") - pl.col("amt_c")).abs()
    lim = pl.col("open_c").cast(pl.Float64) * float(cfg.suggest_near_pct) / 100
    near = near.filter((d > 0) & (d.cast(pl.Float64) <= lim))
    emit(
        near,
        0.15 + 0.3 * (1 - d.cast(pl.Float64) / lim),
        "near_amount",
        pl.format(
            "amount {} is {} away from invoice {} (open {})",
            _fmt(pl.col("amt_c")),
            _fmt(d),
            "invoice_id",
            _fmt(pl.col("open_c")),
        ),
    )
    # decimal shift / transposed digits
    var_rows = []
    for ri, cid, ccy, amt in resolved.select(
        "rec_idx", "customer_id", "currency", "amt_c"
    ).iter_rows():
        for v, what in ((amt * 10, "x10"), (amt * 100, "x100")):
            var_rows.append((ri, cid, ccy, v, f"decimal shift {what}"))
        for k, what in ((10, "/10"), (100, "/100")):
            if amt % k == 0:
                var_rows.append((ri, cid, ccy, amt // k, f"decimal shift {what}"))
        for v in _transpositions(amt):
            var_rows.append((ri, cid, ccy, v, "transposed digits"))
    if var_rows:
        vr = pl.DataFrame(
            var_rows,
            schema={
                "rec_idx": pl.Int64,
                "customer_id": pl.String,
                "currency": pl.String,
                "open_c": pl.Int64,
                "what": pl.String,
            },
            orient="row",
        )
        vj = st.drop_rejected(vr.join(inv_cols, on=["customer_id", "currency", "open_c"]))
        emit(
            vj,
            pl.lit(0.45),
            "amount_typo",
            pl.format(
                "invoice {} open {}: receipt amount looks like a {}",
                "invoice_id",
                _fmt(pl.col("open_c")),
                "what",
            ),
        )
    # fuzzy payer candidate with exact amount
    fz = fr.filter(pl.col("c_pay").is_null() & pl.col("candidate_id").is_not_null()).select(
        "rec_idx",
        "currency",
        "amt_c",
        "payer_name",
        pl.col("candidate_id").alias("customer_id"),
        "candidate_score",
    )
    fzj = st.drop_rejected(
        fz.join(
            inv_cols.with_columns(pl.col("open_c").alias("amt_c")),
            on=["customer_id", "currency", "amt_c"],
        )
    )
    emit(
        fzj,
        0.7 * pl.col("candidate_score"),
        "fuzzy_payer",
        pl.format(
            "payer '{}' resembles customer {} (score {}); amount equals invoice {}",
            pl.col("payer_name").fill_null(""),
            "customer_id",
            pl.col("candidate_score").round(2),
            "invoice_id",
        ),
    )
    # unidentified payer, amount shared by few open invoices overall
    unk = fr.filter(pl.col("c_pay").is_null()).select("rec_idx", "currency", "amt_c")
    few = inv_cols.with_columns(pl.len().over(["currency", "open_c"]).alias("n")).filter(
        pl.col("n") <= cfg.suggest_max_candidates
    )
    uj = st.drop_rejected(
        unk.join(few, left_on=["currency", "amt_c"], right_on=["currency", "open_c"]).with_columns(
            pl.col("amt_c").alias("open_c")
        )
    )
    emit(
        uj,
        pl.lit(0.3),
        "amount_only",
        pl.format(
            "payer not identified; amount equals invoice {} of customer {}",
            "invoice_id",
            "customer_id",
        ),
    )
    # references that could not be applied
    rc = _ref_candidates(st, refs, cust)
    rc = rc.with_columns(pl.col("c_inv").alias("customer_id"))
    emit(
        rc,
        pl.when(pl.col("rel").is_in(["own", "unknown"]))
        .then(0.55)
        .when(pl.col("rel") == "related")
        .then(0.45)
        .otherwise(0.4),
        "reference",
        pl.format(
            "{} names invoice {} of customer {} (open {} {}) but the receipt is {} {}{}",
            "src",
            "invoice_id",
            "c_inv",
            "i_ccy",
            _fmt(pl.col("open_c")),
            "r_ccy",
            _fmt(pl.col("amt_c")),
            pl.when(pl.col("rel") == "other")
            .then(pl.format(" from customer {}", "c_pay"))
            .otherwise(pl.lit("")),
        ),
    )
    if st.extra_sugg:
        parts.append(pl.DataFrame(st.extra_sugg, schema=_SI, orient="row"))
    if not parts:
        return pl.DataFrame(schema=_SI)
    s = pl.concat(parts).cast(_SI)
    s = s.sort(
        ["rec_idx", "invoice_ids", "score", "rule"], descending=[False, False, True, False]
    ).unique(["rec_idx", "invoice_ids"], keep="first", maintain_order=True)
    s = s.sort(["rec_idx", "score", "invoice_ids"], descending=[False, True, False])
    s = s.with_columns(
        (pl.int_range(pl.len()).over("rec_idx") + 1).cast(pl.Int64).alias("rank")
    ).filter(pl.col("rank") <= cfg.suggest_max_candidates)
    return s


# ------------------------------------------------------------------------------------ match
def match(
    invoices: pl.DataFrame,
    receipts: pl.DataFrame,
    customers: pl.DataFrame,
    credit_notes: pl.DataFrame | None = None,
    fx_rates: pl.DataFrame | None = None,
    config: MatchConfig | None = None,
    base_currency: str = "CNY",
    decisions: pl.DataFrame | None = None,
) -> MatchResult:
    """Apply receipts to invoices; see the module docstring for the rules."""
    cfg = config or MatchConfig()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal t0
        t = time.perf_counter()
        timings[name] = round(t - t0, 3)
        t0 = t

    cust = _prep_customers(customers)
    payers = resolve_payers(
        receipts,
        customers,
        auto_threshold=cfg.fuzzy_auto_threshold,
        suggest_threshold=cfg.fuzzy_suggest_threshold,
        margin=cfg.fuzzy_margin,
    )
    lap("payers")
    inv0, inv = _prep_invoices(invoices, cfg)
    rec0, rec = _prep_receipts(receipts, payers, cust, cfg)
    fx = _fx_table(fx_rates)
    st = _State(inv, rec, cfg)
    refs = _extract_refs(rec, inv, cust, cfg)
    lap("prepare")
    findings: list[dict] = []

    cn_out = _rule_credit_notes(st, credit_notes)
    lap("credit_note")
    manual_status: dict[int, str] = {}
    if "manual" in cfg.rules:
        manual_status, f = _rule_manual(st, decisions, fx, base_currency)
        findings += f
    lap("manual")
    if "reference" in cfg.rules:
        _rule_reference(st, refs, cust, fx, base_currency)
        _rule_reference_combined(st, refs, cust)
    lap("reference")
    _mark_duplicates(st, refs)
    if "exact_amount" in cfg.rules:
        _rule_exact(st)
        _mark_duplicates(st, refs)
        _rule_exact_tolerance(st, cust, refs)
        _rule_fx_amount(st, refs, fx, base_currency)
    lap("exact_amount")
    if "combined" in cfg.rules:
        _rule_combined(st, refs, findings)
    lap("combined")
    if "partial" in cfg.rules:
        _rule_partial(st, refs, cust)
        _rule_instalment_single(st, refs)
        _rule_instalment_progress(st, refs)
    lap("partial")
    if "balance_forward" in cfg.rules:
        _rule_balance_forward(st, refs)
    lap("balance_forward")
    sugg = _suggestions(st, refs, cust) if "suggestions" in cfg.rules else pl.DataFrame(schema=_SI)
    lap("suggestions")

    result = _assemble(
        st, inv0, rec0, inv, rec, refs, payers, sugg, manual_status, cn_out, findings, cfg
    )
    lap("assemble")
    result.stats.update({"seconds": timings, "combined_budget_exhausted": st.budget_exhausted})
    return result


def _assemble(
    st, inv0, rec0, inv, rec, refs, payers, sugg, manual_status, cn_out, findings, cfg
) -> MatchResult:
    frames = [f for f in st.frames if f.height]
    alloc = pl.concat(frames) if frames else pl.DataFrame(schema=_AI)
    alloc = alloc.cast(_AI)
    # memo_conflict: a non-reference cash allocation while the memo named other invoices
    named = refs.select("rec_idx", "inv_idx")
    allocated = alloc.filter(pl.col("rec_idx").is_not_null()).select("rec_idx", "inv_idx").unique()
    hit = named.join(allocated, on=["rec_idx", "inv_idx"], how="semi").select("rec_idx").unique()
    conflict = (
        named.select("rec_idx")
        .unique()
        .join(hit, on="rec_idx", how="anti")
        .with_columns(pl.lit(True).alias("_mc"))
    )
    alloc = (
        alloc.join(conflict, on="rec_idx", how="left")
        .with_columns(
            pl.when(
                pl.col("_mc").fill_null(False)
                & ~pl.col("rule").is_in(["reference", "manual", "credit_note"])
            )
            .then(
                pl.when(pl.col("flags") == "")
                .then(pl.lit("memo_conflict"))
                .otherwise(pl.col("flags") + "|memo_conflict")
            )
            .otherwise(pl.col("flags"))
            .alias("flags"),
            pl.when(
                pl.col("_mc").fill_null(False)
                & ~pl.col("rule").is_in(["reference", "manual", "credit_note"])
            )
            .then(pl.col("reason") + "; the memo names a different invoice (memo_conflict)")
            .otherwise(pl.col("reason"))
            .alias("reason"),
        )
        .drop("_mc")
    )

    # conservation, in cents
    inv_open, rec_rem = st.inv_open, st.rec_rem
    per_inv = alloc.group_by("inv_idx").agg(pl.col("applied_c").sum().alias("app"))
    chk_i = (
        inv.select("inv_idx", "start_c")
        .with_columns(open_c=pl.Series(inv_open))
        .join(per_inv, on="inv_idx", how="left")
        .with_columns(pl.col("app").fill_null(0))
    )
    assert chk_i.filter(pl.col("app") + pl.col("open_c") != pl.col("start_c")).height == 0, (
        "match bug: invoice conservation"
    )
    assert (
        chk_i.filter(
            (pl.col("start_c") > 0)
            & ((pl.col("open_c") < 0) | (pl.col("open_c") > pl.col("start_c")))
        ).height
        == 0
    ), "match bug: invoice over-applied"
    per_rec = (
        alloc.filter(pl.col("rec_idx").is_not_null())
        .group_by("rec_idx")
        .agg(pl.col("receipt_c").sum().alias("used"))
    )
    chk_r = (
        rec.select("rec_idx", "amt_c")
        .with_columns(rem=pl.Series(rec_rem))
        .join(per_rec, on="rec_idx", how="left")
        .with_columns(pl.col("used").fill_null(0))
    )
    assert chk_r.filter(pl.col("used") + pl.col("rem") != pl.col("amt_c")).height == 0, (
        "match bug: receipt conservation"
    )
    assert (
        chk_r.filter(
            (pl.col("amt_c") > 0) & ((pl.col("rem") < 0) | (pl.col("rem") > pl.col("amt_c")))
        ).height
        == 0
    ), "match bug: receipt over-allocated"
    assert int(alloc.get_column("applied_c").sum()) == int(
        chk_i.get_column("start_c").sum() - chk_i.get_column("open_c").sum()
    ), "match bug: totals"
    assert int(alloc.get_column("receipt_c").sum()) == int(
        chk_r.get_column("amt_c").sum() - chk_r.get_column("rem").sum()
    ), "match bug: totals"

    # allocations output
    kind_order = {k: i for i, k in enumerate(KINDS)}
    out_alloc = (
        alloc.join(
            inv.select("inv_idx", "invoice_id", "customer_id", "currency"), on="inv_idx", how="left"
        )
        .join(
            rec.select("rec_idx", pl.col("currency").alias("receipt_currency")),
            on="rec_idx",
            how="left",
        )
        .with_columns(pl.col("kind").replace_strict(kind_order, return_dtype=pl.Int64).alias("_k"))
        .sort(["receipt_id", "invoice_id", "_k", "rule"])
        .select(
            "receipt_id",
            "invoice_id",
            "customer_id",
            _money(pl.col("applied_c")).alias("applied_amount"),
            "currency",
            _money(pl.col("receipt_c")).alias("receipt_amount"),
            "receipt_currency",
            "kind",
            "rule",
            pl.col("confidence").clip(0.0, 1.0).round(4),
            "reason",
            "flags",
        )
        .cast(ALLOCATION_SCHEMA)
    )

    # suggestions output
    out_sugg = (
        sugg.join(rec.select("rec_idx", "receipt_id"), on="rec_idx")
        .sort(["receipt_id", "rank"])
        .select(
            "receipt_id",
            "rank",
            "customer_id",
            "invoice_ids",
            _money(pl.col("amount_c")).alias("amount"),
            pl.col("score").clip(0.0, 1.0).round(4),
            "rule",
            "reason",
        )
        .cast(SUGGESTION_SCHEMA)
    )

    # receipts output
    has_sugg = sugg.select("rec_idx").unique().with_columns(pl.lit(True).alias("_s"))
    ms = pl.DataFrame(
        list(manual_status.items()), schema={"rec_idx": pl.Int64, "_ms": pl.String}, orient="row"
    )
    r = (
        rec.select(
            "rec_idx", pl.col("c_pay").alias("customer_id"), "payer_method", "payer_score", "amt_c"
        )
        .with_columns(rem=pl.Series(rec_rem))
        .join(has_sugg, on="rec_idx", how="left")
        .join(ms, on="rec_idx", how="left")
        .with_columns(
            pl.when(pl.col("_ms").is_not_null())
            .then(pl.col("_ms"))
            .when((pl.col("rem") == 0) & (pl.col("amt_c") > 0))
            .then(pl.lit("applied"))
            .when(pl.col("rem") != pl.col("amt_c"))
            .then(pl.lit("partial"))
            .when(pl.col("_s").fill_null(False))
            .then(pl.lit("suggested"))
            .otherwise(pl.lit("unapplied"))
            .alias("status"),
            _money(pl.col("amt_c") - pl.col("rem")).alias("allocated"),
            _money(pl.col("rem")).alias("unapplied"),
        )
    )
    out_rec = pl.concat(
        [
            rec0.drop(
                [
                    c
                    for c in (
                        "customer_id",
                        "payer_method",
                        "payer_score",
                        "allocated",
                        "unapplied",
                        "status",
                    )
                    if c in rec0.columns
                ]
            ),
            r.select(
                "customer_id", "payer_method", "payer_score", "allocated", "unapplied", "status"
            ),
        ],
        how="horizontal",
    )

    # invoices output
    i = (
        inv.select("start_c")
        .with_columns(open_c=pl.Series(inv_open))
        .with_columns(
            _money(pl.col("start_c") - pl.col("open_c")).alias("applied"),
            _money(pl.col("open_c")).alias("open_amount"),
            _money(pl.col("start_c")).alias("open_at_start"),
            pl.when((pl.col("open_c") == 0) & (pl.col("start_c") > 0))
            .then(pl.lit("paid"))
            .when(pl.col("open_c") != pl.col("start_c"))
            .then(pl.lit("partial"))
            .otherwise(pl.lit("open"))
            .alias("status"),
        )
    )
    out_inv = pl.concat(
        [
            inv0.drop(
                [
                    c
                    for c in ("open_amount", "open_at_start", "applied", "status")
                    if c in inv0.columns
                ]
            ),
            i.select("open_at_start", "applied", "open_amount", "status"),
        ],
        how="horizontal",
    )

    counts = dict(sorted(st.counts.items()))
    stats = {
        "allocation_rows": counts,
        "receipts": out_rec.group_by("status").len().sort("status").to_dicts(),
        "invoices": out_inv.group_by("status").len().sort("status").to_dicts(),
    }
    fnd = (
        pl.DataFrame(findings, schema=FINDING_SCHEMA)
        if findings
        else pl.DataFrame(schema=FINDING_SCHEMA)
    )
    return MatchResult(
        allocations=out_alloc,
        suggestions=out_sugg,
        receipts=out_rec,
        invoices=out_inv,
        payers=payers,
        credit_notes=cn_out,
        findings=fnd,
        stats=stats,
    )


__all__ = ["ALL_RULES", "MatchConfig", "MatchResult", "check_decisions", "match"]
