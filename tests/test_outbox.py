"""The outbox a close writes: an e-mail per customer with an address (statement attached,
letter as body), SMS texts within one message, and an index that lists every customer a
channel cannot reach, with the reason.

One close as of 2026-09-30, statements for every customer with open items, default tiers
(A from 91 days: e-mail; B 31-90: SMS and phone; C 1-30: e-mail):

- C001 Alpha (en, e-mail, mobile): INV1 1,000.00 due 2026-07-31, 61 days: B -> SMS + call
  (its e-mail carries the statement alone, a cover note as body).
- C002 Beta (zh, e-mail, no phone): INV3 2,000.00 + INV8 35.50 (USD) due 2026-06-01, 121
  days: A -> e-mail with the letter as body.
- C003 Gamma (en, no e-mail, phone 12-34 is not a number): INV5 500.00 due 2026-08-31, 30
  days: C -> e-mail, which it has none of: not sendable, "no e-mail address".
- C004 Delta (en, e-mail "delta at example": not an address; phone): INV6 80.00 due
  2026-09-25, 5 days: C -> not sendable, the address named.
- C005 Epsilon (en, e-mail, no phone): INV7 300.00 due 2026-08-01, 60 days: B -> SMS and
  call, neither possible: two rows "no phone number"; its statement e-mail goes.
"""

from __future__ import annotations

import csv
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import yaml

from arlib import pipeline
from arlib.config import ConfigError, load_config
from arlib.outbox import (
    html_text,
    phone_number,
    sms_fits,
    sms_limit,
    sms_problem,
    sms_text,
    write_outbox,
)
from arlib.statements import write_statements
from tests.conftest import write

CUSTOMERS = (
    "customer_id,name,language,email,phone\n"
    "C001,Alpha Trading Ltd,en,ap@alpha.example,+86 138-0000-0001\n"
    "C002,北京贝塔食品有限公司,zh,caiwu@beta.example,\n"
    "C003,Gamma Parts Ltd,en,,12-34\n"
    "C004,Delta Tools Ltd,en,delta at example,13800000004\n"
    "C005,Epsilon Ltd,en,ap@epsilon.example,\n"
)
INVOICES = (
    "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
    "INV1,C001,2026-07-01,2026-07-31,1000.00,CNY\n"
    "INV3,C002,2026-05-02,2026-06-01,2000.00,CNY\n"
    "INV8,C002,2026-05-02,2026-06-01,35.50,USD\n"
    "INV5,C003,2026-08-01,2026-08-31,500.00,CNY\n"
    "INV6,C004,2026-08-26,2026-09-25,80.00,CNY\n"
    "INV7,C005,2026-07-02,2026-08-01,300.00,CNY\n"
)
FX = "date,currency,rate\n2026-09-30,USD,7.10\n"


def close_into(root: Path, **params):
    write(root / "data" / "customers.csv", CUSTOMERS)
    write(root / "data" / "invoices.csv", INVOICES)
    write(root / "data" / "receipts.csv", "receipt_id,value_date,amount,currency\n")
    write(root / "data" / "fx.csv", FX)
    given = {
        "entity": "ACME-SH",
        "period": "2026-09",
        "base_currency": "CNY",
        "inputs": {
            "invoices": "data/invoices.csv",
            "receipts": "data/receipts.csv",
            "customers": "data/customers.csv",
            "fx_rates": "data/fx.csv",
        },
        "statements": {"customers": "all"},
        "out_dir": "out",
        **params,
    }
    write(root / "params" / "p.yaml", yaml.safe_dump(given, allow_unicode=True))
    result = pipeline.close_stage(load_config(root / "params" / "p.yaml"))
    out = root / "out"
    out.mkdir(exist_ok=True)
    write_statements(result, out)
    write_outbox(result, out)
    return result, out / "outbox"


@pytest.fixture(scope="module")
def outbox(tmp_path_factory) -> Path:
    return close_into(tmp_path_factory.mktemp("outbox"))[1]


def index(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / "index.csv", encoding="utf-8", newline="") as handle:
        return {r["message_id"]: r for r in csv.DictReader(handle)}


def test_the_index_lists_every_message_and_every_customer_it_cannot_reach(outbox):
    got = {
        k: (r["kind"], r["level"], r["recipient"], r["sendable"], r["reason"], r["file"])
        for k, r in index(outbox).items()
    }
    assert got == {
        "2026-09/C001/email": ("statement", "", "ap@alpha.example", "true", "", "C001.eml"),
        "2026-09/C001/sms": ("notice", "reminder", "+8613800000001", "true", "", "sms.csv"),
        "2026-09/C001/phone": ("notice", "reminder", "+8613800000001", "true", "", ""),
        "2026-09/C002/email": ("notice", "reminder", "caiwu@beta.example", "true", "", "C002.eml"),
        "2026-09/C003/email": ("notice", "reminder", "", "false", "no e-mail address", ""),
        "2026-09/C004/email": (
            "notice",
            "reminder",
            "delta at example",
            "false",
            "'delta at example' is not an e-mail address",
            "",
        ),
        "2026-09/C005/email": ("statement", "", "ap@epsilon.example", "true", "", "C005.eml"),
        "2026-09/C005/sms": ("notice", "reminder", "", "false", "no phone number", ""),
        "2026-09/C005/phone": ("notice", "reminder", "", "false", "no phone number", ""),
    }
    assert sorted(p.name for p in outbox.glob("*.eml")) == ["C001.eml", "C002.eml", "C005.eml"]


def parse(path: Path):
    return message_from_bytes(path.read_bytes(), policy=policy.default)


def test_each_email_opens_with_the_letter_as_body_and_the_statement_attached(outbox):
    mail = parse(outbox / "C002.eml")
    assert mail["To"].addresses[0].addr_spec == "caiwu@beta.example"
    assert mail["To"].addresses[0].display_name == "北京贝塔食品有限公司"
    assert mail["Subject"] == "付款提醒 - ACME-SH"
    assert mail["X-Arlib-Message"] == "2026-09/C002/email"
    assert mail["Date"] is None  # set when sent
    text = mail.get_body(("plain",)).get_content()
    page = mail.get_body(("html",)).get_content()
    assert "付款提醒函" in text and "CNY 2,000.00" in text and "USD 35.50" in text
    assert page.startswith("<!DOCTYPE html>") and "付款提醒函" in page
    # the statement and the letter, each under its own document number (both are C002.pdf
    # in their folders: a customer must not get two attachments of one name)
    statement, letter = list(mail.iter_attachments())
    assert [statement.get_filename(), letter.get_filename()] == [
        "ST-2026-09-C002.pdf",
        "DL-2026-09-C002.pdf",
    ]
    assert statement.get_content() == (outbox.parent / "statements" / "C002.pdf").read_bytes()
    assert letter.get_content() == (outbox.parent / "letters" / "C002.pdf").read_bytes()
    # near miss: tier B sends its notice by SMS, so Alpha's e-mail is the statement alone
    alpha = parse(outbox / "C001.eml")
    assert alpha["Subject"] == "Statement of account 2026-09 - ACME-SH"
    body = alpha.get_body(("plain",)).get_content()
    assert body.startswith("Dear Alpha Trading Ltd,") and "as of 2026-09-30" in body
    assert [a.get_filename() for a in alpha.iter_attachments()] == ["ST-2026-09-C001.pdf"]


def test_the_outbox_is_byte_stable(tmp_path, outbox):
    _, again = close_into(tmp_path)
    for name in ("C001.eml", "C002.eml", "C005.eml", "sms.csv", "index.csv"):
        assert (again / name).read_bytes() == (outbox / name).read_bytes(), name


def test_a_statement_without_a_pdf_in_the_index_is_attached_as_its_page(tmp_path):
    """The index names each statement's PDF; where it names none (an index written before
    statements had PDFs), the HTML statement is attached instead."""
    result, folder = close_into(tmp_path)
    out = folder.parent
    index_file = out / "statements" / "index.csv"
    rows = list(csv.DictReader(index_file.open(encoding="utf-8", newline="")))
    with open(index_file, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            blank = {"statement_pdf": "", "letter_pdf": ""} if r["customer_id"] == "C001" else {}
            writer.writerow({**r, **blank})
    write_outbox(result, out)
    [page] = list(parse(folder / "C001.eml").iter_attachments())
    assert page.get_filename() == "ST-2026-09-C001.html"
    assert page.get_content() == (out / "statements" / "C001.html").read_text(encoding="utf-8")
    # near miss: a customer whose index row names its PDF keeps it
    statement = next(parse(folder / "C002.eml").iter_attachments())
    assert statement.get_content_type() == "application/pdf"
    assert statement.get_content() == (out / "statements" / "C002.pdf").read_bytes()


def test_sms_csv_holds_one_message_per_text(outbox):
    with open(outbox / "sms.csv", encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["phone"] == "+8613800000001"  # as the gateway wants it: no formula quote
    assert row["text"] == (
        "ACME-SH: Payment reminder. 1 invoice overdue, total CNY 1,000.00. Please arrange "
        "payment promptly; any questions, please contact us."
    )
    # never "the statement was e-mailed to you": the SMS may go out before or without it
    assert int(row["characters"]) == len(row["text"]) == 132 and row["limit"] == "160"


def test_sms_limits_are_70_with_chinese_and_160_in_latin():
    assert sms_limit("a" * 160) == 160 and sms_fits("a" * 160)
    assert not sms_fits("a" * 161)  # near miss
    assert sms_limit("付" * 70) == 70 and sms_fits("付" * 70)
    assert not sms_fits("付" * 71)  # near miss
    assert sms_fits("a" * 69 + "付")
    assert not sms_fits("a" * 70 + "付")  # one Chinese character: 70, not 160
    assert sms_fits("é" * 160)  # in the GSM alphabet, though not ASCII


def test_an_sms_takes_the_longest_wording_that_fits():
    long = sms_text("zh", "嘉兴金源建材进出口有限公司", "second", 3, "CNY 1,234,567.89")
    assert long == (
        "【嘉兴金源建材进出口有限公司】第二次催款通知：贵司3张发票已逾期，"
        "合计CNY 1,234,567.89，请尽快付款。"
    )
    # its longest wording (", 请尽快安排付款，如有疑问请与我司联系。") would be 71: one too many
    assert len(long) == 58 and sms_fits(long)
    amounts = "CNY 1,234,567.89, USD 9,999,999.00, EUR 12,000.00"
    shorter = sms_text("zh", "嘉兴金源建材进出口有限公司", "final", 3, amounts)
    assert shorter == "【嘉兴金源建材进出口有限公司】最后催款通知：贵司3张发票已逾期，请尽快付款。"
    cut = sms_text("zh", "嘉" * 60, "final", 3, amounts)
    # the shortest wording is 23 characters and 【】 two more: 45 of the sender's 60 are left
    assert len(cut) == 70 and cut.startswith("【" + "嘉" * 45 + "】最后")
    assert sms_text("en", "", "reminder", 1, "CNY 5.00").startswith(
        "Payment reminder. 1 invoice overdue"
    )
    assert "3 invoices overdue" in sms_text("en", "", "reminder", 3, "CNY 5.00")


def test_an_sms_goes_only_to_a_mobile_number():
    assert sms_problem("13800000001") is None and sms_problem("+8613800000001") is None
    assert sms_problem("+13975552179") is None  # another country's: taken as given
    # near misses: a Beijing fixed line, with its area code or +86, and a short 1-number
    assert "fixed line" in sms_problem("01066890039")
    assert "fixed line" in sms_problem("+861066890039")
    assert "fixed line" in sms_problem("1380000000")


def test_phone_numbers_and_page_text():
    assert phone_number("+1 (397) 555-2179") == ("+13975552179", None)
    assert phone_number("0573-69711902") == ("057369711902", None)
    assert phone_number("12-34") == (None, "'12-34' is not a phone number")
    assert phone_number("   ") == (None, "no phone number")
    page = "<html><head><title>T</title><style>p{}</style></head><body><h1>Hi</h1><p>a &amp; b</p><table><tr><td>x</td><td>1.00</td></tr></table></body></html>"  # noqa: E501
    assert html_text(page) == "Hi\n\na & b\n\nx 1.00\n"


@pytest.mark.parametrize(
    ("smtp", "message"),
    [
        ({"password": "hunter2"}, "a password is never written in params"),
        ({"smtp_password": "x"}, "a password is never written in params"),
        ({"tls": "tls1.3"}, "'tls1.3' is not a known TLS mode"),
        ({"user": "ar"}, "user is given without password_env"),
        ({"from_address": "ar at acme"}, "from_address: 'ar at acme' is not an e-mail address"),
        ({"port": 0}, "port"),
    ],
)
def test_bad_smtp_settings_are_refused_with_the_key(tmp_path, smtp, message):
    with pytest.raises(ConfigError) as refused:
        close_into(tmp_path, outbox={"smtp": smtp})
    assert message in str(refused.value) and "outbox" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_channels_override_names_tiers(tmp_path):
    with pytest.raises(ConfigError, match="'D' is not a tier"):
        close_into(tmp_path, outbox={"channels": {"D": ["email"]}})
    result, folder = close_into(tmp_path, outbox={"channels": {"B": ["email"]}})
    assert index(folder)["2026-09/C001/email"]["kind"] == "notice"  # near miss of the above
    assert "2026-09/C001/sms" not in index(folder)


def test_an_action_naming_no_channel_is_listed_not_dropped(tmp_path):
    actions = {"A": "legal letter", "B": "escalate to sales", "C": "email reminder"}
    _, folder = close_into(tmp_path, tiers={"actions": actions})
    row = index(folder)["2026-09/C001/none"]
    assert row["sendable"] == "false"
    assert row["reason"] == "tier B's action 'escalate to sales' names no channel (outbox.channels)"
