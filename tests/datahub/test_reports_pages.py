"""The one table's pages: the template list counts the standard forms answered, the
builder refreshes its table through htmx, a bad filter is shown in place, the Excel
download is the builder's report, and what users type is shown as text."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.datahub.models import ReportTemplate
from jiayuan.datahub.reports import query, templates

pytestmark = pytest.mark.django_db


def client(username: str) -> Client:
    c = Client()
    c.force_login(get_user_model().objects.get(username=username))
    return c


def test_the_list_says_how_many_standard_forms_the_table_answers() -> None:
    response = client("community").get("/reports/")
    assert response.status_code == 200
    n = len(templates.standard_forms())
    assert f"已支持 <strong>{n}</strong> 张标准报表" in response.content.decode()
    for form in templates.standard_forms().values():
        assert form["name"] in response.content.decode()


def test_the_menu_has_the_one_table_for_staff_only() -> None:
    assert "一套表" in client("grid").get("/").content.decode()
    resident = client("resident")
    assert "一套表" not in resident.get("/").content.decode()
    assert resident.get("/reports/").status_code == 403


def test_the_builder_answers_htmx_with_the_table_only() -> None:
    # given the builder's fields (a community user, residents by grid and gender)
    params = {"dataset": "persons", "rows": ["grid"], "columns": ["gender"],
              "measures": ["persons"]}  # fmt: skip
    c = client("community")

    # when htmx asks for the refreshed builder
    response = c.get("/reports/build/", params, headers={"HX-Request": "true"})

    # then it is the builder partial (no page around it) with the engine's numbers
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="report-builder"') and "<html" not in html
    table = query.run(params, get_user_model().objects.get(username="community"))
    total = table.rows[-1]["cells"][-1]
    assert f"{total:,}" in html and 'data-kind="total"' in html


def test_a_bad_filter_is_shown_in_place() -> None:
    params = {"dataset": "persons", "rows": ["grid"], "filter": "age >= "}
    response = client("community").get("/reports/build/", params, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert 'data-testid="report-error"' in response.content.decode()
    assert "第1行" in response.content.decode()


def test_the_download_is_the_builders_report() -> None:
    params = {"dataset": "cases", "rows": ["category"], "columns": ["channel"],
              "title": "诉求来源"}  # fmt: skip
    c = client("community")
    response = c.get("/reports/build/export.xlsx", params)
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    table = query.run(params, get_user_model().objects.get(username="community"))
    assert sheet.cell(1, 1).value == "诉求来源"
    last = [sheet.cell(sheet.max_row, j + 1).value for j in range(table.width)]
    assert last == table.rows[-1]["cells"]


def test_a_saved_report_keeps_its_fields_and_shows_its_name_as_text() -> None:
    c = client("community")
    response = c.post("/reports/save/", {"dataset": "persons", "rows": ["grid"],
                                         "filter": "age >= 80", "name": "<b>高龄</b>"})  # fmt: skip
    assert response.status_code == 302
    row = ReportTemplate.objects.get(owner__username="community")
    assert row.spec["filter"] == "age >= 80" and row.name == "<b>高龄</b>"
    page = c.get(response["Location"]).content.decode()
    assert "&lt;b&gt;高龄&lt;/b&gt;" in page and "<b>高龄</b>" not in page
    assert client("grid").get(response["Location"]).status_code == 404
