"""Load a period's inputs into canonical frames, with provenance and findings.

The only stage (with export) that touches files. Users bring their own layouts: CSV in
UTF-8, UTF-8 with BOM or GBK/GB18030, XLSX with title rows above the header, Parquet, and
bank statement formats (delegated to :mod:`arlib.bankfiles`). Headers are mapped per
input from params, then from a small table of common Chinese and English headers.

Nothing raises for bad data: every unreadable value becomes a finding naming the file, the
row as the user sees it, the column and the raw text, and the row is kept (with a null
value) so that later checks still see it.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import polars as pl

from arlib import findings as fnd
from arlib import parsing
from arlib.config import Config, InputSpec
from arlib.money import currency_places_expr
from arlib.provision import OpeningProvision, opening_provision
from arlib.schema import (
    DECISION_ACTIONS,
    DECISION_COLUMNS,
    FRAMES,
    MONEY,
    RATE,
    conform,
)

BANK_FORMATS = ("mt940", "camt053", "camt054", "ofx", "bai2")
BANK_SUFFIXES = {".sta": "mt940", ".940": "mt940", ".mt940": "mt940", ".swi": "mt940"}
BANK_SUFFIXES |= {".ofx": "ofx", ".qfx": "ofx", ".bai": "bai2", ".bai2": "bai2", ".xml": None}
BANK_SUFFIXES |= {".zip": None}  # a zip of statements: each member's format is detected

# Common headers users' systems write, mapped to canonical names (explicit params win).
HEADER_SYNONYMS: dict[str, dict[str, str]] = {
    "invoices": {
        "发票号": "invoice_id",
        "发票号码": "invoice_id",
        "发票编号": "invoice_id",
        "invoice no": "invoice_id",
        "invoice number": "invoice_id",
        "客户编号": "customer_id",
        "客户代码": "customer_id",
        "customer": "customer_id",
        "customer no": "customer_id",
        "开票日期": "invoice_date",
        "发票日期": "invoice_date",
        "到期日": "due_date",
        "到期日期": "due_date",
        "金额": "amount",
        "价税合计": "amount",
        "含税金额": "amount",
        "币种": "currency",
        "币别": "currency",
        "税额": "tax_amount",
        "订单号": "po_number",
        "摘要": "description",
        "是否争议": "disputed",
    },
    "receipts": {
        "流水号": "receipt_id",
        "交易流水号": "receipt_id",
        "交易日期": "value_date",
        "入账日期": "value_date",
        "起息日": "value_date",
        "金额": "amount",
        "交易金额": "amount",
        "币种": "currency",
        "对方户名": "payer_name",
        "付款人": "payer_name",
        "付款方": "payer_name",
        "对方账号": "payer_account",
        "付款账号": "payer_account",
        "摘要": "memo",
        "附言": "memo",
        "用途": "memo",
        "银行流水号": "bank_ref",
        "银行参考号": "bank_ref",
    },
    "customers": {
        "客户编号": "customer_id",
        "客户代码": "customer_id",
        "客户名称": "name",
        "别名": "aliases",
        "简称": "aliases",
        "付款账号": "payer_accounts",
        "账期": "payment_terms_days",
        "信用额度": "credit_limit",
        "邮箱": "email",
        "电话": "phone",
        "母公司": "parent_id",
        "催收员": "collector",
        "收款负责人": "collector",
    },
    "credit_notes": {
        "红字发票号": "credit_id",
        "贷项通知单号": "credit_id",
        "客户编号": "customer_id",
        "日期": "date",
        "金额": "amount",
        "发票号": "invoice_id",
        "原因": "reason",
        "币种": "currency",
    },
    "fx_rates": {"日期": "date", "币种": "currency", "汇率": "rate"},
    "replies": {
        "客户编号": "customer_id",
        "客户代码": "customer_id",
        "对账单号": "statement_no",
        "对账单编号": "statement_no",
        "statement": "statement_no",
        "statement number": "statement_no",
        "是否确认": "confirmed",
        "确认无误": "confirmed",
        "回函日期": "reply_date",
        "发票号": "invoice_id",
        "发票号码": "invoice_id",
        "不符金额": "amount",
        "差异金额": "amount",
        "金额": "amount",
        "说明": "remark",
        "备注": "remark",
        "确认余额": "balance",
    },
    "contacts": {
        "日期": "date",
        "联系日期": "date",
        "客户编号": "customer_id",
        "客户代码": "customer_id",
        "方式": "channel",
        "联系方式": "channel",
        "联系人": "person",
        "结果": "outcome",
        "沟通结果": "outcome",
        "承诺付款日": "promise_date",
        "承诺付款日期": "promise_date",
        "承诺金额": "promise_amount",
        "承诺付款金额": "promise_amount",
        "币种": "currency",
        "争议单号": "dispute_id",
        "争议状态": "dispute_status",
    },
}

MAX_HEADER_SCAN = 30


@dataclasses.dataclass(frozen=True)
class LoadedInput:
    """One input after loading: its canonical frame, findings and provenance."""

    name: str
    frame: pl.DataFrame
    findings: pl.DataFrame
    provenance: dict
    extras: dict = dataclasses.field(default_factory=dict)


def header_key(text: str) -> str:
    """Compare headers loosely: NFKC, case, spaces, underscores and hyphens ignored."""
    text = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return re.sub(r"[\s_\-./:：]+", "", text)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def display_path(path: Path, root: Path) -> str:
    """Paths as the user wrote them: relative to the project root where possible."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def detect_encoding(data: bytes) -> str:
    """UTF-8 with BOM, UTF-16 with BOM, UTF-8, else GB18030 (a superset of GBK, the usual
    Chinese export). A file that is valid UTF-8, non-ASCII text included, up to a bad byte
    stays UTF-8, so the bad byte is reported on its line instead of the whole file turning
    into wrong Chinese characters."""
    return _detect(data)[0]


def _detect(data: bytes) -> tuple[str, bool]:
    """:func:`detect_encoding`, and whether ``data`` was found to be valid UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", False
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", False
    without_bom = _utf16_without_bom(data)
    if without_bom:
        return without_bom, False
    if is_utf8(data):
        return "utf-8", True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        if sum(1 for byte in before[-4096:] if byte >= 0xC0) >= 2:
            return "utf-8", False
        return "gb18030", False
    return "utf-8", True


def is_utf8(data: bytes) -> bool:
    """Whether ``data.decode("utf-8")`` would succeed, checked by polars' UTF-8 validator
    (the same strict rules: no surrogates, overlong forms or code points past U+10FFFF)
    without building a str of a 100 MB file."""
    try:
        pl.Series([data], dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.PolarsError:
        return False
    return True


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the bytes look like UTF-16 text without a BOM (a NUL in
    most even or odd places of the first KiB: ASCII text in UTF-16), else None."""
    head = data[:1024]
    pairs = len(head) // 2
    if pairs < 4:
        return None
    odd = sum(1 for i in range(1, 2 * pairs, 2) if head[i] == 0)
    even = sum(1 for i in range(0, 2 * pairs, 2) if head[i] == 0)
    if odd >= 0.8 * pairs and even == 0:
        return "utf-16-le"
    if even >= 0.8 * pairs and odd == 0:
        return "utf-16-be"
    return None


def _nul_bytes(text: bytes, shown: str) -> fnd.Finding | None:
    """NUL characters: at the end of the file they are padding and are dropped (a warning);
    inside the text they sit in a value, which then cannot be read as written: refused on
    the line of the first one. ``text`` is UTF-8, where a NUL byte is a NUL character."""
    if b"\x00" not in text:
        return None
    body = text.rstrip(b"\x00")
    if b"\x00" not in body:
        return fnd.warning(
            shown,
            None,
            None,
            None,
            "nul_bytes",
            f"{len(text) - len(body)} NUL byte(s) of padding at the end of the file ignored",
        )
    line = body[: body.index(b"\x00")].count(b"\n") + 1
    inside = body.count(b"\x00")
    return fnd.error(
        shown,
        line,
        None,
        None,
        "nul_bytes",
        f"line {line} holds a NUL byte ({inside} in the file): a damaged export? "
        "save it again as UTF-8 CSV",
    )


def _decode_error(data: bytes, exc: UnicodeDecodeError, encoding: str, shown: str):
    """A decoding error on the line a person finds it on, quoting the bad bytes."""
    line = data.count(b"\n", 0, exc.start) + 1
    bad = data[exc.start : min(exc.end, exc.start + 8)].hex(" ")
    return fnd.error(
        shown,
        line,
        None,
        bad,
        "encoding",
        f"line {line} is not {encoding} text (bytes {bad}); save the file as UTF-8 or "
        "name its encoding in params",
    )


def _line_structure(text: bytes, shown: str) -> tuple[bytes, list[fnd.Finding]]:
    """Line breaks and quotes that would make rows run into each other, named by line.
    ``text`` is UTF-8, which writes no ASCII byte inside another character: its breaks and
    quotes are those of the text.

    A lone carriage return outside quotes ends a line for some programs and not for others,
    so the rows around it are a guess: refused (a file that uses only CR, as classic Mac
    exports do, is read with CR as its line break). A quote that opens and never closes
    would swallow the rest of the file into one value: refused at the line it opens.
    """
    problems = []
    if b"\r" in text and b"\n" not in text:
        return text.replace(b"\r", b"\n"), problems
    quotes_before, position, line, lines_before = 0, 0, 0, 0
    carriage_returns = b"\r" in text  # most files have none: no scan for lone ones
    for found in re.finditer(rb"\r(?!\n)", text) if carriage_returns else ():
        quotes_before += text.count(b'"', position, found.start())
        lines_before += text.count(b"\n", position, found.start())
        position = found.start()
        if quotes_before % 2 == 0 and lines_before + 1 != line:
            line = lines_before + 1
            problems.append(
                fnd.error(
                    shown,
                    line,
                    None,
                    None,
                    "line_break",
                    f"line {line} holds a lone carriage return (CR) outside quotes: is it one "
                    "row or two? Save the file with one kind of line break",
                )
            )
            if len(problems) >= 20:
                break
    if text.count(b'"') % 2:
        opened = _unclosed_quote_line(text)
        problems.append(
            fnd.error(
                shown,
                opened,
                None,
                None,
                "unbalanced_quote",
                f"a quote opened on line {opened} is never closed: the rest of the file "
                "would be read as one value",
            )
        )
    return text, problems


def _head_lines(text: bytes, count: int) -> list[str]:
    """``text.decode().splitlines()[:count]`` without decoding a 100 MB file to read its
    head: the text up to its ``count``-th line feed holds at least ``count`` lines."""
    end = -1
    for _ in range(count):
        end = text.find(b"\n", end + 1)
        if end < 0:
            return text.decode("utf-8").splitlines()[:count]
    return text[: end + 1].decode("utf-8").splitlines()[:count]


def _unclosed_quote_line(text: bytes) -> int:
    """The line where the quote still open at the end of ``text`` was opened.

    A well-formed line holds an even number of quotes; a quoted value running over several
    lines opens on a line with an odd count and closes on the next such line. So the odd
    lines pair up, and the one left without a partner is where the stray quote is."""
    inside, opened = False, 1
    for number, line in enumerate(text.split(b"\n"), start=1):
        if line.count(b'"') % 2:
            inside = not inside
            if inside:
                opened = number
    return opened


def _mapping_for(name: str, spec: InputSpec) -> dict[str, str]:
    mapping = {header_key(k): v for k, v in HEADER_SYNONYMS.get(name, {}).items()}
    required, optional = FRAMES.get(name, ({}, {}))
    for col in [*required, *optional]:
        mapping.setdefault(header_key(col), col)
    mapping.update({header_key(k): v for k, v in spec.columns.items()})
    return mapping


def _find_header(rows: list[list[str]], mapping: dict[str, str], wanted: set[str]) -> int | None:
    """Index of the first row that looks like the header (title rows above are skipped)."""
    best, best_hits = None, 0
    for index, row in enumerate(rows[:MAX_HEADER_SCAN]):
        hits = {mapping[header_key(c)] for c in row if c and header_key(c) in mapping} & wanted
        if len(hits) > best_hits:
            best, best_hits = index, len(hits)
        if wanted and len(hits) == len(wanted):
            break
    return best if best_hits >= min(2, len(wanted)) else None


def read_table(path: Path, spec: InputSpec, mapping: dict[str, str], wanted: set[str], shown: str):
    """Read a CSV/XLSX/Parquet file as text columns plus ``source_row``.

    Returns (frame or None, details dict, findings list).
    """
    fmt = spec.format or _format_from_suffix(path)
    details: dict = {"format": fmt}
    problems: list[fnd.Finding] = []
    if fmt == "parquet":
        try:
            frame = pl.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any reader failure is a finding
            problems.append(fnd.error(shown, None, None, None, "unreadable", f"not Parquet: {exc}"))
            return None, details, problems
        frame = frame.with_columns(
            pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_row")
        )
        details["header_row"] = None
        return frame, details, problems
    if fmt == "xlsx":
        unsafe = _unsafe_workbook(path, shown)
        if unsafe:
            problems.extend(unsafe)
            return None, details, problems
        sheet, chosen = choose_sheet(
            path, spec.sheet, shown, lambda rows: _find_header(rows, mapping, wanted) is not None
        )
        problems.extend(chosen)
        if sheet is None:
            return None, details, problems
        try:
            grid = pl.read_excel(
                path,
                sheet_name=sheet,
                engine="calamine",
                has_header=False,
                infer_schema_length=0,
                drop_empty_rows=False,
            )
        except Exception as exc:  # noqa: BLE001
            problems.append(
                fnd.error(shown, None, None, spec.sheet, "unreadable", f"not XLSX: {exc}")
            )
            return None, details, problems
        rows = [
            [("" if v is None else str(v)) for v in r] for r in grid.head(MAX_HEADER_SCAN).rows()
        ]
        header_index = _find_header(rows, mapping, wanted)
        if header_index is None:
            header_index = 0
        originals = rows[header_index] if rows else []
        names = _dedupe_headers(originals)
        details["headers"] = [str(h).strip() for h in originals]
        body = grid.slice(header_index + 1)
        body.columns = names
        body = body.with_columns(
            pl.int_range(header_index + 2, header_index + 2 + body.height, dtype=pl.Int64).alias(
                "source_row"
            )
        )
        body = _without_empty_rows(body)
        details["header_row"] = header_index + 1
        details["sheet"] = sheet
        return body, details, problems
    data = path.read_bytes()
    if spec.encoding:
        encoding, valid_utf8 = spec.encoding, spec.encoding == "utf-8" and is_utf8(data)
    else:
        encoding, valid_utf8 = _detect(data)
    details["encoding"] = encoding
    # the checks and the reader take UTF-8: the file's own bytes where they are valid
    # UTF-8 (no 100 MB str to build), else its text decoded and encoded once
    if encoding == "utf-8" and valid_utf8:
        utf8 = data
    else:
        try:
            utf8 = data.decode(encoding).encode("utf-8")
        except LookupError:
            problems.append(fnd.error(shown, None, None, encoding, "encoding", "no such encoding"))
            return None, details, problems
        except UnicodeDecodeError as exc:
            problems.append(_decode_error(data, exc, encoding, shown))
            return None, details, problems
    while utf8.startswith(codecs.BOM_UTF8):  # a BOM the encoding named kept
        utf8 = utf8[len(codecs.BOM_UTF8) :]
    utf8, structure = _line_structure(utf8, shown)
    if structure:
        problems.extend(structure)
        return None, details, problems
    nul = _nul_bytes(utf8, shown)
    if nul is not None:
        problems.append(nul)
        if nul.severity == "error":
            return None, details, problems
        utf8 = utf8.rstrip(b"\x00")
    head_lines = _head_lines(utf8, MAX_HEADER_SCAN)
    try:
        sample_rows = list(csv.reader(head_lines))
    except csv.Error:  # a field longer than the csv module allows: scan plain splits
        sample_rows = [line.split(",") for line in head_lines]
    header_index = _find_header(sample_rows, mapping, wanted) or 0

    def read(ragged: bool) -> pl.DataFrame:
        return pl.read_csv(
            io.BytesIO(utf8),
            skip_rows=header_index,
            infer_schema=False,
            truncate_ragged_lines=ragged,
            raise_if_empty=False,
        )

    try:
        try:
            frame = read(ragged=False)
        except pl.exceptions.ComputeError:  # rows with more values than the header
            frame = read(ragged=True)
            problems.extend(_ragged_rows(utf8.decode("utf-8"), header_index, shown))
    except Exception as exc:  # noqa: BLE001
        problems.append(_table_error(utf8.decode("utf-8"), exc, shown))
        return None, details, problems
    originals = sample_rows[header_index] if len(sample_rows) > header_index else []
    if len(originals) != frame.width:
        originals = frame.columns
    frame.columns = _dedupe_headers(frame.columns)
    details["headers"] = [str(h).strip() for h in originals]
    first = header_index + 2
    frame = frame.with_columns(
        pl.int_range(first, first + frame.height, dtype=pl.Int64).alias("source_row")
    )
    frame = _without_empty_rows(frame)
    details["header_row"] = header_index + 1
    return frame, details, problems


def _without_empty_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` without the rows that hold no value at all; as it is, not copied row by
    row, when it has none (the usual case: filtering 1M rows costs more than asking)."""
    empty = pl.all_horizontal(pl.exclude("source_row").is_null())
    if frame.width > 1 and not frame.select(empty.any()).item():
        return frame
    return frame.filter(~empty)


# An XLSX is a zip: its parts together may not inflate to more than this.
XLSX_MAX_INFLATED = 1 << 30


def _unsafe_workbook(path: Path, shown: str) -> list[fnd.Finding]:
    """Refuse a workbook that would inflate past :data:`XLSX_MAX_INFLATED`, holds a zip
    bomb or a DTD (:func:`arlib.bankfiles.check_xlsx`, from the declared sizes), or whose
    parts inflate to more than they declare. The last check inflates every part once with
    ``zipfile``, which stops at the declared size and fails the CRC on a lying header,
    because the workbook reader itself (calamine) would believe the stream instead."""
    import zipfile

    from arlib.bankfiles import check_xlsx

    if not zipfile.is_zipfile(path):
        return []  # not a zip at all: the reader's own error says so
    found = check_xlsx(path, shown, XLSX_MAX_INFLATED)
    if found:
        return found
    spans: dict[str, tuple[int, int]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(
                    ".xml"
                )
                rows = cols = 0
                tail = b""
                with archive.open(info) as part:
                    while chunk := part.read(1 << 20):
                        if sheet:
                            rows, cols = _widest_cell(tail + chunk, rows, cols)
                            tail = chunk[-64:]
                if sheet:
                    spans[info.filename] = (rows, cols)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
        return [
            fnd.error(
                shown,
                None,
                None,
                None,
                "xlsx_corrupt",
                f"a part of the workbook does not inflate to its declared size: "
                f"{fnd.excerpt(str(exc))}",
            )
        ]
    for part, (rows, cols) in spans.items():
        if rows * cols > XLSX_MAX_CELLS:
            return [
                fnd.error(
                    shown,
                    None,
                    None,
                    f"{_column_letters(cols)}{rows}",
                    "xlsx_too_large",
                    f"{part} spans {rows:,} rows × {cols:,} columns, more than the "
                    f"{XLSX_MAX_CELLS:,} cells arlib reads from one sheet (a cell or a "
                    "dimension far out, as in A1:XFD1048576?)",
                )
            ]
    return []


# A sheet is read as one rectangle of cells, so its far corner decides the memory needed.
XLSX_MAX_CELLS = 50_000_000
_COLUMN_REFERENCE = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,3})[0-9]')
_ROW_REFERENCE = re.compile(rb'<(?:c\b[^>]*?\br="[A-Z]{1,3}|row\b[^>]*?\br=")([0-9]{1,7})"')
_DIMENSION = re.compile(rb'<dimension\b[^>]*?\bref="(?:[A-Z]+[0-9]+:)?([A-Z]{1,3})([0-9]{1,7})"')


def _widest_cell(data: bytes, rows: int, cols: int) -> tuple[int, int]:
    """The farthest row and column named by cells, rows or the dimension in ``data`` (the
    searches run in C: a million-row sheet costs a fraction of a second)."""
    letters = set(_COLUMN_REFERENCE.findall(data))
    numbers = _ROW_REFERENCE.findall(data)
    if numbers:
        rows = max(rows, max(map(int, numbers)))
    for found in _DIMENSION.finditer(data):
        letters.add(found.group(1))
        rows = max(rows, int(found.group(2)))
    for text in letters:
        column = 0
        for letter in text:
            column = column * 26 + letter - 64
        cols = max(cols, column)
    return rows, cols


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def choose_sheet(
    path: Path, named: str | None, shown: str, is_table=lambda rows: True
) -> tuple[str | None, list]:
    """The sheet to read: the one the params name; else the only visible sheet; else the
    only visible sheet whose first rows hold the table's header (``is_table`` judges the
    first rows as text). A hidden sheet is never read unless named: people hide old or
    scratch data, not the figures they send. When several visible sheets could be the
    table (two halves of a month's invoices, say), reading one would silently leave the
    others out: the params must name it.

    Returns the sheet name (None when none can be read) and findings.
    """
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path))
        sheets = []
        for index, name in enumerate(reader.sheet_names):
            state = reader.load_sheet(index, header_row=None, n_rows=0).visible
            sheets.append((name, state))
    except Exception as exc:  # noqa: BLE001 - any reader failure is a finding
        return None, [
            fnd.error(shown, None, None, named, "unreadable", f"not XLSX: {fnd.excerpt(str(exc))}")
        ]
    names = [name for name, _ in sheets]
    if named is not None:
        state = dict(sheets).get(named)
        if state is None:
            return None, [
                fnd.error(
                    shown, None, None, named, "unknown_sheet", f"no such sheet; sheets: {names}"
                )
            ]
        if state != "visible":
            return named, [
                fnd.warning(
                    shown,
                    None,
                    None,
                    named,
                    "hidden_sheet",
                    f"the sheet is {state}; read because the params name it",
                )
            ]
        return named, []
    visible = [name for name, state in sheets if state == "visible"]
    if not visible:
        return None, [
            fnd.error(shown, None, None, None, "unreadable", f"every sheet is hidden: {names}")
        ]
    if len(visible) == 1:
        return visible[0], []
    tables = [name for name in visible if is_table(_first_rows(reader, name))]
    if len(tables) == 1:
        return tables[0], []
    return None, [
        fnd.error(
            shown,
            None,
            None,
            ", ".join(tables or visible),
            "sheet_ambiguous",
            f"{len(tables or visible)} visible sheets could hold this table; reading one would "
            "leave the others out: name the sheet in params (sheet: ...)",
        )
    ]


def _first_rows(reader, sheet: str) -> list[list[str]]:
    """The first rows of a sheet as text, for recognising its header."""
    try:
        frame = reader.load_sheet(sheet, header_row=None, n_rows=MAX_HEADER_SCAN).to_polars()
    except Exception:  # noqa: BLE001 - an unreadable sheet holds no table
        return []
    return [["" if v is None else str(v) for v in row] for row in frame.rows()]


def _table_error(text: str, exc: Exception, shown: str) -> fnd.Finding:
    """Why polars could not read ``text`` as a table, on the line where it starts (found by
    the strict ``csv`` reader, which counts lines; polars only gives a byte offset)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for _ in reader:
            pass
    except csv.Error as problem:
        line = reader.line_num
        return fnd.error(
            shown, line, None, None, "unreadable", f"not a CSV table from line {line}: {problem}"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return fnd.error(
        shown, None, None, None, "unreadable", f"not a CSV table: {fnd.excerpt(first)}"
    )


def _ragged_rows(text: str, header_index: int, shown: str) -> list[fnd.Finding]:
    """Rows with non-empty values beyond the header's last column (an unquoted comma?)."""
    try:
        records = list(csv.reader(io.StringIO(text)))[header_index:]
    except csv.Error as exc:
        return [fnd.error(shown, None, None, None, "unreadable", f"not a CSV table: {exc}")]
    width = len(records[0]) if records else 0
    found = []
    for offset, record in enumerate(records[1:]):
        extra = [v for v in record[width:] if v.strip()]
        if extra:
            found.append(
                fnd.error(
                    shown,
                    header_index + 2 + offset,
                    None,
                    ",".join(extra)[:200],
                    "ragged_row",
                    f"{len(record)} values but the header has {width} columns; "
                    "values past the last column were not read (unquoted comma?)",
                )
            )
    return found


def _dedupe_headers(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for raw in names:
        name = str(raw).strip() or "column"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _format_from_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "csv"


def load_input(name: str, spec: InputSpec, root: Path, base_currency: str = "CNY") -> LoadedInput:
    """Load one canonical input (invoices, receipts, customers, credit_notes, fx_rates)."""
    path = Path(spec.path)
    shown = display_path(path, root)
    provenance = {
        "input": name,
        "file": shown,
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
    }
    if name == "receipts" and _is_bank_file(path, spec):
        return _load_bank(spec, shown, provenance)
    mapping = _mapping_for(name, spec)
    required, optional = FRAMES[name]
    raw, details, problems = read_table(path, spec, mapping, set(required), shown)
    provenance.update(details)
    if raw is None:
        frame = conform(name, pl.DataFrame())
        return LoadedInput(name, frame, fnd.to_frame(problems), {**provenance, "rows": 0})
    frame, parse_findings = canonicalise(
        name,
        raw,
        mapping,
        spec,
        shown,
        headers=details.get("headers"),
        header_row=details.get("header_row"),
    )
    # a reply's disputed amounts are in their invoices' currencies, which it does not
    # name: no control total rather than one adding money of several currencies
    totals = {} if name == "replies" else control_totals(frame)
    provenance.update(rows=frame.height, control_totals=totals)
    found = fnd.concat(problems, parse_findings)
    return LoadedInput(name, frame, found, provenance)


def _is_bank_file(path: Path, spec: InputSpec) -> bool:
    """Bank formats go to :mod:`arlib.bankfiles`; plain tables are read here."""
    by_suffix = spec.format is None and path.suffix.lower() in BANK_SUFFIXES
    return bool(spec.preset) or spec.format in BANK_FORMATS or by_suffix


def _load_bank(spec: InputSpec, shown: str, provenance: dict) -> LoadedInput:
    from arlib.bankfiles import read_statement

    read = read_statement(
        Path(spec.path), fmt=spec.format, preset=spec.preset, encoding=spec.encoding
    )
    # the file as the user named it; a zip member keeps its name after '!'
    member = pl.col("source_file").str.extract(r"(![^!]+)$", 1).fill_null("")
    receipts = conform(
        "receipts", read.receipts.with_columns((pl.lit(shown) + member).alias("source_file"))
    )
    provenance.update(
        format=spec.format or "detected",
        rows=receipts.height,
        debit_lines=read.debits.height,
        control_totals=control_totals(receipts),
    )
    extras = {"statements": read.statements, "debits": read.debits}
    return LoadedInput("receipts", receipts, fnd.to_frame(read.findings), provenance, extras)


def canonicalise(
    name: str,
    raw: pl.DataFrame,
    mapping: dict[str, str],
    spec: InputSpec,
    shown: str,
    *,
    headers: list[str] | None = None,
    header_row: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rename to canonical columns, parse types, and report every value that did not parse.

    ``headers`` are the file's own header texts, one per column of ``raw`` (two columns
    may share one); without them the column names are used.
    """
    required, optional = FRAMES[name]
    types = {**required, **optional}
    renames, clashes = _canonical_names(raw, mapping, spec, types, headers)
    frame = raw.select([*renames, "source_row"]).rename(renames)
    frame = frame.with_columns(pl.lit(shown).alias("source_file"))
    problems: list[pl.DataFrame] = [
        fnd.to_frame(
            [
                fnd.Finding(severity, shown, header_row, target, ", ".join(names), rule, message)
                for severity, target, names, rule, message in clashes
            ]
        )
    ]
    headers = [c[:40] for c in raw.columns if c != "source_row"]
    if len(headers) > 30:  # a 10,000-column file must not make a 10,000-name message
        headers = [*headers[:30], f"... {len(headers) - 30} more"]
    for column in required:
        if column not in frame.columns:
            expected = [k for k, v in spec.columns.items() if v == column]
            hint = f" (params map {expected} to it)" if expected else ""
            problems.append(
                fnd.to_frame(
                    [
                        fnd.error(
                            shown,
                            None,
                            column,
                            None,
                            "missing_column",
                            f"required column {column!r} not found{hint}; headers are {headers}",
                        )
                    ]
                )
            )
    raw_text = {c: f"_raw_{c}" for c in frame.columns if c not in ("source_row", "source_file")}
    typed_numbers = {
        c for c in raw_text if frame.schema[c].is_numeric() and types.get(c) in (MONEY, RATE)
    }
    frame = frame.with_columns(
        parsing.typed_number_text(pl.col(c)).alias(alias)
        if c in typed_numbers
        else pl.col(c).cast(pl.String).alias(alias)
        for c, alias in raw_text.items()
    )
    money_columns = [c for c, t in types.items() if c in frame.columns and t in (MONEY, RATE)]
    frame = frame.with_columns(
        _parse(frame, column, dtype, spec)
        for column, dtype in types.items()
        if column in frame.columns and column not in money_columns
    )
    for column in money_columns:
        frame, found = read_money(frame, column, types[column], spec, typed=column in typed_numbers)
        problems.append(found)
    # which cells hold text, evaluated once per column (in one pass) for both checks below
    texts = frame.select(
        (pl.col(f"_raw_{c}").is_not_null() & (pl.col(f"_raw_{c}").str.strip_chars() != "")).alias(c)
        for c in types
        if c in frame.columns and (c in required or c not in money_columns)
    )
    for column, dtype in types.items():
        if column not in frame.columns:
            continue
        has_text = pl.lit(texts[column]) if column in texts.columns else None
        # a money column's unreadable cells have their own reasons (read_money)
        bad = pl.lit(False) if column in money_columns else has_text & pl.col(column).is_null()
        expected = _EXPECTED[dtype] if dtype in _EXPECTED else str(dtype)
        problems.append(
            fnd.from_rows(
                frame,
                bad,
                severity="error",
                column=column,
                rule="bad_value",
                message=f"cannot read as {expected}",
            )
        )
        if column in required:
            problems.append(
                fnd.from_rows(
                    frame,
                    ~has_text,
                    severity="error",
                    column=column,
                    rule="missing_value",
                    message="required value is empty",
                )
            )
    frame = conform(name, frame.drop(list(raw_text.values())))
    frame = frame.select([c for c in frame.columns if not c.startswith("_raw_")])
    return frame, fnd.concat(*problems)


def _canonical_names(
    raw: pl.DataFrame,
    mapping: dict[str, str],
    spec: InputSpec,
    types: dict,
    headers: list[str] | None,
) -> tuple[dict[str, str], list[tuple[str, str, list[str], str, str]]]:
    """Which file column becomes which canonical column.

    A header the params map explicitly wins over one that only matches a common name
    (``金额``, ``amount``), and the one left out is named in a warning; two columns that
    claim one canonical name with equal right are an error, because reading either would
    be a guess. Returns the renames and the clashes (severity, target, headers, rule,
    message).
    """
    columns = [c for c in raw.columns if c != "source_row"]
    if headers is None or len(headers) != len(columns):
        headers = columns
    explicit = {header_key(k) for k in spec.columns}
    claims: dict[str, list[tuple[str, str]]] = {}
    for column, header in zip(columns, headers, strict=True):
        target = mapping.get(header_key(header)) or mapping.get(header_key(column))
        if target and target in types:
            claims.setdefault(target, []).append((column, header))
    renames: dict[str, str] = {}
    clashes = []
    for target, claimants in claims.items():
        chosen = [c for c in claimants if header_key(c[1]) in explicit] or claimants
        names = [h for _, h in claimants]
        if len(chosen) > 1:
            same = len({header_key(h) for _, h in chosen}) == 1
            fix = (
                "rename one of them in the file"
                if same
                else f"say which one in params (columns: {{<input>: {{<header>: {target}}}}})"
            )
            clashes.append(
                (
                    "error",
                    target,
                    [h for _, h in chosen],
                    "duplicate_column",
                    f"{len(chosen)} columns read as {target!r}, and which one holds it "
                    f"would be a guess: {fix}",
                )
            )
        elif len(claimants) > 1:
            left_out = [h for c, h in claimants if c != chosen[0][0]]
            clashes.append(
                (
                    "warning",
                    target,
                    names,
                    "column_not_read",
                    f"the params map {chosen[0][1]!r} to {target!r}; "
                    f"{', '.join(map(repr, left_out))} also looks like it and is not read",
                )
            )
        renames[chosen[0][0]] = target
    return renames, clashes


_EXPECTED = {
    MONEY: "an amount such as 1,234.56",
    RATE: "a rate such as 7.1234",
    pl.Date: "a date such as 2026-10-31",
    pl.Int64: "a whole number",
    pl.Boolean: "yes/no",
}


def _parse(frame: pl.DataFrame, column: str, dtype, spec: InputSpec) -> pl.Series:
    """One non-money column read as ``dtype``: cells in plain form the short way, the
    others through the full normalisation (:func:`arlib.parsing.by_form`)."""
    actual = frame.schema[column]
    col = pl.col(column)
    if actual == dtype:
        return frame.get_column(column)
    if dtype == pl.Date and actual in (
        pl.Datetime,
        pl.Datetime("us"),
        pl.Datetime("ns"),
        pl.Datetime("ms"),
    ):
        return frame.select(col.cast(pl.Date)).to_series()
    text = col.cast(pl.String)
    plain = parsing.plain_text(text)

    def read(normalise: bool) -> pl.Expr:
        if dtype == pl.Date:
            return parsing.parse_date(
                parsing.bounded(text), dayfirst=spec.dayfirst, normalise=normalise
            )
        if dtype == pl.Int64:
            return parsing.parse_int(parsing.bounded(text), normalise=normalise)
        if dtype == pl.Boolean:
            return parsing.parse_bool(parsing.bounded(text), normalise=normalise)
        if column.endswith("_id") or column in ("currency",):
            expr = parsing.parse_id(text, normalise=normalise)
            return expr.str.to_uppercase() if column == "currency" else expr
        return parsing.clean_text(text) if normalise else text

    short = read(normalise=False)
    if dtype == pl.Date:
        plain = text.str.contains(parsing.PLAIN_DATE).fill_null(False)
        short = parsing.iso_date(text)
    parsed = parsing.by_form(frame, plain, [short.alias(column)], [read(True).alias(column)])
    return parsed.to_series()


RATE_DECIMALS = 8


def read_money(
    frame: pl.DataFrame, column: str, dtype, spec: InputSpec, *, typed: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read one money (or rate) column exactly, or refuse each cell with its reason.

    Which separator is the decimal one is the input's declared ``decimal_comma`` or, when
    the params do not say, what the column's own unambiguous cells show (``1,234.56`` and
    ``12.5`` show a decimal point, ``1.234,56`` and ``99,50`` a decimal comma); with no
    such cell the decimal point is assumed, and a cell it cannot read says it might be the
    other convention (``ambiguous_amount``). A cell is refused, never guessed or rounded,
    when it is written in the other convention, when it has more written decimals than its
    currency allows (``12.500`` in CNY: 12.50, or twelve thousand five hundred?), or when it
    is beyond the :data:`~arlib.parsing.MAX_INTEGER_DIGITS` arlib holds exactly.

    Returns ``frame`` with the column read (null where refused) and one finding per
    refused cell.
    """
    text = pl.col(f"_raw_{column}")
    parts = parsing.by_form(
        frame,
        parsing.plain_number(text),
        parsing.money_parts(text, plain=True),
        parsing.money_parts(text, plain=False),
    )
    work = frame.hstack(parts).with_columns(
        parsing.fits_point(pl.col("_body")).fill_null(False).alias("_point"),
        parsing.fits_comma(pl.col("_body")).fill_null(False).alias("_comma"),
    )
    declared = None if typed else spec.decimal_comma
    evidence = True
    if typed:
        decimal_comma = False
    elif declared is not None:
        decimal_comma = declared
    else:
        shown_point, shown_comma = work.select(
            (pl.col("_point") & ~pl.col("_comma")).sum().alias("point"),
            (pl.col("_comma") & ~pl.col("_point")).sum().alias("comma"),
        ).row(0)
        decimal_comma = shown_comma > shown_point
        evidence = shown_point + shown_comma > 0
    fits, other = (
        (pl.col("_comma"), pl.col("_point"))
        if decimal_comma
        else (pl.col("_point"), pl.col("_comma"))
    )
    if dtype == RATE:
        allowed: pl.Expr = pl.lit(RATE_DECIMALS)
        unit: pl.Expr = pl.lit("a rate")
    elif "currency" in frame.columns:
        allowed = currency_places_expr("currency")
        unit = pl.coalesce(pl.col("currency"), pl.lit("the currency"))
    else:
        allowed = pl.lit(2)
        unit = pl.lit("money")
    work = work.with_columns(
        parsing.canonical_from_body(
            pl.col("_body"), pl.col("_negative"), decimal_comma=decimal_comma, fits=fits
        ).alias("_canonical")
    )
    canonical = pl.col("_canonical")
    work = work.with_columns(canonical.cast(dtype, strict=False).alias("_value"))
    has_text = pl.col("_has_text")
    too_large = parsing.canonical_integer_digits(canonical) > parsing.MAX_INTEGER_DIGITS
    too_many = parsing.canonical_decimals(canonical) > allowed
    mark = pl.col("_mark")
    has_currency = "currency" in frame.columns and dtype != RATE
    # a column written without currency marks (the usual case) has no mismatch to look for
    marked = work["_mark"].null_count() < work.height
    foreign = (
        ~parsing.mark_allows(mark, pl.col("currency")) if has_currency and marked else pl.lit(False)
    )
    refusal = (
        pl.when(~has_text)
        .then(None)
        .when(~fits & ~other)
        .then(pl.lit("bad_value"))
        .when(~fits)
        .then(pl.lit("number_format"))
        .when(too_large)
        .then(pl.lit("amount_too_large"))
        .when(too_many & other & pl.lit(not evidence))
        .then(pl.lit("ambiguous_amount"))
        .when(too_many)
        .then(pl.lit("too_many_decimals"))
        .when(foreign)
        .then(pl.lit("currency_mismatch"))
        .when(pl.col("_value").is_null())
        .then(pl.lit("bad_value"))  # a backstop: nothing unreadable passes as empty
    )
    work = work.with_columns(refusal.alias("_refusal"))
    read = work.with_columns(
        pl.when(pl.col("_refusal").is_null() & has_text).then(pl.col("_value")).alias(column)
    ).drop(
        "_body",
        "_negative",
        "_point",
        "_comma",
        "_canonical",
        "_value",
        "_refusal",
        "_has_text",
        "_mark",
    )

    this, that = ("comma", "point") if decimal_comma else ("point", "comma")
    if declared is not None:
        why = f"the input declares decimal_comma: {str(declared).lower()}"
    else:
        why = f"the column's other values use a decimal {this}; declare decimal_comma"
    allows = pl.format("more decimals than {} allows ({})", unit, allowed)
    messages = {
        "bad_value": pl.lit(f"cannot read as {_EXPECTED[dtype]}"),
        "number_format": pl.lit(f"written with a decimal {that}, but {why}"),
        "amount_too_large": pl.lit(
            f"more than {parsing.MAX_INTEGER_DIGITS} integer digits: beyond what arlib holds "
            "exactly"
        ),
        "ambiguous_amount": pl.format(
            "{}, unless the {} groups thousands: if this file writes a decimal {}, declare "
            "decimal_comma: {}",
            allows,
            pl.lit(this),
            pl.lit(that),
            pl.lit(str(not decimal_comma).lower()),
        ),
        "too_many_decimals": pl.format("{}; nothing is rounded", allows),
        "currency_mismatch": pl.format(
            "written with {}, which cannot be the row's currency {}",
            mark,
            pl.col("currency") if has_currency else pl.lit(""),
        ),
    }
    message = pl.lit(None, pl.String)
    for rule, text in messages.items():
        message = pl.when(pl.col("_refusal") == rule).then(text).otherwise(message)
    found = fnd.from_rows(
        work,
        pl.col("_refusal").is_not_null(),
        severity="error",
        column=column,
        rule=pl.col("_refusal"),
        message=message,
    )
    return read, found


def control_totals(frame: pl.DataFrame) -> dict[str, str]:
    """Sum of ``amount`` per currency, as exact decimal strings."""
    if "amount" not in frame.columns or frame.height == 0:
        return {}
    if "currency" not in frame.columns:
        return {"": str(frame["amount"].sum())}
    sums = frame.group_by("currency").agg(pl.col("amount").sum()).sort("currency", nulls_last=True)
    return {str(c): str(a) for c, a in sums.iter_rows()}


@dataclasses.dataclass(frozen=True)
class Period:
    """A period's canonical frames, every finding, and the provenance of each input.

    ``frames['invoices']`` and ``frames['receipts']`` include the previous close's open
    invoices and unapplied cash (``origin`` = ``opening``), so matching treats them alike;
    ``frames['opening_exceptions']`` carries open exceptions and disputes forward,
    ``frames['notices']`` the dunning notices about open invoices so far (with what the
    previous close's contact log says was sent: :func:`arlib.dunning.with_contact_log`);
    ``opening_provision`` is the ECL provision the period starts from, and why.
    """

    frames: dict[str, pl.DataFrame]
    findings: pl.DataFrame
    provenance: list[dict]
    opening_provision: OpeningProvision
    statements: pl.DataFrame | None = None
    debits: pl.DataFrame | None = None


def load_decisions(spec: InputSpec, root: Path) -> LoadedInput:
    """Manual decisions (force a match, reject a suggestion, dispute, not AR)."""
    from arlib.schema import MONEY as money

    path = Path(spec.path)
    shown = display_path(path, root)
    provenance = {
        "input": "decisions",
        "file": shown,
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
    }
    mapping = {header_key(c): c for c in DECISION_COLUMNS}
    raw, details, problems = read_table(path, spec, mapping, {"receipt_id", "action"}, shown)
    if raw is None:
        return LoadedInput("decisions", pl.DataFrame(), fnd.to_frame(problems), provenance)
    raw = raw.rename({c: mapping[header_key(c)] for c in raw.columns if header_key(c) in mapping})
    for column in DECISION_COLUMNS:
        if column not in raw.columns:
            raw = raw.with_columns(pl.lit(None, pl.String).alias(column))
    frame = raw.with_columns(
        parsing.parse_id(pl.col("receipt_id")).alias("receipt_id"),
        parsing.parse_id(pl.col("invoice_id")).alias("invoice_id"),
        parsing.parse_id(pl.col("exception_id")).alias("exception_id"),
        parsing.clean_text(pl.col("owner")).alias("owner"),
        parsing.clean_text(pl.col("action")).str.to_lowercase().alias("action"),
        parsing.parse_money(pl.col("amount")).alias("amount_parsed"),
        pl.lit(shown).alias("source_file"),
    )
    allowed = list(DECISION_ACTIONS)
    bad = [
        fnd.from_rows(
            frame.with_columns(pl.col("action").alias("_raw_action")),
            ~pl.col("action").is_in(allowed).fill_null(False),
            severity="error",
            column="action",
            rule="bad_value",
            message=f"action must be one of {allowed}",
        ),
        fnd.from_rows(
            frame.with_columns(pl.col("amount").alias("_raw_amount")),
            pl.col("amount").is_not_null() & pl.col("amount_parsed").is_null(),
            severity="error",
            column="amount",
            rule="bad_value",
            message="cannot read as an amount such as 1,234.56",
        ),
    ]
    frame = frame.with_columns(pl.col("amount_parsed").cast(money).alias("amount")).select(
        *DECISION_COLUMNS, "source_file", "source_row"
    )
    provenance.update(details, rows=frame.height)
    return LoadedInput("decisions", frame, fnd.concat(problems, *bad), provenance)


def load_period(config: Config) -> Period:
    """Load and validate every input named in the params."""
    from arlib import carry, database, dunning, learning, validate
    from arlib.schema import empty

    names = [
        name
        for name in (
            "invoices",
            "receipts",
            "customers",
            "credit_notes",
            "fx_rates",
            "replies",
            "contacts",
        )
        if config.inputs.get(name) is not None
    ]

    def read(name: str) -> LoadedInput:
        spec = config.inputs[name]
        if spec.is_database:
            return database.load_input(name, spec, config)
        return load_input(name, spec, config.root, config.base_currency)

    # two inputs at a time: polars releases the GIL, so one file's single-threaded steps
    # run beside the other's; results (and any exception) are taken in this order
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(read, name) for name in names]
        loaded: dict[str, LoadedInput] = {
            name: future.result() for name, future in zip(names, pending, strict=True)
        }
    frames = {name: item.frame for name, item in loaded.items()}
    for name in ("credit_notes", "fx_rates", "replies", "contacts"):
        frames.setdefault(name, empty(name))
    findings = [item.findings for item in loaded.values()]
    provenance = [item.provenance for item in loaded.values()]
    frames["invoices"] = frames["invoices"].with_columns(
        pl.lit("period").alias("origin"), pl.lit(config.period).alias("origin_period")
    )
    frames["receipts"] = frames["receipts"].with_columns(
        pl.lit("period").alias("origin"), pl.lit(config.period).alias("origin_period")
    )
    frames["credit_notes"] = frames["credit_notes"].with_columns(
        pl.lit("period").alias("origin"), pl.lit(config.period).alias("origin_period")
    )
    frames["opening_exceptions"] = pl.DataFrame()
    recorded, recorded_in = None, None  # the previous close's provision, and its file
    frames["notices"] = pl.DataFrame(schema=dunning.NOTICE_SCHEMA)
    frames["opening_rejections"] = pl.DataFrame(schema=learning.REJECTION_SCHEMA)
    opening = config.inputs.get("opening")
    if opening is not None:
        shown = display_path(Path(opening.path), config.root)
        items, refused = carry.check_open_items(
            Path(opening.path), shown, config.period, config.entity
        )
        findings.append(fnd.to_frame(refused))
        if items is not None:
            findings.append(fnd.to_frame(opening_unchanged(Path(opening.path), shown)))
        if items is None:
            items = carry.split_open_items(carry.empty_open_items())
        else:
            recorded, refused = carry.recorded_provision(
                Path(opening.path), shown, config.base_currency
            )
            findings.append(fnd.to_frame(refused))
            recorded_in = None if refused else shown
        frames["invoices"] = pl.concat(
            [items["invoices"].with_columns(pl.lit("opening").alias("origin")), frames["invoices"]],
            how="diagonal_relaxed",
        )
        frames["receipts"] = pl.concat(
            [items["receipts"].with_columns(pl.lit("opening").alias("origin")), frames["receipts"]],
            how="diagonal_relaxed",
        )
        frames["credit_notes"] = pl.concat(
            [
                items["credit_notes"].with_columns(pl.lit("opening").alias("origin")),
                frames["credit_notes"],
            ],
            how="diagonal_relaxed",
        )
        frames["opening_exceptions"] = items["exceptions"]
        log_file = Path(opening.path).parent / "outbox" / dunning.CONTACT_LOG
        log, problems = dunning.check_contact_log(log_file, display_path(log_file, config.root))
        findings.append(fnd.to_frame(problems))
        frames["notices"] = dunning.with_contact_log(items["notices"], log)
        findings.append(fnd.to_frame(dunning.legacy_findings(items["legacy_dunning"], shown)))
        frames["opening_rejections"] = items.get("rejections", frames["opening_rejections"])
        reviewed = Path(opening.path).parent / learning.LEARNED_ALIASES
        if reviewed.is_file() and "customers" in frames:
            aliases, problems, seen = learning.accepted_aliases(
                reviewed, display_path(reviewed, config.root), frames["customers"]
            )
            frames["customers"] = learning.with_aliases(frames["customers"], aliases)
            findings.append(fnd.to_frame(problems))
            provenance.append(seen)
        provenance.append(
            {
                "input": "opening",
                "file": shown,
                "bytes": Path(opening.path).stat().st_size,
                "sha256": sha256_of(Path(opening.path)),
                "rows": sum(v.height for v in items.values()),
                "control_totals": control_totals(
                    items["invoices"].select("currency", pl.col("open_amount").alias("amount"))
                ),
            }
        )
    decisions = config.inputs.get("decisions")
    frames["decisions"] = pl.DataFrame()
    if decisions is not None:
        item = load_decisions(decisions, config.root)
        frames["decisions"] = item.frame
        findings.append(item.findings)
        provenance.append(item.provenance)
    if opening is not None:
        held = carry.carried_disputes(
            frames["opening_exceptions"], frames["receipts"], frames["decisions"], shown
        )
        rejected = learning.carried_rejections(
            frames["opening_rejections"], frames["receipts"], shown
        )
        frames["decisions"] = pl.concat(
            [frames["decisions"], held, rejected], how="diagonal_relaxed"
        )
    findings.append(validate.validate(frames, config))
    findings.extend(_followup(frames, config))
    bank = loaded.get("receipts")
    extras = bank.extras if bank else {}
    start, problems = opening_provision(
        config.provision.opening_provision, recorded, opening_file=recorded_in
    )
    findings.append(fnd.to_frame(problems))
    return Period(
        frames=frames,
        findings=database.with_row_keys(fnd.concat(*findings), loaded.values()),
        provenance=provenance,
        opening_provision=start,
        statements=extras.get("statements"),
        debits=extras.get("debits"),
    )


def _followup(frames: dict[str, pl.DataFrame], config: Config) -> list:
    """The follow-up registers the previous close left (each checked against its manifest,
    like the open items) brought up to date by this period's replies and contacts
    (:func:`arlib.followup.at_load`); their findings."""
    from arlib import carry, followup

    opening = config.inputs.get("opening")
    path = Path(opening.path) if opening is not None else None
    shown = display_path(path.parent, config.root) if path is not None else ""
    registers, problems = followup.read_registers(path, shown)
    # checked against the manifest like the open items; without a manifest the open
    # items' own warning says the previous close cannot be shown, once
    manifest = path is not None and (path.parent / "manifest.json").is_file()
    for name in carry.FOLLOWUP_REGISTERS if manifest else ():
        beside = carry.followup_path(path, name)
        if beside.is_file():
            problems += opening_unchanged(beside, display_path(beside, config.root))
    found = followup.at_load(frames, registers, config.period, config.as_of)
    return [fnd.to_frame(problems), *found]


def opening_unchanged(path: Path, shown: str) -> list[fnd.Finding]:
    """The opening file must be the one the previous close published: its SHA-256 is
    checked against that close's ``manifest.json`` beside it. A file changed or replaced
    since is an error (last period's figures would no longer be the ones signed off); one
    without such a manifest is a warning, because its origin cannot be shown."""
    import json

    manifest = path.parent / "manifest.json"
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8")).get("output_sha256") or {}
    except (OSError, ValueError):
        recorded = None
    if recorded is None or path.name not in recorded:
        return [
            fnd.warning(
                shown,
                None,
                None,
                None,
                "opening_unverified",
                "no manifest of the close that wrote it lies beside it (or it does not list "
                "this file), so it cannot be shown to be that close's output",
            )
        ]
    actual = sha256_of(path)
    if actual != recorded[path.name]:
        return [
            fnd.error(
                shown,
                None,
                None,
                actual[:16],
                "opening_changed",
                f"SHA-256 {actual[:16]}… differs from the {recorded[path.name][:16]}… that the "
                "previous close published in its manifest: the file was changed or replaced "
                "after that close",
            )
        ]
    return []


def provenance_frame(provenance: list[dict]) -> pl.DataFrame:
    """Provenance as a table: one row per input and currency with its control total, as
    money (the manifest keeps it as an exact string) so that it can be added and compared.
    An input's rows, format and SHA-256 are on its first line only (a column of row counts
    adds up to the rows read); a database input names its connection and query."""
    database = any(item.get("query") for item in provenance)
    rows = []
    for item in provenance:
        totals = item.get("control_totals") or {"": None}
        for n, (currency, total) in enumerate(totals.items()):
            first = n == 0
            row = {
                "input": item["input"],
                "file": item["file"],
                "format": item.get("format") if first else None,
                "encoding": item.get("encoding") if first else None,
                "rows": item.get("rows") if first else None,
                "currency": currency or None,
                "control_total": None if total is None else Decimal(total),
                "sha256": item["sha256"] if first else None,
            }
            if database:
                where = item.get("connection")
                row["query"] = f"{where}: {item['query']}" if first and where else None
            rows.append(row)
    return pl.DataFrame(
        rows,
        schema_overrides={"rows": pl.Int64, "control_total": MONEY, "sha256": pl.String},
        infer_schema_length=None,
    )
