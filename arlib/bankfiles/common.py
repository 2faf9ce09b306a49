"""Shared shapes and helpers for the bank-file readers.

Every reader turns its format into the same small intermediate model (:class:`Statement`
holding :class:`Entry` values, signed amounts as :class:`~decimal.Decimal`), plus a list of
findings. :func:`assemble` then builds the canonical frames once, so that receipt ids,
credit/debit split, statement controls and gap/overlap checks behave identically whatever
the bank sent. Keeping the readers free of polars makes each one short and easy to test.

Limits live here too: a hostile or broken file must become a finding, never a hang, so the
byte size of a file and the length of a line in text formats are capped, and an amount is
loaded only when it is exact in its currency's minor units and below :data:`MAX_AMOUNT`
(see :func:`amount_refusal`): money is never rounded.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import polars as pl

from arlib import findings as fnd
from arlib.findings import Finding
from arlib.money import currency_places, round_money
from arlib.parsing import MAX_INTEGER_DIGITS
from arlib.schema import MONEY, columns

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Files larger than this are refused with a finding (override per call)."""

MAX_LINE_BYTES = 1024 * 1024
"""Text formats (MT940, BAI2, OFX, CSV) refuse a line longer than this."""

MAX_AMOUNT = Decimal(10) ** MAX_INTEGER_DIGITS
"""An amount (or balance) whose absolute value is this many currency units or more is refused
with a finding: 10**15 units (:data:`arlib.parsing.MAX_INTEGER_DIGITS`, the CSV loader's
bound) is the safe bound for integer minor units in an int64 (9.2 * 10**18), whatever the
currency, with room for sums."""

STATEMENT_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String,
    "account": pl.String,
    "statement_id": pl.String,
    "currency": pl.String,
    "opening_balance": MONEY,
    "closing_balance": MONEY,
    "credits_total": MONEY,
    "debits_total": MONEY,
    "lines": pl.Int64,
    "computed_closing": MONEY,
    "difference": MONEY,
    "balanced": pl.Boolean,
    "period_start": pl.Date,
    "period_end": pl.Date,
}


@dataclass
class Entry:
    """One statement line as the bank wrote it; ``amount`` is signed (credit > 0)."""

    amount: Decimal
    value_date: date | None
    source_row: int
    currency: str | None = None
    booking_date: date | None = None
    payer_name: str | None = None
    payer_account: str | None = None
    memo: str | None = None
    bank_ref: str | None = None
    end_to_end_id: str | None = None
    entry_id: str | None = None  # the format's own id for the line (FITID, AcctSvcrRef, 流水号)


@dataclass
class Statement:
    """One statement (or account section) of a file, in file order."""

    account: str | None
    statement_id: str | None
    currency: str | None
    opening: Decimal | None
    closing: Decimal | None
    source_row: int
    entries: list[Entry] = field(default_factory=list)
    period_start: date | None = None
    period_end: date | None = None
    opening_derived: bool = False  # OFX carries no opening balance: derived, not checked


@dataclass(frozen=True)
class BankRead:
    """What :func:`arlib.bankfiles.read_statement` returns.

    ``receipts`` and ``debits`` are canonical receipts frames (amounts positive);
    ``statements`` has one row per statement/account with its balance control;
    ``findings`` is a findings frame (see :mod:`arlib.findings`).
    """

    receipts: pl.DataFrame
    debits: pl.DataFrame
    statements: pl.DataFrame
    findings: pl.DataFrame
    fmt: str | None = None


# --------------------------------------------------------------------------- reading


def read_bytes(path: Path, max_bytes: int, out: list[Finding]) -> bytes | None:
    """The file's bytes, or ``None`` with a finding when missing or over the size cap."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        out.append(fnd.error(path, None, None, None, "bank_file_unreadable", str(exc)))
        return None
    if size > max_bytes:
        out.append(
            fnd.error(
                path,
                None,
                None,
                size,
                "bank_file_too_large",
                f"file is {size} bytes, over the {max_bytes}-byte cap; not read",
            )
        )
        return None
    try:
        with path.open("rb") as fh:
            return fh.read(max_bytes + 1)
    except OSError as exc:
        out.append(fnd.error(path, None, None, None, "bank_file_unreadable", str(exc)))
        return None


def find_long_line(data: bytes, max_len: int) -> tuple[int, int] | None:
    """``(line_number, length)`` of the first line longer than ``max_len`` bytes, else None.

    A ``find`` loop (C speed per line) rather than a regex, which would be quadratic on
    lines just under the cap.
    """
    if len(data) <= max_len:
        return None
    pos, line = 0, 1
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl
        if end - pos > max_len:
            return line, end - pos
        if nl < 0:
            break
        pos, line = nl + 1, line + 1
    return None


_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def sniff_wide(data: bytes) -> str | None:
    """``utf-32-le/-be`` or ``utf-16-le/-be`` for text without a BOM whose first character is
    ASCII written in a wide encoding (``<\\0?\\0``, ``\\0\\0\\0<``), else None."""
    h = data[:4]
    if len(h) < 4 or 0 not in h:
        return None
    z = tuple(b == 0 for b in h)
    if z == (True, True, True, False):
        return "utf-32-be"
    if z == (False, True, True, True):
        return "utf-32-le"
    if z == (True, False, True, False):
        return "utf-16-be"
    if z == (False, True, False, True):
        return "utf-16-le"
    return None


def bom_encoding(data: bytes) -> str | None:
    """The codec a byte-order mark (UTF-8/16/32) names, else None."""
    return next((enc for bom, enc in _BOMS if data.startswith(bom)), None)


def line_of(data: bytes, offset: int, encoding: str) -> int:
    """1-based line of byte ``offset`` in ``data`` written in ``encoding`` (counting decoded
    newlines, so a UTF-16 or UTF-32 file is counted right too)."""
    try:
        head = data[:offset].decode(encoding, errors="replace")
    except LookupError:
        head = data[:offset].decode("latin-1")
    return head.count("\n") + 1


def decode(
    data: bytes, path: Path, out: list[Finding], *, encoding: str | None, fallback: str
) -> str:
    """Text from bytes: explicit encoding, else a BOM (UTF-8/16/32), else UTF-16/32 recognised
    from the NUL bytes of a first ASCII character, else valid utf-8, else ``fallback``.

    Undecodable bytes become U+FFFD and one error finding naming the line (not the byte
    offset) of the first one; the value is those bytes in hex.
    """
    if encoding is None:
        encoding = bom_encoding(data) or sniff_wide(data)
        if encoding is None:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                encoding = fallback
    try:
        return data.decode(encoding)
    except LookupError:
        out.append(fnd.error(path, None, None, encoding, "bank_encoding", "unknown encoding name"))
        encoding = fallback
    except UnicodeDecodeError as exc:
        line = line_of(data, exc.start, encoding)
        out.append(
            fnd.error(
                path,
                line,
                None,
                data[exc.start : exc.start + 8].hex(" "),
                "bank_encoding",
                f"line {line} holds bytes that are not valid {encoding}; they were replaced "
                "with U+FFFD (wrong encoding? pass encoding=...)",
            )
        )
    return data.decode(encoding, errors="replace")


# --------------------------------------------------------------------------- values


def to_decimal(text: str | None) -> Decimal | None:
    """Exact decimal from bank text: ``1.234,56``/``1,234.56``/``1234,56`` → ``1234.56``."""
    if text is None:
        return None
    s = re.sub(r"\s", "", str(text)).replace("+", "")
    if not s:
        return None
    if "," in s and "." in s:
        s = (
            s.replace(".", "").replace(",", ".")
            if s.rfind(",") > s.rfind(".")
            else s.replace(",", "")
        )
    elif "," in s:
        s = s.replace(",", ".")
    if not re.fullmatch(r"-?\d*\.?\d*", s) or s in {"", "-", ".", "-."}:
        return None
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


_MAX_SHOWN = 80


def amount_refusal(value: Decimal, currency: str | None) -> tuple[str, str] | None:
    """``(rule, reason)`` when ``value`` cannot be loaded exactly, else None.

    The rule, the same for every bank format: an amount is loaded only when it is exact in
    the currency's minor units (:func:`arlib.money.currency_places`: CNY/USD/EUR 2,
    JPY/KRW 0) and its absolute value is below :data:`MAX_AMOUNT`. A written digit beyond
    the minor units that is not zero is an error (``too_many_decimals``: ``66856.505``
    CNY, ``1000.5`` JPY), never a rounding; a written zero there is accepted, since the
    value is still exact (``100.500`` USD is 100.50, ``1000.00`` JPY is 1000). Too large
    is ``amount_too_large``. Pure integer logic on the digits: no decimal context, so
    nothing is rounded on the way either.
    """
    if not value.is_finite():
        return "bank_bad_amount", "not a finite number"
    if value.copy_abs() >= MAX_AMOUNT:
        return (
            "amount_too_large",
            f"absolute value is {MAX_AMOUNT:,} currency units or more, beyond what the "
            "workbench holds exactly; not loaded",
        )
    dec = currency_places(currency)
    _, digits, exp = value.as_tuple()
    assert isinstance(exp, int)  # finite
    extra = -exp - dec  # written digits beyond the minor units
    if extra > 0 and any(digits[-extra:]):
        return (
            "too_many_decimals",
            f"more decimals than {currency or 'the currency'} allows ({dec}); not loaded "
            "(no rounding is done)",
        )
    return None


def check_amount(
    value: Decimal | None,
    currency: str | None,
    *,
    file: Path | str,
    row: int | None,
    column: str | None,
    raw: str | None = None,
    what: str = "amount",
) -> Finding | None:
    """An error finding when ``value`` is refused by :func:`amount_refusal`, else None.

    The finding names ``file``, ``row`` (line or record as the user sees it), ``column``
    and ``raw``, the value as written (``value`` in plain notation when not given).
    """
    if value is None:
        return None
    refused = amount_refusal(value, currency)
    if refused is None:
        return None
    rule, reason = refused
    shown = raw if raw is not None else format(value, "f")
    if len(shown) > _MAX_SHOWN:  # a hostile 1 MB number is named, not copied whole
        shown = f"{shown[: _MAX_SHOWN - 20]}... ({len(shown)} characters)"
    return fnd.error(file, row, column, shown, rule, f"{what} {shown}: {reason}")


def ymd(text: str | None) -> date | None:
    """``YYYYMMDD`` (possibly followed by time) or ``YYYY-MM-DD`` → date, else None."""
    if not text:
        return None
    m = re.match(r"\s*(\d{4})-?(\d{2})-?(\d{2})", text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def clean(text: str | None) -> str | None:
    """Collapse whitespace; empty → None."""
    if text is None:
        return None
    s = " ".join(str(text).split())
    return s or None


def join_text(parts: list[str | None], sep: str = " ") -> str | None:
    """Join the non-empty, distinct parts in order."""
    seen: list[str] = []
    for p in parts:
        c = clean(p)
        if c and c not in seen:
            seen.append(c)
    return sep.join(seen) or None


# --------------------------------------------------------------------------- assembly


def _money(d: Decimal | None) -> Decimal | None:
    """``d`` at 2 decimals. Callers pass only values :func:`amount_refusal` accepted (or sums
    of them), for which this is exact; anything else would be rounded, so it is refused
    upstream."""
    return None if d is None else round_money(d)


def receipt_id_base(path: Path) -> str:
    return re.sub(r"\s+", "_", path.stem)


def assemble(path: Path, stmts: list[Statement], found: list[Finding], fmt: str | None) -> BankRead:
    """Canonical frames and statement controls from what a reader parsed.

    receipt_id: the format's own line id (``Entry.entry_id``) when it is present and unique
    in the file; otherwise ``<file stem>-<statement ordinal>-<entry ordinal:05d>``, e.g.
    ``stmt1-1-00012`` — stable for the same file, and unique within it.
    """
    return assemble_parts([Part(str(path), receipt_id_base(path), stmts)], found, fmt)


@dataclass
class Part:
    """The statements of one file (or one member of a zip) and how its rows are labelled."""

    file: str  # source_file / findings file, e.g. ``x.zip!a.xml`` for a zip member
    id_base: str  # stem of the fallback receipt ids
    stmts: list[Statement]


def assemble_parts(parts: list[Part], found: list[Finding], fmt: str | None) -> BankRead:
    """:func:`assemble` over several files read together (the members of a zip).

    Receipt ids are made per part as in :func:`assemble`; an id already used by an earlier
    part gets the part's ``id_base`` as a prefix (only then), so ids stay unique. The
    gap/overlap controls run across all parts' statements, in order.
    """
    rows_in: list[dict] = []
    rows_out: list[dict] = []
    stmt_rows: list[dict] = []
    used: set[str] = set()
    for part in parts:
        _assemble_part(part, found, rows_in, rows_out, stmt_rows, used)
    found.extend(_continuity(stmt_rows))
    schema = columns("receipts")
    statements = pl.DataFrame(
        [{k: v for k, v in r.items() if k != "_row"} for r in stmt_rows], schema=STATEMENT_SCHEMA
    )
    return BankRead(
        receipts=pl.DataFrame(rows_in, schema=schema),
        debits=pl.DataFrame(rows_out, schema=schema),
        statements=statements,
        findings=fnd.to_frame(found),
        fmt=fmt,
    )


def _unique_id(rid: str, base: str, used: set[str], mine: set[str]) -> str:
    """``rid`` unless an earlier part used it; then ``<base>-<rid>`` (numbered if needed)."""
    if rid in used or rid in mine:
        cand, n = f"{base}-{rid}", 1
        while cand in used or cand in mine:
            n += 1
            cand = f"{base}-{rid}-{n}"
        rid = cand
    mine.add(rid)
    return rid


def _assemble_part(
    part: Part,
    found: list[Finding],
    rows_in: list[dict],
    rows_out: list[dict],
    stmt_rows: list[dict],
    used: set[str],
) -> None:
    file, stem, stmts = part.file, part.id_base, part.stmts
    ids = [e.entry_id for s in stmts for e in s.entries if e.entry_id]
    dup = {i for i in ids if ids.count(i) > 1} if len(ids) != len(set(ids)) else set()
    mine: set[str] = set()
    for k, st in enumerate(stmts, start=1):
        credits = Decimal(0)
        debits = Decimal(0)
        _refuse_inexact_balances(file, st, found)
        for n, e in enumerate(st.entries, start=1):
            cur = e.currency or st.currency
            # the readers refuse inexact amounts with their own column names; this is the
            # backstop that keeps any that got through out of the totals (never rounded)
            bad = check_amount(
                e.amount,
                cur,
                file=file,
                row=e.source_row,
                column="amount",
                raw=format(e.amount.copy_abs(), "f") if e.amount.is_finite() else str(e.amount),
            )
            if bad is not None:
                found.append(bad)
                continue
            rid = e.entry_id if e.entry_id and e.entry_id not in dup else f"{stem}-{k}-{n:05d}"
            rid = _unique_id(rid, stem, used, mine)
            row = {
                "receipt_id": rid,
                "value_date": e.value_date or e.booking_date,
                "amount": _money(abs(e.amount)),
                "currency": cur,
                "payer_name": clean(e.payer_name),
                "payer_account": clean(e.payer_account),
                "memo": clean(e.memo),
                "bank_ref": clean(e.bank_ref),
                "end_to_end_id": clean(e.end_to_end_id),
                "source_file": file,
                "source_row": e.source_row,
            }
            if e.amount > 0:
                credits += e.amount
                rows_in.append(row)
            elif e.amount < 0:
                debits += -e.amount
                rows_out.append(row)
            else:
                found.append(
                    fnd.warning(
                        file,
                        e.source_row,
                        "amount",
                        "0",
                        "bank_zero_amount",
                        "zero-amount line is neither a receipt nor a debit; not loaded",
                    )
                )
            if row["value_date"] is None and e.amount != 0:
                found.append(
                    fnd.error(
                        file,
                        e.source_row,
                        "value_date",
                        None,
                        "bank_missing_date",
                        "statement line has no value or booking date",
                    )
                )
            if cur is None and e.amount != 0:
                found.append(
                    fnd.warning(
                        file,
                        e.source_row,
                        "currency",
                        None,
                        "bank_missing_currency",
                        "statement line has no currency and the statement gives none",
                    )
                )
        dates = [e.booking_date or e.value_date for e in st.entries]
        dates = [d for d in dates if d is not None]
        start = st.period_start or (min(dates) if dates else None)
        end = st.period_end or (max(dates) if dates else None)
        opening = st.opening
        if st.opening_derived and st.closing is not None:
            opening = st.closing - credits + debits
        computed = None if opening is None else opening + credits - debits
        diff = None if computed is None or st.closing is None else st.closing - computed
        balanced = None if diff is None or st.opening_derived else diff == 0
        if balanced is False:
            found.append(
                fnd.error(
                    file,
                    st.source_row,
                    "closing_balance",
                    str(st.closing),
                    "bank_unbalanced",
                    f"statement {st.statement_id or k} of account {st.account}: opening "
                    f"{opening} + credits {credits} - debits {debits} = {computed}, but the "
                    f"bank's closing balance is {st.closing} (difference {diff})",
                )
            )
        stmt_rows.append(
            {
                "file": file,
                "account": st.account,
                "statement_id": st.statement_id,
                "currency": st.currency,
                "opening_balance": _money(opening),
                "closing_balance": _money(st.closing),
                "credits_total": _money(credits),
                "debits_total": _money(debits),
                "lines": len(st.entries),
                "computed_closing": _money(computed),
                "difference": _money(diff),
                "balanced": balanced,
                "period_start": start,
                "period_end": end,
                "_row": st.source_row,
            }
        )
    used.update(mine)


def _refuse_inexact_balances(file: str, st: Statement, found: list[Finding]) -> None:
    """Backstop for balances: one that is not exact (see :func:`amount_refusal`) becomes
    None with an error finding, so the statement control is skipped rather than rounded."""
    for attr, column in (("opening", "opening_balance"), ("closing", "closing_balance")):
        value = getattr(st, attr)
        bad = check_amount(
            value, st.currency, file=file, row=st.source_row, column=column, what=column
        )
        if bad is not None:
            found.append(bad)
            setattr(st, attr, None)


def _continuity(rows: list[dict]) -> list[Finding]:
    """Gap/overlap between consecutive statements of one account (in file order)."""
    out: list[Finding] = []
    last: dict[tuple, dict] = {}
    for r in rows:
        key = (r["account"], r["currency"])
        prev = last.get(key)
        last[key] = r
        file = r["file"]
        if prev is None:
            continue
        same_section = (prev["statement_id"], prev["period_end"]) == (
            r["statement_id"],
            r["period_end"],
        )
        if same_section and r["statement_id"] is not None:
            continue  # e.g. an anonymised BAI2 repeating one account within a group
        name = f"account {r['account']}: statement {r['statement_id']}"
        po, pc = r["opening_balance"], prev["closing_balance"]
        if po is not None and pc is not None and po != pc:
            out.append(
                fnd.error(
                    file,
                    r["_row"],
                    "opening_balance",
                    str(po),
                    "bank_statement_gap",
                    f"{name} opens at {po} but the previous statement "
                    f"({prev['statement_id']}) closed at {pc}: missing or extra statement?",
                )
            )
        ps, pe = r["period_start"], prev["period_end"]
        if ps is not None and pe is not None and ps < pe:
            out.append(
                fnd.warning(
                    file,
                    r["_row"],
                    "period_start",
                    str(ps),
                    "bank_statement_overlap",
                    f"{name} starts {ps}, before the previous statement "
                    f"({prev['statement_id']}) ends {pe}: overlapping periods",
                )
            )
    return out
