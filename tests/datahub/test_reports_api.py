"""The one table's API: POST /reports/query, the templates (standard forms loaded from
YAML exactly once, the user's own), and bad specs answered 4xx in both languages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from jiayuan.datahub.models import ReportTemplate
from jiayuan.datahub.reports import query, templates

pytestmark = pytest.mark.django_db
BASE = "/api/v1"


def client(username: str | None) -> Client:
    c = Client()
    if username:
        c.force_login(get_user_model().objects.get(username=username))
    return c


def post(c: Client, path: str, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return c.post(BASE + path, data, content_type="application/json")


def test_query_returns_the_table_the_engine_computes() -> None:
    # given
    spec = {"dataset": "persons", "rows": ["community", "grid"], "columns": ["gender"],
            "measures": ["persons", "households"], "filter": "age >= 60"}  # fmt: skip

    # when
    response = post(client("community"), "/reports/query", spec)

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    community = get_user_model().objects.get(username="community")
    assert body["rows"] == query.run(spec, community).rows
    assert [r["kind"] for r in body["rows"]][-2:] == ["subtotal", "total"]
    assert body["header"][0][0] == {"text": "社区", "row": 0, "col": 0, "rowspan": 2,
                                    "colspan": 1}  # fmt: skip
    assert body["rows"][-1]["cells"][0] == "合计"
    # counts are whole numbers on both databases (PostgreSQL sums counts as numeric)
    assert all(type(v) is int for r in body["rows"] for v in r["cells"][2:])
    # the community user sees one community only
    assert len({r["cells"][0] for r in body["rows"] if r["kind"] == "data"}) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"dataset": "persons", "rows": ["nope"]}, 422, "invalid_report"),
        ({"dataset": "persons", "rows": ["grid"], "filter": "age >"}, 422, "invalid_rule"),
        ({"dataset": "persons", "rows": ["street", "community", "zone", "grid"]}, 422,
         "invalid_report"),
        ({"dataset": "persons", "rows": [[["grid"]]]}, 422, "validation_error"),
        ({"dataset": "persons", "rows": ["grid"] * 11}, 422, "validation_error"),
        ({"dataset": "persons", "rows": ["grid"], "filter": "a" * 5000}, 422, "validation_error"),
        ('{"dataset": "persons", "rows": ' + "[" * 50 + "]" * 50 + "}", 422, "validation_error"),
        ("[" * 100_000 + "]" * 100_000, 400, "bad_request"),
        ("not json", 400, "bad_request"),
    ],
)  # fmt: skip
def test_a_bad_spec_is_a_4xx_never_a_5xx(body: Any, status: int, code: str) -> None:
    response = post(client("community"), "/reports/query", body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert " / " in response.json()["message"]  # Chinese / English


def test_reports_need_a_staff_role() -> None:
    spec = {"dataset": "persons", "rows": ["grid"]}
    assert post(client(None), "/reports/query", spec).status_code == 401
    assert post(client("resident"), "/reports/query", spec).status_code == 403
    assert client("resident").get(BASE + "/reports/templates").status_code == 403


def test_standard_forms_load_once_and_come_back_when_changed() -> None:
    # given the YAML's forms
    forms = templates.standard_forms()
    assert len(forms) >= 8
    assert {"社区基本情况统计表", "特殊人群统计表", "党员情况统计表", "诉求办理情况统计表",
            "设备告警统计表", "政策落实情况表"} <= {f["name"] for f in forms.values()}  # fmt: skip
    c = client("community")

    # when the list is read twice
    first = c.get(BASE + "/reports/templates").json()
    assert templates.sync() == 0  # already in step: a second load writes nothing
    second = c.get(BASE + "/reports/templates").json()

    # then the standard forms are there once each, and every one of them runs
    assert first == second
    codes = [t["code"] for t in first["items"] if t["standard"]]
    assert sorted(codes) == sorted(forms)
    assert first["standard_answered"] == len(forms)
    assert ReportTemplate.objects.filter(standard=True).count() == len(forms)

    # and a standard row changed in the database is restored from the YAML on next read
    ReportTemplate.objects.filter(code="teshu-renqun").update(name="改过的", spec={})
    again = c.get(BASE + "/reports/templates/teshu-renqun").json()
    assert again["name"] == forms["teshu-renqun"]["name"]
    assert again["spec"] == forms["teshu-renqun"]["spec"]


def test_every_standard_form_runs_for_a_community_user() -> None:
    c = client("community")
    for code, form in templates.standard_forms().items():
        response = post(c, "/reports/query", {**form["spec"], "title": form["name"]})
        assert response.status_code == 200, (code, response.content)
        assert response.json()["rows"][-1]["kind"] == "total"


def test_a_saved_template_belongs_to_its_owner() -> None:
    # given a template saved by the community user
    response = post(client("community"), "/reports/templates",
                    {"name": "我的老人表", "spec": {"dataset": "persons", "rows": ["grid"],
                                                  "filter": "age >= 80"}})  # fmt: skip
    assert response.status_code == 201, response.content
    code = response.json()["code"]
    assert response.json()["spec"]["filter"] == "age >= 80"

    # then the owner reads it, another user gets a 404, and it is listed for the owner only
    assert client("community").get(f"{BASE}/reports/templates/{code}").status_code == 200
    assert client("grid").get(f"{BASE}/reports/templates/{code}").status_code == 404
    mine = [t["code"] for t in client("community").get(BASE + "/reports/templates").json()["items"]]
    theirs = [t["code"] for t in client("grid").get(BASE + "/reports/templates").json()["items"]]
    assert code in mine and code not in theirs


def test_saving_a_bad_template_is_refused() -> None:
    c = client("community")
    bad = post(c, "/reports/templates", {"name": "x", "spec": {"dataset": "persons",
                                                              "rows": ["nope"]}})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_report"
    unnamed = post(c, "/reports/templates", {"name": " ", "spec": {"dataset": "persons",
                                                                  "rows": ["grid"]}})  # fmt: skip
    assert unnamed.status_code == 422
    assert not ReportTemplate.objects.filter(standard=False).exists()


def test_the_template_list_costs_the_same_for_many_templates() -> None:
    # given the list read once (the standard forms loaded)
    c = client("community")
    c.get(BASE + "/reports/templates")
    with CaptureQueriesContext(connection) as before:
        c.get(BASE + "/reports/templates")

    # when the user has 30 templates of their own
    owner = get_user_model().objects.get(username="community")
    ReportTemplate.objects.bulk_create(
        ReportTemplate(code=f"mine-{i}", name=f"表{i}", owner=owner,
                       spec={"dataset": "persons", "rows": ["grid"]})
        for i in range(30)
    )  # fmt: skip
    with CaptureQueriesContext(connection) as after:
        body = c.get(BASE + "/reports/templates").json()

    # then
    assert body["count"] == len(templates.standard_forms()) + 30
    assert len(after.captured_queries) == len(before.captured_queries)


def test_the_report_query_costs_a_fixed_number_of_queries() -> None:
    # The report is one statement; labels and area widths add one query per dimension.
    c = client("admin")
    spec = {"dataset": "persons", "rows": ["community", "grid"], "columns": ["special_group"]}
    post(c, "/reports/query", spec)
    with CaptureQueriesContext(connection) as ctx:
        assert post(c, "/reports/query", spec).status_code == 200
    assert len(ctx.captured_queries) <= 10
