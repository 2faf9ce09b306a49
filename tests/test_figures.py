"""The figures of the two sample closes, checked against answers computed here from the
input and output files with ``csv`` + ``Decimal`` (never from the code under test), and
the same figure in the same words wherever a close shows it.

One module-scoped fixture closes 2026-09 and then 2026-10 (which starts from 2026-09's
open items) in-process, into a temporary copy of the project, and writes every output
except the notebooks (a few seconds; `test_close_e2e` runs the notebooks).
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml

from arlib import pipeline
from arlib.config import load_config
from arlib.schema import column_words
from tests.test_close_e2e import PERIODS, close_in_process, make_project

D = Decimal
CENT = D("0.01")
# the documented default loss rates (docs/params-defaults.yaml, provision.loss_rates)
LOSS_RATES = {
    "not_due": D("0.005"),
    "1-30": D("0.02"),
    "31-60": D("0.05"),
    "61-90": D("0.10"),
    "91-180": D("0.25"),
    ">180": D("0.50"),
    "invalid_date": D("1.00"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict[str, pipeline.CloseResult]]:
    root = make_project(tmp_path_factory.mktemp("figures") / "project")
    return root, close_in_process(root)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def out(project, period: str) -> Path:
    return project[0] / "outputs" / period


def params(project, period: str) -> dict:
    return yaml.safe_load((project[0] / "params" / f"{period}.yaml").read_text("utf-8"))


# ------------------------------------------------------------------ 1. ECL provision
def provision_from_aging(path: Path) -> Decimal:
    """The matrix by hand: per bucket, base outstanding × rate, half-up to the cent."""
    per_bucket: dict[str, Decimal] = {}
    for row in read_csv(path):
        per_bucket[row["bucket"]] = per_bucket.get(row["bucket"], D(0)) + D(row["open_amount_base"])
    return sum(
        (
            (amount * LOSS_RATES[b]).quantize(CENT, ROUND_HALF_UP)
            for b, amount in per_bucket.items()
        ),
        D("0.00"),
    )


def ecl_entry(path: Path) -> tuple[Decimal, Decimal]:
    """(debit to 6702 impairment, credit to 6702) of the proposed ECL journal."""
    rows = [r for r in read_csv(path) if r["reference"].startswith("ECL ")]
    impairment = [r for r in rows if r["account"] == "6702"]
    assert len(rows) == 2 and len(impairment) == 1, rows
    return D(impairment[0]["debit"]), D(impairment[0]["credit"])


def test_provision_is_booked_once_then_only_its_movement(project):
    september = provision_from_aging(out(project, "2026-09") / "aging.csv")
    october = provision_from_aging(out(project, "2026-10") / "aging.csv")
    assert september == D("430915.73")  # first close: the whole provision is the charge
    assert ecl_entry(out(project, "2026-09") / "proposed_adjustments.csv") == (september, 0)
    movement = october - september
    debit, credit = ecl_entry(out(project, "2026-10") / "proposed_adjustments.csv")
    assert debit - credit == movement
    provided = project[1]["2026-10"].review.provision
    assert (provided.opening_provision, provided.total_provision) == (september, october)
    assert provided.movement == movement
    assert "2026-09" in provided.opening_source


def test_closing_provision_is_carried_in_the_open_items(project):
    import polars as pl

    from arlib import carry

    stamped = pl.read_parquet_metadata(out(project, "2026-09") / "open_items.parquet")
    september = provision_from_aging(out(project, "2026-09") / "aging.csv")
    assert stamped[carry.PROVISION_KEY] == str(september)
    assert stamped[carry.BASE_CURRENCY_KEY] == "CNY"


def sheet_rows(path: Path, name: str) -> list[tuple]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in book[name].iter_rows(values_only=True)]
    finally:
        book.close()


def test_opening_charge_and_closing_shown_in_notebook_and_ar8(project):
    from arlib import notebook as nb

    september = provision_from_aging(out(project, "2026-09") / "aging.csv")
    october = provision_from_aging(out(project, "2026-10") / "aging.csv")
    closed = project[1]["2026-10"]
    prose = nb.provision_prose(closed.review, closed.config)
    for figure in (september, october - september, october):
        assert nb.money(figure, "CNY") in prose, (figure, prose)
    assert "ADJ-2026-10-" in prose  # the journal that proposes the charge
    rows = sheet_rows(out(project, "2026-10") / "workpapers.xlsx", "Provision")
    lines = {r[0]: r[1] for r in rows[3:] if r[0]}
    amounts = [D(str(v)).quantize(CENT) for v in lines.values()]
    assert amounts == [september, october - september, october]
    assert rows[0][0].startswith("AR-8 ")
    matrix = sheet_rows(out(project, "2026-10") / "workpapers.xlsx", "Provision matrix")
    assert matrix[0][0].startswith("AR-8.1 ")


def test_params_opening_provision_must_agree_with_the_previous_close(project):
    from arlib.load import load_period

    path = project[0] / "params" / "2026-10.yaml"
    september = provision_from_aging(out(project, "2026-09") / "aging.csv")
    agreeing = load_period(load_config(path, {"provision": {"opening_provision": september}}))
    assert agreeing.opening_provision.amount == september
    assert not agreeing.findings.filter(agreeing.findings["rule"] == "provision_mismatch").height
    other = load_period(load_config(path, {"provision": {"opening_provision": "1000.00"}}))
    errors = other.findings.filter(other.findings["severity"] == "error")
    assert errors["rule"].to_list() == ["provision_mismatch"]
    assert errors["file"].to_list() == ["outputs/2026-09/open_items.parquet"]


# ------------------------------------------------------------------ 2. GL tie-out
# What the sample params say the GL control account holds (their comments say why):
# 2026-09 ties once the proposed write-offs are booked; 2026-10 keeps ¥1,250.00 unexplained.
UNEXPLAINED = {"2026-09": D("0.00"), "2026-10": D("1250.00")}
STATUS = {"2026-09": "ties after adjustments", "2026-10": "difference"}


def tie_out_by_hand(project, period: str) -> dict[str, Decimal]:
    """Net AR from aging_by_customer.csv (open − unapplied + credits per customer), the
    GL from the params YAML, the write-offs matching made from the proposal's AR lines."""
    folder = out(project, period)
    by_customer = read_csv(folder / "aging_by_customer.csv")
    gross = sum((D(r["total_outstanding"]) for r in by_customer), D(0))
    net = sum((D(r["net_balance"]) for r in by_customer), D(0))
    ar_lines = [
        r
        for r in read_csv(folder / "proposed_adjustments.csv")
        if r["account"] == "1122" and r["in_subledger"] == "true"
    ]
    explained = sum((D(r["credit"]) - D(r["debit"]) for r in ar_lines), D(0))
    gl = D(str(params(project, period)["gl_control_balance"]))
    return {
        "closing_ar_base": gross,
        "net_ar_base": net,
        "gl_control_balance": gl,
        "difference": gl - net,
        "explained_by_proposed_adjustments": explained,
        "unexplained": gl - net - explained,
    }


@pytest.mark.parametrize("period", PERIODS)
def test_sample_gl_balance_ties_as_documented(project, period):
    expected = tie_out_by_hand(project, period)
    assert expected["unexplained"] == UNEXPLAINED[period]
    tie = project[1][period].tie_out
    for key, value in expected.items():
        assert tie[key] == value, key
    assert tie["status"] == STATUS[period]


@pytest.mark.parametrize("period", PERIODS)
def test_tie_out_same_words_and_figures_in_notebook_lead_and_terminal(
    project, period, capsys, monkeypatch
):
    import json

    from pydantic_core import to_jsonable_python

    from arlib import cli
    from arlib import notebook as nb

    closed = project[1][period]
    expected = tie_out_by_hand(project, period)
    prose = nb.tie_out_prose(closed)
    sentence = prose.splitlines()[0]
    assert sentence.startswith(f"GL tie-out: {STATUS[period]}.")
    for key in ("gl_control_balance", "net_ar_base", "difference"):
        assert nb.money(expected[key], "CNY") in sentence, key
    if expected["unexplained"]:
        assert nb.money(expected["unexplained"], "CNY") in sentence
    assert "Closing AR" not in prose  # the comparison is with net AR, and says so

    lead = sheet_rows(out(project, period) / "workpapers.xlsx", "Lead")
    shown = {r[1]: r[2] for r in lead[3:] if r[1]}
    assert f"GL tie-out: {STATUS[period]}" in shown
    labels = dict(pipeline.TIE_OUT_LINES)
    for key, value in expected.items():
        assert D(str(shown[labels[key]])).quantize(CENT) == value, key

    assert sentence == nb.tie_out_sentence(closed.tie_out)
    assert f"GL tie-out: {STATUS[period]}" in nb.conclusions(closed)
    # `arlib close` prints the same sentence, read back from the manifest's control totals
    folder = out(project, period)
    manifest = {"control_totals": closed.control_totals()}
    (folder / "manifest.json").write_text(
        json.dumps(to_jsonable_python(manifest)), encoding="utf-8"
    )
    monkeypatch.setattr("arlib.close.run_close", lambda *a, **k: folder)  # notebooks: e2e
    code = cli.main(["close", "--params", str(project[0] / "params" / f"{period}.yaml")])
    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert printed[:2] == [f"close complete: {folder}", f"  {sentence}"]


# ------------------------------------------------------------ 3. totals per currency
def sums(rows, keys: tuple[str, ...], amount: str) -> dict[tuple, Decimal]:
    """Σ ``amount`` per ``keys`` of CSV rows (empty amounts left out)."""
    found: dict[tuple, Decimal] = {}
    for row in rows:
        if row[amount]:
            key = tuple(row[k] or None for k in keys)
            found[key] = found.get(key, D(0)) + D(row[amount])
    return found


@pytest.mark.parametrize("period", PERIODS)
def test_allocations_per_rule_are_totalled_per_currency(project, period):
    matches = read_csv(out(project, period) / "matches.csv")
    expected = sums(matches, ("rule", "kind", "currency"), "applied_amount")
    per_rule = pipeline.match_summary(project[1][period].match)["per_rule"]
    got = {
        (r["rule"], r["kind"], r["currency"]): r["applied_amount"]
        for r in per_rule.iter_rows(named=True)
    }
    assert got == expected
    assert len({c for _, _, c in got}) == 3  # the sample has CNY, EUR and USD allocations


@pytest.mark.parametrize("period", PERIODS)
def test_exceptions_by_class_are_totalled_per_currency(project, period):
    from arlib import notebook as nb

    rows = read_csv(out(project, period) / "exceptions.csv")
    expected = sums(rows, ("class", "type", "currency"), "amount")
    table = nb.exceptions_summary(project[1][period].review.exceptions)
    got = {
        (r["class"], r["type"], r["currency"]): r["amount"]
        for r in table.iter_rows(named=True)
        if r["amount"] is not None
    }
    assert got == expected
    counts = {(r["class"], r["type"], r["currency"]): r for r in table.iter_rows(named=True)}
    for key, row in counts.items():
        matching = [r for r in rows if (r["class"], r["type"], r["currency"] or None) == key]
        assert row["exceptions"] == len(matching)
        assert row["open"] == sum(r["status"] == "open" for r in matching)
        assert row["cleared"] == sum(r["status"] == "cleared" for r in matching)


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize(
    ("sheet", "csv_name", "amount"),
    [
        ("Matches", "matches.csv", "applied_amount"),
        ("Exceptions", "exceptions.csv", "amount"),
        ("Unapplied cash", "unapplied_receipts.csv", "unapplied"),
    ],
)
def test_workbook_totals_one_row_per_currency(project, period, sheet, csv_name, amount):
    expected = sums(read_csv(out(project, period) / csv_name), ("currency",), amount)
    rows = sheet_rows(out(project, period) / "workpapers.xlsx", sheet)
    header = list(rows[2])
    totals = {
        r[0]: r[header.index(column_words(amount))]
        for r in rows[3:]
        if str(r[0]).startswith("Total")
    }
    assert "Total" not in totals
    assert {k: D(str(v)).quantize(CENT) for k, v in totals.items()} == {
        f"Total {c}": v for (c,), v in expected.items()
    }


@pytest.mark.parametrize("period", PERIODS)
def test_no_workbook_total_adds_different_currencies(project, period):
    """Every sheet: a total (or Σ) row not named for one currency only sums base-currency
    columns or a sheet in one currency."""
    import openpyxl

    book = openpyxl.load_workbook(out(project, period) / "workpapers.xlsx", read_only=True)
    try:
        for ws in book.worksheets:
            rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
            if len(rows) < 3 or "Currency" not in rows[2]:
                continue
            header = list(rows[2])
            footer = ("Total", "Σ")
            blank = next((i for i, r in enumerate(rows) if i > 2 and not any(r)), len(rows))
            rows = rows[:blank]  # the table, not the notes below it
            data = [r for r in rows[3:] if r[0] is not None and not str(r[0]).startswith(footer)]
            currencies = {r[header.index("Currency")] for r in data}
            for row in rows[3:]:
                if not str(row[0]).startswith(footer):
                    continue
                if row[0].rsplit(" ", 1)[-1] in currencies:
                    continue  # "Total CNY", "Σ cash applied CNY": one currency's rows
                summed = [header[i] for i, v in enumerate(row) if i and v is not None]
                assert len(currencies) == 1 or all(c.endswith("(base)") for c in summed), (
                    ws.title,
                    summed,
                )
    finally:
        book.close()


# ------------------------------------------------------------ 4. counts that agree
def receipt_counts_by_hand(project, period: str) -> dict[str, int]:
    """Receipts per outcome from the bank file (+ unapplied cash carried in) and the match
    outputs: applied in full = cash rows and nothing left; partly = cash rows and a rest;
    with suggestions = no cash row, a suggestion; unapplied = neither."""
    folder = out(project, period)
    ids = [
        r["流水号"] for r in read_csv(project[0] / "data/sample" / period / "bank_statement.csv")
    ]
    if period == "2026-10":
        previous = read_csv(out(project, "2026-09") / "unapplied_receipts.csv")
        ids += [r["receipt_id"] for r in previous if D(r["unapplied"]) > 0]
    cash = {r["receipt_id"] for r in read_csv(folder / "matches.csv") if r["kind"] == "cash"}
    left = {r["receipt_id"] for r in read_csv(folder / "unapplied_receipts.csv")}
    suggested = {r["receipt_id"] for r in read_csv(folder / "suggestions.csv")}
    counts = {"total": len(ids), "applied": 0, "partial": 0, "suggested": 0, "unapplied": 0}
    for rid in ids:
        if rid in cash:
            counts["partial" if rid in left else "applied"] += 1
        else:
            counts["suggested" if rid in suggested else "unapplied"] += 1
    return counts


def exception_counts_by_hand(project, period: str) -> dict[str, int]:
    rows = read_csv(out(project, period) / "exceptions.csv")
    return {
        "total": len(rows),
        "open": sum(r["status"] == "open" for r in rows),
        "cleared": sum(r["status"] == "cleared" for r in rows),
        "resolved": sum(r["status"] == "resolved" for r in rows),
    }


def exceptions_words(e: dict[str, int]) -> str:
    resolved = f", {e['resolved']:,} resolved" if e["resolved"] else ""
    return f"{e['total']:,} exceptions: {e['open']:,} open, {e['cleared']:,} cleared{resolved}"


@pytest.mark.parametrize("period", PERIODS)
def test_reconcile_line_parts_add_up_to_the_total(project, period, capsys, tmp_path):
    from arlib import cli

    params_file = project[0] / "params" / f"{period}.yaml"
    assert cli.main(["reconcile", "--params", str(params_file), "--out", str(tmp_path / "r")]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    r = receipt_counts_by_hand(project, period)
    e = exception_counts_by_hand(project, period)
    assert r["applied"] + r["partial"] + r["suggested"] + r["unapplied"] == r["total"]
    assert e["open"] + e["cleared"] + e["resolved"] == e["total"]
    assert line == (
        f"{r['total']:,} receipts: {r['applied']:,} applied in full, {r['partial']:,} partly "
        f"applied, {r['suggested']:,} with suggestions, {r['unapplied']:,} unapplied; "
        + exceptions_words(e)
    )


@pytest.mark.parametrize("period", PERIODS)
def test_counts_in_prose_are_those_of_the_tables(project, period):
    from arlib import notebook as nb

    closed = project[1][period]
    r = receipt_counts_by_hand(project, period)
    e = exception_counts_by_hand(project, period)
    summary = pipeline.match_summary(closed.match)
    prose02 = nb.match_prose(summary, closed.config)
    assert (
        f"{r['total']:,} receipts: {r['applied']:,} applied in full, {r['partial']:,} partly "
        f"applied, {r['suggested']:,} with suggestions, {r['unapplied']:,} unapplied"
    ) in prose02
    prose03 = nb.exceptions_prose(closed.review.exceptions, closed.config)
    assert prose03.startswith(exceptions_words(e) + ".")
    table = nb.exceptions_summary(closed.review.exceptions)
    assert (table["exceptions"].sum(), table["open"].sum()) == (e["total"], e["open"])
    conclusions = nb.conclusions(closed)
    assert f"{e['open']:,} exceptions are open for follow-up" in conclusions
    assert f"{e['cleared']:,} were cleared" in conclusions
    assert f"{e['total']:,} exceptions are open" not in conclusions


# ------------------------------------------------------------ 5. rates are not money
def test_rates_shown_as_percentages_and_fx_rates_in_full():
    import polars as pl

    from arlib import notebook as nb
    from arlib.provision import expected_credit_loss
    from arlib.schema import MONEY, RATE

    detail = pl.DataFrame(
        {"bucket": ["not_due"], "open_amount_base": [D("1000.00")]},
        schema={"bucket": pl.String, "open_amount_base": MONEY},
    )
    html = nb.show(expected_credit_loss(detail).matrix).data
    for shown in ("0.50 %", "2.00 %", "5.00 %", "10.00 %", "25.00 %", "50.00 %", "100.00 %"):
        assert f">{shown}<" in html, shown
    rates = pl.DataFrame(
        {"fx_rate": [D("7.12345678"), D("7.10000000"), D("1")]}, schema={"fx_rate": RATE}
    )
    html = nb.show(rates).data
    assert all(f">{r}<" in html for r in ("7.12345678", "7.1000", "1.0000")), html


def test_workbook_formats_rates_as_percentages_and_fx_rates_as_rates(project):
    import openpyxl

    book = openpyxl.load_workbook(out(project, "2026-10") / "workpapers.xlsx")
    try:
        matrix = book["Provision matrix"]
        header = [c.value for c in matrix[3]]
        col = header.index("Loss rate") + 1
        cells = [matrix.cell(row=r, column=col) for r in range(4, 11)]
        assert [c.value for c in cells] == [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0]
        assert {c.number_format for c in cells} == {"0.00##%"}  # 0.50%, 0.125% ...
        detail = book["Aging detail"]
        header = [c.value for c in detail[3]]
        rate = detail.cell(row=4, column=header.index("FX rate") + 1)
        assert rate.number_format == "0.0000####"
    finally:
        book.close()


# ------------------------------------------------------------ 7. cash bridge
def bridge_lines(frame) -> dict[str, dict[str, Decimal]]:
    """{currency: {line key: amount}} of a cash bridge frame."""
    keys = {label: key for key, label in pipeline.CASH_BRIDGE_LINES}
    found: dict[str, dict[str, Decimal]] = {}
    for row in frame.iter_rows(named=True):
        found.setdefault(row["currency"], {})[keys[row["line"]]] = row["amount"]
    return found


def per_currency(rows, currency: str, amount: str, keep=lambda r: True) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for row in rows:
        if keep(row):
            value = D(row[amount].replace(",", ""))
            found[row[currency]] = found.get(row[currency], D(0)) + value
    return found


@pytest.mark.parametrize("period", PERIODS)
def test_cash_bridge_ties_to_the_cent_in_every_currency(project, period):
    folder = out(project, period)
    bank = read_csv(project[0] / "data/sample" / period / "bank_statement.csv")
    received = per_currency(bank, "币种", "金额")
    carried_in = {}
    if period == "2026-10":
        carried_in = per_currency(
            read_csv(out(project, "2026-09") / "unapplied_receipts.csv"), "currency", "unapplied"
        )
    left = per_currency(read_csv(folder / "unapplied_receipts.csv"), "currency", "unapplied")
    matches = read_csv(folder / "matches.csv")
    crossing = [
        r for r in matches if r["kind"] == "cash" and r["currency"] != r["receipt_currency"]
    ]
    to_other = per_currency(crossing, "receipt_currency", "receipt_amount")
    from_other = per_currency(crossing, "currency", "applied_amount")
    rolled = {r["currency"]: D(r["cash_applied"]) for r in read_csv(folder / "rollforward.csv")}
    assert crossing  # the sample has receipts applied across currencies

    bridge = bridge_lines(project[1][period].cash_bridge)
    assert set(bridge) == set(received) | set(rolled)
    for currency, line in bridge.items():
        zero = D("0.00")
        by_hand = (
            received.get(currency, zero)
            + carried_in.get(currency, zero)
            - left.get(currency, zero)
            - to_other.get(currency, zero)
            + from_other.get(currency, zero)
        )
        assert by_hand == rolled.get(currency, zero), currency  # the bridge ties by hand
        assert line["received"] == received.get(currency, zero)
        assert line["carried_in"] == carried_in.get(currency, zero)
        assert sum((v for k, v in line.items() if k.startswith("left_")), zero) == left.get(
            currency, zero
        )
        assert line["to_other"] == to_other.get(currency, zero)
        assert line["from_other"] == from_other.get(currency, zero)
        assert line["applied_to"] == line["rollforward"] == rolled.get(currency, zero)
        assert line["difference"] == 0, currency


@pytest.mark.parametrize("period", PERIODS)
def test_cash_bridge_shown_in_ar_1_3(project, period):
    rows = sheet_rows(out(project, period) / "workpapers.xlsx", "Cash bridge")
    assert rows[0][0].startswith("AR-1.3 ")
    assert list(rows[2]) == ["Currency", "Line", "Amount", "Tick", "Ref"]
    shown = [(r[0], r[1], D(str(r[2])).quantize(CENT)) for r in rows[3:] if r[0]]
    frame = project[1][period].cash_bridge
    assert shown == [(r["currency"], r["line"], r["amount"]) for r in frame.iter_rows(named=True)]


def test_cash_bridge_prose_states_every_line(project):
    from arlib import notebook as nb

    bridge = project[1]["2026-10"].cash_bridge
    prose = nb.cash_bridge_prose(bridge).splitlines()
    assert [line.split(":")[0] for line in prose] == ["- CNY", "- EUR", "- USD"]
    for line, currency in zip(prose, ("CNY", "EUR", "USD"), strict=True):
        assert line.endswith(": ties.")
        values = bridge_lines(bridge)[currency]
        left = sum((a for k, a in values.items() if k.startswith("left_")), D("0.00"))
        for key in ("received", "carried_in", "applied_from", "to_other", "from_other"):
            assert nb.money(values[key], currency) in line, key
        assert nb.money(left, currency) + " left unapplied" in line  # the left lines' sum


def test_carried_items_per_type_and_currency_from_the_parquet(project):
    import polars as pl

    from arlib import notebook as nb

    items = pl.read_parquet(out(project, "2026-10") / "open_items.parquet")
    table = nb.open_items_summary(items)
    expected: dict[tuple, Decimal | None] = {}
    for row in items.iter_rows(named=True):
        key = (row["item_type"], row["currency"])
        if row["open_amount"] is not None:
            expected[key] = expected.get(key, D(0)) + row["open_amount"]
        else:
            expected.setdefault(key, None)
    got = {(r["item_type"], r["currency"]): r["open_amount"] for r in table.iter_rows(named=True)}
    assert got == expected
    assert got[("exception", None)] is None  # a pattern exception has no amount, not 0.00
