"""Bad input and faults never lose money, bank-file edition.

Every bank format (MT940, CAMT.053/.054, OFX 1.x/2.x, BAI2, each bank CSV preset, XLSX)
either loads an amount exactly or refuses it with an error finding naming the file, the
line/row, the column and the value as written; a refused line never reaches the receipts
(so never the totals). Readers stay linear on hostile input, a DOCTYPE is refused whatever
the encoding, and zip bombs are refused before anything inflates.

The decimals rule under test (``arlib.bankfiles.common.amount_refusal``): a written digit
beyond the currency's minor units that is not zero is ``too_many_decimals``; a written zero
there is exact and accepted in the structured formats (``100.500`` USD is 100.50). Bank
CSV/XLSX *text* follows the CSV loader instead and refuses any written decimal beyond the
minor units, zeros included (``12.500`` may be a thousands group). From 10**15 units up is
``amount_too_large``.
"""

from __future__ import annotations

import codecs
import io
import struct
import tempfile
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from arlib.bankfiles import (
    MAX_AMOUNT,
    PRESETS,
    check_xlsx,
    check_zip_bomb,
    read_statement,
    xmlsafe,
)
from arlib.bankfiles.common import amount_refusal

GOOD = Decimal("100.00")


def _errors(r, rule: str) -> pl.DataFrame:
    return r.findings.filter((pl.col("rule") == rule) & (pl.col("severity") == "error"))


def _swift(text: str) -> str:
    return text.replace(".", ",") if "." in text else text + ","


def _plus_good(text: str, minor: int = 2) -> str:
    """The closing balance 100 + ``text``, written with as many decimals as ``text``."""
    total = GOOD + Decimal(text)
    places = max(len(text.partition(".")[2]), minor)
    return f"{total:.{places}f}"


# --------------------------------------------------------------------------- builders
# Each returns (path, row, column) of the line carrying ``amount`` (text as written, with a
# decimal point); a good 100.00 line comes first in every file.


def mt940(tmp: Path, amount: str, ccy: str) -> tuple[Path, int, str]:
    good = "100," if ccy == "JPY" else "100,00"
    lines = [
        ":20:HOSTILE",
        ":25:NL91ABNA0417164300",
        ":28C:1/1",
        f":60F:C261001{ccy}0,",
        f":61:2610011001C{good}NTRFNONREF//GOOD1",
        ":86:/NAME/Good payer/REMI/INV-1/",
        f":61:2610021002C{_swift(amount)}NTRFNONREF//TEST2",
        ":86:/NAME/Test payer/REMI/INV-2/",
        f":62F:C261002{ccy}{_swift(_plus_good(amount, 0))}",
        "-",
    ]
    path = tmp / "hostile.sta"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path, 7, "amount"


def _camt_xml(amount: str, ccy: str, kind: str, closing: str | None = None) -> str:
    ntry = (
        '<Ntry><Amt Ccy="{ccy}">{amt}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        "<BookgDt><Dt>2026-10-0{d}</Dt></BookgDt><ValDt><Dt>2026-10-0{d}</Dt></ValDt>"
        "<AcctSvcrRef>R{d}</AcctSvcrRef></Ntry>"
    )
    entries = ntry.format(ccy=ccy, amt="100.00", d=1) + "\n" + ntry.format(ccy=ccy, amt=amount, d=2)
    if kind == "053":
        closing = closing if closing is not None else _plus_good(amount)
        bal = (
            "<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            '<Amt Ccy="{ccy}">{amt}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-0{d}</Dt></Dt>'
            "</Bal>"
        )
        bals = bal.format(code="OPBD", ccy=ccy, amt="0.00", d=1) + bal.format(
            code="CLBD", ccy=ccy, amt=closing, d=2
        )
        body = (
            "<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr>\n<Stmt><Id>S1</Id>"
            f"<Acct><Id><Othr><Id>ACC1</Id></Othr></Id><Ccy>{ccy}</Ccy></Acct>{bals}\n"
            f"{entries}\n</Stmt></BkToCstmrStmt>"
        )
    else:
        body = (
            "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>M1</MsgId></GrpHdr>\n<Ntfctn><Id>N1</Id>"
            f"<Acct><Id><Othr><Id>ACC1</Id></Othr></Id><Ccy>{ccy}</Ccy></Acct>\n"
            f"{entries}\n</Ntfctn></BkToCstmrDbtCdtNtfctn>"
        )
    return (
        '<?xml version="1.0" encoding="{enc}"?>\n{dtd}'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.02">{body}</Document>\n'
    )


def camt053(tmp: Path, amount: str, ccy: str) -> tuple[Path, int, str]:
    path = tmp / "hostile053.xml"
    path.write_text(_camt_xml(amount, ccy, "053").format(enc="UTF-8", dtd=""), encoding="utf-8")
    return path, 2, "Stmt[1]/Ntry[2]/Amt"


def camt054(tmp: Path, amount: str, ccy: str) -> tuple[Path, int, str]:
    path = tmp / "hostile054.xml"
    path.write_text(_camt_xml(amount, ccy, "054").format(enc="UTF-8", dtd=""), encoding="utf-8")
    return path, 2, "Ntfctn[1]/Ntry[2]/Amt"


_OFX_SGML = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
ENCODING:USASCII

<OFX>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>{ccy}
<BANKACCTFROM><BANKID>123<ACCTID>456<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20261001<DTEND>20261031
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261001<FITID>F1<NAME>Good payer
<TRNAMT>{good}
</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261002<FITID>F2<NAME>Test payer
<TRNAMT>{amount}
</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>{closing}<DTASOF>20261031</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1>
</OFX>
"""


def ofx(tmp: Path, amount: str, ccy: str) -> tuple[Path, int, str]:
    path = tmp / "hostile.ofx"
    good = "100" if ccy in ("JPY", "KRW") else "100.00"
    text = _OFX_SGML.format(ccy=ccy, good=good, amount=amount, closing=_plus_good(amount, 0))
    path.write_text(text, encoding="ascii")
    return path, 15, "TRNAMT"


def _ofx_xml(amount: str, ccy: str = "USD") -> str:
    return (
        '<?xml version="1.0" encoding="{enc}" standalone="no"?>\n'
        '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" '
        'NEWFILEUID="NONE"?>\n{dtd}'
        "<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID><STMTRS>"
        f"<CURDEF>{ccy}</CURDEF><BANKACCTFROM><BANKID>1</BANKID><ACCTID>2</ACCTID>"
        "<ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM><BANKTRANLIST>\n"
        "<STMTTRN><TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>20261001</DTPOSTED>"
        f"<TRNAMT>{amount}</TRNAMT><FITID>F1</FITID><NAME>Payer</NAME></STMTTRN>\n"
        "</BANKTRANLIST><LEDGERBAL><BALAMT>0</BALAMT><DTASOF>20261031</DTASOF></LEDGERBAL>"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )


def _bai2_text(cents: str, ccy: str) -> str:
    good = "100" if ccy == "JPY" else "10000"
    try:
        total = int(good) + int(cents)
        closing, acct = str(total), str(total + total)
    except ValueError:
        closing, acct = good, good
    return (
        "01,SENDER,RECEIVER,261031,1200,1,,,2/\n"
        f"02,RECEIVER,SENDER,1,261031,,{ccy},2/\n"
        f"03,ACC1,{ccy},010,0,,,015,{closing},,/\n"
        f"16,175,{good},,R1,C1,Good payer/\n"
        f"16,175,{cents},,R2,C2,Test payer/\n"
        f"49,{acct},4/\n"
        f"98,{acct},1,6/\n"
        f"99,{acct},1,8/\n"
    )


def bai2(tmp: Path, cents: str, ccy: str) -> tuple[Path, int, str]:
    """BAI2 writes whole minor units: ``cents`` is that integer text."""
    path = tmp / "hostile.bai"
    path.write_text(_bai2_text(cents, ccy), encoding="ascii")
    return path, 5, "amount"


# every preset with 借方/贷方 (debit/credit) columns, and those with a signed amount column
CSV_LAYOUTS = [(name, "credit") for name in sorted(PRESETS)] + [
    (name, "amount") for name in sorted(PRESETS) if "amount" in PRESETS[name].fields
]
_LAYOUT_IDS = [f"{n}-{f}" for n, f in CSV_LAYOUTS]


def _csv_header(name: str, field: str) -> list[str]:
    f = PRESETS[name].fields
    if field == "credit":
        return [f["date"][0], f["debit"][0], f["credit"][0], f["currency"][0]]
    return [f["date"][0], f["amount"][0], f["currency"][0]]


def bank_csv(tmp: Path, amount: str, ccy: str, layout: tuple[str, str]) -> tuple[Path, int, str]:
    preset, field = layout
    header = _csv_header(preset, field)

    def row(day: int, value: str) -> list[str]:
        cells = (
            [f"2026-10-0{day}", "", value, ccy]
            if field == "credit"
            else [
                f"2026-10-0{day}",
                value,
                ccy,
            ]
        )
        return [f'"{c}"' for c in cells]

    good = "100" if ccy in ("JPY", "KRW") else "100.00"
    lines = [",".join(header), ",".join(row(1, good)), ",".join(row(2, amount))]
    path = tmp / f"hostile_{preset}_{field}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, 3, field


def xlsx(tmp: Path, value, ccy: str) -> tuple[Path, int, str]:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["交易日期", "借方发生额", "贷方发生额", "币种"])
    ws.append(["2026-10-01", None, 100, ccy])
    ws.append(["2026-10-02", None, value, ccy])
    path = tmp / "hostile.xlsx"
    wb.save(path)
    return path, 3, "credit"


STRUCTURED = {"mt940": mt940, "camt053": camt053, "camt054": camt054, "ofx": ofx}


def _read(builder, tmp: Path, amount: str, ccy: str, layout: tuple[str, str] | None = None):
    if layout is None:
        path, row, column = builder(tmp, amount, ccy)
        return read_statement(path), path, row, column
    path, row, column = builder(tmp, amount, ccy, layout)
    return read_statement(path, preset=layout[0]), path, row, column


def _hit(r, rule: str, column: str) -> pl.DataFrame:
    """Errors of ``rule`` on ``column`` (a closing balance written from the line may be
    refused too, on its own column)."""
    return _errors(r, rule).filter(pl.col("column") == column)


def _assert_refused(r, path: Path, row: int, column: str, value: str, rule: str) -> None:
    hit = _hit(r, rule, column)
    assert hit.height == 1, r.findings
    got = hit.row(0, named=True)
    assert (got["file"], got["row"], got["column"], got["value"]) == (str(path), row, column, value)
    # the refused value never reaches the receipts (nor their total): only the good line
    assert r.receipts["amount"].to_list() == [GOOD]


# --------------------------------------------------------------------------- decimals


@pytest.mark.parametrize("fmt", sorted(STRUCTURED))
@pytest.mark.parametrize("ccy", ["CNY", "USD", "EUR"])
def test_structured_too_many_decimals_refused(tmp_path, fmt, ccy):
    r, path, row, column = _read(STRUCTURED[fmt], tmp_path, "66856.505", ccy)
    shown = "66856,505" if fmt == "mt940" else "66856.505"
    _assert_refused(r, path, row, column, shown, "too_many_decimals")


@pytest.mark.parametrize("fmt", sorted(STRUCTURED))
def test_structured_jpy_allows_no_decimals(tmp_path, fmt):
    r, path, row, column = _read(STRUCTURED[fmt], tmp_path, "1000.5", "JPY")
    _assert_refused(
        r, path, row, column, "1000,5" if fmt == "mt940" else "1000.5", "too_many_decimals"
    )
    ok, *_ = _read(STRUCTURED[fmt], tmp_path, "1000", "JPY")
    assert ok.receipts["amount"].to_list() == [Decimal(100), Decimal(1000)]
    assert not ok.findings.filter(pl.col("severity") == "error").height, ok.findings


NEAR_MISSES = [
    ("66856.50", "CNY", "66856.50"),  # exact minor units
    ("66856.500", "USD", "66856.50"),  # a written zero beyond them is still exact
    ("66856.5", "EUR", "66856.50"),
    ("1000.000", "JPY", "1000"),
    # just under MAX_AMOUNT once the good 100.00 is added to the closing balance
    ("999999999999899.99", "CNY", "999999999999899.99"),
]


@pytest.mark.parametrize(
    ("fmt", "text", "ccy", "want"),
    [
        (fmt, *case)
        for fmt in sorted(STRUCTURED)
        for case in NEAR_MISSES
        # MT940 amounts have at most 15 characters: the largest case cannot be written
        if not (fmt == "mt940" and len(_swift(case[0])) > 15)
    ],
)
def test_structured_near_misses_load_exactly(tmp_path, fmt, text, ccy, want):
    r, *_ = _read(STRUCTURED[fmt], tmp_path, text, ccy)
    assert r.receipts["amount"].to_list()[1] == Decimal(want)
    assert str(r.receipts["amount"][1]) == f"{Decimal(want):.2f}"
    assert not r.findings.filter(pl.col("severity") == "error").height, r.findings
    if fmt in ("mt940", "camt053"):
        assert r.statements["balanced"].to_list() == [True]


@pytest.mark.parametrize("fmt", ["camt053", "camt054", "ofx"])
@pytest.mark.parametrize("text", ["1000000000000000.00", "1" + "0" * 40, "9" * 5000 + ".5"])
def test_structured_huge_amount_refused(tmp_path, fmt, text):
    r, path, row, column = _read(STRUCTURED[fmt], tmp_path, text, "CNY")
    hit = _hit(r, "amount_too_large", column)
    assert hit.height == 1, r.findings
    got = hit.row(0, named=True)
    assert (got["file"], got["row"], got["column"]) == (str(path), row, column)
    assert got["value"] == text if len(text) <= 80 else got["value"].startswith(text[:20])
    assert len(got["value"]) < 100  # named, not copied whole
    assert r.receipts["amount"].to_list() == [GOOD]


def test_mt940_huge_amount_refused_not_truncated(tmp_path):
    # 10**15 needs 16 characters; the mt-940 library reads only the first 15
    # ("100000000000000", ten times less) and would load that without a word
    r, path, row, column = _read(mt940, tmp_path, "1000000000000000", "EUR")
    _assert_refused(r, path, row, column, "1000000000000000,", "amount_too_large")
    # the closing balance written from it is refused on its own line
    assert _hit(r, "amount_too_large", "closing_balance")["row"].to_list() == [9]


def test_mt940_amount_the_library_would_truncate_is_refused(tmp_path):
    # 17 characters, exact and below MAX_AMOUNT, but the library reads 12345678901234,
    r, path, row, column = _read(mt940, tmp_path, "12345678901234.56", "EUR")
    _assert_refused(r, path, row, column, "12345678901234,56", "mt940_bad_amount")
    assert "read as 12345678901234" in _hit(r, "mt940_bad_amount", column)["message"][0]


def test_mt940_balance_with_too_many_decimals_is_not_used(tmp_path):
    path, *_ = mt940(tmp_path, "5.00", "EUR")
    text = path.read_text().replace(":62F:C261002EUR105,00", ":62F:C261002EUR105,005")
    path.write_text(text)
    r = read_statement(path)
    hit = _errors(r, "too_many_decimals").row(0, named=True)
    assert (hit["row"], hit["column"], hit["value"]) == (9, "closing_balance", "105,005")
    assert r.statements["closing_balance"].to_list() == [None]
    assert r.statements["balanced"].to_list() == [None]
    assert "mt940_missing_balance" not in set(r.findings["rule"])
    assert r.receipts["amount"].to_list() == [GOOD, Decimal("5.00")]


def test_camt_balance_and_batch_amounts_are_checked(tmp_path):
    xml = _camt_xml("5.00", "CNY", "053", closing="105.001").format(enc="UTF-8", dtd="")
    f = tmp_path / "bal.xml"
    f.write_text(xml)
    r = read_statement(f)
    hit = _errors(r, "too_many_decimals").row(0, named=True)
    assert (hit["row"], hit["column"], hit["value"]) == (1, "Stmt[1]/Bal[2]/Amt", "105.001")
    assert "XML line" in hit["message"]
    assert r.statements["closing_balance"].to_list() == [None]
    assert "camt_missing_balance" not in set(r.findings["rule"])
    # a batch whose TxDtls carry an inexact amount stays one line at the entry's amount
    tx = '<TxDtls><Amt Ccy="CNY">{}</Amt><Refs><AcctSvcrRef>T{}</AcctSvcrRef></Refs></TxDtls>'
    batch = (
        '<Ntry><Amt Ccy="CNY">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-10-02'
        "</Dt></BookgDt><AcctSvcrRef>R2</AcctSvcrRef><NtryDtls>"
        + tx.format("2.505", 1)
        + tx.format("2.495", 2)
        + "</NtryDtls></Ntry>"
    )
    xml = _camt_xml("5.00", "CNY", "053").format(enc="UTF-8", dtd="")
    start = xml.index('<Ntry><Amt Ccy="CNY">5.00')
    f.write_text(xml[:start] + batch + xml[xml.index("</Ntry>", start) + len("</Ntry>") :])
    r = read_statement(f)
    assert r.receipts["amount"].to_list() == [GOOD, Decimal("5.00")]
    hits = _errors(r, "too_many_decimals")
    assert hits["column"].to_list() == [
        "Stmt[1]/Ntry[2]/NtryDtls/TxDtls[1]/Amt",
        "Stmt[1]/Ntry[2]/NtryDtls/TxDtls[2]/Amt",
    ]
    assert r.statements["balanced"].to_list() == [True]


def test_ofx_ledger_balance_with_too_many_decimals_is_not_used(tmp_path):
    path, *_ = ofx(tmp_path, "5.00", "USD")
    path.write_text(path.read_text().replace("<BALAMT>105.00", "<BALAMT>105.009"))
    r = read_statement(path)
    hit = _errors(r, "too_many_decimals").row(0, named=True)
    assert (hit["row"], hit["column"], hit["value"]) == (18, "LEDGERBAL/BALAMT", "105.009")
    assert r.statements["closing_balance"].to_list() == [None]
    assert r.receipts["amount"].to_list() == [GOOD, Decimal("5.00")]


def test_ofx_xml_too_many_decimals(tmp_path):
    f = tmp_path / "v2.ofx"
    f.write_text(_ofx_xml("12.345").format(enc="UTF-8", dtd=""))
    r = read_statement(f)
    hit = _errors(r, "too_many_decimals").row(0, named=True)
    assert (hit["row"], hit["column"], hit["value"]) == (4, "TRNAMT", "12.345")
    assert r.receipts.height == 0


# BAI2 writes whole minor units, so "too many decimals" cannot be written; a decimal point
# (or anything but an integer) is refused, and the currency's minor units scale exactly.


def test_bai2_decimal_point_refused(tmp_path):
    r, path, row, column = _read(bai2, tmp_path, "66856.505", "USD")
    hit = _errors(r, "bai2_bad_amount").row(0, named=True)
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == (
        str(path),
        row,
        column,
        "66856.505",
    )
    assert r.receipts["amount"].to_list() == [GOOD]


@pytest.mark.parametrize(
    ("cents", "ccy", "want"),
    [
        ("6685650", "USD", "66856.50"),
        ("6685650", "CNY", "66856.50"),
        ("1000", "JPY", "1000"),
        ("99999999999989999", "USD", "999999999999899.99"),  # closing 999999999999999.99
    ],
)
def test_bai2_exact(tmp_path, cents, ccy, want):
    r, *_ = _read(bai2, tmp_path, cents, ccy)
    assert r.receipts["amount"].to_list()[1] == Decimal(want)
    assert not r.findings.filter(pl.col("severity") == "error").height, r.findings


@pytest.mark.parametrize("cents", ["100000000000000000", "9" * 60])
def test_bai2_huge_refused(tmp_path, cents):
    r, path, row, column = _read(bai2, tmp_path, cents, "USD")
    hit = _errors(r, "amount_too_large")
    assert hit.height >= 1, r.findings  # the line, and the 015 balance written from it
    line = hit.filter(pl.col("row") == row).row(0, named=True)
    assert (line["file"], line["column"]) == (str(path), column)
    assert r.receipts["amount"].to_list() == [GOOD]


@pytest.mark.parametrize("layout", CSV_LAYOUTS, ids=_LAYOUT_IDS)
@pytest.mark.parametrize(
    ("text", "ccy", "rule"),
    [
        ("66856.505", "CNY", "too_many_decimals"),
        ("66856.505", "USD", "too_many_decimals"),
        ("66856.505", "EUR", "too_many_decimals"),
        ("1000.5", "JPY", "too_many_decimals"),
        ("66856.500", "CNY", "too_many_decimals"),  # text: written zeros count (CSV rule)
        ("1000.0", "JPY", "too_many_decimals"),
        ("1000000000000000.00", "CNY", "amount_too_large"),
        ("1,000,000,000,000,000", "CNY", "amount_too_large"),
    ],
)
def test_csv_presets_refuse(tmp_path, layout, text, ccy, rule):
    r, path, row, column = _read(bank_csv, tmp_path, text, ccy, layout)
    _assert_refused(r, path, row, column, text, rule)


@pytest.mark.parametrize("layout", CSV_LAYOUTS, ids=_LAYOUT_IDS)
@pytest.mark.parametrize(
    ("text", "ccy", "want"),
    [
        ("66856.50", "CNY", "66856.50"),
        ("66,856.5", "USD", "66856.50"),
        ("1000", "JPY", "1000"),
        ("1,000", "JPY", "1000"),
        ("999999999999999.99", "CNY", "999999999999999.99"),
    ],
)
def test_csv_presets_near_misses_load_exactly(tmp_path, layout, text, ccy, want):
    r, *_ = _read(bank_csv, tmp_path, text, ccy, layout)
    assert r.receipts["amount"].to_list() == [GOOD, Decimal(want)]
    assert not r.findings.filter(pl.col("severity") == "error").height, r.findings


def test_csv_balance_with_too_many_decimals_is_reported(tmp_path):
    f = tmp_path / "bal.csv"
    f.write_text(
        "交易日期,借方发生额,贷方发生额,余额\n2026-10-01,,100.00,100.00\n2026-10-02,,5.00,105.005\n"
    )
    r = read_statement(f, preset="icbc")
    hit = _errors(r, "too_many_decimals").row(0, named=True)
    assert (hit["row"], hit["column"], hit["value"]) == (3, "balance", "105.005")
    assert r.receipts["amount"].to_list() == [GOOD, Decimal("5.00")]


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (66856.505, "too_many_decimals"),
        ("66856.505", "too_many_decimals"),
        (1e16, "amount_too_large"),
    ],
)
def test_xlsx_refuses(tmp_path, value, rule):
    r, path, row, column = _read(xlsx, tmp_path, value, "CNY")
    hit = _hit(r, rule, column).row(0, named=True)
    assert (hit["file"], hit["row"], hit["column"]) == (str(path), row, column)
    assert r.receipts["amount"].to_list() == [GOOD]


@pytest.mark.parametrize(("value", "want"), [(66856.5, "66856.50"), ("66856.50", "66856.50")])
def test_xlsx_near_misses_load_exactly(tmp_path, value, want):
    r, *_ = _read(xlsx, tmp_path, value, "CNY")
    assert r.receipts["amount"].to_list() == [GOOD, Decimal(want)]


# ------------------------------------------------------------------ hypothesis: open class

_decimal_text = st.builds(
    lambda whole, frac: whole + ("." + frac if frac else ""),
    st.from_regex(r"[1-9][0-9]{0,16}|0", fullmatch=True),
    st.from_regex(r"[0-9]{0,4}", fullmatch=True),
)
_ccy = st.sampled_from(["CNY", "USD", "EUR", "JPY", "KRW"])


def _oracle(text: str, ccy: str, *, written_zeros_count: bool) -> str | None:
    """Independent statement of the rule: the expected refusal, or None (loads exactly)."""
    whole, _, frac = text.partition(".")
    minor = 0 if ccy in ("JPY", "KRW") else 2
    if len(whole.lstrip("0")) > 15:
        return "amount_too_large"
    beyond = frac[minor:]
    if (beyond and written_zeros_count) or beyond.strip("0"):
        return "too_many_decimals"
    return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_decimal_text, ccy=_ccy, fmt=st.sampled_from(["camt053", "camt054", "ofx"]))
def test_random_decimals_round_trip_or_are_refused(text, ccy, fmt):
    assume(Decimal(text) != 0)  # a zero line is neither receipt nor debit
    with tempfile.TemporaryDirectory() as d:
        r, path, row, column = _read(STRUCTURED[fmt], Path(d), text, ccy)
    want = _oracle(text, ccy, written_zeros_count=False)
    assert (amount_refusal(Decimal(text), ccy) or (None,))[0] == want
    if want is None:
        assert r.receipts["amount"].to_list()[1] == Decimal(text)
    else:
        hit = _hit(r, want, column)
        assert hit.height == 1, r.findings
        assert (hit["row"][0], hit["column"][0], hit["value"][0]) == (row, column, text)
        assert r.receipts.height == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_decimal_text, ccy=_ccy)
def test_random_csv_decimals_round_trip_or_are_refused(text, ccy):
    assume(Decimal(text) != 0)
    with tempfile.TemporaryDirectory() as d:
        r, path, row, column = _read(bank_csv, Path(d), text, ccy, ("generic", "amount"))
    want = _oracle(text, ccy, written_zeros_count=True)
    if want is None:
        assert r.receipts["amount"].to_list() == [GOOD, Decimal(text)]
    else:
        hit = _errors(r, want)
        assert hit.height == 1, r.findings
        assert (hit["row"][0], hit["column"][0], hit["value"][0]) == (row, column, text)
        assert r.receipts["amount"].to_list() == [GOOD]


def test_max_amount_is_the_documented_bound():
    assert Decimal(10) ** 15 == MAX_AMOUNT
    assert amount_refusal(MAX_AMOUNT - Decimal("0.01"), "USD") is None
    assert amount_refusal(-MAX_AMOUNT, "USD")[0] == "amount_too_large"
    # pure digit logic: no decimal context rounds a 40-digit fraction on the way
    assert amount_refusal(Decimal("1." + "0" * 38 + "1"), "USD")[0] == "too_many_decimals"
    assert amount_refusal(Decimal("1." + "0" * 40), "USD") is None


# --------------------------------------------------------------------------- DOCTYPE

_DTD = '<!DOCTYPE Document [<!ENTITY x "1">]>\n'
# (codec, declared name, BOM): UTF-8/16/32, with and without BOMs, both byte orders
ENCODINGS = [
    ("utf-8", "UTF-8", b""),
    ("utf-8", "UTF-8", codecs.BOM_UTF8),
    ("utf-16-le", "UTF-16", codecs.BOM_UTF16_LE),
    ("utf-16-be", "UTF-16", codecs.BOM_UTF16_BE),
    ("utf-16-le", "UTF-16", b""),
    ("utf-16-be", "UTF-16", b""),
    ("utf-32-le", "UTF-32", codecs.BOM_UTF32_LE),
    ("utf-32-be", "UTF-32", codecs.BOM_UTF32_BE),
    ("utf-32-le", "UTF-32", b""),
    ("utf-32-be", "UTF-32", b""),
    ("latin-1", "ISO-8859-1", b""),
    ("gb18030", "GB18030", b""),
]
_ENC_IDS = [f"{c}{'-bom' if b else ''}" for c, _, b in ENCODINGS]


def _xml_docs() -> dict[str, tuple[str, str | None]]:
    """Document templates ({enc}, {dtd}) and the format read_statement should find."""
    return {
        "camt053": (_camt_xml("5.00", "CNY", "053"), "camt053"),
        "camt054": (_camt_xml("5.00", "CNY", "054"), "camt054"),
        "ofx2": (_ofx_xml("5.00"), "ofx"),
    }


@pytest.mark.parametrize("doc", sorted(_xml_docs()))
@pytest.mark.parametrize(("codec", "declared", "bom"), ENCODINGS, ids=_ENC_IDS)
def test_doctype_refused_in_every_encoding(tmp_path, doc, codec, declared, bom):
    template, fmt = _xml_docs()[doc]
    clean = tmp_path / f"{doc}-clean.xml"
    clean.write_bytes(bom + template.format(enc=declared, dtd="").encode(codec))
    control = read_statement(clean)  # the same file without a DTD reads: the encoding works
    assert control.fmt == fmt and control.receipts.height >= 1, control.findings
    bad = tmp_path / f"{doc}-dtd.xml"
    text = template.format(enc=declared, dtd=_DTD)
    line = text.split("\n").index(_DTD.strip()) + 1
    bad.write_bytes(bom + text.encode(codec))
    for r in (read_statement(bad), read_statement(bad, fmt=fmt)):
        hit = _errors(r, "xml_dtd_refused")
        assert hit.height == 1, r.findings
        assert hit["file"][0] == str(bad) and hit["row"][0] == line
        assert r.receipts.height == 0 and r.debits.height == 0


def test_doctype_in_utf7_spelling_refused(tmp_path):
    # UTF-7 spells "<!" as "+ADwAIQ-": no byte search finds it, the declared encoding does
    doc = _camt_xml("5.00", "CNY", "053").format(enc="UTF-7", dtd="+ADwAIQ-DOCTYPE Document>\n")
    f = tmp_path / "utf7.xml"
    f.write_bytes(doc.encode("ascii"))
    r = read_statement(f, fmt="camt053")
    assert _errors(r, "xml_dtd_refused").height == 1, r.findings
    assert r.receipts.height == 0


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "utf-32"])
def test_doctype_behind_a_long_prolog_is_refused(tmp_path, codec):
    pad = "<!--" + "x" * (xmlsafe.PROLOG_BYTES + 10) + "-->\n"
    doc = _camt_xml("5.00", "CNY", "053").format(enc=codec.upper(), dtd=pad + _DTD)
    f = tmp_path / "long.xml"
    f.write_bytes(doc.encode(codec))
    r = read_statement(f, fmt="camt053")
    assert _errors(r, "xml_dtd_refused").height == 1, r.findings
    assert r.receipts.height == 0


def test_parsed_dtd_is_refused_even_if_the_prolog_check_missed_it(tmp_path, monkeypatch):
    monkeypatch.setattr(xmlsafe, "refusal", lambda data, file, complete=True: None)
    data = _camt_xml("5.00", "CNY", "053").format(enc="UTF-16", dtd=_DTD).encode("utf-16")
    root, found = xmlsafe.parse(data, "x.xml")
    assert root is None and [f.rule for f in found] == ["xml_dtd_refused"]


def _xlsx_with_part(tmp_path: Path, name: str, transform) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["交易日期", "贷方发生额"])
    wb.active.append(["2026-10-01", 100])
    src = tmp_path / "src.xlsx"
    wb.save(src)
    out = tmp_path / "book.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, transform(data) if info.filename == name else data)
    return out


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "utf-32-be"])
def test_xlsx_part_with_doctype_refused(tmp_path, codec):
    def add_dtd(data: bytes) -> bytes:
        text = data.decode("utf-8")
        if text.startswith("<?xml"):
            text = text[text.index("?>") + 2 :].lstrip()
        decl = f'<?xml version="1.0" encoding="{codec.upper()}" standalone="yes"?>'
        return (decl + "\n" + _DTD + text).encode(codec)

    f = _xlsx_with_part(tmp_path, "xl/worksheets/sheet1.xml", add_dtd)
    found = check_xlsx(f, f, 10**8)
    assert [x.rule for x in found] == ["xml_dtd_refused"]
    assert found[0].file == f"{f}!xl/worksheets/sheet1.xml" and found[0].row == 2
    r = read_statement(f)
    assert _errors(r, "xml_dtd_refused").height == 1 and r.receipts.height == 0
    clean = _xlsx_with_part(tmp_path, "none", lambda d: d)
    assert check_xlsx(clean, clean, 10**8) == []


# --------------------------------------------------------------------------- zip bombs


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _overlapping_zip(kernel: bytes, copies: int) -> bytes:
    """``copies`` central-directory entries all pointing at one local file (the
    overlapping-files zip bomb, reduced to its essence)."""
    one = _zip({"k.csv": kernel})
    cd, eocd = one.index(b"PK\x01\x02"), one.index(b"PK\x05\x06")
    local, central = one[:cd], one[cd:eocd]
    entries = b"".join(central[:46] + f"{i}.csv".encode() + central[51:] for i in range(copies))
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, copies, copies, len(entries), len(local), 0)
    return local + entries + end


def test_check_zip_bomb_ratio_member_size_total_and_count(tmp_path):
    bomb = _zip({"ok.csv": b"a,b\n1,2\n", "zeros.csv": b"0" * 30_000_000})
    found = check_zip_bomb(bomb, "bomb.zip", 10**9)
    assert [f.rule for f in found] == ["zip_bomb"]
    assert found[0].file == "bomb.zip!zeros.csv"
    assert check_zip_bomb(bomb, "bomb.zip", 10**6)[0].rule == "zip_member_too_large"
    many = _zip({f"{i}.csv": b"x" * 600_000 for i in range(4)})
    assert [f.rule for f in check_zip_bomb(many, "m.zip", 2_000_000)] == ["zip_too_large"]
    assert check_zip_bomb(many, "m.zip", 10**7) == []
    assert check_zip_bomb(many, "m.zip", 10**7, max_members=3)[0].rule == "zip_too_many_members"
    assert check_zip_bomb(b"PK\x03\x04junk", "j.zip", 10**7)[0].rule == "zip_corrupt"
    p = tmp_path / "bomb.zip"
    p.write_bytes(bomb)
    with zipfile.ZipFile(p) as zf:  # a path or an open ZipFile work the same
        assert check_zip_bomb(zf, p, 10**9) == check_zip_bomb(p, p, 10**9)


def test_overlapping_entries_bomb_refused(tmp_path):
    data = _overlapping_zip(b"0" * 200_000, 5)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert len(zf.infolist()) == 5
    assert "zip_bomb" in [f.rule for f in check_zip_bomb(data, "o.zip", 10**9)]
    f = tmp_path / "o.zip"
    f.write_bytes(data)
    r = read_statement(f)
    assert _errors(r, "bank_zip_bomb").height == 1 and r.receipts.height == 0


def test_zip_of_statements_refuses_a_bomb_member_and_reads_the_rest(tmp_path):
    path, *_ = camt053(tmp_path, "5.00", "CNY")
    f = tmp_path / "day.zip"
    f.write_bytes(_zip({"a.xml": path.read_bytes(), "b.xml": b"<" + b" " * 40_000_000}))
    r = read_statement(f)  # the default 512 MB cap alone would let b.xml inflate
    hit = _errors(r, "bank_zip_bomb")
    assert hit["file"].to_list() == [f"{f}!b.xml"]
    assert r.receipts["amount"].to_list() == [GOOD, Decimal("5.00")]


def test_lying_size_header_cannot_inflate_past_the_declared_size():
    data = bytearray(_zip({"liar.csv": b"a,b\n" * 2_000_000}))
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = data.index(sig)
        data[i + at : i + at + 4] = struct.pack("<I", 100)
    assert check_zip_bomb(bytes(data), "liar.zip", 10**6) == []  # the header looks fine
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf, zf.open("liar.csv") as fh:
        got = b""
        with pytest.raises(zipfile.BadZipFile):
            while chunk := fh.read(65536):
                got += chunk
        assert len(got) <= 100  # zipfile stops at the declared size: bounded


def test_xlsx_bomb_refused(tmp_path):
    f = _xlsx_with_part(tmp_path, "xl/worksheets/sheet1.xml", lambda d: d + b" " * 30_000_000)
    found = check_xlsx(f, "book.xlsx", 10**9)
    assert [x.rule for x in found] == ["xlsx_bomb"]
    r = read_statement(f)
    assert _errors(r, "xlsx_bomb").height == 1 and r.receipts.height == 0


# --------------------------------------------------------------------------- boundedness

_OFX_HEAD = "OFXHEADER:100\nDATA:OFXSGML\n\n<OFX>\n"
# ~n bytes of each hostile shape, on lines of ~100 kB so the line cap does not end it early
HOSTILE_OFX = {
    "tags_never_closed": "<A",  # '<' with no '>' ever
    "long_name": "<" + "A" * 99_990,
    "aggregates_never_closed": "<STMTTRN>",
    "leaves_never_closed": "<STMTTRN><TRNAMT>1.00<NAME>x",
    "distinct_aggregates": None,  # <A0><A1>... built below
    "comment_never_closed": "<!--",
    "cdata_never_closed": "<![CDATA[",
    "closers_without_openers": "<A></Z>",
}


def _hostile(kind: str, n: int) -> str:
    unit = HOSTILE_OFX[kind]
    distinct = "".join(f"<A{i}>" for i in range(n // 6))
    body = distinct if unit is None else unit * (n // len(unit))
    lines = [body[i : i + 100_000] for i in range(0, len(body), 100_000)]
    return _OFX_HEAD + "\n".join(lines)


def _cpu(path: Path, fmt: str) -> tuple[float, object]:
    t = time.process_time()
    r = read_statement(path, fmt=fmt)
    return time.process_time() - t, r


@pytest.mark.parametrize("kind", sorted(HOSTILE_OFX))
def test_ofx_hostile_megabyte_is_bounded(tmp_path, kind):
    f = tmp_path / f"{kind}.ofx"
    f.write_text(_hostile(kind, 1_000_000))
    took, r = _cpu(f, "ofx")
    # the quadratic tokeniser took minutes here; linear code takes about a second
    assert took < 20, f"{kind}: {took:.1f}s"
    assert r.findings.height >= 1  # a result with findings, not an exception


def test_ofx_unclosed_tags_scale_linearly(tmp_path):
    small, big = tmp_path / "s.ofx", tmp_path / "b.ofx"
    small.write_text(_hostile("comment_never_closed", 250_000))
    big.write_text(_hostile("comment_never_closed", 2_000_000))
    t_small = min(_cpu(small, "ofx")[0] for _ in range(3))
    t_big = _cpu(big, "ofx")[0]
    # 8x the input: linear is ~8x, quadratic ~64x; generous slack for a busy machine
    assert t_big < 24 * t_small + 2.0, (t_small, t_big)


def test_ofx_unclosed_aggregates_parse_instead_of_nesting(tmp_path):
    txs = "".join(
        f"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261001<TRNAMT>{i}.00<FITID>F{i}\n"
        for i in range(1, 2001)
    )
    f = tmp_path / "open.ofx"
    f.write_text(
        _OFX_HEAD + "<STMTRS><CURDEF>USD<BANKACCTFROM><ACCTID>1</BANKACCTFROM>\n"
        f"<BANKTRANLIST>\n{txs}</BANKTRANLIST></STMTRS></OFX>\n"
    )
    r = read_statement(f)
    assert r.receipts.height == 2000  # no recursion limit, no nesting 2000 deep
    assert r.receipts["amount"].sum() == Decimal(2000 * 2001 // 2)


def test_ofx_too_deep_is_a_finding(tmp_path):
    f = tmp_path / "deep.ofx"
    f.write_text(_hostile("distinct_aggregates", 20_000))
    r = read_statement(f)
    hit = _errors(r, "ofx_too_deep")
    assert hit.height == 1 and hit["file"][0] == str(f) and hit["row"][0] is not None


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("bai2", _bai2_text("1", "USD") + "continued text\n" * 70_000),
        (
            "bai2",
            "01,S,R,261031,1200,1,,,2/\n02,R,S,1,261031,,USD,2/\n03,A,USD,010,0,,/\n"
            + "88,015,1,,/\n" * 90_000,
        ),
        ("mt940", ":20:X\n:25:A\n:28C:1\n:60F:C261001EUR0,\n" + ":86:text\n" * 100_000),
        ("mt940", ":20:S\n" * 60_000),
        ("csv", "date,amount\n" + ("," * 100_000 + "\n") * 10),
    ],
    ids=["bai2-broken-lines", "bai2-88s", "mt940-86s", "mt940-statements", "csv-wide-rows"],
)
def test_text_formats_bounded_on_a_megabyte(tmp_path, fmt, text):
    f = tmp_path / f"hostile.{fmt}"
    f.write_text(text)
    took, r = _cpu(f, fmt)
    assert took < 20, f"{fmt}: {took:.1f}s"
    assert isinstance(r.findings, pl.DataFrame)  # a result, not an exception


# --------------------------------------------------------------------------- decoding


def test_decoding_error_names_the_line_not_the_offset(tmp_path):
    f = tmp_path / "bad.sta"
    f.write_bytes(b":20:X\n:25:A\n:86:caf\xe9 \xff\n:28C:1\n")
    r = read_statement(f, encoding="utf-8")
    hit = _errors(r, "bank_encoding").row(0, named=True)
    assert hit["row"] == 3 and "line 3" in hit["message"] and "offset" not in hit["message"]
    assert hit["file"] == str(f) and hit["value"].startswith("e9")


def test_decoding_error_line_in_utf16(tmp_path):
    f = tmp_path / "bad16.csv"
    text = "date,amount\n2026-10-01,1.00\n2026-10-02,"
    # an unpaired surrogate on line 3 (the newline bytes 0a 00 counted as text, not bytes)
    f.write_bytes(
        codecs.BOM_UTF16_LE + text.encode("utf-16-le") + b"\x00\xd8" + "\n".encode("utf-16-le")
    )
    r = read_statement(f, fmt="csv")
    hit = _errors(r, "bank_encoding").row(0, named=True)
    assert hit["row"] == 3 and "line 3" in hit["message"]


def test_ofx_cp1252_undefined_byte_names_its_line(tmp_path):
    path, *_ = ofx(tmp_path, "5.00", "USD")
    data = path.read_bytes().replace(b"Test payer", b"Test \x81payer")
    path.write_bytes(data)
    r = read_statement(path)
    hit = _errors(r, "bank_encoding").row(0, named=True)
    assert hit["row"] == 14 and "line 14" in hit["message"]


def test_csv_error_names_its_line(tmp_path):
    f = tmp_path / "field.csv"
    f.write_text('date,amount\n2026-10-01,1.00\n2026-10-02,"' + "x" * 200_000 + '"\n')
    r = read_statement(f, fmt="csv")
    hit = _errors(r, "csv_malformed").row(0, named=True)
    assert hit["row"] == 3 and "line 3" in hit["message"]
