"""Payer resolution: account, name, alias, fuzzy (auto vs candidate), none."""

from __future__ import annotations

import polars as pl
import pytest

from arlib.payers import memo_payers, normalize_name, resolve_payers
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


def test_account_shared_by_two_customers_resolves_neither_but_keeps_both():
    customers = pl.concat(
        [
            CUSTOMERS,
            frame("customers", [{"customer_id": "C9", "name": "Other", "payer_accounts": "999-1"}]),
        ]
    )
    rec = pl.DataFrame({"payer_name": ["nobody"], "payer_account": ["9991"]})
    (r,) = resolve_payers(rec, customers).iter_rows(named=True)
    assert r["customer_id"] is None
    assert (r["method"], r["candidates"]) == ("ambiguous", ["C3", "C9"])


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
    assert r["method"] == "fuzzy_candidates" and r["customer_id"] is None
    assert r["candidate_id"] == "C4"
    assert r["candidates"] == ["C4", "C5"]


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
        "candidates",
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


# ------------------------------------------------------------------- candidates (§2.4, §2.5)
SHARED = frame(
    "customers",
    [
        {"customer_id": "H1", "name": "Huaxin Trading (Shanghai) Co., Ltd.", "aliases": "HX"},
        {"customer_id": "H2", "name": "Huaxin Trading (Beijing) Co., Ltd.", "aliases": "HX"},
        {"customer_id": "B1", "name": "Shenzhen Brightway Electronics Co., Ltd."},
        {"customer_id": "B2", "name": "Shenzhen Brightway Optics Co., Ltd."},
        {"customer_id": "Z1", "name": "上海华润五金贸易有限公司", "aliases": "华润五金"},
        {"customer_id": "Z2", "name": "北京华润五金贸易有限公司", "aliases": "华润五金"},
        {"customer_id": "Z3", "name": "明珠建材（无锡）有限公司"},
    ],
)


def resolve_shared(*names: str, **kw) -> dict[str, dict]:
    rec = pl.DataFrame(
        {"payer_name": list(names), "payer_account": [None] * len(names)},
        schema={"payer_name": pl.String, "payer_account": pl.String},
    )
    return {r["payer_name"]: r for r in resolve_payers(rec, SHARED, **kw).iter_rows(named=True)}


@pytest.mark.parametrize(
    ("payer", "candidates"),
    [
        ("HX", ["H1", "H2"]),  # an alias both have
        ("华润五金", ["Z1", "Z2"]),
    ],
)
def test_a_name_several_customers_share_is_ambiguous_with_all_of_them(payer, candidates):
    r = resolve_shared(payer)[payer]
    assert (r["customer_id"], r["method"], r["candidates"]) == (None, "ambiguous", candidates)


@pytest.mark.parametrize(
    ("payer", "candidates"),
    [
        ("Huaxin Trading Co., Ltd.", ["H1", "H2"]),  # the trade name without its city
        ("华润五金贸易有限公司", ["Z1", "Z2"]),
        # one of them scores high, but the name is a shortened form of both
        ("SHENZHEN BRIGHTWAY CO LTD", ["B1", "B2"]),
    ],
)
def test_a_shortened_name_of_several_customers_names_them_all(payer, candidates):
    r = resolve_shared(payer)[payer]
    assert r["customer_id"] is None
    assert (r["method"], r["candidates"]) == ("fuzzy_candidates", candidates)


@pytest.mark.parametrize(
    ("payer", "customer"),
    [
        ("ACME TRADING LTD/PAYMENT", None),
        ("TRF/SHENZHENBRIGHTWAYELECTRONICS/PMT 2026", "B1"),
        ("明珠建材（无锡）有限公司往来款", "Z3"),
        ("上海华润五金贸易有限公司往来款", "Z1"),  # the longest name inside, not the alias
    ],
)
def test_a_name_glued_to_other_text_is_a_candidate_not_a_customer(payer, customer):
    r = resolve_shared(payer)[payer]
    assert r["customer_id"] is None
    if customer is None:  # no such customer: nobody
        assert r["candidates"] is None
    else:
        assert (r["method"], r["candidates"]) == ("fuzzy_candidates", [customer])


def test_reordered_words_resolve():
    r = resolve_shared("Brightway Electronics Shenzhen Co., Ltd.")
    assert r["Brightway Electronics Shenzhen Co., Ltd."]["customer_id"] == "B1"
    assert r["Brightway Electronics Shenzhen Co., Ltd."]["method"] == "fuzzy"


def test_more_candidates_than_the_limit_identify_nobody():
    r = resolve_shared("HX", "Huaxin Trading Co., Ltd.", max_candidates=1)
    for name in ("HX", "Huaxin Trading Co., Ltd."):
        assert (r[name]["method"], r[name]["candidates"]) == ("none", None)


def test_fuzzy_names_are_compared_through_the_index_not_all_pairs(monkeypatch):
    """2,000 customers sharing stems, 300 distinct unresolved names: each name is scored
    against the few customers sharing its rarest tokens (and, near one, its frames), far
    fewer pairs than all of them; the glued names and the slips still find their customer."""
    from rapidfuzz import process

    cities = ["上海", "北京", "深圳", "广州", "杭州", "南京", "苏州", "无锡"]
    cores = [a + b for a in "华润恒信鑫源嘉禾博远" for b in "永利德隆明珠金泰宏达"]
    trades = ["五金贸易", "电子科技", "建材", "食品", "化工"]
    names = [f"{c}{k}{t}有限公司" for c in cities for k in cores for t in trades][:2_000]
    customers = frame(
        "customers", [{"customer_id": f"K{i:04d}", "name": n} for i, n in enumerate(names)]
    )
    queries = [n.replace("有限公司", "有限公司往来款") for n in names[:150]]
    queries += [n[:5] + n[6:] for n in names[150:300]]  # one character of the trade dropped
    seen = []
    real = process.cpdist

    def counting(a, b, **kw):
        seen.append(len(a))
        return real(a, b, **kw)

    monkeypatch.setattr(process, "cpdist", counting)
    rec = pl.DataFrame({"payer_name": queries, "payer_account": [None] * len(queries)})
    out = resolve_payers(rec, customers)
    assert sum(seen) < len(queries) * len(names) / 10
    got = {r["payer_name"]: r for r in out.iter_rows(named=True)}
    assert all(got[q]["candidates"] == [f"K{i:04d}"] for i, q in enumerate(queries[:150]))
    dropped = [got[q]["customer_id"] == f"K{i:04d}" for i, q in enumerate(queries[150:], 150)]
    assert sum(dropped) >= 140


def test_memo_names_the_customers_of_a_line_without_payer():
    memos = [
        "Shenzhen Brightway Electronics Co., Ltd. goods payment",
        "BRIGHTWAY ELECTRONICS PAYMENT OCT",  # the name without its city
        "华润五金货款",  # the alias both have
        "上海华润五金贸易有限公司 付款",  # the longest name found, not the shared alias
        "goods payment",
        "HX payment",  # two letters name nobody
    ]
    rec = pl.DataFrame(
        {"payer_name": [None, "", None, "  ", None, None], "memo": memos},
        schema={"payer_name": pl.String, "memo": pl.String},
    )
    got = {r["memo"]: r["candidates"] for r in memo_payers(rec, SHARED).iter_rows(named=True)}
    assert got == {
        memos[0]: ["B1"],
        memos[1]: ["B1"],
        memos[2]: ["Z1", "Z2"],
        memos[3]: ["Z1"],
    }


def test_a_memo_is_not_read_for_a_name_when_the_line_has_a_payer():
    rec = pl.DataFrame(
        {"payer_name": ["Zhang San"], "memo": ["Shenzhen Brightway Electronics payment"]}
    )
    assert memo_payers(rec, SHARED).height == 0


def test_one_keying_slip_from_a_name_is_a_candidate_however_low_the_ratio():
    customers = frame(
        "customers",
        [
            {"customer_id": "K1", "name": "深圳华美机械有限公司"},
            {"customer_id": "K2", "name": "无锡实恒信业有限公司"},
            {"customer_id": "K3", "name": "上海恒信五金贸易有限公司"},
        ],
    )
    names = ["深圳华美机戒有限公司", "无锡恒实信业有限公司", "上海华润五金贸易有限公司"]
    rec = pl.DataFrame({"payer_name": names, "payer_account": [None] * 3})
    got = {r["payer_name"]: r for r in resolve_payers(rec, customers).iter_rows(named=True)}
    assert got[names[0]]["candidates"] == ["K1"]  # a character replaced (0.83)
    assert got[names[1]]["candidates"] == ["K2"]  # two characters swapped
    # two characters replaced: another trade name in the same city and trade, nobody
    assert got[names[2]]["candidates"] is None and got[names[2]]["customer_id"] is None
