"""The params of a close as one typed schema: the :class:`Params` model, its loader, its
JSON Schema and its documented defaults.

Why one model: the params file describes the whole run (DESIGN.md) and is the product's
interface: editors check it against ``docs/params.schema.json`` (``arlib schema``),
``arlib defaults`` documents it, the manifest records it resolved (every default filled
in), and the stages read their sections from it as typed attributes (``config.matching``).
All of these come from the same pydantic models: :class:`Params` here, composed of each
stage's own section model (``arlib.match.MatchConfig`` ...), so a field's type, default and
description are written once.

Why one loader: papermill passes the keys of a params file into every notebook as strings
(YAML dates arrive as ``'2026-10-31'``), and a user must see every problem with the file at
once, named by key. ``load_config`` therefore collects all problems and raises one
:class:`ConfigError` listing them as ``key.path: message``.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import re
import textwrap
import typing
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import to_jsonable_python

from arlib.aging import AgingConfig, TierConfig
from arlib.exceptions import ExceptionConfig
from arlib.findings import excerpt, quote
from arlib.followup.tasks import FollowupConfig
from arlib.journal import JournalConfig
from arlib.kpis import KpiConfig
from arlib.match import MatchConfig
from arlib.outbox import OutboxConfig
from arlib.paramtypes import (
    PROBLEM,
    Exact,
    FilePath,
    Flag,
    Range,
    Section,
    Text,
    Whole,
    choice,
    excess_places,
    problem,
    problems_at,
)
from arlib.provision import ProvisionConfig
from arlib.safe_output import bounded_lines
from arlib.schema import CURRENCY_DECIMALS, FRAMES
from arlib.statements import StatementConfig

INPUT_NAMES = (
    "invoices",
    "receipts",
    "customers",
    "credit_notes",
    "fx_rates",
    "opening",
    "decisions",
    "replies",
    "contacts",
)
REQUIRED_INPUTS = ("invoices", "receipts", "customers")
FORMATS = ("csv", "xlsx", "parquet", "mt940", "camt053", "camt054", "ofx", "bai2")
Format = choice(FORMATS, "format")
Currency = choice(tuple(CURRENCY_DECIMALS), "currency")
# A params file is a page of settings: bigger, deeper or (through YAML aliases) wider
# than this is refused before anything walks it (an alias "bomb" expands exponentially).
MAX_PARAMS_BYTES = 1_000_000
MAX_PARAMS_VALUES = 100_000
MAX_PARAMS_DEPTH = 50
# Keys that `arlib close` and notebooks pass along with the params, not written by users.
INJECTED = ("params_file", "root")


class ConfigError(ValueError):
    """Every problem found in a params file, raised once."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in params:\n{lines}")


def _unknown_columns(frame: str, mapping: Mapping[str, str]) -> list[tuple[tuple[str], str]]:
    """Header mappings of ``frame`` whose target is not one of its canonical columns."""
    if frame not in FRAMES:  # opening items and decisions have their own fixed columns
        return []
    known = set(FRAMES[frame][0]) | set(FRAMES[frame][1])
    return [
        (
            (header,),
            f"{quote(target)} is not a column of {frame} (known: {', '.join(sorted(known))})",
        )
        for header, target in mapping.items()
        if target not in known
    ]


def _given(value: Any) -> Any:
    """A mapping without its null values: ``matching:`` with nothing under it (or a
    parameter papermill left unset) means the defaults, as if the key were not there."""
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if v is not None}
    return value


#: inputs that may come from a database query or table instead of a file (opening items
#: and decisions are files arlib itself writes or a preparer edits)
DATABASE_INPUTS = ("invoices", "receipts", "customers", "credit_notes", "fx_rates")
# a table name as params give it: ``customers`` or ``erp.customers``, nothing to quote
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


class Connection(Section):
    """A database that inputs are read from (``connections.<name>``): a URL, or a mapping
    with ``url`` and ``password_env``. The password is never written in params (which the
    manifest records): it is read from the environment variable ``password_env`` names."""

    url: Text = Field(
        description="sqlite:///path (relative to the project root; sqlite:////abs for an "
        "absolute one) or postgresql://user@host:port/database, without a password"
    )
    password_env: Text | None = Field(
        None, description="the environment variable holding the password; null: none"
    )
    timeout_seconds: Annotated[Whole, Range(ge=1)] = Field(
        300,
        description="PostgreSQL: a query running longer is cancelled, a finding naming the "
        "input (SQLite reads a local file, and its driver cannot cancel a query)",
    )

    @model_validator(mode="before")
    @classmethod
    def _url_alone(cls, value: Any) -> Any:
        """``erp: "sqlite:///data/erp.db"`` is short for ``erp: {url: ...}``."""
        return {"url": value} if isinstance(value, str) else value

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"anyOf": [{"type": "string", "description": "the URL"}, handler(schema)]}

    @field_validator("url")
    @classmethod
    def _no_secret(cls, url: str) -> str:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in _DATABASE_SCHEMES:
            raise problem(
                f"{quote(url)} is not a database URL (known: sqlite:///path, "
                "postgresql://user@host:port/database)"
            )
        if scheme.lower() != "sqlite" and ":" in rest.partition("@")[0] and "@" in rest:
            raise problem(
                "the URL holds a password: remove it and name the environment variable "
                "holding it in password_env"
            )
        if "password" in rest.partition("?")[2].lower():
            raise problem("the URL holds a password: give it through password_env")
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.url.lower().startswith("sqlite://")

    def sqlite_path(self, root: Path) -> Path:
        """The database file of a ``sqlite://`` URL, relative ones against ``root``."""
        given = Path(self.url.partition("://")[2].removeprefix("/").partition("?")[0])
        return resolve(root, given)


class InputSpec(Section):
    """Where one input lives and how to read it: a path, or a mapping with ``path``, or
    with ``sql`` or ``table`` and the ``connection`` to read them from."""

    path: FilePath | None = Field(
        None, description="the file, relative to the project root (the folder holding params/)"
    )
    sql: Text | None = Field(
        None,
        description="a query giving the input's rows; :period_start, :period_end and :as_of "
        "are bound as parameters (never written into the SQL)",
    )
    table: Text | None = Field(None, description="a table (or view) read whole: SELECT *")
    connection: Text | None = Field(
        None, description="for sql or table: the name of a database under connections:"
    )
    format: Format | None = Field(
        None, description="csv, xlsx, parquet or a bank format; null: from suffix and content"
    )
    encoding: Text | None = Field(
        None, description="for CSV: utf-8, utf-8-sig, gbk, gb18030; null: detected"
    )
    sheet: Text | None = Field(None, description="XLSX sheet name; null: the first sheet")
    decimal_comma: Flag | None = Field(
        None, description="amounts are written 1.234,56; null: detected"
    )
    dayfirst: Flag = Field(False, description="ambiguous dates such as 05/10/2026 are day-first")
    preset: Text | None = Field(
        None, description="named bank-export layout (icbc, ccb, boc, abc, cmb, generic_cn, generic)"
    )
    columns: dict[Text, Text] = Field(
        {}, description="the file's header → canonical column name (over the top-level columns:)"
    )

    @model_validator(mode="before")
    @classmethod
    def _path_alone(cls, value: Any) -> Any:
        """``invoices: data/invoices.csv`` is short for ``invoices: {path: ...}``."""
        if isinstance(value, str | Path):
            return {"path": value}
        if isinstance(value, InputSpec) or (
            isinstance(value, Mapping) and {"path", "sql", "table"} & set(value)
        ):
            return value
        raise problem("expected a path, or a mapping with 'path', 'sql' or 'table'")

    @model_validator(mode="after")
    def _one_source(self) -> InputSpec:
        given = [k for k in ("path", "sql", "table") if getattr(self, k) is not None]
        located: list[tuple[tuple[str, ...], str]] = []
        if len(given) > 1:
            located.append(((), f"give one of path, sql and table, not {' and '.join(given)}"))
        if self.path is not None:
            if self.connection is not None:
                located.append((("connection",), "a connection is for sql or table, not a path"))
        else:
            if self.connection is None:
                located.append((("connection",), "missing (the database under connections:)"))
            file_only = ("format", "encoding", "sheet", "decimal_comma", "preset")
            for key in [k for k in file_only if getattr(self, k) is not None]:
                located.append(((key,), f"{key} is for files; a query's columns are typed"))
        if self.table is not None and not _TABLE_NAME.fullmatch(self.table):
            located.append(
                (("table",), f"{quote(self.table)} is not a table name (use sql: for more)")
            )
        if self.sql is not None:
            from arlib.database import unknown_parameters

            for name in unknown_parameters(self.sql):
                located.append(
                    (
                        ("sql",),
                        f":{name} is not a parameter arlib binds (known: "
                        ":period_start, :period_end, :as_of)",
                    )
                )
        if located:
            raise problems_at("input", located)
        return self

    @property
    def is_database(self) -> bool:
        return self.path is None

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        mapping = handler(schema)
        handler.resolve_ref_schema(mapping)["anyOf"] = [
            {"required": ["path"]},
            {"required": ["sql", "connection"]},
            {"required": ["table", "connection"]},
        ]
        return {"anyOf": [{"type": "string", "description": "the file's path"}, mapping]}


def resolve(root: Path, path: Path) -> Path:
    """A path of the params as the run uses it: relative ones against the project root."""
    return path if path.is_absolute() else (root / path).resolve()


def escapes(root: Path, given: Path) -> bool:
    """A relative path that leads out of the project folder (``../../etc/passwd``): params
    name files of the project by relative paths, and anything else by an absolute one, so
    that a path cannot lead elsewhere by accident."""
    if given.is_absolute():
        return False
    # lexically: a folder the project links to (data/ on a shared drive) is the project's
    return not Path(os.path.normpath(root / given)).is_relative_to(os.path.normpath(root))


def _unusable(name: str, root: Path, given: Path) -> str | None:
    """Why an input cannot be read (missing, a folder, a device such as /dev/zero, a name
    the system refuses), or None for a readable regular file."""
    try:
        path = resolve(root, given)
        exists, regular = path.exists(), path.is_file()
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        reason = getattr(exc, "strerror", None) or str(exc)
        return f"cannot use the path {excerpt(given, 200)}: {excerpt(reason)}"
    if escapes(root, given):
        return (
            f"{excerpt(given, 200)} climbs out of the project folder with '..'; "
            "give an absolute path if the file really lives elsewhere"
        )
    if not exists:
        hint = ""
        if name == "opening":
            hint = " (close the previous period first: it writes open_items.parquet)"
        return f"file not found: {excerpt(path, 200)}{hint}"
    if not regular:
        kind = "a folder" if path.is_dir() else "not a regular file (a device, pipe or socket?)"
        return f"{excerpt(path, 200)} is {kind}; give the path of a file"
    return None


class Inputs(Section):
    """The files of a close. Validated with ``context={"root": ...}`` (as :func:`from_mapping`
    does), each given file must be a readable regular file under that root."""

    invoices: InputSpec = Field(description="the period's invoices (CSV, XLSX, Parquet)")
    receipts: InputSpec = Field(
        description="bank statement lines: MT940, CAMT.053/054, OFX, BAI2, bank CSV/XLSX exports"
    )
    customers: InputSpec = Field(description="the customer master")
    credit_notes: InputSpec | None = Field(None, description="credit notes of the period")
    fx_rates: InputSpec | None = Field(
        None, description="fx rates: units of base currency per unit, by date"
    )
    opening: InputSpec | None = Field(
        None, description="the previous close's open_items.parquet (carry-forward)"
    )
    decisions: InputSpec | None = Field(
        None, description="manual matches, rejections, disputes, assignments and resolutions"
    )
    replies: InputSpec | None = Field(
        None,
        description="customers' replies to statements (回函): confirmed, or the disputed "
        "invoices with amount and remark (docs/templates/replies_template.csv)",
    )
    contacts: InputSpec | None = Field(
        None,
        description="the collectors' contact log: date, customer, channel, person, outcome, "
        "promise to pay, dispute status",
    )

    @model_validator(mode="before")
    @classmethod
    def _none_is_absent(cls, value: Any) -> Any:
        return _given(value)

    @field_validator(*INPUT_NAMES)
    @classmethod
    def _readable(cls, spec: InputSpec | None, info: ValidationInfo) -> InputSpec | None:
        if spec is None:
            return None
        located = [
            (("columns", *loc), why) for loc, why in _unknown_columns(info.field_name, spec.columns)
        ]
        root = (info.context or {}).get("root")
        if spec.is_database:
            if info.field_name not in DATABASE_INPUTS:
                located.insert(0, ((), f"{info.field_name} is read from a file, not a database"))
        elif root is not None and (why := _unusable(info.field_name, root, spec.path)):
            located.insert(0, ((), why))
        if located:
            raise problems_at("inputs", located)
        return spec


def _header_mapping(frame: str) -> Any:
    return Field({}, description=f"{frame}: the file's header → canonical column name")


class Columns(Section):
    """Header mappings per input (``{invoices: {发票号: invoice_id}}``); an input's own
    ``columns:`` adds to and overrides these."""

    invoices: dict[Text, Text] = _header_mapping("invoices")
    receipts: dict[Text, Text] = _header_mapping("receipts")
    customers: dict[Text, Text] = _header_mapping("customers")
    credit_notes: dict[Text, Text] = _header_mapping("credit_notes")
    fx_rates: dict[Text, Text] = _header_mapping("fx_rates")
    opening: dict[Text, Text] = _header_mapping("opening")
    decisions: dict[Text, Text] = _header_mapping("decisions")
    replies: dict[Text, Text] = _header_mapping("replies")
    contacts: dict[Text, Text] = _header_mapping("contacts")

    @field_validator(*INPUT_NAMES)
    @classmethod
    def _canonical(cls, mapping: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        located = _unknown_columns(info.field_name, mapping)
        if located:
            raise problems_at("columns", located)
        return mapping


class WorkpaperConfig(Section):
    """``workpapers:`` section of the params: the Excel workpapers."""

    row_cap: Annotated[Whole, Range(ge=1)] = Field(
        100_000,
        description="detail sheets stop after this many rows and name the CSV/Parquet with the "
        "full detail (Excel's hard limit is 1,048,576 rows)",
    )


def _month(value: Any) -> str:
    if isinstance(value, dt.date):
        value = value.strftime("%Y-%m")
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", str(value).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise problem(f"{quote(value)} is not a month (expected YYYY-MM, e.g. 2026-10)")
    return f"{int(match.group(1)):04d}-{int(match.group(2)):02d}"


def _day(value: Any) -> dt.date | None:
    """A date as YAML gives it (a date, or text when YAML's own parser refused it, as for
    2026-02-30) or papermill does (text)."""
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise problem(f"{quote(value)} is not a valid date (expected YYYY-MM-DD)") from None


def _grouped(value: Any) -> Any:
    """``12,345,678.90`` as written in a GL report: commas only between groups of three."""
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", value.strip()):
        return value.replace(",", "")
    return value


def _last_day(period: str) -> dt.date:
    year, month = map(int, period.split("-"))
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


#: tolerances matching and exceptions share: set once, in the matching section
SHARED_TOLERANCES = {
    "rounding_tolerance": "set matching.rounding_tolerance: matching and exceptions share it",
    "bank_charge_tolerance": "set matching.bank_charge_max['*']: matching and exceptions share "
    "the bank-charge caps",
    "bank_charge_tolerance_by_currency": "set matching.bank_charge_max: matching and "
    "exceptions share the bank-charge caps",
    "fx_tolerance_pct": "set matching.fx_tolerance_pct: matching and exceptions share it",
}


class Params(Section):
    """A params file: the whole run of one close (the top-level keys of the YAML)."""

    model_config = ConfigDict(title="arlib params")

    entity: Text | None = Field(
        None, description="the entity closed; outputs go to outputs/<period>/<entity>/"
    )
    period: Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{1,2}$"})] = (
        Field(description="the month being closed, YYYY-MM")
    )
    as_of: dt.date | None = Field(
        None, validate_default=True, description="the aging date; null: the period's last day"
    )
    base_currency: Currency = Field(
        "CNY", description="the currency of the ledger: totals, aging, provision, journal"
    )
    connections: dict[Text, Connection] = Field(
        {}, description="databases that inputs are read from (inputs.<name>.connection)"
    )
    inputs: Inputs = Field(description="the input files, relative to the project root")
    columns: Columns = Field(
        Columns(), description="per input, the files' headers → canonical column names"
    )
    out_dir: FilePath | None = Field(
        None,
        validate_default=True,
        description="where the close is written; null: outputs/<period>[/<entity>]",
    )
    gl_control_balance: Exact | None = Field(
        None,
        description="the GL's AR control account at the as-of date (base currency), for the "
        "tie-out; null: the tie-out is not performed",
    )
    preparer: Text | None = Field(
        None, description="who prepares the close (else the ARLIB_PREPARER environment variable)"
    )
    matching: MatchConfig = Field(
        MatchConfig(), description="matching (核销): rules, tolerances and search bounds"
    )
    exceptions: ExceptionConfig = Field(
        ExceptionConfig(),
        description="classifying what matching left (差异): tolerances, rates, actions",
    )
    aging: AgingConfig = Field(AgingConfig(), description="aging (账龄): the basis and the buckets")
    tiers: TierConfig = Field(
        TierConfig(), description="overdue tiers (催收分级) and their collection actions"
    )
    kpis: KpiConfig = Field(KpiConfig(), description="collection KPIs: DSO and days-late trends")
    provision: ProvisionConfig = Field(
        ProvisionConfig(),
        validate_default=True,  # the default rates must fit the aging too
        description="expected credit loss (坏账准备): loss rates per aging bucket, opening "
        "provision",
    )
    adjustments: JournalConfig = Field(
        JournalConfig(),
        description="proposed balancing adjustments (调平): accounts and write-off threshold",
    )
    workpapers: WorkpaperConfig = Field(WorkpaperConfig(), description="the Excel workpapers")
    statements: StatementConfig = Field(
        StatementConfig(),
        description="customer statements (对账单) and collection letters (催收函)",
    )
    followup: FollowupConfig = Field(
        FollowupConfig(),
        description="customer follow-up: collectors, dispute owners, task due days",
    )
    outbox: OutboxConfig = Field(
        OutboxConfig(),
        description="the outbox each close writes (e-mails, SMS, calls) and the mail server "
        "arlib send sends it through",
    )
    params_file: Text | None = Field(
        None, description="set by arlib close for the notebooks, not written by users"
    )
    root: Text | None = Field(
        None, description="set by tools: the project root, when not the params file's"
    )

    @model_validator(mode="before")
    @classmethod
    def _none_is_absent(cls, value: Any) -> Any:
        value = _given(value)
        given = value.get("exceptions") if isinstance(value, dict) else None
        if isinstance(given, dict):
            moved = [(("exceptions", k), m) for k, m in SHARED_TOLERANCES.items() if k in given]
            if moved:
                raise problems_at("arlib params", moved)
        return value

    @model_validator(mode="after")
    def _channels_of_known_tiers(self) -> Params:
        """``outbox.channels`` names tiers of ``tiers.rules``: another name is a typo that
        would leave the tier's channels to its action."""
        tiers = self.tiers.order
        located = [
            (
                ("outbox", "channels", name),
                f"{quote(name)} is not a tier (known: {', '.join(tiers)})",
            )
            for name in self.outbox.channels
            if name not in tiers
        ]
        if located:
            raise problems_at("arlib params", located)
        return self

    @model_validator(mode="after")
    def _known_connections(self, info: ValidationInfo) -> Params:
        """Each database input names a connection given here, and a SQLite database file
        exists (checked like input files: when validated against a project root)."""
        root = (info.context or {}).get("root")
        located: list[tuple[tuple[str, ...], str]] = []
        for name in DATABASE_INPUTS:
            spec = getattr(self.inputs, name)
            if spec is None or not spec.is_database:
                continue
            connection = self.connections.get(spec.connection)
            if connection is None:
                known = ", ".join(self.connections) or "none given"
                located.append(
                    (
                        ("inputs", name, "connection"),
                        f"{quote(spec.connection)} is not a connection (known: {known})",
                    )
                )
        for name, connection in self.connections.items():
            if root is None or not connection.is_sqlite:
                continue
            path = connection.sqlite_path(root)
            if not path.is_file():
                located.append(
                    (("connections", name, "url"), f"database file not found: {excerpt(path, 200)}")
                )
        if located:
            raise problems_at("arlib params", located)
        return self

    @model_validator(mode="after")
    def _one_home_for_tolerances(self) -> Params:
        """Exceptions judge a difference with matching's own tolerances: a shortfall that
        matching writes off is never reported as over tolerance, and one it leaves open is
        never called within tolerance."""
        shared = self.exceptions.with_tolerances_of(self.matching)
        object.__setattr__(self, "exceptions", shared)
        return self

    @field_validator("entity", "preparer", mode="before")
    @classmethod
    def _trimmed(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("entity")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        """The entity names the close's folder (``outputs/<period>/<entity>``) for every
        command, so it must be one folder: no separators, no ``..``, no control characters."""
        if value is not None and (
            value in (".", "..")
            or any(c in value for c in "/\\")
            or any(ord(c) < 32 for c in value)
        ):
            raise problem(
                f"{quote(value)} is not a plain name: it names the close's folder, so it may "
                "not hold /, \\, .. or control characters"
            )
        return value

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any) -> str:
        return _month(value)

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of(cls, value: Any) -> dt.date | None:
        return _day(value)

    @field_validator("as_of")
    @classmethod
    def _period_end(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        period = info.data.get("period")
        if value is None:
            return _last_day(period) if period else None
        if period and value < dt.date.fromisoformat(f"{period}-01"):
            raise problem(
                f"{value} is before the period {period} begins: the aging date of a close is "
                "its period's last day, or a day in or after the period"
            )
        return value

    @field_validator("out_dir")
    @classmethod
    def _out_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        period, entity = info.data.get("period"), info.data.get("entity")
        if value is None and period:
            return Path("outputs", period, *([entity] if entity else []))
        root = (info.context or {}).get("root")
        if value is not None and root is not None and escapes(Path(root), value):
            raise problem(
                f"{quote(str(value))} climbs out of the project folder with '..'; give an "
                "absolute path to write the close elsewhere"
            )
        return value

    @field_validator("gl_control_balance", mode="before")
    @classmethod
    def _gl_grouped(cls, value: Any) -> Any:
        return _grouped(value)

    @field_validator("gl_control_balance")
    @classmethod
    def _gl_places(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        base = info.data.get("base_currency")
        if value is not None and base and (why := excess_places(value, base)):
            raise problem(why)
        return value

    @field_validator("provision")
    @classmethod
    def _provision_fits(cls, provision: ProvisionConfig, info: ValidationInfo) -> ProvisionConfig:
        """Checked here, not when the provision stage meets an unrated bucket half-way into a
        close: a rate for every aging bucket, an opening provision in base-currency cents."""
        located = []
        aging, base = info.data.get("aging"), info.data.get("base_currency")
        if aging is not None:
            unrated = [label for label in aging.labels if label not in provision.loss_rates]
            if unrated:
                located.append(
                    (
                        ("loss_rates",),
                        f"no rate for aging bucket(s) {', '.join(excerpt(u) for u in unrated)} "
                        f"(each aging bucket, and {excerpt(aging.invalid_bucket)} for impossible "
                        "dates, needs one)",
                    )
                )
        opening = provision.opening_provision
        if opening is not None and base and (why := excess_places(opening, base)):
            located.append((("opening_provision",), why))
        if located:
            raise problems_at("provision", located)
        return provision


USER_KEYS = tuple(k for k in Params.model_fields if k not in INJECTED)
#: the stages' sections (matching ... statements), in params order
SECTIONS = tuple(
    name
    for name, field in Params.model_fields.items()
    if _is_model(field.annotation) and field.annotation not in (Inputs, Columns)
)


@dataclasses.dataclass(frozen=True)
class Config:
    """A close's params as a run uses them. Build it with :func:`load_config`.

    ``params`` is what the params file says with every default filled in (the record the
    manifest keeps); the rest is where the run happens: the project root its paths are
    relative to, the file they came from (``source``, its raw mapping and SHA-256).
    """

    params: Params
    root: Path
    source: str = "<params>"
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    params_sha256: str | None = None

    @functools.cached_property
    def inputs(self) -> dict[str, InputSpec]:
        """Each given input with its path resolved against the root and the top-level
        ``columns:`` of it merged under its own."""
        specs = {}
        for name in INPUT_NAMES:
            spec = getattr(self.params.inputs, name)
            if spec is not None:
                columns = {**getattr(self.params.columns, name), **spec.columns}
                update = {"columns": columns}
                if spec.path is not None:
                    update["path"] = resolve(self.root, spec.path)
                specs[name] = spec.model_copy(update=update)
        return specs

    @property
    def input_files(self) -> list[Path]:
        """The files the inputs are read from (a SQLite database among them): what a
        close must not write over."""
        files = [spec.path for spec in self.inputs.values() if spec.path is not None]
        used = {spec.connection for spec in self.inputs.values() if spec.is_database}
        for name in sorted(used):
            connection = self.params.connections[name]
            if connection.is_sqlite:
                files.append(connection.sqlite_path(self.root))
        return files

    @property
    def out_dir(self) -> Path:
        return (self.root / self.params.out_dir).resolve()

    @property
    def period(self) -> str:
        return self.params.period

    @property
    def as_of(self) -> dt.date:
        return self.params.as_of

    @property
    def base_currency(self) -> str:
        return self.params.base_currency

    @property
    def entity(self) -> str | None:
        return self.params.entity

    @property
    def gl_control_balance(self) -> Decimal | None:
        return self.params.gl_control_balance

    @property
    def preparer(self) -> str | None:
        return self.params.preparer

    @property
    def period_start(self) -> dt.date:
        return self.period_end.replace(day=1)

    @property
    def period_end(self) -> dt.date:
        return _last_day(self.period)

    @property
    def matching(self) -> MatchConfig:
        return self.params.matching

    @property
    def exceptions(self) -> ExceptionConfig:
        return self.params.exceptions

    @property
    def aging(self) -> AgingConfig:
        return self.params.aging

    @property
    def tiers(self) -> TierConfig:
        return self.params.tiers

    @property
    def kpis(self) -> KpiConfig:
        return self.params.kpis

    @property
    def provision(self) -> ProvisionConfig:
        return self.params.provision

    @property
    def adjustments(self) -> JournalConfig:
        return self.params.adjustments

    @property
    def workpapers(self) -> WorkpaperConfig:
        return self.params.workpapers

    @property
    def statements(self) -> StatementConfig:
        return self.params.statements

    @property
    def followup(self) -> FollowupConfig:
        return self.params.followup

    @property
    def outbox(self) -> OutboxConfig:
        return self.params.outbox

    def resolved(self) -> dict[str, Any]:
        """The params as JSON with every default filled in: what the run was told."""
        return self.params.model_dump(mode="json", exclude=set(INJECTED))


def project_root(params_file: Path) -> Path:
    """Paths in params are relative to the project root: the folder holding ``params/``."""
    params_file = params_file.resolve()
    folder = params_file.parent
    return folder.parent if folder.name == "params" else folder


class ParamsTooLarge(yaml.YAMLError):
    """A params file that would expand beyond the bounds above."""


class _ParamsLoader(yaml.SafeLoader):
    """YAML as users mean it: ``as_of: 2026-02-30`` stays text (reported by key, not a
    traceback), and ``entity: 00123`` stays ``'00123'`` (not the octal number 83).

    While composing, every node's size with its aliases expanded is counted, so an alias
    bomb (anchors nested and repeated) or a recursive alias is refused at once, before
    anything (checks, the manifest's JSON) walks the expanded value.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise ParamsTooLarge(
                    f"alias *{excerpt(anchor, 40)} is used inside the value it names "
                    "(a recursive alias)"
                )
            return node
        self._depth += 1
        try:
            if self._depth > MAX_PARAMS_DEPTH:
                raise ParamsTooLarge(f"values are nested more than {MAX_PARAMS_DEPTH} levels deep")
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        size = 1 + sum(self._sizes.get(id(child), 1) for child in children)
        if size > MAX_PARAMS_VALUES:
            raise ParamsTooLarge(
                f"its values, with YAML aliases (*name) expanded, number more than "
                f"{MAX_PARAMS_VALUES:,} (an alias bomb?); write the settings out plainly"
            )
        self._sizes[id(node)] = size
        return node

    def construct_mapping(self, node, deep=False):
        """A key given twice is refused: YAML would silently keep the last one, so a second
        ``period:`` or ``invoices:`` further down would win unseen."""
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {excerpt(str(key), 60)!r} is given twice (lines {seen[key]} and "
                    f"{key_node.start_mark.line + 1}); keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        if re.fullmatch(r"[-+]?0[0-9_]+", str(text)):
            return text
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more digits than Python converts: text, reported by key
            return text


_ParamsLoader.add_constructor("tag:yaml.org,2002:timestamp", _ParamsLoader.construct_yaml_timestamp)
_ParamsLoader.add_constructor("tag:yaml.org,2002:int", _ParamsLoader.construct_yaml_int)


def load_config(params_file: str | Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """Read and validate a params YAML (plus overrides such as ``--entity``)."""
    path = Path(params_file)
    raw, data = read_params(path)
    raw = {**raw, **(overrides or {})}
    config = from_mapping(raw, root=project_root(path), source=excerpt(path, 200))
    return dataclasses.replace(config, params_sha256=hashlib.sha256(data).hexdigest())


def load_section(params_file: str | Path, name: str) -> Section:
    """One section of a params YAML, validated alone (``arlib rules --params`` shows the
    matching settings of a period whose input files need not exist yet)."""
    path = Path(params_file)
    raw, _ = read_params(path)
    model = Params.model_fields[name].annotation
    try:
        return model.model_validate(raw.get(name) or {})
    except ValidationError as exc:
        problems = [f"{name}.{p}" for p in problems_of(exc)]
        raise ConfigError(excerpt(path, 200), problems) from None


def read_params(path: Path) -> tuple[dict[str, Any], bytes]:
    """The mapping a params YAML holds, and its bytes; every problem as a ConfigError."""
    source = excerpt(path, 200)
    try:
        if not path.exists():
            raise ConfigError(source, [f"params file not found: {source}"])
        if not path.is_file():
            raise ConfigError(source, [f"params file is not a regular file: {source}"])
        size = path.stat().st_size
        if size > MAX_PARAMS_BYTES:
            raise ConfigError(
                source,
                [f"params file is {size:,} bytes; a params file is at most {MAX_PARAMS_BYTES:,}"],
            )
        data = path.read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [f"not UTF-8 text: {exc.reason} at byte {exc.start}"]) from None
    except OSError as exc:
        raise ConfigError(source, [f"params file cannot be read: {exc.strerror or exc}"]) from None
    try:
        raw = yaml.load(text, Loader=_ParamsLoader) or {}
    except ParamsTooLarge as exc:
        raise ConfigError(source, [f"params file refused: {exc}"]) from None
    except (yaml.YAMLError, RecursionError) as exc:
        detail = "; ".join(bounded_lines(str(exc), limit=8, width=200))
        raise ConfigError(source, [f"not valid YAML: {detail}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["the params file must be a mapping of keys to values"])
    return raw, data


def from_mapping(raw: Mapping[str, Any], *, root: Path | str, source: str = "<params>") -> Config:
    """Validate a params mapping (as papermill hands it to a notebook) into a Config."""
    root = Path(raw.get("root") or root).resolve()
    try:
        params = Params.model_validate(dict(raw), context={"root": root})
    except ValidationError as exc:
        raise ConfigError(source, problems_of(exc)) from None
    return Config(params=params, root=root, source=source, raw=dict(raw))


# what a missing key should have been, by its place in the params
_MISSING = {
    ("period",): "expected YYYY-MM, e.g. 2026-10",
    ("inputs",): "a mapping with at least invoices, receipts, customers",
    **{("inputs", name): "required input" for name in REQUIRED_INPUTS},
}


# what a mapping looks like, for a key that is not one
_EXAMPLES = {("columns",): " such as {invoices: {发票号: invoice_id}}"}


def problems_of(exc: ValidationError) -> list[str]:
    """Each error of validating :class:`Params` as ``key.path: message``, with the values
    quoted briefly (a 10 MB value is named by its first characters and its length)."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")
        if error["type"] == "missing" and loc and isinstance(loc[-1], int):
            # an item short of a fixed-length entry ([label, low, high]): about the entry
            error, loc = {**error, "type": "too_short"}, loc[:-1]
        key = ".".join(excerpt(part) for part in loc)
        message = _message(error, loc)
        problems.append(f"{key}: {message}" if key else message)
    return problems


def _message(error: Mapping[str, Any], loc: tuple) -> str:
    kind, value = error["type"], error.get("input")
    if kind == PROBLEM:
        return error["msg"]
    if kind == "missing":
        hint = _MISSING.get(loc)
        return f"missing ({hint})" if hint else "missing"
    if kind == "too_short":
        return f"{quote(value)} has too few items"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = ", ".join(k for k in model.model_fields if k not in INJECTED)
        if model is Params:
            return f"unknown key (known keys: {known})"
        return f"unknown {'input' if model in (Inputs, Columns) else 'key'} (known: {known})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{quote(value)} is not a mapping" + _EXAMPLES.get(loc, "")
    if kind in ("tuple_type", "list_type"):
        return f"{quote(value)} is not a list"
    if kind == "too_long":
        return f"{quote(value)} has more than {error['ctx']['max_length']} items"
    return f"{quote(value)}: {error['msg']}"


def _model_at(loc: tuple) -> type[BaseModel]:
    """The model whose keys are at ``loc`` in the params (``('inputs', 'invoices')``)."""
    model: type[BaseModel] = Params
    for part in loc:
        if part not in model.model_fields:  # the key of a mapping of models (connections.erp)
            continue
        annotation = model.model_fields[part].annotation
        model = next(t for t in (annotation, *typing.get_args(annotation)) if _is_model(t))
    return model


class _NoFieldTitles(GenerateJsonSchema):
    """pydantic titles each field with its name in words ("Date Window Days"): noise beside
    the name itself and its description."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a params file, for editors (VS Code YAML, JupyterLab)."""
    schema = Params.model_json_schema(schema_generator=_NoFieldTitles)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def json_schema_text() -> str:
    """:func:`json_schema` as ``docs/params.schema.json`` holds it."""
    return json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"


def defaults_yaml() -> str:
    """Every params key with its default, each under its description as a YAML comment
    (``docs/params-defaults.yaml``): the sections key by key, other keys as one value."""
    lines = [
        "# Defaults of every params key (generated by `arlib defaults`), each under what it",
        "# means. period and inputs have no default: every params file gives them; the keys",
        "# of inputs.<name> are those of an input written as a mapping, besides its path.",
    ]
    for name, field in Params.model_fields.items():
        if name in INJECTED or field.is_required():
            continue
        lines.append("")
        if name in SECTIONS:
            lines += _comment(field.description, "") + [f"{name}:"]
            for key, sub in type(field.default).model_fields.items():
                if isinstance(sub.default, Section):  # outbox.smtp: its keys, one by one
                    lines += _comment(sub.description, "  ") + [f"  {key}:"]
                    for inner, part in type(sub.default).model_fields.items():
                        lines += _comment(part.description, "    ")
                        lines += _dumped(inner, part.default, "    ")
                    continue
                lines += _comment(sub.description, "  ") + _dumped(key, sub.default, "  ")
        else:
            lines += _comment(field.description, "") + _dumped(name, field.default, "")
    lines += ["", *_comment("how to read an input given as a mapping", ""), "inputs.<name>:"]
    for key, sub in InputSpec.model_fields.items():
        if not sub.is_required():
            lines += _comment(sub.description, "  ") + _dumped(key, sub.default, "  ")
    lines += ["", *_comment("a database given as a mapping (besides its url)", "")]
    lines.append("connections.<name>:")
    for key, sub in Connection.model_fields.items():
        if not sub.is_required():
            lines += _comment(sub.description, "  ") + _dumped(key, sub.default, "  ")
    return "\n".join(lines) + "\n"


def _comment(text: str | None, indent: str) -> list[str]:
    wrapped = textwrap.wrap(text or "", width=94 - len(indent), break_on_hyphens=False)
    return [f"{indent}# {line}" for line in wrapped]


def _dumped(key: str, value: Any, indent: str) -> list[str]:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_defaults=True)  # columns: {}
    text = yaml.safe_dump(
        {key: to_jsonable_python(value)}, allow_unicode=True, sort_keys=False, width=100
    )
    return [indent + line for line in text.splitlines()]


def differences(params: Params) -> list[tuple[str, Any, Any]]:
    """``(key, value, default)`` of each setting of ``params`` that is not its default,
    keys dotted (``matching.bank_charge_max.CNY``): the defaults being those of a params
    file that gives only this period and these input paths."""
    minimal = {"period": params.period, "inputs": {}, "connections": params.connections}
    for name in INPUT_NAMES:
        spec = getattr(params.inputs, name)
        if spec is not None:
            minimal["inputs"][name] = spec.model_dump(
                include={"path", "sql", "table", "connection"}, exclude_none=True
            )
    # compared as values (a rate of 1 is the default 1.00), shown as JSON
    given = _flat(params.model_dump(exclude=set(INJECTED)))
    default = _flat(Params.model_validate(minimal).model_dump(exclude=set(INJECTED)))
    keys = list(dict.fromkeys([*given, *default]))
    first = {}
    for key in keys:  # the keys of one mapping together (bank_charge_max.CNY, .USD ...)
        first.setdefault(key.rpartition(".")[0], len(first))
    keys.sort(key=lambda k: first[k.rpartition(".")[0]])
    return [
        (key, to_jsonable_python(given.get(key)), to_jsonable_python(default.get(key)))
        for key in keys
        if given.get(key) != default.get(key)
    ]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as dotted keys, down to its values (lists are values); an empty
    mapping has none, so ``{CNY: 30}`` against a default ``{}`` is the one key it sets."""
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, sub in value.items():
        out.update(_flat(sub, f"{prefix}.{key}" if prefix else str(key)))
    return out
