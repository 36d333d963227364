"""The projects API: a project through 立项 and 发包 to its agreement over HTTP, scope
(another community's staff gets 404), hostile input (4xx, never 5xx) and the query
counts of its GET routes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.partners.choices import DocumentKind, Stage
from jiayuan.partners.models import Project

from .projects_world import (
    CRITERIA,
    PDF,
    World,
    inspect,
    proposal,
    to_supervision_stage,
    world_fixture,  # noqa: F401 - the fixture ``world``
)

pytestmark = pytest.mark.django_db
API = "/api/v1"


def body(world: World, **overrides: Any) -> dict[str, Any]:
    data = dict(proposal(world, **overrides).__dict__)
    return data


def post(api: Any, path: str, data: Any = None) -> Any:
    return api.post(path, data)


def upload(api: Any, path: str, **fields: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return api.upload(path, {"file": SimpleUploadedFile("a.pdf", PDF, "application/pdf")}, **fields)


def test_a_project_through_its_stages_over_http(world: World, api_as: Any) -> None:
    staff = api_as(world.staff)
    # 立项
    created = post(staff, "/partner-projects", body(world))
    assert created.status_code == 201, created.content
    project = created.json()
    pid = project["id"]
    assert project["stage"] == "proposal"
    assert project["missing"][0]["kind"] == "proposal"
    refused = post(
        staff, f"/partner-projects/{pid}/decisions", {"stage": "proposal", "decision": "approved"}
    )
    assert refused.status_code == 409 and "申报书" in refused.json()["message"]
    assert (
        upload(
            staff, f"/partner-projects/{pid}/documents", kind="proposal", title="申报书"
        ).status_code
        == 201
    )
    decided = post(
        staff, f"/partner-projects/{pid}/decisions", {"stage": "proposal", "decision": "approved"}
    )
    assert decided.status_code == 201 and decided.json()["stage"] == "call"

    # 发包: open, apply, close, score, select, publish, approve
    closes = (timezone.now() + dt.timedelta(days=5)).isoformat()
    panel = [r.pk for r in world.reviewers]
    call_in = {"title": "招募", "criteria": CRITERIA, "closes_at": closes, "panel": panel}
    opened = post(staff, f"/partner-projects/{pid}/calls", call_in)
    assert opened.status_code == 201, opened.content
    cid = opened.json()["id"]
    apps = []
    for partner, price in zip(world.partners[:2], ("12", "10"), strict=True):
        r = post(staff, f"/partner-calls/{cid}/applications",
                 {"partner_id": partner.pk, "plan": "方案", "offered_price": price})  # fmt: skip
        assert r.status_code == 201, r.content
        apps.append(r.json()["id"])
    assert post(staff, f"/partner-calls/{cid}/close").status_code == 200
    for reviewer in world.reviewers:
        api = api_as(reviewer)
        for app_id, value in zip(apps, (70, 90), strict=True):
            r = post(api, f"/partner-applications/{app_id}/scores",
                     {"scores": {"plan": value, "price": value, "record": value}})  # fmt: skip
            assert r.status_code == 200, r.content
    call = staff.get(f"/partner-calls/{cid}").json()
    assert [row["application_id"] for row in call["ranking"]] == [apps[1], apps[0]]
    assert call["scoring_complete"] and call["ranking"][0]["total"] == "90.00"
    assert post(staff, f"/partner-calls/{cid}/selection", {}).json()["selected_id"] == apps[1]
    assert upload(staff, f"/partner-calls/{cid}/publish").json()["status"] == "published"
    assert (
        upload(staff, f"/partner-projects/{pid}/documents", kind="call", title="公告").status_code
        == 201
    )
    decided = post(
        staff, f"/partner-projects/{pid}/decisions", {"stage": "call", "decision": "approved"}
    )
    assert decided.json()["partner_id"] == world.partners[1].pk

    # 协议
    today = timezone.localdate()
    drafted = post(staff, f"/partner-projects/{pid}/agreements", {
        "starts_on": today.isoformat(), "ends_on": (today + dt.timedelta(days=365)).isoformat(),
        "obligations": "提供助餐", "exit_conditions": "信用分低于清退线", "price_cap": "10",
    })  # fmt: skip
    assert drafted.status_code == 201, drafted.content
    aid = drafted.json()["id"]
    assert post(staff, f"/partner-agreements/{aid}/sign").status_code == 409
    assert (
        upload(
            staff, f"/partner-projects/{pid}/documents", kind="agreement", title="协议"
        ).status_code
        == 201
    )
    assert post(staff, f"/partner-agreements/{aid}/sign").json()["status"] == "active"
    decided = post(
        staff, f"/partner-projects/{pid}/decisions", {"stage": "agreement", "decision": "approved"}
    )
    assert decided.json()["stage"] == "supervision"
    assert [s["state"] for s in decided.json()["steps"]] == [
        "done",
        "done",
        "done",
        "current",
        "ahead",
    ]


def test_another_community_gets_404(world: World, api_as: Any) -> None:
    project = to_supervision_stage(world)
    call = project.calls.get()
    agreement = project.agreements.get()
    document = project.documents.first()
    outsider = api_as(world.outsider)
    for path in (f"/partner-projects/{project.pk}", f"/partner-calls/{call.pk}",
                 f"/partner-agreements/{agreement.pk}",
                 f"/partner-projects/{project.pk}/documents/{document.pk}"):  # fmt: skip
        assert outsider.get(path).status_code == 404, path
    assert outsider.get("/partner-projects").json()["count"] == 0
    assert post(outsider, f"/partner-projects/{project.pk}/decisions",
                {"stage": "supervision", "decision": "approved"}).status_code == 404  # fmt: skip
    assert (
        upload(
            outsider, f"/partner-projects/{project.pk}/documents", kind="other", title="x"
        ).status_code
        == 404
    )
    assert post(outsider, f"/partner-agreements/{agreement.pk}/sign").status_code == 404
    assert api_as("grid").get(f"/partner-projects/{project.pk}").status_code == 404
    # the staff of the community read it, documents included
    staff = api_as(world.staff)
    assert staff.get(f"/partner-projects/{project.pk}/documents/{document.pk}").status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"budget": "1234567890123"},
        {"budget": "-5"},
        {"budget": "NaN"},
        {"budget": 1e20},
        {"price_cap": "Infinity"},
        {"price_class": "luxury"},
        {"target_groups": ["<script>"]},
        {"hours": {"9": [["08:00", "09:00"]]}},
        {"name": "x" * 101},
        {"area_id": 2**64},
        {"room_id": 2**63 + 5},
    ],
)
def test_hostile_proposals_are_4xx(world: World, api_as: Any, overrides: dict[str, Any]) -> None:
    response = post(api_as(world.staff), "/partner-projects", body(world, **overrides))
    assert 400 <= response.status_code < 500, response.content
    assert not Project.objects.exists()


def test_hostile_calls_and_ids(world: World, api_as: Any) -> None:
    staff = api_as(world.staff)
    pid = post(staff, "/partner-projects", body(world)).json()["id"]
    closes = (timezone.now() + dt.timedelta(days=5)).isoformat()
    bad = [{"label": "方案", "weight": 50}, {"label": "价格", "weight": 40}]
    call_in = {"title": "招募", "criteria": bad, "closes_at": closes, "panel": [world.staff.pk]}
    r = post(staff, f"/partner-projects/{pid}/calls", call_in)
    assert r.status_code in (409, 422)
    for path in ("/partner-projects/18446744073709551616", "/partner-calls/9223372036854775808",
                 "/partner-agreements/0"):  # fmt: skip
        assert staff.get(path).status_code == 404, path
    r = post(
        staff,
        "/partner-projects/99999999999999999999/decisions",
        {"stage": "proposal", "decision": "approved"},
    )
    assert r.status_code == 404
    r = post(
        staff, f"/partner-projects/{pid}/decisions", {"stage": "launch", "decision": "approved"}
    )
    assert r.status_code == 422
    r = post(
        staff,
        "/partner-funds",
        {"area_id": world.community.pk, "year": 2027, "name": "x", "amount": "NaN"},
    )
    assert r.status_code == 422


def test_weights_not_summing_to_100_are_422_in_the_call_stage(world: World, api_as: Any) -> None:
    from .projects_world import to_call_stage

    project = to_call_stage(world)
    staff = api_as(world.staff)
    closes = (timezone.now() + dt.timedelta(days=5)).isoformat()
    hostile = [
        [{"label": "方案", "weight": 50}, {"label": "价格", "weight": 49}],
        [{"label": "方案", "weight": "NaN"}],
        [{"label": "方案", "weight": 1e30}],
    ]
    for criteria in hostile:
        call_in = {"title": "招募", "criteria": criteria, "closes_at": closes}
        r = post(
            staff, f"/partner-projects/{project.pk}/calls", {**call_in, "panel": [world.staff.pk]}
        )
        assert r.status_code == 422, r.content
        assert "100" in r.json()["message"] or "权重" in r.json()["message"]


# --- query counts ----------------------------------------------------------------------
def count(api: Any, path: str) -> int:
    api.get(path)
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path)
    assert response.status_code == 200, (path, response.content)
    return len(ctx.captured_queries)


def grow(world: World, project: Project, n: int) -> None:
    """n more of every row the GET routes show: projects, decisions, documents, calls'
    applications and scores, agreements, funds."""
    from jiayuan.partners.models import (
        Application,
        Document,
        Fund,
        PanelScore,
        Partner,
        StageDecision,
    )
    from tests.pages.test_query_counts import clone_rows

    clone_rows(Project.objects.filter(pk=project.pk), n, room_id=None, position_id=None)
    clone_rows(StageDecision.objects.filter(project=project), n)
    clone_rows(Document.objects.filter(project=project), n)
    clone_rows(Fund.objects.all(), n, year=lambda i: 2030 + i)
    call = project.calls.get()
    partners = clone_rows(Partner.objects.filter(pk=world.partners[0].pk), n)
    apps = clone_rows(Application.objects.filter(call=call), n, partner=lambda i: partners[i])
    for app in apps:
        clone_rows(PanelScore.objects.filter(application__call=call).order_by("pk"), 9,
                   application=app)  # fmt: skip


def test_get_routes_cost_the_same_for_few_rows_and_many(world: World, api_as: Any) -> None:
    project = to_supervision_stage(world)
    inspect(world, project)
    call = project.calls.get()
    agreement = project.agreements.get()
    paths = ["/partner-projects", f"/partner-projects/{project.pk}", "/partner-funds",
             f"/partner-calls/{call.pk}", f"/partner-agreements/{agreement.pk}"]  # fmt: skip
    staff = api_as(world.staff)
    before = {p: count(staff, p) for p in paths}
    grow(world, project, 30)
    after = {p: count(staff, p) for p in paths}
    assert after == before
    assert staff.get("/partner-projects", limit=50).json()["count"] == 31
    assert len(staff.get(f"/partner-calls/{call.pk}").json()["ranking"]) == 33


def test_the_stage_names_in_the_api(world: World, api_as: Any) -> None:
    pid = post(api_as(world.staff), "/partner-projects", body(world)).json()["id"]
    detail = api_as(world.staff).get(f"/partner-projects/{pid}").json()
    assert [s["label"] for s in detail["steps"]] == ["立项", "发包", "协议", "监管", "评估"]
    assert detail["steps"][0]["word"] == "进行中"
    assert (
        Stage.PROPOSAL == detail["stage"] and DocumentKind.PROPOSAL == detail["missing"][0]["kind"]
    )
