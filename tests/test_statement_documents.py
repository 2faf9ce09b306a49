"""Statements as a company sends them: the ledger per currency (opening, movements with a
running balance, closing) proved against the workpapers, the open items with the disputed
ones marked, the reply slip in the customer's language, PDF and xlsx, letter templates a
company can override, and the params of the letterhead.

Two small closes of CNY ledgers, each as of its period end; the statements of 2026-10:

- 上海甲乙贸易有限公司 (C001, zh): September leaves INV2 600.00 open (INV1 1,000.00 paid by
  R1). October: INV5 300.00 (10-01, due 10-10, flagged disputed), INV6 200.00 (10-03),
  INV3 2,000.00 (10-05, due 10-15), R2 600.00 on 10-18 pays INV2 (memo "INV2 付款", bank ref
  BR0001), INV4 800.00 (10-20, due 11-19), credit note CN1 200.00 on 10-25 clears INV6.
  Running balance: 600.00, 900.00, 1,100.00, 3,100.00, 2,500.00, 3,300.00, 3,100.00.
  Closing 3,100.00 = 600 + 3,300 invoiced − 600 received − 200 credited; open items INV5
  300.00 (21 days, under dispute), INV3 2,000.00 (16 days), INV4 800.00 (not due): overdue
  2,300.00, under dispute 300.00, aging not_due 800.00 and 1-30 2,300.00.
- Beta Foods Co (C002, en): INV10 1,500.00 left open in September; October INV11 1,000.00
  (10-02, due 10-12: 19 days) and R3 1,500.00 on 10-10 pays INV10 (memo INV10, bank ref
  FT26101). Closing 1,000.00 = 1,500 + 1,000 − 1,500.
- Gamma Parts Ltd (C003, en): no invoice; R5 400.00 on 10-28, an advance that matches
  nothing: closing −400.00, the unapplied cash (near miss: a credit balance still ties).
- Delta Tools Ltd (C004, en): 70 invoices of 10.00 in October, none paid: a ledger long
  enough for a second page (header and letterhead repeated, pages numbered).
"""

from __future__ import annotations

import csv
import dataclasses
from decimal import Decimal
from pathlib import Path

import polars as pl
import pypdf
import pytest
import yaml

from arlib import carry, pipeline
from arlib.config import ConfigError, load_config
from arlib.statements import StatementsDisagree, _check_against_aging, write_statements
from arlib.statements.ledger import build_ledgers, prove
from tests.conftest import write

D = Decimal
CUSTOMERS = (
    "customer_id,name,language\n"
    "C001,上海甲乙贸易有限公司,zh\nC002,Beta Foods Co,en\nC003,Gamma Parts Ltd,en\n"
    "C004,Delta Tools Ltd,en\n"
)
INVOICE_HEADER = "invoice_id,customer_id,invoice_date,due_date,amount,currency,disputed\n"
RECEIPT_HEADER = "receipt_id,value_date,amount,currency,payer_name,memo,bank_ref\n"
DELTA = "".join(
    f"D{k:03d},C004,2026-10-{1 + k % 28:02d},2026-11-30,10.00,CNY,\n" for k in range(70)
)
DATA = {
    "2026-09": {
        "invoices": INVOICE_HEADER
        + "INV1,C001,2026-09-01,2026-09-30,1000.00,CNY,\n"
        + "INV2,C001,2026-09-12,2026-10-20,600.00,CNY,\n"
        + "INV10,C002,2026-09-01,2026-09-15,1500.00,CNY,\n",
        "receipts": RECEIPT_HEADER + "R1,2026-09-25,1000.00,CNY,上海甲乙贸易有限公司,INV1,\n",
    },
    "2026-10": {
        "invoices": INVOICE_HEADER
        + "INV5,C001,2026-10-01,2026-10-10,300.00,CNY,yes\n"
        + "INV6,C001,2026-10-03,2026-11-02,200.00,CNY,\n"
        + "INV3,C001,2026-10-05,2026-10-15,2000.00,CNY,\n"
        + "INV4,C001,2026-10-20,2026-11-19,800.00,CNY,\n"
        + "INV11,C002,2026-10-02,2026-10-12,1000.00,CNY,\n"
        + DELTA,
        "receipts": RECEIPT_HEADER
        + "R2,2026-10-18,600.00,CNY,上海甲乙贸易有限公司,INV2 付款,BR0001\n"
        + "R3,2026-10-10,1500.00,CNY,Beta Foods Co,INV10,FT26101\n"
        + "R5,2026-10-28,400.00,CNY,Gamma Parts Ltd,advance payment,FT26177\n",
        "credit_notes": "credit_id,customer_id,date,amount,currency,invoice_id,reason\n"
        + "CN1,C001,2026-10-25,200.00,CNY,INV6,质量问题\n",
    },
}
PREVIOUS = {"2026-09": None, "2026-10": "2026-09"}
SENDER = {
    "legal_name": "艾克美（上海）贸易有限公司",
    "address": "上海市浦东新区世纪大道 100 号",
    "contact": "李伟 021-5888 0000",
    "bank_name": "招商银行上海分行",
    "account_number": "1219 0000 0000 888",
}


def params(root: Path, period: str, **statements) -> Path:
    inputs = {n: f"data/{period}/{n}.csv" for n in DATA[period]}
    inputs["customers"] = "data/customers.csv"
    if PREVIOUS[period]:
        inputs["opening"] = f"outputs/{PREVIOUS[period]}/open_items.parquet"
    settings = {"customers": "all", "sender": SENDER, **statements}
    body = {"period": period, "base_currency": "CNY", "inputs": inputs, "statements": settings}
    return write(root / "params" / f"{period}.yaml", yaml.safe_dump(body, allow_unicode=True))


def close(root: Path, period: str, **statements) -> pipeline.CloseResult:
    for name, text in DATA[period].items():
        write(root / "data" / period / f"{name}.csv", text)
    result = pipeline.close_stage(load_config(params(root, period, **statements)))
    out = root / "outputs" / period
    out.mkdir(parents=True, exist_ok=True)
    carry.write_open_items(result.open_items, out / "open_items.parquet", period=period)
    write_statements(result, out)
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, pipeline.CloseResult]:
    root = tmp_path_factory.mktemp("documents")
    write(root / "data" / "customers.csv", CUSTOMERS)
    close(root, "2026-09")
    return root, close(root, "2026-10")


@pytest.fixture(scope="module")
def out(project) -> Path:
    return project[0] / "outputs" / "2026-10"


def index(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "statements" / "index.csv", encoding="utf-8", newline="") as handle:
        return {row["customer_id"]: row for row in csv.DictReader(handle)}


def pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def test_opening_plus_movements_is_the_closing_by_hand(out):
    rows = index(out)
    figures = ("opening", "invoiced", "received", "credited", "adjusted", "closing")
    got = {c: tuple(D(rows[c][k]) for k in figures) for c in ("C001", "C002", "C003")}
    assert got == {
        "C001": (D("600.00"), D("3300.00"), D("600.00"), D("200.00"), D("0.00"), D("3100.00")),
        "C002": (D("1500.00"), D("1000.00"), D("1500.00"), D("0.00"), D("0.00"), D("1000.00")),
        "C003": (D("0.00"), D("0.00"), D("400.00"), D("0.00"), D("0.00"), D("-400.00")),
    }
    c001 = rows["C001"]
    assert (c001["open_amount"], c001["overdue"], c001["under_dispute"]) == (
        "3100.00",
        "2300.00",
        "300.00",
    )
    assert (rows["C003"]["open_amount"], rows["C003"]["unapplied"]) == ("0.00", "400.00")
    assert rows["C001"]["document_number"] == "ST-2026-10-C001"


def test_each_movement_with_its_running_balance(project):
    result = project[1]
    [book] = build_ledgers(result, ["C001"], {"INV5"})["C001"]
    got = [(str(x.date), x.kind, x.ours, x.amount, x.balance) for x in book.lines]
    assert book.opening == D("600.00")
    assert got == [
        ("2026-10-01", "invoice", "INV5", D("300.00"), D("900.00")),
        ("2026-10-03", "invoice", "INV6", D("200.00"), D("1100.00")),
        ("2026-10-05", "invoice", "INV3", D("2000.00"), D("3100.00")),
        ("2026-10-18", "receipt", "R2", D("-600.00"), D("2500.00")),
        ("2026-10-20", "invoice", "INV4", D("800.00"), D("3300.00")),
        ("2026-10-25", "credit_note", "CN1", D("-200.00"), D("3100.00")),
    ]
    assert book.closing == D("3100.00")
    # the receipt by the customer's own reference, the open items behind the closing
    assert book.lines[3].reference == "INV2 付款 / BR0001"
    assert [(i.invoice_id, i.amount, i.days_past_due, i.disputed) for i in book.open_items] == [
        ("INV5", D("300.00"), 21, True),
        ("INV3", D("2000.00"), 16, False),
        ("INV4", D("800.00"), 0, False),
    ]
    assert dict(book.aging)["not_due"] == D("800.00")
    assert dict(book.aging)["1-30"] == D("2300.00")


def test_a_statement_that_disagrees_with_the_workpapers_is_refused(project):
    result = project[1]
    ledgers = build_ledgers(result, ["C001"], set())
    detail = result.review.aging.detail.filter(pl.col("customer_id") == "C001")
    receipts = result.match.receipts.filter(pl.col("customer_id") == "C001")
    prove(ledgers, detail, receipts)  # near miss: as built, it ties
    [book] = ledgers["C001"]
    one_cent_off = dataclasses.replace(book.lines[0], amount=book.lines[0].amount + D("0.01"))
    broken = {"C001": [dataclasses.replace(book, lines=(one_cent_off, *book.lines[1:]))]}
    with pytest.raises(
        StatementsDisagree, match="C001 CNY: opening 600.00 \\+ movements = 3100.01"
    ):
        prove(broken, detail, receipts)
    # the aging of a customer that no statement shows
    index_rows = pl.DataFrame(
        {"customer_id": ["C001"], "currency": ["CNY"], "open_amount": [D("3100.00")]}
    )
    everyone = result.review.aging.detail
    _check_against_aging(index_rows, detail)
    with pytest.raises(StatementsDisagree, match="C002"):
        _check_against_aging(index_rows, everyone)


def test_pdf_text_has_the_chinese_name_the_closing_and_the_zh_reply_slip(out):
    pages = pdf_pages(out / "statements" / "C001.pdf")
    text = "\n".join(pages)
    for words in (
        "上海甲乙贸易有限公司",
        "对账单",
        "ST-2026-10-C001",
        "艾克美（上海）贸易有限公司",
    ):
        assert words in text
    assert "3,100.00" in text and "期末余额" in text
    assert "INV2 付款 / BR0001" in text  # the receipt as the customer knows it
    assert "回函" in text and "信息证明无误" in text and "信息不符，请列明不符项目" in text
    assert "Reply slip" not in text  # near miss: the customer's language only
    # the open items, a cell a line: INV5's row is marked, INV3's (overdue too) is not
    items = text[text.index("未结项目") :]
    inv5 = items[items.index("INV5\n2026-10-01") : items.index("INV3\n2026-10-05")]
    inv3 = items[items.index("INV3\n2026-10-05") : items.index("INV4\n2026-10-20")]
    assert "争议中" in inv5 and "21" in inv5
    assert "争议中" not in inv3 and "16" in inv3
    assert "冲减INV6 质量问题" in text  # the credit note, with the reason the customer gave
    assert "招商银行上海分行" in text  # where to pay


def test_english_statement_and_reply_slip(out):
    text = "\n".join(pdf_pages(out / "statements" / "C002.pdf"))
    assert "Statement of account" in text and "Beta Foods Co" in text
    assert "Closing balance" in text and "1,000.00" in text
    assert "Confirmed: the balance above agrees with our records." in text
    assert "Not confirmed: the differences are listed below." in text
    assert "信息证明无误" not in text
    assert "INV10 / FT26101" in text


def test_every_page_has_the_letterhead_a_number_and_the_table_header(out):
    pages = pdf_pages(out / "statements" / "C004.pdf")
    assert len(pages) >= 2
    for n, page in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in page
        assert "艾克美（上海）贸易有限公司" in page
        assert "ST-2026-10-C004" in page
    # the ledger runs over: its header row again at the top of the second page
    assert "Your reference" in pages[1].split("D0")[0]
    assert "700.00" in "\n".join(pages)  # 70 × 10.00


def test_html_marks_the_disputed_item_in_the_open_items(out):
    page = (out / "statements" / "C001.html").read_text(encoding="utf-8")
    items = page[page.index("未结项目") :]
    row = items[items.index("INV5") : items.index("</tr>", items.index("INV5"))]
    assert "争议中" in row
    row = items[items.index("INV3") : items.index("</tr>", items.index("INV3"))]
    assert "争议中" not in row
    assert "信息证明无误" in page


def test_index_lists_the_pdf_and_xlsx_of_each_statement_and_letter(out):
    rows = index(out)
    for row in rows.values():
        for key in ("statement", "statement_pdf", "statement_xlsx"):
            assert (out / row[key]).is_file(), (key, row)
        assert bool(row["letter"]) == bool(row["letter_pdf"]) == bool(row["letter_level"])
        if row["letter_pdf"]:
            assert (out / row["letter_pdf"]).read_bytes().startswith(b"%PDF")
    assert rows["C001"]["letter_level"] == "reminder" and rows["C003"]["letter_pdf"] == ""


def test_letter_pdf_in_the_customers_language(out):
    zh = "\n".join(pdf_pages(out / "letters" / "C001.pdf"))
    assert "上海甲乙贸易有限公司" in zh and "可能是贵司疏忽" in zh
    # INV3 is overdue and asked for; INV5, under dispute, is named apart
    assert "CNY 2,000.00" in zh and "另有1张争议中的发票（CNY 300.00）" in zh
    page = (out / "letters" / "C001.html").read_text(encoding="utf-8")
    bank = "收款账户：艾克美（上海）贸易有限公司, 招商银行上海分行, 1219 0000 0000 888。"
    assert f'<p class="letter">{bank}</p>' in page  # a paragraph of its own
    en = "\n".join(pdf_pages(out / "letters" / "C002.pdf"))
    assert "Perhaps this has been overlooked" in en and "CNY 1,000.00" in en


def test_xlsx_statement_ties_to_the_pdf(out):
    import openpyxl

    sheet = openpyxl.load_workbook(out / "statements" / "C001.xlsx").active
    cells = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    labelled = {
        row[1]: row[7] for row in cells if len(row) > 7 and row[1] in ("期初余额", "期末余额")
    }
    assert labelled == {"期初余额": 600.0, "期末余额": 3100.0}
    [inv5] = [row for row in cells if row[0] == "INV5"]
    assert inv5[4] == 300.0 and inv5[6] == "争议中"


def test_a_company_template_folder_overrides_the_shipped_letters(tmp_path, project):
    root = project[0]
    folder = root / "my_letters"
    write(
        folder / "letter_reminder.en.j2",
        "Dear {{ customer }},\n\nKindly settle {{ overdue_amount }} by return. ACME collections.\n",
    )
    config = load_config(params(root, "2026-10", template_dir="my_letters"))
    result = pipeline.close_stage(config)
    write_statements(result, tmp_path)
    en = (tmp_path / "letters" / "C002.html").read_text(encoding="utf-8")
    assert "Kindly settle CNY 1,000.00 by return. ACME collections." in en
    assert "Perhaps this has been overlooked" not in en
    zh = (tmp_path / "letters" / "C001.html").read_text(encoding="utf-8")
    assert "可能是贵司疏忽" in zh  # near miss: no zh file in the folder, the shipped one
    params(root, "2026-10")  # the module's other tests read the params as they were


def test_an_unknown_placeholder_is_a_params_error_naming_the_file(project):
    root = project[0]
    write(root / "bad_letters" / "letter_final.zh.j2", "{{ customer }}：请付{{ amount_due }}。\n")
    with pytest.raises(ConfigError) as caught:
        load_config(params(root, "2026-10", template_dir="bad_letters"))
    message = str(caught.value)
    assert "statements.template_dir" in message and "letter_final.zh.j2" in message
    assert "'amount_due'" in message
    write(
        root / "bad_letters" / "letter_final.zh.j2", "{{ customer }}：请付{{ overdue_amount }}。\n"
    )
    load_config(params(root, "2026-10", template_dir="bad_letters"))  # near miss: known ones
    with pytest.raises(ConfigError, match="statements.template_dir: no such folder"):
        load_config(params(root, "2026-10", template_dir="nowhere"))
    write(root / "bad_letters" / "letter_second.en.j2", "{% if %}\n")
    with pytest.raises(ConfigError, match="letter_second.en.j2: line 1"):
        load_config(params(root, "2026-10", template_dir="bad_letters"))
    params(root, "2026-10")


def test_sender_params(project):
    root = project[0]
    config = load_config(params(root, "2026-10", sender="ACME Trading Ltd"))
    assert config.statements.sender.legal_name == "ACME Trading Ltd"  # the old plain string
    with pytest.raises(ConfigError, match="statements.sender.fax"):
        load_config(params(root, "2026-10", sender={"legal_name": "A", "fax": "1"}))
    with pytest.raises(ConfigError, match="statements.sender.logo: no such file"):
        load_config(params(root, "2026-10", sender={"logo": "logo.png"}))
    with pytest.raises(ConfigError, match="statements.sender.logo: 'logo.gif' is not a PNG"):
        load_config(params(root, "2026-10", sender={"logo": "logo.gif"}))
    with pytest.raises(ConfigError, match="statements.reply_days"):
        load_config(params(root, "2026-10", reply_days=-1))
    params(root, "2026-10")


def test_a_logo_goes_on_every_document(tmp_path, project):
    from PIL import Image

    root = project[0]
    Image.new("RGB", (60, 30), (20, 60, 120)).save(root / "logo.png")
    config = load_config(params(root, "2026-10", sender={**SENDER, "logo": "logo.png"}))
    write_statements(pipeline.close_stage(config), tmp_path)
    reader = pypdf.PdfReader(tmp_path / "statements" / "C001.pdf")
    assert all(page.images for page in reader.pages)
    assert 'src="data:image/png;base64,' in (tmp_path / "statements" / "C001.html").read_text()
    plain = pypdf.PdfReader(project[0] / "outputs" / "2026-10" / "statements" / "C001.pdf")
    assert not plain.pages[0].images  # near miss: no logo given, none drawn
    params(root, "2026-10")


def test_the_same_close_writes_the_same_bytes(tmp_path, project):
    result = project[1]
    write_statements(result, tmp_path / "a")
    write_statements(result, tmp_path / "b")
    for name in ("C001.pdf", "C001.xlsx", "C001.html", "index.csv"):
        a = (tmp_path / "a" / "statements" / name).read_bytes()
        assert a == (tmp_path / "b" / "statements" / name).read_bytes(), name


def test_without_a_system_cjk_font_the_builtin_one_still_gives_chinese_text(
    tmp_path, project, monkeypatch
):
    """A fresh machine without fonts: reportlab's STSong-Light (nothing to install beyond
    PyPI); the text is Chinese in the PDF all the same, and the font is not embedded."""
    from arlib.statements import pdf

    def fonts(path: Path) -> set[str]:
        pages = pypdf.PdfReader(path).pages
        return {str(f["/BaseFont"]) for p in pages for f in p["/Resources"]["/Font"].values()}

    if any(Path(f).is_file() for f in pdf.FONT_FILES):  # near miss: the system's, embedded
        assert "/STSong-Light" not in fonts(project[0] / "outputs/2026-10/statements/C001.pdf")
    monkeypatch.setattr(pdf, "FONT_FILES", ("/nonexistent/font.ttc",))
    pdf.font.cache_clear()
    pdf._styles.cache_clear()
    try:
        assert pdf.font() == "STSong-Light"
        write_statements(project[1], tmp_path)
    finally:
        pdf.font.cache_clear()
        pdf._styles.cache_clear()
    reader = pypdf.PdfReader(tmp_path / "statements" / "C001.pdf")
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "上海甲乙贸易有限公司" in text and "信息证明无误" in text and "3,100.00" in text
    assert "/STSong-Light" in fonts(tmp_path / "statements" / "C001.pdf")


def test_a_template_that_fails_when_filled_names_its_file(tmp_path, project):
    """A placeholder the params check passes (``customer``) used in a way it cannot be
    filled: the close stops naming the company's file, before any statement is written."""
    from arlib.statements.letters import TemplateProblem

    root = project[0]
    write(root / "odd_letters" / "letter_reminder.en.j2", "Dear {{ customer.no_such }},\n")
    result = pipeline.close_stage(load_config(params(root, "2026-10", template_dir="odd_letters")))
    with pytest.raises(TemplateProblem, match="odd_letters/letter_reminder.en.j2: .*no_such"):
        write_statements(result, tmp_path)
    assert not (tmp_path / "statements").exists()
    params(root, "2026-10")
