"""Matching (核销): apply receipts to invoices, rule by rule, and explain every allocation.

``match(invoices, receipts, customers, credit_notes, fx_rates, config)`` returns a
:class:`MatchResult` (see docs/CONTRACTS.md). The rules are data: each is declared in its
own module of :mod:`arlib.match.rules` and walked in the order of ``CASCADE``
(``arlib rules`` prints it with each rule's description, switch and settings). Every
allocation row names its rule (``rule``, as before) and the exact sub-rule (``rule_id``,
e.g. ``exact_amount.tolerance``). Balances move only through the :class:`Ledger`, which
refuses any proposal that breaks conservation. Ties are broken by explicit sort keys
(value_date, receipt_id, invoice_date, invoice_id), never by input order, and searches are
bounded by counts, never by a clock.

With ``unique_reference_only``, a receipt one of whose references names several open
invoices is held: only the suggestions see it (people decide).

The payer of each receipt comes first (:mod:`arlib.payers`): one customer, or -- a name
several customers share, a fuzzy name, no payer name but customers named in the memo --
candidate customers, among whose open invoices a reference or a unique exact amount decides
(:mod:`arlib.match.rules.candidates`).

After the rules, a cash allocation by a non-reference rule whose receipt's memo names
existing invoices none of which it cleared is flagged ``memo_conflict`` (the payer + exact
amount won over the memo).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from arlib.match.assemble import assemble
from arlib.match.cascade import Context, Rule, walk
from arlib.match.config import ALL_RULES, MatchConfig
from arlib.match.frames import ALLOCATION_SCHEMA, SUGGESTION_SCHEMA, MatchResult
from arlib.match.ledger import Ledger, LedgerError
from arlib.match.prepare import fx_table, prep_customers, prep_invoices, prep_receipts, references
from arlib.match.rules import CASCADE, credit_note, suggestions
from arlib.match.rules.manual import check_decisions
from arlib.payers import CustomerNames, memo_payers, resolve_payers


def match(
    invoices: pl.DataFrame,
    receipts: pl.DataFrame,
    customers: pl.DataFrame,
    credit_notes: pl.DataFrame | None = None,
    fx_rates: pl.DataFrame | None = None,
    config: MatchConfig | None = None,
    base_currency: str = "CNY",
    decisions: pl.DataFrame | None = None,
    cascade: tuple[Rule, ...] = CASCADE,
) -> MatchResult:
    """Apply receipts to invoices by walking ``cascade`` (see :mod:`arlib.match.rules`)."""
    cfg = config or MatchConfig()
    t0 = time.perf_counter()
    names = CustomerNames(customers)  # built once, read by both
    # the memos are searched in a worker thread while the payer names are resolved: the two
    # read the same master data and nothing of each other (numpy and polars mostly run
    # outside the GIL, so the two cores share the work)
    with ThreadPoolExecutor(max_workers=1) as pool:
        memo_named = pool.submit(
            memo_payers, receipts, names, max_candidates=cfg.payer_max_candidates
        )
        payers = resolve_payers(
            receipts,
            names,
            auto_threshold=cfg.fuzzy_auto_threshold,
            suggest_threshold=cfg.fuzzy_suggest_threshold,
            margin=cfg.fuzzy_margin,
            max_candidates=cfg.payer_max_candidates,
        )
        named = memo_named.result()
    t1 = time.perf_counter()
    cust = prep_customers(customers)
    inv0, inv = prep_invoices(invoices, cfg)
    rec0, rec = prep_receipts(receipts, payers, cust, cfg, named)
    cn = credit_note.prepare(credit_notes)
    refs, shared = references(rec, inv, cust, cfg, inv0)
    ledger = Ledger(inv, rec)
    if cfg.unique_reference_only and shared:
        ledger.hold(shared)
    ctx = Context(
        cfg=cfg,
        ledger=ledger,
        refs=refs,
        customers=cust,
        fx=fx_table(fx_rates),
        base_currency=base_currency,
        credit_notes=cn,
        decisions=decisions,
    )
    t2 = time.perf_counter()
    outcome = walk(ctx, cascade)
    t3 = time.perf_counter()
    alloc = ctx.ledger.allocations()
    result = assemble(
        ctx.ledger,
        inv0,
        rec0,
        ctx.refs,
        payers,
        suggestions.ranked(outcome.suggestions, cfg),
        outcome,
        credit_note.summarise(cn, alloc),
    )
    seconds = {
        "payers": round(t1 - t0, 3),
        "prepare": round(t2 - t1, 3),
        **outcome.seconds,
        "assemble": round(time.perf_counter() - t3, 3),
    }
    result.stats.update({"seconds": seconds})
    return result


__all__ = [
    "ALLOCATION_SCHEMA",
    "ALL_RULES",
    "CASCADE",
    "SUGGESTION_SCHEMA",
    "LedgerError",
    "MatchConfig",
    "MatchResult",
    "Rule",
    "check_decisions",
    "match",
]
