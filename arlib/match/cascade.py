"""The rule shape and the cascade that walks the rules in their declared order.

A rule is data: a frozen :class:`Rule` naming its id, the ``matching.rules`` switch that
turns it on, a one-line description, which receipts it looks at, the settings it reads, a
pure ``propose`` function, how ties among its candidates are resolved and the confidence
of each sub-rule. ``propose(ctx, receipts)`` reads the ledger and returns a
:class:`Proposal`; it never changes anything. The cascade selects the receipts, resolves
ties, sets the confidence (times the payer-match score when the payer was matched by a
fuzzy name) and applies the proposal through :meth:`Ledger.apply`, which checks it.

Adding a rule is one module in ``arlib/match/rules/`` and one line in ``CASCADE``
(``arlib/match/rules/__init__.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from arlib.match.frames import ALLOCATION_ROWS, SUGGESTION_ROWS
from arlib.match.ledger import Ledger, LedgerError

if TYPE_CHECKING:
    from arlib.match.config import MatchConfig

#: a rule's proposed allocation rows: ALLOCATION_ROWS without the confidence (the cascade
#: sets it from the declaration), plus ``proposal`` (rows that stand or fall together: a
#: cash row and its write-off, the invoices of one combined payment), ``rank`` (lower is
#: stronger evidence) and ``value_date`` (earlier receipts win an invoice on equal rank)
PROPOSAL_ROWS = {
    "proposal": pl.Int64,
    "rank": pl.Int64,
    "value_date": pl.Date,
    **{k: v for k, v in ALLOCATION_ROWS.items() if k != "confidence"},
}


@dataclass(frozen=True)
class Receipts:
    """Which receipts a rule looks at; the cascade selects them, so no rule repeats the
    filters. Always: receipts no rule has touched, positive, not under people's control;
    unless ``held``, not held for people (``unique_reference_only``)."""

    reserved: bool = False  # also receipts reserved for reference matching (carried-in cash)
    payer: bool = False  # only receipts whose payer resolved to a customer
    #: only receipts whose payer is one of several candidate customers (not resolved)
    candidates: bool = False
    references: Literal["any", "with", "without"] = "any"  # invoices named in memo / bank_ref
    policy: Literal["any", "open_item", "balance_forward"] = "any"  # the payer's policy
    foreign: bool = False  # only receipts in a currency other than the base currency
    instalment: bool = False  # only memos announcing an instalment (第2期, 分期, ...)
    held: bool = False  # also receipts held for people (a reference naming several invoices)

    def describe(self) -> str:
        parts = ["untouched receipts" + ("" if self.reserved else " not reserved")]
        if self.held:
            parts.append("held ones too")
        if self.payer:
            parts.append("payer known")
        if self.candidates:
            parts.append("payer one of candidate customers")
        if self.references != "any":
            parts.append(f"{self.references} a reference")
        if self.policy != "any":
            parts.append(f"{self.policy.replace('_', '-')} customers")
        if self.foreign:
            parts.append("in a foreign currency")
        if self.instalment:
            parts.append("memo announces an instalment")
        return ", ".join(parts)


@dataclass(frozen=True)
class Proposal:
    """What a rule proposes; the cascade applies each part."""

    rows: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROPOSAL_ROWS))
    #: receipts to reserve for reference / manual matching (suspected duplicates)
    reserve: tuple[int, ...] = ()
    #: receipts taken under people's control, and (receipt, invoice) pairs they rejected
    lock: tuple[int, ...] = ()
    reject: frozenset[tuple[int, int]] = frozenset()
    #: receipt statuses set by a decision (dispute, not_ar)
    statuses: Mapping[int, str] = field(default_factory=dict)
    suggestions: pl.DataFrame | None = None
    findings: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One rule of the cascade (see the module docstring)."""

    id: str
    switch: str | None  # the entry of matching.rules that turns it on; None: always on
    description: str
    receipts: Receipts | None  # None: the rule acts on other documents (credit notes)
    propose: Callable[[Context, pl.DataFrame], Proposal]
    #: "unique": a receipt is applied only when one candidate has its best rank, and an
    #: invoice goes to the candidate with the best rank, then the earliest value date;
    #: "in_order": the rule resolved its candidates itself (receipts in value-date order)
    ties: Literal["unique", "in_order"]
    #: sub-rule id (the rule_id column) -> confidence before the payer factor
    confidence: Mapping[str, float]
    settings: tuple[str, ...] = ()  # the matching settings it reads
    rule: str | None = None  # the rule column (compatibility); default: the switch
    payer_factor: bool = True  # confidence times the payer's fuzzy-match score
    locked_ok: bool = False  # may apply receipts under people's control (decisions)

    @property
    def rule_name(self) -> str:
        return self.rule or self.switch or self.id


@dataclass
class Context:
    """What every rule may read: settings, the ledger and the prepared inputs."""

    cfg: MatchConfig
    ledger: Ledger
    refs: pl.DataFrame  # (rec_idx, inv_idx, src, text): invoices each receipt names
    customers: pl.DataFrame
    fx: pl.DataFrame
    base_currency: str
    credit_notes: pl.DataFrame | None = None
    decisions: pl.DataFrame | None = None
    _masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def receipt_mask(self, name: str) -> np.ndarray:
        """A condition of :class:`Receipts` on every receipt, as a boolean array (null is
        False); computed once, since receipts, payers and references do not change while
        the cascade runs."""
        if name in self._masks:
            return self._masks[name]
        rec = self.ledger.rec
        if name.startswith("references_"):  # the receipt names some invoice
            named = np.zeros(rec.height, dtype=bool)
            named[self.refs.get_column("rec_idx").to_numpy()] = True
            self._masks[name] = named if name == "references_with" else ~named
        else:
            condition = {
                "payer": pl.col("c_pay").is_not_null(),
                "candidates": pl.col("c_pay").is_null() & (pl.col("candidates").list.len() > 0),
                "policy_balance_forward": pl.col("policy") == "balance_forward",
                "policy_open_item": pl.col("policy").fill_null("") != "balance_forward",
                "foreign": pl.col("currency") != self.base_currency,
                "instalment": pl.col("inst"),
            }[name]
            self._masks[name] = rec.select(condition.fill_null(False)).to_series().to_numpy()
        return self._masks[name]


@dataclass
class Outcome:
    """What walking the cascade produced beside the ledger's allocations."""

    statuses: dict[int, str] = field(default_factory=dict)
    suggestions: list[pl.DataFrame] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per rule id (a measurement)


def select_receipts(ctx: Context, spec: Receipts) -> pl.DataFrame:
    """The receipts ``spec`` names, from the ledger's untouched ones: one filter by one mask
    (the static conditions are masks computed once per run, :meth:`Context.receipt_mask`)."""
    mask = ctx.ledger.fresh_mask(reserved=spec.reserved, held=spec.held)
    wanted = [
        ("payer", spec.payer),
        ("candidates", spec.candidates),
        (f"references_{spec.references}", spec.references != "any"),
        (f"policy_{spec.policy}", spec.policy != "any"),
        ("foreign", spec.foreign),
        ("instalment", spec.instalment),
    ]
    for name, on in wanted:
        if on:
            mask &= ctx.receipt_mask(name)
    return ctx.ledger.rec.filter(pl.Series(mask))


def resolve_unique(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows of the proposals that win under the ``unique`` policy: per receipt, the one
    proposal of its best rank (two equally strong candidates: people decide); per invoice,
    the proposal with the best rank, then the earliest (value_date, receipt_id)."""
    cols = ["proposal", "rec_idx", "receipt_id", "inv_idx", "rank", "value_date"]
    # each proposal's first row, with its best rank (most rules: one row per proposal; a
    # write-off is a second row, few): the other rows grouped alone
    first = rows.get_column("proposal").is_first_distinct()
    heads = rows.select(cols)
    if not first.all():
        more = rows.filter(~first).group_by("proposal").agg(pl.col("rank").min().alias("_more"))
        heads = (
            heads.filter(first)
            .join(more, on="proposal", how="left", maintain_order="left")
            .with_columns(pl.min_horizontal("rank", "_more").alias("rank"))
            .drop("_more")
        )
    # a receipt with one head keeps it (if ranked); only the others are compared
    several = _repeated(heads.get_column("rec_idx"))
    best = (
        heads.filter(several)
        .filter(pl.col("rank") == pl.col("rank").min().over("rec_idx"))
        .filter(pl.len().over("rec_idx") == 1)
    )
    heads = pl.concat([heads.filter(~several, pl.col("rank").is_not_null()), best])
    # receipts are numbered in receipt_id order (prepare.prep_receipts): rec_idx sorts as
    # receipt_id does, without comparing strings
    last = "rec_idx" if heads.get_column("rec_idx").null_count() == 0 else "receipt_id"
    # an invoice one head names goes to it; only the others are sorted
    contested = _repeated(heads.get_column("inv_idx"))
    won = (
        heads.filter(contested)
        .sort(["inv_idx", "rank", "value_date", last])
        .filter(pl.col("inv_idx").is_first_distinct())
    )
    winners = pl.concat([heads.filter(~contested), won]).get_column("proposal")
    return rows.filter(pl.col("proposal").is_in(winners.implode()))


def _repeated(s: pl.Series) -> pl.Series:
    """Whether each value of ``s`` is another row's too: counted by position for row
    positions (rec_idx, inv_idx: no null, none negative), else by hash."""
    if s.len() and not s.null_count() and s.min() >= 0 and s.max() < 4 * s.len() + 4096:
        at = s.to_numpy()
        return pl.Series(np.bincount(at)[at] > 1)
    return s.is_duplicated()


def with_confidence(ctx: Context, rule: Rule, rows: pl.DataFrame) -> pl.DataFrame:
    """ALLOCATION_ROWS with the declared confidence of each row's sub-rule, times the
    payer's fuzzy-match score where the payer was matched by a fuzzy name."""
    unknown = set(rows.get_column("rule_id").unique().to_list()) - set(rule.confidence)
    if unknown:
        raise LedgerError(f"{rule.id}: sub-rule {sorted(unknown)[0]!r} has no declared confidence")
    conf = pl.col("rule_id").replace_strict(dict(rule.confidence), return_dtype=pl.Float64)
    if rule.payer_factor:  # rec_idx is the receipt's position: a gather, not a join
        factor = ctx.ledger.payer_factor.gather(rows.get_column("rec_idx")).fill_null(1.0)
        conf = conf * factor
    return rows.with_columns(conf.alias("confidence")).select(list(ALLOCATION_ROWS))


def walk(ctx: Context, cascade: tuple[Rule, ...]) -> Outcome:
    """Run every switched-on rule of ``cascade`` in order against ``ctx.ledger``."""
    out = Outcome()
    for rule in cascade:
        if rule.switch is not None and rule.switch not in ctx.cfg.rules:
            continue
        started = time.perf_counter()
        receipts = (
            select_receipts(ctx, rule.receipts)
            if rule.receipts is not None
            else pl.DataFrame(schema=ctx.ledger.rec.schema)
        )
        proposal = rule.propose(ctx, receipts)
        if proposal.lock:
            ctx.ledger.lock(list(proposal.lock))
        if proposal.reject:
            ctx.ledger.reject(set(proposal.reject))
        rows = proposal.rows
        if rows.height:
            rows = rows.cast(PROPOSAL_ROWS)
            if rule.ties == "unique":
                rows = resolve_unique(rows)
            ctx.ledger.apply(with_confidence(ctx, rule, rows), rule.id, locked_ok=rule.locked_ok)
        if proposal.reserve:
            ctx.ledger.reserve(list(proposal.reserve))
        out.statuses.update(proposal.statuses)
        if proposal.suggestions is not None and proposal.suggestions.height:
            out.suggestions.append(proposal.suggestions.cast(SUGGESTION_ROWS))
        out.findings.extend(proposal.findings)
        out.seconds[rule.id] = round(
            out.seconds.get(rule.id, 0.0) + time.perf_counter() - started, 3
        )
    return out


def proposal_rows(rows: list[tuple]) -> pl.DataFrame:
    """PROPOSAL_ROWS from Python tuples (the in-order rules build them in a loop)."""
    return pl.DataFrame(rows, schema=PROPOSAL_ROWS, orient="row")


def numbered(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with a ``proposal`` column numbering its rows (one candidate per row)."""
    return df.with_columns(pl.Series("proposal", np.arange(df.height, dtype=np.int64)))
