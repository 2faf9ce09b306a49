"""People's decisions on receipts, applied before any automatic rule.

Decisions (receipt_id, action, invoice_id, amount, who, when, why): ``match`` allocates,
``reject`` forbids the pair (or, without invoice_id, any automatic match of the receipt),
``dispute`` / ``not_ar`` take the receipt out of matching with that status. A receipt with
any decision other than a pair ``reject`` is left to people: no rule after this one
touches it. A decision that cannot be applied (unknown receipt or invoice, no receipt,
amount <= 0 or beyond what is left of the receipt or open on the invoice, no fx rate
across currencies) is an error finding naming its row; :func:`check_decisions` gives the
same verdicts at validation.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from arlib.findings import FINDING_SCHEMA
from arlib.match.cascade import Context, Proposal, Rule, proposal_rows, walk
from arlib.match.config import MatchConfig
from arlib.match.frames import col_or_null, ensure, short
from arlib.match.ledger import Ledger
from arlib.match.prepare import fx_table, prep_invoices, rate_py
from arlib.match.rules import credit_note
from arlib.money import cents_expr, fmt_cents, to_cents
from arlib.schema import DECISION_ACTIONS, MONEY


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """The decisions in file order; every one that cannot be applied is an error finding
    naming its row (the preparer asked for something that did not happen)."""
    decisions, ledger, cfg = ctx.decisions, ctx.ledger, ctx.cfg
    fx, base = ctx.fx, ctx.base_currency
    status: dict[int, str] = {}
    findings: list[dict] = []
    if decisions is None or decisions.height == 0:
        return Proposal()
    lock: list[int] = []
    reject: set[tuple[int, int]] = set()
    rec_rem, inv_open = ledger.rec_rem.copy(), ledger.inv_open.copy()
    d = ensure(
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
            ledger.rec.get_column("receipt_id").to_list(),
            ledger.rec.get_column("rec_idx").to_list(),
            strict=True,
        )
    )
    inv_ix = dict(
        zip(
            ledger.inv.get_column("invoice_id").to_list(),
            ledger.inv.get_column("inv_idx").to_list(),
            strict=True,
        )
    )
    rec_ccy = ledger.rec.get_column("currency").to_list()
    rec_date = ledger.rec.get_column("value_date").to_list()
    inv_ccy = ledger.inv.get_column("currency").to_list()
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
                lock.append(ri)
            else:
                reject.add((ri, inv_ix[iid]))
            continue
        if action in ("dispute", "not_ar"):
            lock.append(ri)
            status[ri] = "dispute" if action == "dispute" else "not_ar"
            continue
        lock.append(ri)
        if iid is None:
            problem(r, "invoice_id", None, "without_invoice", "a match decision names no invoice")
            continue
        ii = inv_ix[iid]
        rem, open_ = int(rec_rem[ri]), int(inv_open[ii])
        same = rec_ccy[ri] == inv_ccy[ii]
        amt = r.get("amount")
        if same:
            want = min(rem, open_) if amt is None else to_cents(amt)
            if want <= 0 or want > rem or want > open_:
                problem(
                    r,
                    "amount",
                    amt,
                    "amount",
                    f"amount must be >0 and within what is left of receipt {rid} "
                    f"({fmt_cents(rem)}) and open on invoice {iid} ({fmt_cents(open_)})",
                )
                continue
            recv, app = want, want
        else:
            recv = rem if amt is None else to_cents(amt)
            rate_r = rate_py(fx, rec_ccy[ri], rec_date[ri], base, cfg)
            rate_i = rate_py(fx, inv_ccy[ii], rec_date[ri], base, cfg)
            if recv <= 0 or recv > rem:
                problem(
                    r,
                    "amount",
                    amt,
                    "amount",
                    f"amount must be >0 and within what is left of receipt {rid} "
                    f"({fmt_cents(rem)} {rec_ccy[ri]})",
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
                    f"rate at most {cfg.fx_max_rate_age_days} days before {rec_date[ri]}",
                )
                continue
            app = min(open_, (recv * rate_r * 2 + rate_i) // (2 * rate_i))
        inv_open[ii] -= app
        rec_rem[ri] -= recv
        rows.append(
            (
                len(rows),
                0,
                rec_date[ri],
                rid,
                ri,
                ii,
                "cash",
                app,
                recv,
                "manual",
                "manual.match",
                f"manual decision by {who} on {when}: {short(why, 80) or 'no reason given'}",
                "",
            )
        )
    return Proposal(
        rows=proposal_rows(rows),
        lock=tuple(lock),
        reject=frozenset(reject),
        statuses=status,
        findings=tuple(findings),
    )


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
    _, inv = prep_invoices(inv, cfg)
    rec = rec.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("rec_idx"),
        pl.col("receipt_id").cast(pl.String),
        pl.col("value_date").cast(pl.Date),
        pl.col("currency").cast(pl.String),
        cents_expr(pl.col("amount")).alias("amt_c"),
        col_or_null(rec, "origin", pl.String).alias("origin"),
    )
    readable = pl.col("amount").is_not_null() & pl.col("credit_id").is_not_null()
    ctx = Context(
        cfg=cfg,
        ledger=Ledger(inv, rec),
        refs=pl.DataFrame(),
        customers=pl.DataFrame(),
        fx=fx_table(fx_rates),
        base_currency=base_currency,
        credit_notes=None
        if credit_notes is None
        else credit_note.prepare(credit_notes.filter(readable)),
        decisions=decisions,
    )
    found = walk(ctx, (credit_note.RULE, RULE)).findings
    return pl.DataFrame(found, schema=FINDING_SCHEMA)


RULE = Rule(
    id="manual",
    switch="manual",
    description="people's decisions: match (applied as decided), reject (the pair, or any "
    "automatic match of the receipt), dispute / not_ar (out of matching with that status)",
    receipts=None,
    propose=propose,
    ties="in_order",
    confidence={"manual.match": 1.0},
    settings=("fx_max_rate_age_days",),
    payer_factor=False,
    locked_ok=True,
)
