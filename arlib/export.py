"""Arrange a close's results into workpaper sheets (AR-1, AR-2, ...) and write them.

The order and references are the auditor's index: the lead schedule first, then the
detail that supports it. Which sheets are capped (detail) and which are always complete
(summaries, exceptions, aging) is decided here, and so is what supports what: every line
of the Lead (AR-1) names the sheet and row (or total row) holding the same figure, or the
lines it is recomputed from, and its tick marks (:data:`arlib.workpapers.TICK_MARKS`) say
which of those checks it passed. The checks are made here, on the figures the sheets show,
so a ✓ is never printed beside a figure that does not agree.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import polars as pl

from arlib import views
from arlib.money import fmt_money
from arlib.pipeline import (
    CASH_BRIDGE_LINES,
    CREDIT_NOTE_BRIDGE_LINES,
    MOVEMENTS,
    TIE_OUT_LINES,
    tie_out_frame,
)
from arlib.provision import movement_lines
from arlib.schema import MONEY
from arlib.workpapers import (
    Ref,
    Sheet,
    Subtotal,
    ref_value,
    row_index,
    tick_legend,
    write_workbook,
)

ROLLFORWARD_LINES = (
    ("opening_ar", "Opening AR (previous close's open items)"),
    ("invoiced", "+ Invoiced in the period"),
    ("cash_applied", "− Cash applied"),
    ("credit_notes_applied", "− Credit notes applied"),
    ("adjustments", "− Bank charges, discounts, FX and rounding written off"),
    ("closing_computed", "= Closing AR (computed)"),
    ("closing_listed", "Closing AR (open items listed)"),
    ("difference", "Difference (must be 0)"),
)
# What the Σ rows of AR-2 add up, per roll-forward movement (pipeline.MOVEMENTS).
MOVEMENT_WORDS = {
    "cash_applied": "cash applied",
    "credit_notes_applied": "credit notes applied",
    "adjustments": "written off",
}
# The Lead's computed lines as signed lines of their own block: the auditor's
# recomputation (◊), made here independently of the pipeline's own arithmetic.
RECOMPUTED = {
    "rollforward": {
        "closing_computed": (
            ("opening_ar", 1),
            ("invoiced", 1),
            ("cash_applied", -1),
            ("credit_notes_applied", -1),
            ("adjustments", -1),
        ),
        "difference": (("closing_listed", 1), ("closing_computed", -1)),
    },
    "tie_out": {
        "net_ar_base": (
            ("closing_ar_base", 1),
            ("unapplied_cash_base", -1),
            ("unapplied_credit_notes_base", -1),
            ("credit_balances_base", 1),
        ),
        "difference": (("gl_control_balance", 1), ("net_ar_base", -1)),
        "unexplained": (("difference", 1), ("explained_by_proposed_adjustments", -1)),
    },
}
MUST_BE_ZERO = {("rollforward", "difference"), ("tie_out", "unexplained")}
TIED_TO_GL = ("ties", "ties after adjustments")


def _line(currency: str, label: str) -> tuple[tuple[str, str], ...]:
    """The key of a (currency, line) row of the Lead or the cash bridge."""
    return (("currency", currency), ("line", label))


def _input_total(name: str, currency: str) -> Ref:
    """An input's control total for one currency, in AR-1.1."""
    return Ref("AR-1.1", "control_total", rows=((("input", name), ("currency", currency)),))


def _written_off_label(ar_account: str) -> str:
    return f"Σ AR {ar_account} written off in the sub-ledger"


def _support(block: str, key: str | None, currency: str, ar_account: str) -> Ref | str | None:
    """Where a Lead line's figure is shown on another sheet (None: nowhere else)."""
    if block == "rollforward":
        if key == "opening_ar":
            return _input_total("opening", currency)
        if key == "invoiced":
            return _input_total("invoices", currency)
        if key in MOVEMENTS:
            return Ref("AR-2", "applied_amount", total=f"Σ {MOVEMENT_WORDS[key]} {currency}")
        if key == "closing_listed":
            return Ref("AR-5.2", "open_amount", total=f"Total {currency}")
        return None
    return {
        "closing_ar_base": Ref("AR-5", "amount_base", total="Total"),
        "unapplied_cash_base": Ref("AR-5.1", "unapplied_cash", total="Total"),
        "unapplied_credit_notes_base": Ref("AR-5.1", "unapplied_credit_notes", total="Total"),
        "credit_balances_base": Ref("AR-5.1", "credit_balance", total="Total"),
        "net_ar_base": Ref("AR-5.1", "net_balance", total="Total"),
        "gl_control_balance": "params: gl_control_balance",
        "explained_by_proposed_adjustments": Ref(
            "AR-7", "credit", total=_written_off_label(ar_account), less="debit"
        ),
    }.get(key)


def _shown(ref: Ref, sheets: dict[str, Sheet]) -> bool:
    """Whether the row (or total row) ``ref`` names is on its sheet."""
    sheet = sheets[ref.sheet]
    if ref.total is not None:
        return ref_value(sheet, ref) is not None
    return all(row_index(sheet, key) is not None for key in ref.rows)


def _absent_as_words(ref, amount, sheets: dict[str, Sheet]):
    """``ref``, or for a zero whose sheet has no such row (no opening file in a first
    close, no invoices of a currency) a reference that says so in words."""
    if isinstance(ref, Ref) and amount == 0 and not _shown(ref, sheets):
        what = ref.total or " ".join(str(v) for _, v in ref.rows[0])
        return f"{ref.sheet}: none ({what})"
    return ref


def _agreement(amount, ref, sheets: dict[str, Sheet]) -> list[str]:
    """✓ (with Σ when the support is a total row) if the figure ``ref`` names equals
    ``amount``, ✗ if not; nothing for a text reference or a recomputation."""
    if not isinstance(ref, Ref) or len(ref.rows) > 1 or amount is None:
        return []
    agrees = ref_value(sheets[ref.sheet], ref) == amount
    return ["✓" if agrees else "✗", *(["Σ"] if ref.total is not None else [])]


def lead_sheet(result, sheets: dict[str, Sheet]) -> Sheet:
    """AR-1: the roll-forward per currency, then the GL tie-out; each line with the Ref
    supporting it (``sheets`` are the other workpapers) and its tick marks."""
    tie = result.tie_out
    ar_account = result.config.adjustments.ar_account
    lines = [  # (block, key, currency, label, amount)
        ("rollforward", key, row["currency"], label, row[key])
        for row in result.rollforward.iter_rows(named=True)
        for key, label in ROLLFORWARD_LINES
    ]
    tie_keys = [key for key, _ in TIE_OUT_LINES] + [None]  # the status line closes it
    lines += [
        ("tie_out", key, currency, label, amount)
        for key, (currency, label, amount) in zip(
            tie_keys, tie_out_frame(tie).iter_rows(), strict=True
        )
    ]
    found = {(b, c, k): (label, amount) for b, k, c, label, amount in lines}
    rows, refs = [], []
    for block, key, currency, label, amount in lines:
        support = _absent_as_words(_support(block, key, currency, ar_account), amount, sheets)
        marks = _agreement(amount, support, sheets)
        formula = RECOMPUTED[block].get(key)
        if formula is not None and amount is not None:
            parts = [found[(block, currency, k)] for k, _ in formula]
            if support is None:
                support = Ref("AR-1", "amount", rows=tuple(_line(currency, p[0]) for p in parts))
            if all(p[1] is not None for p in parts):
                again = sum(
                    (s * p[1] for p, (_, s) in zip(parts, formula, strict=True)), Decimal(0)
                )
                marks.append("◊" if again == amount else "✗")
        if key == "net_ar_base" and tie["status"] in TIED_TO_GL:
            marks.append("⊕")
        if (block, key) in MUST_BE_ZERO and amount not in (None, 0):
            marks.append("✗")
        rows.append(
            {
                "currency": currency,
                "line": label,
                "amount": amount,
                "tick": " ".join(dict.fromkeys(marks)) or None,
            }
        )
        refs.append(support)
    frame = pl.DataFrame(
        rows,
        schema={"currency": pl.String, "line": pl.String, "amount": MONEY, "tick": pl.String},
    )
    return Sheet(
        "AR-1",
        "Lead",
        "Roll-forward, tie-out to the GL; each line cross-referenced to its support",
        frame,
        refs=tuple(refs),
        footnotes=tick_legend(),
    )


def _bridge_sheet(ref, name, title, bridge, supports, sheets: dict[str, Sheet]) -> Sheet:
    """A bridge (currency, line, amount) with the lines ``supports`` names cross-referenced
    (label -> currency -> Ref) and ticked where the support agrees."""
    refs, ticks = [], []
    for currency, line, amount in bridge.iter_rows():
        support = supports.get(line)
        found = _absent_as_words(support(currency) if support else None, amount, sheets)
        refs.append(found)
        ticks.append(" ".join(_agreement(amount, found, sheets)) or None)
    return Sheet(
        ref,
        name,
        title,
        bridge.with_columns(pl.Series("tick", ticks, dtype=pl.String)),
        refs=tuple(refs),
    )


def cash_bridge_sheet(result, sheets: dict[str, Sheet]) -> Sheet:
    """AR-1.3 with its two ends cross-referenced: the receipts to the receipts input's
    control total (AR-1.1), the roll-forward's cash line to the Lead (AR-1)."""
    labels = dict(CASH_BRIDGE_LINES)
    supports = {
        labels["received"]: lambda c: _input_total("receipts", c),
        labels["rollforward"]: lambda c: Ref("AR-1", "amount", rows=(_line(c, "− Cash applied"),)),
    }
    return _bridge_sheet(
        "AR-1.3",
        "Cash bridge",
        "Bank receipts to the roll-forward's cash applied, per currency (must tie to 0)",
        result.cash_bridge,
        supports,
        sheets,
    )


def credit_note_bridge_sheet(result, sheets: dict[str, Sheet]) -> Sheet:
    """AR-1.4 with its ends cross-referenced: credit notes issued to the credit-note
    input's control total (AR-1.1), what was left unapplied to AR-11.1, the roll-forward's
    credit-note line to the Lead (AR-1)."""
    labels = dict(CREDIT_NOTE_BRIDGE_LINES)
    supports = {
        labels["issued"]: lambda c: _input_total("credit_notes", c),
        labels["left_unapplied"]: lambda c: Ref("AR-11.1", "unapplied", total=f"Total {c}"),
        labels["rollforward"]: lambda c: Ref(
            "AR-1", "amount", rows=(_line(c, "− Credit notes applied"),)
        ),
    }
    return _bridge_sheet(
        "AR-1.4",
        "Credit-note bridge",
        "Credit notes issued to the roll-forward's credit notes applied, per currency "
        "(must tie to 0)",
        result.credit_note_bridge,
        supports,
        sheets,
    )


def _unapplied_credit_notes_sheet(aging) -> Sheet:
    """AR-11.1: credit notes not (fully) netted, largest (base) first, with a Total in base
    (the Lead's tie-out line) and per currency (the credit-note bridge's line)."""
    frame = aging.unapplied_credit_notes.sort(
        ["unapplied_base", "date", "credit_id"], descending=[True, False, False], nulls_last=True
    )
    return Sheet(
        "AR-11.1",
        "Unapplied credit notes",
        "Credit notes not (fully) netted against invoices, largest unapplied (base) first: "
        "credited to AR when issued, carried until applied or refunded",
        frame,
        total_columns=("unapplied", "unapplied_base"),
        total_by="currency",
    )


def _aging_by_customer_sheet(result, summary: Sheet) -> Sheet:
    """AR-5.1 with names and a Total row, and a note saying whether that total ties to
    the aging summary (AR-5)."""
    aging = result.review.aging
    frame = views.aging_by_customer(aging.by_customer, result.period.frames["customers"])
    sheet = Sheet(
        "AR-5.1",
        "Aging by customer",
        "Aging per customer (base currency), largest balance first; unapplied cash and "
        "credits shown apart",
        frame,
        total_columns=tuple(c for c in frame.columns if c not in ("customer_id", "name")),
    )
    ours = ref_value(sheet, Ref("AR-5.1", "total_outstanding", total="Total"))
    theirs = ref_value(summary, Ref("AR-5", "amount_base", total="Total"))
    verdict = "✓ ties" if ours == theirs else "✗ does not tie"
    return dataclasses.replace(
        sheet,
        note=f"Base currency at the as-of rates. Total outstanding {fmt_money(ours)} (Total row) "
        f"= AR-5 Total {fmt_money(theirs)}: {verdict}.",
    )


def _movement_subtotals(result) -> tuple[Subtotal, ...]:
    """AR-2's Σ rows: per currency of the roll-forward, the allocations of each movement."""
    return tuple(
        Subtotal(
            f"Σ {MOVEMENT_WORDS[key]} {currency}",
            (pl.col("currency") == currency) & MOVEMENTS[key],
        )
        for currency in result.rollforward["currency"].to_list()
        for key in MOVEMENT_WORDS
    )


def sheets_for(result) -> list[Sheet]:
    from arlib.load import provenance_frame

    config = result.config
    review = result.review
    m = result.match
    aging = review.aging
    fx_rates = result.period.frames["fx_rates"]
    ar_account = config.adjustments.ar_account
    detail = aging.detail.with_columns(
        (pl.col("days_past_due") > 0).fill_null(False).alias("overdue")
    )
    summary = Sheet(
        "AR-5",
        "Aging summary",
        "Aging buckets in base currency",
        aging.totals,
        total_columns=("amount_base",),
    )
    sheets = [
        Sheet(
            "AR-1.1",
            "Inputs",
            "Inputs with SHA-256, rows and control totals",
            provenance_frame(result.period.provenance),
        ),
        Sheet(
            "AR-2",
            "Matches",
            "Allocations of receipts to invoices, with rule, confidence and reason; Σ rows "
            "per currency for the roll-forward's movements",
            m.allocations,
            capped=True,
            full_detail="matches.csv",
            total_columns=("applied_amount",),
            total_by="currency",
            subtotals=_movement_subtotals(result),
        ),
        Sheet(
            "AR-3",
            "Suggestions",
            "Candidates for review, largest receipt first (never applied automatically)",
            views.suggestions_for_review(m, config, fx_rates),
            capped=True,
            full_detail="suggestions.csv",
        ),
        Sheet(
            "AR-4",
            "Exceptions",
            "Classified discrepancies, open first and largest first (base), with evidence "
            "and suggested action",
            views.exceptions_for_review(review.exceptions, config, fx_rates),
            total_columns=("amount",),
            total_by="currency",
        ),
        summary,
        _aging_by_customer_sheet(result, summary),
        Sheet(
            "AR-5.2",
            "Aging detail",
            "Open invoices with days past due (overdue highlighted)",
            detail,
            highlight="overdue",
            total_columns=("open_amount", "open_amount_base"),
            total_by="currency",
        ),
        Sheet(
            "AR-6",
            "Tiers and actions",
            "Overdue tiers A/B/C with collection action, worst tier and largest overdue first",
            review.tiers,
        ),
        Sheet(
            "AR-7",
            "Proposed adjustments",
            "Balanced journal proposal (not booked)",
            review.journal,
            total_columns=("debit", "credit"),
            subtotals=(
                Subtotal(
                    _written_off_label(ar_account),
                    (pl.col("account") == ar_account) & pl.col("in_subledger"),
                ),
            ),
        ),
        Sheet(
            "AR-8",
            "Provision",
            "Expected credit loss: opening + charge = closing provision (base currency)",
            movement_lines(review.provision),
        ),
        Sheet(
            "AR-8.1",
            "Provision matrix",
            "Expected credit loss per aging bucket (IFRS 9 simplified approach)",
            review.provision.matrix,
            total_columns=("outstanding", "provision"),
        ),
        Sheet("AR-9", "KPIs", "KPIs with their formulas", review.kpis.summary),
        Sheet(
            "AR-10",
            "Findings",
            "Findings of the inputs, matching and decisions (errors and warnings)",
            result.findings,
        ),
        Sheet(
            "AR-11",
            "Unapplied cash",
            "Receipts not (fully) applied, largest unapplied (base) first",
            views.unapplied_for_review(m.receipts, config, fx_rates),
            total_columns=("unapplied",),
            total_by="currency",
        ),
        _unapplied_credit_notes_sheet(aging),
    ]
    by_ref = {sheet.ref: sheet for sheet in sheets}
    lead = lead_sheet(result, by_ref)
    by_ref["AR-1"] = lead
    front = [lead, sheets[0]]
    statements = result.period.statements
    if statements is not None and statements.height:
        front.append(
            Sheet(
                "AR-1.2",
                "Bank statements",
                "Statement controls: opening + credits − debits = closing",
                statements,
            )
        )
    bridges = [cash_bridge_sheet(result, by_ref), credit_note_bridge_sheet(result, by_ref)]
    from arlib.followup import report

    follow = report.sheets(result.followup, config.as_of)
    return [*front, *bridges, *sheets[1:], *follow]


def workpaper_sections(result) -> list[tuple[str, str]]:
    """(ref, sheet name) of every workpaper section, in the Index's order."""
    return [(sheet.ref, sheet.name) for sheet in sheets_for(result)]


def write_workpapers(result, path: Path) -> Path:
    from arlib.signoff import TABLE_COLUMNS, read_signoffs, signoff_table

    config = result.config
    header = {
        "Title": "AR reconciliation workpapers",
        "Entity": config.entity or "",
        "Period": config.period,
        "As of": str(config.as_of),
        "Base currency": config.base_currency,
    }
    sheets = sheets_for(result)
    signed = signoff_table(read_signoffs(path.parent), [(s.ref, s.name) for s in sheets])
    write_workbook(
        path,
        sheets,
        header=header,
        row_cap=config.workpapers.row_cap,
        signoff=[list(TABLE_COLUMNS), *[list(r) for r in signed.rows()]],
    )
    return path
