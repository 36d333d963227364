"""Pages of the one table (一套表): the template list with the number of standard forms
answered, the builder (dataset, rows, columns, measures, filter; htmx refreshes the
table), a template's report, its Excel download and saving a report as one's own
template. Every number comes from :mod:`.query`, the same call as the API's."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from jiayuan.core import reporting
from jiayuan.core.errors import BilingualError
from jiayuan.core.views import error_page, is_htmx, page

from . import query, templates
from .api import xlsx_response

PARTIAL = "datahub/reports/partials/builder.html"
DEFAULT_SPEC: dict[str, Any] = {
    "dataset": "persons",
    "rows": ["community"],
    "columns": ["gender"],
    "measures": ["persons"],
    "filter": "",
}


def spec_from(params: QueryDict) -> dict[str, Any]:
    """The builder's fields as a spec; names of another dataset (left over when the
    dataset changes) are dropped, so switching datasets never shows an error."""
    if "dataset" not in params:
        return dict(DEFAULT_SPEC)
    dataset = reporting.get(params.get("dataset", ""))
    if dataset is None:
        return dict(DEFAULT_SPEC)
    dims = {d.code for d in dataset.dimensions}
    rows = [c for c in params.getlist("rows") if c in dims][: query.MAX_ROWS]
    columns = [c for c in params.getlist("columns") if c in dims and c not in rows]
    measures = [c for c in params.getlist("measures") if dataset.measure(c)]
    return {
        "dataset": dataset.code,
        "rows": list(dict.fromkeys(rows)) or [dataset.dimensions[1].code],
        "columns": list(dict.fromkeys(columns))[: query.MAX_COLUMNS],
        "measures": measures or [dataset.measures[0].code],
        "filter": params.get("filter", "")[: query.MAX_FILTER],
        "title": params.get("title", "")[: query.MAX_TITLE],
    }


def querystring(spec: dict[str, Any]) -> str:
    pairs: list[tuple[str, str]] = [("dataset", spec["dataset"])]
    for key in ("rows", "columns", "measures"):
        pairs += [(key, c) for c in spec.get(key) or []]
    for key in ("filter", "title"):
        if spec.get(key):
            pairs.append((key, spec[key]))
    return urlencode(pairs)


@page
def index(request: HttpRequest) -> HttpResponse:
    """报表模板: the standard forms and the user's own templates."""
    rows = templates.listing(request.user)
    for row in rows:
        describe(row)
    context = {
        "standard": [r for r in rows if r.standard],
        "own": [r for r in rows if not r.standard],
        "answered": templates.answered(rows),
    }
    return render(request, "datahub/reports/index.html", context)


def describe(row: Any) -> None:
    """Labels of a template's dataset and dimensions, for the list."""
    dataset = reporting.get(row.spec.get("dataset", ""))
    row.dataset_label = dataset.label if dataset else row.spec.get("dataset", "")

    def labels(codes: list[str]) -> str:
        dims = [dataset.dimension(c) if dataset else None for c in codes]
        return " · ".join(d.label if d else c for d, c in zip(dims, codes, strict=True))

    row.rows_label = labels(row.spec.get("rows") or [])
    row.columns_label = labels(row.spec.get("columns") or [])


def display_rows(table: query.Table) -> list[dict[str, Any]]:
    """The body as the screen shows it: labels, then numbers with thousands separators
    and each measure's decimals (the Excel file's number formats)."""
    out = []
    for row in table.rows:
        cells = []
        for i, value in enumerate(row["cells"]):
            if i < table.label_columns:
                cells.append({"text": value, "number": False})
            else:
                cells.append({"text": f"{value:,.{table.decimals[i]}f}", "number": True})
        out.append({"kind": row["kind"], "cells": cells})
    return out


def _builder(request: HttpRequest, spec: dict[str, Any], template: Any = None) -> HttpResponse:
    templates.require_reader(request.user)
    table, error = None, None
    try:
        table = query.run(spec, request.user)
    except BilingualError as exc:
        error = exc.zh
    dataset = reporting.get(spec["dataset"])
    slots = lambda key, n: (spec.get(key) or [])[:n] + [""] * (n - len(spec.get(key) or []))  # noqa: E731
    context = {
        "spec": spec,
        "table": table,
        "error": error,
        "template": template,
        "datasets": reporting.datasets(),
        "dataset": dataset,
        "row_slots": slots("rows", query.MAX_ROWS),
        "column_slots": slots("columns", query.MAX_COLUMNS),
        "query": querystring(spec),
        "display_rows": display_rows(table) if table else [],
    }
    name = (
        "datahub/reports/partials/builder.html"
        if is_htmx(request)
        else "datahub/reports/build.html"
    )
    return render(request, name, context, status=200 if error is None else 422)


@page
def build(request: HttpRequest) -> HttpResponse:
    """自定义报表: the builder over any dataset."""
    return _builder(request, spec_from(request.GET))


@page
def template_report(request: HttpRequest, code: str) -> HttpResponse:
    """A template's report, in the builder so it can be changed and saved anew."""
    row = templates.get(request.user, code)
    spec = {**templates.normal_spec(row.spec), "title": row.name}
    return _builder(request, spec, template=row)


@login_required
def export(request: HttpRequest) -> HttpResponseBase:
    """导出 Excel: the report of the builder's fields, as shown."""
    try:
        templates.require_reader(request.user)
        return xlsx_response(query.run(spec_from(request.GET), request.user))
    except BilingualError as exc:
        return error_page(request, exc)


@page
@require_POST
def save(request: HttpRequest) -> HttpResponse:
    """Save the builder's report as the user's own template."""
    spec = spec_from(request.POST)
    row = templates.save(request.user, request.POST.get("name", ""), spec)
    return redirect("datahub:report_template", code=row.code)
