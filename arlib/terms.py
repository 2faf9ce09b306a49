"""Payment terms of a customer (``discount_terms`` in the customers file, 付款条件).

One reading for every stage: :func:`parse_terms` turns the text into
:class:`PaymentTerms`, the early-payment discounts as ``(percent, days)`` pairs sorted by
days and the net days (or None when the text gives none: the customer's
``payment_terms_days`` then applies). A text that is not terms is an error
(:class:`TermsError`) naming the value and the part not understood: a discount read
wrongly would classify every payment of that customer wrongly, so nothing is guessed.

Written forms (case and spacing free; terms in any order, each apart from the next by
spaces, commas, semicolons or their Chinese forms ``，；、``):

- a discount ``P/D``, ``P%/D`` or ``P%D``: ``P`` percent (up to two decimals, more than 0
  and less than 100) if paid within ``D`` days of the invoice date: ``2/10``, ``1.5/15``,
  ``2%10``; in Chinese ``D天内付款折扣P%`` (also ``D天内折扣P%``, ``优惠`` for ``折扣``):
  ``10天内付款折扣2%`` is ``2/10``;
- the net days ``net D``, ``n/D`` or ``n D`` (``net 30``, ``n/30``, ``Net 30 days``); in
  Chinese ``D天内付清`` or ``账期D天``.

So ``2/10 net 30``, ``net 30 2/10``, ``2/10, n/30`` and ``2%10 net 30`` are all
``((2, 10),)`` with net 30, and ``2/10 1/20 net 45`` is ``((2, 10), (1, 20))`` with net 45.
Days are whole days from 1 to 36,600. Refused, each with its reason: two discounts for the
same days, two net terms, a discount window longer than the net days, a percent of 0 or
of 100 or more or with more than two decimals, and anything else in the text (``EOM``,
``2/10/30``, ``9折``: a trade discount, not an early-payment one). Digits are ASCII 0-9
only, as everywhere in arlib (``２/１０`` is refused, not read as 2/10).

An empty or missing text is no terms (:data:`NO_TERMS`). The polars forms read a column:
:func:`terms_problem_expr` (the reason a value is refused, for the customers check of
:mod:`arlib.validate`) and :func:`terms_expr` (the terms as a struct).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

import polars as pl

MAX_DAYS = 36_600  # as arlib.paramtypes.Days: 100 years


class PaymentTerms(NamedTuple):
    """``discounts``: ``(percent, days)`` by days (``(Decimal('2'), 10)`` is 2 % within 10
    days); ``net_days``: days to pay in full, or None when the terms do not say."""

    discounts: tuple[tuple[Decimal, int], ...]
    net_days: int | None

    @property
    def rates(self) -> tuple[tuple[Decimal, int], ...]:
        """The discounts as fractions: ``((Decimal('0.02'), 10),)`` for 2/10."""
        return tuple((pct / 100, days) for pct, days in self.discounts)


NO_TERMS = PaymentTerms((), None)


class TermsError(ValueError):
    """Text that is not payment terms; the message names the value and why."""


def _refused(text: str, why: str) -> TermsError:
    return TermsError(f"discount terms {text!r}: {why}")


_NUM = r"[0-9]+(?:\.[0-9]+)?"
_INT = r"[0-9]+"
_PCT = r"[%％]"
_TOKENS = [
    # P/D, P%/D, P%D (P% D)
    ("discount", re.compile(rf"(?P<pct>{_NUM})\s*(?:{_PCT}\s*/?|/)\s*(?P<days>{_INT})")),
    ("net", re.compile(rf"(?:net|n)\s*/?\s*(?P<days>{_INT})(?:\s*days?\b)?", re.IGNORECASE)),
    (
        "discount",
        re.compile(
            rf"(?P<days>{_INT})\s*天内\s*(?:付款)?\s*(?:折扣|优惠)\s*(?P<pct>{_NUM})\s*{_PCT}"
        ),
    ),
    ("net", re.compile(rf"(?P<days>{_INT})\s*天内?\s*付清")),
    ("net", re.compile(rf"账期\s*(?P<days>{_INT})\s*天")),
]
_SEPARATORS = re.compile(r"[\s,;，；、]+")
_FORMS = "write terms like '2/10 net 30' (P/D discounts, net D)"


def _shown(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _days(text: str, token: str, what: str) -> int:
    days = int(token)
    if not 1 <= days <= MAX_DAYS:
        raise _refused(text, f"{what} of {days} days: days run from 1 to {MAX_DAYS:,}")
    return days


def _percent(text: str, token: str) -> Decimal:
    pct = Decimal(token)
    if -pct.as_tuple().exponent > 2:
        raise _refused(text, f"a discount of {token} % has more than two decimals")
    if not Decimal(0) < pct < Decimal(100):
        raise _refused(text, f"a discount of {token} % is not more than 0 and below 100")
    return pct


def parse_terms(text: str | None) -> PaymentTerms:
    """The payment terms ``text`` writes (see the module text); :data:`NO_TERMS` for an
    empty or missing one. Raises :class:`TermsError` for text that is not terms."""
    if text is None or not str(text).strip():
        return NO_TERMS
    text = str(text)
    discounts: dict[int, Decimal] = {}
    net: int | None = None
    pos = _SEPARATORS.match(text)
    pos = pos.end() if pos else 0
    while pos < len(text):
        kind, m = next(
            ((kind, m) for kind, pattern in _TOKENS if (m := pattern.match(text, pos))),
            (None, None),
        )
        if m is None:
            raise _refused(text, f"cannot read {_shown(text[pos:])!r}; {_FORMS}")
        sep = _SEPARATORS.match(text, m.end())
        if sep is None and m.end() < len(text):  # terms stand apart: '2/100x' is no '2/10'
            raise _refused(text, f"cannot read {_shown(text[pos:])!r}; {_FORMS}")
        if kind == "discount":
            days = _days(text, m.group("days"), "a discount window")
            pct = _percent(text, m.group("pct"))
            if days in discounts:
                raise _refused(
                    text, f"two discounts for {days} days ({discounts[days]:f} % and {pct:f} %)"
                )
            discounts[days] = pct
        else:
            days = _days(text, m.group("days"), "net terms")
            if net is not None:
                raise _refused(text, f"two net terms ({net} and {days} days)")
            net = days
        pos = sep.end() if sep else m.end()
    if net is None and not discounts:
        raise _refused(text, f"no discount or net terms in it; {_FORMS}")
    if net is not None and discounts and max(discounts) > net:
        raise _refused(
            text,
            f"a discount window of {max(discounts)} days is longer than the net {net} days",
        )
    return PaymentTerms(tuple((discounts[d], d) for d in sorted(discounts)), net)


def terms_problem(text: str | None) -> str | None:
    """Why ``text`` is not payment terms (the :class:`TermsError` message), else None."""
    try:
        parse_terms(text)
    except TermsError as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------------------- polars
DISCOUNT_DTYPE = pl.Struct({"percent": pl.Decimal(38, 2), "days": pl.Int64})
TERMS_DTYPE = pl.Struct({"discounts": pl.List(DISCOUNT_DTYPE), "net_days": pl.Int64})


def _each_unique(values: pl.Series, read, dtype: pl.DataType) -> pl.Series:
    """``read`` once per distinct value (customers repeat a handful of terms)."""
    seen: dict = {}
    out = []
    for v in values.to_list():
        if v not in seen:
            seen[v] = read(v)
        out.append(seen[v])
    return pl.Series(values.name, out, dtype=dtype)


def _as_struct(text: str | None) -> dict | None:
    if text is None or not text.strip():
        return None
    terms = parse_terms(text)
    return {
        "discounts": [{"percent": p, "days": d} for p, d in terms.discounts],
        "net_days": terms.net_days,
    }


def terms_problem_expr(text: pl.Expr) -> pl.Expr:
    """The polars form of :func:`terms_problem`: per row the reason its terms are refused
    (``String``), null when they read (or are empty)."""
    return text.cast(pl.String).map_batches(
        lambda s: _each_unique(s, terms_problem, pl.String), return_dtype=pl.String
    )


def terms_expr(text: pl.Expr) -> pl.Expr:
    """The polars form of :func:`parse_terms`: a :data:`TERMS_DTYPE` struct per row
    (``discounts``: list of {percent, days} by days; ``net_days``), null for empty text.
    Raises :class:`TermsError` (as polars passes it on) for text that is not terms: check
    the column with :func:`terms_problem_expr` first to report them all."""
    return text.cast(pl.String).map_batches(
        lambda s: _each_unique(s, _as_struct, TERMS_DTYPE), return_dtype=TERMS_DTYPE
    )
