"""Payment terms (arlib.terms): the written forms with known answers, the refusals with
their messages, and the polars forms."""

from __future__ import annotations

from decimal import Decimal as D

import polars as pl
import pytest

from arlib.terms import (
    NO_TERMS,
    TERMS_DTYPE,
    PaymentTerms,
    TermsError,
    parse_terms,
    terms_expr,
    terms_problem,
    terms_problem_expr,
)

KNOWN = [
    ("2/10 net 30", ((D(2), 10),), 30),
    ("2/10 1/20 net 45", ((D(2), 10), (D(1), 20)), 45),
    ("1/20 2/10 net 45", ((D(2), 10), (D(1), 20)), 45),  # any order, sorted by days
    ("net 30 2/10", ((D(2), 10),), 30),
    ("2/10, n/30", ((D(2), 10),), 30),
    ("2%10 net 30", ((D(2), 10),), 30),
    ("2%/10 net 30", ((D(2), 10),), 30),
    ("2% 10 net 30", ((D(2), 10),), 30),
    ("2 / 10 ; N/30", ((D(2), 10),), 30),
    ("1.5/15, n/45", ((D("1.5"), 15),), 45),
    ("0.75/7 net 60", ((D("0.75"), 7),), 60),
    ("Net 30 days", (), 30),
    ("NET30", (), 30),
    ("n 45", (), 45),
    ("2/10", ((D(2), 10),), None),  # no net days: the customer's payment_terms_days apply
    ("2/30 net 30", ((D(2), 30),), 30),  # a discount up to the due date
    ("  2/10 net 30  ", ((D(2), 10),), 30),
    ("10天内付款折扣2%，30天内付清", ((D(2), 10),), 30),
    ("10天内折扣2%、20天内付款优惠1%；账期60天", ((D(2), 10), (D(1), 20)), 60),
    ("2/10，n/30", ((D(2), 10),), 30),
    ("2/10 net 30 days", ((D(2), 10),), 30),
]


@pytest.mark.parametrize(("text", "discounts", "net"), KNOWN)
def test_known_terms(text, discounts, net):
    terms = parse_terms(text)
    assert terms == PaymentTerms(discounts, net)
    assert terms.discounts == discounts and terms.net_days == net
    assert [days for _, days in terms.discounts] == sorted(days for _, days in discounts)


def test_no_terms():
    for text in (None, "", "   "):
        assert parse_terms(text) == NO_TERMS == PaymentTerms((), None)


def test_rates_are_fractions():
    assert parse_terms("2/10 1.5/20 net 45").rates == ((D("0.02"), 10), (D("0.015"), 20))


REFUSED = [
    ("2/10 EOM", "cannot read 'EOM'"),
    ("2/10/30", "cannot read '2/10/30'"),
    ("2/10net30", "cannot read '2/10net30'"),
    ("2/100x net 30", "cannot read '2/100x net 30'"),
    ("2%", "cannot read '2%'"),
    ("30", "cannot read '30'"),
    ("9折", "cannot read '9折'"),  # a trade discount, not an early-payment one
    ("２/１０ net ３０", "cannot read '２/１０ net ３０'"),  # ASCII digits only
    ("٢/١٠ net 30", "cannot read"),
    (", ;", "no discount or net terms in it"),  # not empty, but no terms either
    ("0/10 net 30", "a discount of 0 % is not more than 0 and below 100"),
    ("100/10 net 30", "a discount of 100 % is not more than 0 and below 100"),
    ("1.555/10 net 30", "a discount of 1.555 % has more than two decimals"),
    ("2/0 net 30", "a discount window of 0 days: days run from 1 to 36,600"),
    ("2/10 net 0", "net terms of 0 days"),
    ("2/10 net 99999", "net terms of 99999 days"),
    ("2/10 3/10 net 30", "two discounts for 10 days (2 % and 3 %)"),
    ("net 30 net 45", "two net terms (30 and 45 days)"),
    ("2/45 net 30", "a discount window of 45 days is longer than the net 30 days"),
]


@pytest.mark.parametrize(("text", "why"), REFUSED)
def test_refused_terms_name_the_value_and_why(text, why):
    with pytest.raises(TermsError) as caught:
        parse_terms(text)
    message = str(caught.value)
    assert message.startswith(f"discount terms {text!r}: ")
    assert why in message
    assert terms_problem(text) == message
    assert isinstance(caught.value, ValueError)


def test_terms_problem_of_good_terms_is_none():
    assert terms_problem("2/10 net 30") is None
    assert terms_problem(None) is None


def test_polars_forms():
    texts = ["2/10 net 30", None, "net 30 2/10 1/5", "", "2/10 net 30"]
    df = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    out = df.select(terms_expr(pl.col("t")).alias("terms"))
    assert out.schema["terms"] == TERMS_DTYPE
    assert out["terms"].to_list() == [
        {"discounts": [{"percent": D("2.00"), "days": 10}], "net_days": 30},
        None,
        {
            "discounts": [{"percent": D("1.00"), "days": 5}, {"percent": D("2.00"), "days": 10}],
            "net_days": 30,
        },
        None,
        {"discounts": [{"percent": D("2.00"), "days": 10}], "net_days": 30},
    ]
    # the first discount's basis points and days, as matching reads them
    first = out.select(
        (pl.col("terms").struct.field("discounts").list.first().struct.field("percent") * 100)
        .cast(pl.Int64)
        .alias("bp")
    )
    assert first["bp"].to_list() == [200, None, 100, None, 200]


def test_polars_problems_and_refusal():
    df = pl.DataFrame({"t": ["2/10 net 30", "2/10 EOM", None]})
    problems = df.select(terms_problem_expr(pl.col("t")).alias("p"))["p"].to_list()
    assert problems == [None, "discount terms '2/10 EOM': " + problems[1].split(": ", 1)[1], None]
    assert "cannot read 'EOM'" in problems[1]
    with pytest.raises(TermsError, match="2/10 EOM"):
        df.select(terms_expr(pl.col("t")))
    empty = pl.DataFrame({"t": []}, schema={"t": pl.String})
    assert empty.select(terms_expr(pl.col("t"))).height == 0
