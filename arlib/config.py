"""One typed, frozen configuration per close, loaded from a period's params YAML.

Why a single loader: the params file describes the whole run (DESIGN.md), papermill passes
its keys into every notebook as strings (YAML dates arrive as ``'2026-10-31'``), and a user
must see every problem with the file at once, named by key. ``load_config`` therefore
collects all problems and raises one :class:`ConfigError` listing them.

Every default lives here or in the stage's own config dataclass (``SECTIONS``), and
``describe_defaults()`` prints them for the README.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import math
import re
import types
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from arlib.findings import excerpt, quote
from arlib.safe_output import bounded_lines
from arlib.schema import CURRENCY_DECIMALS, FRAMES

INPUT_NAMES = (
    "invoices",
    "receipts",
    "customers",
    "credit_notes",
    "fx_rates",
    "opening",
    "decisions",
)
REQUIRED_INPUTS = ("invoices", "receipts", "customers")
FORMATS = ("csv", "xlsx", "parquet", "mt940", "camt053", "camt054", "ofx", "bai2")
# A params file is a page of settings: bigger, deeper or (through YAML aliases) wider
# than this is refused before anything walks it (an alias "bomb" expands exponentially).
MAX_PARAMS_BYTES = 1_000_000
MAX_PARAMS_VALUES = 100_000
MAX_PARAMS_DEPTH = 50
# Integers in params (days, counts, caps) beyond this are no setting anyone means, and
# overflow the date and integer arithmetic of the stages.
MAX_PARAMS_INT = 1_000_000_000


class ConfigError(ValueError):
    """Every problem found in a params file, raised once."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in params:\n{lines}")


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """Where one input lives and how to read it.

    Attributes:
        path: File path (resolved against the project root).
        format: csv, xlsx, parquet or a bank format; detected from the suffix/content if None.
        encoding: For CSV: utf-8, utf-8-sig, gbk, gb18030; detected if None.
        sheet: XLSX sheet name; the first sheet if None.
        decimal_comma: Amounts are written ``1.234,56``.
        dayfirst: Ambiguous dates such as ``05/10/2026`` are day-first.
        preset: Named bank-export layout (see ``arlib.bankfiles``).
        columns: The user's header → canonical column name.
    """

    path: Path
    format: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    decimal_comma: bool | None = None
    dayfirst: bool = False
    preset: str | None = None
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class WorkpaperConfig:
    """Excel workpapers.

    Attributes:
        row_cap: Detail sheets stop after this many rows and name the CSV/Parquet with the
            full detail (Excel's hard limit is 1,048,576 rows).
    """

    row_cap: int = 100_000


@dataclasses.dataclass(frozen=True)
class Config:
    """A validated close configuration. Build it with :func:`load_config`."""

    period: str
    as_of: dt.date
    base_currency: str
    inputs: Mapping[str, InputSpec]
    out_dir: Path
    root: Path
    entity: str | None = None
    gl_control_balance: Decimal | None = None
    preparer: str | None = None
    sections: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    source: str = "<params>"
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def period_start(self) -> dt.date:
        year, month = map(int, self.period.split("-"))
        return dt.date(year, month, 1)

    @property
    def period_end(self) -> dt.date:
        year, month = map(int, self.period.split("-"))
        return dt.date(year, month, calendar.monthrange(year, month)[1])

    def section(self, name: str) -> Any:
        """The typed config of a pipeline stage, e.g. ``config.section('matching')``."""
        return self.sections[name]


def _section_classes() -> dict[str, type]:
    """Stage configs keyed by their params section; imported here to avoid import cycles."""
    from arlib.aging import AgingConfig, TierConfig
    from arlib.exceptions import ExceptionConfig
    from arlib.journal import JournalConfig
    from arlib.kpis import KpiConfig
    from arlib.match import MatchConfig
    from arlib.provision import ProvisionConfig
    from arlib.statements import StatementConfig

    return {
        "matching": MatchConfig,
        "exceptions": ExceptionConfig,
        "aging": AgingConfig,
        "tiers": TierConfig,
        "kpis": KpiConfig,
        "provision": ProvisionConfig,
        "adjustments": JournalConfig,
        "workpapers": WorkpaperConfig,
        "statements": StatementConfig,
    }


TOP_LEVEL_KEYS = (
    "entity",
    "period",
    "as_of",
    "base_currency",
    "inputs",
    "columns",
    "out_dir",
    "gl_control_balance",
    "preparer",
    # The following are passed by `arlib close` into notebooks, not written by users.
    "params_file",
    "root",
)


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
        text = path.read_text(encoding="utf-8")
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
    raw = {**raw, **(overrides or {})}
    return from_mapping(raw, root=project_root(path), source=source)


def from_mapping(raw: Mapping[str, Any], *, root: Path | str, source: str = "<params>") -> Config:
    """Validate a params mapping (as papermill hands it to a notebook) into a Config."""
    root = Path(raw.get("root") or root).resolve()
    problems: list[str] = []
    sections = _section_classes()
    for key in raw:
        if key not in TOP_LEVEL_KEYS and key not in sections:
            known = ", ".join([*TOP_LEVEL_KEYS[:-2], *sections])
            problems.append(f"{excerpt(key)}: unknown key (known keys: {known})")

    period = _period(raw.get("period"), problems)
    as_of = _date("as_of", raw.get("as_of"), problems) if raw.get("as_of") is not None else None
    if as_of is None and period:
        year, month = map(int, period.split("-"))
        as_of = dt.date(year, month, calendar.monthrange(year, month)[1])
    base = _text("base_currency", raw.get("base_currency", "CNY"), problems) or "CNY"
    if base not in CURRENCY_DECIMALS:
        problems.append(f"base_currency: unknown currency {quote(base)}")
    entity = raw.get("entity")
    entity = None if entity is None else str(entity).strip() or None

    columns = raw.get("columns") or {}
    if not isinstance(columns, Mapping):
        problems.append("columns: expected a mapping such as {invoices: {发票号: invoice_id}}")
        columns = {}
    inputs = _inputs(raw.get("inputs"), columns, root, problems)

    out_raw = raw.get("out_dir")
    if out_raw is None and period:
        out_raw = f"outputs/{period}" + (f"/{entity}" if entity else "")
    out_dir = (root / str(out_raw)).resolve() if out_raw else root / "outputs"

    gl = raw.get("gl_control_balance")
    gl_balance = _decimal("gl_control_balance", gl, problems) if gl is not None else None
    named = raw.get("preparer")
    prepared_by = _text("preparer", named, problems) if named is not None else None

    built = {}
    for name, cls in sections.items():
        built[name] = build_dataclass(cls, raw.get(name) or {}, name, problems)
    aging, provision = built.get("aging"), built.get("provision")
    if aging is not None and provision is not None:
        # checked here, not when the provision stage meets the bucket half-way into a close
        unrated = [label for label in aging.labels if label not in provision.loss_rates]
        if unrated:
            problems.append(
                f"provision.loss_rates: no rate for aging bucket(s) "
                f"{', '.join(excerpt(u) for u in unrated)} (each aging bucket, and "
                f"{excerpt(aging.invalid_bucket)} for impossible dates, needs one)"
            )

    opening = None if provision is None else provision.opening_provision
    if opening is not None and base in CURRENCY_DECIMALS:
        allowed = CURRENCY_DECIMALS[base]
        if -opening.as_tuple().exponent > allowed:
            problems.append(
                f"provision.opening_provision: {opening} has more decimals than {base} "
                f"allows ({allowed})"
            )

    if problems:
        raise ConfigError(source, problems)
    return Config(
        period=period,
        as_of=as_of,
        base_currency=base,
        inputs=inputs,
        out_dir=out_dir,
        root=root,
        entity=entity,
        gl_control_balance=gl_balance,
        preparer=prepared_by or None,
        sections=built,
        source=source,
        raw=dict(raw),
    )


def _period(value: Any, problems: list[str]) -> str:
    if value is None:
        problems.append("period: missing (expected YYYY-MM, e.g. 2026-10)")
        return ""
    if isinstance(value, dt.date):
        value = value.strftime("%Y-%m")
    text = str(value).strip()
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        problems.append(f"period: {quote(value)} is not a month (expected YYYY-MM, e.g. 2026-10)")
        return ""
    return f"{int(match.group(1)):04d}-{int(match.group(2)):02d}"


def _date(key: str, value: Any, problems: list[str]) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(f"{key}: {quote(value)} is not a valid date (expected YYYY-MM-DD)")
        return None


def _decimal(key: str, value: Any, problems: list[str]) -> Decimal | None:
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        number = Decimal(text.replace(",", "").strip())
        if number.is_finite():
            return number
        raise InvalidOperation
    except InvalidOperation:
        problems.append(f"{key}: {quote(value)} is not a number")
        return None


def _text(key: str, value: Any, problems: list[str]) -> str | None:
    if not isinstance(value, str | int):
        problems.append(f"{key}: expected text, got {type(value).__name__}")
        return None
    return str(value).strip()


def _inputs(
    raw: Any, columns: Mapping[str, Any], root: Path, problems: list[str]
) -> dict[str, InputSpec]:
    if not isinstance(raw, Mapping):
        problems.append("inputs: missing (a mapping with at least invoices, receipts, customers)")
        return {}
    specs: dict[str, InputSpec] = {}
    for name in raw:
        if name not in INPUT_NAMES:
            problems.append(
                f"inputs.{excerpt(name)}: unknown input (known: {', '.join(INPUT_NAMES)})"
            )
    for name in REQUIRED_INPUTS:
        if raw.get(name) is None:
            problems.append(f"inputs.{name}: missing (required input)")
    for name in columns:
        if name not in INPUT_NAMES:
            problems.append(
                f"columns.{excerpt(name)}: unknown input (known: {', '.join(INPUT_NAMES)})"
            )
    for name in INPUT_NAMES:
        value = raw.get(name)
        if value is None:
            continue
        entry = {"path": value} if isinstance(value, str | Path) else value
        if not isinstance(entry, Mapping) or "path" not in entry:
            problems.append(f"inputs.{name}: expected a path or a mapping with 'path'")
            continue
        entry = dict(entry)
        mapping = {**(columns.get(name) or {}), **(entry.pop("columns", None) or {})}
        spec = build_dataclass(InputSpec, {**entry, "columns": mapping}, f"inputs.{name}", problems)
        if spec is None:
            continue
        path = _input_path(name, root, spec.path, problems)
        if path is None:
            continue
        if spec.format is not None and spec.format not in FORMATS:
            problems.append(
                f"inputs.{name}.format: {quote(spec.format)} (known: {', '.join(FORMATS)})"
            )
        frame = name if name in FRAMES else None
        if frame:
            known = set(FRAMES[frame][0]) | set(FRAMES[frame][1])
            for header, target in mapping.items():
                if target not in known:
                    problems.append(
                        f"columns.{name}.{excerpt(header)}: {quote(target)} is not a column "
                        f"of {name} "
                        f"(known: {', '.join(sorted(known))})"
                    )
        specs[name] = dataclasses.replace(spec, path=path)
    return specs


def _input_path(name: str, root: Path, given: Path, problems: list[str]) -> Path | None:
    """The resolved path of an input, or None (and a problem) when it is not a readable
    regular file: missing, a folder, a device such as /dev/zero, a name the system refuses.
    """
    shown = excerpt(given, 200)
    try:
        path = (root / given).resolve() if not Path(given).is_absolute() else Path(given)
        exists, regular = path.exists(), path.is_file()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        problems.append(f"inputs.{name}: cannot use the path {shown}: {excerpt(reason)}")
        return None
    if not exists:
        hint = ""
        if name == "opening":
            hint = " (close the previous period first: it writes open_items.parquet)"
        problems.append(f"inputs.{name}: file not found: {excerpt(path, 200)}{hint}")
        return path
    if not regular:
        kind = "a folder" if path.is_dir() else "not a regular file (a device, pipe or socket?)"
        problems.append(f"inputs.{name}: {excerpt(path, 200)} is {kind}; give the path of a file")
    return path


def build_dataclass(cls: type, raw: Any, key: str, problems: list[str]) -> Any:
    """Build a frozen config dataclass from a mapping, checking keys and types by annotation.

    Unknown keys and wrong types are added to ``problems`` (named ``key.field``); values
    that papermill turned into strings are converted where the annotation says how.
    """
    if not isinstance(raw, Mapping):
        problems.append(f"{key}: expected a mapping, got {type(raw).__name__}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in fields:
            problems.append(f"{key}.{excerpt(name)}: unknown key (known: {', '.join(fields)})")
            continue
        ok, converted = _coerce(value, hints[name])
        if not ok:
            what = _describe(hints[name])
            if what == "an integer" and _is_integer(value):
                what = f"an integer of at most {MAX_PARAMS_INT:,} either way"
            problems.append(f"{key}.{name}: {quote(value)} is not {what}")
            continue
        values[name] = converted
    missing = [
        n
        for n, f in fields.items()
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and n not in values
    ]
    for name in missing:
        problems.append(f"{key}.{name}: missing")
    if missing or len(values) < len([n for n in raw if n in fields]):
        return None
    try:
        return cls(**values)
    except (ValueError, TypeError, ArithmeticError) as exc:
        problems.append(f"{key}: {'; '.join(bounded_lines(str(exc), limit=5, width=300))}")
        return None


def _coerce(value: Any, hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return True, None
        for arg in args:
            if arg is type(None):
                continue
            ok, converted = _coerce(value, arg)
            if ok:
                return True, converted
        return False, None
    if hint is Any:
        return True, value
    if hint is bool:
        if isinstance(value, bool):
            return True, value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return True, value.strip().lower() in ("true", "yes")
        return False, None
    if hint is int:
        if isinstance(value, bool):
            return False, None
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value) if len(value.strip()) <= 30 else MAX_PARAMS_INT + 1
        if isinstance(value, int) and abs(value) <= MAX_PARAMS_INT:
            return True, value
        return False, None
    if hint is float:
        if isinstance(value, bool):
            return False, None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False, None
        return (True, number) if math.isfinite(number) else (False, None)
    if hint is Decimal:
        if isinstance(value, bool):
            return False, None
        try:
            number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            return False, None
        return (True, number) if number.is_finite() else (False, None)
    if hint is str:
        return (True, str(value)) if isinstance(value, str | int) else (False, None)
    if hint is Path:
        return (True, Path(value)) if isinstance(value, str | Path) else (False, None)
    if hint is dt.date:
        problems: list[str] = []
        parsed = _date("", value, problems)
        return (parsed is not None), parsed
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            return False, None
        item = args[0] if args else Any
        if origin is tuple and len(args) > 1 and args[1] is not Ellipsis:
            if len(value) != len(args):
                return False, None
            pairs = [_coerce(v, a) for v, a in zip(value, args, strict=True)]
        else:
            pairs = [_coerce(v, item) for v in value]
        if not all(ok for ok, _ in pairs):
            return False, None
        return True, tuple(v for _, v in pairs)
    if origin in (dict, Mapping) or hint in (dict, Mapping) or origin is typing.Mapping:
        if not isinstance(value, Mapping):
            return False, None
        if not args:
            return True, dict(value)
        pairs = [(_coerce(k, args[0]), _coerce(v, args[1])) for k, v in value.items()]
        if not all(k[0] and v[0] for k, v in pairs):
            return False, None
        return True, {k[1]: v[1] for k, v in pairs}
    if dataclasses.is_dataclass(hint):
        problems = []
        built = build_dataclass(hint, value, "", problems)
        return (built is not None), built
    return isinstance(value, hint), value


def _is_integer(value: Any) -> bool:
    """An integer as written (too large for a setting, as the caller found)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()) is not None
    )


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint) if a is not type(None))
    if origin in (tuple, list):
        return "a list"
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return "a mapping"
    names = {bool: "true/false", int: "an integer", float: "a number", Decimal: "a number"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def describe_defaults() -> dict[str, dict[str, Any]]:
    """Every section's defaults, for documentation and the notebooks' params table."""
    out: dict[str, dict[str, Any]] = {}
    for name, cls in {**_section_classes(), "inputs.<name>": InputSpec}.items():
        entries = {}
        for field in dataclasses.fields(cls):
            if field.default is not dataclasses.MISSING:
                entries[field.name] = field.default
            elif field.default_factory is not dataclasses.MISSING:
                entries[field.name] = field.default_factory()
        out[name] = entries
    return out


def as_plain(value: Any) -> Any:
    """A JSON/YAML-safe view of a config value (for manifests and notebook tables)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): as_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_plain(v) for v in value]
    if isinstance(value, Decimal | Path | dt.date):
        return str(value)
    return value
