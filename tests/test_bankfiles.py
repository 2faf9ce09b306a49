"""Constructed edge cases: Chinese bank exports (GBK, title rows, 借方/贷方, 合计), hostile and
broken files, statement controls, and the CAMT/MT940 writers' round trip."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from arlib.bankfiles import PRESETS, read_statement
from arlib.schema import columns
from tests.bankfile_writers import write_camt053, write_mt940

HERE = Path(__file__).resolve().parent / "fixtures" / "bank"

ICBC_GBK = """中国工商银行对公账户历史明细
账号：1001 2345 6789 012,户名：上海某某贸易有限公司
币种：人民币,查询期间：2026-10-01 至 2026-10-31
交易日期,摘要,借方发生额,贷方发生额,余额,对方单位名称,对方账号,用途,交易流水号
2026-10-08,货款,,"12,345.60","112,345.60",杭州甲公司,6222020200001234,INV-0001 INV-0002,000123
2026-10-09,手续费,15.00,,"112,330.60",,,,000124
2026/10/10,货款,,800,"113,130.60",宁波乙公司,3100-9999-01,发票INV-0003,000125
合计,,15.00,"13,145.60",,,,,
"""


def _rules(r) -> set[str]:
    return set(r.findings["rule"])


def test_presets_documented():
    assert {"icbc", "ccb", "boc", "abc", "cmb", "generic_cn", "generic"} <= set(PRESETS)
    for p in PRESETS.values():
        assert p.description and "date" in p.fields


def test_icbc_gbk_export(tmp_path):
    f = tmp_path / "icbc_202610.csv"
    f.write_bytes(ICBC_GBK.encode("gbk"))
    r = read_statement(f)  # preset and encoding detected
    assert r.fmt == "csv"
    assert r.receipts.schema == pl.Schema(columns("receipts"))
    assert r.receipts["amount"].to_list() == [Decimal("12345.60"), Decimal("800.00")]
    assert r.receipts["payer_name"].to_list() == ["杭州甲公司", "宁波乙公司"]
    assert r.receipts["payer_account"][0] == "6222020200001234"
    assert r.receipts["memo"][0] == "货款 / INV-0001 INV-0002"
    assert r.receipts["receipt_id"].to_list() == ["000123", "000125"]  # 流水号, leading zeros
    assert r.receipts["value_date"].to_list() == [date(2026, 10, 8), date(2026, 10, 10)]
    assert r.receipts["currency"].to_list() == ["CNY", "CNY"]
    assert r.receipts["source_row"].to_list() == [5, 7]
    assert r.debits["amount"].to_list() == [Decimal("15.00")]
    st = r.statements.row(0, named=True)
    assert st["account"] == "1001 2345 6789 012"
    assert (st["opening_balance"], st["closing_balance"]) == (
        Decimal("100000.00"),
        Decimal("113130.60"),
    )
    assert st["balanced"] is True
    tot = r.findings.filter(pl.col("rule") == "bank_totals_row_skipped")
    assert tot.height == 1 and tot["severity"][0] == "warning" and tot["row"][0] == 8


def test_named_preset_and_newest_first_order(tmp_path):
    text = (
        "招商银行交易明细\n交易日,借方金额,贷方金额,余额,收(付)方名称,收(付)方账号,摘要,流水号\n"
        "20261012,,300.00,1300.00,丙公司,622588,货款,A2\n"
        "20261011,,1000.00,1000.00,丁公司,622599,预付款,A1\n"
        "总计,,1300.00,,,,,\n"
    )
    f = tmp_path / "cmb.csv"
    f.write_bytes(text.encode("gb18030"))
    r = read_statement(f, preset="cmb")
    assert r.receipts["payer_name"].to_list() == ["丙公司", "丁公司"]
    assert r.receipts["value_date"][0] == date(2026, 10, 12)
    st = r.statements.row(0, named=True)
    assert (st["opening_balance"], st["closing_balance"], st["balanced"]) == (
        Decimal("0.00"),
        Decimal("1300.00"),
        True,
    )


def test_running_balance_break_is_an_error(tmp_path):
    bad = ICBC_GBK.replace('"113,130.60"', '"113,130.00"')
    f = tmp_path / "icbc.csv"
    f.write_text(bad, encoding="utf-8-sig")
    r = read_statement(f, preset="icbc")
    errs = r.findings.filter(pl.col("rule") == "bank_running_balance")
    assert errs["row"].to_list() == [7]


def test_xlsx_export(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["中国建设银行账户明细"])
    ws.append(["账号:", "11001234500052500000"])
    ws.append(
        [
            "交易时间",
            "借方发生额（支取）",
            "贷方发生额（收入）",
            "余额",
            "对方户名",
            "对方账号",
            "摘要",
            "账户明细编号-交易流水号",
        ]
    )
    ws.append([date(2026, 10, 3), None, 5000.5, 5000.5, "戊公司", "955880", "货款", "0001"])
    ws.append([date(2026, 10, 4), 0.5, None, 5000, None, None, "费用", "0002"])
    ws.append(["合计", 0.5, 5000.5])
    f = tmp_path / "ccb.xlsx"
    wb.save(f)
    r = read_statement(f)
    assert r.fmt == "xlsx"
    assert r.receipts["amount"].to_list() == [Decimal("5000.50")]
    assert r.receipts["payer_name"].to_list() == ["戊公司"]
    assert r.debits["amount"].to_list() == [Decimal("0.50")]
    assert r.statements["balanced"][0] is True
    assert "bank_totals_row_skipped" in _rules(r)


def test_wrong_encoding_is_a_finding(tmp_path):
    f = tmp_path / "gbk.csv"
    f.write_bytes(ICBC_GBK.encode("gbk"))
    r = read_statement(f, encoding="utf-8")
    enc = r.findings.filter(pl.col("rule") == "bank_encoding")
    assert enc.height == 1 and enc["row"][0] == 1


# ---------------------------------------------------------------------------- safety

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Id>&x;</Id></Stmt></BkToCstmrStmt></Document>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document><BkToCstmrStmt><Stmt><Id>&lol3;</Id></Stmt></BkToCstmrStmt></Document>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS])
def test_hostile_xml_refused(tmp_path, payload):
    f = tmp_path / "evil.xml"
    f.write_bytes(payload)
    r = read_statement(f)
    assert r.fmt == "camt053"
    hit = r.findings.filter(pl.col("rule") == "xml_dtd_refused")
    assert hit.height == 1 and hit["row"][0] == 2 and hit["file"][0] == str(f)
    assert r.statements.height == 0
    assert "root:" not in r.findings["message"].str.join("")


def test_hostile_ofx_refused(tmp_path):
    f = tmp_path / "evil.ofx"
    f.write_bytes(XXE.replace(b"<Document", b"<OFX><Document"))
    assert "xml_dtd_refused" in _rules(read_statement(f, fmt="ofx"))


def test_truncated_xml(tmp_path):
    src = write_camt053(_receipts(), tmp_path / "ok.xml")
    f = tmp_path / "cut.xml"
    f.write_bytes(src.read_bytes()[:-200])
    r = read_statement(f)
    hit = r.findings.filter(pl.col("rule") == "xml_malformed")
    assert hit.height == 1 and hit["row"][0] is not None


def test_truncated_mt940(tmp_path):
    src = write_mt940(_receipts(), tmp_path / "ok.sta")
    f = tmp_path / "cut.sta"
    f.write_text(src.read_text().split(":62F:")[0])
    r = read_statement(f)
    assert "mt940_missing_balance" in _rules(r)
    assert r.receipts.height == 3  # what was there is still read


def test_truncated_bai2(tmp_path):
    f = tmp_path / "cut.bai2"
    f.write_text("\n".join((HERE / "bai2/citi_example.bai2").read_text().splitlines()[:-3]))
    assert "bai2_truncated" in _rules(read_statement(f))


def test_huge_single_line_is_refused_fast(tmp_path):
    f = tmp_path / "huge.sta"
    with f.open("wb") as fh:
        fh.write(b":20:X\n:86:")
        fh.write(b"A" * (50 * 1024 * 1024))
    t0 = time.perf_counter()
    r = read_statement(f)
    assert time.perf_counter() - t0 < 5
    hit = r.findings.filter(pl.col("rule") == "bank_line_too_long")
    assert hit.height == 1 and hit["row"][0] == 2


def test_file_size_cap(tmp_path):
    f = tmp_path / "big.csv"
    f.write_bytes(b"a,b\n" * 1000)
    r = read_statement(f, max_bytes=1000)
    assert "bank_file_too_large" in _rules(r)


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02garbage", b"hello world"])
def test_unrecognised_content(tmp_path, content):
    f = tmp_path / "x.dat"
    f.write_bytes(content)
    r = read_statement(f)
    assert r.findings.height >= 1 and (r.findings["severity"] == "error").any()


def test_missing_file(tmp_path):
    assert "bank_file_unreadable" in _rules(read_statement(tmp_path / "nope.sta"))


# ---------------------------------------------------------------------------- permissive copies


def test_copied_fixtures():
    r = read_statement(HERE / "ofx/bank_medium.ofx")
    assert r.debits.height + r.receipts.height == 3
    first = pl.concat([r.debits, r.receipts]).sort("source_row").row(0, named=True)
    assert first["payer_name"] == "MCDONALD'S #112" and first["amount"] == Decimal("6.60")
    assert r.statements["closing_balance"][0] == Decimal("382.34")
    r = read_statement(HERE / "ofx/suncorp.ofx")
    assert r.debits.row(0, named=True)["payer_name"] == "EFTPOS WDL HANDYWAY ALDI STORE"
    assert r.debits["amount"][0] == Decimal("16.85")
    r = read_statement(HERE / "ofx/multiple_accounts.ofx")
    assert [a.split()[-1] for a in r.statements["account"]] == ["9100", "9200"]
    assert read_statement(HERE / "ofx/anzcc.ofx").statements["account"][0] == "1234123412341234"
    assert "ofx_bad_transaction" in _rules(read_statement(HERE / "ofx/fail_nice_decimal_error.ofx"))
    r = read_statement(HERE / "mt940/cmxl_mt940.sta")
    assert r.statements.height == 3 and r.statements["balanced"].all()
    for name in ("citi_example", "nwb_example", "svb_us_example"):
        r = read_statement(HERE / f"bai2/{name}.bai2")
        assert not {"bai2_control_total", "bai2_record_count"} & _rules(r)


# ---------------------------------------------------------------------------- controls


def test_gap_and_overlap_between_statements(tmp_path):
    a = write_mt940(_receipts(), tmp_path / "a.sta", opening=Decimal("100.00"))
    text = a.read_text()
    # a second statement of the same account that opens 1.00 off the first's closing
    second = text.replace(":60F:C261005CNY100,00", ":60F:C261005CNY1124,56").replace("1/1", "2/1")
    f = tmp_path / "two.sta"
    f.write_text(text + second)
    r = read_statement(f)
    assert r.statements.height == 2
    assert "bank_statement_gap" in _rules(r)
    assert "bank_statement_overlap" in _rules(r)


def test_unbalanced_statement(tmp_path):
    a = write_camt053(_receipts(), tmp_path / "a.xml", opening=Decimal("10.00"))
    f = tmp_path / "b.xml"
    f.write_text(a.read_text().replace(">10.00<", ">11.00<", 1))
    r = read_statement(f)
    st = r.statements.row(0, named=True)
    assert st["balanced"] is False and st["difference"] == Decimal("-1.00")
    assert "bank_unbalanced" in _rules(r)


# ---------------------------------------------------------------------------- round trip


def _receipts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "receipt_id": ["R-2026-10-0001", "R-2026-10-0002", "R-2026-10-0003"],
            "value_date": [date(2026, 10, 5), date(2026, 10, 7), date(2026, 10, 9)],
            "amount": [Decimal("1000.00"), Decimal("23.45"), Decimal("0.11")],
            "currency": ["CNY"] * 3,
            "payer_name": ["Hangzhou Jia Trading", "Ningbo Yi Co", "Acme Ltd"],
            "payer_account": ["6222020200001234", None, "CN12345678"],
            "memo": ["INV-0001 INV-0002", "payment for INV-0003", "bank interest"],
            "bank_ref": [None] * 3,
            "end_to_end_id": ["E2E-1", None, None],
            "source_file": ["x"] * 3,
            "source_row": [1, 2, 3],
        },
        schema=columns("receipts"),
    )


@pytest.mark.parametrize("writer", [write_camt053, write_mt940])
def test_round_trip(tmp_path, writer):
    src = _receipts()
    f = writer(src, tmp_path / "stmt", opening=Decimal("100.00"))
    r = read_statement(f)
    assert not (r.findings["severity"] == "error").any(), r.findings
    keep = ["receipt_id", "value_date", "amount", "currency", "payer_name", "memo"]
    assert r.receipts.select(keep).equals(src.select(keep))
    assert r.receipts["payer_account"].to_list() == src["payer_account"].to_list()
    st = r.statements.row(0, named=True)
    assert (st["opening_balance"], st["closing_balance"], st["balanced"]) == (
        Decimal("100.00"),
        Decimal("1123.56"),
        True,
    )


def test_same_period_closes_identically(tmp_path):
    a = read_statement(write_camt053(_receipts(), tmp_path / "a.xml", opening=Decimal("5")))
    b = read_statement(write_mt940(_receipts(), tmp_path / "b.sta", opening=Decimal("5")))
    cols = ["opening_balance", "closing_balance", "credits_total", "debits_total", "lines"]
    assert a.statements.select(cols).equals(b.statements.select(cols))
