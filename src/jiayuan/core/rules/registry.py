"""The registry: every name a rule may use, with its type and its two implementations.

A rule can reach nothing that is not registered here. Each entry carries a type (so
rules are checked when saved), a SQL implementation (a Django column path or an
expression/``Q`` builder, for filtering the whole population in the database) and a
Python implementation (a getter on one subject, for explaining one match). Keeping the
two side by side is what lets tests prove they agree.

``core`` defines the machinery only; apps register their fields (``people`` registers
persons' fields, ``policies`` adds ``receives``), so the arrows keep pointing down.
"""

from __future__ import annotations

import datetime as dt
import keyword
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, OuterRef, Q, QuerySet

from .types import BOOL, RecordType, RuleType

BUILTINS = ("date", "verify")
RESERVED = ("and", "or", "not", "in", "true", "false", "null", *BUILTINS)
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Env:
    """What a rule is evaluated against besides the subject: the reference date (the
    matching date; ages are counted to it, tags and benefits must be valid on it)."""

    ref_date: dt.date


@dataclass(frozen=True)
class SqlEnv:
    """The SQL side's environment: the reference date and where in the base query's
    relations the current namespace sits (``household__`` inside ``household.…``)."""

    ref_date: dt.date
    prefix: str = ""

    def col(self, path: str) -> str:
        return self.prefix + path

    def f(self, path: str) -> F:
        return F(self.prefix + path)

    def outer(self, path: str = "pk") -> OuterRef:
        """A reference from a subquery to the subject (or namespace object) outside it."""
        return OuterRef(self.prefix + path)

    def child(self, path: str) -> SqlEnv:
        return SqlEnv(self.ref_date, f"{self.prefix}{path}__")


SqlBuilder = Callable[[SqlEnv], Any]
Getter = Callable[[Any, Env], Any]
CompareHook = Callable[[SqlEnv, str, Any], "Q | bool | None"]


@dataclass(frozen=True)
class Field:
    """A value of the subject: ``age``, ``hukou``, ``lives_alone``.

    ``sql`` is a column path relative to the base model (``"hukou_code"``) or a builder
    returning an expression (or a ``Q`` for a ``bool`` field that is never missing).
    ``python`` reads the value from one subject (stored form: enum values as stored).
    ``nullable=False`` promises the value is never missing (saves SQL guards).
    ``sql_compare(env, op, constant)`` may return a faster equivalent ``Q`` for
    ``field <op> constant`` (``age >= 80`` as a range on ``birth_date``), or ``None``.
    """

    name: str
    type: RuleType
    label: str
    sql: str | SqlBuilder
    python: Getter
    nullable: bool = True
    sql_compare: CompareHook | None = None


@dataclass(frozen=True)
class Function:
    """A function of the subject with constant arguments: ``has_tag("残疾人")``,
    ``receives("gaoling-jintie")``.

    ``params`` are the argument types (an ``EnumType`` restricts an argument to a list,
    so ``has_tag("残疾仁")`` is refused when the rule is saved). ``label`` renders a
    call in a trace, ``{0}`` standing for the first argument. ``sql(env, *args)``
    returns a ``Q`` (or conditional expression) for ``bool`` functions and an
    expression otherwise; ``python(subject, env, *args)`` returns the value. A ``bool``
    function is never missing.
    """

    name: str
    params: tuple[RuleType, ...]
    returns: RuleType
    label: str
    sql: Callable[..., Any]
    python: Callable[..., Any]
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.returns == BOOL and self.nullable:
            raise ValueError("a bool function is never missing")


@dataclass(frozen=True)
class RecordSql:
    """The SQL side of a record: the (correlated) rows holding it, at most one per
    subject, and how to read one attribute as a typed expression inside those rows."""

    rows: QuerySet[Any]
    attribute: Callable[[str, RuleType], Any]


@dataclass(frozen=True)
class RecordFunction:
    """A function returning a record whose attributes are read with ``.``:
    ``tag("残疾人").grade``. ``record(args)`` gives the record's type for the constant
    arguments; ``python(subject, env, *args)`` returns the attributes (a mapping) or
    ``None`` when there is no record; ``sql(env, *args)`` returns :class:`RecordSql`."""

    name: str
    params: tuple[RuleType, ...]
    label: str
    record: Callable[[tuple[Any, ...]], RecordType]
    sql: Callable[..., RecordSql]
    python: Callable[..., Mapping[str, Any] | None]


@dataclass(frozen=True)
class Namespace:
    """A related object with its own registry: ``household.size``,
    ``household.has_tag("低保")``. ``sql_path`` is the relation from the base model
    (``"household"``); ``python`` navigates from the subject and may return ``None``
    (no household), which makes its fields missing and its ``bool`` functions false."""

    name: str
    label: str
    registry: Registry
    sql_path: str
    python: Callable[[Any], Any]


Entry = Field | Function | RecordFunction | Namespace


@dataclass
class Registry:
    """The names a rule may use. Build one per subject kind (persons) and pass it to
    :func:`jiayuan.core.rules.compile_rule`."""

    label: str = ""
    entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, *items: Field | Function | RecordFunction) -> Registry:
        for item in items:
            self._claim(item.name)
            self.entries[item.name] = item
        return self

    def add_namespace(
        self,
        name: str,
        registry: Registry,
        *,
        label: str,
        sql_path: str,
        python: Callable[[Any], Any],
    ) -> Registry:
        self._claim(name)
        self.entries[name] = Namespace(name, label, registry, sql_path, python)
        return self

    def copy(self) -> Registry:
        """A registry to extend (``policies`` adds ``receives`` to ``people``'s)."""
        return Registry(self.label, dict(self.entries))

    def get(self, name: str) -> Entry | None:
        return self.entries.get(name)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def describe(self) -> list[dict[str, Any]]:
        """The names, types and labels, for a rule editor's completion and help."""
        out: list[dict[str, Any]] = []
        for entry in self:
            if isinstance(entry, Field):
                out.append(
                    {"name": entry.name, "kind": "field", "type": str(entry.type),
                     "label": entry.label}
                )  # fmt: skip
            elif isinstance(entry, Function | RecordFunction):
                out.append(
                    {"name": entry.name, "kind": "function", "label": entry.label,
                     "params": [str(p) for p in entry.params]}
                )  # fmt: skip
            else:
                out.append(
                    {"name": entry.name, "kind": "namespace", "label": entry.label,
                     "members": entry.registry.describe()}
                )  # fmt: skip
        return out

    def _claim(self, name: str) -> None:
        if not _IDENT.match(name) or keyword.iskeyword(name) or name in RESERVED:
            raise ValueError(f"not a usable rule name: {name!r}")
        if name in self.entries:
            raise ValueError(f"{name!r} is already registered")
