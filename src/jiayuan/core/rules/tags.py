"""``has_tag(code)`` and ``tag(code).attribute`` for any table of tag assignments.

An app describes its assignment rows (a correlated queryset, where the tag code, the
JSON attributes and the validity dates live) and how to read one subject's
assignments in Python; this module builds the two registry functions from that.

An assignment counts when it is valid on the reference date, as
:mod:`jiayuan.core.validity` reads it: ``valid_from`` empty or on/before it,
``valid_until`` empty or after it (the until date is the first day it no longer holds).
A subject holds a tag at most once (a unique constraint in ``people``).

Attributes are JSON. In SQL they are read with ``->>`` and cast to the declared type
(dates stay ISO text, compared byte-wise); in Python the same conversion is
:func:`jiayuan.core.rules.types.coerce_json`. Values are expected to conform to the
declared type (the tag forms validate them); one that does not reads as missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Exists,
    F,
    Func,
    Q,
    QuerySet,
    TextField,
)
from django.db.models.functions import Cast

from ..validity import is_valid_on, valid_on
from .registry import Env, Function, RecordFunction, RecordSql, SqlEnv
from .sql import Numeric
from .types import BOOL, DECIMAL, INT, EnumType, RecordType, RuleType


@dataclass(frozen=True)
class TagSpec:
    """A tag code rules may name, with its attributes' types."""

    code: str
    attributes: Mapping[str, RuleType] = field(default_factory=dict)


@dataclass(frozen=True)
class TagFact:
    """One assignment as the Python back end sees it."""

    code: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    def valid_on(self, day: dt.date) -> bool:
        return is_valid_on(self.valid_from, self.valid_until, day)


class JsonValue(Func):
    """One key of a JSON column as an SQL scalar: JSON null reads as NULL on every
    database (Django's ``KeyTextTransform`` gives the text 'null' on SQLite)."""

    output_field = TextField()

    def __init__(self, column: str, key: str) -> None:
        if not key.isidentifier():
            raise ValueError(f"attribute keys are identifiers: {key!r}")
        super().__init__(F(column))
        self.key = key

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, list[str | int]]:
        column, _ = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"({column} ->> %s)", [self.key]
        return f"JSON_EXTRACT({column}, %s)", [f'$."{self.key}"']


def json_attribute(column: str, key: str, rtype: RuleType) -> Any:
    """``column ->> key`` as an expression of ``rtype`` (dates as ISO text)."""
    text = JsonValue(column, key)
    if rtype == INT:
        return Cast(text, BigIntegerField())
    if rtype == DECIMAL:
        return Numeric(text)
    if rtype == BOOL:
        return Cast(text, BooleanField())
    return text  # str, enum, and dates (ISO text, see sql.IsoText)


def tag_functions(
    specs: Iterable[TagSpec],
    *,
    rows: Callable[[SqlEnv], QuerySet[Any]],
    facts: Callable[[Any], Iterable[TagFact]],
    code_path: str = "tag__code",
    attributes_path: str = "attributes",
    valid_from_path: str = "valid_from",
    valid_until_path: str = "valid_until",
    has_tag: str = "has_tag",
    tag: str = "tag",
    holds_label: str = "持有标签「{0}」",
    record_label: str = "标签「{0}」",
) -> tuple[Function, RecordFunction]:
    """The ``has_tag`` and ``tag`` functions over one assignment table.

    ``rows(env)`` is the subject's assignments, correlated with ``env.outer("pk")``
    (``PersonTag.objects.filter(person=env.outer())``); ``facts(subject)`` the same
    assignments in Python.
    """
    catalogue = {s.code: s for s in specs}
    codes = EnumType.of(f"{tag}_code", list(catalogue))

    def valid_rows(env: SqlEnv, code: str) -> QuerySet[Any]:
        valid = valid_on(env.ref_date, start=valid_from_path, end=valid_until_path)
        return rows(env).filter(valid, **{code_path: code})

    def fact(subject: Any, env: Env, code: str) -> TagFact | None:
        for f in facts(subject):
            if f.code == code and f.valid_on(env.ref_date):
                return f
        return None

    def record_type(args: tuple[Any, ...]) -> RecordType:
        spec = catalogue[args[0]]
        return RecordType(f"{tag}({args[0]})", "标签记录", tuple(spec.attributes.items()))

    def record_sql(env: SqlEnv, code: str) -> RecordSql:
        return RecordSql(
            valid_rows(env, code), lambda key, rtype: json_attribute(attributes_path, key, rtype)
        )

    def record_python(subject: Any, env: Env, code: str) -> Mapping[str, Any] | None:
        found = fact(subject, env, code)
        return None if found is None else found.attributes

    holds = Function(
        has_tag,
        (codes,),
        BOOL,
        holds_label,
        sql=lambda env, code: Q(Exists(valid_rows(env, code))),
        python=lambda subject, env, code: fact(subject, env, code) is not None,
    )
    record = RecordFunction(tag, (codes,), record_label, record_type, record_sql, record_python)
    return holds, record
