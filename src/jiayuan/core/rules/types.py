"""The value types of the rule language and what each allows.

========  =====================================  ===========================================
type      Python value                           operations
========  =====================================  ===========================================
int       ``int``                                all comparisons, ``in``, ``+ -``
decimal   ``decimal.Decimal``                    all comparisons, ``in``, ``+ -`` (mixes with int)
str       ``str``                                ``== != in``, ``startswith endswith contains``
enum      ``str`` (one of the allowed values)    ``== != in`` with allowed values only
bool      ``bool``                               as a condition, ``== !=``
date      ``datetime.date``                      all comparisons, ``in``
record    a tag assignment's attributes          only ``.attribute``
========  =====================================  ===========================================

Strings are not ordered (``<`` on text depends on the database collation, so the two
back ends could disagree). Every value may be missing (``null``); see :mod:`.rule` for
what a missing value does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class RuleType:
    """A type of the language; ``name`` is what error messages and traces show."""

    name: str
    zh: str

    def __str__(self) -> str:
        return self.name


INT = RuleType("int", "整数")
DECIMAL = RuleType("decimal", "小数")
STR = RuleType("str", "字符串")
BOOL = RuleType("bool", "真假值")
DATE = RuleType("date", "日期")
NULL = RuleType("null", "空值")


@dataclass(frozen=True)
class EnumType(RuleType):
    """Text from a closed list (``hukou_type``: 城镇/农村). Rules use the Chinese values;
    ``stored`` maps each to what the database holds when that differs (``农村`` →
    ``rural``). A stored value outside the list reads as missing, in both back ends."""

    values: tuple[str, ...] = ()
    stored: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, name: str, values: Mapping[str, str] | tuple[str, ...] | list[str]) -> EnumType:
        """``EnumType.of("gender", {"男": "male", "女": "female"})`` or a list of values
        stored as they are written."""
        if isinstance(values, Mapping):
            return cls(name, "枚举值", tuple(values), tuple(values.items()))
        return cls(name, "枚举值", tuple(values), tuple((v, v) for v in values))

    def to_db(self, value: str) -> str:
        return dict(self.stored)[value]

    def from_db(self, raw: Any) -> str | None:
        for value, stored in self.stored:
            if stored == raw:
                return value
        return None

    @property
    def db_values(self) -> list[str]:
        return [stored for _, stored in self.stored]


@dataclass(frozen=True)
class RecordType(RuleType):
    """What ``tag("残疾人")`` returns: a record whose typed attributes are read with ``.``."""

    attributes: tuple[tuple[str, RuleType], ...] = field(default=())

    def attribute(self, name: str) -> RuleType | None:
        return dict(self.attributes).get(name)


NUMERIC = (INT, DECIMAL)


def is_numeric(t: RuleType) -> bool:
    return t in NUMERIC


def is_text(t: RuleType) -> bool:
    return t == STR or isinstance(t, EnumType)


def is_ordered(t: RuleType) -> bool:
    return is_numeric(t) or t == DATE


def comparable(a: RuleType, b: RuleType) -> bool:
    """Whether ``a == b`` is meaningful (``null`` aside)."""
    if is_numeric(a) and is_numeric(b):
        return True
    if isinstance(a, EnumType) or isinstance(b, EnumType):
        return a == b
    return a == b and a in (STR, BOOL, DATE)


def coerce_json(t: RuleType, raw: Any) -> Any:
    """A JSON attribute value as a value of ``t``; anything that is not one is missing.

    Matches what the SQL back end reads (``->>`` cast to the type), for values that
    conform to the declared type; attributes are validated when they are written.
    """
    if raw is None:
        return None
    try:
        if t == INT:
            if isinstance(raw, bool):
                return None
            return int(raw) if isinstance(raw, int | str) else None
        if t == DECIMAL:
            return None if isinstance(raw, bool) else Decimal(str(raw))
        if t == BOOL:
            return raw if isinstance(raw, bool) else None
        if t == DATE:
            return dt.date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except (ValueError, ArithmeticError):
        return None
    if isinstance(t, EnumType):
        return t.from_db(raw)
    if t == STR:
        return raw if isinstance(raw, str) else str(raw)
    return None
