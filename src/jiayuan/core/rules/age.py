"""Age on the reference date, as a registry field with both implementations.

Age is in whole years on the reference date (born 1946-11-28: 79 on 2026-11-27, 80 on
2026-11-28; born 29 February: a year older on 1 March in common years); for the dead,
on the date of death when that is earlier; missing when the birth date is unknown or
after that date.

Both back ends use one formula: ``(yyyymmdd(day) − yyyymmdd(birth)) // 10000``. In SQL,
a comparison with a constant (``age >= 80``, ``age + 5 >= 60``, ``age in (60, 65)``)
becomes a range on ``birth_date`` for the living, so an index serves it; only the dead
need the arithmetic.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.functions import Cast, ExtractDay, ExtractMonth, ExtractYear
from django.db.models.lookups import (
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
)

from .registry import Env, Field, SqlEnv
from .sql import Cond, both, either, negate
from .types import INT


def ymd(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def age_on(birth: dt.date | None, death: dt.date | None, day: dt.date) -> int | None:
    """Whole years from ``birth`` to ``day`` (or to ``death`` when earlier)."""
    if death is not None and death < day:
        day = death
    if birth is None or birth > day:
        return None
    return (ymd(day) - ymd(birth)) // 10000


def years_before(day: dt.date, years: int) -> dt.date | None:
    """The same day ``years`` earlier (29 Feb → 28 Feb); ``None`` before year 1."""
    year = day.year - years
    if year < 1:
        return None
    if year > 9999:
        return dt.date.max
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def age_field(
    python: Callable[[Any], tuple[dt.date | None, dt.date | None]],
    *,
    name: str = "age",
    label: str = "年龄",
    birth: str = "birth_date",
    death: str = "death_date",
) -> Field:
    """The ``age`` field; ``python(subject)`` returns (birth date, death date) and
    ``birth``/``death`` are the columns for SQL."""

    def getter(subject: Any, env: Env) -> int | None:
        b, d = python(subject)
        return age_on(b, d, env.ref_date)

    def sql(env: SqlEnv) -> Any:
        diff = _effective_ymd(env, birth, death) - _ymd_sql(env.f(birth))
        return Case(
            When(GreaterThanOrEqual(diff, 0), then=diff / Value(10000)),
            default=Value(None),
            output_field=IntegerField(),
        )

    def compare(env: SqlEnv, op: str, const: Any) -> Cond | None:
        return _compare(env, birth, death, op, const)

    return Field(name, INT, label, sql, getter, nullable=True, sql_compare=compare)


def _ymd_sql(expr: Any) -> Any:
    # EXTRACT is numeric on PostgreSQL: cast so that // 10000 is integer division.
    return Cast(
        ExtractYear(expr) * 10000 + ExtractMonth(expr) * 100 + ExtractDay(expr),
        IntegerField(),
    )


def _died_before(env: SqlEnv, death: str) -> Q:
    return Q(IsNull(env.f(death), False)) & Q(LessThan(env.f(death), env.ref_date))


def _effective_ymd(env: SqlEnv, birth: str, death: str) -> Any:
    return Case(
        When(_died_before(env, death), then=_ymd_sql(env.f(death))),
        default=Value(ymd(env.ref_date)),
        output_field=IntegerField(),
    )


def _compare(env: SqlEnv, birth: str, death: str, op: str, const: Any) -> Cond | None:
    if op in ("in", "not in"):
        inside = either(*(_compare(env, birth, death, "==", c) or False for c in const))
        if op == "in":
            return inside
        return both(_range(env, birth, death, None, None), negate(inside))
    if not isinstance(const, int | Decimal) or isinstance(const, bool):
        return None
    integral = const == int(const)
    if op == ">=":
        return _range(env, birth, death, math.ceil(const), None)
    if op == ">":
        return _range(env, birth, death, math.floor(const) + 1, None)
    if op == "<=":
        return _range(env, birth, death, None, math.floor(const))
    if op == "<":
        return _range(env, birth, death, None, math.ceil(const) - 1)
    if op == "==":
        return _range(env, birth, death, int(const), int(const)) if integral else False
    if op == "!=":
        present = _range(env, birth, death, None, None)
        if not integral:
            return present
        return both(present, negate(_range(env, birth, death, int(const), int(const))))
    return None


def _range(env: SqlEnv, birth: str, death: str, lo: int | None, hi: int | None) -> Cond:
    """``lo <= age <= hi`` (either bound open), false when age is missing."""
    ref, b, d = env.ref_date, env.f(birth), env.f(death)
    if hi is not None and (hi < 0 or (lo is not None and lo > hi)):
        return False
    lo = max(lo or 0, 0)
    # the living (or dying on/after the reference date): a birth-date range
    latest = years_before(ref, lo)
    alive: Cond = False
    if latest is not None:
        alive = Q(IsNull(d, True)) | Q(GreaterThanOrEqual(d, ref))
        alive &= Q(LessThanOrEqual(b, latest))
        earliest = years_before(ref, hi + 1) if hi is not None else None
        if earliest is not None:
            alive &= Q(GreaterThan(b, earliest))
    # the dead: whole years between the two dates, in integer arithmetic
    diff = _ymd_sql(d) - _ymd_sql(b)
    dead = _died_before(env, death) & Q(GreaterThanOrEqual(diff, Value(lo * 10000)))
    if hi is not None:
        dead &= Q(LessThan(diff, Value((hi + 1) * 10000)))
    return both(Q(IsNull(b, False)), either(alive, dead))
