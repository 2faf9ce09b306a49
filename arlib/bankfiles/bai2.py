"""BAI2 (Cash Management Balance Reporting, version 2) reader, written here.

No maintained Python BAI2 parser copes with what banks actually send (several records on
one physical line, a record broken across lines, 16-record text without a closing slash),
and the format is small, so it is parsed directly:

* records ``01`` file header, ``02`` group header (as-of date, currency), ``03`` account
  identifier with status/summary codes (``010`` opening ledger, ``015`` closing ledger),
  ``16`` transaction detail, ``88`` continuation (of the previous record: extra ``03``
  fields or more ``16`` text), ``49`` account trailer, ``98`` group trailer, ``99`` file
  trailer;
* amounts are integers in the currency's minor unit (cents), signed only in ``03``;
* ``16`` type codes below 400 are credits, 400 and above debits;
* control totals are checked: ``49`` = algebraic sum of the account's ``03`` and ``16``
  amounts, ``98`` = sum of its ``49`` totals, ``99`` = sum of the ``98`` totals, and the
  record counts of each trailer.

Amounts are exact by construction (whole minor units, scaled by the currency's decimals
without any rounding), so a BAI2 amount can never carry too many decimals; an amount
field that is not a whole number (``1000.5``: a decimal point has no place in BAI2) is a
``bai2_bad_amount`` error naming the line, column ``amount`` and the text, and a ``16``
line or ``03`` balance at or above :data:`~arlib.bankfiles.common.MAX_AMOUNT` is refused
(``amount_too_large``); either way the line is not loaded. Records are gathered in lists
and joined once, so a file of a million continuation lines reads in linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from arlib import findings as fnd
from arlib.bankfiles.common import Entry, Statement, check_amount, clean
from arlib.findings import Finding
from arlib.money import currency_places

_CODES = ("01", "02", "03", "16", "88", "49", "98", "99")
_SPLIT = re.compile(r"(?<=/)\s+(?=(?:01|02|03|16|88|49|98|99),)")
_START = re.compile(r"^(01|02|03|16|88|49|98|99),")


@dataclass
class _Rec:
    code: str
    text: str
    line: int
    lines: int = 1  # physical records folded in (88 continuations count as records)
    extra: list[str] = field(default_factory=list)


def _records(text: str) -> tuple[list[_Rec], list[Finding], list[int]]:
    pieces: list[tuple[str, list[str], int]] = []  # (code, text pieces, line): joined once
    bad: list[int] = []
    for i, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        for seg in _SPLIT.split(raw.strip()):
            if _START.match(seg):
                pieces.append((seg[:2], [seg], i))
            elif pieces:
                pieces[-1][1].append(seg.strip())  # a record broken across lines
            else:
                bad.append(i)
    recs = [_Rec(code, " ".join(parts), line) for code, parts, line in pieces]
    return recs, [], bad


def _fields(text: str) -> list[str]:
    body = text.rstrip()
    if body.endswith("/"):
        body = body[:-1]
    return body.split(",")


class _BadAmount(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _cents(text: str, decimals: int) -> Decimal | None:
    """Whole minor units → exact amount (``12345`` at 2 decimals → ``123.45``)."""
    s = text.strip()
    if s == "":
        return None
    if not re.fullmatch(r"[+-]?\d+", s):
        raise _BadAmount(s)
    sign, digits, exp = Decimal(s).as_tuple()
    assert isinstance(exp, int)
    return Decimal((sign, digits, exp - decimals))  # exact, whatever the number of digits


def _yymmdd(text: str) -> date | None:
    m = re.fullmatch(r"(\d{2})(\d{2})(\d{2})", text.strip())
    if not m:
        return None
    try:
        return date(2000 + int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _skip_funds(f: list[str], i: int) -> tuple[int, date | None]:
    """Index after the funds-type fields starting at ``f[i]``; V gives a value date."""
    ft = f[i].strip().upper() if i < len(f) else ""
    i += 1
    if ft == "S":
        return i + 3, None
    if ft == "V":
        return i + 2, _yymmdd(f[i]) if i < len(f) else None
    if ft == "D":
        n = int(f[i]) if i < len(f) and f[i].strip().isdigit() else 0
        return i + 1 + 2 * n, None
    return i, None


def parse(text: str, path: Path) -> tuple[list[Statement], list[Finding]]:
    recs, found, bad = _records(text)
    for ln in bad:
        found.append(
            fnd.error(path, ln, None, None, "bai2_bad_record", "text before the first record")
        )
    # fold 88 continuations into the record before them (03 fields gathered, joined once)
    merged: list[_Rec] = []
    fields03: dict[int, list[str]] = {}
    for r in recs:
        if r.code == "88" and merged:
            prev = merged[-1]
            prev.lines += 1
            cont = r.text[3:]
            cont = cont[:-1] if cont.rstrip().endswith("/") else cont
            prev.extra.append(cont.rstrip().rstrip("/"))
            if prev.code == "03":
                parts = fields03.setdefault(id(prev), [prev.text])
                parts[-1] = parts[-1].rstrip().rstrip("/")
                parts.append(cont.strip())
        else:
            merged.append(r)
    for r in merged:
        if id(r) in fields03:
            r.text = ",".join(fields03[id(r)])
    if not merged or merged[0].code != "01":
        found.append(fnd.error(path, 1, None, None, "bai2_no_header", "no 01 file header"))

    def err(r: _Rec, rule: str, msg: str, value=None) -> None:
        found.append(fnd.error(path, r.line, None, value, rule, msg))

    def refuse(r: _Rec, amount: Decimal | None, raw: str, what: str = "amount") -> bool:
        """True (with a finding) when an amount of record ``r`` may not be loaded."""
        bad = check_amount(
            amount,
            ccy_of(acct),
            file=path,
            row=r.line,
            column="amount",
            raw=raw.strip(),
            what=what,
        )
        if bad is not None:
            found.append(bad)
        return bad is not None

    def ccy_of(st: Statement | None) -> str | None:
        return st.currency if st is not None else group_ccy

    stmts: list[Statement] = []
    group_ccy, as_of, group_no = None, None, 0
    group_total, group_accounts, group_recs = Decimal(0), 0, 0
    file_total, file_groups, file_recs = Decimal(0), 0, 0
    acct: Statement | None = None
    acct_total, acct_recs, acct_dec = Decimal(0), 0, 2
    seen_99 = False
    for r in merged:
        f = _fields(r.text)
        file_recs += r.lines
        group_recs += r.lines
        acct_recs += r.lines
        try:
            if r.code == "01":
                file_recs = r.lines
            elif r.code == "02":
                group_no += 1
                group_ccy = clean(f[6]) if len(f) > 6 else None
                as_of = _yymmdd(f[4]) if len(f) > 4 else None
                group_total, group_accounts, group_recs = Decimal(0), 0, r.lines
            elif r.code == "03":
                ccy = (clean(f[2]) if len(f) > 2 else None) or group_ccy or "USD"
                acct_dec = currency_places(ccy)
                acct = Statement(
                    account=clean(f[1]) if len(f) > 1 else None,
                    statement_id=f"{group_no}:{as_of.isoformat() if as_of else ''}",
                    currency=ccy,
                    opening=None,
                    closing=None,
                    source_row=r.line,
                    period_start=as_of,
                    period_end=as_of,
                )
                stmts.append(acct)
                acct_total, acct_recs = Decimal(0), r.lines
                i = 3
                while i + 1 < len(f):
                    code = f[i].strip()
                    if not code:
                        i += 1
                        continue
                    amt = _cents(f[i + 1], acct_dec)
                    if amt is not None:
                        acct_total += amt
                    if code in ("010", "015") and refuse(r, amt, f[i + 1], f"balance {code}"):
                        amt = None  # not used: the statement control is skipped
                    if code == "010":
                        acct.opening = amt
                    elif code == "015":
                        acct.closing = amt
                    # status codes (< 100) carry no item count; summary codes do
                    i += 2 if int(code) < 100 and code.isdigit() else 3
                    if code.isdigit() and int(code) < 100:
                        i, _ = _skip_funds(f, i)
                    else:
                        i, _ = _skip_funds(f, i)
            elif r.code == "16":
                if acct is None:
                    err(r, "bai2_orphan_detail", "16 record outside an account (no 03 before)")
                    continue
                code = f[1].strip()
                amt = _cents(f[2], acct_dec) or Decimal(0)
                acct_total += amt
                i, vdate = _skip_funds(f, 3)
                bank_ref = clean(f[i]) if i < len(f) else None
                cust_ref = clean(f[i + 1]) if i + 1 < len(f) else None
                text_ = ",".join(f[i + 2 :]) if i + 2 < len(f) else ""
                memo = " ".join(p for p in [clean(text_), *map(clean, r.extra)] if p) or None
                signed = amt if code.isdigit() and int(code) < 400 else -amt
                if refuse(r, signed, f[2]):
                    continue  # not loaded (it still counts in the file's own control totals)
                acct.entries.append(
                    Entry(
                        amount=signed,
                        value_date=vdate or as_of,
                        booking_date=as_of,
                        source_row=r.line,
                        currency=acct.currency,
                        memo=memo,
                        bank_ref=bank_ref or cust_ref,
                        end_to_end_id=cust_ref,
                        entry_id=bank_ref,
                    )
                )
            elif r.code == "49":
                if acct is None:
                    err(r, "bai2_orphan_trailer", "49 account trailer without a 03 record")
                    continue
                want = _cents(f[1], acct_dec) if len(f) > 1 else None
                if want is not None and want != acct_total:
                    err(
                        r,
                        "bai2_control_total",
                        f"account {acct.account} trailer says {want}, the 03/16 amounts add "
                        f"up to {acct_total}",
                        want,
                    )
                if len(f) > 2 and f[2].strip().isdigit() and int(f[2]) != acct_recs:
                    err(
                        r,
                        "bai2_record_count",
                        f"account trailer counts {f[2]} records, the account has {acct_recs}",
                    )
                group_total += acct_total if want is None else want
                group_accounts += 1
                acct = None
            elif r.code == "98":
                want = _cents(f[1], 2) if len(f) > 1 else None
                got = group_total.scaleb(2).scaleb(-2)
                if want is not None and want.scaleb(2) != got.scaleb(acct_dec):
                    err(
                        r,
                        "bai2_control_total",
                        f"group trailer says {f[1]}, accounts add up to {group_total}",
                        f[1],
                    )
                if len(f) > 2 and f[2].strip().isdigit() and int(f[2]) != group_accounts:
                    err(
                        r,
                        "bai2_record_count",
                        f"group trailer counts {f[2]} accounts, group has {group_accounts}",
                    )
                if len(f) > 3 and f[3].strip().isdigit() and int(f[3]) != group_recs:
                    err(
                        r,
                        "bai2_record_count",
                        f"group trailer counts {f[3]} records, group has {group_recs}",
                    )
                file_total += group_total
                file_groups += 1
            elif r.code == "99":
                seen_99 = True
                if len(f) > 2 and f[2].strip().isdigit() and int(f[2]) != file_groups:
                    err(
                        r,
                        "bai2_record_count",
                        f"file trailer counts {f[2]} groups, file has {file_groups}",
                    )
                if len(f) > 3 and f[3].strip().isdigit() and int(f[3]) != file_recs:
                    err(
                        r,
                        "bai2_record_count",
                        f"file trailer counts {f[3]} records, file has {file_recs}",
                    )
        except _BadAmount as exc:
            found.append(
                fnd.error(
                    path,
                    r.line,
                    "amount",
                    exc.text[:80],
                    "bai2_bad_amount",
                    f"{r.code} record: BAI2 amounts are whole numbers of minor units (no "
                    "decimal point, no rounding); record not loaded",
                )
            )
        except (ValueError, IndexError) as exc:
            err(r, "bai2_bad_field", f"{r.code} record has an invalid field: {exc}", r.text[:60])
    if acct is not None:
        found.append(
            fnd.error(
                path,
                acct.source_row,
                None,
                acct.account,
                "bai2_truncated",
                "account has no 49 trailer (file truncated?)",
            )
        )
    if merged and not seen_99:
        found.append(
            fnd.error(
                path,
                merged[-1].line,
                None,
                None,
                "bai2_truncated",
                "no 99 file trailer (file truncated?)",
            )
        )
    return stmts, found
