"""Silent misreads of Chinese bank CSV/XLSX exports (借方/贷方, 余额, 摘要, 合计), each with its
near miss that must still load exactly (issue "Bad input never loses money").

* K01: a line with both 借方 (debit) and 贷方 (credit) filled is one movement or two: refused.
* K02: a 合计 row is a control total: checked against the lines, an error when they differ.
* K08: a line whose memo (摘要) says 合计 but has a date and a 流水号 is a line, not a total.
* K11: a negative credit (-7,228.07, (7,228.07)) is a reversal, never a receipt: refused.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from arlib.bankfiles import read_statement

TITLE = "中国工商银行对公账户历史明细\n账号：1001 2345 6789 012\n币种：人民币\n"
HEAD = "交易日期,摘要,借方发生额,贷方发生额,余额,对方单位名称,对方账号,交易流水号\n"
HEAD_NO_BAL = "交易日期,摘要,借方发生额,贷方发生额,对方单位名称,对方账号,交易流水号\n"
# two receipts adding up to 16,828.07 (opening balance 100,000.00)
LINE1 = '2026-10-08,货款,,"9,600.00","109,600.00",杭州甲公司,6222020200001234,000123\n'
LINE2 = '2026-10-09,货款,,"7,228.07","116,828.07",宁波乙公司,3100999901,000124\n'


def _read(tmp_path: Path, body: str, *, head: str = HEAD, name: str = "icbc.csv", **kw):
    f = tmp_path / name
    f.write_bytes((TITLE + head + body).encode("gbk"))
    return read_statement(f, **kw), f


def _errors(r) -> pl.DataFrame:
    return r.findings.filter(pl.col("severity") == "error")


def _one_error(r, rule: str) -> dict:
    hit = _errors(r)
    assert hit.height == 1, r.findings
    got = hit.row(0, named=True)
    assert got["rule"] == rule, r.findings
    return got


def _amounts(frame: pl.DataFrame) -> list[Decimal]:
    return frame["amount"].to_list()


# ------------------------------------------------------------------ K01 debit and credit


def test_k01_debit_and_credit_on_one_line_is_refused(tmp_path):
    both = '2026-10-08,货款,100.00,"9,600.00","109,500.00",杭州甲公司,6222,000123\n'
    r, f = _read(tmp_path, both + LINE2.replace("116,828.07", "116,728.07"))
    got = _one_error(r, "bank_debit_and_credit")
    assert (got["file"], got["row"], got["column"], got["value"]) == (
        str(f),
        5,
        "debit,credit",
        "100.00 / 9,600.00",
    )
    assert "借方发生额" in got["message"] and "贷方发生额" in got["message"]
    assert _amounts(r.receipts) == [Decimal("7228.07")]  # neither 9,500.00 nor 9,600.00
    assert r.debits.height == 0


def test_k01_in_xlsx(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["交易日期", "借方发生额", "贷方发生额", "交易流水号"])
    ws.append(["2026-10-08", 100, 9600, "000123"])
    ws.append(["2026-10-09", None, 7228.07, "000124"])
    f = tmp_path / "both.xlsx"
    wb.save(f)
    r = read_statement(f)
    got = _one_error(r, "bank_debit_and_credit")
    assert (got["row"], got["column"], got["value"]) == (2, "debit,credit", "100 / 9600")
    assert _amounts(r.receipts) == [Decimal("7228.07")]


def test_k01_near_miss_credit_only_and_zero_debit_load_exactly(tmp_path):
    zero_debit = '2026-10-09,货款,0.00,"7,228.07","116,828.07",宁波乙公司,3100999901,000124\n'
    r, _ = _read(tmp_path, LINE1 + zero_debit)
    assert _errors(r).height == 0, r.findings
    assert _amounts(r.receipts) == [Decimal("9600.00"), Decimal("7228.07")]
    assert r.statements["balanced"][0] is True


def test_k01_refused_line_still_counts_in_the_file_total(tmp_path):
    """The bank's 合计 includes the refused line as written: one error, the line's own."""
    both = '2026-10-08,货款,100.00,"9,600.00",,杭州甲公司,6222,000123\n'
    total = '合计,,100.00,"16,828.07",,,,\n'
    r, _ = _read(tmp_path, both + LINE2.replace('"116,828.07"', "") + total)
    assert _one_error(r, "bank_debit_and_credit")["row"] == 5


# ------------------------------------------------------------------ K02 control totals


def test_k02_total_row_that_does_not_add_up_is_an_error(tmp_path):
    r, f = _read(tmp_path, LINE1 + LINE2 + '合计,,,"99,999.00",,,,\n')
    got = _one_error(r, "bank_total_mismatch")
    assert (got["file"], got["row"], got["column"], got["value"]) == (
        str(f),
        7,
        "credit",
        "99,999.00",
    )
    assert "16828.07" in got["message"] and "83170.93" in got["message"]
    assert "bank_totals_row_skipped" not in set(r.findings["rule"])
    # the lines themselves are exact: loaded, and the error blocks the close
    assert _amounts(r.receipts) == [Decimal("9600.00"), Decimal("7228.07")]


def test_k02_debit_total_is_checked_too(tmp_path):
    fee = "2026-10-10,手续费,15.00,,116813.07,,,000125\n"
    r, _ = _read(tmp_path, LINE1 + LINE2 + fee + '合计,,150.00,"16,828.07",,,,\n')
    got = _one_error(r, "bank_total_mismatch")
    assert (got["row"], got["column"], got["value"]) == (8, "debit", "150.00")


def test_k02_near_miss_correct_total_row_loads_exactly(tmp_path):
    fee = "2026-10-10,手续费,15.00,,116813.07,,,000125\n"
    r, _ = _read(tmp_path, LINE1 + LINE2 + fee + '合计,,15.00,"16,828.07",,,,\n')
    assert _errors(r).height == 0, r.findings
    assert _amounts(r.receipts) == [Decimal("9600.00"), Decimal("7228.07")]
    assert _amounts(r.debits) == [Decimal("15.00")]
    tot = r.findings.filter(pl.col("rule") == "bank_totals_row_skipped")
    assert tot["row"].to_list() == [8] and tot["severity"].to_list() == ["warning"]


def test_k02_page_subtotals_and_grand_total(tmp_path):
    page1 = '本页合计,,,"9,600.00",,,,\n'
    page2 = '本页合计,,,"7,228.07",,,,\n'
    grand = '合计,,,"16,828.07",,,,\n'
    r, _ = _read(tmp_path, LINE1 + page1 + LINE2 + page2 + grand)
    assert _errors(r).height == 0, r.findings
    assert r.findings.filter(pl.col("rule") == "bank_totals_row_skipped").height == 3
    wrong = page2.replace("7,228.07", "7,228.70")
    r, _ = _read(tmp_path, LINE1 + page1 + LINE2 + wrong + grand)
    got = _one_error(r, "bank_total_mismatch")
    assert (got["row"], got["value"]) == (8, "7,228.70")


def test_k02_total_above_the_lines(tmp_path):
    r, _ = _read(tmp_path, '合计,,,"16,828.07",,,,\n' + LINE1 + LINE2)
    assert _errors(r).height == 0, r.findings
    r, _ = _read(tmp_path, '合计,,,"16,828.00",,,,\n' + LINE1 + LINE2)
    assert _one_error(r, "bank_total_mismatch")["row"] == 5


def test_k02_total_in_xlsx(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["交易时间", "借方发生额（支取）", "贷方发生额（收入）", "摘要"])
    ws.append(["2026-10-03", None, 5000.5, "货款"])
    ws.append(["2026-10-04", 0.5, None, "费用"])
    ws.append(["合计", 0.5, 99999])
    f = tmp_path / "ccb.xlsx"
    wb.save(f)
    r = read_statement(f)
    got = _one_error(r, "bank_total_mismatch")
    assert (got["row"], got["column"], got["value"]) == (4, "credit", "99999")


def test_k02_unreadable_total_is_an_error(tmp_path):
    r, _ = _read(tmp_path, LINE1 + LINE2 + '合计,,,"16,828.075",,,,\n')
    got = _one_error(r, "bank_total_unreadable")
    assert (got["row"], got["column"], got["value"]) == (7, "credit", "16,828.075")


# ------------------------------------------------------------------ K08 memo 合计


@pytest.mark.parametrize("memo", ["合计", "合计两笔货款 INV-0001 INV-0002", "Total"])
def test_k08_line_with_memo_heji_is_a_line(tmp_path, memo):
    heji = LINE1.replace(",货款,", f",{memo},")
    r, _ = _read(tmp_path, heji + LINE2 + '合计,,,"16,828.07",,,,\n')
    assert _errors(r).height == 0, r.findings
    assert _amounts(r.receipts) == [Decimal("9600.00"), Decimal("7228.07")]
    assert r.receipts["memo"][0] == memo and r.receipts["receipt_id"][0] == "000123"
    tot = r.findings.filter(pl.col("rule") == "bank_totals_row_skipped")
    assert tot["row"].to_list() == [7]


def test_k08_memo_first_layout(tmp_path):
    head = "摘要,交易日期,借方发生额,贷方发生额,对方单位名称,交易流水号\n"
    body = (
        '合计,2026-10-08,,"9,600.00",杭州甲公司,000123\n'
        '货款,2026-10-09,,"7,228.07",宁波乙公司,000124\n'
        '合计,,,"16,828.07",,\n'
    )
    r, _ = _read(tmp_path, body, head=head)
    assert _errors(r).height == 0, r.findings
    assert _amounts(r.receipts) == [Decimal("9600.00"), Decimal("7228.07")]


def test_k08_near_miss_memo_containing_heji_and_a_real_total(tmp_path):
    longer = LINE1.replace(",货款,", ",10月货款合计 INV-0001,")
    r, _ = _read(tmp_path, longer + LINE2 + '总计,,,"16,828.07",,,,\n')
    assert _errors(r).height == 0, r.findings
    assert r.receipts["memo"].to_list() == ["10月货款合计 INV-0001", "货款"]
    assert r.findings.filter(pl.col("rule") == "bank_totals_row_skipped")["row"].to_list() == [7]


def test_k08_heji_label_on_a_dated_row_is_refused_not_guessed(tmp_path):
    head = "序号,交易日期,借方发生额,贷方发生额,对方单位名称\n"
    body = '1,2026-10-08,,"9,600.00",杭州甲公司\n合计,2026-10-31,,"9,600.00",\n'
    r, _ = _read(tmp_path, body, head=head)
    got = _one_error(r, "bank_total_row_ambiguous")
    assert (got["row"], got["column"], got["value"]) == (6, "序号", "合计")
    assert _amounts(r.receipts) == [Decimal("9600.00")]


def test_k08_dated_heji_row_repeating_the_lines_sum_is_refused_not_loaded(tmp_path):
    """The mirror of K08: a totals row that carries a date must not become a receipt."""
    dated_total = '2026-10-31,合计,,"16,828.07",,,,\n'
    r, _ = _read(tmp_path, LINE1 + LINE2 + dated_total)
    got = _one_error(r, "bank_total_row_ambiguous")
    assert (got["row"], got["column"], got["value"]) == (7, "memo", "合计")
    assert _amounts(r.receipts) == [Decimal("9600.00"), Decimal("7228.07")]


# ------------------------------------------------------------------ K11 negative credit


def test_k11_negative_credit_is_refused(tmp_path):
    rev = '2026-10-09,冲正,,"-7,228.07","102,371.93",宁波乙公司,3100999901,000124\n'
    r, f = _read(tmp_path, LINE1 + rev)
    got = _one_error(r, "bank_negative_credit")
    assert (got["file"], got["row"], got["column"], got["value"]) == (
        str(f),
        6,
        "credit",
        "-7,228.07",
    )
    assert _amounts(r.receipts) == [Decimal("9600.00")] and r.debits.height == 0


def test_k11c_negative_credit_without_balance_column(tmp_path):
    body = (
        '2026-10-08,货款,,"9,600.00",甲公司,6222,000123\n'
        '2026-10-09,冲正,,"-7,228.07",乙,6223,000124\n'
    )
    r, _ = _read(tmp_path, body, head=HEAD_NO_BAL)
    got = _one_error(r, "bank_negative_credit")
    assert (got["row"], got["value"]) == (6, "-7,228.07")
    assert _amounts(r.receipts) == [Decimal("9600.00")]


def test_k11d_credit_in_parentheses_and_trailing_minus(tmp_path):
    for text in ("(7,228.07)", "7,228.07-"):
        body = (
            '2026-10-08,货款,,"9,600.00",甲,6222,000123\n'
            f'2026-10-09,冲正,,"{text}",乙,6223,000124\n'
        )
        r, _ = _read(tmp_path, body, head=HEAD_NO_BAL)
        got = _one_error(r, "bank_negative_credit")
        assert (got["row"], got["column"], got["value"]) == (6, "credit", text)
        assert _amounts(r.receipts) == [Decimal("9600.00")]


def test_k11_negative_credit_in_xlsx(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["交易日期", "借方发生额", "贷方发生额"])
    ws.append(["2026-10-08", None, 9600])
    ws.append(["2026-10-09", None, -7228.07])
    f = tmp_path / "rev.xlsx"
    wb.save(f)
    r = read_statement(f)
    got = _one_error(r, "bank_negative_credit")
    assert (got["row"], got["value"]) == (3, "-7228.07")
    assert _amounts(r.receipts) == [Decimal("9600.00")]


def test_k11_negative_debit_among_positive_debits_is_refused(tmp_path):
    body = "2026-10-08,手续费,50.00,,甲,6222,000123\n2026-10-09,冲正,-15.00,,乙,6223,000124\n"
    r, _ = _read(tmp_path, body, head=HEAD_NO_BAL)
    got = _one_error(r, "bank_negative_debit")
    assert (got["row"], got["column"], got["value"]) == (6, "debit", "-15.00")
    assert _amounts(r.debits) == [Decimal("50.00")] and r.receipts.height == 0


def test_k11_near_miss_debits_all_written_negative_are_the_banks_convention(tmp_path):
    body = (
        "2026-10-08,手续费,-50.00,,,,000121\n"
        "2026-10-09,付款,-100.00,,乙,6223,000122\n"
        '2026-10-10,货款,,"1,300.00",丙,6224,000123\n'
        '合计,,-150.00,"1,300.00",,,\n'
    )
    r, _ = _read(tmp_path, body, head=HEAD_NO_BAL)
    assert _errors(r).height == 0, r.findings
    assert _amounts(r.debits) == [Decimal("50.00"), Decimal("100.00")]
    assert _amounts(r.receipts) == [Decimal("1300.00")]


def test_k11_signed_amount_with_direction(tmp_path):
    head = "交易日期,交易金额,借贷标志,对方户名,流水号\n"
    body = (
        "2026-10-08,9600.00,贷,甲,000123\n"
        "2026-10-09,-7228.07,贷,乙,000124\n"
        "2026-10-10,15.00,借,,000125\n"
    )
    r, _ = _read(tmp_path, body, head=head, preset="generic_cn")
    got = _one_error(r, "bank_negative_amount")
    assert (got["row"], got["column"], got["value"]) == (6, "amount", "-7228.07")
    assert _amounts(r.receipts) == [Decimal("9600.00")]
    assert _amounts(r.debits) == [Decimal("15.00")]
    # near miss: every amount of a direction written with one sign is a convention
    body = "2026-10-08,-9600.00,贷,甲,000123\n2026-10-10,15.00,借,,000125\n"
    r, _ = _read(tmp_path, body, head=head, preset="generic_cn")
    assert _errors(r).height == 0, r.findings
    assert _amounts(r.receipts) == [Decimal("9600.00")]


def test_normal_export_loads_exactly(tmp_path):
    """A whole ordinary ICBC export: lines, a fee, a correct 合计 row, running balance."""
    fee = "2026-10-10,手续费,15.00,,116813.07,,,000125\n"
    r, _ = _read(tmp_path, LINE1 + LINE2 + fee + '合计,,15.00,"16,828.07",,,,\n')
    assert _errors(r).height == 0
    st = r.statements.row(0, named=True)
    assert (st["opening_balance"], st["closing_balance"], st["balanced"]) == (
        Decimal("100000.00"),
        Decimal("116813.07"),
        True,
    )
    assert r.receipts["receipt_id"].to_list() == ["000123", "000124"]
