"""Helpers that keep the notebooks thin and make them read like workpapers.

The notebooks only narrate: they call the pipeline, show tables and charts, and state the
figures in generated sentences. Key totals are recorded as scrapbook-compatible outputs
(``application/scrapbook.scrap.json+json``) so a test or a reviewer's script reads them
back from the executed notebook with :func:`read_recorded`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from pydantic_core import to_jsonable_python

from arlib.config import SECTIONS, USER_KEYS, Config, differences, from_mapping, load_config
from arlib.match.templates import SELECTION
from arlib.money import fmt_decimal, fmt_money, fmt_percent, fmt_rate, to_decimal

SCRAP_MIME = "application/scrapbook.scrap.json+json"
CURRENCY_SIGNS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


def config_from_parameters(namespace: dict[str, Any]) -> Config:
    """The Config for this run, from the notebook's parameters.

    ``arlib close`` passes ``params_file`` (+ ``overrides``); ``papermill NB OUT -f
    params/2026-10.yaml`` passes the YAML's own keys, which win when ``period`` is set.
    """
    given = {k: namespace.get(k) for k in USER_KEYS if namespace.get(k) is not None}
    cwd = Path.cwd()
    if given.get("period"):
        root = cwd if (cwd / "params").is_dir() else cwd.parent
        return from_mapping(
            given, root=namespace.get("root") or root, source="papermill parameters"
        )
    params = Path(namespace["params_file"])
    if not params.is_absolute():
        # relative to the project root, which is given relative to the close folder the
        # notebook runs in (so a published notebook re-runs where it lies)
        root = (cwd / (namespace.get("project_root") or "..")).resolve()
        params = root / params
    return load_config(params, namespace.get("overrides") or None)


def state_folder(namespace: dict[str, Any]) -> str | None:
    """The stage cache of this close: the folder ``arlib close`` made, or None (compute
    each stage here) when it is gone, as it is once the close is published."""
    state = namespace.get("state_dir")
    return state if state is not None and Path(state).is_dir() else None


def context_or_now(run_context: dict | None, config: Config) -> dict[str, str]:
    if run_context:
        return run_context
    from arlib.close import run_context as make_context

    return make_context(config)


def money(value: Decimal | float | int | None, currency: str = "CNY") -> str:
    """``¥12,345.67``: every cent shown, in prose too (a rounded ``¥12.3 m`` cannot be
    traced to a workpaper)."""
    if value is None:
        return "—"
    sign = CURRENCY_SIGNS.get(currency, currency + " ")
    value = to_decimal(value)
    text = f"{sign}{fmt_money(abs(value))}"
    return f"−{text}" if value < 0 else text


def pct(part: int | Decimal, whole: int | Decimal) -> str:
    if not whole:
        return "—"
    return f"{Decimal(part) * 100 / Decimal(whole):.1f} %"


def record(name: str, value: Any) -> None:
    """Record a key figure in the notebook in machine-readable (scrapbook) form."""
    from IPython.display import display

    payload = {"name": name, "data": to_jsonable_python(value), "encoder": "json", "version": 1}
    display(
        {SCRAP_MIME: payload},
        raw=True,
        metadata={"scrapbook": {"name": name, "data": True, "display": False}},
    )


def read_recorded(path: str | Path) -> dict[str, Any]:
    """Every figure recorded with :func:`record` in an executed notebook."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    found = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if SCRAP_MIME in data:
                found[data[SCRAP_MIME]["name"]] = data[SCRAP_MIME]["data"]
    return found


def header_markdown(title: str, config: Config, context: dict[str, str]) -> str:
    """The opening block of every notebook: what, which period, when, by whom, with what."""
    entity = config.entity or "(single entity)"
    return (
        f"| {title} | |\n|---|---|\n"
        f"| Entity | {entity} |\n| Period | {config.period} "
        f"({config.period_start} to {config.period_end}) |\n"
        f"| As of | {config.as_of} |\n| Base currency | {config.base_currency} |\n"
        f"| Run at | {context['run_at']} |\n| Run by | {context['run_by']} |\n"
        f"| arlib | {context['arlib_version']} (commit {context['git_commit']}) |\n"
        f"| Params | `{Path(config.source).name}` |\n"
    )


def params_table(config: Config) -> pl.DataFrame:
    """The run's parameters as a flat key/value table (every default shown)."""
    rows = [
        ("entity", config.entity),
        ("period", config.period),
        ("as_of", config.as_of),
        ("base_currency", config.base_currency),
        ("gl_control_balance", config.gl_control_balance),
    ]
    for name, spec in config.inputs.items():
        if spec.is_database:
            rows.append((f"inputs.{name}", f"{spec.connection}: {spec.sql or spec.table}"))
        else:
            shown = Path(spec.path)
            if shown.is_relative_to(config.root):
                shown = shown.relative_to(config.root)
            rows.append((f"inputs.{name}", shown.as_posix()))
        if spec.columns:
            rows.append(
                (f"inputs.{name}.columns", json.dumps(dict(spec.columns), ensure_ascii=False))
            )
    for name in SECTIONS:
        for key, value in getattr(config, name).model_dump(mode="json").items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            rows.append((f"{name}.{key}", text))
    return pl.DataFrame(
        {
            "parameter": [r[0] for r in rows],
            "value": [None if r[1] is None else str(r[1]) for r in rows],
        }
    )


def params_changes(config: Config) -> pl.DataFrame:
    """What this close's params set otherwise than the defaults (those of a params file
    giving only the period and the input paths): the judgements to review first."""

    def text(value: Any) -> str | None:
        return (
            value
            if value is None or isinstance(value, str)
            else json.dumps(value, ensure_ascii=False)
        )

    rows = [(key, text(value), text(default)) for key, value, default in differences(config.params)]
    schema = {"parameter": pl.String, "value": pl.String, "default": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def signoff_markdown(closed) -> str:
    """The sign-off table of this close, from ``signoff.yaml`` in the folder the notebook
    runs in (the published close): empty while the close is being built, filled in
    whenever the published notebook is re-run after ``arlib signoff``."""
    from arlib.export import workpaper_sections
    from arlib.signoff import read_signoffs, signoff_table

    config = closed.config
    table = signoff_table(read_signoffs(Path.cwd()), workpaper_sections(closed))
    signed = table.filter(pl.col("Preparer") != "").height
    reviewed = table.filter(pl.col("Reviewer") != "").height
    lines = [
        "## Sign-off",
        "",
        f"Workpapers for **{config.entity or 'the entity'}**, period **{config.period}**, "
        f"as of **{config.as_of}**: {signed} of {table.height} sections signed by their "
        f"preparer, {reviewed} reviewed.",
        "",
    ]
    if signed == 0:
        lines += [
            "Nobody has signed yet. After reviewing a section, record it with "
            f"`arlib signoff --period {config.period} --section AR-1 --role preparer "
            '--name "..."` (reviewers: `--role reviewer`); the record is kept in '
            "`signoff.yaml` beside the outputs and copied into the workbook's Sign-off sheet.",
            "",
        ]
    header = "| " + " | ".join(table.columns) + " |"
    lines += [header, "|" + "---|" * table.width]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.rows()]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- 01 load and validate
def provenance_table(period) -> pl.DataFrame:
    from arlib.load import provenance_frame

    return provenance_frame(period.provenance)


def database_inputs(period) -> pl.DataFrame:
    """Inputs read from a database: the connection (its URL holds no password), the query
    as run (its :placeholders bound to the values shown), the rows read and the SHA-256 of
    the result as canonical CSV (:func:`arlib.database.result_sha256`)."""
    rows = [
        {
            "input": p["input"],
            "connection": f"{p['connection']} ({p['url']})",
            "query": p["query"],
            "parameters": ", ".join(f":{k} = {v}" for k, v in p["parameters"].items()),
            "rows": p.get("rows"),
            "sha256": p.get("sha256"),
        }
        for p in period.provenance
        if "query" in p
    ]
    schema = dict.fromkeys(["input", "connection", "query", "parameters"], pl.String)
    schema |= {"rows": pl.Int64, "sha256": pl.String}
    return pl.DataFrame(rows, schema=schema)


def database_prose(period) -> str:
    """Each input read from a database: its connection, the query as run, the values
    bound to its parameters and the rows read (:func:`database_inputs` has the hashes)."""
    read = [p for p in period.provenance if "query" in p]
    if not read:
        return "No input of this close was read from a database: each came from a file above."
    parts = []
    for p in read:
        bound = ", ".join(f"`:{k}` = {v}" for k, v in p["parameters"].items()) or "none"
        parts.append(
            f"**{p['input']}** from connection `{p['connection']}` (`{p['url']}`): "
            f"{int(p.get('rows') or 0):,} rows read; parameters {bound}.\n\n"
            f"```sql\n{p['query'].strip()}\n```"
        )
    inputs = "1 input" if len(read) == 1 else f"{len(read)} inputs"
    return f"{inputs} read from a database, each in a read-only transaction.\n\n" + (
        "\n\n".join(parts)
    )


def provenance_prose(period) -> str:
    inputs = period.provenance
    rows = sum(int(p.get("rows") or 0) for p in inputs)
    parts = []
    for p in inputs:
        totals = p.get("control_totals") or {}
        shown = ", ".join(money(Decimal(v), c) for c, v in totals.items() if v is not None)
        parts.append(
            f"**{p['input']}** `{p['file']}`: {int(p.get('rows') or 0):,} rows"
            + (f" ({shown})" if shown else "")
        )
    return f"{len(inputs)} inputs, {rows:,} rows in all.\n\n" + "\n".join(f"- {x}" for x in parts)


def findings_by_rule(findings: pl.DataFrame) -> pl.DataFrame:
    if findings.height == 0:
        return pl.DataFrame(
            {"severity": [], "rule": [], "findings": []},
            schema={"severity": pl.String, "rule": pl.String, "findings": pl.UInt32},
        )
    return (
        findings.group_by("severity", "rule")
        .agg(pl.len().alias("findings"))
        .sort("severity", "rule")
    )


def findings_prose(findings: pl.DataFrame) -> str:
    errors = findings.filter(pl.col("severity") == "error").height
    warnings = findings.height - errors
    if findings.height == 0:
        return "No findings: every value read, every check passed."
    verdict = (
        "**The close cannot go on until the errors are fixed.**"
        if errors
        else "No errors; the warnings are carried into the workpapers."
    )
    return f"{errors:,} error(s) and {warnings:,} warning(s). {verdict}"


def record_load(period) -> None:
    record(
        "inputs",
        {
            p["input"]: {
                "rows": p.get("rows"),
                "sha256": p["sha256"],
                "control_totals": p.get("control_totals"),
            }
            for p in period.provenance
        },
    )
    errors = period.findings.filter(pl.col("severity") == "error").height
    record("findings", {"errors": errors, "warnings": period.findings.height - errors})


def load_conclusion(findings: pl.DataFrame) -> str:
    errors = findings.filter(pl.col("severity") == "error").height
    if errors:
        return (
            f"**Stopped:** {errors:,} input error(s) listed above must be fixed; "
            "the next cell raises so the close stops here."
        )
    return "Inputs are complete and consistent enough to reconcile. Proceed to 02 · Reconcile."


# ----------------------------------------------------------------------- 02 reconcile
def receipts_line(summary: dict) -> str:
    """``2,101 receipts: 1,959 applied in full, 18 partly applied, ...``: every receipt in
    exactly one part, so the parts add up to the total (zero parts beyond the first four
    outcomes are left out)."""
    from arlib.pipeline import RECEIPT_STATUSES

    words = dict(RECEIPT_STATUSES)
    parts = [
        f"{n:,} {words.get(status, status)}"
        for i, (status, n) in enumerate(summary["receipts_by_status"].items())
        if n or i < 4
    ]
    return f"{summary['receipts']:,} receipts: " + ", ".join(parts)


def exception_counts(exceptions: pl.DataFrame) -> dict[str, int]:
    """Exceptions per status (open, cleared, resolved, then any other) of the frame behind
    AR-4 and exceptions.csv; the counts add up to its rows."""
    found = dict(exceptions.group_by("status").len().iter_rows()) if exceptions.height else {}
    from arlib.views import EXCEPTION_STATUSES

    counts = {status: int(found.pop(status, 0)) for status in EXCEPTION_STATUSES}
    counts["other"] = int(sum(found.values()))
    return counts


def exceptions_line(exceptions: pl.DataFrame) -> str:
    """``437 exceptions: 265 open, 165 cleared, 7 resolved``: the parts add up to the total
    (a status with none is left out, except open and cleared)."""
    counts = exception_counts(exceptions)
    parts = [
        f"{n:,} {status}" for status, n in counts.items() if n or status in ("open", "cleared")
    ]
    return f"{exceptions.height:,} exceptions: {', '.join(parts)}"


def rule_set_prose(config: Config) -> str:
    """Which preset and rule templates the matching settings were resolved from, and the
    settings the params file wrote itself (over both)."""
    from arlib.match.templates import presets

    cfg = config.matching
    written = config.raw.get("matching")
    own = sorted(k for k in (written if isinstance(written, dict) else {}) if k not in SELECTION)
    if cfg.preset:
        preset = presets()[cfg.preset]
        text = (
            f"Matching preset **{preset.name}** ({len(preset.templates)} rule templates): "
            f"{preset.description}"
        )
    else:
        text = (
            "No matching preset: the engine's defaults, which are exactly what the templates "
            "of preset standard set (named below)."
        )
    if cfg.templates:
        text += f" Extra templates, applied after the preset's: {', '.join(cfg.templates)}."
    if own:
        text += f" Written in the params over both: {', '.join(own)}."
    return (
        text + " Each rule of the cascade below, in the order it runs, with its switch and "
        "the templates that set it (set a setting it reads, or stand for it); `arlib "
        "templates` describes every template."
    )


def cascade_table(config: Config) -> pl.DataFrame:
    """The cascade as this close runs it: rule id, switch, on/off, what the rule does and
    the templates that set it."""
    from arlib.match.templates import cascade_rows

    rows = cascade_rows(config.matching)
    return pl.DataFrame(
        {
            "rule": [r["rule"] for r in rows],
            "switch": [r["switch"] for r in rows],
            "runs": ["on" if r["on"] else "OFF" for r in rows],
            "description": [r["description"] for r in rows],
            "templates": [r["templates"] or "" for r in rows],
        }
    )


def match_prose(summary: dict, config: Config) -> str:
    applied = summary["receipts_by_status"]["applied"]
    auto = summary["receipts_auto"]
    return (
        f"{receipts_line(summary)}. Of those applied in full, {auto:,} "
        f"({pct(auto, summary['receipts'])} of all receipts) were applied automatically and "
        f"{applied - auto:,} by a decision. {summary['invoices_paid']:,} of "
        f"{summary['invoices']:,} open or new invoices are now fully paid. The money, per "
        "currency, is in the cash bridge below."
    )


def cash_bridge_prose(bridge: pl.DataFrame) -> str:
    """One line per currency from :func:`arlib.pipeline.cash_bridge`, every cent shown."""
    from arlib.pipeline import CASH_BRIDGE_LINES

    keys = {label: key for key, label in CASH_BRIDGE_LINES}
    lines = []
    for (currency,), part in bridge.group_by("currency", maintain_order=True):
        amount = {keys[line]: a for line, a in part.select("line", "amount").rows()}
        left = sum((a for k, a in amount.items() if k.startswith("left_")), Decimal("0.00"))
        v = {k: money(a, currency) for k, a in amount.items()} | {"left": money(left, currency)}
        verdict = (
            "ties"
            if amount["difference"] == 0
            else f"**does not tie: difference {v['difference']}: investigate**"
        )
        lines.append(
            f"- {currency}: {v['received']} received on this period's statements + "
            f"{v['carried_in']} carried in − {v['left']} left unapplied = "
            f"{v['applied_from']} applied from {currency} receipts; − {v['to_other']} applied "
            f"to invoices in other currencies + {v['from_other']} applied to {currency} "
            f"invoices from other currencies' receipts = {v['applied_to']}, against "
            f"{v['rollforward']} cash applied in the roll-forward: {verdict}."
        )
    return "\n".join(lines)


def credit_note_bridge_prose(bridge: pl.DataFrame, unapplied: pl.DataFrame, base: str) -> str:
    """One line per currency from :func:`arlib.pipeline.credit_note_bridge`, and what is
    left unapplied (base currency), where it is listed and what happens to it."""
    from arlib.pipeline import CREDIT_NOTE_BRIDGE_LINES

    if bridge.height == 0:
        return "No credit notes this period and none carried in."
    keys = {label: key for key, label in CREDIT_NOTE_BRIDGE_LINES}
    lines = []
    for (currency,), part in bridge.group_by("currency", maintain_order=True):
        amount = {keys[line]: a for line, a in part.select("line", "amount").rows()}
        v = {k: money(a, currency) for k, a in amount.items()}
        verdict = (
            "ties"
            if amount["difference"] == 0
            else f"**does not tie: difference {v['difference']}: investigate**"
        )
        lines.append(
            f"- {currency}: {v['issued']} issued this period + {v['carried_in']} carried in − "
            f"{v['left_unapplied']} left unapplied − {v['taken_out']} taken out of AR by "
            f"decisions (refunded, reversed) = {v['applied']} netted against invoices, "
            f"against {v['rollforward']} credit notes applied in the roll-forward: {verdict}."
        )
    if unapplied.height:
        total = money(unapplied["unapplied_base"].sum(), base)
        lines.append(
            f"\n{unapplied.height:,} credit notes are not (fully) netted against an invoice: "
            f"{total} ({base} at the as-of rates) left. The AR account was credited with "
            "them when they were issued, so the GL tie-out takes them off net AR. Each is an "
            "open `unapplied_credit_note` exception, carried to the next close, which nets it "
            "when the customer's payment or invoice allows; listed in "
            "workpaper AR-11.1 and `unapplied_credit_notes.csv`."
        )
    return "\n".join(lines)


def record_match(summary: dict) -> None:
    record(
        "match",
        {k: v for k, v in summary.items() if k != "per_rule"}
        | {"per_rule": summary["per_rule"].to_dicts()},
    )


def rule_chart(result):
    """Receipts applied per rule: a count, so it may run across currencies (a receipt
    applied to invoices in two currencies counts once)."""
    import matplotlib.pyplot as plt

    per_rule = (
        result.allocations.filter(pl.col("kind") == "cash")
        .group_by("rule")
        .agg(pl.col("receipt_id").n_unique().alias("receipts"))
        .sort("rule")
    )
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh(per_rule["rule"].to_list(), per_rule["receipts"].to_list(), color="#4C72B0")
    ax.set_xlabel("receipts")
    ax.set_title("Receipts applied per rule")
    ax.invert_yaxis()
    fig.tight_layout()
    plt.close(fig)
    return fig


def payer_methods(result) -> pl.DataFrame:
    return (
        result.receipts.group_by("payer_method")
        .agg(pl.len().alias("receipts"), pl.col("payer_score").mean().round(3).alias("mean_score"))
        .sort(["receipts", "payer_method"], descending=[True, False])
    )


def conservation_prose(result) -> str:
    r = result.receipts
    i = result.invoices
    a = result.allocations
    cash = a.group_by("receipt_id").agg(pl.col("receipt_amount").sum().alias("used"))
    rec = r.join(cash, on="receipt_id", how="left").with_columns(pl.col("used").fill_null(0))
    bad_r = rec.filter(pl.col("used") + pl.col("unapplied") != pl.col("amount")).height
    applied = a.group_by("invoice_id").agg(pl.col("applied_amount").sum().alias("applied_rows"))
    inv = i.join(applied, on="invoice_id", how="left").with_columns(
        pl.col("applied_rows").fill_null(0)
    )
    start = pl.col("open_at_start")
    bad_i = inv.filter(pl.col("applied_rows") + pl.col("open_amount") != start).height
    verdict = (
        "Conservation holds."
        if bad_r == bad_i == 0
        else "**Conservation fails: investigate before sign-off.**"
    )
    return f"Receipts out of balance: {bad_r}; invoices out of balance: {bad_i}. {verdict}"


def suggestions_prose(table: pl.DataFrame) -> str:
    """How many receipts wait for a person's choice among suggestions, and how much cash
    that is per currency (from :func:`arlib.views.suggestions_for_review`)."""
    if table.height == 0:
        return "No suggestions: every receipt was applied, or matches nothing at all."
    receipts = table.unique("receipt_id")
    sums = (
        receipts.group_by("receipt_currency")
        .agg(pl.col("receipt_amount").sum())
        .sort("receipt_currency")
    )
    cash = ", ".join(money(a, c) for c, a in sums.iter_rows())
    return (
        f"{table.height:,} suggestions for {receipts.height:,} receipts ({cash}), the largest "
        "receipt first (in base currency at the as-of rates) and each receipt's candidates "
        "in rank order. Beside each candidate: the receipt's amount, the open amount of the "
        "invoice(s) and the difference, receipt − invoice (blank when the two are in "
        "different currencies). None is applied until a person records a `match` decision."
    )


# ------------------------------------------------------------ 03 exceptions and aging
def exceptions_summary(exceptions: pl.DataFrame) -> pl.DataFrame:
    """Exceptions per class, type and currency (amounts of different currencies are never
    added), with how many are open and how many cleared."""
    if exceptions.height == 0:
        return exceptions
    status = pl.col("status")
    return (
        exceptions.group_by("class", "type", "currency")
        .agg(
            pl.len().alias("exceptions"),
            (status == "open").sum().alias("open"),
            (status == "cleared").sum().alias("cleared"),
            _amount_sum("amount"),
        )
        .sort("class", "type", "currency", nulls_last=True)
    )


def exceptions_prose(exceptions: pl.DataFrame, config: Config) -> str:
    if exceptions.height == 0:
        return "No exceptions."
    by_class = (
        exceptions.group_by("class").agg(pl.len()).sort(["len", "class"], descending=[True, False])
    )
    parts = ", ".join(f"{n:,} {c.replace('_', ' ')}" for c, n in by_class.iter_rows())
    return (
        f"{exceptions_line(exceptions)}. By class: {parts}. Cleared ones are tolerance "
        "write-offs the proposed adjustments book; resolved ones were closed in this close "
        "by a match, a credit note or a decision; open ones need a person."
    )


def carried_prose(exceptions: pl.DataFrame, config: Config) -> str:
    """What the previous close left open and what became of it, in one paragraph."""
    carried = exceptions.filter(pl.col("first_seen") != config.period)
    if carried.height == 0:
        return (
            "No exceptions were carried in: every exception above is first seen in this "
            f"close ({config.period})."
        )
    from arlib.carry import DECIDED

    resolved = carried.filter(pl.col("status") == "resolved")
    by_decision = resolved.filter(pl.col("resolution").str.starts_with(DECIDED)).height
    still = carried.filter(pl.col("status") == "open")
    assigned = still.filter(pl.col("owner") != "unassigned").height
    return (
        f"{carried.height:,} exceptions were carried in open from earlier closes (the oldest "
        f"first seen in {carried['first_seen'].min()}). {resolved.height:,} are resolved in "
        f"this close ({resolved.height - by_decision:,} by a match or credit note clearing "
        f"what they are about, {by_decision:,} by a decision); {still.height:,} stay open and "
        f"are carried on, {assigned:,} of them with an owner. Each keeps its exception_id, "
        "first period, owner and history."
    )


def decision_findings(findings: pl.DataFrame):
    """The review's findings (``assign`` / ``resolve`` decisions that found no exception) as
    a table, or a sentence saying there are none."""
    from IPython.display import Markdown

    if findings.height == 0:
        return Markdown("Every `assign` and `resolve` decision found the exceptions it names.")
    return show(
        findings,
        caption=f"{findings.height} decision(s) found no open exception and changed nothing "
        "(warnings, also in findings.csv and workpaper AR-10)",
    )


def carried_exceptions(exceptions: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The carried-in exceptions, oldest first: what they are, since when, whose, how closed."""
    return (
        exceptions.filter(pl.col("first_seen") != config.period)
        .sort("first_seen", "status", "type", "exception_id")
        .select(
            "exception_id",
            "type",
            "customer_id",
            "invoice_id",
            "receipt_id",
            "amount",
            "currency",
            "first_seen",
            "age_periods",
            "owner",
            "status",
            "resolution",
        )
    )


def aging_prose(aged, config: Config) -> str:
    base = config.base_currency
    totals = aged.totals
    overdue = totals.filter(~pl.col("bucket").is_in(["not_due", "invalid_date"]))
    overdue_amount = overdue["amount_base"].sum() if overdue.height else 0
    outstanding = Decimal(str(aged.total_outstanding))
    unapplied = aged.unapplied["unapplied_base"].sum() if aged.unapplied.height else 0
    return (
        f"Outstanding {money(aged.total_outstanding, base)} as of {config.as_of}, of which "
        f"{money(overdue_amount, base)} ({pct(Decimal(str(overdue_amount)), outstanding)}) "
        f"is past due. Unapplied cash of {money(unapplied, base)} is shown apart, not netted."
    )


def top_overdue_prose(aged, customers: pl.DataFrame, config: Config, n: int = 10) -> str:
    """The customers the chart shows, in words: how much of the overdue AR they hold."""
    from arlib.charts import overdue_by_customer

    overdue = overdue_by_customer(aged.by_customer, customers)
    if overdue.height == 0:
        return "Nothing is overdue."
    base = config.base_currency
    top = overdue.head(n)
    first = top.row(0, named=True)
    held, total = top["overdue"].sum(), overdue["overdue"].sum()
    return (
        f"{overdue.height:,} customers have overdue invoices, {money(total, base)} in all; "
        f"the {top.height} shown hold {money(held, base)} ({pct(held, total)}). The most "
        f"overdue is {first['name'] or first['customer_id']} ({first['customer_id']}) with "
        f"{money(first['overdue'], base)}. Their tiers and actions follow."
    )


def top_overdue_chart(aged, customers: pl.DataFrame, config: Config, n: int = 10):
    """The most overdue customers by name (:func:`arlib.charts.top_overdue_customers`), or
    nothing when nobody is overdue: the sentence above says so, an empty frame would not."""
    from arlib.charts import overdue_by_customer, top_overdue_customers

    if overdue_by_customer(aged.by_customer, customers).height == 0:
        return None
    return top_overdue_customers(aged.by_customer, customers, config.base_currency, n)


def unapplied_prose(aged, config: Config) -> str:
    """Unapplied cash by days since receipt, the bands of the chart beside it."""
    from arlib.charts import unapplied_age_bands

    unapplied = aged.unapplied
    base = config.base_currency
    if unapplied.height == 0:
        return "No unapplied cash."
    bands = "; ".join(f"{label}: {money(a, base)}" for label, a in unapplied_age_bands(unapplied))
    oldest = unapplied["days_unapplied"].max()
    return (
        f"Unapplied cash {money(unapplied['unapplied_base'].sum(), base)} ({base} at the as-of "
        f"rates) on {unapplied.height:,} receipts, by days since receipt: {bands}. The oldest "
        f"has waited {oldest:,} days. It is shown apart in the aging, not netted, and listed "
        "in workpaper AR-11."
    )


def kpi_trend(config: Config, review) -> pl.DataFrame:
    """DSO and CEI of this close and of the closes it continues from (the manifests the
    opening files lead back to), oldest first."""
    from arlib.close import earlier_closes
    from arlib.kpis import kpi_trend as trend

    return trend(config.period, review.kpis.summary, earlier_closes(config))


def kpi_trend_prose(trend: pl.DataFrame) -> str:
    """The trend's last and first points in words, and why a first close has only one."""

    def shown(row, kpi: str, unit: str) -> str:
        return "—" if row[kpi] is None else f"{fmt_decimal(row[kpi])}{unit}"

    last = trend.row(trend.height - 1, named=True)
    now = (
        f"DSO {shown(last, 'dso', ' days')} and CEI {shown(last, 'cei', ' %')} in {last['period']}"
    )
    if trend.height == 1:
        return (
            f"{now}. No earlier close of this entity stands behind this one (it starts from "
            "no previous close's open items), so the chart shows a single point; each later "
            "close adds its own, as its manifest records it."
        )
    first = trend.row(0, named=True)
    return (
        f"{now}; {trend.height} closes from {first['period']}: DSO was "
        f"{shown(first, 'dso', ' days')} and CEI {shown(first, 'cei', ' %')} then (read from "
        "each close's published manifest)."
    )


def tier_summary(tiers: pl.DataFrame) -> pl.DataFrame:
    if tiers.height == 0:
        return tiers
    return (
        tiers.filter(pl.col("tier").is_not_null())
        .group_by("tier", "action")
        .agg(pl.len().alias("customers"), pl.col("overdue_amount").sum())
        .sort("tier")
    )


def provision_prose(review, config: Config) -> str:
    """Opening, charge and closing provision, and the journal that proposes the charge."""
    provided = review.provision
    base = config.base_currency
    movement = provided.movement
    journal = review.journal.filter(pl.col("reference") == f"ECL {config.period}")
    if movement == 0:
        proposal = "so no entry is proposed"
    else:
        what = "a charge" if movement > 0 else "a release"
        proposal = (
            f"so the period's movement is {what} of {money(abs(movement), base)}, proposed as "
            f"{journal['journal_id'][0]} (AR-7)"
        )
    return (
        f"Closing provision {money(provided.total_provision, base)} (the matrix below) − "
        f"opening provision {money(provided.opening_provision, base)} "
        f"({provided.opening_source}) = {money(movement, base)}, {proposal}."
    )


def journal_prose(journal: pl.DataFrame, config: Config) -> str:
    if journal.height == 0:
        return "No adjustments proposed."
    debit = journal["debit"].sum()
    credit = journal["credit"].sum()
    state = "balanced" if debit == credit else "**NOT balanced**"
    base = config.base_currency
    return (
        f"{journal['journal_id'].n_unique():,} proposed entries, {journal.height:,} lines; "
        f"debits {money(debit, base)} = credits {money(credit, base)} ({state})."
    )


def record_review(review) -> None:
    record(
        "review",
        {
            "exceptions": review.exceptions.height,
            "exceptions_by_status": dict(
                review.exceptions.group_by("status").len().sort("status").iter_rows()
            ),
            "exceptions_carried_in": review.exceptions.filter(pl.col("age_periods") > 0).height,
            "exceptions_by_class": {
                c: n
                for c, n in review.exceptions.group_by("class")
                .agg(pl.len())
                .sort("class")
                .iter_rows()
            }
            if review.exceptions.height
            else {},
            "aging_total": review.aging.total_outstanding,
            "aging_buckets": {
                b: a for b, a in review.aging.totals.select("bucket", "amount_base").iter_rows()
            },
            "provision": {
                "opening": review.provision.opening_provision,
                "charge": review.provision.movement,
                "closing": review.provision.total_provision,
            },
            "journal_lines": review.journal.height,
        },
    )


# ---------------------------------------------------------------------------- 04 close
def rollforward_prose(closed) -> str:
    lines = []
    for row in closed.rollforward.iter_rows(named=True):
        c = row["currency"]
        ties = (
            "ties"
            if row["difference"] == 0
            else f"**does not tie: difference {money(row['difference'], c)}**"
        )
        lines.append(
            f"- {c}: opening {money(row['opening_ar'], c)} + invoiced "
            f"{money(row['invoiced'], c)} − cash {money(row['cash_applied'], c)} − credit "
            f"notes {money(row['credit_notes_applied'], c)} − adjustments "
            f"{money(row['adjustments'], c)} = closing {money(row['closing_computed'], c)}; "
            f"open items list {money(row['closing_listed'], c)}: {ties}."
        )
    return "\n".join(lines)


def tie_out_sentence(tie: dict[str, Any]) -> str:
    """The tie-out in one sentence, from :func:`arlib.pipeline.tie_out` or its JSON in the
    manifest (amounts as strings): notebook 04, its conclusions and ``arlib close`` print
    exactly this, so they cannot disagree."""

    def amount(key: str) -> str:
        return money(None if tie[key] is None else Decimal(str(tie[key])), tie["base_currency"])

    from arlib.pipeline import TIE_OUT_STATUSES

    status, gl, net = tie["status"], amount("gl_control_balance"), amount("net_ar_base")
    if status not in TIE_OUT_STATUSES:  # e.g. a manifest written by another arlib version
        raise ValueError(f"unknown tie-out status {status!r} (known: {TIE_OUT_STATUSES})")
    if status == "not performed":
        return (
            "GL tie-out: not performed (no gl_control_balance in params); net AR per "
            f"sub-ledger {net}."
        )
    if status == "ties":
        return f"GL tie-out: ties. GL control balance {gl} = net AR per sub-ledger {net}."
    compared = f"GL control balance {gl} − net AR per sub-ledger {net} = {amount('difference')}"
    if status == "ties after adjustments":
        return (
            f"GL tie-out: ties after adjustments. {compared}, all of it write-offs made by "
            "matching that the proposed adjustments (AR-7) book."
        )
    return (
        f"GL tie-out: difference. {compared}; write-offs made by matching, proposed in AR-7, "
        f"explain {amount('explained_by_proposed_adjustments')}; {amount('unexplained')} is "
        "unexplained: investigate before sign-off."
    )


def tie_out_prose(closed) -> str:
    """The tie-out sentence, then where its lines are (the table below and AR-1)."""
    return (
        tie_out_sentence(closed.tie_out) + "\n\nThe lines below are those of the Lead (AR-1); "
        "net AR is open invoices − unapplied cash − unapplied credit notes + credit balances, in "
        f"{closed.config.base_currency} at the as-of rates."
    )


def open_items_summary(items: pl.DataFrame) -> pl.DataFrame:
    """Carried items per type and currency (amounts of different currencies never added)."""
    return (
        items.group_by("item_type", "currency")
        .agg(pl.len().alias("items"), _amount_sum("open_amount"))
        .sort("item_type", "currency")
    )


def _amount_sum(column: str) -> pl.Expr:
    """Σ of a money column, blank (not 0.00) for a group none of whose rows has an amount:
    a pattern exception such as a repeated late payment has none."""
    return pl.when(pl.col(column).count() > 0).then(pl.col(column).sum()).alias(column)


def statements_prose(closed) -> str:
    """What the close will write as customer statements and letters, in one paragraph."""
    from arlib.dunning import LEVELS
    from arlib.statements import disputed_invoices, selected_customers

    config = closed.config.statements
    ids = selected_customers(closed.review, closed.match, config)
    if not ids:
        return (
            "No customer statements are requested for this period "
            "(`statements.customers: none` and no `customer_ids`)."
        )
    letters = closed.letters
    words = {"reminder": "reminder", "second": "second notice", "final": "final demand"}
    counts = dict(letters.group_by("level").len().iter_rows())
    by_level = ", ".join(f"{counts[k]:,} {words[k]}" for k in LEVELS if k in counts)
    written = (
        f" and {letters.height:,} a collection letter ({by_level}), worded one step past the "
        "notices its overdue invoices were sent (only those recorded as sent or confirmed "
        "count) and never past its overdue tier"
        if letters.height
        else ""
    )
    frames = closed.period.frames
    disputed = disputed_invoices(
        closed.match.invoices, frames["decisions"], closed.review.exceptions, frames.get("disputes")
    )
    held = closed.review.aging.detail.filter(
        pl.col("customer_id").is_in(ids)
        & pl.col("invoice_id").is_in(list(disputed))
        & (pl.col("days_past_due") > 0)
    )
    return (
        f"The params ask for statements of `{config.customers}` customers"
        + (f" plus {len(config.customer_ids)} named" if config.customer_ids else "")
        + f": {len(ids):,} customers get a statement of account{written}. "
        + f"{held.height:,} overdue invoices under dispute are marked so on the statements "
        "and left out of the letters. They are written to `statements/` (PDF to send, HTML, "
        "xlsx) and `letters/` (PDF, HTML) of this close and listed in `statements/index.csv` "
        "with each ledger's figures; nothing is written unless every ledger's opening plus "
        "its movements is its closing and the closings are the aging less the unapplied cash "
        "and credit notes."
    )


def outbox_counts(messages: pl.DataFrame) -> pl.DataFrame:
    """The outbox's messages per channel and kind: how many can go, and how many cannot."""
    return (
        messages.group_by("channel", "kind")
        .agg(
            pl.len().alias("messages"),
            pl.col("sendable").sum().cast(pl.Int64).alias("sendable"),
            (~pl.col("sendable")).sum().cast(pl.Int64).alias("not_sendable"),
        )
        .sort("channel", "kind")
    )


def outbox_prose(closed) -> str:
    """What the close put in its outbox, and that nothing was sent."""
    messages = closed.outbox
    if messages.height == 0:
        return "The outbox of this close is empty: no statements or letters are requested."
    by = dict(messages.filter(pl.col("sendable")).group_by("channel").len().iter_rows())
    words = {"email": "e-mails", "sms": "SMS", "phone": "phone calls for the collector"}
    parts = ", ".join(f"{by[c]:,} {words[c]}" for c in ("email", "sms", "phone") if c in by)
    blocked = messages.filter(~pl.col("sendable"))
    reasons = dict(
        blocked.with_columns(pl.col("reason").str.replace(r"^'.*' is not", "a value that is not"))
        .group_by("reason")
        .len()
        .iter_rows()
    )
    held = "; ".join(f"{n:,} {r}" for r, n in sorted(reasons.items()))
    return (
        f"The outbox (`outbox/`, listed in `outbox/index.csv`) holds {parts or 'nothing to send'}"
        + (f"; {blocked.height:,} messages cannot go ({held})" if blocked.height else "")
        + ". Nothing is sent by the close: `arlib send` sends the e-mails and records each "
        "result in `outbox/contact_log.csv`, and only notices recorded there as sent or "
        "confirmed raise the next letter's level."
    )


def record_close(closed) -> None:
    record("rollforward", closed.rollforward.to_dicts())
    record("tie_out", closed.tie_out)
    record(
        "open_items",
        {
            t: n
            for t, n in closed.open_items.group_by("item_type")
            .agg(pl.len())
            .sort("item_type")
            .iter_rows()
        },
    )
    record("letters", dict(closed.letters.group_by("level").len().sort("level").iter_rows()))
    record(
        "outbox",
        dict(
            closed.outbox.filter(pl.col("sendable"))
            .group_by("channel")
            .len()
            .sort("channel")
            .iter_rows()
        ),
    )


def conclusions(closed) -> str:
    ties = all(d == 0 for d in closed.rollforward["difference"].to_list())
    counts = exception_counts(closed.review.exceptions)
    notices = closed.open_items.filter(pl.col("item_type") == "notice")
    items = closed.open_items.filter(pl.col("item_type") != "notice")
    dunned = notices.get_column("invoice_id").n_unique()
    tie = closed.tie_out
    lines = [
        "- The roll-forward "
        + ("ties in every currency." if ties else "**does not tie**: see above."),
        f"- {counts['open']:,} exceptions are open for follow-up (workpaper AR-4); "
        f"{counts['cleared']:,} were cleared as tolerance write-offs (proposed in AR-7)"
        + (f"; {counts['resolved']:,} were resolved" if counts["resolved"] else "")
        + ".",
        f"- {tie_out_sentence(tie)}",
        f"- {items.height:,} open items are carried to the next period (open_items.parquet)"
        + (f", with the dunning notices about {dunned:,} of the invoices." if dunned else "."),
    ]
    return "\n".join(lines)


def show(frame: pl.DataFrame, rows: int | None = None, caption: str | None = None):
    """A table as a reader wants it: headers in words, money with separators, loss rates
    and shares as percentages, FX rates with all their digits (by
    :func:`arlib.schema.column_words` and :func:`arlib.schema.value_kind`, as in the
    workbook), no dtype row, no index.

    ``rows`` limits long tables and says how many are not shown (the workpapers and CSVs
    hold everything); an empty frame is the word "None", not a bare header.
    """
    from IPython.display import HTML

    from arlib.schema import column_words, value_kind

    text = {
        "money": fmt_money,
        "fraction": fmt_percent,
        "rate": fmt_rate,
        "number": lambda v: f"{v:,.3f}",
        "integer": lambda v: f"{v:,}",
    }
    if frame.height == 0:  # a header over nothing reads as a table that failed to fill
        return HTML(f"<p><em>None{f' ({caption})' if caption else ''}.</em></p>")
    shown = frame if rows is None else frame.head(rows)
    columns = {}
    for name, dtype in shown.schema.items():
        write = text.get(value_kind(dtype), str)
        columns[name] = ["" if v is None else write(v) for v in shown[name].to_list()]
    numeric = {column_words(n) for n, t in shown.schema.items() if t.is_numeric()}
    html = _html_table({column_words(n): v for n, v in columns.items()}, numeric=numeric)
    notes = []
    if caption:
        notes.append(caption)
    if rows is not None and frame.height > rows:
        notes.append(f"first {rows:,} of {frame.height:,} rows shown; the rest are in the outputs")
    foot = f"<p><em>{'; '.join(notes)}</em></p>" if notes else ""
    return HTML(html + foot)


def customer_explorer(result):
    """Interactive (JupyterLab): pick a customer, see its open invoices, receipts and
    suggestions side by side. Static copies (HTML) show nothing here, by nature."""
    import ipywidgets as widgets

    from arlib.views import suggestions_with_amounts

    needs_review = result.receipts.filter(pl.col("status") != "applied")
    suggestions = suggestions_with_amounts(result)
    customers = sorted(c for c in needs_review["customer_id"].unique().to_list() if c is not None)
    invoices = result.invoices.filter(pl.col("open_amount") != 0)
    picker = widgets.Dropdown(options=customers, description="Customer")
    out = widgets.Output()

    def render(change=None):
        from IPython.display import display

        customer = picker.value
        out.clear_output()
        with out:
            open_items = invoices.filter(pl.col("customer_id") == customer).select(
                "invoice_id", "invoice_date", "due_date", "amount", "open_amount", "currency"
            )
            receipts = needs_review.filter(pl.col("customer_id") == customer).select(
                "receipt_id", "value_date", "amount", "unapplied", "status", "memo"
            )
            ids = receipts["receipt_id"].implode()
            suggested = suggestions.filter(pl.col("receipt_id").is_in(ids))
            display(show(open_items, caption=f"open invoices of {customer}"))
            display(show(receipts, caption="receipts needing review"))
            display(show(suggested, caption="suggestions"))

    picker.observe(render, names="value")
    render()
    return widgets.VBox([picker, out])


#: on screen a table wider than the page scrolls sideways inside its box; on paper every
#: cell may wrap and the type is smaller, so no column is cut off at the page edge
_TABLE_CSS = (
    "<style>.arlib-scroll{overflow-x:auto;max-width:100%}"
    "@media print{.arlib-scroll{overflow:visible}"
    "table.arlib{font-size:7.5pt;width:100%}"
    "table.arlib th,table.arlib td{white-space:normal!important;min-width:0!important;"
    "overflow-wrap:anywhere}}</style>"
)


def _html_table(columns: dict[str, list[str]], numeric: set[str]) -> str:
    """A plain HTML table: numbers right-aligned, short text kept on one line, long text
    (reasons, evidence) given room to wrap instead of squeezing every column; headers
    wrap, a long unbroken value (a SHA-256) breaks anywhere, and a table wider than the
    page scrolls on screen and wraps on paper (:data:`_TABLE_CSS`)."""
    from html import escape

    def style(name: str, values: list[str]) -> str:
        longest = max((len(v) for v in values), default=0)
        if name in numeric:
            return "text-align:right;white-space:nowrap"
        if longest > 40:
            return "text-align:left;min-width:28em;overflow-wrap:anywhere"
        return "text-align:left;white-space:nowrap"

    styles = {name: style(name, values) for name, values in columns.items()}
    align = {n: "right" if n in numeric else "left" for n in columns}
    head = "".join(
        f'<th style="text-align:{align[n]};vertical-align:bottom">{escape(n)}</th>' for n in columns
    )
    rows = []
    height = len(next(iter(columns.values()), []))
    for i in range(height):
        cells = "".join(f'<td style="{styles[n]}">{escape(v[i])}</td>' for n, v in columns.items())
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'{_TABLE_CSS}<div class="arlib-scroll"><table class="arlib"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def statement_controls(period):
    """Bank statement controls (opening + credits − debits = closing, per statement), or a
    sentence saying why there are none (receipts read from a plain table)."""
    from IPython.display import Markdown

    if period.statements is None or period.statements.height == 0:
        return Markdown(
            "Receipts were read from a table, not a bank statement file, so there are no "
            "statement balances to check."
        )
    unbalanced = period.statements.filter(pl.col("balanced").not_().fill_null(False)).height
    debits = 0 if period.debits is None else period.debits.height
    return show(
        period.statements,
        caption=f"{period.statements.height} statement(s), {unbalanced} not balancing; "
        f"{debits} debit line(s) kept apart from receipts",
    )
