"""Write the five close notebooks from the cell texts below, then execute them in place
on the sample period so the committed copies show real output.

Run from the project root: ``.venv/bin/python scripts/build_notebooks.py``. Keeping the
cells here (rather than editing JSON by hand) keeps the notebooks consistent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
sys.path.insert(0, str(ROOT))


def parameters_cell() -> str:
    """The parameters cell, generated from the fields of the params model so that every
    top-level key of a params YAML is a parameter (``papermill NB OUT -f params/P.yaml``
    then never warns of an unknown one; tests/test_evidence.py checks it)."""
    from arlib.config import USER_KEYS

    lines = [
        "# Parameters. `arlib close` sets params_file, project_root, state_dir, overrides and",
        "# run_context; `papermill NB OUT -f params/2026-10.yaml` sets the params' own keys.",
        'params_file = "params/2026-09.yaml"  # the period\'s params, relative to project_root',
        'project_root = ".."  # the project folder, relative to the folder the notebook runs in',
        "state_dir = None  # where earlier notebooks of this close left their results",
        'overrides = {}  # e.g. {"entity": "ACME-SH"} from `arlib close --entity`',
        "run_context = None  # who ran the close, when, with which arlib and commit",
        "# the params' own keys: set only when papermill is given a params YAML",
        *[f"{key} = None" for key in USER_KEYS],
    ]
    return "\n".join(lines) + "\n"


PARAMETERS = parameters_cell()

SETUP = """\
import polars as pl
from IPython.display import Markdown, display

from arlib import charts, pipeline, views
from arlib import notebook as nb

pl.Config.set_tbl_rows(25)
pl.Config.set_fmt_str_lengths(80)
config = nb.config_from_parameters(globals())
state_dir = nb.state_folder(globals())
context = nb.context_or_now(run_context, config)
display(Markdown(nb.header_markdown(TITLE, config, context)))
"""


def code(text: str, *tags: str):
    cell = new_code_cell(text)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def md(text: str):
    return new_markdown_cell(text)


def opening(title: str, purpose: str) -> list:
    return [
        md(f"# {title}\n\n{purpose}"),
        code(PARAMETERS, "parameters"),
        code(f'TITLE = "{title}"\n' + SETUP),
    ]


NB01 = [
    *opening(
        "01 · Load and validate",
        "What came in for this close, where it came from, and whether it can be trusted. "
        "Every input is identified by its SHA-256; every problem names the file, the row as "
        "you see it in the file, the column and the value.",
    ),
    md("## Parameters\n\nThe whole run is described by the params file; every default is shown."),
    code("nb.show(nb.params_table(config))"),
    md(
        "What these params set otherwise than the defaults (of a params file that gives only "
        "the period and its inputs): the choices to review first."
    ),
    code("nb.show(nb.params_changes(config))"),
    md("## Inputs and provenance"),
    code(
        """period = pipeline.load_stage(config, state_dir)
provenance = nb.provenance_table(period)
display(Markdown(nb.provenance_prose(period)))
nb.show(provenance)"""
    ),
    md(
        "### Inputs read from a database\n\nThe connection (its URL never holds a password), "
        "the query as run and the values bound to its parameters, the rows read and the "
        "SHA-256 of the result as canonical CSV: re-run the query with these values to see "
        "the same rows."
    ),
    code(
        """display(Markdown(nb.database_prose(period)))
if nb.database_inputs(period).height:
    display(nb.show(nb.database_inputs(period)))"""
    ),
    md("## Bank statement controls"),
    code("nb.statement_controls(period)"),
    md(
        "## Validation findings\n\nErrors stop the close; warnings are carried into the workpapers."
    ),
    code(
        """findings = period.findings
display(Markdown(nb.findings_prose(findings)))
nb.show(nb.findings_by_rule(findings))"""
    ),
    code("nb.show(findings, rows=50)"),
    code("nb.record_load(period)"),
    md("## Conclusion"),
    code(
        """display(Markdown(nb.load_conclusion(findings)))
pipeline.require_clean(period)  # stops the close here, naming every error, if any"""
    ),
]

NB02 = [
    *opening(
        "02 · Reconcile receipts to invoices",
        "Receipts are applied to open invoices by a cascade of rules, each with a confidence "
        "and a reason a person can read. Anything uncertain is a suggestion for review, never "
        "a silent match.",
    ),
    md(
        "## Rule set\n\nThe matching settings come from a preset (a bundle of rule "
        "templates for a kind of business), extra templates and the keys the params file "
        "writes itself, in that order; the manifest records the same."
    ),
    code(
        """display(Markdown(nb.rule_set_prose(config)))
nb.show(nb.cascade_table(config))"""
    ),
    md("## Summary"),
    code(
        """result = pipeline.match_stage(config, state_dir)
summary = pipeline.match_summary(result)
display(Markdown(nb.match_prose(summary, config)))
nb.record_match(summary)"""
    ),
    md(
        "## Cash bridge\n\nPer currency, from the receipts on this period's bank statements to "
        "the cash applied in the roll-forward: what came in, what was carried in, what is left "
        "unapplied and what was applied across currencies. The difference must be 0."
    ),
    code(
        """bridge = pipeline.cash_bridge(result)
display(Markdown(nb.cash_bridge_prose(bridge)))
nb.record("cash_bridge", bridge.to_dicts())
nb.show(bridge)"""
    ),
    md(
        "## Credit-note bridge\n\nPer currency, from the credit notes issued (the input's "
        "control total) and carried in to those netted against invoices in the roll-forward; "
        "what is left unapplied is listed below it. The difference must be 0."
    ),
    code(
        """review = pipeline.review_stage(config, state_dir)
credit_bridge = pipeline.credit_note_bridge(result, config.base_currency, review.credit_notes)
left_credit = review.aging.unapplied_credit_notes
display(Markdown(nb.credit_note_bridge_prose(credit_bridge, left_credit, config.base_currency)))
nb.record("credit_note_bridge", credit_bridge.to_dicts())
nb.show(credit_bridge)
nb.show(left_credit.drop("source_file", "source_row"), rows=30)"""
    ),
    md("## Allocations per rule"),
    code("nb.show(summary['per_rule'])"),
    code("nb.rule_chart(result)"),
    md("## How payers were identified"),
    code("nb.show(nb.payer_methods(result))"),
    md(
        "## Suggestions for review (largest 30)\n\nThe receipt's amount beside the open "
        "amount of each candidate invoice, and the difference between them."
    ),
    code(
        """fx_rates = pipeline.load_stage(config, state_dir).frames["fx_rates"]
suggestions = views.suggestions_for_review(result, config, fx_rates)
display(Markdown(nb.suggestions_prose(suggestions)))
nb.show(suggestions.drop("value_date"), rows=30)"""
    ),
    md("## What is left: unapplied receipts (largest 30)"),
    code(
        """unapplied = views.unapplied_for_review(result.receipts, config, fx_rates).select(
    "receipt_id", "value_date", "days_unapplied", "payer_name", "amount", "currency",
    "unapplied", "unapplied_base", "status", "memo",
)
nb.show(unapplied, rows=30)"""
    ),
    md("## Sample allocations with their reasons"),
    code(
        """sample = result.allocations.select(
    "receipt_id", "invoice_id", "applied_amount", "currency", "rule", "confidence", "reason"
)
nb.show(sample, rows=20)"""
    ),
    md(
        "## Conservation\n\nPer receipt, allocated + unapplied = amount; "
        "per invoice, applied + open = amount."
    ),
    code("display(Markdown(nb.conservation_prose(result)))"),
    md(
        "## Explore a customer\n\nIn JupyterLab, pick a customer to see its open invoices, "
        "the receipts that need review and their suggestions together (static copies show "
        "nothing here)."
    ),
    code("nb.customer_explorer(result)", "nbval-ignore-output"),
]

NB03 = [
    *opening(
        "03 · Exceptions, aging and collections",
        "What is wrong, how old it is, who to chase and how, and what to book.",
    ),
    code(
        """review = pipeline.review_stage(config, state_dir)
frames = pipeline.load_stage(config, state_dir).frames"""
    ),
    md("## Exceptions by class and type"),
    code(
        """display(Markdown(nb.exceptions_prose(review.exceptions, config)))
nb.show(nb.exceptions_summary(review.exceptions))"""
    ),
    code("charts.exceptions_by_class(review.exceptions)"),
    md("Open exceptions first, the largest (in base currency at the as-of rates) first:"),
    code(
        """exceptions = views.exceptions_for_review(review.exceptions, config, frames["fx_rates"])
nb.show(exceptions.drop("source_file", "source_row", "history", "key"), rows=30)"""
    ),
    md(
        "## Carried from earlier closes\n\nAn exception stays open from close to close until "
        "a recorded resolution closes it: a match or credit note clearing the receipt or "
        "invoice it is about, or a decision (`resolve`, `not_ar`). Owners are set by `assign` "
        "decisions; the full history of each is in exceptions.csv."
    ),
    code(
        """display(Markdown(nb.carried_prose(review.exceptions, config)))
nb.show(nb.carried_exceptions(review.exceptions, config), rows=30)"""
    ),
    code("nb.decision_findings(review.findings)"),
    md("## Aging as of the period end (base currency)"),
    code(
        """display(Markdown(nb.aging_prose(review.aging, config)))
nb.show(review.aging.totals)"""
    ),
    code("charts.aging_buckets(review.aging.totals, config.base_currency, config.as_of)"),
    md("## Who owes the most overdue"),
    code(
        """display(Markdown(nb.top_overdue_prose(review.aging, frames["customers"], config)))
nb.top_overdue_chart(review.aging, frames["customers"], config)"""
    ),
    md("## Unapplied cash by age"),
    code(
        """display(Markdown(nb.unapplied_prose(review.aging, config)))
charts.unapplied_by_age(review.aging.unapplied, config.base_currency)"""
    ),
    md("## Overdue tiers and collection actions\n\nWorst tier first, the largest overdue first."),
    code("nb.show(nb.tier_summary(review.tiers))"),
    code("nb.show(review.tiers.filter(pl.col('tier').is_not_null()), rows=30)"),
    md("## KPIs\n\nEach KPI is shown with the formula it was computed by."),
    code("nb.show(review.kpis.summary)"),
    md(
        "### DSO and CEI over the closes\n\nThis close and those it continues from, as "
        "each close's manifest recorded them."
    ),
    code(
        """trend = nb.kpi_trend(config, review)
display(Markdown(nb.kpi_trend_prose(trend)))
nb.record("kpi_trend", trend.to_dicts())
charts.kpi_trend(trend)"""
    ),
    md("## Expected credit loss (IFRS 9 simplified approach)"),
    code(
        """from arlib.provision import movement_lines

display(Markdown(nb.provision_prose(review, config)))
nb.show(movement_lines(review.provision))"""
    ),
    code("nb.show(review.provision.matrix)"),
    md("## Proposed adjustments (调平)\n\nProposals only: nothing is booked without a person."),
    code(
        """display(Markdown(nb.journal_prose(review.journal, config)))
nb.show(review.journal, rows=40)"""
    ),
    code("nb.record_review(review)"),
]

NB04 = [
    *opening(
        "04 · Close: roll-forward, tie-out and sign-off",
        "Opening AR + invoiced − received − credit notes ± adjustments = closing AR, tied to "
        "the GL control balance; the open items that the next period starts from; sign-off.",
    ),
    code("closed = pipeline.close_stage(config, state_dir)"),
    md("## Roll-forward per currency"),
    code(
        """display(Markdown(nb.rollforward_prose(closed)))
nb.show(closed.rollforward)"""
    ),
    code("charts.rollforward_waterfall(closed.rollforward)"),
    md("## Tie-out to the general ledger"),
    code(
        """display(Markdown(nb.tie_out_prose(closed)))
nb.show(pipeline.tie_out_frame(closed.tie_out))"""
    ),
    md("## Carried forward to the next period"),
    code("nb.show(nb.open_items_summary(closed.open_items))"),
    md("## Customer statements and collection letters"),
    code("display(Markdown(nb.statements_prose(closed)))"),
    md("## Outbox"),
    code(
        """display(Markdown(nb.outbox_prose(closed)))
nb.show(nb.outbox_counts(closed.outbox))"""
    ),
    code("nb.record_close(closed)"),
    md("## Conclusions"),
    code("display(Markdown(nb.conclusions(closed)))"),
    code("display(Markdown(nb.signoff_markdown(closed)))"),
]


NB05 = [
    *opening(
        "05 · Customer follow-up",
        "What customers answered to their statements (回函), what they dispute (争议), what "
        "collectors agreed with them (催收记录), and who must do what next.",
    ),
    code(
        """from arlib.followup import report

closed = pipeline.close_stage(config, state_dir)
fu = closed.followup"""
    ),
    md(
        "## Statement replies and confirmations\n\nEach statement is numbered "
        "`<period>-<customer_id>`; a reply confirms its balance or lists the invoices that "
        "differ. A reply that would confirm and list a difference is refused at load."
    ),
    code(
        """display(Markdown(report.replies_prose(fu, config.period)))
nb.show(fu.statements)"""
    ),
    code("nb.show(fu.confirmations, caption='Confirmation register')"),
    md(
        "## Disputes (争议处理工单)\n\nOne per disputed invoice, with its owner and status; "
        "an unresolved dispute holds the invoice out of dunning."
    ),
    code(
        """from arlib.followup import disputes

display(Markdown(report.disputes_prose(fu, config.as_of)))
nb.show(disputes.open_disputes(fu.disputes, config.as_of).drop("source_file", "source_row"))"""
    ),
    code("nb.show(disputes.by_owner(fu.disputes, config.as_of), caption='By owner and age')"),
    md("### History of every dispute"),
    code("nb.show(fu.history)"),
    md("## Contacts and promises to pay"),
    code(
        """display(Markdown(report.promises_prose(fu)))
nb.show(fu.promises)"""
    ),
    code("nb.show(fu.contacts.drop('source_file', 'source_row'), rows=30)"),
    md(
        "## Collection tasks per collector\n\nCollectors come from the customer master's "
        "`collector` column, else the first `followup.collectors` rule that fits (tier, "
        "currency), else `followup.default_collector`."
    ),
    code(
        """display(Markdown(report.tasks_prose(fu)))
report.tasks_chart(fu)"""
    ),
    code(
        """from arlib.followup.tasks import tasks_per_collector

nb.show(tasks_per_collector(fu.tasks), caption="Tasks per collector")"""
    ),
    code("nb.show(fu.tasks, rows=40)"),
    code("report.record_followup(fu, config.as_of)"),
]


def build(name: str, cells: list) -> Path:
    book = new_notebook(cells=cells)
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    book.metadata["language_info"] = {"name": "python"}
    path = NOTEBOOKS / name
    nbformat.write(book, path)
    return path


def main() -> int:
    from arlib.close import execute_notebook

    NOTEBOOKS.mkdir(exist_ok=True)
    books = [
        build("01_load_and_validate.ipynb", NB01),
        build("02_reconcile.ipynb", NB02),
        build("03_exceptions_and_aging.ipynb", NB03),
        build("04_close_and_signoff.ipynb", NB04),
        build("05_customer_followup.ipynb", NB05),
    ]
    if "--no-execute" in sys.argv:
        return 0
    for path in books:
        print(f"executing {path.name}", flush=True)
        execute_notebook(path, path, parameters=None, cwd=NOTEBOOKS)
        print(f"executed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
