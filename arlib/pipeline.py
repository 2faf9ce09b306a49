"""The close pipeline: load → match → review (exceptions, aging, KPIs, provision,
journal) → close (roll-forward, open items), and the writers of its machine outputs.

Each notebook runs one stage. Stages are cached in ``state_dir`` (set by ``arlib close``)
so that a later notebook reads what an earlier one computed instead of recomputing; with
no ``state_dir`` (a notebook run on its own, nbval, ``arlib reconcile``) each stage simply
computes what it needs. The cache is a pickle the close wrote itself moments earlier in its
own build folder, never a file from elsewhere. Without a folder, stages share a dict so
each is computed once per call chain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from arlib import carry, learning
from arlib import findings as fnd
from arlib.config import Config
from arlib.load import Period, load_period
from arlib.match import MatchResult, match
from arlib.money import round_money
from arlib.schema import MONEY


class DataErrors(RuntimeError):
    """The period's inputs have errors; the close cannot be trusted until they are fixed."""


def _cached(state_dir: str | Path | dict | None, name: str, compute: Callable[[], Any]) -> Any:
    """Memoise a stage in a dict (one process) or a folder (across notebooks)."""
    if state_dir is None:
        return compute()
    if isinstance(state_dir, dict):
        if name not in state_dir:
            state_dir[name] = compute()
        return state_dir[name]
    path = Path(state_dir) / f"{name}.pkl"
    if path.is_file():
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - written by this close, in its build folder
    value = compute()
    with open(path, "wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return value


def load_stage(config: Config, state_dir=None) -> Period:
    return _cached(state_dir, "load", lambda: load_period(config))


def require_clean(period: Period) -> None:
    """Stop here (naming every error) when the inputs have errors."""
    errors = period.findings.filter(pl.col("severity") == "error")
    if errors.height:
        lines = [
            f"{r['file']}:{r['row']}: {r['column']}: {r['value']!r} {r['message']}"
            for r in errors.head(20).iter_rows(named=True)
        ]
        more = f"\n... and {errors.height - 20} more" if errors.height > 20 else ""
        raise DataErrors(
            f"{errors.height} input error(s) must be fixed before matching:\n"
            + "\n".join(lines)
            + more
        )


def match_stage(config: Config, state_dir=None) -> MatchResult:
    state_dir = {} if state_dir is None else state_dir

    def compute() -> MatchResult:
        period = load_stage(config, state_dir)
        require_clean(period)
        frames = period.frames
        return match(
            frames["invoices"],
            frames["receipts"],
            frames["customers"],
            frames["credit_notes"],
            frames["fx_rates"],
            config.matching,
            base_currency=config.base_currency,
            decisions=frames["decisions"] if frames["decisions"].height else None,
        )

    return _cached(state_dir, "match", compute)


# A receipt's outcome (matching's ``status``) and how it is told, in the order told:
# every receipt has exactly one, so the counts add up to the receipts.
RECEIPT_STATUSES = (
    ("applied", "applied in full"),
    ("partial", "partly applied"),
    ("suggested", "with suggestions"),
    ("unapplied", "unapplied"),
    ("dispute", "disputed"),
    ("not_ar", "not AR"),
)


def match_summary(result: MatchResult) -> dict[str, Any]:
    """Counts and amounts per rule, the auto-match rate, and what is left.

    ``per_rule`` is per rule, kind and (invoice) currency: applied amounts of different
    currencies are never added. ``receipts_by_status`` counts every receipt once, in the
    order of :data:`RECEIPT_STATUSES` (then any other status). The money received,
    applied and left is in :func:`cash_bridge`, per currency.
    """
    receipts = result.receipts
    per_rule = (
        result.allocations.group_by("rule", "kind", "currency")
        .agg(
            pl.len().alias("allocations"),
            pl.col("receipt_id").n_unique().alias("receipts"),
            pl.col("applied_amount").sum().alias("applied_amount"),
        )
        .sort("rule", "kind", "currency")
    )
    applied = receipts.filter(pl.col("status") == "applied")
    auto = applied.filter(
        ~pl.col("receipt_id").is_in(
            result.allocations.filter(pl.col("rule") == "manual")["receipt_id"].implode()
        )
    )
    counted = dict(receipts.group_by("status").len().iter_rows())
    known = [s for s, _ in RECEIPT_STATUSES]
    by_status = {s: counted.pop(s, 0) for s in known} | dict(sorted(counted.items()))
    return {
        "receipts": receipts.height,
        "receipts_by_status": by_status,
        "receipts_auto": auto.height,
        "invoices": result.invoices.height,
        "invoices_paid": result.invoices.filter(pl.col("status") == "paid").height,
        "suggestions": result.suggestions["receipt_id"].n_unique(),
        "per_rule": per_rule,
    }


@dataclasses.dataclass(frozen=True)
class Review:
    """What is wrong, how old it is, who to chase, and what to book.

    ``exceptions`` are this close's and those carried in open from earlier closes
    (:func:`arlib.carry.carry_exceptions`); ``findings`` are those of the decisions on them.
    """

    exceptions: pl.DataFrame
    aging: Any
    tiers: pl.DataFrame
    kpis: Any
    provision: Any
    journal: pl.DataFrame
    history: pl.DataFrame
    findings: pl.DataFrame
    credit_notes: pl.DataFrame  # matching's, with their status at close (credit_notes_at_close)


@dataclasses.dataclass(frozen=True)
class Exceptions:
    """The exceptions of a close: ``found`` by this close's matching, ``carried`` (those
    plus the ones still open from earlier closes), the ``findings`` of the decisions on
    them, the payment ``history`` the classification read, and ``payments``: this period's
    part of it (:func:`arlib.kpis.payment_history`, computed once for the close)."""

    found: pl.DataFrame
    carried: pl.DataFrame
    findings: pl.DataFrame
    history: pl.DataFrame
    payments: pl.DataFrame


def exceptions_stage(config: Config, state_dir=None) -> Exceptions:
    """Only what ``exceptions.csv`` needs (``arlib reconcile`` writes no more than that);
    :func:`review_stage` builds the rest of the review on it."""
    state_dir = {} if state_dir is None else state_dir

    def compute() -> Exceptions:
        from arlib import exceptions, kpis

        period = load_stage(config, state_dir)
        result = match_stage(config, state_dir)
        frames = period.frames
        payments = kpis.payment_history(
            result.allocations, result.receipts, result.invoices, period=config.period
        )
        history = _with_previous_history(config, payments)
        found = exceptions.classify_exceptions(
            result.allocations,
            result.suggestions,
            result.receipts,
            result.invoices,
            frames["customers"],
            config.exceptions,
            history,
            period=config.period,
            disputes=carry.disputed_by_receipt(frames["decisions"]),
            current_history=payments,
            credit_notes=result.credit_notes,
        )
        carried, decided = carry.carry_exceptions(
            found,
            frames["opening_exceptions"],
            invoices=result.invoices,
            receipts=result.receipts,
            allocations=result.allocations,
            decisions=frames["decisions"],
            period=config.period,
            actions=config.exceptions.action,
            credit_notes=result.credit_notes,
        )
        return Exceptions(found, carried, decided, history, payments)

    return _cached(state_dir, "exceptions", compute)


def review_stage(config: Config, state_dir=None) -> Review:
    state_dir = {} if state_dir is None else state_dir

    def compute() -> Review:
        from arlib import aging, journal, kpis, provision

        period = load_stage(config, state_dir)
        result = match_stage(config, state_dir)
        frames = period.frames
        raised = exceptions_stage(config, state_dir)
        carried, found, history = raised.carried, raised.found, raised.history
        credit_notes = credit_notes_at_close(result.credit_notes, carried)
        aged = aging.age(
            result.invoices,
            result.receipts,
            config.as_of,
            config.aging,
            fx_rates=frames["fx_rates"],
            base_currency=config.base_currency,
            credit_notes=credit_notes.filter(pl.col("status") == "unapplied"),
        )
        tiers = aging.overdue_tiers(aged.detail, frames["customers"], config.tiers, history=history)
        opening_ar = _opening_ar_base(result.invoices, frames["fx_rates"], config)
        measured = kpis.compute_kpis(
            result.invoices,
            result.allocations,
            result.receipts,
            aged.detail,
            opening_ar=opening_ar,
            period_start=config.period_start,
            period_end=config.period_end,
            base_currency=config.base_currency,
            fx_rates=frames["fx_rates"],
            config=config.kpis,
            history=history,
            current_history=raised.payments,
        )
        provided = provision.expected_credit_loss(
            aged.detail, config.provision, period.opening_provision
        )
        proposed = journal.propose_adjustments(
            result.allocations,
            carried.filter(pl.col("key").is_in(found["key"].implode())),  # raised by this close
            period=config.period,
            as_of=config.as_of,
            base_currency=config.base_currency,
            fx_rates=frames["fx_rates"],
            config=config.adjustments,
            provision=provided,
        )
        return Review(
            carried,
            aged,
            tiers,
            measured,
            provided,
            proposed,
            history,
            raised.findings,
            credit_notes,
        )

    return _cached(state_dir, "review", compute)


def credit_notes_at_close(credit_notes: pl.DataFrame, exceptions: pl.DataFrame) -> pl.DataFrame:
    """The matcher's credit notes with ``status``: ``applied`` (netted in full),
    ``unapplied`` (some left: listed, taken off net AR, carried) or ``taken_out``: what was
    left, a ``resolve`` decision on its ``unapplied_credit_note`` exception recorded as
    settled outside matching (refunded, reversed), so it leaves AR as a ``not_ar`` receipt
    does."""
    if "unapplied" not in credit_notes.columns:
        return credit_notes.with_columns(pl.lit(None, pl.String).alias("status"))
    decided = exceptions.filter(
        (pl.col("type") == "unapplied_credit_note")
        & (pl.col("status") == "resolved")
        & pl.col("resolution").str.starts_with(carry.DECIDED)
    )["receipt_id"]
    return credit_notes.with_columns(
        pl.when(pl.col("unapplied") == 0)
        .then(pl.lit("applied"))
        .when(pl.col("credit_id").is_in(decided.implode()))
        .then(pl.lit("taken_out"))
        .otherwise(pl.lit("unapplied"))
        .alias("status")
    )


def _opening_ar_base(invoices: pl.DataFrame, fx_rates: pl.DataFrame, config: Config) -> Decimal:
    """Opening AR in base currency: what the carried-forward invoices owed before this
    period's matching, at the rates of the previous period end (the previous close's as-of).
    """
    from arlib.aging import to_base

    opening = invoices.filter(pl.col("origin") == "opening")
    if opening.height == 0:
        return Decimal("0.00")
    converted = to_base(
        opening,
        "open_at_start",
        base_currency=config.base_currency,
        fx_rates=fx_rates,
        as_of=config.period_start - dt.timedelta(days=1),
    )
    return round_money(converted["amount_base"].sum() or 0)


def _with_previous_history(config: Config, history: pl.DataFrame) -> pl.DataFrame:
    """Payment history of earlier closes (beside the opening open items), plus this period."""
    opening = config.inputs.get("opening")
    if opening is None:
        return history
    previous = Path(opening.path).with_name("payment_history.parquet")
    if not previous.is_file():
        return history
    earlier = pl.read_parquet(previous)
    return pl.concat([earlier, history], how="diagonal_relaxed").unique(maintain_order=True)


@dataclasses.dataclass(frozen=True)
class CloseResult:
    """Everything a close produces, before rendering."""

    config: Config
    period: Period
    match: MatchResult
    review: Review
    rollforward: pl.DataFrame
    cash_bridge: pl.DataFrame
    credit_note_bridge: pl.DataFrame
    tie_out: dict[str, Any]
    open_items: pl.DataFrame
    letters: pl.DataFrame  # the collection letters this close writes, by customer
    outbox: pl.DataFrame  # what the outbox holds, by customer and channel (arlib.outbox)
    learned_aliases: pl.DataFrame  # payer names people matched, for review (arlib.learning)
    followup: Any  # replies, disputes, promises and collection tasks (arlib.followup)

    @property
    def findings(self) -> pl.DataFrame:
        """Every finding of the close, for findings.csv and workpaper AR-10: the inputs'
        (load and validation), matching's (a budget hit, a decision that matching itself
        refused) and the review's (a decision on exceptions that found none), so none is
        seen only by whoever ran the notebook."""
        return fnd.concat(
            self.period.findings,
            self.match.findings,
            self.review.findings,
            self.followup.findings,
        )

    def row_counts(self) -> dict[str, int]:
        return {
            "invoices": self.match.invoices.height,
            "receipts": self.match.receipts.height,
            "allocations": self.match.allocations.height,
            "suggestions": self.match.suggestions.height,
            "exceptions": self.review.exceptions.height,
            "open_items": self.open_items.height,
        }

    def control_totals(self) -> dict[str, Any]:
        provided = self.review.provision
        return {
            "rollforward": self.rollforward.to_dicts(),
            "cash_bridge": self.cash_bridge.to_dicts(),
            "credit_note_bridge": self.credit_note_bridge.to_dicts(),
            "tie_out": self.tie_out,
            "provision": {
                "opening": provided.opening_provision,
                "opening_source": provided.opening_source,
                "charge": provided.movement,
                "closing": provided.total_provision,
            },
            "inputs": {p["input"]: p.get("control_totals") for p in self.period.provenance},
        }


# The allocations behind each of the roll-forward's movements, by kind: cash, credit notes,
# and the write-offs (bank charges, discounts, FX differences, rounding) as one line. One
# definition for rollforward() and the Σ rows of workpaper AR-2 that the Lead cites.
MOVEMENTS: dict[str, pl.Expr] = {
    "cash_applied": pl.col("kind") == "cash",
    "credit_notes_applied": pl.col("kind") == "credit_note",
    "adjustments": ~pl.col("kind").is_in(["cash", "credit_note"]),
}


def _total(frame: pl.DataFrame, column: str, where: pl.Expr) -> Decimal:
    """Exact sum of ``column`` over the rows where ``where`` holds (0.00 for none)."""
    value = frame.filter(where)[column].sum()
    return Decimal("0.00") if value is None else Decimal(str(value))


def rollforward(result: MatchResult) -> pl.DataFrame:
    """Per currency: opening AR + invoiced − cash − credit notes − write-offs = closing AR.

    ``closing_listed`` is the sum of the open balances actually left on invoices; the
    roll-forward ties when it equals ``closing_computed`` (``difference`` = 0).
    """
    invoices = result.invoices
    opening = invoices.filter(pl.col("origin") == "opening")
    current = invoices.filter(pl.col("origin") != "opening")
    alloc = result.allocations
    currencies = sorted(set(invoices["currency"].drop_nulls().to_list()))
    rows = []

    def total(frame: pl.DataFrame, column: str, currency: str, extra=None) -> Decimal:
        mine = pl.col("currency") == currency
        return _total(frame, column, mine if extra is None else mine & extra)

    for currency in currencies:
        # what the carried-forward invoices owed before this period's matching
        opening_ar = total(opening, "open_at_start", currency)
        invoiced = total(current, "amount", currency)
        cash, credits, write_offs = (
            total(alloc, "applied_amount", currency, MOVEMENTS[key])
            for key in ("cash_applied", "credit_notes_applied", "adjustments")
        )
        computed = opening_ar + invoiced - cash - credits - write_offs
        listed = total(invoices, "open_amount", currency)
        rows.append(
            {
                "currency": currency,
                "opening_ar": opening_ar,
                "invoiced": invoiced,
                "cash_applied": cash,
                "credit_notes_applied": credits,
                "adjustments": write_offs,
                "closing_computed": computed,
                "closing_listed": listed,
                "difference": listed - computed,
            }
        )
    schema = {k: MONEY for k in ("opening_ar", "invoiced", "cash_applied", "credit_notes_applied")}
    schema |= {
        k: MONEY for k in ("adjustments", "closing_computed", "closing_listed", "difference")
    }
    return pl.DataFrame(rows, schema={"currency": pl.String, **schema})


# The cash bridge's lines (key, label), in order, for every currency.
CASH_BRIDGE_LINES = (
    ("received", "Receipts on this period's bank statements"),
    ("carried_in", "+ Unapplied cash carried in from the previous close"),
    ("available", "= Cash to apply"),
    ("left_partial", "− Left unapplied: rest of partly applied receipts"),
    ("left_suggested", "− Left unapplied: receipts with suggestions for review"),
    ("left_unapplied", "− Left unapplied: receipts matching nothing"),
    ("left_dispute", "− Left unapplied: receipts disputed (decisions)"),
    ("left_not_ar", "− Left unapplied: receipts that are not AR (decisions)"),
    ("applied_from", "= Cash applied from receipts in this currency"),
    ("to_other", "− Applied to invoices in other currencies (as received)"),
    ("from_other", "+ Applied to these invoices from receipts in other currencies"),
    ("applied_to", "= Cash applied to invoices in this currency"),
    ("rollforward", "Cash applied in the roll-forward (AR-1)"),
    ("difference", "Difference (must be 0)"),
)
# which receipts' rest each "left unapplied" line holds (matching's status)
_LEFT_BY_STATUS = {
    "left_partial": "partial",
    "left_suggested": "suggested",
    "left_unapplied": "unapplied",
    "left_dispute": "dispute",
    "left_not_ar": "not_ar",
}


def cash_bridge(result: MatchResult) -> pl.DataFrame:
    """From the bank statements to the roll-forward's cash line, per currency, to the cent.

    Why: the bank file total, the cash applied, what is left unapplied, the cash carried
    in and the payments applied across currencies are otherwise unrelated figures; the
    bridge shows that each received unit of cash is either applied to an invoice or left
    unapplied, and that nothing else moves the roll-forward's cash line:

        receipts this period + unapplied cash carried in − left unapplied at close
        = cash applied from this currency's receipts
        − applied to invoices in other currencies (in this currency, as received)
        + applied to this currency's invoices from other currencies' receipts (in this
          currency: ``applied_amount`` is in the invoice's currency)
        = cash applied to this currency's invoices, against the roll-forward's cash line:
          the difference must be 0.

    The receipt side comes from the receipts (amount, origin, unapplied, status), the
    cross-currency lines from the cash allocations, the last line from :func:`rollforward`,
    so a cash allocation the receipts do not account for shows as a difference.
    Returns currency, line, amount (:data:`CASH_BRIDGE_LINES` per currency).
    """
    receipts = result.receipts
    cash = result.allocations.filter(pl.col("kind") == "cash")
    crossing = cash.filter(pl.col("currency") != pl.col("receipt_currency"))
    rolled = dict(rollforward(result).select("currency", "cash_applied").iter_rows())
    currencies = sorted(set(receipts["currency"].drop_nulls().to_list()) | set(rolled), key=str)
    zero = Decimal("0.00")
    rows = []
    for currency in currencies:
        mine = pl.col("currency") == currency
        line = {
            "received": _total(receipts, "amount", mine & (pl.col("origin") != "opening")),
            "carried_in": _total(receipts, "amount", mine & (pl.col("origin") == "opening")),
        }
        line["available"] = line["received"] + line["carried_in"]
        for key, status in _LEFT_BY_STATUS.items():
            line[key] = _total(receipts, "unapplied", mine & (pl.col("status") == status))
        line["applied_from"] = line["available"] - sum((line[k] for k in _LEFT_BY_STATUS), zero)
        line["to_other"] = _total(
            crossing, "receipt_amount", pl.col("receipt_currency") == currency
        )
        line["from_other"] = _total(crossing, "applied_amount", mine)
        line["applied_to"] = line["applied_from"] - line["to_other"] + line["from_other"]
        line["rollforward"] = rolled.get(currency, zero)
        line["difference"] = line["rollforward"] - line["applied_to"]
        rows += [
            {"currency": currency, "line": label, "amount": line[key]}
            for key, label in CASH_BRIDGE_LINES
        ]
    return pl.DataFrame(rows, schema={"currency": pl.String, "line": pl.String, "amount": MONEY})


# The credit-note bridge's lines (key, label), in order, for every currency.
CREDIT_NOTE_BRIDGE_LINES = (
    ("issued", "Credit notes issued this period (inputs)"),
    ("carried_in", "+ Unapplied credit notes carried in from the previous close"),
    ("left_unapplied", "− Left unapplied at close (listed, carried forward)"),
    ("taken_out", "− Taken out of AR by resolve decisions (refunded, reversed)"),
    ("applied", "= Credit notes netted against invoices"),
    ("rollforward", "Credit notes applied in the roll-forward (AR-1)"),
    ("difference", "Difference (must be 0)"),
)


def credit_note_bridge(
    result: MatchResult, base_currency: str, credit_notes: pl.DataFrame
) -> pl.DataFrame:
    """From the credit-note input to the roll-forward's credit-note line, per currency.

    Why: the input's control total (AR-1.1) counts every credit note issued, the
    roll-forward only what was netted against invoices; the bridge shows the rest is left
    unapplied (listed, raised as an exception and carried forward) or taken out of AR by a
    decision, to the cent: issued + carried in − left unapplied − taken out = netted,
    against the roll-forward's line (``credit_notes``: matching's, with their status at
    close, :func:`credit_notes_at_close`). A
    credit note naming no currency counts in the currency of the invoices it netted, else
    in the base currency (as the aging converts it). Returns currency, line, amount.
    """
    zero = Decimal("0.00")
    notes = credit_notes
    alloc = result.allocations.filter(pl.col("kind") == "credit_note")
    rolled = dict(rollforward(result).select("currency", "credit_notes_applied").iter_rows())
    if notes.height == 0 and not any(rolled.values()):
        return pl.DataFrame(schema={"currency": pl.String, "line": pl.String, "amount": MONEY})
    netted_in = alloc.group_by("receipt_id").agg(pl.col("currency").first().alias("_netted_ccy"))
    notes = notes.join(
        netted_in, left_on="credit_id", right_on="receipt_id", how="left"
    ).with_columns(
        pl.coalesce("currency", "_netted_ccy", pl.lit(base_currency)).alias("_ccy"),
        (pl.col("origin") == "opening").fill_null(False).alias("_carried"),
    )
    currencies = sorted(set(notes["_ccy"].to_list()) | {c for c, v in rolled.items() if v}, key=str)

    rows = []
    for currency in currencies:
        mine = pl.col("_ccy") == currency
        out = pl.col("status") == "taken_out"
        line = {
            "issued": _total(notes, "amount", mine & ~pl.col("_carried")),
            "carried_in": _total(notes, "amount", mine & pl.col("_carried")),
            "left_unapplied": _total(notes, "unapplied", mine & ~out),
            "taken_out": _total(notes, "unapplied", mine & out),
        }
        line["applied"] = (
            line["issued"] + line["carried_in"] - line["left_unapplied"] - line["taken_out"]
        )
        line["rollforward"] = rolled.get(currency, zero)
        line["difference"] = line["rollforward"] - line["applied"]
        rows += [
            {"currency": currency, "line": label, "amount": line[key]}
            for key, label in CREDIT_NOTE_BRIDGE_LINES
        ]
    return pl.DataFrame(rows, schema={"currency": pl.String, "line": pl.String, "amount": MONEY})


# The one set of tie-out statuses; every place that shows the tie-out uses these words.
TIE_OUT_STATUSES = ("ties", "ties after adjustments", "difference", "not performed")
# The tie-out's lines, in the order the Lead (AR-1) and notebook 04 show them.
TIE_OUT_LINES = (
    ("closing_ar_base", "Open invoices in base currency (as-of rates)"),
    ("unapplied_cash_base", "− Unapplied cash"),
    ("unapplied_credit_notes_base", "− Unapplied credit notes"),
    ("credit_balances_base", "+ Credit balances (negative open items)"),
    ("net_ar_base", "= Net AR per sub-ledger"),
    ("gl_control_balance", "GL control balance (params)"),
    ("difference", "Difference: GL − net AR per sub-ledger"),
    ("explained_by_proposed_adjustments", "− Write-offs made by matching, proposed in AR-7"),
    ("unexplained", "= Unexplained difference (must be 0)"),
)


def tie_out(config: Config, review: Review) -> dict[str, Any]:
    """Net AR per the sub-ledger, in base currency, against the GL control balance.

    The GL's AR account is credited with all cash received, matched or not, and has not yet
    seen the write-offs matching made in the sub-ledger (bank charges, discounts, FX and
    rounding on tolerance allocations; the proposal books them, ``in_subledger``). So the
    comparison is: open invoices − unapplied cash − unapplied credit notes (credited to the
    AR account when issued) + credit balances = net AR; GL − net AR =
    difference; the part of it those write-offs explain; and what is left unexplained.
    Proposed write-offs of residuals still open in both ledgers explain nothing.
    ``status`` is one of :data:`TIE_OUT_STATUSES`.
    """
    zero = Decimal("0.00")
    aged = review.aging
    gross = Decimal(str(aged.total_outstanding))
    unapplied = aged.unapplied["unapplied_base"].sum() if aged.unapplied.height else zero
    credits = _sum_base(aged.credits)
    left_credit = _sum_base(aged.unapplied_credit_notes)
    net = gross - Decimal(str(unapplied)) - left_credit + credits
    journal = review.journal
    ar_account = config.adjustments.ar_account
    to_ar = (
        journal.filter((pl.col("account") == ar_account) & pl.col("in_subledger"))
        if journal.height
        else journal
    )
    explained = (
        Decimal(str(to_ar["credit"].sum())) - Decimal(str(to_ar["debit"].sum()))
        if to_ar.height
        else zero
    )
    gl = config.gl_control_balance
    difference = None if gl is None else gl - net
    unexplained = None if difference is None else difference - explained
    if gl is None:
        status = "not performed"
    elif difference == 0:
        status = "ties"
    elif unexplained == 0:
        status = "ties after adjustments"
    else:
        status = "difference"
    return {
        "base_currency": config.base_currency,
        "closing_ar_base": gross,
        "unapplied_cash_base": Decimal(str(unapplied)),
        "unapplied_credit_notes_base": left_credit,
        "credit_balances_base": credits,
        "net_ar_base": net,
        "gl_control_balance": gl,
        "difference": difference,
        "explained_by_proposed_adjustments": explained,
        "unexplained": unexplained,
        "status": status,
    }


def tie_out_frame(tie: dict[str, Any]) -> pl.DataFrame:
    """The tie-out as lines (currency, line, amount), closed by its status: the same rows
    in the Lead (AR-1) and in notebook 04."""
    base = tie["base_currency"]
    rows = [{"currency": base, "line": label, "amount": tie[key]} for key, label in TIE_OUT_LINES]
    rows.append({"currency": base, "line": f"GL tie-out: {tie['status']}", "amount": None})
    return pl.DataFrame(rows, schema={"currency": pl.String, "line": pl.String, "amount": MONEY})


def _sum_base(frame: pl.DataFrame) -> Decimal:
    """Sum of the first base-currency amount column of an aging side table (0 if empty)."""
    columns = [c for c in frame.columns if c.endswith("_base")]
    if frame.height == 0 or not columns:
        return Decimal("0.00")
    return Decimal(str(frame[columns[0]].sum()))


def close_stage(config: Config, state_dir=None) -> CloseResult:
    state_dir = {} if state_dir is None else state_dir

    def compute() -> CloseResult:
        from arlib import dunning
        from arlib.followup import follow_up
        from arlib.outbox import plan_messages

        period = load_stage(config, state_dir)
        result = match_stage(config, state_dir)
        review = review_stage(config, state_dir)
        letters = dunning.plan_letters(config, review, result, period.frames)
        messages = plan_messages(config, review, result, letters, period.frames["customers"])
        notices = dunning.notice_history(
            period.frames["notices"],
            dunning.prepared_notices(messages, config.as_of, config.period),
            result.invoices,
        )
        decisions = period.frames["decisions"]
        items = carry.build_open_items(
            result.invoices,
            result.receipts,
            review.exceptions,
            config.period,
            notices=notices,
            rejections=learning.rejections_to_carry(
                decisions, result.receipts, result.invoices, config.period
            ),
            credit_notes=review.credit_notes.filter(pl.col("status") == "unapplied"),
        )
        return CloseResult(
            config=config,
            period=period,
            match=result,
            review=review,
            rollforward=rollforward(result),
            cash_bridge=cash_bridge(result),
            credit_note_bridge=credit_note_bridge(
                result, config.base_currency, review.credit_notes
            ),
            tie_out=tie_out(config, review),
            open_items=items,
            letters=letters,
            outbox=messages,
            learned_aliases=learning.learned_aliases(
                result.allocations,
                result.receipts,
                period.frames["customers"],
                decisions,
                config.period,
            ),
            followup=follow_up(config, period, result, review),
        )

    return _cached(state_dir, "close", compute)


def _csv(frame: pl.DataFrame, path: Path) -> Path:
    """Every CSV output goes through the one formula-safe writer (see README, outputs)."""
    from arlib.safe_output import write_csv

    return write_csv(frame, path)


MATCH_COLUMNS = [
    "receipt_id",
    "invoice_id",
    "applied_amount",
    "currency",
    "rule",
    "confidence",
    "reason",
]


def write_reconcile_outputs(
    result: MatchResult, out: Path, findings: pl.DataFrame | None = None
) -> list[Path]:
    """matches.csv, suggestions.csv (with the receipt's amount beside the invoice's) and
    the residuals (unapplied receipts, open invoices), each in matching's order."""
    from arlib.views import suggestions_with_amounts

    out.mkdir(parents=True, exist_ok=True)
    extra = [c for c in result.allocations.columns if c not in MATCH_COLUMNS]
    written = [
        _csv(result.allocations.select(MATCH_COLUMNS + extra), out / "matches.csv"),
        _csv(suggestions_with_amounts(result), out / "suggestions.csv"),
        _csv(result.receipts.filter(pl.col("unapplied") != 0), out / "unapplied_receipts.csv"),
        _csv(result.invoices.filter(pl.col("open_amount") != 0), out / "open_invoices.csv"),
    ]
    if findings is not None:
        written.append(_csv(findings, out / "findings.csv"))
    return written


def write_close_outputs(result: CloseResult, out: Path) -> list[Path]:
    """Every machine-readable output of a close plus the Excel workpapers."""
    from arlib import followup
    from arlib.export import write_workpapers
    from arlib.outbox import write_outbox
    from arlib.statements import write_statements

    written = write_reconcile_outputs(result.match, out, result.findings)
    review = result.review
    written.append(_csv(review.exceptions, out / "exceptions.csv"))
    written.append(_csv(review.aging.detail, out / "aging.csv"))
    written.append(_csv(review.aging.by_customer, out / "aging_by_customer.csv"))
    written.append(_csv(review.aging.unapplied_credit_notes, out / "unapplied_credit_notes.csv"))
    written.append(_csv(review.tiers, out / "tiers.csv"))
    written.append(_csv(review.journal, out / "proposed_adjustments.csv"))
    written.append(_csv(result.rollforward, out / "rollforward.csv"))
    written.append(_csv(result.learned_aliases, out / learning.LEARNED_ALIASES))
    items = out / "open_items.parquet"
    carry.write_open_items(
        result.open_items,
        items,
        period=result.config.period,
        entity=result.config.entity,
        provision=review.provision.total_provision,
        base_currency=result.config.base_currency,
    )
    written.append(items)
    written.extend(followup.write_registers(result.followup, items))
    written.extend(followup.write_tables(result.followup, out))
    history = out / "payment_history.parquet"
    review.history.write_parquet(
        history, statistics=False, metadata={carry.KIND_KEY: "payment history"}
    )
    written.append(history)
    written.append(write_workpapers(result, out / "workpapers.xlsx"))
    written.extend(write_statements(result, out))
    written.extend(write_outbox(result, out))
    return written
