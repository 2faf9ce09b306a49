"""Customer statements and collection letters: selection, totals tied to independent sums,
letter wording by tier, language, hostile names and ids."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from arlib import pipeline
from arlib.config import ConfigError, load_config
from arlib.dunning import tier_cap
from arlib.statements import (
    Document,
    SenderConfig,
    _language,
    file_stem,
    write_statements,
)
from arlib.statements import html as html_pages

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params" / "2026-09.yaml"


def close(**statements):
    # as of year end, September's unpaid invoices are overdue by up to three months
    config = load_config(PARAMS, {"as_of": "2026-12-31", "statements": statements})
    return pipeline.close_stage(config)


@pytest.fixture(scope="module")
def result_all():
    return close(customers="all")


#: what the shipped letters of the first two levels say (arlib/templates/)
REMINDER = {"zh": "可能是贵司疏忽", "en": "Perhaps this has been overlooked"}
SECOND = {"zh": "此为第二次催款通知", "en": "This is our second notice"}


def read_index(folder: Path) -> list[dict[str, str]]:
    with open(folder / "statements" / "index.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_customer_with_open_items_or_cash_ties_to_independent_sums(result_all, tmp_path):
    written = write_statements(result_all, tmp_path)
    index = read_index(tmp_path)
    # independent path: the open invoices and unapplied receipts straight from matching
    inv = result_all.match.invoices.filter(pl.col("open_amount") > 0)
    cash = result_all.match.receipts.filter(
        (pl.col("unapplied") > 0) & pl.col("customer_id").is_not_null()
    )
    want_open: dict[str, Decimal] = defaultdict(Decimal)
    want_cash: dict[str, Decimal] = defaultdict(Decimal)
    for r in inv.iter_rows(named=True):
        want_open[r["currency"]] += r["open_amount"]
    for r in cash.iter_rows(named=True):
        want_cash[r["currency"]] += r["unapplied"]
    # credit notes not netted are the customer's credit too, as in the aging's net balance
    credits = result_all.review.aging.unapplied_credit_notes
    for r in credits.iter_rows(named=True):
        want_cash[r["currency"]] += r["unapplied"]
    got_open: dict[str, Decimal] = defaultdict(Decimal)
    got_cash: dict[str, Decimal] = defaultdict(Decimal)
    for row in index:
        got_open[row["currency"]] += Decimal(row["open_amount"])
        got_cash[row["currency"]] += Decimal(row["unapplied"])
        assert Decimal(row["balance"]) == Decimal(row["open_amount"]) - Decimal(row["unapplied"])
    assert dict(got_open) == {k: v for k, v in want_open.items()}
    assert dict(got_cash) == {k: v for k, v in want_cash.items()}
    customers = {row["customer_id"] for row in index}
    assert customers == (
        set(inv["customer_id"]) | set(cash["customer_id"]) | set(credits["customer_id"])
    )
    # one statement per customer, each listing all of its open invoices
    statements = [p for p in written if p.parent.name == "statements" and p.suffix == ".html"]
    assert len(statements) == len(customers)
    some = inv["customer_id"][0]
    page = (tmp_path / "statements" / f"{some}.html").read_text(encoding="utf-8")
    for iid in inv.filter(pl.col("customer_id") == some)["invoice_id"]:
        assert iid in page


def awaited_invoices(result) -> pl.Series:
    """Invoices a receipt still unapplied names, by its first suggestion or an open
    exception about it: a letter does not ask for them (worked out here without
    :func:`arlib.statements.payment_pending_invoices`)."""
    waiting = set(result.match.receipts.filter(pl.col("unapplied") > 0)["receipt_id"])
    named = [
        iid
        for r in result.match.suggestions.iter_rows(named=True)
        if r["rank"] == 1 and r["receipt_id"] in waiting
        for iid in r["invoice_ids"].split("|")
    ]
    named += [
        r["invoice_id"]
        for r in result.review.exceptions.iter_rows(named=True)
        if r["status"] == "open" and r["receipt_id"] in waiting and r["invoice_id"]
    ]
    return pl.Series(named, dtype=pl.String)


def test_first_letters_are_reminders_about_what_is_not_in_dispute(result_all, tmp_path):
    """No letter was sent before this first close, so every letter is a reminder, whatever
    the tier (tier A used to say "final demand" and B "second notice"). A customer gets one
    when it has an overdue invoice that no open dispute exception (short payment) names and
    no unapplied receipt awaits (:func:`awaited_invoices`); the
    letter's oldest overdue days are those of such an invoice."""
    write_statements(result_all, tmp_path)
    tiers = result_all.review.tiers.filter(pl.col("tier").is_not_null())
    assert set(tiers["tier"]) == {"A", "B", "C"}
    disputes = result_all.review.exceptions.filter(
        (pl.col("class") == "dispute") & (pl.col("status") == "open")
    )["invoice_id"]
    held = pl.concat([disputes.drop_nulls(), awaited_invoices(result_all)])
    dunned = result_all.review.aging.detail.filter(
        (pl.col("days_past_due") > 0) & ~pl.col("invoice_id").is_in(held.implode())
    )
    letters = {p.stem for p in (tmp_path / "letters").glob("*.html")}
    assert letters == set(dunned["customer_id"]) and len(letters) < tiers.height
    worst = dict(dunned.group_by("customer_id").agg(pl.col("days_past_due").max()).iter_rows())
    for cid in sorted(letters)[:20]:
        page = (tmp_path / "letters" / f"{cid}.html").read_text(encoding="utf-8")
        lang = "zh" if 'lang="zh"' in page else "en"
        assert REMINDER[lang] in page
        assert SECOND[lang] not in page
        assert str(worst[cid]) in page


def test_selection_none_overdue_and_ids():
    result = close()
    assert write_statements(result, Path("/nonexistent")) == []  # nothing asked, nothing written
    result = close(customers="overdue", customer_ids=["C000001"], letters=False)
    config = result.config.statements
    from arlib.statements import selected_customers

    chosen = selected_customers(result.review, result.match, config)
    tiered = set(result.review.tiers.filter(pl.col("tier").is_not_null())["customer_id"])
    assert set(chosen) == tiered | {"C000001"}


def test_bad_selection_is_a_config_error():
    with pytest.raises(ConfigError, match="statements"):
        load_config(PARAMS, {"statements": {"customers": "some"}})
    with pytest.raises(ConfigError, match="statements.recipients"):
        load_config(PARAMS, {"statements": {"recipients": "all"}})


def test_language_and_severity_and_file_names():
    assert _language("zh-CN", "Acme") == "zh"
    assert _language(None, "Acme GmbH") == "en"
    assert _language("", "上海某某有限公司") == "zh"
    assert _language("EN", "上海某某有限公司") == "en"
    assert [tier_cap(t, ["A", "B", "C"]) for t in "ABC"] == ["final", "second", "reminder"]
    assert tier_cap("X", ["X"]) == "reminder"
    taken: set[str] = set()
    assert file_stem("../etc/passwd", taken) == "_etc_passwd"
    assert file_stem("C/1", taken) == "C_1"
    assert file_stem("C:1", taken) == "C_1_2"  # no two customers share a file


def test_names_are_escaped(tmp_path):
    doc = Document(
        customer_id="C1",
        name="<script>alert(1)</script> & Co",
        lang="en",
        number="ST-2026-10-C1",
        letter_number="DL-2026-10-C1",
        issue_date="2026-10-31",
        period="2026-10",
        sender=SenderConfig(legal_name="<b>us</b>"),
        logo=None,
        reply_days=10,
        ledgers=[],
        tier="C",
        level="reminder",
        letter=["Dear <i>CNY</i> 2.00"],
    )
    for page in (
        html_pages.write_letter(doc, tmp_path / "letter.html").read_text(encoding="utf-8"),
        html_pages.write_statement(doc, tmp_path / "statement.html").read_text(encoding="utf-8"),
    ):
        assert "<script>" not in page and "&lt;script&gt;" in page
        assert "<b>us</b>" not in page and "&lt;b&gt;us&lt;/b&gt;" in page
    assert "<i>CNY</i>" not in page
    letter = (tmp_path / "letter.html").read_text(encoding="utf-8")
    assert "Dear &lt;i&gt;CNY&lt;/i&gt; 2.00" in letter


def test_notebook_prose_states_the_counts(result_all):
    from arlib.notebook import statements_prose

    text = statements_prose(result_all)
    n = len(
        set(result_all.review.aging.detail["customer_id"])
        | set(result_all.match.receipts.filter(pl.col("unapplied") > 0)["customer_id"].drop_nulls())
        | set(result_all.review.aging.unapplied_credit_notes["customer_id"])
    )
    assert f"{n:,} customers get a statement" in text
    # independently: overdue invoices, those named by an open dispute exception or by a
    # customer's unresolved dispute (the sample's reply disputes INV0001999) apart
    disputes = result_all.review.exceptions.filter(
        (pl.col("class") == "dispute") & (pl.col("status") == "open")
    )["invoice_id"].drop_nulls()
    replied = result_all.period.frames["disputes"].filter(pl.col("status") != "resolved")
    assert replied["invoice_id"].to_list() == ["INV0001999"]
    disputes = pl.concat([disputes, replied["invoice_id"]])
    overdue = result_all.review.aging.detail.filter(pl.col("days_past_due") > 0)
    held = overdue.filter(pl.col("invoice_id").is_in(disputes.implode()))
    awaited = overdue.filter(pl.col("invoice_id").is_in(awaited_invoices(result_all).implode()))
    dunned = (
        overdue.join(held, on="invoice_id", how="anti")
        .join(awaited, on="invoice_id", how="anti")["customer_id"]
        .n_unique()
    )
    assert f"{dunned:,} a collection letter ({dunned:,} reminder)" in text
    assert f"{held.height:,} overdue invoices under dispute are marked so" in text
    assert "No customer statements" in statements_prose(close())
