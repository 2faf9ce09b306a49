"""The references a receipt's text makes, the unique-policy resolution and the reference
rule's texts, each with a hand-computed answer."""

from __future__ import annotations

from datetime import date

import polars as pl

from arlib.match.cascade import resolve_unique
from arlib.match.config import MatchConfig
from arlib.match.prepare import _by_number, references
from arlib.match.rules.reference import _by_value, _shown

NUMBER = {"rec_idx": pl.Int64, "col": pl.Int64, "_n": pl.Int64}
KEYS = {"_n": pl.Int64, "inv_idx": pl.Int64, "_several": pl.Boolean}


def _rows(df: pl.DataFrame) -> list[tuple]:
    return sorted(df.select("rec_idx", "col", "inv_idx", "_several").iter_rows())


def test_by_number_finds_each_invoice_of_a_number_dense_or_sparse():
    # number 2 is carried by invoices 1 and 2, 7 by none
    toks = pl.DataFrame({"rec_idx": [0, 1, 2, 3], "col": [0, 0, 1, 0], "_n": [2, 5, 7, 1]}, NUMBER)
    keys = pl.DataFrame(
        {"_n": [1, 2, 2, 5], "inv_idx": [0, 1, 2, 3], "_several": [False, True, True, False]},
        KEYS,
    )
    want = [(0, 0, 1, True), (0, 0, 2, True), (1, 0, 3, False), (3, 0, 0, False)]
    assert _rows(_by_number(toks, keys)) == want
    # numbers far apart (no table): the same answer by a join
    big = 10**12
    sparse = _by_number(
        toks.with_columns(pl.col("_n") * big), keys.with_columns(pl.col("_n") * big)
    )
    assert _rows(sparse) == want
    # a number beyond every invoice's
    assert _by_number(toks.with_columns(pl.lit(10**6).alias("_n")), keys).height == 0


def _refs(memo: list[str | None], bank_ref: list[str | None], invoices: list[tuple]):
    """references() over receipts (memo, bank_ref; payer C1, CNY, 100.00) and invoices
    (invoice_id, key, start_c), all of customer C1."""
    n = len(memo)
    rec = pl.DataFrame(
        {
            "rec_idx": list(range(n)),
            "memo": memo,
            "bank_ref": bank_ref,
            "c_pay": ["C1"] * n,
            "par_pay": [None] * n,
            "currency": ["CNY"] * n,
            "amt_c": [10_000] * n,
        },
        schema_overrides={"par_pay": pl.String, "memo": pl.String, "bank_ref": pl.String},
    )
    inv = pl.DataFrame(
        {
            "inv_idx": list(range(len(invoices))),
            "invoice_id": [i for i, _, _ in invoices],
            "customer_id": ["C1"] * len(invoices),
            "currency": ["CNY"] * len(invoices),
            "start_c": [s for _, _, s in invoices],
            "key": [k for _, k, _ in invoices],
        }
    )
    cust = pl.DataFrame(
        {"customer_id": ["C1"], "parent_id": [None]}, schema_overrides={"parent_id": pl.String}
    )
    refs, shared = references(rec, inv, cust, MatchConfig())
    return sorted(refs.iter_rows()), shared


def test_references_by_number_prefix_bare_digits_and_short_own_number():
    invoices = [
        ("INV-0007", "7", 10_000),
        ("INV-0012", "12", 10_000),
        ("INV-1234", "1234", 10_000),
        ("A-0005", "5", 10_000),
        ("B-0005", "5", 10_000),
        ("X-١٢٣٤٥", "١٢٣٤٥", 10_000),  # its number in Arabic-Indic digits
    ]
    memo = [
        "INV0000012 and 0000007",  # a prefix: any length; bare: 7 digits, leading zeros too
        "12",  # a short bare number: the payer's own only open invoice numbered 12
        "no 5",  # a prefix naming a number two open invoices carry
        "no.١٢٣٤٥",  # digits other than 0-9: compared as text
        "inv 12",
        "1234 x",
    ]
    bank_ref = [
        "2026103000000000000012",  # longer than any invoice's number: names none
        None,
        None,
        None,
        "INV-0012",  # also named by the memo: one reference, the first source by name
        None,
    ]
    refs, shared = _refs(memo, bank_ref, invoices)
    assert refs == [
        (0, 0, "memo", "INV0000012 and 0000007"),
        (0, 1, "memo", "INV0000012 and 0000007"),
        (1, 1, "memo", "12"),
        (2, 3, "memo", "no 5"),
        (2, 4, "memo", "no 5"),
        (3, 5, "memo", "no.١٢٣٤٥"),
        (4, 1, "bank_ref", "INV-0012"),
        (5, 2, "memo", "1234 x"),
    ]
    assert shared == [2]


def test_a_short_number_names_nothing_beside_another_reference_or_a_second_number():
    invoices = [("INV-0012", "12", 10_000), ("INV-1234", "1234", 10_000)]
    refs, shared = _refs(["12 INV1234", "12 15"], [None, None], invoices)
    # the first names 1234 by its prefix, so its 12 is no short reference; '12 15' has two
    assert refs == [(0, 1, "memo", "12 INV1234")]
    assert shared == []


PROPOSALS = {
    "proposal": pl.Int64,
    "rec_idx": pl.Int64,
    "receipt_id": pl.String,
    "inv_idx": pl.Int64,
    "rank": pl.Int64,
    "value_date": pl.Date,
    "row": pl.Int64,
}


def _resolved(rows: list[tuple]) -> list[int]:
    """The ``row`` numbers resolve_unique keeps, rows given as (proposal, rec_idx, inv_idx,
    rank, day of October)."""
    frame = pl.DataFrame(
        [(p, r, f"R{r}", i, k, date(2026, 10, d), n) for n, (p, r, i, k, d) in enumerate(rows)],
        schema=PROPOSALS,
        orient="row",
    )
    return resolve_unique(frame).get_column("row").to_list()


def test_resolve_unique_per_receipt_one_best_proposal():
    # receipt 0: two proposals of its best rank 1 (people decide); receipt 1: rank 0 beats 2
    rows = [(0, 0, 10, 1, 1), (1, 0, 11, 1, 1), (2, 1, 12, 2, 1), (3, 1, 13, 0, 1)]
    assert _resolved(rows) == [3]


def test_resolve_unique_per_invoice_best_rank_then_earliest_then_receipt():
    rows = [
        (0, 0, 10, 1, 1),  # invoice 10: rank 0 of receipt 1 wins over rank 1
        (1, 1, 10, 0, 5),
        (2, 2, 11, 0, 3),  # invoice 11: the earlier value date wins
        (3, 3, 11, 0, 2),
        (4, 5, 12, 0, 4),  # invoice 12: same rank and date, the first receipt wins
        (5, 4, 12, 0, 4),
        (6, 6, 13, 3, 9),  # invoice 13: uncontested
    ]
    assert _resolved(rows) == [1, 3, 5, 6]


def test_resolve_unique_a_proposal_is_its_rows_with_their_best_rank():
    # proposal 0 is a cash row and a write-off row (rank 2 and 0: it counts as 0); it beats
    # proposal 1 (rank 1) for receipt 0, and both of its rows stand
    rows = [(0, 0, 10, 2, 1), (1, 0, 11, 1, 1), (0, 0, 10, 0, 1)]
    assert _resolved(rows) == [0, 2]


def test_shown_texts_on_one_line_with_curly_quotes_and_at_most_60_characters():
    text = pl.Series(["plain", "two\nlines 'q'", "x" * 70, None])
    assert _shown(text).to_list() == ["plain", "two lines ’q’", "x" * 60, None]


def test_by_value_makes_each_text_for_its_own_rows():
    c = pl.DataFrame({"kind": ["b", "a", "b", "c"], "n": [1, 2, 3, 4]})
    texts = {"a": pl.format("a{}", "n"), "b": pl.format("b{}", "n")}
    assert _by_value(c, "kind", texts).to_list() == ["b1", "a2", "b3", None]
