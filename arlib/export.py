"""Arrange a close's results into workpaper sheets (AR-1, AR-2, ...) and write them.

The order and references are the auditor's index: the lead schedule first, then the
detail that supports it. Which sheets are capped (detail) and which are always complete
(summaries, exceptions, aging) is decided here.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from arlib.pipeline import tie_out_frame
from arlib.provision import movement_lines
from arlib.workpapers import Sheet, write_workbook


def lead_schedule(result) -> pl.DataFrame:
    """Roll-forward per currency, then the GL tie-out, as one readable table."""
    rf = result.rollforward
    lines = []
    labels = [
        ("opening_ar", "Opening AR (previous close's open items)"),
        ("invoiced", "+ Invoiced in the period"),
        ("cash_applied", "− Cash applied"),
        ("credit_notes_applied", "− Credit notes applied"),
        ("adjustments", "− Bank charges, discounts, FX and rounding written off"),
        ("closing_computed", "= Closing AR (computed)"),
        ("closing_listed", "Closing AR (open items listed)"),
        ("difference", "Difference (must be 0)"),
    ]
    for row in rf.iter_rows(named=True):
        for key, label in labels:
            lines.append({"currency": row["currency"], "line": label, "amount": row[key]})
    rolled = pl.DataFrame(
        lines, schema={"currency": pl.String, "line": pl.String, "amount": pl.Decimal(38, 2)}
    )
    return pl.concat([rolled, tie_out_frame(result.tie_out)])


def sheets_for(result) -> list[Sheet]:
    review = result.review
    m = result.match
    aging = review.aging
    detail = aging.detail.with_columns(
        (pl.col("days_past_due") > 0).fill_null(False).alias("overdue")
    )
    from arlib.load import provenance_frame

    sheets = [
        Sheet(
            "AR-1",
            "Lead",
            "Roll-forward, tie-out to the GL, control totals",
            lead_schedule(result),
            total_columns=(),
        ),
        Sheet(
            "AR-1.1",
            "Inputs",
            "Inputs with SHA-256, rows and control totals",
            provenance_frame(result.period.provenance),
        ),
        Sheet(
            "AR-2",
            "Matches",
            "Allocations of receipts to invoices, with rule, confidence and reason",
            m.allocations,
            capped=True,
            full_detail="matches.csv",
            total_columns=("applied_amount",),
            total_by="currency",
        ),
        Sheet(
            "AR-3",
            "Suggestions",
            "Candidates for review (never applied automatically)",
            m.suggestions,
            capped=True,
            full_detail="suggestions.csv",
        ),
        Sheet(
            "AR-4",
            "Exceptions",
            "Classified discrepancies with evidence and suggested action",
            review.exceptions,
            total_columns=("amount",),
            total_by="currency",
        ),
        Sheet(
            "AR-5",
            "Aging summary",
            "Aging buckets in base currency",
            aging.totals,
            total_columns=("amount_base",),
        ),
        Sheet(
            "AR-5.1",
            "Aging by customer",
            "Aging per customer; unapplied cash and credits shown apart",
            aging.by_customer,
        ),
        Sheet(
            "AR-5.2",
            "Aging detail",
            "Open invoices with days past due (overdue highlighted)",
            detail,
            highlight="overdue",
            total_columns=("open_amount_base",),
        ),
        Sheet(
            "AR-6",
            "Tiers and actions",
            "Overdue tiers A/B/C with collection action",
            review.tiers,
            highlight=None,
        ),
        Sheet(
            "AR-7",
            "Proposed adjustments",
            "Balanced journal proposal (not booked)",
            review.journal,
            total_columns=("debit", "credit"),
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
            "Receipts not (fully) applied",
            m.receipts.filter(pl.col("unapplied") != 0),
            total_columns=("unapplied",),
            total_by="currency",
        ),
    ]
    sheets.insert(
        2,
        Sheet(
            "AR-1.3",
            "Cash bridge",
            "Bank receipts to the roll-forward's cash applied, per currency (must tie to 0)",
            result.cash_bridge,
        ),
    )
    statements = result.period.statements
    if statements is not None and statements.height:
        sheets.insert(
            2,
            Sheet(
                "AR-1.2",
                "Bank statements",
                "Statement controls: opening + credits − debits = closing",
                statements,
            ),
        )
    return sheets


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
