"""Payer resolution: account, name, alias, fuzzy (auto vs candidate), none."""

from __future__ import annotations

import polars as pl
import pytest

from arlib.payers import normalize_name, resolve_payers
from arlib.schema import columns, conform


def frame(name: str, rows: list[dict]) -> pl.DataFrame:
    cols = columns(name)
    rows = [{**r, "source_file": f"{name}.csv", "source_row": i + 2} for i, r in enumerate(rows)]
    keys = {k for r in rows for k in r}
    return conform(name, pl.DataFrame(rows, schema={k: v for k, v in cols.items() if k in keys}))


CUSTOMERS = frame(
    "customers",
    [
        {
            "customer_id": "C1",
            "name": "Acme Trading Co., Ltd.",
            "aliases": "ACME HK|艾克米",
            "payer_accounts": "6222 0001 0002",
        },
        {"customer_id": "C2", "name": "上海华东贸易有限公司"},
        {"customer_id": "C3", "name": "Zeta Logistics GmbH", "payer_accounts": "999-1"},
        {"customer_id": "C4", "name": "Northwind Foods Inc."},
        {"customer_id": "C5", "name": "Northwind Goods Inc."},
    ],
)


def resolve(names_accounts: list[tuple[str, str | None]], **kw) -> dict[tuple, dict]:
    rec = pl.DataFrame(
        {
            "payer_name": [n for n, _ in names_accounts],
            "payer_account": [a for _, a in names_accounts],
        },
        schema={"payer_name": pl.String, "payer_account": pl.String},
    )
    out = resolve_payers(rec, CUSTOMERS, **kw)
    return {(r["payer_name"], r["payer_account"]): r for r in out.iter_rows(named=True)}


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("ＡＣＭＥ　Trading Co.,Ltd.", "acmetrading"),
        ("Acme Trading Limited", "acmetrading"),
        ("ACME TRADING CO LTD", "acmetrading"),
        ("上海（华东）贸易有限公司", "上海华东贸易"),
        ("上海华东贸易有限责任公司", "上海华东贸易"),
        ("上海华东贸易股份有限公司", "上海华东贸易"),
        ("Zeta Logistics GmbH", "zetalogistics"),
        ("Foo LLC", "foo"),
        ("Bar Corp.", "bar"),
        ("Costco", "costco"),  # 'co' inside a word is not a suffix
        ("厦门市佳禾家电有限公", "厦门市佳禾家电"),
        ("公司", None),
        (None, None),
    ],
)
def test_normalize_name(raw, norm):
    assert normalize_name(raw) == norm


def test_account_beats_name_and_ignores_spaces():
    got = resolve([("Somebody Else", "622200010002")])
    r = got[("Somebody Else", "622200010002")]
    assert (r["customer_id"], r["method"], r["score"]) == ("C1", "account", 1.0)


def test_account_shared_by_two_customers_is_not_used():
    customers = pl.concat(
        [
            CUSTOMERS,
            frame("customers", [{"customer_id": "C9", "name": "Other", "payer_accounts": "999-1"}]),
        ]
    )
    rec = pl.DataFrame({"payer_name": ["nobody"], "payer_account": ["9991"]})
    out = resolve_payers(rec, customers)
    assert out.get_column("method").to_list() == ["none"]


def test_name_alias_fullwidth_and_suffix():
    got = resolve(
        [("ACME TRADING LTD", None), ("艾克米", None), ("上海华东贸易有限责任公司", None)]
    )
    assert got[("ACME TRADING LTD", None)]["method"] == "name"
    assert got[("ACME TRADING LTD", None)]["customer_id"] == "C1"
    assert got[("艾克米", None)]["method"] == "alias"
    assert got[("上海华东贸易有限责任公司", None)]["customer_id"] == "C2"


def test_fuzzy_auto_above_threshold():
    got = resolve([("Acme Tradng Ltd", None)])
    r = got[("Acme Tradng Ltd", None)]
    assert r["method"] == "fuzzy" and r["customer_id"] == "C1"
    assert 0.85 <= r["score"] < 1.0
    assert r["candidate_id"] is None


def test_fuzzy_below_auto_is_candidate_only():
    # 'acmetrd' vs 'acmetrading': ratio ~0.78 -> candidate, not resolved (auto is 0.85)
    got = resolve([("Acme Trd", None)])
    r = got[("Acme Trd", None)]
    assert r["method"] == "none" and r["customer_id"] is None
    assert r["candidate_id"] == "C1" and 0.75 <= r["candidate_score"] < 0.85


def test_fuzzy_below_suggest_threshold_is_nothing():
    got = resolve([("Completely Different Name", None)])
    r = got[("Completely Different Name", None)]
    assert r["method"] == "none" and r["candidate_id"] is None and r["score"] == 0.0


def test_fuzzy_two_close_customers_is_not_auto():
    # 'northwindfood' is one edit from C4 and two from C5: not a clear winner at a high margin
    got = resolve([("Northwind Food", None)], margin=0.10)
    r = got[("Northwind Food", None)]
    assert r["method"] == "none"
    assert r["candidate_id"] == "C4"


def test_resolves_distinct_pairs_not_rows():
    rec = pl.DataFrame(
        {
            "payer_name": ["Acme Trading", "Acme Trading", "Acme Trading", "Zeta"],
            "payer_account": [None, None, "999-1", None],
        },
        schema={"payer_name": pl.String, "payer_account": pl.String},
    )
    out = resolve_payers(rec, CUSTOMERS)
    assert out.height == 3
    assert out.columns == [
        "payer_name",
        "payer_account",
        "customer_id",
        "method",
        "score",
        "candidate_id",
        "candidate_score",
    ]
    by = {(r["payer_name"], r["payer_account"]): r["method"] for r in out.iter_rows(named=True)}
    assert by[("Acme Trading", "999-1")] == "account"
    assert by[("Acme Trading", None)] == "name"


def test_reordered_place_and_shi_resolve_by_loose_key():
    customers = frame("customers", [{"customer_id": "X1", "name": "厦门市佳禾家电贸易有限公司"}])
    rec = pl.DataFrame({"payer_name": ["佳禾家电贸易（厦门）有限公司"], "payer_account": [None]})
    out = resolve_payers(rec, customers)
    assert out.row(0, named=True)["customer_id"] == "X1"
    assert out.row(0, named=True)["method"] == "name"


def test_truncated_name_resolves_when_nobody_else_is_near():
    customers = frame(
        "customers",
        [
            {"customer_id": "X1", "name": "厦门市佳禾家电贸易有限公司"},
            {"customer_id": "X2", "name": "上海华东贸易有限公司"},
        ],
    )
    rec = pl.DataFrame(
        {"payer_name": ["厦门市佳禾家电贸易有", "厦门市佳"], "payer_account": [None, None]},
        schema={"payer_name": pl.String, "payer_account": pl.String},
    )
    out = {r["payer_name"]: r for r in resolve_payers(rec, customers).iter_rows(named=True)}
    assert out["厦门市佳禾家电贸易有"]["customer_id"] == "X1"
    assert out["厦门市佳"]["customer_id"] is None  # too short a cut
