"""Dunning that follows the record: an invoice's notice level is one past the notices
about it that were sent (or confirmed), never more than its customer's tier asks for; a
notice only prepared in an outbox, or refused by the mail server, does not count; disputed
invoices are not dunned.

Three small closes, each as of its period end, statements for overdue customers, tiers
A from 91 days, B 61-90, C 1-60 (default channels: A e-mail, B SMS and phone, C e-mail):

- Alpha (C001): INV1 1,000.00 due 2026-07-31 (61 days at September's end: B, by SMS and
  phone; 92 in October and 122 in November: A, by e-mail); INV2 400.00 is flagged disputed.
- Beta (C002): INV3 2,000.00 due 2026-06-01 (121 days: A, by e-mail); INV4 300.00 is paid
  100.00 by R1, an unexplained short payment: an open dispute exception.
- Gamma (C003): INV5 500.00 is held by a ``dispute`` decision on R2: never dunned.
- Delta (C004): INV6 150.00 due 2026-09-20 (10 days in September, 41 in October: C, by
  e-mail), paid in November by R3.

Two projects close the same periods. In ``sent``, after each close ``arlib send`` sends
the e-mails to a local SMTP server and, after September, the collector confirms Alpha's
SMS (``--confirm``); in October the server refuses Beta's address. In ``unsent`` nothing
is ever sent (as in the demo).

Letters, by hand:
- September, both: first notices everywhere: C001, C002, C004 reminders, C003 none.
- October, sent: C001 second (its SMS confirmed: 1 notice), C002 second (its e-mail sent:
  1), C004 reminder (its e-mail sent, but tier C asks for reminders only: near miss, the
  history alone does not escalate). Unsent: all three reminders (prepared is not sent).
- November, sent: C001 final (SMS + October e-mail: 2), C002 second (September sent,
  October refused: 1, near miss of the final demand), C004 none (paid). Unsent: C001 and
  C002 reminders.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
import yaml

from arlib import carry, pipeline
from arlib.config import load_config
from arlib.dunning import action_channels, message_results, with_contact_log
from arlib.outbox import write_outbox
from arlib.send import confirm, send_outbox
from arlib.statements import write_statements
from tests.conftest import write
from tests.smtpserver import LocalSmtp

CUSTOMERS = (
    "customer_id,name,language,email,phone\n"
    "C001,Alpha Trading Ltd,en,ap@alpha.example,+86 138 0000 0001\n"
    "C002,Beta Foods Co,en,ap@beta.example,13800000002\n"
    "C003,Gamma Parts Ltd,en,ap@gamma.example,\n"
    "C004,Delta Tools Ltd,en,ap@delta.example,\n"
)
INVOICE_HEADER = "invoice_id,customer_id,invoice_date,due_date,amount,currency,disputed\n"
RECEIPT_HEADER = "receipt_id,value_date,amount,currency,payer_name,memo\n"
DECISION_HEADER = "receipt_id,action,invoice_id,amount,who,when,why\n"
DATA = {
    "2026-09": {
        "invoices": INVOICE_HEADER
        + "INV1,C001,2026-07-01,2026-07-31,1000.00,CNY,\n"
        + "INV2,C001,2026-08-16,2026-09-15,400.00,CNY,yes\n"
        + "INV3,C002,2026-05-02,2026-06-01,2000.00,CNY,\n"
        + "INV4,C002,2026-08-21,2026-09-20,300.00,CNY,\n"
        + "INV5,C003,2026-08-30,2026-09-29,500.00,CNY,\n"
        + "INV6,C004,2026-08-21,2026-09-20,150.00,CNY,\n",
        "receipts": RECEIPT_HEADER
        + "R1,2026-09-25,100.00,CNY,Beta Foods Co,INV4\n"
        + "R2,2026-09-26,50.00,CNY,Gamma Parts Ltd,\n",
        "decisions": DECISION_HEADER + "R2,dispute,INV5,,li.wei,2026-09-30,wrong parts\n",
    },
    "2026-10": {"invoices": INVOICE_HEADER, "receipts": RECEIPT_HEADER},
    "2026-11": {
        "invoices": INVOICE_HEADER,
        "receipts": RECEIPT_HEADER + "R3,2026-11-10,150.00,CNY,Delta Tools Ltd,INV6\n",
    },
}
PREVIOUS = {"2026-09": None, "2026-10": "2026-09", "2026-11": "2026-10"}
TIERS = {"rules": [["A", 91, None], ["B", 61, 90], ["C", 1, 60]]}


def close(root: Path, period: str, smtp: dict | None = None) -> pipeline.CloseResult:
    inputs = {n: f"data/{period}/{n}.csv" for n in DATA[period]}
    inputs["customers"] = "data/customers.csv"
    if PREVIOUS[period]:
        inputs["opening"] = f"outputs/{PREVIOUS[period]}/open_items.parquet"
    for name, text in DATA[period].items():
        write(root / "data" / period / f"{name}.csv", text)
    params = {
        "period": period,
        "base_currency": "CNY",
        "inputs": inputs,
        "tiers": TIERS,
        "statements": {"customers": "overdue"},
    }
    if smtp:
        params["outbox"] = {"smtp": smtp}
    write(root / "params" / f"{period}.yaml", yaml.safe_dump(params))
    result = pipeline.close_stage(load_config(root / "params" / f"{period}.yaml"))
    out = root / "outputs" / period
    out.mkdir(parents=True)
    carry.write_open_items(result.open_items, out / "open_items.parquet", period=period)
    write_statements(result, out)
    write_outbox(result, out)
    return result


@pytest.fixture(scope="module")
def unsent(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unsent")
    write(root / "data" / "customers.csv", CUSTOMERS)
    for period in DATA:
        close(root, period)
    return root


@pytest.fixture(scope="module")
def sent(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sent")
    write(root / "data" / "customers.csv", CUSTOMERS)
    with LocalSmtp() as server:
        for period in DATA:
            result = close(root, period, server.params())
            server.mailbox.refuse = {"ap@beta.example"} if period == "2026-10" else set()
            send_outbox(result.config)
            if period == "2026-09":
                confirm(result.config, ["2026-09/C001/sms"], by="zhang.min", note="gateway")
    return root


def levels(root: Path, period: str) -> dict[str, str | None]:
    """The letter level of each customer's statement (None: no letter)."""
    path = root / "outputs" / period / "statements" / "index.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        index = {r["customer_id"]: r["letter_level"] or None for r in csv.DictReader(handle)}
    return {c: index.get(c) for c in ("C001", "C002", "C003", "C004")}


def test_notices_sent_or_confirmed_raise_the_level_up_to_the_tier(sent):
    assert levels(sent, "2026-09") == {
        "C001": "reminder",
        "C002": "reminder",
        "C003": None,
        "C004": "reminder",
    }
    assert levels(sent, "2026-10") == {
        "C001": "second",
        "C002": "second",
        "C003": None,
        "C004": "reminder",
    }
    assert levels(sent, "2026-11") == {
        "C001": "final",
        "C002": "second",
        "C003": None,
        "C004": None,
    }


def test_notices_only_prepared_never_count(unsent):
    assert levels(unsent, "2026-10") == {
        "C001": "reminder",
        "C002": "reminder",
        "C003": None,
        "C004": "reminder",
    }
    assert levels(unsent, "2026-11") == {
        "C001": "reminder",
        "C002": "reminder",
        "C003": None,
        "C004": None,
    }


def notices(root: Path, period: str) -> list[tuple]:
    items = pl.read_parquet(root / "outputs" / period / "open_items.parquet")
    return (
        items.filter(pl.col("item_type") == "notice")
        .sort("item_id", "invoice_id")
        .select("item_id", "invoice_id", "channel", "recipient", "dunning_level", "status")
        .rows()
    )


def test_the_open_items_carry_each_invoice_s_notices_with_their_result(sent):
    # October's close: September's notices with what its contact log said, and its own
    assert notices(sent, "2026-10") == [
        ("2026-09/C001/phone", "INV1", "phone", "+8613800000001", "reminder", "prepared"),
        ("2026-09/C001/sms", "INV1", "sms", "+8613800000001", "reminder", "confirmed"),
        ("2026-09/C002/email", "INV3", "email", "ap@beta.example", "reminder", "sent"),
        ("2026-09/C004/email", "INV6", "email", "ap@delta.example", "reminder", "sent"),
        ("2026-10/C001/email", "INV1", "email", "ap@alpha.example", "second", "prepared"),
        ("2026-10/C002/email", "INV3", "email", "ap@beta.example", "second", "prepared"),
        ("2026-10/C004/email", "INV6", "email", "ap@delta.example", "reminder", "prepared"),
    ]
    november = notices(sent, "2026-11")
    # Delta's INV6 was paid in November: its notices are dropped with it
    assert not [n for n in november if n[1] == "INV6"]
    assert ("2026-10/C002/email", "INV3", "email", "ap@beta.example", "second", "failed") in (
        november
    )
    items = pl.read_parquet(sent / "outputs" / "2026-11" / "open_items.parquet")
    sms = items.filter(pl.col("item_id") == "2026-09/C001/sms")
    [history] = sms["history"].to_list()
    assert history.startswith("2026-09: reminder prepared by sms to +8613800000001 | ")
    assert history.endswith(": confirmed (gateway)")


def test_disputed_invoices_are_never_named_in_notices(sent):
    for period in DATA:
        named = {n[1] for n in notices(sent, period)}
        assert not named & {"INV2", "INV4", "INV5"}
    with open(sent / "outputs/2026-10/statements/index.csv", encoding="utf-8") as handle:
        index = {r["customer_id"]: r for r in csv.DictReader(handle)}
    assert index["C003"]["under_dispute"] == "500.00" and index["C003"]["letter_level"] == ""


def test_a_letter_claims_only_notices_that_were_sent(sent):
    """Every letter past a reminder names an invoice with that many notices counted (the
    close's own open items hold the earlier notices with what the contact log said)."""
    for period in ("2026-10", "2026-11"):
        items = pl.read_parquet(sent / "outputs" / period / "open_items.parquet")
        counted = (
            items.filter(
                (pl.col("item_type") == "notice")
                & pl.col("status").is_in(["sent", "confirmed"])
                & (pl.col("origin_period") < period)
            )
            .group_by("invoice_id")
            .agg(pl.col("origin_period").n_unique())
        )
        before = dict(counted.iter_rows())
        for cid, level in levels(sent, period).items():
            if level in ("second", "final"):
                need = {"second": 1, "final": 2}[level]
                invoice = {"C001": "INV1", "C002": "INV3", "C004": "INV6"}[cid]
                assert before.get(invoice, 0) >= need, (period, cid)


def test_channels_come_from_the_tier_action():
    assert action_channels("legal letter and stop supply") == ("email",)
    assert action_channels("daily SMS / phone call") == ("sms", "phone")
    assert action_channels("email reminder") == ("email",)
    assert action_channels("发送催款函并电话催收") == ("email", "phone")
    assert action_channels("escalate to sales") == ()  # near miss: no channel named
    assert action_channels("recall the goods") == ()  # "call" inside a word is not a call


LOG = pl.DataFrame(
    {
        "logged_at": ["2026-10-02T08:00:00+00:00", "2026-10-03T08:00:00+00:00"] * 2,
        "message_id": ["m1", "m1", "m2", "m2"],
        "customer_id": ["C1"] * 4,
        "channel": ["email"] * 4,
        "recipient": ["a@b.example"] * 4,
        "result": ["failed", "sent", "sent", "failed"],
        "reply": ["451 try later", "250 ok", "250 ok", "550 later refusal"],
        "by": ["arlib send"] * 4,
    }
)


def test_a_message_counts_once_it_was_sent_whatever_came_after():
    got = message_results(LOG).select("message_id", "result", "reply").rows()
    assert got == [("m1", "sent", "250 ok"), ("m2", "sent", "250 ok")]
    only_failed = message_results(LOG.filter(pl.col("result") == "failed"))
    assert only_failed.select("message_id", "result").rows() == [
        ("m1", "failed"),
        ("m2", "failed"),
    ]


def test_the_contact_log_turns_prepared_notices_into_sent_ones():
    import datetime as dt

    from arlib.dunning import NOTICE_SCHEMA

    carried = pl.DataFrame(
        [
            ["m1", "INV1", "C1", "2026-09", "reminder", "email", "a@b.example", "prepared",
             dt.date(2026, 9, 30), "2026-09: reminder prepared by email to a@b.example"],
            ["m9", "INV9", "C1", "2026-09", "reminder", "email", "a@b.example", "prepared",
             dt.date(2026, 9, 30), "2026-09: prepared"],
        ],
        schema=NOTICE_SCHEMA,
        orient="row",
    )  # fmt: skip
    got = with_contact_log(carried, LOG).select("notice_id", "status", "date", "history").rows()
    assert got == [
        (
            "m1",
            "sent",
            dt.date(2026, 10, 3),
            "2026-09: reminder prepared by email to a@b.example | 2026-10-03: sent (250 ok)",
        ),
        ("m9", "prepared", dt.date(2026, 9, 30), "2026-09: prepared"),  # nothing logged
    ]


def test_open_items_of_an_earlier_version_are_read_and_their_letters_not_counted(tmp_path):
    """Before notices, open items held one ``dunning`` row per customer (its last letter's
    level) and no channel, recipient or level columns: such a file still opens, with a
    warning, and its letters count as none (nothing recorded that they were sent)."""
    write(tmp_path / "data" / "customers.csv", CUSTOMERS)
    close(tmp_path, "2026-09")
    path = tmp_path / "outputs" / "2026-09" / "open_items.parquet"
    items = pl.read_parquet(path)
    old = pl.concat(
        [
            items.filter(pl.col("item_type") != "notice"),
            items.filter(pl.col("item_type") == "notice")
            .unique("customer_id", keep="first")
            .with_columns(
                pl.lit("dunning").alias("item_type"),
                pl.col("customer_id").alias("item_id"),
                pl.lit("second").alias("status"),
                pl.lit("2026-08: reminder | 2026-09: second").alias("history"),
                pl.lit(None, pl.String).alias("invoice_id"),
            ),
        ]
    ).drop("channel", "recipient", "dunning_level")
    carry.write_open_items(old, path, period="2026-09")
    result = close(tmp_path, "2026-10")
    warned = result.period.findings.filter(pl.col("rule") == "unsent_letters")
    assert warned["message"].to_list() == [
        "3 customer(s) have letters of an earlier close that were never recorded as sent: "
        "they are not counted, so their next letter is a reminder"
    ]
    assert levels(tmp_path, "2026-10") == {
        "C001": "reminder",
        "C002": "reminder",
        "C003": None,
        "C004": "reminder",
    }
    kept = pl.read_parquet(tmp_path / "outputs" / "2026-10" / "open_items.parquet")
    assert "dunning" not in kept["item_type"].to_list()  # written as notices from now on


def test_a_damaged_contact_log_counts_nothing_and_says_so(tmp_path):
    write(tmp_path / "data" / "customers.csv", CUSTOMERS)
    close(tmp_path, "2026-09")
    write(
        tmp_path / "outputs" / "2026-09" / "outbox" / "contact_log.csv",
        "logged_at,message_id,result\n"
        "2026-10-02T08:00:00+00:00,2026-09/C002/email,Sent\n"  # not a result arlib writes
        "2026-10-02T08:00:00+00:00,2026-09/C004/email,sent\n",
    )
    result = close(tmp_path, "2026-10")
    odd = result.period.findings.filter(pl.col("rule") == "bad_value")
    assert odd.select("file", "row", "value").rows() == [
        ("outputs/2026-09/outbox/contact_log.csv", 2, "Sent")
    ]
    # C004's notice counts, but its tier (C) caps it at a reminder; C002's 'Sent' does not
    assert levels(tmp_path, "2026-10")["C002"] == "reminder"
    kept = notices(tmp_path, "2026-10")
    assert ("2026-09/C004/email", "INV6", "email", "ap@delta.example", "reminder", "sent") in kept
