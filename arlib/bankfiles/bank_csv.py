"""Bank CSV/XLSX exports, above all Chinese banks' 交易明细 downloads.

Those files are spreadsheets for people, not data files: title rows (bank name, 账号,
币种, 查询期间) above the header, 借方/贷方 columns instead of a signed amount, a
合计/总计 row at the bottom, GBK/GB18030 encoding. This module finds the header row by
matching a preset's header texts (see :mod:`arlib.bankfiles.presets`), reads the account and
currency from the title rows and parses money/dates with :mod:`arlib.parsing`, so the same
text rules apply as for every other input. When the export has a balance column (余额) the
running balance is checked row by row and gives the statement's opening/closing balance.

A bank line is one movement, read only when its columns say which one:

* a line with both 借方 (debit) and 贷方 (credit) filled (non-zero) is refused
  (``bank_debit_and_credit``): one of them is wrong, or it is two movements;
* a negative credit (``-7,228.07``, ``(7,228.07)``, ``7,228.07-``) is a reversal or
  correction, never a receipt: refused (``bank_negative_credit``). A negative debit is
  refused too (``bank_negative_debit``) unless *every* debit of the file is written
  negative, which is the bank's sign convention (some print money out as ``-50,00``); the
  same for a signed amount with a 借/贷 direction column: a negative amount is read by its
  direction only when every amount of that direction in the file is negative
  (``bank_negative_amount`` otherwise).

A totals row (合计, 总计, 本页合计, Total, ... in its first cells or its date cell) is a row
that looks like one: such a label *and* no date *and* no transaction id (流水号). A memo
saying 合计 on a line with a date or an id is a memo, and the line is loaded; a 合计 label
in any other cell of a row with a date or an id is refused (``bank_total_row_ambiguous``).
Every amount a totals row states is a control total, checked against the sum of that
column as written over the dated lines it closes (since the previous totals row, for page
or currency subtotals, or since the first line, for running and grand totals; below it
when it stands above every line): a mismatch is an error on the totals row
(``bank_total_mismatch``), an agreeing totals row is skipped with the
``bank_totals_row_skipped`` warning.

Encoding: BOM → utf-8-sig; valid utf-8 → utf-8; else gb18030 (a superset of GBK/GB2312).

Money is read exactly, cell by cell (:func:`money_cell`), with the text rules of the CSV
loader (:func:`arlib.parsing.money_canonical`): thousands separators only between real
groups, one sign marker (``-``, trailing ``-`` or parentheses), currency words and signs
ignored. A cell is
refused, never rounded, with an error naming the line, the field (``credit``, ``debit``,
``amount``, ``balance``) and the text: ``too_many_decimals`` when it has more *written*
decimals than its currency allows, zeros included (``12.500`` CNY: 12.50, or 12500 with a
dot grouping thousands? Text cannot tell, so like the CSV loader this is refused, where a
structured format's ``100.500`` is exact), ``amount_too_large`` from
:data:`~arlib.bankfiles.common.MAX_AMOUNT` up, ``bank_bad_amount`` when it is no number. A
refused credit/debit/amount keeps the row out of the receipts; a refused balance is not
used for the running-balance check. An XLSX workbook is checked before it is opened: zip
bomb limits and no DTD in any of its XML parts (:func:`arlib.bankfiles.archive.check_xlsx`).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from decimal import Decimal
from pathlib import Path

import polars as pl

from arlib import findings as fnd
from arlib.bankfiles import archive
from arlib.bankfiles.common import (
    MAX_FILE_BYTES,
    Entry,
    Statement,
    check_amount,
    clean,
    decode,
    join_text,
)
from arlib.bankfiles.presets import PRESETS, Preset
from arlib.findings import Finding
from arlib.money import currency_places
from arlib.parsing import money_canonical, parse_date, parse_id

_HEADER_SCAN = 30
_BALANCE_ROWS = (
    "balanceat",
    "openingbalance",
    "closingbalance",
    "期初余额",
    "期末余额",
    "上日余额",
    "本日余额",
)
_CCY_WORDS = {
    "人民币": "CNY",
    "RMB": "CNY",
    "美元": "USD",
    "港币": "HKD",
    "港元": "HKD",
    "欧元": "EUR",
    "日元": "JPY",
    "英镑": "GBP",
}


def money_cell(
    text: str | None,
    canonical: str | None,
    currency: str | None,
    *,
    file: Path | str,
    row: int,
    column: str,
) -> tuple[Decimal | None, Finding | None]:
    """``(exact value, None)``, ``(None, None)`` for an empty cell, or ``(None, finding)``.

    ``canonical`` is the cell as :func:`arlib.parsing.money_canonical` reads it (None when
    it is no number). The rule for bank CSV/XLSX text: more *written* decimals than the
    currency's minor units is ``too_many_decimals`` even when they are zeros (``12.500`` may
    be a thousands group), as in the CSV loader; from
    :data:`~arlib.bankfiles.common.MAX_AMOUNT` up is ``amount_too_large``; no number is
    ``bank_bad_amount``. Nothing is rounded.
    """
    raw = clean(text)
    if raw is None or raw in {"-", "--"}:
        return None, None
    shown = raw if len(raw) <= 80 else f"{raw[:60]}... ({len(raw)} characters)"
    if canonical is None:
        return None, fnd.error(
            file, row, column, shown, "bank_bad_amount", "not a valid amount; row not loaded"
        )
    written = len(canonical.partition(".")[2])
    allowed = currency_places(currency)
    value = Decimal(canonical)
    bad = check_amount(value, currency, file=file, row=row, column=column, raw=shown)
    if bad is None and written > allowed:
        bad = fnd.error(
            file,
            row,
            column,
            shown,
            "too_many_decimals",
            f"{column} {shown}: {written} decimals written, more than "
            f"{currency or 'the currency'} allows ({allowed}); in text, trailing digits "
            "may be a thousands group, so nothing is assumed or rounded; not loaded",
        )
    return (None, bad) if bad is not None else (value, None)


def _norm(text) -> str:
    s = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    s = re.sub(r"[(（\[【][^)）\]】]*[)）\]】]", "", s) if not s.startswith("收(") else s
    return re.sub(r"[\s:：*]", "", s)


class _CsvError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _rows_csv(text: str) -> list[tuple[int, list[str]]]:
    sample = text[:20000]
    delim = max([",", ";", "\t", "|"], key=sample.count)
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    out, last = [], 0
    try:
        for row in reader:
            out.append((last + 1, [c for c in row]))
            last = reader.line_num
    except csv.Error as exc:  # named by its line, not by an offset
        raise _CsvError(max(reader.line_num, last + 1), str(exc)) from exc
    return out


def _rows_xlsx(data: bytes) -> list[tuple[int, list[str]]]:
    """The first sheet's rows as text; only called once :func:`archive.check_xlsx` passed."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        out = []
        for i, row in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = []
            for v in row:
                if v is None:
                    cells.append("")
                elif hasattr(v, "date") and hasattr(v, "isoformat"):
                    cells.append(v.isoformat())
                elif isinstance(v, float):
                    cells.append(repr(v) if v != int(v) else str(int(v)))
                else:
                    cells.append(str(v))
            out.append((i, cells))
        return out
    finally:
        wb.close()


def _match(cells: list[str], preset: Preset) -> dict[str, list[int]]:
    """Field → column indices for one header row (``cells`` already :func:`_norm`-ed).

    One dict of the row's cells, so a hostile row of a million cells costs one pass, not
    one pass per header name."""
    where: dict[str, list[int]] = {}
    for i, c in enumerate(cells):
        where.setdefault(c, []).append(i)
    found: dict[str, list[int]] = {}
    used: set[int] = set()
    for fld, names in _preset_names(preset):
        for n in names:
            i = next((i for i in where.get(n, ()) if i not in used), None)
            if i is not None:
                found.setdefault(fld, []).append(i)
                used.add(i)
                if fld != "memo":
                    break
    return found


_NORMED: dict[str, tuple] = {}


def _preset_names(preset: Preset) -> tuple:
    """``((field, normalised header names), ...)`` of a preset, computed once."""
    key = preset.name
    if key not in _NORMED or _NORMED[key][0] is not preset:
        names = tuple((f, tuple(_norm(n) for n in ns)) for f, ns in preset.fields.items())
        _NORMED[key] = (preset, names)
    return _NORMED[key][1]


def _usable(m: dict[str, list[int]]) -> bool:
    return "date" in m and bool({"credit", "debit", "amount"} & set(m))


def _find_header(rows, preset_name: str | None):
    names = [preset_name] if preset_name else list(PRESETS)
    normed = [[_norm(c) for c in cells] for _, cells in rows[:_HEADER_SCAN]]
    best = None
    for name in names:
        for k, cells in enumerate(normed):
            m = _match(cells, PRESETS[name])
            if _usable(m):
                score = len(m)
                if best is None or score > best[0]:
                    best = (score, name, k, m)
                break
    return best


def _title_info(rows) -> tuple[str | None, str | None]:
    account = currency = None
    for _, cells in rows:
        text = " ".join(c for c in cells if c)
        norm = unicodedata.normalize("NFKC", text)
        m = re.search(
            r"(?:账号|帐号|账户|Account Number)\s*[:：]?\s*([0-9A-Za-z\-*]{4,}(?:\s\d{3,})*)", norm
        )
        if m and account is None:
            account = m[1].strip()
        m = re.search(r"(?:币种|货币|Currency)\s*[:：]?\s*([A-Za-z]{3}|[\u4e00-\u9fff]{2,3})", norm)
        if m and currency is None:
            currency = _CCY_WORDS.get(m[1], m[1].upper())
        elif currency is None:
            m = re.search(r"[:：]\s*([A-Z]{3})\b", norm)
            currency = m[1] if m else None
    return account, currency


def _date_expr(col: str, dayfirst: bool) -> pl.Expr:
    t = pl.col(col).str.strip_chars()
    t = t.str.replace(r"^(\d{4})(\d{2})(\d{2})(\s.*)?$", "${1}-${2}-${3}")
    t = t.str.replace(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2})$", "${1}/${2}/20${3}")
    return parse_date(t, dayfirst=dayfirst)


def _dayfirst(values: list[str | None], default: bool) -> bool:
    for v in values:
        m = re.match(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}", v or "")
        if m:
            if int(m[1]) > 12:
                return True
            if int(m[2]) > 12:
                return False
    return default


def _decimal_comma(values: list[str | None]) -> bool:
    vals = [v.strip() for v in values if v and v.strip()]
    comma = any(re.fullmatch(r"[-+(]?[\d.\s]*\d,\d{1,2}\)?-?", v) for v in vals)
    dot = any(re.search(r"\.\d{1,2}\)?-?$", v) for v in vals)
    return comma and not dot


def parse(
    data: bytes,
    path: Path,
    *,
    fmt: str,
    preset: str | None,
    encoding: str | None,
    max_bytes: int = MAX_FILE_BYTES,
):
    found: list[Finding] = []
    if preset is not None and preset not in PRESETS:
        found.append(
            fnd.error(
                path,
                None,
                None,
                preset,
                "bank_preset",
                f"unknown preset; use one of {sorted(PRESETS)}",
            )
        )
        return [], found
    if fmt == "xlsx":
        refused = archive.check_xlsx(data, path, max_bytes)
        if refused:
            return [], refused
        try:
            rows = _rows_xlsx(data)
        except Exception as exc:  # zip/xml errors of a broken workbook
            found.append(
                fnd.error(
                    path,
                    None,
                    None,
                    None,
                    "xlsx_unreadable",
                    f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}",
                )
            )
            return [], found
    else:
        text = decode(data, path, found, encoding=encoding, fallback="gb18030")
        try:
            rows = _rows_csv(text)
        except _CsvError as exc:
            found.append(
                fnd.error(path, exc.line, None, None, "csv_malformed", f"line {exc.line}: {exc}")
            )
            return [], found
    hit = _find_header(rows, preset)
    if hit is None:
        found.append(
            fnd.error(
                path,
                None,
                None,
                preset,
                "bank_csv_no_header",
                "no header row with a date and an amount (or 借方/贷方) column found in the "
                f"first {_HEADER_SCAN} rows"
                + (f" for preset {preset}" if preset else "; name a preset"),
            )
        )
        return [], found
    _, name, k, m = hit
    pre = PRESETS[name]
    account, t_ccy = _title_info(rows[:k])
    header = rows[k][1]

    def head(fld: str) -> str:
        i = m[fld][0]
        return clean(header[i]) or fld if i < len(header) else fld

    markers = tuple(_norm(x) for x in pre.total_markers)
    body: list[tuple[int, list[str]]] = []
    labels: list[int | None] = []  # column of a 合计/总计 label cell; None on other rows
    for line, cells in rows[k + 1 :]:
        if not any(c.strip() for c in cells):
            continue
        lead_at = list(itertools.islice((i for i, c in enumerate(cells) if c.strip()), 3))
        lead = [_norm(cells[i]) for i in lead_at]
        if any(c.startswith(_BALANCE_ROWS) for c in lead):
            found.append(
                fnd.warning(
                    path,
                    line,
                    None,
                    " ".join(c for c in cells if c.strip())[:80],
                    "bank_balance_row_skipped",
                    "balance row (期初/期末余额) skipped: it is not a transaction",
                )
            )
            continue
        body.append((line, cells))
        labels.append(_total_label(cells, lead_at, lead, m["date"][0], markers))

    def col(fld: str, j: int = 0) -> list[str | None]:
        idx = m.get(fld)
        if not idx or j >= len(idx):
            return [None] * len(body)
        i = idx[j]
        return [(cells[i] if i < len(cells) else None) for _, cells in body]

    frame = pl.DataFrame(
        {
            "line": [ln for ln, _ in body],
            "date": col("date"),
            "credit": col("credit"),
            "debit": col("debit"),
            "amount": col("amount"),
            "direction": col("direction"),
            "balance": col("balance"),
            "currency": col("currency"),
            "payer_name": col("payer_name"),
            "payer_account": col("payer_account"),
            "bank_ref": col("bank_ref"),
            **{f"memo{j}": col("memo", j) for j in range(len(m.get("memo", [])))},
        },
        schema_overrides={
            c: pl.String
            for c in ("date", "credit", "debit", "amount", "direction", "balance", "currency")
        },
    )
    # the text conventions (decimal comma, day-first) are read from the lines, not the totals
    plain = pl.Series([lab is None for lab in labels], dtype=pl.Boolean)
    lines_only = frame.filter(plain)
    money_vals = [
        *lines_only["credit"],
        *lines_only["debit"],
        *lines_only["amount"],
        *lines_only["balance"],
    ]
    dc = _decimal_comma(money_vals)
    # decimal comma means a European locale, where dates are day-first, unless a value proves
    # otherwise
    dayfirst = _dayfirst(lines_only["date"].to_list(), pre.dayfirst or dc)
    parsed = frame.with_columns(
        _date_expr("date", dayfirst).alias("d"),
        *(
            money_canonical(pl.col(f), decimal_comma=dc).alias(f"_{f}")
            for f in ("credit", "debit", "amount", "balance")
        ),
        parse_id(pl.col("bank_ref")).alias("ref"),
    )
    credit_words = {_norm(x) for x in pre.direction_credit}
    plain_rows = parsed.filter(plain)
    # a sign is a convention only when the whole column (or direction) of the file uses it:
    # some banks print every debit negative; a negative among positive ones is a reversal
    debits_negative = _all_negative(plain_rows["_debit"].to_list())
    direction_negative = {
        is_credit: _all_negative(
            [
                a
                for a, d in zip(plain_rows["_amount"], plain_rows["direction"], strict=True)
                if d is not None and (_norm(d) in credit_words) is is_credit
            ]
        )
        for is_credit in (True, False)
    }
    text_cols = {i for f in ("memo", "payer_name", "payer_account") for i in m.get(f, [])}
    st = Statement(
        account=account,
        statement_id=None,
        currency=t_ccy or pre.currency,
        opening=None,
        closing=None,
        source_row=rows[k][0] + 1,
    )
    balances: list[tuple[int, Decimal, Decimal]] = []
    ledger: list[_Written] = []  # every dated line as written, for the file's own totals
    totals: list[tuple[int, dict, list[str]]] = []  # (lines before it, row, cells)
    cum = dict.fromkeys(_MOVES, Decimal(0))  # the ledger's running sums, and at the last total
    at_cut = dict(cum)
    for r, label, (_, cells) in zip(parsed.iter_rows(named=True), labels, body, strict=True):
        line = r["line"]
        ref = r["ref"] if r["ref"] and r["ref"].strip("-") else None
        if label is not None:
            if r["d"] is None and ref is None:
                totals.append((len(ledger), r, cells))
                at_cut = dict(cum)
                continue
            if label not in text_cols:  # 合计 as the label of a row with a date or an id
                where = next((f for f, at in m.items() if label in at), None)
                found.append(
                    fnd.error(
                        path,
                        line,
                        where or clean(header[label] if label < len(header) else None),
                        clean(cells[label]),
                        "bank_total_row_ambiguous",
                        f"row {' '.join(c for c in cells if c.strip())[:80]!r} is labelled "
                        f"{clean(cells[label])!r} like a totals row, but it has "
                        + ("a date" if r["d"] is not None else f"a transaction id ({ref})")
                        + ": neither loaded as a line nor used as a total",
                    )
                )
                continue
            # else: a memo (or name) saying 合计 on a line with a date or an id: a line
        texts = {f: r[f] for f in _MOVES}
        has_money_text = any(v and v.strip() for v in texts.values())
        row_ccy = clean(_CCY_WORDS.get(clean(r["currency"]) or "", r["currency"]))
        ccy = row_ccy or st.currency
        vals: dict[str, Decimal | None] = {}
        problems: list[Finding] = []
        for f, v in texts.items():
            vals[f], problem = money_cell(v, r[f"_{f}"], ccy, file=path, row=line, column=f)
            if problem is not None:
                problems.append(problem)
        bad = [p for p in problems if p.rule == "bank_bad_amount"]
        if r["d"] is None:
            if has_money_text and not bad:
                found.append(
                    fnd.error(
                        path,
                        line,
                        "date",
                        r["date"],
                        "bank_bad_date",
                        "transaction row has no valid date; not loaded",
                    )
                )
                found.extend(problems)  # its amount is refused too: say so
            else:
                found.append(
                    fnd.warning(
                        path,
                        line,
                        None,
                        join_text([r["date"], *texts.values()]),
                        "bank_row_skipped",
                        "row below the header is not a transaction; skipped",
                    )
                )
            continue
        if label is not None and ref is None and not problems:
            since = {f: cum[f] - at_cut[f] for f in _MOVES}
            if _equals_a_sum(vals, (cum, since)):  # a dated 合计 row repeating the lines' sum
                found.append(
                    fnd.error(
                        path,
                        line,
                        next((f for f, at in m.items() if label in at), None),
                        clean(cells[label]),
                        "bank_total_row_ambiguous",
                        f"row {' '.join(c for c in cells if c.strip())[:80]!r} says "
                        f"{clean(cells[label])!r}, has no transaction id and its amounts "
                        "equal the sum of the lines above it: a totals row with a date, or a "
                        "line? Neither loaded as a line nor used as a total",
                    )
                )
                continue
        written = _Written(vals, {p.column for p in problems})
        ledger.append(written)
        for f, v in written.vals.items():
            cum[f] += v
        if problems:
            found.extend(problems)
            continue
        c, b, a = vals["credit"], vals["debit"], vals["amount"]
        if "credit" in m or "debit" in m:
            refusals = _movement_refusals(
                path, line, texts, c, b, head, debits_negative=debits_negative
            )
            if refusals:
                found.extend(refusals)
                continue
            # unsigned by convention; some banks print every debit negative (checked above)
            amt = (c or Decimal(0)) - abs(b or Decimal(0))
            if c is None and b is None and a is not None:
                amt = a
        else:
            amt = a if a is not None else Decimal(0)
            if "direction" in m and r["direction"] is not None:
                is_credit = _norm(r["direction"]) in credit_words
                if amt < 0 and not direction_negative[is_credit]:
                    found.append(
                        fnd.error(
                            path,
                            line,
                            "amount",
                            clean(texts["amount"]),
                            "bank_negative_amount",
                            f"{head('amount')} {clean(texts['amount'])} is negative with "
                            f"{head('direction')} {clean(r['direction'])}, while other lines "
                            "of that direction in this file are positive: a reversal or "
                            "correction, neither a receipt nor a debit; not loaded",
                        )
                    )
                    continue
                amt = abs(amt) if is_credit else -abs(amt)
        written.net = amt
        memo = join_text([r.get(f"memo{j}") for j in range(len(m.get("memo", [])))], " / ")
        st.entries.append(
            Entry(
                amount=amt,
                value_date=r["d"],
                booking_date=r["d"],
                source_row=line,
                currency=row_ccy,
                payer_name=r["payer_name"],
                payer_account=clean(r["payer_account"]),
                memo=memo,
                bank_ref=r["ref"],
                entry_id=r["ref"],
            )
        )
        bal, problem = money_cell(
            r["balance"], r["_balance"], ccy, file=path, row=line, column="balance"
        )
        if problem is not None and problem.rule != "bank_bad_amount":
            found.append(problem)  # refused: the running balance is not checked
        if bal is not None:
            balances.append((line, amt, bal))
    if balances and len(balances) == len(st.entries):
        found.extend(_running_balance(path, st, balances))
    fields = [f for f in _MOVES if f in m]
    found.extend(
        _control_totals(
            path, totals, ledger, fields, head, st.currency, debits_negative=debits_negative
        )
    )
    return [st], found


def _total_label(
    cells: list[str], lead_at: list[int], lead: list[str], date_at: int, markers: tuple[str, ...]
) -> int | None:
    """The column of the first of a row's first non-empty cells (``lead``, normalised, at
    ``lead_at``) or its date cell saying 合计/总计/Total..., else None."""
    for i, c in zip(lead_at, lead, strict=True):
        if c.startswith(markers):
            return i
    if date_at not in lead_at and date_at < len(cells):
        return date_at if _norm(cells[date_at]).startswith(markers) else None
    return None


def _equals_a_sum(vals: dict[str, Decimal | None], sums: tuple[dict[str, Decimal], ...]) -> bool:
    """True when the row's non-zero amounts (one at least) equal one of ``sums`` column by
    column."""
    stated = {f: v for f, v in vals.items() if v}
    return bool(stated) and any(all(v == s[f] for f, v in stated.items()) for s in sums)


def _all_negative(canonical: list[str | None]) -> bool:
    """True when every non-zero value (canonical money text) is negative, and one is."""
    signs = set()
    for v in canonical:
        if v is None:
            continue
        try:
            d = Decimal(v)
        except ArithmeticError:
            continue
        if d != 0:
            signs.add(d < 0)
    return signs == {True}


_MOVES = ("credit", "debit", "amount")


class _Written:
    """One dated line as the file wrote it: its readable credit/debit/amount cells (lines
    refused for their sign or for both columns included: the bank's totals include them),
    the columns whose cell could not be read, and the signed amount loaded (None when the
    line is not loaded)."""

    __slots__ = ("vals", "unread", "net")

    def __init__(self, vals: dict[str, Decimal | None], unread: set[str | None]) -> None:
        self.vals = {f: v for f, v in vals.items() if v is not None}
        self.unread = unread
        self.net: Decimal | None = None


def _movement_refusals(
    path, line: int, texts: dict, c, b, head, *, debits_negative: bool
) -> list[Finding]:
    """Why a 借方/贷方 line cannot be read as one movement (empty when it can).

    A negative credit is a reversal or correction, never a receipt; a negative debit is
    one too, unless every debit of the file is written negative (the bank's convention);
    both columns filled (non-zero) is two movements in one line, or none: which one the
    bank meant cannot be told."""
    out = []
    ct, bt = clean(texts["credit"]), clean(texts["debit"])
    if c is not None and c < 0:
        out.append(
            fnd.error(
                path,
                line,
                "credit",
                ct,
                "bank_negative_credit",
                f"{head('credit')} (credit) {ct} is negative: a negative credit is a reversal "
                "or correction, never a receipt; not loaded (match it to the line it "
                "reverses by hand)",
            )
        )
    if b is not None and b < 0 and not debits_negative:
        out.append(
            fnd.error(
                path,
                line,
                "debit",
                bt,
                "bank_negative_debit",
                f"{head('debit')} (debit) {bt} is negative while the file's other debits are "
                "positive: a reversal or correction, neither a debit nor a receipt; not loaded",
            )
        )
    if c and b:
        out.append(
            fnd.error(
                path,
                line,
                "debit,credit",
                f"{bt} / {ct}",
                "bank_debit_and_credit",
                f"both {head('debit')} (debit) {bt} and {head('credit')} (credit) {ct} are "
                "filled: a bank line is one movement, and which one this is cannot be told; "
                "not loaded",
            )
        )
    return out


def _control_totals(
    path,
    totals: list[tuple[int, dict, list[str]]],
    ledger: list[_Written],
    fields: list[str],
    head,
    currency: str | None,
    *,
    debits_negative: bool,
) -> list[Finding]:
    """Each 合计/总计 row the file gives is a control total: every amount it states must
    equal the sum of that column over the lines it closes — those since the previous totals
    row (a page or currency subtotal) or since the first line (a running or grand total);
    a totals row above every line closes the lines below it. A mismatch is an error on the
    totals row; a totals row that agrees (or states no amount) is skipped with a warning."""
    out: list[Finding] = []
    if not totals:
        return out
    sums = _prefix_sums(ledger)
    n_lines = len(ledger)
    first_cut = next((p for p, _, _ in totals if p > 0), n_lines)

    def span(key: str, i: int, j: int) -> Decimal:
        return sums[key][j] - sums[key][i]

    prev = 0
    for pos, r, cells in totals:
        line = r["line"]
        shown = " ".join(c for c in cells if c.strip())[:80]
        spans = [(prev, pos), (0, pos)]
        if pos == 0:  # above every line: it closes the lines below it
            spans += [(0, first_cut), (0, n_lines)]
        checked, wrong = [], []
        for f in fields:
            value, problem = money_cell(r[f], r[f"_{f}"], currency, file=path, row=line, column=f)
            if problem is not None:
                wrong.append(
                    fnd.error(
                        path,
                        line,
                        f,
                        problem.value,
                        "bank_total_unreadable",
                        f"totals row: {head(f)} {problem.value} cannot be read "
                        f"({problem.rule}), so the file's control total is not checked",
                    )
                )
                continue
            if value is None:
                continue  # the row states no total for this column
            keys = (f, "abs", "net") if f == "amount" else (f,)
            want = {span(key, i, j) for key in keys for i, j in spans}
            if f == "debit" and debits_negative:
                want |= {-w for w in want}
            if value in want:
                checked.append(f"{head(f)} {clean(r[f])}")
                continue
            got = span(f, 0, pos) if pos else span(f, 0, n_lines)
            where = (
                f"the {pos} lines above add up to {got}"
                + (f" ({span(f, prev, pos)} since the previous totals row)" if prev else "")
                if pos
                else f"the {n_lines} lines add up to {got}"
            )
            refused = span(f"unread_{f}", 0, pos or n_lines)
            wrong.append(
                fnd.error(
                    path,
                    line,
                    f,
                    clean(r[f]),
                    "bank_total_mismatch",
                    f"totals row {shown!r}: {head(f)} ({f}) total {clean(r[f])}, but "
                    f"{where} (difference {value - got}): the file does not add up, a line "
                    "is missing, extra or misread"
                    + (f"; {refused} of those lines have an unreadable {f}" if refused else "")
                    + "; its lines are loaded as written, check the export against the bank",
                )
            )
        prev = pos
        if wrong:
            out.extend(wrong)
            continue
        out.append(
            fnd.warning(
                path,
                line,
                None,
                shown,
                "bank_totals_row_skipped",
                "totals row (合计/总计) skipped: it is a sum, not a transaction"
                + (
                    f"; checked against the lines: {', '.join(checked)} agree"
                    if checked
                    else "; it states no amount to check"
                ),
            )
        )
    return out


def _prefix_sums(ledger: list[_Written]) -> dict[str, list[Decimal]]:
    """Running sums over the dated lines (index i = the first i lines), so that each totals
    row is checked in constant time: per column as written, ``abs`` (|amount|), ``net``
    (signed amounts loaded) and ``unread_<column>`` (lines whose cell was unreadable)."""
    keys = ("credit", "debit", "amount", "abs", "net", *(f"unread_{f}" for f in _MOVES))
    acc = dict.fromkeys(keys, Decimal(0))
    sums = {key: [Decimal(0)] for key in keys}
    for w in ledger:
        for f in _MOVES:
            acc[f] += w.vals.get(f, 0)
            acc[f"unread_{f}"] += f in w.unread
        acc["abs"] += abs(w.vals.get("amount", 0))
        acc["net"] += w.net or 0
        for key in keys:
            sums[key].append(acc[key])
    return sums


def _running_balance(path, st: Statement, bal) -> list[Finding]:
    """Check 余额 row by row, in whichever order (oldest or newest first) the export uses."""
    asc = sum(bal[i][2] == bal[i - 1][2] + bal[i][1] for i in range(1, len(bal)))
    desc = sum(bal[i - 1][2] == bal[i][2] + bal[i - 1][1] for i in range(1, len(bal)))
    rows = bal if asc >= desc else list(reversed(bal))
    st.opening = rows[0][2] - rows[0][1]
    st.closing = rows[-1][2]
    out = []
    for i in range(1, len(rows)):
        want = rows[i - 1][2] + rows[i][1]
        if rows[i][2] != want:
            out.append(
                fnd.error(
                    path,
                    rows[i][0],
                    "balance",
                    str(rows[i][2]),
                    "bank_running_balance",
                    f"balance after this row should be {rows[i - 1][2]} + {rows[i][1]} = {want}",
                )
            )
    return out
