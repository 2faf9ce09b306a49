"""SWIFT MT940 (end-of-day statement) and MT942 (interim report) reader.

Tag parsing uses the ``mt-940`` library (wolph/mt940): it knows the many bank dialects of
``:61:`` and the German ``?20..?29`` / ``EREF+`` / ``SVWZ+`` sub-fields of ``:86:``. What it
does not do is keep statements apart (statement-level values in a multi-statement file are
the last ones seen) or report positions, so this module splits the file into statements at
each ``:20:`` itself, hands each chunk to the library, and maps the n-th transaction back to
the line of the n-th ``:61:``. The Dutch/SWIFT ``/KEY/value`` style of ``:86:`` (``/NAME/``,
``/IBAN/``, ``/REMI/``, ``/EREF/``, ING's ``/CNTP/``) is parsed here.

Amounts are exact (see :func:`arlib.bankfiles.common.amount_refusal`): a ``:61:`` amount
with more decimals than the currency allows (``66856,505`` EUR, ``1000,5`` JPY) or too
large is an error finding naming the ``:61:`` line, column ``amount`` and the amount as
written, and the line is not loaded; such a ``:60:``/``:62:`` balance is not used.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import mt940
import mt940.tags

from arlib import findings as fnd
from arlib.bankfiles.common import Entry, Statement, check_amount, clean, join_text
from arlib.findings import Finding

_TAG = re.compile(r"^:(\d{2}[A-Z]?|NS):")
_ANY_TAG = re.compile(r"^:[0-9A-Z]{2,6}:")
_HEADER = re.compile(r"^(\{[1-5]:.*|-\}?|\$|:9[0-9]{2}:|\x03|\x01)\s*$")
_SLASH_KEYS = (
    "RTRN|CREF|EREF|IREF|KREF|MARF|CSID|CNTP|REMI|PURP|ULTC|ULTD|ULTB|BENM|ORDP|NAME|ADDR|"
    "IBAN|BIC|TRTP|ISDT|PREF|ACCW|CDTRREFTP|CDTRREF|CD|SVCL|TXID|BUSP|CSRQ"
)
_ACCOUNT = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}|\d[\d.]{5,}")
_SLASH = re.compile(rf"/({_SLASH_KEYS})/")
# The amount as written, all its digits: the library caps a :61: amount at 15 characters
# and silently reads the first 15 of a longer one (1000000000000000, → 100000000000000).
_AMOUNT_61 = re.compile(r":61:\d{6}(?:\d{4}|\s{4})?R?[DC][A-Z]?[\n ]?([\d,]+)", re.IGNORECASE)
_AMOUNT_BAL = re.compile(r":6[02][FM]:[DC]\d{6}[A-Z]{3}([\d,]+)", re.IGNORECASE)


def _swift(amount: Decimal) -> str:
    """An amount as SWIFT writes it (decimal comma), for findings when the text is lost."""
    return format(amount.copy_abs(), "f").replace(".", ",")


def _written(pattern: re.Pattern, text: str | None) -> tuple[str | None, Decimal | None]:
    """``(text, value)`` of the amount as written in a tag line, or ``(None, None)``."""
    m = pattern.match(text or "")
    if not m or m[1].count(",") > 1 or m[1] == ",":
        return None, None
    return m[1], Decimal(m[1].replace(",", "."))


def _check(
    path: Path, row: int, column: str, parsed: Decimal, currency, text: str | None, what: str
):
    """The finding refusing an amount: not exact (as written, every digit), or not what the
    library read from the line (it truncates long amounts), else None."""
    raw, written = _written(_AMOUNT_61 if column == "amount" else _AMOUNT_BAL, text)
    value = written if written is not None else parsed.copy_abs()
    bad = check_amount(
        value, currency, file=path, row=row, column=column, raw=raw or _swift(parsed), what=what
    )
    if bad is None and written is not None and written != parsed.copy_abs():
        bad = fnd.error(
            path,
            row,
            column,
            raw,
            "mt940_bad_amount",
            f"{what} written {raw} but read as {_swift(parsed)} (over 15 characters?); not loaded",
        )
    return bad


class _LooseStatement(mt940.tags.Statement):
    """``:61:`` as some Dutch banks write it (ASN, SNS, ING): a customer reference longer
    than 16 characters (a full IBAN) and supplementary details over several lines. Used
    only when the strict library pattern fails, so standard files parse exactly as the
    library's own tests expect."""

    pattern = mt940.tags.Statement.pattern.replace("{0,16})", "{0,34})").replace(
        "(\\n?(?P<extra_details>.*))?", "(\\n?(?P<extra_details>[\\s\\S]*))?"
    )


class _LooseStatementNumber(mt940.tags.StatementNumber):
    """``:28C:`` wrapped over two lines (ING: ``0000`` / ``0``)."""

    pattern = r"(?P<statement_number>\d{1,5})\s*(?:/?\s*(?P<sequence_number>\d{1,5}))?\s*$"


_LOOSE_TAGS = {61: _LooseStatement(), 28: _LooseStatementNumber()}


@contextmanager
def _quiet():
    """The library logs every failed pattern match at ERROR; we report findings instead."""
    log = logging.getLogger("mt940")
    old = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(old)


def _run(text: str) -> mt940.models.Transactions:
    """Strict library parse first; on failure one retry with the loose tags above."""
    with _quiet():
        try:
            parsed = mt940.models.Transactions()
            parsed.parse(text)
        except Exception:
            parsed = mt940.models.Transactions(tags=dict(_LOOSE_TAGS))
            parsed.parse(text)
    return parsed


def _account(raw: str | None) -> tuple[str | None, str | None]:
    """``NL34RABO0142623393 EUR`` → (``NL34RABO0142623393``, ``EUR``)."""
    acct = clean(raw)
    if acct:
        m = re.fullmatch(r"(.*?[\d.])\s*([A-Z]{3})", acct)
        if m:
            return m[1], m[2]
    return acct, None


def _slash_fields(text: str) -> dict[str, str]:
    """``/EREF/abc//CNTP/NL32…/BIC/NAME///REMI/USTD//text/`` → {EREF: abc, CNTP: …}."""
    flat = text.replace("\n", "")
    out: dict[str, str] = {}
    matches = list(_SLASH.finditer(flat))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(flat)
        out.setdefault(m[1], flat[m.end() : end].strip("/ "))
    return out


def _details(tx: dict) -> dict[str, str | None]:
    """payer name/account, memo, end-to-end id from a parsed ``:86:``."""
    raw = tx.get("transaction_details")
    if raw is None and tx.get("purpose") is not None or "applicant_name" in tx:
        # German structured (?20..?63) details, already split by the library
        name = tx.get("applicant_name")
        acct = tx.get("applicant_iban") or tx.get("gvc_applicant_iban")
        return {
            "payer_name": name,
            "payer_account": acct,
            "memo": join_text([tx.get("purpose"), tx.get("additional_purpose")]),
            "end_to_end_id": tx.get("end_to_end_reference"),
        }
    raw = raw or ""
    f = _slash_fields(raw) if _SLASH.search(raw.replace("\n", "")) else {}
    if not f:
        return {
            "payer_name": None,
            "payer_account": None,
            "memo": clean(raw),
            "end_to_end_id": None,
        }
    name = f.get("NAME")
    acct = f.get("IBAN")
    if "CNTP" in f:  # ING: /CNTP/account/BIC/name/city/
        parts = f["CNTP"].split("/")
        acct = acct or (parts[0] or None)
        name = name or (parts[2] if len(parts) > 2 and parts[2] else None)
    for k in ("ORDP", "BENM"):
        if k in f and not name:
            m = re.search(r"NAME/([^/]*)", f[k])
            name = m[1] if m else None
    remi = f.get("REMI")
    if remi:
        remi = re.sub(r"^(USTD|STRD)//?(CUR//)?", "", remi).strip("/")
    eref = f.get("EREF")
    if eref in {"NOTPROVIDED", ""}:
        eref = None
    return {
        "payer_name": name,
        "payer_account": acct,
        # recognised slash fields: the memo is /REMI/ alone (never the account/name text)
        "memo": clean(remi),
        "end_to_end_id": eref,
    }


def _split(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) line index ranges of each statement: a new one at each ``:20:``."""
    starts = [i for i, ln in enumerate(lines) if ln.startswith(":20:")]
    if not starts:
        return [(0, len(lines))] if any(_TAG.match(ln) for ln in lines) else []
    bounds = [*starts[1:], len(lines)]
    return list(zip([0, *starts[1:]], bounds, strict=True))


_BAL_TAGS = {
    "final_opening_balance": ":60F:",
    "intermediate_opening_balance": ":60M:",
    "final_closing_balance": ":62F:",
    "intermediate_closing_balance": ":62M:",
}


def _bal(data: dict, *keys: str) -> tuple[Decimal | None, str | None, object, str | None]:
    """(amount, currency, date, tag) of the first balance of ``keys`` the statement has."""
    for k in keys:
        b = data.get(k)
        if b is not None:
            return Decimal(str(b.amount.amount)), b.amount.currency, b.date, _BAL_TAGS[k]
    return None, None, None, None


def parse(text: str, path: Path) -> tuple[list[Statement], list[Finding]]:
    found: list[Finding] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    seen_tag = False
    for i, ln in enumerate(lines):
        if _TAG.match(ln):
            seen_tag = True
            continue
        if _ANY_TAG.match(ln) and not _HEADER.match(ln):
            found.append(
                fnd.error(
                    path,
                    i + 1,
                    None,
                    ln[:40],
                    "mt940_bad_tag",
                    "not a valid MT940 tag line (expected :NN: or :NNa:)",
                )
            )
    if not seen_tag:
        found.append(fnd.error(path, None, None, None, "mt940_empty", "no MT940 tags found"))
        return [], found

    stmts: list[Statement] = []
    for start, end in _split(lines):
        chunk = [("" if _HEADER.match(ln) else ln) for ln in lines[start:end]]
        line61 = [start + j + 1 for j, ln in enumerate(chunk) if ln.startswith(":61:")]
        first = next((start + j + 1 for j, ln in enumerate(chunk) if ln.startswith(":")), start + 1)
        try:
            parsed = _run("\n".join(chunk))
        except Exception as exc:  # the library raises many kinds on bad input
            found.append(
                fnd.error(
                    path,
                    first,
                    None,
                    None,
                    "mt940_parse",
                    f"statement could not be parsed: {type(exc).__name__}: {exc}",
                )
            )
            continue
        data = parsed.data
        opening, cur_o, _, tag_o = _bal(
            data, "final_opening_balance", "intermediate_opening_balance"
        )
        closing, cur_c, close_date, tag_c = _bal(
            data, "final_closing_balance", "intermediate_closing_balance"
        )
        account, cur_a = _account(data.get("account_identification"))
        currency = cur_c or cur_o or cur_a
        refused: set[str] = set()
        for column, value, cur, tag in (
            ("opening_balance", opening, cur_o, tag_o),
            ("closing_balance", closing, cur_c, tag_c),
        ):
            if value is None or tag is None:
                continue
            # the library keeps the last such tag of the statement: compare with that line
            at = next((j for j in range(len(chunk) - 1, -1, -1) if chunk[j].startswith(tag)), None)
            bad = _check(
                path,
                start + at + 1 if at is not None else first,
                column,
                value,
                cur or currency,
                chunk[at] if at is not None else None,
                column.replace("_", " "),
            )
            if bad is not None:  # not used: the statement control is skipped
                found.append(bad)
                refused.add(column)
        if "opening_balance" in refused:
            opening = None
        if "closing_balance" in refused:
            closing = None
        stmt_no = join_text([data.get("statement_number"), data.get("sequence_number")], "/")
        st = Statement(
            account=account,
            statement_id=stmt_no or clean(data.get("transaction_reference")),
            currency=currency,
            opening=opening,
            closing=closing,
            source_row=first,
        )
        is_942 = "sum_credit_entries" in data or "floor_limit_indicator" in data
        if (
            (opening is None or closing is None)
            and not refused
            and not is_942
            and parsed.transactions
        ):
            found.append(
                fnd.error(
                    path,
                    first,
                    "closing_balance" if opening is not None else "opening_balance",
                    None,
                    "mt940_missing_balance",
                    "statement has no :60: opening or no :62: closing balance (truncated?)",
                )
            )
        for n, tx in enumerate(parsed.transactions):
            d = tx.data
            if "amount" not in d:
                continue
            row = line61[n] if n < len(line61) else first
            amt = Decimal(str(d["amount"].amount))
            line_ccy = d["amount"].currency or currency
            text61 = "\n".join(lines[row - 1 : row + 1]) if row in line61 else None
            bad = _check(path, row, "amount", amt, line_ccy, text61, "amount")
            if bad is not None:
                found.append(bad)
                continue
            det = _details(d)
            extra = clean(d.get("extra_details"))
            if not det["payer_account"] and extra and _ACCOUNT.fullmatch(extra):
                det["payer_account"] = extra  # Rabobank: counter-account on :61: line 2
            bank_ref = clean(d.get("bank_reference"))
            cust_ref = clean(d.get("customer_reference"))
            if cust_ref == "NONREF":
                cust_ref = None
            st.entries.append(
                Entry(
                    amount=amt,
                    value_date=d.get("date"),
                    booking_date=d.get("entry_date") or d.get("date"),
                    source_row=row,
                    currency=d["amount"].currency or currency,
                    payer_name=det["payer_name"],
                    payer_account=det["payer_account"],
                    memo=det["memo"],
                    bank_ref=bank_ref or cust_ref,
                    end_to_end_id=det["end_to_end_id"],
                    entry_id=bank_ref,
                )
            )
        for key in (
            "final_opening_balance",
            "intermediate_opening_balance",
            "final_closing_balance",
            "intermediate_closing_balance",
        ):
            b = data.get(key)
            if b is not None and not re.fullmatch(r"[A-Z]{3}", str(b.amount.currency or "")):
                found.append(
                    fnd.error(
                        path,
                        first,
                        key,
                        b.amount.currency,
                        "mt940_bad_balance",
                        f"{key} has no valid currency code; the balance is unreliable",
                    )
                )
        if closing is not None or "closing_balance" in refused:
            st.period_end = close_date
        if is_942:
            found.extend(_check_942(path, first, data, st))
        stmts.append(st)
    return stmts, found


def _check_942(path: Path, row: int, data: dict, st: Statement) -> list[Finding]:
    """MT942 carries no balances; its ``:90C:``/``:90D:`` sums are the control instead."""
    out = []
    for key, sign in (("sum_credit_entries", 1), ("sum_debit_entries", -1)):
        s = data.get(key)
        if s is None:
            continue
        want = abs(Decimal(str(s.amount)))
        got = sum((abs(e.amount) for e in st.entries if (e.amount > 0) == (sign > 0)), Decimal(0))
        if want != got:
            out.append(
                fnd.error(
                    path,
                    row,
                    key,
                    str(want),
                    "mt942_sum_mismatch",
                    f"MT942 {key} says {want} but the lines add up to {got}",
                )
            )
    return out
