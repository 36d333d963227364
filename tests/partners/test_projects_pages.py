"""The projects pages: every step from the proposal to the approved agreement done on
pages, scope (another community's staff gets 404), hostile input (4xx), and pages that
cost the same queries with few rows and many."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.partners.choices import CallStatus, Stage
from jiayuan.partners.models import Call, Project

from .projects_world import (
    PDF,
    World,
    inspect,
    to_supervision_stage,
    world_fixture,  # noqa: F401 - the fixture ``world``
)

pytestmark = pytest.mark.django_db


def pdf() -> SimpleUploadedFile:
    return SimpleUploadedFile("doc.pdf", PDF, "application/pdf")


def proposal_form(world: World, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": "长者食堂", "content": "午餐和晚餐", "area": world.community.pk,
        "space": f"room:{world.room.pk}", "days": ["1", "2"], "start": "11:00", "end": "13:00",
        "price_class": "low_cost", "price_cap": "15", "target_groups": ["高龄"],
        "budget": "30000", "fund": world.fund.pk,
    }  # fmt: skip
    data.update(overrides)
    return data


def upload(client: Any, project: Project, kind: str) -> None:
    r = client.post(
        f"/partners/projects/{project.pk}/documents/", {"kind": kind, "title": kind, "file": pdf()}
    )
    assert r.status_code == 302, r.content.decode()[:2000]


def decide(client: Any, project: Project, decision: str = "approved") -> Any:
    return client.post(f"/partners/projects/{project.pk}/decide/", {"decision": decision})


def test_a_project_from_proposal_to_agreement_on_pages(world: World, page_as: Any) -> None:
    staff = page_as(world.staff)
    assert "合伙项目" in staff.get("/partners/projects/").content.decode()

    # 立项
    r = staff.post("/partners/projects/new/", proposal_form(world))
    assert r.status_code == 302, r.content.decode()[:3000]
    project = Project.objects.get()
    assert project.hours == {"1": [["11:00", "13:00"]], "2": [["11:00", "13:00"]]}
    page = staff.get(f"/partners/projects/{project.pk}/").content.decode()
    assert "缺少项目申报书" in page and 'data-state="current"' in page
    assert decide(staff, project).status_code == 409
    upload(staff, project, "proposal")
    assert decide(staff, project).status_code == 302
    project.refresh_from_db()
    assert project.stage == Stage.CALL

    # 发包
    closes = (timezone.localtime() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    r = staff.post(f"/partners/projects/{project.pk}/calls/", {
        "title": "长者食堂公开招募", "closes_at": closes,
        "label_1": "方案", "weight_1": "60", "label_2": "价格", "weight_2": "40",
        "panel": [str(r.pk) for r in world.reviewers],
    })  # fmt: skip
    assert r.status_code == 302, r.content.decode()[:3000]
    call = Call.objects.get()
    for partner in world.partners[:2]:
        r = staff.post(f"/partners/calls/{call.pk}/apply/",
                       {"partner": partner.pk, "plan": "方案", "offered_price": "12"})  # fmt: skip
        assert r.status_code == 302, r.content.decode()[:3000]
    assert staff.post(f"/partners/calls/{call.pk}/close/").status_code == 302
    apps = list(call.applications.order_by("pk"))
    for reviewer in world.reviewers:
        client = page_as(reviewer)
        for app, value in zip(apps, ("70", "85.5"), strict=True):
            r = client.post(f"/partners/calls/{call.pk}/scores/{app.pk}/",
                            {"score_c1": value, "score_c2": value})  # fmt: skip
            assert r.status_code == 302
    page = staff.get(f"/partners/calls/{call.pk}/").content.decode()
    assert "85.50" in page and "第 1 名" in page and 'data-testid="select-form"' in page
    assert staff.post(f"/partners/calls/{call.pk}/select/", {"application": ""}).status_code == 302
    assert staff.post(f"/partners/calls/{call.pk}/publish/", {"file": pdf()}).status_code == 302
    call.refresh_from_db()
    assert call.status == CallStatus.PUBLISHED and call.selected_id == apps[1].pk
    upload(staff, project, "call")
    assert decide(staff, project).status_code == 302
    project.refresh_from_db()
    assert (project.stage, project.partner_id) == (Stage.AGREEMENT, world.partners[1].pk)

    # 协议
    today = timezone.localdate()
    r = staff.post(f"/partners/projects/{project.pk}/agreements/", {
        "starts_on": today.isoformat(), "ends_on": (today + dt.timedelta(days=365)).isoformat(),
        "obligations": "提供助餐", "exit_conditions": "信用分低于清退线", "price_cap": "12",
        "warning_threshold": "80", "dismissal_threshold": "60",
    })  # fmt: skip
    assert r.status_code == 302, r.content.decode()[:3000]
    agreement = project.agreements.get()
    assert staff.post(f"/partners/agreements/{agreement.pk}/sign/").status_code == 409
    upload(staff, project, "agreement")
    assert staff.post(f"/partners/agreements/{agreement.pk}/sign/").status_code == 302
    assert decide(staff, project).status_code == 302
    project.refresh_from_db()
    assert project.stage == Stage.SUPERVISION
    page = staff.get(f"/partners/projects/{project.pk}/").content.decode()
    assert page.count('data-state="done"') == 3 and 'data-testid="supervision-panel"' in page


def test_refusals_show_on_the_forms(world: World, page_as: Any) -> None:
    staff = page_as(world.staff)
    hostile = [
        {"budget": "1e20"},
        {"budget": "-1"},
        {"budget": "NaN"},
        {"price_cap": "12345678901234"},
        {"space": "room:99999999999999999999"},
    ]
    for bad in hostile:
        r = staff.post("/partners/projects/new/", proposal_form(world, **bad))
        assert 400 <= r.status_code < 500, bad
    assert not Project.objects.exists()
    staff.post("/partners/projects/new/", proposal_form(world))
    project = Project.objects.get()
    upload(staff, project, "proposal")
    decide(staff, project)
    closes = (timezone.localtime() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    r = staff.post(f"/partners/projects/{project.pk}/calls/", {
        "title": "招募", "closes_at": closes, "label_1": "方案", "weight_1": "60",
        "label_2": "价格", "weight_2": "30", "panel": [str(world.staff.pk)],
    })  # fmt: skip
    assert r.status_code == 422 and "100" in r.content.decode()
    r = decide(staff, project, "rejected")
    assert r.status_code == 422 and "理由" in r.content.decode()


def test_another_community_gets_404(world: World, page_as: Any) -> None:
    project = to_supervision_stage(world)
    call, agreement = project.calls.get(), project.agreements.get()
    document = project.documents.first()
    outsider = page_as(world.outsider)
    for url in (f"/partners/projects/{project.pk}/", f"/partners/projects/{project.pk}/edit/",
                f"/partners/calls/{call.pk}/", f"/partners/agreements/{agreement.pk}/",
                f"/partners/projects/{project.pk}/documents/{document.pk}/",
                "/partners/projects/99999999999999999999/"):  # fmt: skip
        assert outsider.get(url).status_code == 404, url
    assert decide(outsider, project).status_code == 404
    assert outsider.post(f"/partners/agreements/{agreement.pk}/sign/").status_code == 404
    assert project.name not in outsider.get("/partners/projects/").content.decode()
    assert (
        page_as(world.staff)
        .get(f"/partners/projects/{project.pk}/documents/{document.pk}/")
        .status_code
        == 200
    )


def count(client: Any, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200, url
    return len(ctx.captured_queries)


def test_pages_cost_the_same_for_few_rows_and_many(world: World, page_as: Any) -> None:
    from jiayuan.partners.models import Application, Document, PanelScore, Partner, StageDecision
    from tests.pages.test_query_counts import clone_rows

    project = to_supervision_stage(world)
    inspect(world, project)
    call, agreement = project.calls.get(), project.agreements.get()
    urls = ["/partners/projects/", f"/partners/projects/{project.pk}/", "/partners/calls/",
            f"/partners/calls/{call.pk}/", f"/partners/agreements/{agreement.pk}/"]  # fmt: skip
    staff = page_as(world.staff)
    before = {u: count(staff, u) for u in urls}
    n = 25
    clone_rows(Project.objects.filter(pk=project.pk), n, room_id=None, position_id=None)
    clone_rows(StageDecision.objects.filter(project=project), n)
    clone_rows(Document.objects.filter(project=project), n)
    clone_rows(Call.objects.filter(pk=call.pk), n)
    partners = clone_rows(Partner.objects.filter(pk=world.partners[0].pk), n)
    apps = clone_rows(Application.objects.filter(call=call), n, partner=lambda i: partners[i])
    for app in apps:
        clone_rows(
            PanelScore.objects.filter(application__call=call).order_by("pk"), 9, application=app
        )
    after = {u: count(staff, u) for u in urls}
    assert after == before
