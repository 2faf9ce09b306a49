"""Property tests on random small ledgers: conservation, no over-application, determinism."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arlib.match import MatchConfig, match
from arlib.schema import columns, conform

CUSTS = ["C1", "C2", "C3"]
AMOUNTS = [D("100.00"), D("250.00"), D("99.99"), D("350.00"), D("1000.00"), D("985.00"), D("12.34")]
BASE = dt.date(2026, 10, 1)


def frame(name: str, rows: list[dict]) -> pl.DataFrame:
    cols = columns(name)
    rows = [{**r, "source_file": f"{name}.csv", "source_row": i + 2} for i, r in enumerate(rows)]
    df = pl.DataFrame(rows, schema={k: v for k, v in cols.items() if not rows or k in rows[0]})
    return conform(name, df)


CUSTOMERS = frame(
    "customers",
    [
        {
            "customer_id": "C1",
            "name": "Acme Co",
            "parent_id": None,
            "policy": None,
            "discount_terms": "2/10 net 30",
        },
        {
            "customer_id": "C2",
            "name": "Beta Ltd",
            "parent_id": "C1",
            "policy": None,
            "discount_terms": None,
        },
        {
            "customer_id": "C3",
            "name": "Gamma Inc",
            "parent_id": None,
            "policy": "balance_forward",
            "discount_terms": None,
        },
    ],
)
PAYERS = ["Acme Co", "Beta Ltd", "Gamma Inc", "Acme Cp", "Unknown Payer"]
FX = frame("fx_rates", [{"date": BASE, "currency": "USD", "rate": D("7.00000000")}])

money = st.one_of(
    st.sampled_from(AMOUNTS),
    st.integers(min_value=1, max_value=200_000).map(lambda c: D(c) / 100),
)


@st.composite
def ledgers(draw):
    n_inv = draw(st.integers(0, 8))
    invoices = []
    for k in range(n_inv):
        day = draw(st.integers(0, 40))
        invoices.append(
            {
                "invoice_id": f"INV{k + 1:07d}",
                "customer_id": draw(st.sampled_from(CUSTS)),
                "invoice_date": BASE + dt.timedelta(days=day - 20),
                "due_date": BASE + dt.timedelta(days=day + 10),
                "amount": draw(money),
                "currency": draw(st.sampled_from(["CNY", "CNY", "CNY", "USD"])),
            }
        )
    n_rec = draw(st.integers(0, 8))
    receipts = []
    for k in range(n_rec):
        refs = draw(st.lists(st.integers(1, max(1, n_inv)), max_size=3))
        memo = " ".join(f"INV-{r:07d}" for r in refs) if n_inv else None
        if invoices and draw(st.booleans()):
            amount = invoices[draw(st.integers(0, n_inv - 1))]["amount"] - draw(
                st.sampled_from([D(0), D(0), D("0.01"), D("15.00"), D("-0.02")])
            )
        else:
            amount = draw(money)
        receipts.append(
            {
                "receipt_id": f"R{k:03d}",
                "value_date": BASE + dt.timedelta(days=draw(st.integers(0, 30))),
                "amount": amount,
                "currency": draw(st.sampled_from(["CNY", "CNY", "CNY", "USD"])),
                "payer_name": draw(st.sampled_from(PAYERS)),
                "memo": memo,
            }
        )
    credits = []
    for k in range(draw(st.integers(0, 2))):
        if not invoices:
            break
        target = invoices[draw(st.integers(0, n_inv - 1))]
        credits.append(
            {
                "credit_id": f"CN{k}",
                "customer_id": target["customer_id"],
                "date": BASE,
                "amount": draw(money),
                "invoice_id": target["invoice_id"],
            }
        )
    return invoices, receipts, credits


def run(invoices, receipts, credits, cfg=None):
    return match(
        frame("invoices", invoices)
        if invoices
        else conform("invoices", pl.DataFrame(schema=columns("invoices"))),
        frame("receipts", receipts)
        if receipts
        else conform("receipts", pl.DataFrame(schema=columns("receipts"))),
        CUSTOMERS,
        frame("credit_notes", credits) if credits else None,
        FX,
        cfg or MatchConfig(),
    )


def assert_conserved(res):
    a = res.allocations
    cash = a.filter(pl.col("kind") != "credit_note")
    per_r = cash.group_by("receipt_id").agg(pl.col("receipt_amount").sum().alias("used"))
    r = res.receipts.join(per_r, on="receipt_id", how="left").with_columns(
        pl.col("used").fill_null(D(0))
    )
    assert (r["used"] + r["unapplied"] == r["amount"]).all()
    assert (r["used"] <= r["amount"].clip(lower_bound=0)).all(), "receipt over-allocated"
    per_i = a.group_by("invoice_id").agg(pl.col("applied_amount").sum().alias("app"))
    i = res.invoices.join(per_i, on="invoice_id", how="left").with_columns(
        pl.col("app").fill_null(D(0))
    )
    assert (i["app"] + i["open_amount"] == i["open_at_start"]).all()
    assert (i["app"] <= i["amount"]).all(), "invoice over-applied"
    assert (i["open_amount"] >= 0).all()
    # totals tie
    assert (
        cash["receipt_amount"].sum()
        == res.receipts["amount"].sum() - res.receipts["unapplied"].sum()
    )
    assert (
        a["applied_amount"].sum()
        == res.invoices["open_at_start"].sum() - res.invoices["open_amount"].sum()
    )
    # every allocation explained; receipt/invoice/customer ids are real
    assert a["confidence"].is_between(0, 1).all()
    assert (a["reason"].str.len_chars() > 0).all() and a["rule"].is_not_null().all()
    assert set(a["invoice_id"]) <= set(res.invoices["invoice_id"])
    assert set(cash["receipt_id"]) <= set(res.receipts["receipt_id"])
    # a suggestion never points at a receipt that is already fully applied
    applied = set(res.receipts.filter(pl.col("status") == "applied")["receipt_id"])
    assert not applied & set(res.suggestions["receipt_id"])


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(ledgers())
def test_conservation_and_no_over_application(ledger):
    assert_conserved(run(*ledger))


@SETTINGS
@given(ledgers(), st.randoms(use_true_random=False))
def test_deterministic_under_shuffle(ledger, rnd):
    invoices, receipts, credits = ledger
    first = run(invoices, receipts, credits)
    inv2, rec2, cn2 = list(invoices), list(receipts), list(credits)
    rnd.shuffle(inv2)
    rnd.shuffle(rec2)
    rnd.shuffle(cn2)
    second = run(inv2, rec2, cn2)
    assert first.allocations.equals(second.allocations)
    assert first.suggestions.equals(second.suggestions)
    keep = ["receipt_id", "customer_id", "allocated", "unapplied", "status"]
    assert first.receipts.select(keep).equals(second.receipts.select(keep))
    keep = ["invoice_id", "applied", "open_amount", "status"]
    assert first.invoices.select(keep).equals(second.invoices.select(keep))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ledgers(),
    st.sets(
        st.sampled_from(
            [
                "credit_note",
                "reference",
                "exact_amount",
                "combined",
                "partial",
                "balance_forward",
                "suggestions",
            ]
        )
    ),
)
def test_any_rule_subset_conserves(ledger, rules):
    assert_conserved(run(*ledger, cfg=MatchConfig(rules=tuple(sorted(rules)))))
