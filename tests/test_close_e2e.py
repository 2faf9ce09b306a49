"""End to end: `arlib close` of the two sample periods in a temporary project.

One module-scoped fixture copies params/ and data/sample/ into tmp_path (notebooks/ is a
symlink), closes 2026-09 and then 2026-10 (which starts from 2026-09's open items), and
closes 2026-09 a second time into another folder to check reproducibility. Nothing is
written into the repository's own outputs/. Each close runs the five notebooks with
papermill (~10-20 s per close).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from arlib import cli
from arlib.close import NOTEBOOKS, CloseFailed, execute_notebook, run_close
from arlib.notebook import read_recorded
from arlib.pipeline import MATCH_COLUMNS
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PERIODS = ("2026-09", "2026-10")
# Every file README.md lists for outputs/<period>/ (statements/letters are not asked for).
PUBLISHED = [
    *NOTEBOOKS,
    *(Path(n).with_suffix(".html").name for n in NOTEBOOKS),
    "workpapers.xlsx",
    "matches.csv",
    "suggestions.csv",
    "unapplied_receipts.csv",
    "open_invoices.csv",
    "exceptions.csv",
    "aging.csv",
    "aging_by_customer.csv",
    "tiers.csv",
    "proposed_adjustments.csv",
    "open_items.parquet",
    "payment_history.parquet",
    "learned_aliases.csv",
    "manifest.json",
    "audit_log.jsonl",
]


def make_project(base: Path, periods=PERIODS) -> Path:
    """A project folder (params/, data/sample/, notebooks → repo) whose closes stay in it."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "params").mkdir()
    for period in periods:
        shutil.copy2(ROOT / "params" / f"{period}.yaml", base / "params")
        shutil.copytree(ROOT / "data" / "sample" / period, base / "data" / "sample" / period)
    shutil.copy2(ROOT / "data" / "sample" / "customers.csv", base / "data" / "sample")
    (base / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    return base


def close_in_process(root: Path) -> dict:
    """Close each sample period of ``root`` in this process (no notebooks) and write its
    outputs, as the publishing step does; returns the CloseResult per period."""
    from arlib import pipeline
    from arlib.config import load_config

    closed = {}
    for period in PERIODS:
        config = load_config(root / "params" / f"{period}.yaml")
        result = pipeline.close_stage(config, {})
        config.out_dir.mkdir(parents=True)
        pipeline.write_close_outputs(result, config.out_dir)
        closed[period] = result
    return closed


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("close_e2e") / "project")
    for period in PERIODS:
        out = run_close(root / "params" / f"{period}.yaml", progress=False)
        assert out == root / "outputs" / period
    rerun = run_close(
        root / "params" / "2026-09.yaml", overrides={"out_dir": "rerun/2026-09"}, progress=False
    )
    assert rerun == root / "rerun" / "2026-09"
    return root


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def money(text: str | None) -> Decimal:
    return Decimal((text or "0").replace(",", "")) if (text or "").strip() else Decimal(0)


def rollforward(project: Path, period: str) -> dict[str, dict[str, Decimal]]:
    rows = read_csv(project / "outputs" / period / "rollforward.csv")
    return {r["currency"]: {k: money(v) for k, v in r.items() if k != "currency"} for r in rows}


# ------------------------------------------------------------------------- published
@pytest.mark.parametrize("period", PERIODS)
def test_publishes_every_listed_file(project, period):
    out = project / "outputs" / period
    missing = [name for name in PUBLISHED if not (out / name).is_file()]
    assert not missing
    folders = {p.name for p in out.iterdir() if p.is_dir()}
    allowed = {"statements", "letters", "outbox", "followup"}
    assert folders <= allowed, "no build/state folders inside"
    assert (out / "outbox" / "index.csv").is_file()  # every close writes its outbox
    assert (out / "followup" / "tasks.csv").is_file()  # and its collection tasks
    if period == "2026-10":  # its params ask for statements of overdue customers
        assert (out / "statements" / "index.csv").is_file()
        assert folders == allowed
        rows = read_csv(out / "statements" / "index.csv")
        documents = {r[k] for r in rows for k in ("statement_pdf", "letter_pdf") if r[k]}
        assert len(documents) > len({r["customer_id"] for r in rows})  # letters among them
        assert all((out / d).read_bytes().startswith(b"%PDF-") for d in documents)
        assert all((out / r["statement_xlsx"]).is_file() for r in rows)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_no_leftover_build_or_failed_folders(project):
    assert sorted(p.name for p in (project / "outputs").iterdir()) == list(PERIODS)
    assert sorted(p.name for p in (project / "rerun").iterdir()) == ["2026-09"]


@pytest.mark.parametrize("period", PERIODS)
def test_html_copies_have_no_code(project, period):
    out = project / "outputs" / period
    for name in NOTEBOOKS:
        notebook = json.loads((out / name).read_text(encoding="utf-8"))
        page = (out / name).with_suffix(".html").read_text(encoding="utf-8")
        assert notebook["cells"] and "<html" in page.lower()
        code = [
            line.strip()
            for cell in notebook["cells"]
            if cell["cell_type"] == "code"
            for line in "".join(cell["source"]).splitlines()
            if len(line.strip()) > 24 and not line.strip().startswith("#")
        ]
        assert code
        shown = [line for line in code if html.escape(line) in page or line in page]
        assert not shown, f"{name}: code input in HTML: {shown[:3]}"


# ---------------------------------------------------------------------- roll-forward
@pytest.mark.parametrize("period", PERIODS)
def test_rollforward_ties_in_each_period(project, period):
    rf = rollforward(project, period)
    assert rf
    for currency, row in rf.items():
        computed = (
            row["opening_ar"]
            + row["invoiced"]
            - row["cash_applied"]
            - row["credit_notes_applied"]
            - row["adjustments"]
        )
        assert computed == row["closing_computed"], currency
        assert row["difference"] == row["closing_listed"] - row["closing_computed"], currency
        assert row["difference"] == 0, f"{period} {currency} does not tie: {row}"


def test_rollforward_ties_across_periods(project):
    """2026-10 opens with exactly what 2026-09 closed with, per currency."""
    september, october = rollforward(project, "2026-09"), rollforward(project, "2026-10")
    closing = {c: row["closing_listed"] for c, row in september.items()}
    opening = {c: october[c]["opening_ar"] for c in closing}
    assert opening == closing


def test_open_items_carry_september_closing(project):
    """The carried open items themselves hold 2026-09's closing AR (isolates the bug above)."""
    import polars as pl

    items = pl.read_parquet(project / "outputs" / "2026-09" / "open_items.parquet")
    carried = {
        c: Decimal(str(v))
        for c, v in items.filter(pl.col("item_type") == "invoice")
        .group_by("currency")
        .agg(pl.col("open_amount").sum())
        .iter_rows()
    }
    september = rollforward(project, "2026-09")
    assert carried == {c: row["closing_listed"] for c, row in september.items()}


def test_septembers_open_short_payments_are_in_octobers_exceptions(project):
    """Independent path, from the CSVs: every short payment September left open whose
    invoice is still open in October is in October's exceptions.csv, same id, first seen
    2026-09; the others (their invoice paid in October) are there too, resolved."""
    september = read_csv(project / "outputs" / "2026-09" / "exceptions.csv")
    october = {r["exception_id"]: r for r in read_csv(project / "outputs/2026-10/exceptions.csv")}
    still_open = {r["invoice_id"] for r in read_csv(project / "outputs/2026-10/open_invoices.csv")}
    short = [r for r in september if r["type"] == "short_payment" and r["status"] == "open"]
    open_ones = [r for r in short if r["invoice_id"] in still_open]
    assert (len(short), len(open_ones)) == (30, 23)  # 5 of them payments on account
    for r in open_ones:
        got = october[r["exception_id"]]
        assert (got["invoice_id"], got["first_seen"], got["age_periods"], got["status"]) == (
            r["invoice_id"],
            "2026-09",
            "1",
            "open",
        )
    for r in short:
        if r["invoice_id"] not in still_open:
            got = october[r["exception_id"]]
            assert got["status"] == "resolved"
            assert got["resolution"].startswith(f"invoice {r['invoice_id']} cleared by ")


def test_cash_carried_into_october_is_not_outside_its_period(project):
    """September's 52 unapplied receipts (from its CSV) are carried in, and none is warned
    as outside October: October's own bank lines are all dated in October, so no warning is
    due at all (tests/test_validate.py has the near miss of a line dated outside)."""
    carried = {
        r["receipt_id"] for r in read_csv(project / "outputs/2026-09/unapplied_receipts.csv")
    }
    assert len(carried) == 52
    findings = read_csv(project / "outputs" / "2026-10" / "findings.csv")
    assert [r for r in findings if r["rule"] == "outside_period"] == []
    with open(project / "data/sample/2026-10/bank_statement.csv", encoding="utf-8") as handle:
        dates = {row["交易日期"][:7] for row in csv.DictReader(handle)}
    assert dates == {"2026/10"}


@pytest.mark.parametrize("period", PERIODS)
def test_recorded_figures_equal_rollforward_csv(project, period):
    out = project / "outputs" / period
    recorded = read_recorded(out / "04_close_and_signoff.ipynb")
    from_notebook = {
        row["currency"]: {k: money(str(v)) for k, v in row.items() if k != "currency"}
        for row in recorded["rollforward"]
    }
    assert from_notebook == rollforward(project, period)


def _markdown_outputs(path: Path) -> str:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join(
        "".join(output["data"]["text/markdown"])
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if "text/markdown" in output.get("data", {})
    )


@pytest.mark.parametrize("period", PERIODS)
def test_executed_notebooks_tell_the_manifest_figures(project, period):
    """Tie-out sentence (04), cash bridge (02) and provision (03) as the manifest has them."""
    from arlib.notebook import tie_out_sentence

    out = project / "outputs" / period
    totals = json.loads((out / "manifest.json").read_text("utf-8"))["control_totals"]
    assert tie_out_sentence(totals["tie_out"]) in _markdown_outputs(
        out / "04_close_and_signoff.ipynb"
    )
    assert totals["tie_out"]["status"] != "not performed"  # the sample gives GL balances
    bridge = read_recorded(out / "02_reconcile.ipynb")["cash_bridge"]
    assert bridge == totals["cash_bridge"]
    assert {row["amount"] for row in bridge if row["line"] == "Difference (must be 0)"} == {"0.00"}
    provision = read_recorded(out / "03_exceptions_and_aging.ipynb")["review"]["provision"]
    assert provision == {k: totals["provision"][k] for k in ("opening", "charge", "closing")}


def _images(notebook: Path) -> int:
    book = json.loads(notebook.read_text(encoding="utf-8"))
    return sum(
        "image/png" in output.get("data", {})
        for cell in book["cells"]
        for output in cell.get("outputs", [])
    )


def test_notebooks_draw_charts_and_the_kpi_trend_reads_earlier_closes(project):
    """03 draws exceptions by class, aging, top overdue customers (2026-09 has nobody
    overdue: no chart, a sentence), unapplied cash by age and the DSO/CEI trend; 04 the
    roll-forward waterfall. 2026-10's trend holds 2026-09's KPIs as its manifest published
    them, then its own; 2026-09 (a first close) has one point and says so."""
    manifests = {
        p: json.loads((project / "outputs" / p / "manifest.json").read_text("utf-8"))
        for p in PERIODS
    }
    drawn = {
        p: [
            _images(project / "outputs" / p / f"{n}.ipynb")
            for n in ("03_exceptions_and_aging", "04_close_and_signoff")
        ]
        for p in PERIODS
    }
    assert drawn == {"2026-09": [4, 1], "2026-10": [5, 1]}
    trend = read_recorded(project / "outputs" / "2026-10" / "03_exceptions_and_aging.ipynb")
    assert trend["kpi_trend"] == [
        {"period": p, "dso": manifests[p]["kpis"]["dso"], "cei": manifests[p]["kpis"]["cei"]}
        for p in PERIODS
    ]
    first = project / "outputs" / "2026-09" / "03_exceptions_and_aging.ipynb"
    assert [row["period"] for row in read_recorded(first)["kpi_trend"]] == ["2026-09"]
    assert "the chart shows a single point" in _markdown_outputs(first)


@pytest.mark.parametrize("period", PERIODS)
def test_notebook_tables_have_headers_in_words(project, period):
    page = (project / "outputs" / period / "02_reconcile.html").read_text(encoding="utf-8")
    for words in ("Receipt amount", "Invoice open amount", "Difference", "Days unapplied"):
        assert f">{words}</th>" in page, words
    assert ">receipt_amount</th>" not in page and ">applied_amount</th>" not in page


# ---------------------------------------------------------------------- matches.csv
@pytest.mark.parametrize("period", PERIODS)
def test_matches_columns_per_design(project, period):
    with open(project / "outputs" / period / "matches.csv", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[: len(MATCH_COLUMNS)] == [
        "receipt_id",
        "invoice_id",
        "applied_amount",
        "currency",
        "rule",
        "confidence",
        "reason",
    ]
    rows = read_csv(project / "outputs" / period / "matches.csv")
    assert rows
    for row in rows:
        assert row["rule"] and row["reason"], row
        assert 0 <= float(row["confidence"]) <= 1, row


def _bank_receipts(path: Path) -> dict[str, Decimal]:
    """The input bank statement read with csv + Decimal (流水号 → 金额), no arlib."""
    amounts = {}
    for row in read_csv(path):
        assert row["流水号"] not in amounts
        amounts[row["流水号"]] = money(row["金额"])
    return amounts


@pytest.mark.parametrize("period", PERIODS)
def test_every_receipt_is_allocated_or_unapplied(project, period):
    """Slow-path conservation: per receipt, allocated + unapplied = amount received."""
    out = project / "outputs" / period
    received = _bank_receipts(project / "data" / "sample" / period / "bank_statement.csv")
    if period == "2026-10":  # unapplied cash carried from 2026-09 is received again here
        for row in read_csv(project / "outputs" / "2026-09" / "unapplied_receipts.csv"):
            if money(row["unapplied"]) > 0:
                received[row["receipt_id"]] = money(row["unapplied"])
    allocated: dict[str, Decimal] = defaultdict(Decimal)
    for row in read_csv(out / "matches.csv"):
        if row["kind"] != "credit_note":  # a credit note's row carries its credit_id
            allocated[row["receipt_id"]] += money(row["receipt_amount"])
    unapplied = {
        r["receipt_id"]: money(r["unapplied"]) for r in read_csv(out / "unapplied_receipts.csv")
    }
    receipt_ids = set(allocated)
    assert receipt_ids <= set(received), sorted(receipt_ids - set(received))[:5]
    assert set(unapplied) <= set(received)
    wrong = {
        rid: (allocated.get(rid, Decimal(0)), unapplied.get(rid, Decimal(0)), amount)
        for rid, amount in received.items()
        if allocated.get(rid, Decimal(0)) + unapplied.get(rid, Decimal(0)) != amount
    }
    assert not wrong, list(wrong.items())[:5]


# ---------------------------------------------------------------- manifest and log
@pytest.mark.parametrize("period", PERIODS)
def test_manifest_hashes_match_inputs(project, period):
    manifest = json.loads((project / "outputs" / period / "manifest.json").read_text("utf-8"))
    assert manifest["period"] == period
    inputs = {item["input"]: item for item in manifest["inputs"]}
    expected = {"invoices", "receipts", "customers", "credit_notes", "fx_rates", "contacts"}
    if period == "2026-09":  # the replies to September's statements
        expected |= {"replies"}
    if period == "2026-10":  # September's open items, and its learned aliases as reviewed
        expected |= {"opening", "learned_aliases"}
    assert set(inputs) == expected
    for name, item in inputs.items():
        data = (project / item["file"]).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest(), name
    assert manifest["params"]["period"] == period
    assert manifest["versions"]["polars"]


@pytest.mark.parametrize("period", PERIODS)
def test_audit_log_one_line_per_step(project, period):
    lines = (project / "outputs" / period / "audit_log.jsonl").read_text("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == [Path(n).stem for n in NOTEBOOKS] + ["outputs"]
    for record, name in zip(records, NOTEBOOKS, strict=False):
        assert list(record["outputs"]) == [name]
    outputs_step = records[-1]
    assert outputs_step["rows"]["allocations"] > 0
    assert "matches.csv" in outputs_step["outputs"]
    data = (project / "outputs" / period / "matches.csv").read_bytes()
    assert outputs_step["outputs"]["matches.csv"] == hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ reproducibility
def _cells(path: Path) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    finally:
        book.close()


def test_rerun_reproduces_workpapers_and_csvs(project):
    first, again = project / "outputs" / "2026-09", project / "rerun" / "2026-09"
    a, b = _cells(first / "workpapers.xlsx"), _cells(again / "workpapers.xlsx")
    assert list(a) == list(b)
    for sheet in a:
        assert a[sheet] == b[sheet], sheet
    for name in ("matches.csv", "exceptions.csv"):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name


# ------------------------------------------------------------------- failures
def _break_period(project: Path) -> None:
    invoices = project / "data" / "sample" / "2026-09" / "invoices.csv"
    rows = list(csv.reader(invoices.open(encoding="utf-8", newline="")))
    rows[2][rows[0].index("amount")] = "abc"  # file line 3
    rows[5][0] = rows[4][0]  # file line 6 repeats line 5's invoice id
    with invoices.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    credits = project / "data" / "sample" / "2026-09" / "credit_notes.csv"
    rows = list(csv.reader(credits.open(encoding="utf-8", newline="")))
    drop = rows[0].index("amount")
    with credits.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([r[:drop] + r[drop + 1 :] for r in rows])


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_published_notebook_reruns_where_it_lies(project, notebook, tmp_path):
    """An auditor re-executes a published notebook from its folder: the injected parameters
    hold no absolute path, and it reproduces every figure it recorded."""
    import nbformat

    published = project / "outputs" / "2026-10" / notebook
    book = nbformat.read(published, as_version=4)
    injected = next(c for c in book.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert str(project) not in injected.source and "building-" not in injected.source
    text = published.read_text(encoding="utf-8")
    assert str(project) not in text and "building-" not in text
    rerun = tmp_path / notebook
    execute_notebook(published, rerun, parameters=None, cwd=published.parent)
    assert read_recorded(rerun) == read_recorded(published)
    assert not (published.parent / ".state").exists()


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("close_broken") / "project", ("2026-09",))
    _break_period(root)
    return root


def test_broken_period_fails_cleanly(broken):
    with pytest.raises(CloseFailed) as info:
        run_close(broken / "params" / "2026-09.yaml", progress=False)
    message = str(info.value)
    assert "01_load_and_validate.ipynb" in message
    assert "cell " in message and "DataErrors" in message
    outputs = broken / "outputs"
    assert not (outputs / "2026-09").exists()
    assert sorted(p.name for p in outputs.iterdir()) == ["2026-09.FAILED"]
    failed = outputs / "2026-09.FAILED"
    assert sorted(p.name for p in failed.iterdir()) == ["01_load_and_validate.ipynb", "README.txt"]
    notebook = (failed / "01_load_and_validate.ipynb").read_text(encoding="utf-8")
    assert "DataErrors" in notebook and "invoices.csv" in notebook
    readme = (failed / "README.txt").read_text(encoding="utf-8")
    assert "01_load_and_validate.ipynb" in readme and "cell " in readme


def test_validate_lists_every_problem(broken, capsys):
    code = cli.main(["validate", "--params", str(broken / "params" / "2026-09.yaml")])
    printed = capsys.readouterr().out
    assert code == 2
    errors = [line for line in printed.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 3, printed
    text = "\n".join(errors)
    assert "data/sample/2026-09/invoices.csv:3: amount: 'abc'" in text
    assert "data/sample/2026-09/invoices.csv:6: invoice_id:" in text
    assert "already used on row 5" in text
    # a missing column has no data row: the file and the column are named
    assert "data/sample/2026-09/credit_notes.csv: amount:" in text
    assert "required column 'amount' not found" in text


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("colour_scheme: dark\n", "colour_scheme: unknown key"),
        ("as_of: 2026-09-31\n", "as_of: '2026-09-31' is not a valid date"),
        ("matching: {no_such_option: 1}\n", "matching.no_such_option: unknown key"),
    ],
)
def test_params_error_exits_2_and_creates_nothing(tmp_path, capsys, extra, named):
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    (root / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    shutil.copytree(ROOT / "data" / "sample" / "2026-09", root / "data" / "sample" / "2026-09")
    shutil.copy2(ROOT / "data" / "sample" / "customers.csv", root / "data" / "sample")
    text = (ROOT / "params" / "2026-09.yaml").read_text(encoding="utf-8") + extra
    params = root / "params" / "2026-09.yaml"
    params.write_text(text, encoding="utf-8")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    code = cli.main(["close", "--params", str(params), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert named in err, err
    assert not (root / "outputs").exists()
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


# ------------------------------------------------------------------------- outbox
def test_the_october_outbox_opens_in_a_mail_program_and_sends_nothing(project):
    """Every e-mail of the 2026-10 sample parses back (RFC 5322) with its customer's address,
    a text and an HTML body, and its statement attached byte for byte; every SMS fits one
    message; no contact log (the demo never sends), so October's letters are reminders."""
    from email import message_from_bytes, policy

    from arlib.outbox import sms_fits

    out = project / "outputs" / "2026-10"
    index = read_csv(out / "outbox" / "index.csv")
    statements = {r["customer_id"]: r for r in read_csv(out / "statements" / "index.csv")}
    assert {r["customer_id"] for r in index} == set(statements)
    emails = [r for r in index if r["channel"] == "email" and r["sendable"] == "true"]
    assert sorted(p.name for p in (out / "outbox").glob("*.eml")) == sorted(
        r["file"] for r in emails
    )
    assert len(emails) == len(statements)  # every sample customer has an address
    for row in emails:
        mail = message_from_bytes(
            (out / "outbox" / row["file"]).read_bytes(), policy=policy.default
        )
        assert mail["To"].addresses[0].addr_spec == row["recipient"]
        assert mail.get_body(("plain",)).get_content().strip()
        assert "<html" in mail.get_body(("html",)).get_content()
        # the statement's PDF first, under its document number; then the letter's, if any
        attached = next(mail.iter_attachments())
        listed = statements[row["customer_id"]]
        assert attached.get_filename() == f"{listed['document_number']}.pdf"
        assert attached.get_content() == (out / listed["statement_pdf"]).read_bytes()
    sms = read_csv(out / "outbox" / "sms.csv")
    assert sms and all(sms_fits(r["text"]) for r in sms)
    assert {r["message_id"] for r in sms} == {
        r["message_id"] for r in index if r["channel"] == "sms" and r["sendable"] == "true"
    }
    assert not (out / "outbox" / "contact_log.csv").exists()
    levels = {r["level"] for r in index if r["kind"] == "notice"}
    assert levels == {"reminder"}  # September's notices were only prepared
