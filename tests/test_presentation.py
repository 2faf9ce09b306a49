"""What an auditor expects to see in the workbook, read back with openpyxl: every Lead line
cross-referenced to the cell that supports it and ticked only when it agrees, a tick-mark
legend, control totals as numbers, aging by customer named and tied to AR-5, headers in
words, wrapped text, and lists by what matters (amount, age) with the suggestions showing
the receipt's amount beside the invoice's.

One module-scoped fixture closes 2026-09 and then 2026-10 in-process into a temporary copy
of the project (every output but the notebooks, a few seconds). Expected figures come
from the sheets' own rows and the input files, never from the code under test.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import polars as pl
import pytest

from arlib import pipeline
from arlib.export import lead_sheet, sheets_for
from arlib.schema import COLUMN_WORDS, column_words
from arlib.workpapers import (
    HEAD_ROW,
    MONEY_FORMAT,
    TICK_MARKS,
    WRAP_AT,
    Ref,
    Sheet,
    Subtotal,
    total_rows,
    write_workbook,
)
from tests.test_close_e2e import PERIODS, close_in_process, make_project

D = Decimal
CENT = D("0.01")
FIRST = HEAD_ROW + 2  # 1-based: the first data row under the header
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


@pytest.fixture(scope="module")
def closes(tmp_path_factory) -> tuple[Path, dict[str, pipeline.CloseResult]]:
    root = make_project(tmp_path_factory.mktemp("presentation") / "project")
    return root, close_in_process(root)


@pytest.fixture(scope="module")
def books(closes):
    root, _ = closes
    opened = {p: openpyxl.load_workbook(root / "outputs" / p / "workpapers.xlsx") for p in PERIODS}
    yield opened
    for book in opened.values():
        book.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def table(ws) -> list[dict]:
    """The data rows of a sheet as dicts by header, up to the first blank or total row."""
    head = [c.value for c in ws[HEAD_ROW + 1]]
    rows = []
    for cells in ws.iter_rows(min_row=FIRST):
        first = cells[0].value
        if first is None or str(first).startswith(("Total", "Σ")):
            break
        rows.append({h: c for h, c in zip(head, cells, strict=False) if h is not None})
    return rows


def totals(ws) -> dict[str, dict]:
    """Total and Σ rows by their label, as {header: value}."""
    head = [c.value for c in ws[HEAD_ROW + 1]]
    found = {}
    for values in ws.iter_rows(min_row=FIRST, values_only=True):
        if values[0] is not None and str(values[0]).startswith(("Total", "Σ")):
            found[values[0]] = dict(zip(head, values, strict=False))
    return found


def cell_at(book, location: str):
    """The cell an internal link such as ``'Matches'!D2473`` points at."""
    sheet, cell = location.rsplit("!", 1)
    return book[sheet.strip("'")][cell]


def index_refs(book) -> dict[str, str]:
    """Sheet name -> workpaper ref, from the Index."""
    rows = list(book["Index"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[:2] == ("Ref", "Sheet"))
    listed = {}
    for row in rows[start + 1 :]:
        if row[0] is None:
            break
        listed[row[1]] = row[0]
    return listed


def money(value) -> Decimal:
    return D(str(value)).quantize(CENT)


# ----------------------------------------------------------------- Lead cross-references
@pytest.mark.parametrize("period", PERIODS)
def test_every_lead_line_has_a_ref_to_a_cell_holding_the_same_figure(books, period):
    book = books[period]
    refs = index_refs(book)
    lines = table(book["Lead"])
    assert lines
    for line in lines:
        amount, tick, ref = line["Amount"].value, line["Tick"].value, line["Ref"]
        label = f"{line['Currency'].value} {line['Line'].value}"
        if amount is None:  # the closing status line has no figure
            assert line["Line"].value.startswith("GL tie-out:"), label
            continue
        assert ref.value, label  # every line says where its figure comes from
        if ref.hyperlink is None:  # the GL figure, or a zero with nothing to cite
            nothing = re.match(r"AR-[\d.]+: none \(", ref.value) and money(amount) == 0
            assert ref.value == "params: gl_control_balance" or nothing, (label, ref.value)
            continue
        target = cell_at(book, ref.hyperlink.location)
        assert ref.value.startswith(refs[target.parent.title] + " "), (label, ref.value)
        if "✓" in tick:
            assert money(target.value) == money(amount), (label, ref.value)
        if "◊" in tick and ref.value.startswith("AR-1 "):
            assert target.parent.title == "Lead", label


@pytest.mark.parametrize("period", PERIODS)
def test_lead_refs_name_the_supporting_rows(books, period):
    book = books[period]
    lead = {(r["Currency"].value, r["Line"].value): r for r in table(book["Lead"])}
    matches = book["Matches"]
    sums = totals(matches)
    for currency in ("CNY", "EUR", "USD"):
        cash = lead[(currency, "− Cash applied")]
        assert cash["Ref"].value == f"AR-2 Σ cash applied {currency}"
        assert cash["Tick"].value == "✓ Σ"
        # footed by hand from the Matches rows themselves
        footed = sum(
            (
                money(r["Applied amount"].value)
                for r in table(matches)
                if r["Currency"].value == currency and r["Kind"].value == "cash"
            ),
            D(0),
        )
        assert money(sums[f"Σ cash applied {currency}"]["Applied amount"]) == footed
        assert money(cash["Amount"].value) == footed
        invoiced = lead[(currency, "+ Invoiced in the period")]
        target = cell_at(book, invoiced["Ref"].hyperlink.location)
        row = target.row
        inputs = book["Inputs"]
        assert inputs.cell(row=row, column=1).value == "invoices"
        assert inputs.cell(row=row, column=6).value == currency
        computed = lead[(currency, "= Closing AR (computed)")]
        assert computed["Tick"].value == "◊"
        assert computed["Ref"].value.startswith("AR-1 rows ")
    net = lead[("CNY", "= Net AR per sub-ledger")]
    assert net["Ref"].value == "AR-5.1 Total, Net balance (base)"


def test_tick_marks_follow_the_tie_out(books):
    september = {r["Line"].value: r["Tick"].value for r in table(books["2026-09"]["Lead"])}
    october = {r["Line"].value: r["Tick"].value for r in table(books["2026-10"]["Lead"])}
    # 2026-09 ties after adjustments: net AR is tied to the GL, nothing disagrees
    assert "⊕" in september["= Net AR per sub-ledger"]
    assert not any("✗" in (t or "") for t in september.values())
    # 2026-10 keeps a documented 1,250.00 unexplained: that line, and only it, is flagged
    assert "⊕" not in october["= Net AR per sub-ledger"]
    flagged = [line for line, t in october.items() if "✗" in (t or "")]
    assert flagged == ["= Unexplained difference (must be 0)"]


@pytest.mark.parametrize("period", PERIODS)
def test_tick_mark_legend_on_index_and_lead_covers_every_mark_used(books, period):
    book = books[period]
    index = [r for r in book["Index"].iter_rows(values_only=True)]
    start = next(i for i, r in enumerate(index) if r[0] == "Tick marks")
    legend = {r[0]: r[1] for r in index[start + 1 : start + 1 + len(TICK_MARKS)]}
    assert legend == dict(TICK_MARKS)
    lead_text = [c for (c,) in book["Lead"].iter_rows(min_col=1, max_col=1, values_only=True)]
    for mark, meaning in TICK_MARKS:
        assert f"{mark}  {meaning}" in lead_text
    used = set()
    for name in ("Lead", "Cash bridge"):
        for row in table(book[name]):
            used |= set((row["Tick"].value or "").split())
    assert used and used <= set(legend)


def test_a_support_that_does_not_agree_is_marked_not_ticked(closes):
    result = closes[1]["2026-10"]
    sheets = {s.ref: s for s in sheets_for(result)}
    matches = sheets["AR-2"]
    first_cash = matches.frame["kind"].to_list().index("cash")
    tampered = matches.frame.with_columns(
        pl.when(pl.int_range(pl.len()) == first_cash)
        .then(pl.col("applied_amount") + D("0.01"))
        .otherwise(pl.col("applied_amount"))
        .alias("applied_amount")
    )
    sheets["AR-2"] = dataclasses.replace(matches, frame=tampered)
    currency = tampered["currency"][first_cash]
    lead = lead_sheet(result, sheets).frame
    tick = lead.filter((pl.col("currency") == currency) & (pl.col("line") == "− Cash applied"))
    assert tick["tick"].to_list() == ["✗ Σ"]


def test_cash_bridge_ends_are_cross_referenced(books):
    book = books["2026-10"]
    for row in table(book["Cash bridge"]):
        line = row["Line"].value
        if line in (
            "Receipts on this period's bank statements",
            "Cash applied in the roll-forward (AR-1)",
        ):
            assert row["Tick"].value == "✓", line
            target = cell_at(book, row["Ref"].hyperlink.location)
            assert money(target.value) == money(row["Amount"].value)
            assert target.parent.title == ("Inputs" if line.startswith("Receipts") else "Lead")


# ----------------------------------------------------------------- control totals
@pytest.mark.parametrize("period", PERIODS)
def test_control_totals_are_numbers_equal_to_the_inputs(closes, books, period):
    provenance = closes[1][period].period.provenance
    expected = {
        (p["input"], c): D(v)
        for p in provenance
        for c, v in (p.get("control_totals") or {}).items()
    }
    shown = {}
    for row in table(books[period]["Inputs"]):
        cell = row["Control total"]
        if cell.value is None:
            continue
        assert isinstance(cell.value, int | float), row["Input"].value
        assert cell.number_format == MONEY_FORMAT
        shown[(row["Input"].value, row["Currency"].value)] = money(cell.value)
    assert shown == expected
    # the invoice file's control total is what the file says, added here by hand
    invoices = read_csv(closes[0] / "data" / "sample" / period / "invoices.csv")
    cny = sum((D(r["amount"]) for r in invoices if r["currency"] == "CNY"), D(0))
    assert shown[("invoices", "CNY")] == cny


# ----------------------------------------------------------------- aging by customer
@pytest.mark.parametrize("period", PERIODS)
def test_aging_by_customer_is_named_totalled_and_ties_to_the_summary(closes, books, period):
    book = books[period]
    names = {
        r["customer_id"]: r["name"]
        for r in read_csv(closes[0] / "data" / "sample" / "customers.csv")
    }
    ws = book["Aging by customer"]
    rows = table(ws)
    assert rows
    for row in rows:
        customer = row["Customer ID"].value
        expected = names[customer] if customer else "(payer not identified)"
        assert row["Customer name"].value == expected
    outstanding = [money(r["Total outstanding (base)"].value) for r in rows]
    assert outstanding == sorted(outstanding, reverse=True)
    total = totals(ws)["Total"]
    summary = book["Aging summary"]
    buckets = {r["Bucket"].value: money(r["Amount (base)"].value) for r in table(summary)}
    aging_total = money(totals(summary)["Total"]["Amount (base)"])
    assert money(total["Total outstanding (base)"]) == aging_total == sum(buckets.values())
    assert money(total["Total outstanding (base)"]) == sum(outstanding)
    for bucket, amount in buckets.items():
        assert money(total[column_words(bucket)]) == amount, bucket
    assert "✓ ties" in ws["A2"].value and f"{aging_total:,.2f}" in ws["A2"].value


# ----------------------------------------------------------------- headers in words
@pytest.mark.parametrize("period", PERIODS)
def test_no_snake_case_header_in_any_sheet(books, period):
    book = books[period]
    for ws in book.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        if ws.title == "Index":
            head = next(r for r in rows if r[:2] == ("Ref", "Sheet"))
        elif ws.title == "Sign-off":
            head = rows[3]
        else:
            head = rows[HEAD_ROW]
        assert any(head), ws.title
        for value in head:
            assert value is None or not SNAKE.match(value), (ws.title, value)


def test_every_sheet_column_has_its_words(closes):
    """No column reaches a reader through the fallback: each has an entry in COLUMN_WORDS,
    or is an aging bucket label (from params)."""
    for result in closes[1].values():
        buckets = set(result.review.aging.totals["bucket"].to_list())
        for sheet in sheets_for(result):
            missing = [c for c in sheet.frame.columns if c not in COLUMN_WORDS and c not in buckets]
            assert not missing, (sheet.ref, missing)
    words = list(COLUMN_WORDS.values())
    assert len(words) == len(set(words))  # two columns of one table never share a header


# ----------------------------------------------------------------- lists by what matters
def rates_at(root: Path, period: str, as_of: dt.date) -> dict[str, Decimal]:
    latest: dict[str, tuple[dt.date, Decimal]] = {}
    for r in read_csv(root / "data" / "sample" / period / "fx_rates.csv"):
        day = dt.date.fromisoformat(r["date"])
        if day <= as_of and (r["currency"] not in latest or day >= latest[r["currency"]][0]):
            latest[r["currency"]] = (day, D(r["rate"]))
    return {c: rate for c, (_, rate) in latest.items()} | {"CNY": D(1)}


@pytest.mark.parametrize("period", PERIODS)
def test_suggestions_largest_receipt_first_with_both_amounts(closes, books, period):
    root, closed = closes
    rates = rates_at(root, period, closed[period].config.as_of)
    rows = table(books[period]["Suggestions"])
    assert rows
    order, seen = [], []
    for row in rows:
        receipt = row["Receipt ID"].value
        received, invoice = (
            money(row["Receipt amount"].value),
            money(row["Invoice open amount"].value),
        )
        if row["Receipt currency"].value == row["Currency"].value:
            assert money(row["Difference"].value) == received - invoice, receipt
        else:
            assert row["Difference"].value is None, receipt
        if not seen or seen[-1] != receipt:
            assert receipt not in seen, receipt  # a receipt's candidates stay together
            seen.append(receipt)
            base = (received * rates[row["Receipt currency"].value]).quantize(CENT, ROUND_HALF_UP)
            order.append(base)
    assert order == sorted(order, reverse=True)
    # the CSV keeps matching's order (receipt, rank) and carries the same amounts
    suggestions = read_csv(root / "outputs" / period / "suggestions.csv")
    keys = [(r["receipt_id"], int(r["rank"])) for r in suggestions]
    assert keys == sorted(keys)
    amounts = {
        r["receipt_id"]: D(r["amount"].replace(",", "")) for r in read_csv_receipts(root, period)
    }
    for r in suggestions:
        if r["receipt_id"] in amounts:
            assert D(r["receipt_amount"]) == amounts[r["receipt_id"]]
        if r["difference"]:
            assert D(r["difference"]) == D(r["receipt_amount"]) - D(r["amount"])


def read_csv_receipts(root: Path, period: str) -> list[dict[str, str]]:
    """This period's bank lines, under the canonical names the params map them to."""
    import yaml

    params = yaml.safe_load((root / "params" / f"{period}.yaml").read_text("utf-8"))
    mapping = (params.get("columns") or {}).get("receipts") or {}
    rows = read_csv(root / params["inputs"]["receipts"])
    return [{mapping.get(k, k): v for k, v in r.items()} for r in rows]


@pytest.mark.parametrize("period", PERIODS)
def test_unapplied_cash_largest_first(books, period):
    rows = table(books[period]["Unapplied cash"])
    base = [money(r["Unapplied (base)"].value) for r in rows]
    assert base and base == sorted(base, reverse=True)


@pytest.mark.parametrize("period", PERIODS)
def test_exceptions_open_first_then_largest(books, period):
    rows = table(books[period]["Exceptions"])
    rank = {"open": 0, "cleared": 1, "resolved": 2}
    statuses = [rank[r["Status"].value] for r in rows]
    assert statuses == sorted(statuses)
    for status in rank:
        sizes = [r["Amount (base)"].value for r in rows if r["Status"].value == status]
        known = [abs(money(v)) for v in sizes if v is not None]
        assert known == sorted(known, reverse=True), status
        assert sizes[: len(known)] == [v for v in sizes if v is not None]  # blanks last


@pytest.mark.parametrize("period", PERIODS)
def test_tiers_worst_first_then_largest_overdue(books, period):
    rows = table(books[period]["Tiers and actions"])
    order = {"A": 0, "B": 1, "C": 2, None: 3}
    keys = [(order[r["Tier"].value], -money(r["Overdue amount (base)"].value or 0)) for r in rows]
    assert keys == sorted(keys)


# ----------------------------------------------------------------- layout
@pytest.mark.parametrize("period", PERIODS)
def test_long_text_wraps_and_headers_stay_frozen(books, period):
    book = books[period]
    for ws in book.worksheets:
        if ws.title not in ("Index", "Sign-off"):
            assert ws.freeze_panes == f"A{FIRST}", ws.title
    exceptions = book["Exceptions"]
    head = [c.value for c in exceptions[HEAD_ROW + 1]]
    evidence = head.index("Evidence") + 1
    letter = openpyxl.utils.get_column_letter(evidence)
    assert exceptions.column_dimensions[letter].width <= WRAP_AT + 3  # + xlsxwriter's padding
    cells = [exceptions.cell(row=r, column=evidence) for r in range(FIRST, FIRST + 40)]
    assert all(c.alignment.wrap_text for c in cells if c.value)
    long = next(c for c in cells if c.value and len(c.value) > 2 * WRAP_AT)
    assert exceptions.row_dimensions[long.row].height >= 30  # room for its lines
    inputs = book["Inputs"]
    sha = [c.value for c in inputs[HEAD_ROW + 1]].index("SHA-256") + 1
    assert inputs.column_dimensions[openpyxl.utils.get_column_letter(sha)].width >= 64
    assert not inputs.cell(row=FIRST, column=sha).alignment.wrap_text  # a hash is not prose


# ----------------------------------------------------------------- write_workbook units
def _money(values) -> pl.Series:
    return pl.Series([D(v) for v in values], dtype=pl.Decimal(38, 2))


def test_subtotals_and_a_base_total_never_add_currencies(tmp_path):
    frame = pl.DataFrame(
        {
            "kind": ["cash", "discount", "cash", "cash"],
            "currency": ["CNY", "CNY", "USD", "USD"],
            "amount": _money(["10.00", "0.50", "2.00", "3.00"]),
            "amount_base": _money(["10.00", "0.50", "14.20", "21.30"]),
        }
    )
    sheet = Sheet(
        "AR-2",
        "Matches",
        "m",
        frame,
        total_columns=("amount", "amount_base"),
        total_by="currency",
        subtotals=(
            Subtotal("Σ cash CNY", (pl.col("currency") == "CNY") & (pl.col("kind") == "cash")),
        ),
    )
    assert total_rows(sheet) == [
        ("Σ cash CNY", {"amount": D("10.00"), "amount_base": D("10.00")}),
        ("Total CNY", {"amount": D("10.50"), "amount_base": D("10.50")}),
        ("Total USD", {"amount": D("5.00"), "amount_base": D("35.50")}),
        ("Total", {"amount_base": D("46.00")}),
    ]
    mixed = dataclasses.replace(sheet, subtotals=(Subtotal("Σ cash", pl.col("kind") == "cash"),))
    with pytest.raises(ValueError, match="different currencies"):
        total_rows(mixed)


def test_a_ref_to_a_capped_sheet_names_the_csv_instead_of_linking(tmp_path):
    detail = pl.DataFrame(
        {
            "receipt_id": [f"R{i}" for i in range(5)],
            "currency": ["CNY"] * 5,
            "amount": _money(["1.00"] * 5),
        }
    )
    capped = Sheet(
        "AR-2",
        "Matches",
        "m",
        detail,
        capped=True,
        full_detail="matches.csv",
        total_columns=("amount",),
        total_by="currency",
    )
    lead = Sheet(
        "AR-1",
        "Lead",
        "l",
        pl.DataFrame({"line": ["cash", "first receipt"], "amount": _money(["5.00", "1.00"])}),
        refs=(
            Ref("AR-2", "amount", total="Total CNY"),
            Ref("AR-2", "amount", rows=((("receipt_id", "R0"),),)),
        ),
    )
    path = tmp_path / "wp.xlsx"
    write_workbook(path, [lead, capped], header={"Title": "t"}, row_cap=3, signoff=[["Ref"]])
    ws = openpyxl.load_workbook(path)["Lead"]
    total, row = ws.cell(row=FIRST, column=3), ws.cell(row=FIRST + 1, column=3)
    assert total.value == "AR-2 Total CNY (in matches.csv)" and total.hyperlink is None
    assert row.value == "AR-2 row 4" and row.hyperlink.location == "'Matches'!C4"


# ----------------------------------------------------------------- KPI trend
def test_kpi_trend_follows_the_opening_files_of_the_same_entity(tmp_path):
    from arlib.close import earlier_closes
    from arlib.kpis import kpi_trend

    def publish(period: str, entity: str, opening: str | None, dso: str) -> Path:
        folder = tmp_path / "outputs" / period
        folder.mkdir(parents=True)
        params = {"inputs": {"opening": opening} if opening else {}}
        manifest = {
            "period": period,
            "entity": entity,
            "params": params,
            "kpis": {"dso": dso, "cei": "90.00"},
        }
        (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        return folder / "open_items.parquet"

    publish("2026-07", "OTHER", None, "99.00")  # another entity's close ends the chain
    publish("2026-08", "ACME", "outputs/2026-07/open_items.parquet", "12.00")
    publish("2026-09", "ACME", {"path": "outputs/2026-08/open_items.parquet"}, "11.50")
    config = SimpleNamespace(
        root=tmp_path,
        entity="ACME",
        period="2026-10",
        inputs={"opening": SimpleNamespace(path=tmp_path / "outputs/2026-09/open_items.parquet")},
    )
    found = earlier_closes(config)
    assert [m["period"] for m in found] == ["2026-09", "2026-08"]
    summary = pl.DataFrame({"kpi": ["dso", "cei"], "value": _money(["10.25", "91.00"])})
    trend = kpi_trend("2026-10", summary, found)
    assert trend.to_dicts() == [
        {"period": "2026-08", "dso": D("12.00"), "cei": D("90.00")},
        {"period": "2026-09", "dso": D("11.50"), "cei": D("90.00")},
        {"period": "2026-10", "dso": D("10.25"), "cei": D("91.00")},
    ]
    first_close = SimpleNamespace(**{**vars(config), "inputs": {}})
    assert earlier_closes(first_close) == []


# ----------------------------------------------------------------- notebook sentences
def test_notebook_sentences_state_the_sheets_figures(closes, books):
    from arlib import notebook as nb
    from arlib import views
    from arlib.charts import unapplied_age_bands

    root, closed = closes
    result = closed["2026-10"]
    config, aging = result.config, result.review.aging
    fx_rates = result.period.frames["fx_rates"]
    suggestions = read_csv(root / "outputs" / "2026-10" / "suggestions.csv")
    receipts = {r["receipt_id"]: r for r in suggestions}
    cny = sum(
        (D(r["receipt_amount"]) for r in receipts.values() if r["receipt_currency"] == "CNY"), D(0)
    )
    prose = nb.suggestions_prose(views.suggestions_for_review(result.match, config, fx_rates))
    assert prose.startswith(f"{len(suggestions)} suggestions for {len(receipts)} receipts (")
    assert nb.money(cny, "CNY") in prose
    # unapplied cash by age: the bands add up to the tie-out's unapplied cash (AR-5.1 total)
    bands = unapplied_age_bands(aging.unapplied)
    unapplied = money(
        totals(books["2026-10"]["Aging by customer"])["Total"]["Unapplied cash (base)"]
    )
    assert sum((a for _, a in bands), D(0)) == unapplied
    assert nb.money(unapplied, "CNY") in nb.unapplied_prose(aging, config)
    # the most overdue customer, by hand from AR-5.1's overdue buckets
    overdue_columns = ["1-30", "31-60", "61-90", "91-180", ">180", "Invalid date"]
    by_hand = max(
        table(books["2026-10"]["Aging by customer"]),
        key=lambda r: sum(money(r[c].value) for c in overdue_columns),
    )
    customers = result.period.frames["customers"]
    sentence = nb.top_overdue_prose(aging, customers, config)
    assert f"{by_hand['Customer name'].value} ({by_hand['Customer ID'].value})" in sentence
    assert nb.top_overdue_chart(closed["2026-09"].review.aging, customers, config) is None
