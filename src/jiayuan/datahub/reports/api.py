"""API of the one table (一套表): run a report, list, read and save templates, and
download a template's report as Excel.

``POST /reports/query`` takes a spec and returns the table the page shows: header rows
of merged cells and body rows marked ``data``/``subtotal``/``total``. A bad spec
(unknown dataset, dimension or measure, too many dimensions, a filter the rule language
refuses) is a 422 in Chinese and English; the filter's error says where it is.
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Field, Router, Schema, Status

from jiayuan.core.api import acting_user, responses

from . import export, query, templates

router = Router(tags=["一套表"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SpecIn(Schema):
    """A report: dataset, row and column dimensions, measures, a rule-language filter."""

    dataset: str = Field(..., max_length=40, description="数据集 / dataset code")
    rows: list[str] = Field(default_factory=list, max_length=10)
    columns: list[str] = Field(default_factory=list, max_length=10)
    measures: list[str] = Field(default_factory=list, max_length=10)
    filter: str = Field("", max_length=query.MAX_FILTER, description="规则语言 / rule language")
    title: str = Field("", max_length=query.MAX_TITLE)


class HeaderCell(Schema):
    text: str
    row: int
    col: int
    rowspan: int
    colspan: int


class BodyRow(Schema):
    kind: str = Field(..., description="data | subtotal (小计) | total (合计)")
    cells: list[str | int | float]


class TableOut(Schema):
    title: str
    subtitle: str
    spec: dict[str, Any]
    header: list[list[HeaderCell]]
    rows: list[BodyRow]
    width: int
    label_columns: int
    decimals: list[int]


class TemplateOut(Schema):
    code: str
    name: str
    standard: bool
    spec: dict[str, Any]


class TemplateList(Schema):
    items: list[TemplateOut]
    count: int
    standard_answered: int = Field(..., description="已支持的标准报表数 / standard forms answered")


class TemplateIn(Schema):
    name: str = Field(..., max_length=80)
    spec: SpecIn


@router.post("/reports/query", response=responses(TableOut))
def run_query(request: HttpRequest, body: SpecIn) -> dict[str, Any]:
    """The report of a spec, over what the user may see."""
    user = acting_user(request)
    templates.require_reader(user)
    return query.run(body.dict(), user).as_dict()


@router.get("/reports/templates", response=responses(TemplateList))
def list_templates(request: HttpRequest) -> dict[str, Any]:
    """The standard forms and the user's own templates."""
    rows = templates.listing(acting_user(request))
    return {"items": rows, "count": len(rows), "standard_answered": templates.answered(rows)}


@router.get("/reports/templates/{code}", response=responses(TemplateOut))
def get_template(request: HttpRequest, code: str) -> Any:
    return templates.get(acting_user(request), code)


@router.post("/reports/templates", response=responses(TemplateOut, 201))
def save_template(request: HttpRequest, body: TemplateIn) -> Status[Any]:
    """Save a report as the user's own template."""
    row = templates.save(acting_user(request), body.name, body.spec.dict())
    return Status(201, row)


@router.get("/reports/templates/{code}/export.xlsx", response=responses(None))
def export_template(request: HttpRequest, code: str) -> FileResponse:
    """The template's report as an XLSX file, cell for cell the table of the query."""
    user = acting_user(request)
    row = templates.get(user, code)
    table = query.run({**row.spec, "title": row.name}, user)
    return xlsx_response(table)


def xlsx_response(table: query.Table) -> FileResponse:
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    export.write(table, out)
    out.seek(0)
    return FileResponse(out, as_attachment=True, filename=f"{table.title}.xlsx",
                        content_type=XLSX)  # fmt: skip
