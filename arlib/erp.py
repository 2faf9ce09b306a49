"""The sample period as a small ERP's database: what ``inputs.<name>: {sql: ...}`` reads.

Why: a newcomer should see a close read straight from an ERP without having one, and the
tests need a database whose rows are exactly the sample's CSVs, so the two paths can be
compared byte for byte. The layout is an ERP's, not a CSV's: customers; invoice headers
with their lines (the amount is the sum of the lines); credit notes; payments (the bank
lines); FX rates. Each table has a surrogate ``id`` in entry order. Amounts are integer
cents (``amount_cents``), as ERPs keep them: exact in SQLite, which has no decimal type.

:func:`write_sqlite` writes it as a SQLite file (``arlib synth``), :func:`postgres_script`
as a psql script (tests and benchmarks load it into a PostgreSQL server).
"""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import polars as pl

from arlib.config import InputSpec
from arlib.money import cents_expr
from arlib.schema import MONEY, RATE

#: the sample's CSVs of one period, by input (receipts: the bank's own export)
SAMPLE_FILES = {
    "customers": "customers.csv",
    "invoices": "{period}/invoices.csv",
    "credit_notes": "{period}/credit_notes.csv",
    "receipts": "{period}/bank_statement.csv",
    "fx_rates": "{period}/fx_rates.csv",
}
#: the ERP table each input's rows are kept in
TABLES = {
    "customers": "customers",
    "invoices": "invoices",
    "credit_notes": "credit_notes",
    "receipts": "payments",
    "fx_rates": "fx_rates",
}
_SQLITE_TYPES = {"text": "TEXT", "date": "TEXT", "cents": "INTEGER", "int": "INTEGER"}
_SQLITE_TYPES["rate"] = "TEXT"
_PG_TYPES = {"text": "text", "date": "date", "cents": "bigint", "int": "bigint"}
_PG_TYPES["rate"] = "numeric(18,8)"


def _kind(dtype: pl.DataType) -> str:
    if dtype == MONEY:
        return "cents"
    if dtype == RATE:
        return "rate"
    if dtype == pl.Date:
        return "date"
    if dtype.is_integer():
        return "int"
    return "text"


def _stored(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """A canonical frame as an ERP table stores it: money as ``<column>_cents``, dates
    as ISO text, everything else as text or integers; and each column's kind."""
    frame = frame.drop("source_file", "source_row", strict=False)
    kinds, columns = {}, []
    for name, dtype in frame.schema.items():
        kind = _kind(dtype)
        if kind == "cents":
            columns.append(cents_expr(name).alias(f"{name}_cents"))
            kinds[f"{name}_cents"] = kind
        elif kind in ("text", "date", "rate"):
            columns.append(pl.col(name).cast(pl.String))
            kinds[name] = kind
        else:
            columns.append(pl.col(name))
            kinds[name] = kind
    return frame.select(columns), kinds


def _lines(invoices: pl.DataFrame) -> pl.DataFrame:
    """Invoice lines: two per invoice of at least two cents, adding up to its amount and
    tax (a tax left empty is empty on every line)."""
    first = pl.col("amount_cents") // 2
    tax_first = pl.col("tax_amount_cents") // 2
    one = invoices.select(
        "invoice_id",
        pl.lit(1).alias("line_no"),
        first.alias("amount_cents"),
        tax_first.alias("tax_cents"),
    )
    two = invoices.select(
        "invoice_id",
        pl.lit(2).alias("line_no"),
        (pl.col("amount_cents") - first).alias("amount_cents"),
        (pl.col("tax_amount_cents") - tax_first).alias("tax_cents"),
    )
    lines = pl.concat([one, two]).filter(
        (pl.col("line_no") == 2) | (pl.col("amount_cents") != 0) | pl.col("tax_cents").ne(0)
    )
    order = invoices.select("invoice_id").with_row_index("_order")
    return lines.join(order, on="invoice_id").sort("_order", "line_no").drop("_order")


def sample_tables(sample: Path, period: str) -> dict[str, tuple[pl.DataFrame, dict[str, str]]]:
    """The ERP's tables (rows and column kinds), from the sample's CSVs of ``period``
    read by the loader itself, so they hold exactly what a close of the CSVs reads."""
    from arlib.load import load_input

    tables = {}
    for name, file in SAMPLE_FILES.items():
        spec = InputSpec(path=sample / file.format(period=period))
        loaded = load_input(name, spec, sample)
        if loaded.findings.filter(pl.col("severity") == "error").height:
            raise ValueError(f"{file}: the sample does not load cleanly: {loaded.findings}")
        tables[TABLES[name]] = _stored(loaded.frame)
    invoices, kinds = tables["invoices"]
    lines = _lines(invoices)
    header = [c for c in invoices.columns if c not in ("amount_cents", "tax_amount_cents")]
    tables["invoices"] = (invoices.select(header), {c: kinds[c] for c in header})
    line_kinds = {"invoice_id": "text", "line_no": "int", "amount_cents": "cents"}
    tables["invoice_lines"] = (lines, {**line_kinds, "tax_cents": "cents"})
    return tables


def _ddl(table: str, kinds: dict[str, str], types: dict[str, str], key: str) -> str:
    columns = [f"id {key}"] + [f"{name} {types[kind]}" for name, kind in kinds.items()]
    return f"CREATE TABLE {table} (\n  " + ",\n  ".join(columns) + "\n)"


def write_sqlite(tables: dict, path: Path) -> Path:
    """The tables as a SQLite database at ``path`` (replaced if there)."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        for table, (frame, kinds) in tables.items():
            db.execute(_ddl(table, kinds, _SQLITE_TYPES, "INTEGER PRIMARY KEY"))
            marks = ", ".join("?" * frame.width)
            db.executemany(
                f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES ({marks})",
                frame.rows(),
            )
    db.close()
    return path


def postgres_script(tables: dict) -> str:
    """The tables as a psql script: each table created and filled by ``COPY``."""
    parts = []
    for table, (frame, kinds) in tables.items():
        parts.append(_ddl(table, kinds, _PG_TYPES, "bigint PRIMARY KEY") + ";")
        numbered = frame.with_row_index("id", offset=1)
        body = io.StringIO()
        csv.writer(body, lineterminator="\n").writerows(numbered.rows())
        parts.append(f"COPY {table} ({', '.join(numbered.columns)}) FROM STDIN WITH (FORMAT csv);")
        parts.append(body.getvalue() + "\\.")
    return "\n".join(parts) + "\n"


def dump(path: Path) -> str:
    """A SQLite database's schema and rows as SQL text: how a regenerated sample is
    compared with the committed one (the file's bytes depend on SQLite's version)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        text = "\n".join(db.iterdump())
    db.close()
    return text
