"""Every statement file in ../shared/fixtures/bank parses, and matches the figures the
originating projects' own tests assert (EXPECTED_SUMMARY.json, GOLDEN_EXPECTED.json,
MANIFEST.md). Deliberately broken files must come back as error findings."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from arlib.bankfiles import read_statement

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "bank"
pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason="shared fixtures folder ../shared/fixtures is absent"
)

BROKEN = {
    "mt940/oca-odoo/test-wrong-file.940": "mt940_bad_tag",
    "ofx/oca/test_ofx_wrong.ofx": "ofx_no_account",
    "ofx/ofxparse/fail_nice/date_missing.ofx": "ofx_bad_transaction",
    "ofx/ofxparse/fail_nice/decimal_error.ofx": "ofx_bad_transaction",
    "ofx/ofxparse/error_message.ofx": "ofx_server_error",
    "bank_csv/oca/test_qif.qif": "bank_csv_no_header",
    "bank_csv/oca/original_currency_no_header.csv": "bank_csv_no_header",
}


def _files() -> list[str]:
    if not SHARED.is_dir():
        return []
    skip = (".yml", ".json", ".pydata", ".zip", ".md", ".txt.license")
    return sorted(
        str(p.relative_to(SHARED))
        for p in SHARED.rglob("*")
        if p.is_file() and not p.name.startswith("LICENSE") and not p.name.endswith(skip)
    )


def rules(r) -> set[str]:
    return set(r.findings["rule"])


def errors(r) -> set[str]:
    return set(r.findings.filter(pl.col("severity") == "error")["rule"])


@pytest.mark.parametrize("rel", _files())
def test_every_file_reads_without_crash(rel):
    r = read_statement(SHARED / rel)
    assert r.receipts.schema == r.debits.schema
    assert (r.receipts["amount"] > 0).all() and (r.debits["amount"] > 0).all()
    assert r.receipts["receipt_id"].n_unique() == r.receipts.height
    if rel in BROKEN:
        assert BROKEN[rel] in errors(r), r.findings
    # no reader bug surfaces as a generic parse failure
    assert "bank_parse" not in rules(r), r.findings


# ---------------------------------------------------------------------------- MT940


def _summary():
    return json.loads((SHARED / "mt940" / "EXPECTED_SUMMARY.json").read_text())


@pytest.mark.parametrize(
    "rel",
    sorted(json.loads((SHARED / "mt940" / "EXPECTED_SUMMARY.json").read_text()))
    if SHARED.is_dir()
    else [],
)
def test_mt940_matches_library_summary(rel):
    exp = _summary()[rel]
    r = read_statement(SHARED / "mt940" / rel)
    lines = pl.concat([r.receipts, r.debits]).sort("source_row")
    txs = [t for t in exp["transactions"] if Decimal(t["amount"]["amount"]) != 0]
    assert lines.height == len(txs)
    got = sorted(
        (d, a if s else -a)
        for d, a, s in zip(
            lines["value_date"],
            lines["amount"],
            [rid in set(r.receipts["receipt_id"]) for rid in lines["receipt_id"]],
            strict=True,
        )
    )
    want = sorted((date.fromisoformat(t["date"]), Decimal(t["amount"]["amount"])) for t in txs)
    assert got == want
    st = exp["statement"]
    # the library keeps the last :62F: seen; with several statements it is one of ours
    fcb = st.get("final_closing_balance")
    if fcb and r.statements.height and fcb["currency"].isalpha():
        assert Decimal(fcb["amount"]) in set(r.statements["closing_balance"])


def test_mt940_examples_from_manifest():
    r = read_statement(SHARED / "mt940/jejik/abnamro.sta")
    assert r.receipts.height + r.debits.height == 10
    assert r.statements["opening_balance"][0] == Decimal("3236.28")
    assert r.statements["closing_balance"][0] == Decimal("876.84")
    r = read_statement(SHARED / "mt940/jejik/ing.sta")
    assert r.receipts.height + r.debits.height == 7
    assert r.statements["opening_balance"][0] == 0
    assert r.statements["closing_balance"][0] == Decimal("3.47")
    r = read_statement(SHARED / "mt940/sberbank/171011_01234945.sta")
    st = r.statements.row(0, named=True)
    assert (st["opening_balance"], st["closing_balance"], st["lines"]) == (
        Decimal("627311.30"),
        Decimal("617874.30"),
        3,
    )
    assert st["currency"] == "HUF" and st["balanced"]


@pytest.mark.parametrize("name", ["test-ing.940", "test-ing-old.940", "test-ing-nl_ing.940"])
def test_oca_ing(name):
    r = read_statement(SHARED / "mt940/oca-odoo" / name)
    st = r.statements.row(0, named=True)
    assert (st["opening_balance"], st["closing_balance"]) == (Decimal("662.23"), Decimal("564.35"))
    assert st["balanced"] is True
    if name == "test-ing.940":  # the base module's file; the nl_ing copies differ in dates
        assert set(pl.concat([r.receipts, r.debits])["value_date"]) == {date(2014, 2, 20)}
    line = r.receipts.filter(pl.col("amount") == Decimal("1.56")).row(0, named=True)
    assert line["payer_account"] == "NL32INGB0000012345"
    assert line["end_to_end_id"] == "EV12341REP1231456T1234"


def test_oca_rabo():
    r = read_statement(SHARED / "mt940/oca-odoo/test-rabo-nl_rabo.swi")
    assert r.statements["account"][0] == "NL34RABO0142623393"
    assert r.statements["opening_balance"][0] == Decimal("4433.52")
    assert r.statements["closing_balance"][-1] == Decimal("4798.91")
    assert r.statements.height == 4 and (r.statements["lines"] > 0).sum() == 2
    line = r.receipts.row(0, named=True)
    assert (line["payer_account"], line["amount"], line["value_date"]) == (
        "NL66RABO0160878799",
        Decimal("400.00"),
        date(2014, 1, 2),
    )
    assert line["payer_name"] == "R. SMITH"
    assert r.statements["balanced"].all()
    assert "bank_statement_gap" not in rules(r)


def test_mt940_multi_statement_gap_is_found():
    # jejik/knab.sta: the second statement opens at 3058.98 after the first closed at 500
    r = read_statement(SHARED / "mt940/jejik/knab.sta")
    assert r.statements.height == 2
    assert "bank_statement_gap" in errors(r)


def test_mt942_sums():
    r = read_statement(SHARED / "mt940/mBank/mt942.sta")
    assert r.receipts.height == 3 and "mt942_sum_mismatch" not in rules(r)


# ---------------------------------------------------------------------------- CAMT


def _golden():
    return json.loads((SHARED / "camt053/oca/GOLDEN_EXPECTED.json").read_text())


@pytest.mark.parametrize(
    ("xml", "golden"),
    [
        ("test-camt053.xml", "golden-camt053.pydata"),
        ("test-camt053-txdtls.xml", "golden-camt053-txdtls.pydata"),
        ("test-camt054.xml", "golden-camt054.pydata"),
        ("test-camt053-no-ntry.xml", "golden-camt053-no-ntry.pydata"),
    ],
)
def test_camt_matches_oca_golden(xml, golden):
    ccy, acct, stmts = _golden()[golden]
    r = read_statement(SHARED / "camt053/oca" / xml)
    lines = pl.concat([r.receipts, r.debits.with_columns(-pl.col("amount"))])
    want = [t for s in stmts for t in s["transactions"]]
    assert sorted(lines["amount"]) == sorted(Decimal(str(t["amount"])) for t in want)
    for t in want:
        amt = Decimal(str(abs(t["amount"]))).quantize(Decimal("0.01"))
        frame = r.receipts if t["amount"] > 0 else r.debits
        hit = frame.filter(pl.col("amount") == amt).row(0, named=True)
        assert hit["payer_name"] == t["partner_name"]
        assert hit["payer_account"] == t["account_number"]
        assert hit["value_date"] >= date.fromisoformat(t["date"])  # OCA: booking date
    if acct:
        assert r.statements["account"][0] == acct and r.statements["currency"][0] == ccy
    for s, row in zip(stmts, r.statements.iter_rows(named=True), strict=False):
        if s["balance_end_real"] or s["balance_start"]:
            assert row["opening_balance"] == Decimal(str(s["balance_start"])).quantize(
                Decimal("0.01")
            )
            assert row["closing_balance"] == Decimal(str(s["balance_end_real"])).quantize(
                Decimal("0.01")
            )
            if xml == "test-camt053.xml":
                # OCA does not check it, but the fixture does not balance: 15568.27 - 754.25
                # - 664.05 + 1405.31 = 15555.28, not the stated 15121.12
                assert row["difference"] == Decimal("-434.16")
                assert errors(r) == {"bank_unbalanced"}
            else:
                assert row["balanced"] is True
                assert not errors(r)


def test_camt_memo_and_refs():
    r = read_statement(SHARED / "camt053/oca/test-camt053.xml")
    line = r.debits.filter(pl.col("amount") == Decimal("754.25")).row(0, named=True)
    assert "Insurance policy 857239" in line["memo"]
    assert line["end_to_end_id"] == "435005714488-ABNO33052620"
    tx = read_statement(SHARED / "camt053/oca/test-camt053-txdtls.xml").receipts
    assert set(tx["memo"]) == {"302388292000011111111111111", "302388292000022222222222222"}


def test_camt_truncated_fixtures_are_findings():
    # bookgdt-dttm holds one of the three entries of its statement; sftp has no closing
    assert "bank_unbalanced" in errors(
        read_statement(SHARED / "camt053/oca/test-camt053-bookgdt-dttm.xml")
    )
    assert "camt_missing_balance" in errors(read_statement(SHARED / "camt053/oca/sftp-camt053.xml"))


# ---------------------------------------------------------------------------- OFX


def test_ofx_oca():
    r = read_statement(SHARED / "ofx/oca/test_ofx.ofx")
    st = r.statements
    assert "123456" in st["account"][0]
    assert st["opening_balance"][0] == Decimal("2516.56")
    assert st["closing_balance"][0] == Decimal("2156.56")
    assert r.debits.filter(pl.col("payer_name") == "Agrolait")["value_date"][0] == date(2013, 8, 24)
    wrong = read_statement(SHARED / "ofx/oca/test_ofx_wrong.ofx")
    assert {"ofx_no_account", "ofx_no_currency", "ofx_bad_transaction"} <= errors(wrong)


def test_ofx_ofxparse_lenient():
    r = read_statement(SHARED / "ofx/ofxparse/fail_nice/date_missing.ofx")
    assert r.receipts.height + r.debits.height == 0
    assert (r.findings["rule"] == "ofx_bad_transaction").sum() == 3
    r = read_statement(SHARED / "ofx/ofxparse/fail_nice/empty_balance.ofx")
    assert r.receipts.height + r.debits.height == 1 and "ofx_no_balance" in rules(r)
    r = read_statement(SHARED / "ofx/ofxparse/ofx-v102-empty-tags.ofx")
    assert r.statements["account"][0] == "NPBS 12345678"
    assert "ofx_no_currency" in rules(r)


# ---------------------------------------------------------------------------- BAI2


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (SHARED / "bai2").rglob("*.*") if not p.name.startswith("LICENSE"))
    if SHARED.is_dir()
    else [],
)
def test_bai2_control_totals_hold(path):
    r = read_statement(path)
    assert r.fmt == "bai2"
    assert not {"bai2_control_total", "bai2_record_count", "bai2_truncated"} & rules(r), r.findings


def test_bai2_spec_example():
    r = read_statement(SHARED / "bai2/moov-io/spec-section3.txt")
    line = r.receipts.row(0, named=True)
    assert line["amount"] == Decimal("15000.00") and line["bank_ref"] == "DD1620"
    assert line["memo"] == "DEALER PAYMENTS" and line["value_date"] == date(2004, 6, 20)
    assert r.statements["opening_balance"][0] == Decimal("5000.00")


# ---------------------------------------------------------------------------- CSV


def test_oca_csv():
    r = read_statement(SHARED / "bank_csv/oca/sample_statement_en.csv")
    assert r.receipts.row(0, named=True)["amount"] == Decimal("1525.00")
    assert r.receipts["payer_name"][0] == "Azure Interior"
    assert r.debits["amount"][0] == Decimal("33.50") and r.debits["currency"][0] == "USD"
    assert r.receipts["value_date"][0] == date(2018, 12, 15)
    r = read_statement(SHARED / "bank_csv/oca/meta_data_separated_credit_debit.csv")
    assert sorted(r.debits["amount"]) == [Decimal("50.00"), Decimal("80.68"), Decimal("100.00")]
    assert r.receipts["amount"].to_list() == [Decimal("1300.00")]
    assert r.receipts["value_date"][0] == date(2020, 4, 2)
    assert r.statements["account"][0] == "08088804068"
    r = read_statement(SHARED / "bank_csv/oca/debit_credit.csv")
    assert r.receipts["amount"][0] == Decimal("1533.50") and r.debits["amount"][0] == Decimal(
        "33.50"
    )
