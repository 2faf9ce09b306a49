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

import csv
import dataclasses
import hashlib
import io
import re
import unicodedata
from pathlib import Path

import polars as pl

from arlib import findings as fnd
from arlib import parsing
from arlib.config import Config, InputSpec
from arlib.schema import CURRENCY_DECIMALS, FRAMES, MONEY, RATE, conform

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
}

DECISION_COLUMNS = ("receipt_id", "action", "invoice_id", "amount", "who", "when", "why")
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
    Chinese export)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


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
        try:
            grid = pl.read_excel(
                path,
                sheet_name=spec.sheet,
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
        names = _dedupe_headers(rows[header_index] if rows else [])
        body = grid.slice(header_index + 1)
        body.columns = names
        body = body.with_columns(
            pl.int_range(header_index + 2, header_index + 2 + body.height, dtype=pl.Int64).alias(
                "source_row"
            )
        )
        body = body.filter(~pl.all_horizontal(pl.exclude("source_row").is_null()))
        details["header_row"] = header_index + 1
        details["sheet"] = spec.sheet or "(first sheet)"
        return body, details, problems
    data = path.read_bytes()
    encoding = spec.encoding or detect_encoding(data)
    details["encoding"] = encoding
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        problems.append(
            fnd.error(shown, None, None, None, "encoding", f"cannot decode as {encoding}: {exc}")
        )
        return None, details, problems
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        problems.append(
            fnd.warning(
                shown,
                line,
                None,
                None,
                "nul_bytes",
                f"{text.count(chr(0))} NUL byte(s) removed (first on line {line}); "
                "a UTF-16 file or a damaged export? save it as UTF-8 CSV",
            )
        )
        text = text.replace("\x00", "")
    head_lines = text.splitlines()[:MAX_HEADER_SCAN]
    try:
        sample_rows = list(csv.reader(head_lines))
    except csv.Error:  # a field longer than the csv module allows: scan plain splits
        sample_rows = [line.split(",") for line in head_lines]
    header_index = _find_header(sample_rows, mapping, wanted) or 0
    utf8 = text.encode("utf-8")

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
            problems.extend(_ragged_rows(text, header_index, shown))
    except Exception as exc:  # noqa: BLE001
        problems.append(fnd.error(shown, None, None, None, "unreadable", f"not a CSV table: {exc}"))
        return None, details, problems
    frame.columns = _dedupe_headers(frame.columns)
    first = header_index + 2
    frame = frame.with_columns(
        pl.int_range(first, first + frame.height, dtype=pl.Int64).alias("source_row")
    )
    frame = frame.filter(~pl.all_horizontal(pl.exclude("source_row").is_null()))
    details["header_row"] = header_index + 1
    return frame, details, problems


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
    frame, parse_findings = canonicalise(name, raw, mapping, spec, shown)
    provenance.update(rows=frame.height, control_totals=control_totals(frame))
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
    name: str, raw: pl.DataFrame, mapping: dict[str, str], spec: InputSpec, shown: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rename to canonical columns, parse types, and report every value that did not parse."""
    required, optional = FRAMES[name]
    types = {**required, **optional}
    renames: dict[str, str] = {}
    for column in raw.columns:
        if column == "source_row":
            continue
        target = mapping.get(header_key(column))
        if target and target in types and target not in renames.values():
            renames[column] = target
    frame = raw.select([*renames, "source_row"]).rename(renames)
    frame = frame.with_columns(pl.lit(shown).alias("source_file"))
    problems: list[pl.DataFrame] = []
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
    frame = frame.with_columns(
        pl.col(c).cast(pl.String).alias(alias)
        if frame.schema[c] != pl.String
        else pl.col(c).alias(alias)
        for c, alias in raw_text.items()
    )
    exprs = []
    for column, dtype in types.items():
        if column not in frame.columns:
            continue
        exprs.append(_parse(column, dtype, frame.schema[column], spec).alias(column))
    frame = frame.with_columns(exprs)
    for column, dtype in types.items():
        if column not in frame.columns:
            continue
        raw_col = pl.col(f"_raw_{column}")
        has_text = raw_col.is_not_null() & (raw_col.str.strip_chars() != "")
        bad = has_text & pl.col(column).is_null()
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
    if "amount" in frame.columns and types.get("amount") == MONEY:
        problems.append(_decimal_places(frame, "amount", spec))
    frame = conform(name, frame.drop(list(raw_text.values())))
    frame = frame.select([c for c in frame.columns if not c.startswith("_raw_")])
    return frame, fnd.concat(*problems)


_EXPECTED = {
    MONEY: "an amount such as 1,234.56",
    RATE: "a rate such as 7.1234",
    pl.Date: "a date such as 2026-10-31",
    pl.Int64: "a whole number",
    pl.Boolean: "yes/no",
}


def _parse(column: str, dtype, actual, spec: InputSpec) -> pl.Expr:
    col = pl.col(column)
    if actual == dtype:
        return col
    if dtype == MONEY:
        return parsing.parse_money(col, decimal_comma=spec.decimal_comma)
    if dtype == RATE:
        text = parsing.money_text(col, decimal_comma=spec.decimal_comma)
        return pl.when(text.str.contains(parsing.MONEY_PATTERN)).then(text).cast(RATE, strict=False)
    if dtype == pl.Date:
        if actual in (pl.Datetime, pl.Datetime("us"), pl.Datetime("ns"), pl.Datetime("ms")):
            return col.cast(pl.Date)
        return parsing.parse_date(col, dayfirst=spec.dayfirst)
    if dtype == pl.Int64:
        return parsing.parse_int(col)
    if dtype == pl.Boolean:
        return parsing.parse_bool(col)
    if column.endswith("_id") or column in ("currency",):
        expr = parsing.parse_id(col)
        return expr.str.to_uppercase() if column == "currency" else expr
    return parsing.clean_text(col)


def _decimal_places(frame: pl.DataFrame, column: str, spec: InputSpec) -> pl.DataFrame:
    """A value with more decimals than its currency allows is an error, never a rounding."""
    if f"_raw_{column}" not in frame.columns:
        return fnd.to_frame([])
    canonical = parsing.money_text(pl.col(f"_raw_{column}"), decimal_comma=spec.decimal_comma)
    allowed = (
        pl.col("currency").replace_strict(CURRENCY_DECIMALS, default=2, return_dtype=pl.Int64)
        if "currency" in frame.columns
        else pl.lit(2)
    )
    decimals = parsing.money_decimals(canonical)
    too_many = canonical.str.contains(parsing.MONEY_PATTERN) & (decimals > allowed)
    return fnd.from_rows(
        frame,
        too_many.fill_null(False),
        severity="error",
        column=column,
        rule="too_many_decimals",
        message="more decimals than the currency allows (no rounding is done)",
    )


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
    ``frames['opening_exceptions']`` carries open exceptions and disputes forward.
    """

    frames: dict[str, pl.DataFrame]
    findings: pl.DataFrame
    provenance: list[dict]
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
        parsing.clean_text(pl.col("action")).str.to_lowercase().alias("action"),
        parsing.parse_money(pl.col("amount")).alias("amount_parsed"),
        pl.lit(shown).alias("source_file"),
    )
    allowed = ["match", "reject", "dispute", "not_ar"]
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
    from arlib import carry, validate
    from arlib.schema import empty

    loaded: dict[str, LoadedInput] = {}
    for name in ("invoices", "receipts", "customers", "credit_notes", "fx_rates"):
        spec = config.inputs.get(name)
        if spec is not None:
            loaded[name] = load_input(name, spec, config.root, config.base_currency)
    frames = {name: item.frame for name, item in loaded.items()}
    for name in ("credit_notes", "fx_rates"):
        frames.setdefault(name, empty(name))
    findings = [item.findings for item in loaded.values()]
    provenance = [item.provenance for item in loaded.values()]
    frames["invoices"] = frames["invoices"].with_columns(
        pl.lit("period").alias("origin"), pl.lit(config.period).alias("origin_period")
    )
    frames["receipts"] = frames["receipts"].with_columns(
        pl.lit("period").alias("origin"), pl.lit(config.period).alias("origin_period")
    )
    frames["opening_exceptions"] = pl.DataFrame()
    opening = config.inputs.get("opening")
    if opening is not None:
        items = carry.read_open_items(Path(opening.path))
        shown = display_path(Path(opening.path), config.root)
        frames["invoices"] = pl.concat(
            [items["invoices"].with_columns(pl.lit("opening").alias("origin")), frames["invoices"]],
            how="diagonal_relaxed",
        )
        frames["receipts"] = pl.concat(
            [items["receipts"].with_columns(pl.lit("opening").alias("origin")), frames["receipts"]],
            how="diagonal_relaxed",
        )
        frames["opening_exceptions"] = items["exceptions"]
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
    findings.append(validate.validate(frames, config))
    bank = loaded.get("receipts")
    extras = bank.extras if bank else {}
    return Period(
        frames=frames,
        findings=fnd.concat(*findings),
        provenance=provenance,
        statements=extras.get("statements"),
        debits=extras.get("debits"),
    )


def provenance_frame(provenance: list[dict]) -> pl.DataFrame:
    """Provenance as a table: one row per input and currency with its control total."""
    rows = []
    for item in provenance:
        totals = item.get("control_totals") or {"": None}
        for currency, total in totals.items():
            rows.append(
                {
                    "input": item["input"],
                    "file": item["file"],
                    "format": item.get("format"),
                    "encoding": item.get("encoding"),
                    "rows": item.get("rows"),
                    "currency": currency or None,
                    "control_total": total,
                    "sha256": item["sha256"],
                }
            )
    return pl.DataFrame(rows, schema_overrides={"rows": pl.Int64}, infer_schema_length=None)
