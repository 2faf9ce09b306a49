"""Inputs read from a database (``inputs.<name>: {sql: ..., connection: ...}`` or
``{table: ..., connection: ...}``): the ERP's own tables instead of a monthly CSV export.

Why ADBC: it hands the result over as Arrow columns (PostgreSQL's binary COPY), so 1M
invoices arrive as columns without a Python object per value, and it binds parameters
(:period_start, :period_end, :as_of) as values, never as text written into the SQL. A
query runs in a read-only transaction (SQLite: the file opened read-only), so an input
cannot change the ledger it reads.

The result then goes through the very mapping, parsing and checks of a file
(:func:`arlib.load.canonicalise`), so a database input gives the same canonical frame and
findings as the same rows in a CSV. A finding names the query and the row's key
(``erp:invoices query [invoice_id=INV0002501]``) instead of a file row number, and every
failure (unreachable server, bad SQL, a timeout, a column of a type arlib cannot read) is a
finding naming the input, never a traceback. The password comes only from the
environment variable the connection names, and appears in no finding or provenance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import urllib.parse
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pyarrow as pa

from arlib import findings as fnd
from arlib.config import Config, Connection, InputSpec
from arlib.load import LoadedInput, _dedupe_headers, _mapping_for, canonicalise, control_totals
from arlib.schema import conform

#: what a query may bind: the close's own dates
PARAMETERS = ("period_start", "period_end", "as_of")

#: what names a row of each input in a finding
ROW_KEYS = {
    "invoices": ("invoice_id",),
    "receipts": ("receipt_id",),
    "customers": ("customer_id",),
    "credit_notes": ("credit_id",),
    "fx_rates": ("date", "currency"),
}

# Parts of SQL where ':name' is no parameter: quoted text and names, comments, PostgreSQL
# dollar quoting and '::' casts. The first alternative that matches where the scan stands
# is taken, so a quoted ':x' is consumed as quoted text.
_SQL_TOKENS = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$([A-Za-z_]\w*)?\$.*?\$\1\$|::"""
    r"""|(?<![\w:]):(?P<name>[A-Za-z_]\w*)""",
    re.DOTALL,
)

# Arrow types whose values the loader reads as they are; any other is cast to text
_READABLE = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_decimal,
    pa.types.is_date,
    pa.types.is_timestamp,
    pa.types.is_boolean,
    pa.types.is_null,
)


def _placeholders(sql: str) -> list[re.Match]:
    return [m for m in _SQL_TOKENS.finditer(sql) if m.group("name")]


def unknown_parameters(sql: str) -> list[str]:
    """The ``:name`` placeholders of ``sql`` that arlib does not bind."""
    names = dict.fromkeys(m.group("name") for m in _placeholders(sql))
    return [name for name in names if name not in PARAMETERS]


def bind(sql: str, dialect: str) -> tuple[str, list[str]]:
    """``sql`` with each ``:name`` as the driver's positional placeholder (``$1`` for
    PostgreSQL, ``?1`` for SQLite; one number per name), and the names in that order."""
    names: list[str] = []
    parts, last = [], 0
    for match in _placeholders(sql):
        name = match.group("name")
        if name not in names:
            names.append(name)
        mark = "$" if dialect == "postgresql" else "?"
        parts += [sql[last : match.start()], f"{mark}{names.index(name) + 1}"]
        last = match.end()
    return "".join(parts) + sql[last:], names


def query_of(spec: InputSpec) -> str:
    """The SQL an input runs, as the params give it (a table is read whole)."""
    return spec.sql if spec.sql is not None else f"SELECT * FROM {spec.table}"


def source_name(spec: InputSpec, name: str) -> str:
    """How findings and provenance name a database input: ``erp:invoices query``."""
    if spec.table is not None:
        return f"{spec.connection}:{spec.table} table"
    return f"{spec.connection}:{name} query"


def bound_values(config: Config) -> dict[str, dt.date]:
    return {
        "period_start": config.period_start,
        "period_end": config.period_end,
        "as_of": config.as_of,
    }


class Refused(Exception):
    """A database input that cannot be read; its message is the finding's."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def _scrubbed(text: str, secret: str | None) -> str:
    """A driver's message, first lines only, with the password (in any encoding it may
    have been written in) taken out."""
    if secret:
        for form in {secret, urllib.parse.quote(secret, safe="")}:
            text = text.replace(form, "***")
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    lines = [line for line in lines if not line.lower().startswith("query:")]
    return fnd.excerpt(" ".join(lines[:3]), 400) or "no message"


def _password(connection: Connection, name: str) -> str | None:
    if connection.password_env is None:
        return None
    value = os.environ.get(connection.password_env)
    if not value:
        raise Refused(
            "database_password",
            f"the environment variable {connection.password_env} (password_env of "
            f"connection {name!r}) is not set",
        )
    return value


def _connect(connection: Connection, name: str, root, secret: str | None):
    """A read-only connection: SQLite opened read-only, PostgreSQL as given."""
    if connection.is_sqlite:
        import adbc_driver_sqlite.dbapi as driver

        path = connection.sqlite_path(root)
        return driver.connect(f"file:{urllib.parse.quote(path.as_posix())}?mode=ro"), "sqlite"
    import adbc_driver_postgresql.dbapi as driver

    extra = {"connect_timeout": str(min(connection.timeout_seconds, 60))}
    if secret is not None:
        extra["password"] = secret
    uri = connection.url + ("&" if "?" in connection.url else "?") + urllib.parse.urlencode(extra)
    return driver.connect(uri), "postgresql"


def read_result(
    connection: Connection, name: str, root, sql: str, values: dict[str, dt.date]
) -> pa.Table:
    """Run ``sql`` in a read-only transaction with its placeholders bound; the result as
    Arrow. Raises :class:`Refused` with the reason, scrubbed of the password."""
    secret = _password(connection, name)
    try:
        conn, dialect = _connect(connection, name, root, secret)
    except Exception as exc:  # noqa: BLE001 - any driver failure is a finding
        raise Refused(
            "database_unreachable", f"cannot connect to {name!r}: {_scrubbed(str(exc), secret)}"
        ) from None
    text, names = bind(sql, dialect)
    given = tuple(values[n] if dialect == "postgresql" else values[n].isoformat() for n in names)
    try:
        cursor = conn.cursor()
        if dialect == "postgresql":
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(f"SET LOCAL statement_timeout = {connection.timeout_seconds * 1000}")
        else:
            cursor.execute("PRAGMA query_only = ON")
        cursor.execute(text, given or None)
        return cursor.fetch_arrow_table()
    except Exception as exc:  # noqa: BLE001
        message = _scrubbed(str(exc), secret)
        if "statement timeout" in message or "CANCELLED" in message:
            raise Refused(
                "query_timeout",
                f"the query ran longer than {connection.timeout_seconds} s "
                f"(connections.{name}.timeout_seconds) and was cancelled",
            ) from None
        raise Refused("query_failed", f"the query failed: {message}") from None
    finally:
        try:
            conn.rollback()
        finally:
            conn.close()


def _as_frame(table: pa.Table, shown: str) -> tuple[pl.DataFrame, list[fnd.Finding]]:
    """The result as polars columns: PostgreSQL's NUMERIC (opaque to Arrow) as its text,
    any other type arlib does not read as text, and a column that cannot be refused."""
    problems: list[fnd.Finding] = []
    columns, names = [], _dedupe_headers(table.column_names)
    for name, column in zip(names, table.columns, strict=True):
        if isinstance(column.type, pa.ExtensionType):
            column = pa.chunked_array([c.storage for c in column.chunks], column.type.storage_type)
        if not any(check(column.type) for check in _READABLE):
            try:
                column = column.cast(pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                problems.append(
                    fnd.error(
                        shown,
                        None,
                        name,
                        str(column.type),
                        "unreadable_type",
                        f"column {name!r} is of type {column.type}, which arlib cannot read: "
                        "cast it to text, a number or a date in the query",
                    )
                )
                continue
        columns.append((name, column))
    frame = pl.from_arrow(pa.table(dict(columns))) if columns else pl.DataFrame()
    return frame, problems


def result_sha256(frame: pl.DataFrame) -> str:
    """SHA-256 of the result as canonical CSV: the query's column names as the header,
    the values as read (dates ISO, numbers as the database gave them, empty for null),
    comma-separated, quoted only where needed, LF line ends, UTF-8 (polars' CSV)."""
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return hashlib.sha256(buffer.getbuffer()).hexdigest()


def load_input(name: str, spec: InputSpec, config: Config) -> LoadedInput:
    """Load one input from its query or table, as :func:`arlib.load.load_input` does a
    file: canonical frame, findings (row keys instead of row numbers) and provenance."""
    connection = config.params.connections[spec.connection]
    shown = source_name(spec, name)
    sql = query_of(spec)
    values = {k: v for k, v in bound_values(config).items() if k in bind(sql, "sqlite")[1]}
    provenance = {
        "input": name,
        "file": shown,
        "format": "table" if spec.table is not None else "sql",
        "connection": spec.connection,
        "url": connection.url,
        "query": sql,
        "parameters": {k: v.isoformat() for k, v in values.items()},
    }
    empty = conform(name, pl.DataFrame())
    try:
        table = read_result(connection, spec.connection, config.root, sql, values)
    except Refused as refused:
        found = fnd.to_frame([fnd.error(shown, None, None, None, refused.rule, str(refused))])
        return LoadedInput(name, empty, found, {**provenance, "rows": 0, "sha256": None})
    raw, problems = _as_frame(table, shown)
    with ThreadPoolExecutor(1) as pool:  # the hash of 1M rows while they are read
        digest = pool.submit(result_sha256, raw)
        numbered = pl.int_range(1, raw.height + 1, dtype=pl.Int64).alias("source_row")
        mapping = _mapping_for(name, spec)
        frame, parse_findings = canonicalise(name, raw.with_columns(numbered), mapping, spec, shown)
        provenance.update(rows=raw.height, sha256=digest.result(), columns=raw.columns)
    provenance.update(control_totals=control_totals(frame))
    keys = [k for k in ROW_KEYS[name] if k in frame.columns]
    labels = frame.select(
        pl.lit(shown).alias("file"),
        pl.col("source_row").alias("row"),
        pl.concat_str(
            [pl.format(f"{k}={{}}", pl.col(k).cast(pl.String).fill_null("(empty)")) for k in keys],
            separator=" ",
        ).alias("_key")
        if keys
        else pl.lit(None, pl.String).alias("_key"),
    )
    found = fnd.concat(problems, parse_findings)
    return LoadedInput(name, frame, found, provenance, {"row_keys": labels})


def with_row_keys(findings: pl.DataFrame, loaded: Iterable[LoadedInput]) -> pl.DataFrame:
    """Findings about rows of a database input name the query and the row's key
    (``erp:invoices query [invoice_id=INV0002501]``), not the row's place in the result."""
    labels = [item.extras["row_keys"] for item in loaded if "row_keys" in item.extras]
    if not labels or findings.height == 0:
        return findings
    named = findings.join(pl.concat(labels), on=["file", "row"], how="left", maintain_order="left")
    keyed = pl.col("_key").is_not_null()
    named = named.with_columns(
        pl.when(keyed)
        .then(pl.format("{} [{}]", pl.col("file"), pl.col("_key")))
        .otherwise(pl.col("file"))
        .alias("file"),
        pl.when(keyed).then(None).otherwise(pl.col("row")).alias("row"),
    )
    return fnd.to_frame(named.drop("_key"))
