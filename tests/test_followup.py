"""Customer follow-up: replies, disputes, the contact log, promises and collection tasks.

Two small closes (September, then October from September's open items), statements for
all four customers each month; the collector rules are: tier A → Legal, USD → Emily,
default Desk, disputes of customers without a collector of their own → Sales.

- Alpha (C001, collector ``Zhang`` in the customer master): INV1 1,000.00 due 08-31
  (30 days overdue at 09-30: tier C), paid 100.00 by R2 on 09-22; INV2 400.00 not due.
  Balance 900.00 + 400.00 = 1,300.00, which Alpha's reply confirms. Alpha promised on 09-20
  to pay 100.01 by 09-25: 100.00 came, one cent short: broken.
- Beta (C002): INV3 2,000.00 due 06-01 (121 days: tier A → Legal) disputed in full
  (price wrong): owner Legal. Beta promised on 09-28 to pay 500.00 by 10-01, the day
  after the as-of date: not broken in September; nothing came in October: broken then.
  In October Beta confirms the October statement: the dispute is resolved, so INV3 is
  dunned in October and was not in September.
- Gamma (C003, USD → Emily): INV4 500.00 USD disputed for 120.00 (short shipment),
  moved to in_review by Emily's contact on 10-08; still unresolved at October's end.
- Delta (C004): INV5 400.00 paid 50.00 on 09-10 (R0) and 250.00 on 09-20 (R1); Delta
  promised on 09-15 to pay 250.00 by 09-25: R1 alone counts (R0 came before the promise)
  and is exactly the amount: kept. No reply: Delta's statement awaits one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import yaml

from arlib import carry, followup, pipeline
from arlib.config import load_config
from arlib.followup import contacts as ct
from arlib.followup import disputes as dp
from arlib.followup import tasks as tk
from arlib.load import load_period
from arlib.schema import MONEY
from tests.conftest import write

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = (
    "customer_id,name,language,collector\n"
    "C001,Alpha Trading Ltd,en,Zhang\nC002,Beta Foods Co,en,\nC003,Gamma Parts Inc,en,\n"
    "C004,Delta Tools Ltd,en,\n"
)
INVOICES = "invoice_id,customer_id,invoice_date,due_date,amount,currency\n"
RECEIPTS = "receipt_id,value_date,amount,currency,payer_name,memo\n"
DATA = {
    "2026-09": {
        "invoices": INVOICES
        + "INV1,C001,2026-08-01,2026-08-31,1000.00,CNY\n"
        + "INV2,C001,2026-09-01,2026-10-01,400.00,CNY\n"
        + "INV3,C002,2026-05-02,2026-06-01,2000.00,CNY\n"
        + "INV4,C003,2026-09-05,2026-10-05,500.00,USD\n"
        + "INV5,C004,2026-09-08,2026-10-08,400.00,CNY\n",
        "receipts": RECEIPTS
        + "R0,2026-09-10,50.00,CNY,Delta Tools Ltd,INV5\n"
        + "R1,2026-09-20,250.00,CNY,Delta Tools Ltd,INV5\n"
        + "R2,2026-09-22,100.00,CNY,Alpha Trading Ltd,INV1\n",
        "replies": "客户编号,对账单号,是否确认,回函日期,发票号,不符金额,说明\n"
        + "C001,2026-09-C001,是,2026-09-29,,,\n"
        + "C002,2026-09-C002,否,2026-09-29,INV3,2000.00,price wrong\n"
        + "C003,2026-09-C003,N,2026-09-30,INV4,120.00,short shipment\n",
        "contacts": "date,customer_id,channel,person,outcome,promise_date,promise_amount\n"
        + "2026-09-15,C004,phone,Desk,will pay,2026-09-25,250.00\n"
        + "2026-09-20,C001,phone,Zhang,will pay,2026-09-25,100.01\n"
        + "2026-09-28,C002,email,Legal,will pay,2026-10-01,500.00\n",
        "fx_rates": "date,currency,rate\n2026-09-01,USD,7.10000000\n",
    },
    "2026-10": {
        "invoices": INVOICES,
        "receipts": RECEIPTS,
        "replies": "customer_id,statement_no,confirmed,reply_date\n"
        + "C002,2026-10-C002,yes,2026-10-30\n",
        "contacts": "date,customer_id,channel,person,outcome,dispute_id,dispute_status\n"
        + "2026-10-03,C001,phone,Zhang,called about the promise,,\n"
        + "2026-10-08,C003,email,Emily,warehouse checking,D-2026-09-C003-INV4,in review\n",
        "fx_rates": "date,currency,rate\n2026-10-01,USD,7.10000000\n",
    },
}
PREVIOUS = {"2026-09": None, "2026-10": "2026-09"}
FOLLOWUP = {
    "default_collector": "Desk",
    "dispute_owner": "Sales",
    "collectors": [{"tier": "A", "collector": "Legal"}, {"currency": "USD", "collector": "Emily"}],
}


def params(root: Path, period: str, data: dict) -> Path:
    inputs = {n: f"data/{period}/{n}.csv" for n in data}
    inputs["customers"] = "data/customers.csv"
    write(root / "data" / "customers.csv", CUSTOMERS)
    if PREVIOUS.get(period):
        inputs["opening"] = f"outputs/{PREVIOUS[period]}/open_items.parquet"
    for name, text in data.items():
        write(root / "data" / period / f"{name}.csv", text)
    body = {
        "period": period,
        "base_currency": "CNY",
        "inputs": inputs,
        "statements": {"customer_ids": ["C001", "C002", "C003", "C004"]},
        "followup": FOLLOWUP,
    }
    return write(root / "params" / f"{period}.yaml", yaml.safe_dump(body, allow_unicode=True))


def close(root: Path, period: str) -> pipeline.CloseResult:
    result = pipeline.close_stage(load_config(params(root, period, DATA[period])))
    out = root / "outputs" / period
    out.mkdir(parents=True)
    items = out / "open_items.parquet"
    carry.write_open_items(result.open_items, items, period=period)
    followup.write_registers(result.followup, items)
    return result


@pytest.fixture(scope="module")
def closes(tmp_path_factory) -> dict[str, pipeline.CloseResult]:
    root = tmp_path_factory.mktemp("followup")
    return {period: close(root, period) for period in ("2026-09", "2026-10")}


def test_september_confirmation_records_the_statement_balance(closes):
    fu = closes["2026-09"].followup
    assert closes["2026-09"].findings.filter(pl.col("severity") == "error").height == 0
    row = fu.confirmations.row(0, named=True)
    assert fu.confirmations.height == 1
    assert (row["customer_id"], row["statement_no"], row["reply_date"]) == (
        "C001",
        "2026-09-C001",
        dt.date(2026, 9, 29),
    )
    assert (row["currency"], row["confirmed_balance"]) == ("CNY", Decimal("1300.00"))
    status = dict(fu.statements.select("statement_no", "status").iter_rows())
    assert status == {
        "2026-09-C001": "confirmed",
        "2026-09-C002": "disputed",
        "2026-09-C003": "disputed",
        "2026-09-C004": "awaiting",
    }


def test_each_disputed_item_opens_a_dispute_with_owner_and_history(closes):
    fu = closes["2026-09"].followup
    disputes = fu.disputes.select("dispute_id", "invoice_id", "amount", "remark", "owner", "status")
    assert disputes.rows() == [
        ("D-2026-09-C002-INV3", "INV3", Decimal("2000.00"), "price wrong", "Legal", "open"),
        ("D-2026-09-C003-INV4", "INV4", Decimal("120.00"), "short shipment", "Emily", "open"),
    ]
    assert fu.history.select("dispute_id", "date", "status").rows() == [
        ("D-2026-09-C002-INV3", dt.date(2026, 9, 29), "open"),
        ("D-2026-09-C003-INV4", dt.date(2026, 9, 30), "open"),
    ]


def test_promises_exact_amount_kept_one_cent_short_broken_due_tomorrow_pending(closes):
    september = closes["2026-09"].followup.promises
    got = {r["customer_id"]: (r["paid"], r["promise_status"]) for r in september.to_dicts()}
    assert got == {
        "C004": (Decimal("250.00"), "kept"),  # R1 only: R0 came before the promise
        "C001": (Decimal("100.00"), "broken"),  # 100.01 promised
        "C002": (Decimal("0.00"), "pending"),  # due 10-01, the day after the as-of date
    }
    october = closes["2026-10"].followup.promises
    got = {r["customer_id"]: r["promise_status"] for r in october.to_dicts()}
    assert got == {"C004": "kept", "C001": "broken", "C002": "broken"}


def test_tasks_per_collector_with_priorities(closes):
    tasks = closes["2026-09"].followup.tasks
    assert tasks.select("collector", "priority", "kind", "customer_id", "due_date").rows() == [
        ("Emily", 2, "dispute", "C003", dt.date(2026, 10, 5)),
        ("Legal", 2, "dispute", "C002", dt.date(2026, 10, 5)),
        ("Legal", 3, "overdue", "C002", dt.date(2026, 10, 7)),
        ("Zhang", 1, "broken_promise", "C001", dt.date(2026, 10, 1)),
        ("Zhang", 3, "overdue", "C001", dt.date(2026, 10, 7)),
    ]
    broken = tasks.filter(pl.col("kind") == "broken_promise").row(0, named=True)
    assert broken["amount"] == Decimal("0.01")


def test_a_contact_after_a_broken_promise_clears_its_task(closes):
    tasks = closes["2026-10"].followup.tasks
    promised = tasks.filter(pl.col("kind") == "broken_promise")
    # Alpha was called on 10-03, after its broken promise; Beta's broke unanswered
    assert promised.select("collector", "customer_id", "amount").rows() == [
        ("Legal", "C002", Decimal("500.00"))
    ]


def test_dispute_resolved_by_next_periods_confirmation_and_status_from_contacts(closes):
    fu = closes["2026-10"].followup
    status = dict(fu.disputes.select("dispute_id", "status").iter_rows())
    assert status == {"D-2026-09-C002-INV3": "resolved", "D-2026-09-C003-INV4": "in_review"}
    history = fu.history.select("dispute_id", "date", "period", "status", "by").rows()
    assert history == [
        ("D-2026-09-C002-INV3", dt.date(2026, 9, 29), "2026-09", "open",
         "customer reply 2026-09-C002"),
        ("D-2026-09-C002-INV3", dt.date(2026, 10, 30), "2026-10", "resolved",
         "customer reply 2026-10-C002"),
        ("D-2026-09-C003-INV4", dt.date(2026, 9, 30), "2026-09", "open",
         "customer reply 2026-09-C003"),
        ("D-2026-09-C003-INV4", dt.date(2026, 10, 8), "2026-10", "in_review", "Emily"),
    ]  # fmt: skip


def test_an_unresolved_dispute_is_not_dunned_a_resolved_one_is(closes):
    september = set(closes["2026-09"].letters["customer_id"])
    october = set(closes["2026-10"].letters["customer_id"])
    assert "C002" not in september  # INV3, its only overdue invoice, under dispute
    assert "C002" in october  # resolved by Beta's October confirmation
    frames = closes["2026-10"].period.frames
    from arlib.statements import disputed_invoices

    held = disputed_invoices(
        closes["2026-10"].match.invoices,
        frames["decisions"],
        closes["2026-10"].review.exceptions,
        frames["disputes"],
    )
    assert "INV4" in held and "INV3" not in held


def test_statements_superseded_and_replies_outstanding(closes):
    register = closes["2026-10"].followup.statements
    status = dict(register.unique("statement_no").select("statement_no", "status").iter_rows())
    assert status["2026-09-C004"] == "superseded"  # October's statement went out unanswered
    assert status["2026-10-C002"] == "confirmed"
    summary = closes["2026-10"].followup.summary(dt.date(2026, 10, 31))
    assert summary["replies_outstanding"] == 3  # October's C001, C003, C004
    assert summary["disputes_open"] == 1


def test_old_open_items_without_registers_read_as_nothing_on_record(tmp_path):
    first = pipeline.close_stage(load_config(params(tmp_path, "2026-09", DATA["2026-09"])))
    out = tmp_path / "outputs" / "2026-09"
    out.mkdir(parents=True)
    carry.write_open_items(first.open_items, out / "open_items.parquet", period="2026-09")
    period = load_period(load_config(params(tmp_path, "2026-10", DATA["2026-10"])))
    assert period.frames["disputes"].height == 0
    # a status change for a dispute not on record is refused, named where it is written
    bad = period.findings.filter(pl.col("rule") == "unknown_dispute")
    assert bad.select("file", "row", "column", "value").rows() == [
        ("data/2026-10/contacts.csv", 3, "dispute_id", "D-2026-09-C003-INV4")
    ]


def test_bad_replies_give_every_finding_at_once(tmp_path):
    data = dict(DATA["2026-09"])
    data["replies"] = (
        "customer_id,statement_no,confirmed,invoice_id,amount,remark\n"
        "C001,2026-09-C001,是,INV1,10.00,confirms and differs\n"  # row 2
        "C002,2026-08-C001,否,INV3,5.00,\n"  # row 3: another customer's statement number
        "C003,2026-09-C003,maybe,,,\n"  # row 4: not yes/no
        "C003,2026-09-C003,否,INV1,5.00,\n"  # row 5: Alpha's invoice
        "C002,2026-11-C002,否,INV3,5.00,\n"  # row 6: a later period
        "C002,2026-09-C002,false,INV3,2000.01,\n"  # row 7: more than the invoice
        "C003,2026-09-C003,否,INV4,,\n"  # row 8: no amount
        "C009,2026-09-C009,Y,,,\n"  # row 9: unknown customer
        "C004,2026-09-C004,否,INV5,1.00,\n"  # row 10: with row 11, one reply, two answers
        "C004,2026-09-C004,是,,,\n"  # row 11
        "C003,2026-09-C003,否,INV4,3.00,\n"  # row 12: INV4 again (row 8)
    )
    period = load_period(load_config(params(tmp_path, "2026-09", data)))
    found = period.findings.filter(pl.col("file") == "data/2026-09/replies.csv")
    got = {(r["row"], r["column"], r["rule"]) for r in found.to_dicts()}
    assert got == {
        (2, "confirmed", "confirmed_with_differences"),
        (3, "statement_no", "bad_statement_no"),
        (4, "confirmed", "bad_value"),
        (5, "invoice_id", "unknown_invoice"),
        (6, "statement_no", "future_statement"),
        (7, "amount", "bad_value"),
        (8, "amount", "missing_value"),
        (8, "invoice_id", "duplicate_item"),
        (9, "customer_id", "unknown_customer"),  # its statement number is well formed
        (10, "confirmed", "mixed_reply"),
        (11, "confirmed", "mixed_reply"),
        (12, "invoice_id", "duplicate_item"),
    }
    # the rows refused are not acted on: no dispute opens from any of them
    assert period.frames["disputes"].height == 0
    values = {(r["row"], r["column"]): r["value"] for r in found.to_dicts()}
    assert values[(4, "confirmed")] == "maybe"
    assert values[(7, "amount")] == "2000.01"


@pytest.mark.parametrize(
    ("written", "confirmed"),
    [("是", True), ("否", False), ("Y", True), ("n", False), ("yes", True), ("FALSE", False)],
)
def test_confirmed_reads_as_people_write_it(tmp_path, written, confirmed):
    data = dict(DATA["2026-09"])
    data["replies"] = f"customer_id,statement_no,confirmed\nC004,2026-09-C004,{written}\n"
    period = load_period(load_config(params(tmp_path, "2026-09", data)))
    assert period.frames["replies"]["confirmed"].to_list() == [confirmed]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_template_loads_clean_against_the_sample(suffix):
    from arlib.config import InputSpec
    from arlib.followup.replies import check_replies
    from arlib.load import load_input

    spec = InputSpec(path=ROOT / "docs" / "templates" / f"replies_template.{suffix}")
    loaded = load_input("replies", spec, ROOT)
    assert loaded.findings.height == 0
    sample = load_period(load_config(ROOT / "params" / "2026-09.yaml")).frames
    usable, found = check_replies(
        loaded.frame, sample["customers"], sample["invoices"], "2026-09", dt.date(2026, 9, 30)
    )
    assert found.height == 0 and usable.height == 2


def log(*rows) -> pl.DataFrame:
    """Contacts with promises: (contact date, promise date, amount)."""
    frame = pl.DataFrame(
        [
            {"date": d, "customer_id": "C1", "promise_date": p, "promise_amount": Decimal(a),
             "currency": "CNY", "period": "2026-10", "paid": Decimal("0.00"),
             "promise_status": "pending"}
            for d, p, a in rows
        ]
    )  # fmt: skip
    return frame.with_columns(
        pl.col("promise_amount", "paid").cast(MONEY),
        *[pl.lit(None, t).alias(c) for c, t in ct.CONTACT_SCHEMA.items() if c not in frame.columns],
    ).select(list(ct.CONTACT_SCHEMA))


def receipts(*rows) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"customer_id": "C1", "currency": c, "value_date": d, "amount": Decimal(a),
             "origin": "period"}
            for d, a, c in rows
        ]
    ).with_columns(pl.col("amount").cast(MONEY))  # fmt: skip


AS_OF = dt.date(2026, 10, 31)


def test_promise_judged_to_the_cent_and_by_its_date():
    promises = log(
        (dt.date(2026, 10, 1), dt.date(2026, 10, 20), "300.00"),  # paid exactly: kept
        (dt.date(2026, 10, 1), dt.date(2026, 10, 30), "300.01"),  # a cent short, passed
        (dt.date(2026, 10, 1), dt.date(2026, 10, 31), "300.01"),  # due today: pending
        (dt.date(2026, 10, 1), dt.date(2026, 11, 1), "300.01"),  # due tomorrow: pending
        (dt.date(2026, 10, 16), dt.date(2026, 10, 20), "100.00"),  # made after the receipt
    )
    paid = receipts(
        (dt.date(2026, 10, 15), "300.00", "CNY"),
        (dt.date(2026, 10, 15), "999.00", "USD"),  # another currency: not counted
        (dt.date(2026, 11, 2), "999.00", "CNY"),  # after the as-of date: not counted
    )
    judged = ct.judge_promises(promises, paid, AS_OF)
    assert judged.select("paid", "promise_status").rows() == [
        (Decimal("300.00"), "kept"),
        (Decimal("300.00"), "broken"),
        (Decimal("300.00"), "pending"),
        (Decimal("300.00"), "pending"),
        (Decimal("0.00"), "broken"),
    ]


def test_a_promise_paid_over_two_closes_is_kept_and_a_decided_one_stays():
    earlier = log((dt.date(2026, 9, 20), dt.date(2026, 10, 10), "500.00")).with_columns(
        pl.lit(Decimal("200.00")).cast(MONEY).alias("paid")
    )
    judged = ct.judge_promises(earlier, receipts((dt.date(2026, 10, 5), "300.00", "CNY")), AS_OF)
    assert judged.select("paid", "promise_status").row(0) == (Decimal("500.00"), "kept")
    broken = earlier.with_columns(pl.lit("broken").alias("promise_status"))
    again = ct.judge_promises(broken, receipts((dt.date(2026, 10, 5), "300.00", "CNY")), AS_OF)
    assert again.select("paid", "promise_status").row(0) == (Decimal("200.00"), "broken")


def test_collector_column_wins_then_first_fitting_rule_then_default():
    customers = pl.DataFrame(
        {"customer_id": ["C1", "C2", "C3", "C4"], "collector": ["Zhang", None, " ", None]}
    )
    tiers = pl.DataFrame({"customer_id": ["C1", "C2", "C3", "C4"], "tier": ["A", "A", "B", None]})
    currencies = pl.DataFrame(
        {"customer_id": ["C2", "C3", "C4"], "currency": ["USD", "USD", "CNY"]}
    )
    config = tk.FollowupConfig(
        default_collector="Desk",
        collectors=[{"tier": "A", "collector": "Legal"}, {"currency": "USD", "collector": "Emily"}],
    )
    got = tk.assign_collectors(customers, tiers, currencies, config)
    assert got.select("customer_id", "collector", "assigned_by").rows() == [
        ("C1", "Zhang", "customer master"),
        ("C2", "Legal", "rule"),  # tier A before USD: the first rule that fits
        ("C3", "Emily", "rule"),  # a blank collector cell is no collector
        ("C4", "Desk", "default"),
    ]
    owners = tk.dispute_owners(got, config.model_copy(update={"dispute_owner": "Sales"}))
    assert owners["collector"].to_list() == ["Zhang", "Legal", "Emily", "Sales"]


def test_open_disputes_by_owner_and_age_band():
    opened = [AS_OF - dt.timedelta(days=n) for n in (0, 30, 31, 90, 91, 5)]
    disputes = pl.DataFrame(
        {
            "dispute_id": ["D1", "D2", "D3", "D4", "D5", "D6"],
            "owner": ["Li", "Li", "Li", "Li", "Li", "Wang"],
            "currency": "CNY",
            "amount": [Decimal(a) for a in ("1.00", "2.00", "3.00", "4.00", "5.00", "6.00")],
            "status": ["open", "in_review", "open", "open", "open", "resolved"],
            "opened": opened,
        }
    ).with_columns(pl.col("amount").cast(MONEY))
    got = dp.by_owner(disputes, AS_OF).select("owner", "age_band", "disputes", "amount")
    assert got.rows() == [  # 30 days is still 0-30, 31 is not; Wang's is resolved
        ("Li", "0-30", 2, Decimal("3.00")),
        ("Li", "31-60", 1, Decimal("3.00")),
        ("Li", "61-90", 1, Decimal("4.00")),
        ("Li", ">90", 1, Decimal("5.00")),
    ]


def test_a_register_changed_after_its_close_is_refused(tmp_path):
    import hashlib
    import json

    first = pipeline.close_stage(load_config(params(tmp_path, "2026-09", DATA["2026-09"])))
    out = tmp_path / "outputs" / "2026-09"
    out.mkdir(parents=True)
    items = out / "open_items.parquet"
    carry.write_open_items(first.open_items, items, period="2026-09")
    written = [items, *followup.write_registers(first.followup, items)]
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in written}
    (out / "manifest.json").write_text(json.dumps({"output_sha256": hashes}), encoding="utf-8")
    october = load_config(params(tmp_path, "2026-10", DATA["2026-10"]))
    assert load_period(october).findings.filter(pl.col("severity") == "error").height == 0
    disputes = carry.followup_path(items, "disputes")
    pl.read_parquet(disputes).with_columns(pl.lit("resolved").alias("status")).write_parquet(
        disputes, metadata={carry.KIND_KEY: "followup_disputes"}
    )
    refused = load_period(october).findings.filter(pl.col("rule") == "opening_changed")
    assert refused["file"].to_list() == ["outputs/2026-09/followup_disputes.parquet"]
