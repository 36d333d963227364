"""The one table's datasets (一套表数据集): what a report may count, by what, over which rows.

The report builder lives in ``datahub`` but reports over persons, households, cases,
devices, alarms and policy matches, which ``datahub`` may not import. So the vocabulary
is declared here, in ``core``, and each app registers its own datasets from its
``AppConfig.ready()`` (``people/reporting.py``, ``cases/reporting.py`` …): the arrows keep
pointing down.

A :class:`Dataset` is a base queryset (one row per counted thing, already limited to
what is current, e.g. living residents), the field that scopes it (``area_path``), its
:class:`Dimension` s (what rows and columns of a report may be) and its
:class:`Measure` s (what a cell counts or sums), and the rule-language registry its
filters are written in. Dimensions are Django expressions, so one definition serves
SQLite and PostgreSQL; their values are codes shown through Chinese labels in a stable
order (declared order, area tree order, age bands ascending).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db.models import CharField, Expression, F, FilteredRelation, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, ExtractMonth, ExtractYear, LPad

from .rules import STR, EnumType, Field, Registry


@dataclass(frozen=True)
class Context:
    """What a report is computed for: the reference day (ages, valid tags …)."""

    today: dt.date


Expr = Callable[[Context], Any]
Labeller = Callable[[list[str]], dict[str, str]]


@dataclass(frozen=True)
class Dimension:
    """What a report's rows or columns may be: 社区, 性别, 年龄段, 标签 …

    ``expression(ctx)`` gives each base row's value (a code, or ``None``). ``values``
    declares the codes and labels in their display order (columns then show every
    declared value, zeros included); without it the values are the ones found, labelled
    by ``labels`` (one query for all of them, e.g. area names) and sorted by code.
    ``relations`` are filtered relations the expression reads (a person's valid tags):
    such a dimension is ``multi`` (a row may carry several values, so row counts become
    distinct counts) and keeps only rows that have a value.
    """

    code: str
    label: str
    expression: Expr
    values: Sequence[tuple[str, str]] | None = None
    labels: Labeller | None = None
    null_label: str = "未填写"
    relations: Callable[[Context], dict[str, FilteredRelation]] | None = None
    sort: Callable[[str], Any] = str

    @property
    def multi(self) -> bool:
        return self.relations is not None

    def label_map(self, codes: list[str]) -> dict[str, str]:
        if self.values is not None:
            return dict(self.values)
        if self.labels is not None:
            return self.labels(codes)
        return {c: c for c in codes}

    def ordered(self, codes: Iterable[str]) -> list[str]:
        """``codes`` in display order: declared order first, then the rest by code."""
        found = set(codes)
        declared = [c for c, _ in self.values or ()]
        rest = sorted(found - set(declared), key=self.sort)
        return [c for c in declared if c in found] + rest


MeasureKind = Literal["rows", "count_if", "distinct", "sum"]


@dataclass(frozen=True)
class Measure:
    """What a cell holds: ``rows`` counts base rows (人数, 件数), ``count_if`` the rows
    meeting ``condition``, ``distinct`` the distinct values of ``expression`` (户数 as
    distinct household ids), ``sum`` the sum of ``expression`` (金额). ``decimals`` is
    the number format's precision."""

    code: str
    label: str
    kind: MeasureKind = "rows"
    expression: Expr | None = None
    condition: Callable[[Context], Q] | None = None
    decimals: int = 0


@dataclass(frozen=True)
class Dataset:
    """One kind of counted row with its dimensions and measures."""

    code: str
    label: str
    queryset: Callable[[Context], QuerySet[Any]]
    dimensions: Sequence[Dimension]
    measures: Sequence[Measure]
    registry: Callable[[], Registry]
    scope_field: str = "area_path"
    _dims: dict[str, Dimension] = field(default_factory=dict, repr=False, compare=False)

    def dimension(self, code: str) -> Dimension | None:
        if not self._dims:
            self._dims.update({d.code: d for d in self.dimensions})
        return self._dims.get(code)

    def measure(self, code: str) -> Measure | None:
        return next((m for m in self.measures if m.code == code), None)

    def describe(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "dimensions": [{"code": d.code, "label": d.label} for d in self.dimensions],
            "measures": [{"code": m.code, "label": m.label} for m in self.measures],
        }


_DATASETS: dict[str, Dataset] = {}


def register(*datasets: Dataset) -> None:
    """Called from an app's ``ready()``; registering a code again replaces it (reloads)."""
    for dataset in datasets:
        _DATASETS[dataset.code] = dataset


def get(code: str) -> Dataset | None:
    return _DATASETS.get(code)


def datasets() -> list[Dataset]:
    return list(_DATASETS.values())


# --- helpers the apps build their dimensions with ----------------------------------------
def choices_dimension(code: str, label: str, column: str, choices: Any) -> Dimension:
    """A dimension over a ``TextChoices`` column, in the choices' order."""
    values = [(str(v), str(lbl)) for v, lbl in choices.choices]
    return Dimension(code, label, lambda ctx: F(column), values=values)


def column_dimension(code: str, label: str, column: str, **kw: Any) -> Dimension:
    """A dimension whose values are a column's values, shown as they are."""
    return Dimension(code, label, lambda ctx: F(column), **kw)


def column_fields(items: Sequence[tuple[str, str, str, Any]]) -> list[Field]:
    """Rule-language fields for plain columns: ``(name, label, column, choices or None)``.

    A dataset without a richer registry of its own (cases, devices …) writes its filters
    with these: ``status == "已办结" and channel in ("12345热线", "随手拍")``.
    """
    out = []
    for name, label, column, choices in items:
        rtype = STR
        if choices is not None:
            rtype = EnumType.of(choices.__name__, {str(lbl): str(v) for v, lbl in choices.choices})
        out.append(
            Field(name, rtype, label, column, _getter(column), nullable=False),
        )
    return out


def _getter(column: str) -> Callable[[Any, Any], Any]:
    def read(subject: Any, env: Any) -> Any:
        value = subject
        for part in column.split("__"):
            value = getattr(value, part, None)
        return value

    return read


def simple_registry(label: str, items: Sequence[tuple[str, str, str, Any]]) -> Registry:
    return Registry(label).add(*column_fields(items))


def expression_of(value: Any) -> Expression | Any:
    """Strings are column paths; everything else is already an expression."""
    return F(value) if isinstance(value, str) else value


def month_dimension(code: str, label: str, column: str) -> Dimension:
    """The month of a date or time column (local time), as ``2026-03``, ascending."""

    def expression(ctx: Context) -> Any:
        return Concat(
            Cast(ExtractYear(column), CharField()),
            Value("-"),
            LPad(Cast(ExtractMonth(column), CharField()), 2, Value("0")),
            output_field=CharField(),
        )

    return Dimension(code, label, expression, labels=lambda codes: {c: c for c in codes})
