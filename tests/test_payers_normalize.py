"""Name forms, NFKC and payer accounts (arlib.payers.normalize), and the shared customer side
(arlib.payers.master.CustomerNames), on hand-worked examples."""

from __future__ import annotations

import polars as pl

from arlib.payers import CustomerNames, memo_payers, resolve_payers
from arlib.payers.normalize import name_forms, nfkc, normalize_account


def test_nfkc_only_changes_wide_texts():
    got = nfkc(pl.Series(["ＡＢＣ", "abc", None, "ｶﾞ", "上海（华东）"]))
    assert got.to_list() == ["ABC", "abc", None, "ガ", "上海(华东)"]


def test_normalize_account():
    got = normalize_account(pl.Series(["６２２２ ０００１-０００２", "  -  ", None, "ab-12"]))
    assert got.to_list() == ["622200010002", None, None, "AB12"]


def test_name_forms():
    names = pl.Series(
        [
            "佳禾家电贸易（厦门）有限公司",
            "厦门市佳禾家电贸易有限公司",
            "Acme Trading Co., Ltd.",
            "有限公司",
            None,
        ]
    )
    got = name_forms(names).rows()
    assert got == [
        # the place in brackets moves to the front of the loose key and the prefix
        ("佳禾家电贸易厦门", "厦门佳禾家电贸易", "厦门佳禾家电贸易有限公司", "佳禾家电贸易 厦门"),
        # the 市 after a leading city goes
        (
            "厦门市佳禾家电贸易",
            "厦门佳禾家电贸易",
            "厦门佳禾家电贸易有限公司",
            "厦门市佳禾家电贸易",
        ),
        ("acmetrading", "acmetrading", "acmetradingcoltd", "acme trading"),
        # only a suffix: no name (the prefix keeps it)
        (None, None, "有限公司", ""),
        (None, None, None, None),
    ]


CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3"],
        "name": ["Acme Trading Co., Ltd.", "上海华东贸易有限公司", "北京华东贸易有限公司"],
        "aliases": ["ACME HK", "华东贸易", "华东贸易"],
        "payer_accounts": ["6222 0001", None, None],
    }
)


def test_forms_of_reads_known_names_and_keeps_new_ones():
    names = CustomerNames(CUSTOMERS)
    asked = pl.Series(["ACME HK", "Acme Trading Limited"])
    got = {r["raw"]: r["norm"] for r in names.forms_of(asked).iter_rows(named=True)}
    assert got == {"ACME HK": "acmehk", "Acme Trading Limited": "acmetrading"}
    # the new name's forms are kept; asked again, nothing is computed twice
    assert names._more is not None and names._more.get_column("raw").to_list() == [
        "Acme Trading Limited"
    ]
    again = names.forms_of(asked)
    assert sorted(again.get_column("raw").to_list()) == sorted(asked.to_list())
    assert names._more.height == 1


def test_choices_one_row_per_name_and_alias():
    ch = CustomerNames(CUSTOMERS).choices
    assert ch.select("norm", "customer_id", "source", "c", "cc").rows() == [
        ("acmehk", "C1", "alias", 0, 0),
        ("acmetrading", "C1", "name", 1, 0),
        ("上海华东贸易", "C2", "name", 2, 1),
        ("北京华东贸易", "C3", "name", 3, 2),
        ("华东贸易", "C2", "alias", 4, 1),
        ("华东贸易", "C3", "alias", 5, 2),
    ]


def test_shared_customer_names_give_the_standalone_answers():
    rec = pl.DataFrame(
        {
            "payer_name": ["ACME HK", "华东贸易", "上海华东贸易公司", None, "Co., Ltd."],
            "payer_account": [None, None, None, "6222-0001", None],
            "memo": [None, None, None, "FROM 北京华东贸易有限公司", "上海华东贸易 PAYMENT"],
        }
    )
    names = CustomerNames(CUSTOMERS)
    assert resolve_payers(rec, names).equals(resolve_payers(rec, CUSTOMERS))
    assert memo_payers(rec, names).equals(memo_payers(rec, CUSTOMERS))
    got = {r["memo"]: r["candidates"] for r in memo_payers(rec, names).iter_rows(named=True)}
    assert got == {"FROM 北京华东贸易有限公司": ["C3"], "上海华东贸易 PAYMENT": ["C2"]}
