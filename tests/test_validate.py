"""Cross-row checks: small files with hand-known answers, findings pointing at file:row:column."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl

from arlib import findings as fnd
from arlib import validate
from arlib.config import Config, InputSpec, Params
from arlib.load import load_input
from arlib.schema import empty
from tests.conftest import write

CUSTOMERS = "customer_id,name\nC001,Alpha Ltd\nC002,Beta Co\n"
INVOICES = (
    "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
    "INV1,C001,2026-10-01,2026-10-31,100.00,CNY\n"  # row 2: fine
    "INV2,C001,2026-10-02,2026-11-01,200.00,CNY\n"  # row 3: fine
)
RECEIPTS = (
    "receipt_id,value_date,amount,currency,payer_name,memo\n"
    "R1,2026-10-05,100.00,CNY,Alpha Ltd,INV1\n"  # row 2: fine
)


def config(tmp_path: Path, **inputs: Path) -> Config:
    """A config with every stage at its defaults (loading reads the provision section),
    reading ``<name>.csv`` in ``tmp_path`` unless ``inputs`` say otherwise."""
    paths = {name: f"{name}.csv" for name in ("invoices", "receipts", "customers")}
    params = Params(period="2026-10", inputs={**paths, **inputs})  # no root: files unchecked
    return Config(params=params, root=tmp_path)


def frames(tmp_path: Path, **texts: str) -> dict[str, pl.DataFrame]:
    """Write each input as ``<name>.csv`` and load it through the real loader."""
    texts = {"invoices": INVOICES, "receipts": RECEIPTS, "customers": CUSTOMERS, **texts}
    out = {}
    for name, text in texts.items():
        got = load_input(name, InputSpec(path=write(tmp_path / f"{name}.csv", text)), tmp_path)
        assert got.findings.height == 0, got.findings  # the loader is happy; validate is not
        out[name] = got.frame
    for name in ("credit_notes", "fx_rates"):
        out.setdefault(name, empty(name))
    return out


def run(tmp_path: Path, **texts: str) -> pl.DataFrame:
    return validate.validate(frames(tmp_path, **texts), config(tmp_path))


def only(found: pl.DataFrame, rule: str) -> list[dict]:
    return found.filter(pl.col("rule") == rule).rows(named=True)


def test_clean_period_has_no_findings(tmp_path):
    assert run(tmp_path).height == 0


def test_duplicate_invoice_id_names_first_row(tmp_path):
    text = INVOICES + "INV1,C002,2026-10-03,2026-11-02,300.00,CNY\n"  # row 4
    [hit] = only(run(tmp_path, invoices=text), "duplicate_invoice_id")
    assert hit["severity"] == "error"
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == (
        "invoices.csv",
        4,
        "invoice_id",
        "INV1",
    )
    assert "row 2" in hit["message"]


def test_due_before_invoice_date(tmp_path):
    text = INVOICES + "INV3,C001,2026-10-10,2026-10-09,50.00,CNY\n"
    [hit] = only(run(tmp_path, invoices=text), "due_before_invoice")
    assert hit["severity"] == "error"
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == (
        "invoices.csv",
        4,
        "due_date",
        "2026-10-09",
    )


def test_unknown_currency(tmp_path):
    text = INVOICES + "INV3,C001,2026-10-10,2026-11-09,50.00,XYZ\n"
    found = run(tmp_path, invoices=text)
    [hit] = only(found, "unknown_currency")
    assert hit["severity"] == "error"
    assert (hit["row"], hit["column"], hit["value"]) == (4, "currency", "XYZ")


def test_invoice_for_unknown_customer(tmp_path):
    text = INVOICES + "INV3,C999,2026-10-10,2026-11-09,50.00,CNY\n"
    [hit] = only(run(tmp_path, invoices=text), "unknown_customer")
    assert hit["severity"] == "error"
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == (
        "invoices.csv",
        4,
        "customer_id",
        "C999",
    )


def test_discount_terms_that_do_not_read_are_errors(tmp_path):
    text = (
        "customer_id,name,discount_terms\n"
        "C001,Alpha Ltd,2/10 net 30\n"  # row 2: fine
        "C002,Beta Co,2/10 EOM\n"  # row 3: EOM is not understood
        "C003,Gamma Co,\n"  # row 4: no terms
        "C004,Delta Co,net 30 2/10 1/5\n"  # row 5: fine, in any order
    )
    [hit] = only(run(tmp_path, customers=text), "bad_discount_terms")
    assert hit["severity"] == "error"
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == (
        "customers.csv",
        3,
        "discount_terms",
        "2/10 EOM",
    )
    assert hit["message"].startswith("discount terms '2/10 EOM': cannot read 'EOM'")


def test_negative_invoice_amount(tmp_path):
    text = INVOICES + "INV3,C001,2026-10-10,2026-11-09,-50.00,CNY\n"
    [hit] = only(run(tmp_path, invoices=text), "sign")
    assert hit["severity"] == "error"
    assert (hit["file"], hit["row"], hit["column"]) == ("invoices.csv", 4, "amount")
    assert hit["value"] == "-50.00"


def test_receipt_with_non_positive_amount(tmp_path):
    text = (
        RECEIPTS
        + "R2,2026-10-06,0.00,CNY,Beta Co,x\n"  # row 3
        + "R3,2026-10-07,(25.00),CNY,Beta Co,y\n"  # row 4: accounting negative
    )
    hits = only(run(tmp_path, receipts=text), "sign")
    assert [(h["file"], h["row"], h["column"], h["severity"]) for h in hits] == [
        ("receipts.csv", 3, "amount", "error"),
        ("receipts.csv", 4, "amount", "error"),
    ]
    assert [h["value"] for h in hits] == ["0.00", "-25.00"]  # the value as read


def test_duplicate_bank_lines_are_warnings_and_kept(tmp_path):
    line = "2026-10-06,88.00,CNY,Beta Co,same memo\n"
    text = RECEIPTS + "R2," + line + "R3," + line + "R4," + line  # rows 3, 4, 5
    loaded = frames(tmp_path, receipts=text)
    before = loaded["receipts"].height
    found = validate.validate(loaded, config(tmp_path))
    hits = only(found, "duplicate_bank_line")
    assert [(h["severity"], h["row"], h["column"], h["value"]) for h in hits] == [
        ("warning", 4, "receipt_id", "R3"),
        ("warning", 5, "receipt_id", "R4"),
    ]
    assert all("row 3" in h["message"] and "R2" in h["message"] for h in hits)
    assert loaded["receipts"].height == before == 4  # flagged, never dropped
    assert not fnd.has_errors(found)


def test_credit_note_for_unknown_invoice(tmp_path):
    credits = (
        "credit_id,customer_id,date,amount,invoice_id\n"
        "CN1,C001,2026-10-08,10.00,INV1\n"
        "CN2,C001,2026-10-09,10.00,INV404\n"  # row 3
    )
    [hit] = only(run(tmp_path, credit_notes=credits), "unknown_invoice")
    assert hit["severity"] == "warning"
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == (
        "credit_notes.csv",
        3,
        "invoice_id",
        "INV404",
    )


def test_missing_fx_rate_for_currency_in_use(tmp_path):
    invoices = INVOICES + (
        "INV3,C001,2026-10-10,2026-11-09,50.00,USD\n"  # row 4: first USD use
        "INV4,C002,2026-10-11,2026-11-10,60.00,USD\n"
        "INV5,C002,2026-10-11,2026-11-10,70.00,EUR\n"  # row 6: EUR has a rate
    )
    fx = "date,currency,rate\n2026-10-01,EUR,7.7520\n"
    [hit] = only(run(tmp_path, invoices=invoices, fx_rates=fx), "missing_fx_rate")
    assert hit["severity"] == "error"
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == (
        "invoices.csv",
        4,
        "currency",
        "USD",
    )


def test_value_date_outside_period_is_a_warning(tmp_path):
    text = RECEIPTS + "R2,2026-09-30,10.00,CNY,Beta Co,x\nR3,2026-11-01,10.00,CNY,Beta Co,y\n"
    found = run(tmp_path, receipts=text)
    hits = only(found, "outside_period")
    assert [(h["severity"], h["file"], h["row"], h["column"], h["value"]) for h in hits] == [
        ("warning", "receipts.csv", 3, "value_date", "2026-09-30"),
        ("warning", "receipts.csv", 4, "value_date", "2026-11-01"),
    ]
    assert not fnd.has_errors(found)


def test_rows_point_at_the_file_line_after_title_rows(tmp_path):
    """A title row above the header shifts every row number: still the line the user sees."""
    text = "Invoice register October\n" + INVOICES + "INV1,C002,2026-10-03,2026-11-02,1.00,CNY\n"
    [hit] = only(run(tmp_path, invoices=text), "duplicate_invoice_id")
    assert hit["row"] == 5
    assert "row 3" in hit["message"]


def test_every_finding_is_located(tmp_path):
    invoices = INVOICES + (
        "INV1,C999,2026-10-10,2026-10-01,-5.00,XYZ\n"  # duplicate, unknown customer, ...
    )
    found = run(tmp_path, invoices=invoices)
    assert found.height >= 5
    assert found.filter(
        pl.col("file").is_null() | pl.col("row").is_null() | pl.col("column").is_null()
    ).is_empty()
    assert set(found["row"]) == {4}


def _opening_file(tmp_path: Path) -> Path:
    """September's close left R0 (dated 2026-09-28) unapplied: 40.00 of 50.00 open."""
    from arlib import carry

    receipts = pl.DataFrame(
        {
            "receipt_id": ["R0"],
            "customer_id": ["C001"],
            "value_date": [dt.date(2026, 9, 28)],
            "currency": ["CNY"],
            "amount": [Decimal("50.00")],
            "unapplied": [Decimal("40.00")],
            "status": ["partial"],
            "source_file": ["sep/receipts.csv"],
            "source_row": [7],
        }
    )
    invoices = pl.DataFrame(
        schema={
            "invoice_id": pl.String,
            "customer_id": pl.String,
            "invoice_date": pl.Date,
            "due_date": pl.Date,
            "currency": pl.String,
            "amount": pl.Decimal(38, 2),
            "open_amount": pl.Decimal(38, 2),
            "status": pl.String,
            "source_file": pl.String,
            "source_row": pl.Int64,
        }
    )
    items = carry.build_open_items(invoices, receipts, pl.DataFrame(), "2026-09")
    path = tmp_path / "open_items.parquet"
    carry.write_open_items(items, path, period="2026-09")
    return path


def test_cash_carried_in_is_not_outside_the_period(tmp_path):
    """R0 is last close's unapplied cash (dated September, by definition before October):
    no warning. R2, this period's bank line dated 2026-09-30, is the near miss: flagged."""
    from arlib.load import load_period

    for name, text in {
        "invoices": INVOICES,
        "receipts": RECEIPTS + "R2,2026-09-30,10.00,CNY,Beta Co,x\n",
        "customers": CUSTOMERS,
    }.items():
        write(tmp_path / f"{name}.csv", text)
    opening = _opening_file(tmp_path)
    cfg = config(tmp_path, opening=opening)
    period = load_period(cfg)
    assert "R0" in period.frames["receipts"]["receipt_id"].to_list()  # it is loaded ...
    hits = only(period.findings, "outside_period")
    assert [(h["file"], h["row"], h["value"]) for h in hits] == [
        ("receipts.csv", 3, "2026-09-30")
    ]  # ... and only this period's line is outside it
