"""The value types of params fields, and the base model of every params section.

Why our own types rather than pydantic's lax ones: papermill hands parameters over as
strings and people write numbers the way they type them, so a setting is read as it is
meant ("30" is 30, "true" is true, 0.05 is exactly ``Decimal('0.05')``), but nothing is
guessed: true is not the integer 1, 1.5 is not a number of days, NaN is not an amount, and
an integer larger than any setting is refused before it overflows a stage's date or
integer arithmetic. Each refusal is one sentence about the value as given (quoted and
bounded by :func:`arlib.findings.quote`), so :mod:`arlib.config` can list every problem
of a params file by key, and the same sentence appears when a stage config is built in
code. The JSON Schema of each type says the same to an editor.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, WithJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from arlib.findings import quote
from arlib.schema import CURRENCY_DECIMALS

# Integers in params (days, counts, caps) beyond this are no setting anyone means, and
# overflow the date and integer arithmetic of the stages.
MAX_PARAMS_INT = 1_000_000_000
# pydantic's error type of every problem raised here: its message is the whole sentence
PROBLEM = "arlib"


class Section(BaseModel):
    """A params section: frozen (a run's settings cannot change under it half-way) and
    closed (an unknown key is a typo to report, not a setting to ignore)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def problem(message: str) -> PydanticCustomError:
    """A validation error whose message is ``message`` as written."""
    return PydanticCustomError(PROBLEM, "{problem}", {"problem": message})


def problems_at(title: str, located: list[tuple[tuple[str | int, ...], str]]) -> ValidationError:
    """Several problems at once, each at its place below the value being validated, so a
    check across fields (or of a file a path names) reports each one by its own key."""
    return ValidationError.from_exception_data(
        title,
        [InitErrorDetails(type=problem(text), loc=loc, input=None) for loc, text in located],
    )


def shown(value: Any) -> str:
    """A value in a message: numbers as written, anything else quoted and bounded."""
    if isinstance(value, Decimal):
        return f"{value:f}"  # 0.0000001, not 1E-7
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return quote(value)


def _whole(value: Any) -> int:
    number = value
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d+", value.strip()):
        # int() of thousands of digits is slow (and refused); such a number is too big anyway
        number = int(value) if len(value.strip()) <= 30 else MAX_PARAMS_INT + 1
    if isinstance(number, bool) or not isinstance(number, int):
        raise problem(f"{quote(value)} is not an integer")
    if abs(number) > MAX_PARAMS_INT:
        raise problem(f"{quote(value)} is not an integer of at most {MAX_PARAMS_INT:,} either way")
    return number


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    raise problem(f"{quote(value)} is not true/false")


def _float(value: Any) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise problem(f"{quote(value)} is not a number") from None
    if not math.isfinite(number):
        raise problem(f"{quote(value)} is not a number")
    return number


def _exact(value: Any) -> Decimal:
    """A float is read by its shortest repr, the digits written in the YAML (0.1 → '0.1'),
    never by its binary value (0.1000000000000000055511151231257827...)."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        raise problem(f"{quote(value)} is not a number")
    else:
        try:
            number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            raise problem(f"{quote(value)} is not a number") from None
    if not number.is_finite():
        raise problem(f"{quote(value)} is not a number")
    return number


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise problem(f"{quote(value)} is not text")
    return str(value)


def _path(value: Any) -> Path:
    if not isinstance(value, str | Path):
        raise problem(f"{quote(value)} is not a path")
    return Path(value)


_DECIMAL_SCHEMA = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "pattern": r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"},
    ]
}

#: a whole number: ``30`` or ``"30"``; not true, 1.5 or 10**12
Whole = Annotated[int, BeforeValidator(_whole), WithJsonSchema({"type": "integer"})]
#: true/false; also ``"true"``, ``"no"`` as papermill passes them
Flag = Annotated[bool, BeforeValidator(_flag), WithJsonSchema({"type": "boolean"})]
#: a score or a number of seconds (not money): finite
Float = Annotated[float, BeforeValidator(_float), WithJsonSchema({"type": "number"})]
#: an exact decimal (money, tolerances, rates): from text, an integer or a YAML float
Exact = Annotated[Decimal, BeforeValidator(_exact), WithJsonSchema(_DECIMAL_SCHEMA)]
#: text; an integer is taken as its digits (account code ``1122``, entity ``123``)
Text = Annotated[
    str,
    BeforeValidator(_text),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
]
#: a file or folder path, as written (resolved against the project root by the loader)
FilePath = Annotated[Path, BeforeValidator(_path), WithJsonSchema({"type": "string"})]


def choice(options: tuple[str, ...], what: str) -> Any:
    """Text that must be one of ``options``: an enum for editors, and a refusal that lists
    them (``'dbf' is not a known format (known: csv, xlsx, ...)``)."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise problem(f"{quote(value)} is not a known {what} (known: {', '.join(options)})")
        return value

    return Annotated[
        str, BeforeValidator(check), WithJsonSchema({"type": "string", "enum": list(options)})
    ]


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds of a number, checked once it is converted and written into its JSON Schema
    (``Annotated[Whole, Range(ge=0, le=36_600)]``)."""

    ge: int | Decimal | None = None
    le: int | Decimal | None = None
    lt: int | Decimal | None = None

    def _wanted(self) -> str:
        low, high = self.ge, self.le if self.le is not None else self.lt
        if low is not None and self.lt is not None:
            return f"must be from {low} to below {high}"
        if low is not None and high is not None:
            return f"must be between {low} and {high}"
        if low is not None:
            return "must not be negative" if low == 0 else f"must be at least {low}"
        return f"must be {'at most' if self.le is not None else 'below'} {high}"

    def _check(self, value: Any) -> Any:
        if (
            (self.ge is not None and value < self.ge)
            or (self.le is not None and value > self.le)
            or (self.lt is not None and value >= self.lt)
        ):
            raise problem(f"{shown(value)} {self._wanted()}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        out = copy.deepcopy(handler(schema))  # never the shared schema of the type
        bounds = {"minimum": self.ge, "maximum": self.le, "exclusiveMaximum": self.lt}
        bounds = {k: float(v) if isinstance(v, Decimal) else v for k, v in bounds.items()}
        for target in [s for s in out.get("anyOf", [out]) if s.get("type") != "string"]:
            target.update({k: v for k, v in bounds.items() if v is not None})
        return out


#: days a date may be moved by: 100 years at most (beyond, date arithmetic overflows)
Days = Annotated[Whole, Range(ge=0, le=36_600)]


def excess_places(amount: Decimal, currency: str) -> str | None:
    """Why ``amount`` cannot be money of ``currency`` (more decimals than it has), or None.
    Trailing zeros are no decimals: ``5000.00`` yen is 5000 yen."""
    allowed = CURRENCY_DECIMALS.get(currency)
    if allowed is None or -amount.normalize().as_tuple().exponent <= allowed:
        return None
    return f"{shown(amount)} has more decimals than {currency} allows ({allowed})"


def check_places(amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    """An amount per currency (``{JPY: 5000}``), each within its currency's decimals."""
    located = [((ccy,), why) for ccy, v in amounts.items() if (why := excess_places(v, ccy))]
    if located:
        raise problems_at("amounts per currency", located)
    return amounts
