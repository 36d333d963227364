"""The one table's query engine (一套表): a spec in, a cross table with 小计 and 合计 out.

A spec names a dataset (``core.reporting``), its row and column dimensions, its measures
and a filter written in the rule language::

    {"dataset": "persons", "rows": ["community"], "columns": ["gender", "age_band"],
     "measures": ["persons"], "filter": "party_member and age >= 18"}

One SQL statement computes every cell: the dataset's base rows, scoped to the user
(``core.scoping.scope_q``) and filtered by the compiled rule, become a CTE of dimension
codes and measure inputs; the totals are the grouping sets "each prefix of the rows ×
each prefix of the columns". PostgreSQL groups them with ``GROUPING SETS`` in one pass;
SQLite has no grouping sets, so there the same sets are a ``UNION ALL`` of ``GROUP BY``s
(:func:`aggregate_sql`, chosen by ``connection.vendor``; tests prove both strategies
give the same numbers, and both equal hand-written SQL).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from jiayuan.core import reporting
from jiayuan.core.errors import BilingualError
from jiayuan.core.reporting import Context, Dataset, Dimension, Measure
from jiayuan.core.rules import compile_rule
from jiayuan.core.scoping import scope_q

MAX_ROWS = 3
MAX_COLUMNS = 2
MAX_MEASURES = 6
MAX_FILTER = 2000
MAX_TITLE = 80

Strategy = Literal["grouping_sets", "union_all"]
Key = tuple[str | None, ...]


class ReportError(BilingualError):
    """A report spec that cannot run: an unknown dataset, dimension or measure, too
    many dimensions, a bad filter (that one is a ``RuleError`` with its position)."""

    code = "invalid_report"
    status = 422


@dataclass(frozen=True)
class Spec:
    dataset: str
    rows: tuple[str, ...]
    columns: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    filter: str = ""
    title: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "measures": list(self.measures),
            "filter": self.filter,
            "title": self.title,
        }


def _codes(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ReportError(f"{key} 应为代码列表", f"{key} must be a list of codes", field=key)
    return tuple(value)


def parse_spec(data: Any) -> Spec:
    """A :class:`Spec` from JSON, every name checked against the dataset."""
    if not isinstance(data, dict):
        raise ReportError("报表定义应为对象", "the report spec must be an object")
    code = data.get("dataset")
    dataset = reporting.get(code) if isinstance(code, str) else None
    if dataset is None:
        raise ReportError(f"未知的数据集：{code!s:.40}", f"unknown dataset: {code!s:.40}",
                          field="dataset")  # fmt: skip
    rows, columns = _codes(data, "rows"), _codes(data, "columns")
    measures = _codes(data, "measures") or (dataset.measures[0].code,)
    text = data.get("filter") or ""
    title = data.get("title") or ""
    if not isinstance(text, str) or len(text) > MAX_FILTER:
        raise ReportError(f"筛选条件应为不超过{MAX_FILTER}字的文本",
                          f"the filter must be text of at most {MAX_FILTER} characters",
                          field="filter")  # fmt: skip
    if not isinstance(title, str) or len(title) > MAX_TITLE:
        raise ReportError(f"标题应为不超过{MAX_TITLE}字的文本",
                          f"the title must be text of at most {MAX_TITLE} characters",
                          field="title")  # fmt: skip
    if not rows:
        raise ReportError("至少选择一个行维度", "choose at least one row dimension", field="rows")
    if len(rows) > MAX_ROWS or len(columns) > MAX_COLUMNS:
        raise ReportError(
            f"行维度最多{MAX_ROWS}个，列维度最多{MAX_COLUMNS}个",
            f"at most {MAX_ROWS} row and {MAX_COLUMNS} column dimensions",
            field="rows" if len(rows) > MAX_ROWS else "columns",
        )
    if len(measures) > MAX_MEASURES:
        raise ReportError(f"指标最多{MAX_MEASURES}个", f"at most {MAX_MEASURES} measures",
                          field="measures")  # fmt: skip
    dims = [*rows, *columns]
    if len(set(dims)) != len(dims) or len(set(measures)) != len(measures):
        raise ReportError("维度或指标重复", "a dimension or measure is repeated", field="rows")
    for name in dims:
        if dataset.dimension(name) is None:
            raise ReportError(f"数据集「{dataset.label}」没有维度：{name:.40}",
                              f"dataset {dataset.code} has no dimension {name:.40}",
                              field="rows" if name in rows else "columns")  # fmt: skip
    multi = any(dataset.dimension(d).multi for d in dims)  # type: ignore[union-attr]
    for name in measures:
        measure = dataset.measure(name)
        if measure is None:
            raise ReportError(f"数据集「{dataset.label}」没有指标：{name:.40}",
                              f"dataset {dataset.code} has no measure {name:.40}",
                              field="measures")  # fmt: skip
        if multi and measure.kind == "sum":
            raise ReportError(
                f"「{measure.label}」是合计金额，不能与多值维度（标签）同时使用",
                f"the sum {name} cannot be combined with a multi-valued dimension (tags)",
                field="measures",
            )
    if text.strip():
        compile_rule(text, dataset.registry())  # RuleError (422) with its position
    return Spec(dataset.code, rows, columns, measures, text.strip(), title.strip())


def _dataset(code: str) -> Dataset:
    dataset = reporting.get(code)
    if dataset is None:
        raise ReportError(f"未知的数据集：{code:.40}", f"unknown dataset: {code:.40}",
                          field="dataset")  # fmt: skip
    return dataset


# --- SQL ---------------------------------------------------------------------------------
@dataclass
class Plan:
    """The SQL of one report and how to read its rows back."""

    sql: str
    params: list[Any]
    dims: list[Dimension]
    measures: list[Measure]
    n_rows: int
    n_columns: int


def grouping_sets(n_rows: int, n_columns: int) -> list[tuple[int, ...]]:
    """Each prefix of the row dimensions × each prefix of the column dimensions, as
    indexes into rows + columns: the detail cells, every 小计 and the 合计."""
    sets = []
    for r in range(n_rows, -1, -1):
        for c in range(n_columns, -1, -1):
            sets.append(tuple(range(r)) + tuple(n_rows + i for i in range(c)))
    return sets


def _aggregate(measure: Measure, i: int, multi: bool) -> str:
    col = f"m{i}"
    if measure.kind == "rows":
        return "COUNT(DISTINCT k)" if multi else "COUNT(*)"
    if measure.kind == "count_if":
        return f"COUNT(DISTINCT {col})" if multi else f"SUM({col})"
    if measure.kind == "distinct":
        return f"COUNT(DISTINCT {col})"
    return f"SUM({col})"


def aggregate_sql(
    inner: str,
    n_dims: int,
    aggregates: list[str],
    sets: list[tuple[int, ...]],
    strategy: Strategy,
    *,
    additive: bool = False,
) -> str:
    """``inner`` (columns ``d0…``, ``m0…``) aggregated over ``sets``: columns ``d0…``,
    ``g0…`` (1 where the dimension is rolled up) and ``a0…``.

    ``additive``: every aggregate is a count or a sum, so the totals are sums of the
    detail cells. The base rows are then grouped once (the cost of a plain ``GROUP BY``)
    and the grouping sets run over those few cells; distinct counts (户数, tags) are not
    sums of their parts and group the base rows directly."""
    source = "s"
    head = f"WITH s AS ({inner})"
    if additive:
        every = ", ".join(f"d{i}" for i in range(n_dims))
        partial = ", ".join(f"{a} AS p{i}" for i, a in enumerate(aggregates))
        head += f", t AS (SELECT {every}, {partial} FROM s GROUP BY {every})"  # noqa: S608
        source = "t"
        aggregates = [f"SUM(p{i})" for i in range(len(aggregates))]
    aggs = ", ".join(f"{a} AS a{i}" for i, a in enumerate(aggregates))
    if strategy == "grouping_sets":
        dims = "".join(f"d{i}, " for i in range(n_dims))
        flags = "".join(f"GROUPING(d{i}) AS g{i}, " for i in range(n_dims))
        groups = ", ".join("(" + ", ".join(f"d{i}" for i in s) + ")" for s in sets)
        return (
            f"{head} SELECT {dims}{flags}{aggs} FROM {source} "  # noqa: S608
            f"GROUP BY GROUPING SETS ({groups})"
        )
    # The first set holds every dimension, so its columns give the types the NULLs of
    # the later branches take (PostgreSQL types a UNION from left to right).
    parts = []
    for s in sets:
        dims = "".join((f"d{i}" if i in s else "NULL") + f" AS d{i}, " for i in range(n_dims))
        flags = "".join(f"{0 if i in s else 1} AS g{i}, " for i in range(n_dims))
        group = (" GROUP BY " + ", ".join(f"d{i}" for i in s)) if s else ""
        parts.append(f"SELECT {dims}{flags}{aggs} FROM {source}{group}")  # noqa: S608
    return f"{head} " + " UNION ALL ".join(parts)


def default_strategy() -> Strategy:
    return "grouping_sets" if connection.vendor == "postgresql" else "union_all"


def plan(spec: Spec, user: Any, ctx: Context, strategy: Strategy | None = None) -> Plan:
    dataset = _dataset(spec.dataset)
    dims = [dataset.dimension(c) for c in (*spec.rows, *spec.columns)]
    measures = [dataset.measure(c) for c in spec.measures]
    qs = dataset.queryset(ctx).filter(scope_q(user, field=dataset.scope_field))
    if spec.filter:
        qs = qs.filter(compile_rule(spec.filter, dataset.registry()).q(ctx.today))
    multi = any(d.multi for d in dims if d is not None)
    relations: dict[str, Any] = {}
    for d in dims:
        if d is not None and d.relations is not None:
            relations.update(d.relations(ctx))
    if relations:
        qs = qs.annotate(**relations)
    columns: dict[str, Any] = {f"d{i}": d.expression(ctx) for i, d in enumerate(dims) if d}
    for i, m in enumerate(measures):
        if m is None or m.kind == "rows":
            continue
        if m.kind == "count_if":
            then: Any = F("pk") if multi else Value(1)
            columns[f"m{i}"] = Case(
                When(m.condition(ctx) if m.condition else Q(), then=then),
                default=None if multi else Value(0),
                output_field=IntegerField(),
            )
        else:
            columns[f"m{i}"] = m.expression(ctx) if m.expression else F("pk")
    if multi:
        columns["k"] = F("pk")
    qs = qs.annotate(**columns)
    for i, d in enumerate(dims):
        if d is not None and d.multi:
            qs = qs.filter(**{f"d{i}__isnull": False})
    try:
        inner, params = qs.order_by().values(*columns).query.sql_with_params()
    except EmptyResultSet:  # nothing in scope (a resident): no query at all
        return Plan("", [], [d for d in dims if d], [m for m in measures if m],
                    len(spec.rows), len(spec.columns))  # fmt: skip
    aggregates = [_aggregate(m, i, multi) for i, m in enumerate(measures) if m is not None]
    sets = grouping_sets(len(spec.rows), len(spec.columns))
    additive = not multi and all(m.kind != "distinct" for m in measures if m is not None)
    sql = aggregate_sql(
        inner, len(dims), aggregates, sets, strategy or default_strategy(), additive=additive
    )
    return Plan(
        sql, list(params), [d for d in dims if d], [m for m in measures if m],
        len(spec.rows), len(spec.columns),
    )  # fmt: skip


def fetch(p: Plan) -> dict[tuple[Key, Key], list[Any]]:
    """The cells by (row key, column key); a key is the prefix of grouped values."""
    n = len(p.dims)
    out: dict[tuple[Key, Key], list[Any]] = {}
    if not p.sql:
        return out
    with connection.cursor() as cursor:
        cursor.execute(p.sql, p.params)
        for row in cursor.fetchall():
            values, flags, aggs = row[:n], row[n : 2 * n], row[2 * n :]
            r = sum(1 for i in range(p.n_rows) if not flags[i])
            c = sum(1 for i in range(p.n_rows, n) if not flags[i])
            rkey = tuple(_code(v) for v in values[:r])
            ckey = tuple(_code(v) for v in values[p.n_rows : p.n_rows + c])
            numbers = zip(aggs, p.measures, strict=True)
            out[(rkey, ckey)] = [_number(a, m.decimals) for a, m in numbers]
    return out


def _code(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any, decimals: int) -> int | float:
    """A count as an int, a sum as a float to its measure's decimals. PostgreSQL's SUM of
    counts is numeric (a Decimal): the same 398 must not read 398.0 there."""
    if value is None:
        return 0
    if decimals == 0:
        return round(value)
    return float(round(Decimal(str(value)), decimals))


# --- the table ---------------------------------------------------------------------------
@dataclass
class Table:
    """What the screen, the API and the Excel file show, cell for cell."""

    title: str
    subtitle: str
    header: list[list[dict[str, Any]]]
    rows: list[dict[str, Any]]
    width: int
    label_columns: int
    decimals: list[int]
    spec: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "spec": self.spec,
            "header": self.header,
            "rows": self.rows,
            "width": self.width,
            "label_columns": self.label_columns,
            "decimals": self.decimals,
        }


def _ordered(dim: Dimension, codes: set[str | None]) -> list[str | None]:
    out: list[str | None] = list(dim.ordered(c for c in codes if c is not None))
    if None in codes:
        out.append(None)
    return out


def build_table(spec: Spec, p: Plan, cells: dict[tuple[Key, Key], list[Any]]) -> Table:
    dataset = _dataset(spec.dataset)
    nr, nc, measures = p.n_rows, p.n_columns, p.measures
    row_dims, col_dims = p.dims[:nr], p.dims[nr:]
    # labels: one lookup per dimension over every code found
    found: list[set[str | None]] = [set() for _ in p.dims]
    for rkey, ckey in cells:
        for i, v in enumerate(rkey):
            found[i].add(v)
        for i, v in enumerate(ckey):
            found[nr + i].add(v)
    labels = []
    for i, d in enumerate(p.dims):
        names = d.label_map([c for c in found[i] if c is not None])
        labels.append(lambda v, names=names, d=d: d.null_label if v is None else names.get(v, v))

    # columns: every declared value (zeros included) or every value found, in order
    col_values = []
    for j, d in enumerate(col_dims):
        codes = set(found[nr + j])
        if d.values is not None:
            codes |= {c for c, _ in d.values}
        col_values.append(_ordered(d, codes))
    leaves: list[Key] = []
    if nc == 0:
        leaves = [()]
    elif nc == 1:
        leaves = [(v,) for v in col_values[0]] + [()]
    else:
        for v in col_values[0]:
            leaves += [(v, w) for w in col_values[1]] + [(v,)]
        leaves.append(())

    # rows: the values found under each prefix, a 小计 after each group, 合计 last
    detail = {rk for rk, _ in cells if len(rk) == nr}

    def children(prefix: Key, level: int) -> list[Key]:
        codes = {rk[level] for rk in detail if rk[:level] == prefix}
        return [(*prefix, v) for v in _ordered(row_dims[level], codes)]

    def walk(prefix: Key, level: int) -> list[Key]:
        if level == nr:
            return [prefix]
        out: list[Key] = []
        for child in children(prefix, level):
            out += walk(child, level + 1)
        if level > 0:  # the group under a value of an outer row dimension: its 小计
            out.append(prefix)
        return out

    row_keys: list[Key] = walk((), 0)
    row_keys.append(())

    m = len(measures)
    width = nr + len(leaves) * m
    header = _header(spec, row_dims, col_dims, col_values, labels[nr:], measures)
    rows = []
    for rk in row_keys:
        kind = "data" if len(rk) == nr else ("total" if not rk else "subtotal")
        label_cells = [labels[i](v) for i, v in enumerate(rk)]
        if kind == "total":
            label_cells = ["合计"]
        elif kind == "subtotal":
            label_cells.append("小计")
        label_cells += [""] * (nr - len(label_cells))
        numbers: list[Any] = []
        for ck in leaves:
            numbers += cells.get((rk, ck), [0] * m)
        rows.append({"kind": kind, "cells": label_cells + numbers})
    decimals = [0] * nr + [ms.decimals for _ in leaves for ms in measures]
    subtitle = "、".join(ms.label for ms in measures)
    if spec.filter:
        subtitle += f"；筛选：{spec.filter}"
    return Table(
        title=spec.title or f"{dataset.label}统计表",
        subtitle=subtitle,
        header=header,
        rows=rows,
        width=width,
        label_columns=nr,
        decimals=decimals,
        spec=spec.as_dict(),
    )


def _header(
    spec: Spec,
    row_dims: list[Dimension],
    col_dims: list[Dimension],
    col_values: list[list[str | None]],
    col_labels: list[Any],
    measures: list[Measure],
) -> list[list[dict[str, Any]]]:
    """Header rows of cells ``{text, row, col, rowspan, colspan}``: the row dimensions'
    names span every header row; each column value spans its sub-columns; 小计 and 合计
    span down to the measure row; the measures get a row of their own when there are
    several (or no column dimension)."""
    nr, nc, m = len(row_dims), len(col_dims), len(measures)
    measure_row = m > 1 or nc == 0
    height = nc + (1 if measure_row else 0)
    rows: list[list[dict[str, Any]]] = [[] for _ in range(height)]

    def cell(r: int, c: int, text: str, rowspan: int = 1, colspan: int = 1) -> None:
        rows[r].append({"text": text, "row": r, "col": c, "rowspan": rowspan, "colspan": colspan})

    for i, d in enumerate(row_dims):
        cell(0, i, d.label, rowspan=height)
    col = nr
    inner = len(col_values[1]) + 1 if nc == 2 else 1
    if nc >= 1:
        for v in col_values[0]:
            cell(0, col, col_labels[0](v), colspan=inner * m)
            if nc == 2:
                for j, w in enumerate(col_values[1]):
                    cell(1, col + j * m, col_labels[1](w), colspan=m)
                cell(1, col + (inner - 1) * m, "小计", colspan=m)
            col += inner * m
        cell(0, col, "合计", rowspan=nc, colspan=m)
        col += m
    if measure_row:
        leaves = (col - nr) // m if nc else 1
        for leaf in range(leaves):
            for j, ms in enumerate(measures):
                cell(height - 1, nr + leaf * m + j, ms.label)
    return rows


def run(
    data: Any, user: Any, *, today: dt.date | None = None, strategy: Strategy | None = None
) -> Table:
    """The report of ``data`` (a spec as JSON) for ``user``: parse, plan, one query."""
    spec = parse_spec(data)
    ctx = Context(today or timezone.localdate())
    p = plan(spec, user, ctx, strategy)
    return build_table(spec, p, fetch(p))
