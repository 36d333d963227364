"""The supervision part's API: groups, inspections, findings and their photos,
rectification, feedback (the resident's own and the staff list), verification,
evaluations and the trend — scope, hostile input, and query counts that do not grow."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.partners import evaluation as evals
from jiayuan.partners import feedback as fb
from jiayuan.partners import supervision as svc
from jiayuan.partners.models import CreditEntry, Feedback, Finding, Partner
from jiayuan.people.models import Person

from .conftest import Api, Compounds, Watched, jpeg, login

pytestmark = pytest.mark.django_db
HUGE = 2**64


def deadline(days: int = 7) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def inspection_body(w: Watched, **kw: Any) -> dict[str, Any]:
    return {
        "project_id": w.project.pk,
        "summary": "检查后厨和价目表",
        "findings": [
            {"text": "后厨地面湿滑", "severity": "major", "rectify_by": deadline()},
            {"text": "价目表未公示", "severity": "minor", "rectify_by": deadline(3)},
        ],
        **kw,
    }


def scores_body(**weights: int) -> dict[str, Any]:
    w = {"operations": 30, "finance": 20, "social": 25, "quality": 25} | weights
    return {k: {"weight": v, "score": "80.50", "evidence": "台账"} for k, v in w.items()}


# --- inspections, findings, photos --------------------------------------------------------
def test_inspections_findings_photos_and_rectification(
    api_as: Any, watched: Watched, far_staff: Any, media: Any
) -> None:
    community = api_as("community")
    response = community.post("/inspections", inspection_body(watched))
    assert response.status_code == 201, response.content
    body = response.json()
    # the nearest deadline first
    assert [f["text"] for f in body["findings"]] == ["价目表未公示", "后厨地面湿滑"]
    assert body["findings"][0]["deadline_words"] == "还剩3天"
    finding_id = body["findings"][1]["id"]

    # a photo, once; its bytes for those who see the finding only
    photo = SimpleUploadedFile("a.jpg", jpeg(), content_type="image/jpeg")
    response = community.upload(f"/findings/{finding_id}/photo", {"file": photo})
    assert response.status_code == 200 and response.json()["has_photo"]
    again = SimpleUploadedFile("b.jpg", jpeg(), content_type="image/jpeg")
    assert community.upload(f"/findings/{finding_id}/photo", {"file": again}).status_code == 409
    fake = SimpleUploadedFile("c.jpg", b"<svg/>", content_type="image/jpeg")
    other_id = body["findings"][0]["id"]
    assert community.upload(f"/findings/{other_id}/photo", {"file": fake}).status_code == 422
    got = community.get(f"/findings/{finding_id}/photo")
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"
    far = Api(login(far_staff))
    assert far.get(f"/findings/{finding_id}/photo").status_code == 404
    assert far.get(f"/inspections/{body['id']}").status_code == 404
    assert far.get("/findings").json()["count"] == 0

    # rectified once
    response = community.post(f"/findings/{finding_id}/rectify", {"text": "已铺防滑垫"})
    assert response.status_code == 200 and response.json()["deadline_words"] == "已按期整改"
    assert community.post(f"/findings/{finding_id}/rectify", {"text": "x"}).status_code == 409
    listed = community.get("/findings", project=watched.project.pk, open=True).json()
    assert [f["id"] for f in listed["items"]] == [other_id]


def test_an_incident_between_inspections(api_as: Any, watched: Watched) -> None:
    body = {"project_id": watched.project.pk, "text": "投诉饭菜变质", "severity": "severe",
            "rectify_by": deadline(1)}  # fmt: skip
    response = api_as("head").post("/findings", body)
    assert response.status_code == 201, response.content
    assert response.json()["inspection"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"project_id": HUGE},
        {"project_id": 0},
        {"summary": ""},
        {"summary": "长" * 2001},
        {"inspected_at": "not a time"},
        {"findings": [{"text": "x", "severity": "fatal", "rectify_by": deadline()}]},
        {"findings": [{"text": "x", "severity": "minor", "rectify_by": "2020-01-01"}]},
        {"findings": [{"text": "x", "severity": "minor", "rectify_by": "9999-12-31"}]},
        {"findings": [{"text": "x", "severity": "minor"}]},
        {"findings": [{"text": "x", "severity": "minor", "rectify_by": deadline()}] * 21},
        {"group_id": -5},
    ],
)
def test_hostile_inspections_are_4xx(api_as: Any, watched: Watched, change: dict[str, Any]) -> None:
    response = api_as("community").post("/inspections", inspection_body(watched, **change))
    assert 400 <= response.status_code < 500, response.content
    assert "message" in response.json()
    assert not Finding.objects.exists()


def test_a_project_before_supervision_is_409_and_others_404(
    api_as: Any, watched: Watched, far_staff: Any
) -> None:
    community = api_as("community")
    body = inspection_body(watched, project_id=watched.early.pk)
    assert community.post("/inspections", body).status_code == 409
    assert Api(login(far_staff)).post("/inspections", inspection_body(watched)).status_code == 404
    assert api_as("resident").post("/inspections", inspection_body(watched)).status_code == 404


def test_ids_beyond_64_bits_are_404(api_as: Any) -> None:
    community = api_as("community")
    assert community.post(f"/findings/{HUGE}/rectify", {"text": "x"}).status_code == 404
    assert community.get(f"/findings/{HUGE}/photo").status_code == 404
    assert community.get(f"/inspections/{HUGE}").status_code == 404
    assert community.get(f"/evaluations/{HUGE}").status_code == 404
    assert community.get(f"/evaluation-trends/{HUGE}").status_code == 404
    assert community.get(f"/supervision-groups/{HUGE}").status_code == 404
    assert community.post(f"/partner-feedback/{HUGE}/verify", {"upheld": True}).status_code == 404


# --- groups -------------------------------------------------------------------------------
def test_groups(api_as: Any, watched: Watched, users: dict[str, Any], far_staff: Any) -> None:
    community = api_as("community")
    head = Person.objects.get(user=users["head"])
    body = {"area_id": watched.project.area_id, "name": "助餐监督团", "member_ids": [head.pk],
            "project_ids": [watched.project.pk]}  # fmt: skip
    response = community.post("/supervision-groups", body)
    assert response.status_code == 201, response.content
    group = response.json()
    assert (group["member_ids"], group["project_ids"]) == ([head.pk], [watched.project.pk])

    patched = community.client.patch(
        f"/api/v1/supervision-groups/{group['id']}", {"name": "长者助餐监督团"},
        content_type="application/json",
    )  # fmt: skip
    assert patched.status_code == 200 and patched.json()["name"] == "长者助餐监督团"
    # the 三长 on the group sees it, may not change it; another community does not see it
    assert api_as("head").get(f"/supervision-groups/{group['id']}").status_code == 200
    denied = api_as("head").client.patch(
        f"/api/v1/supervision-groups/{group['id']}", {"name": "x"}, content_type="application/json"
    )
    assert denied.status_code == 403
    assert Api(login(far_staff)).get(f"/supervision-groups/{group['id']}").status_code == 404
    assert api_as("grid").post("/supervision-groups", body).status_code in (403, 404)
    body["member_ids"] = [HUGE]
    assert community.post("/supervision-groups", body).status_code == 422


# --- feedback -----------------------------------------------------------------------------
def test_the_mailbox_and_verification(
    api_as: Any, watched: Watched, compounds: Compounds, far_staff: Any
) -> None:
    resident = api_as("resident")
    response = resident.post(
        "/partner-feedback", {"project_id": watched.project.pk, "rating": 1, "text": "饭是凉的"}
    )
    assert response.status_code == 201, response.content
    feedback_id = response.json()["id"]
    # once a day; not another community's project; not before operation
    again = resident.post("/partner-feedback", {"project_id": watched.project.pk, "rating": 5})
    assert again.status_code == 409
    for project in (watched.far, watched.early):
        body = {"project_id": project.pk, "rating": 5}
        assert resident.post("/partner-feedback", body).status_code == 404
    mine = resident.get("/partner-feedback/mine").json()
    assert [r["id"] for r in mine["items"]] == [feedback_id]
    # the resident reads no one's feedback list
    assert resident.get("/partner-feedback").json()["count"] == 0

    # staff see it with the resident's name; the group's 三长 without it
    community = api_as("community")
    row = community.get("/partner-feedback", negative=True, unverified=True).json()["items"][0]
    assert (row["id"], row["resident"], row["rating_words"]) == (
        feedback_id, compounds.resident.name, "很不满意"
    )  # fmt: skip
    head = api_as("head")
    assert head.get("/partner-feedback").json()["items"][0]["resident"] == "居民"
    assert Api(login(far_staff)).get("/partner-feedback").json()["count"] == 0

    # the group upholds it: the partner's credit falls once
    before = Partner.objects.get(pk=watched.partner.pk).credit
    verified = head.post(f"/partner-feedback/{feedback_id}/verify", {"upheld": True})
    assert verified.status_code == 200 and verified.json()["upheld"] is True
    assert (
        community.post(f"/partner-feedback/{feedback_id}/verify", {"upheld": False}).status_code
        == 409
    )
    assert Partner.objects.get(pk=watched.partner.pk).credit < before
    assert CreditEntry.objects.filter(evidence=f"feedback:{feedback_id}").count() == 1
    # nobody changes the rating: there is no such route
    patch = community.client.patch(
        f"/api/v1/partner-feedback/{feedback_id}", {"rating": 5}, content_type="application/json"
    )
    assert patch.status_code in (404, 405)
    assert Feedback.objects.get(pk=feedback_id).rating == 1


@pytest.mark.parametrize(
    "body",
    [
        {"rating": 0}, {"rating": 6}, {"rating": "五"}, {"rating": 2.5}, {"rating": None}, {},
        {"rating": 3, "text": "长" * 501}, {"rating": 3, "project_id": HUGE},
    ],
)  # fmt: skip
def test_hostile_feedback_is_4xx(api_as: Any, watched: Watched, body: dict[str, Any]) -> None:
    response = api_as("resident").post(
        "/partner-feedback", {"project_id": watched.project.pk} | body
    )
    assert 400 <= response.status_code < 500, response.content
    assert not Feedback.objects.exists()


def test_a_return_visit(api_as: Any, watched: Watched, compounds: Compounds) -> None:
    grid = api_as("grid")
    body = {"project_id": watched.project.pk, "person_id": compounds.neighbour.pk, "rating": 4,
            "text": "方便", "confirmed": True}  # fmt: skip
    response = grid.post("/partner-feedback/visits", body)
    assert response.status_code == 201, response.content
    assert response.json()["channel"] == "return_visit" and response.json()["visited_by"] == "grid"
    stranger = body | {"person_id": compounds.stranger.pk}
    assert grid.post("/partner-feedback/visits", stranger).status_code == 404
    unconfirmed = body | {"person_id": compounds.resident.pk, "confirmed": False}
    assert grid.post("/partner-feedback/visits", unconfirmed).status_code == 422


# --- evaluations --------------------------------------------------------------------------
def test_evaluations_and_the_trend(api_as: Any, watched: Watched, far_staff: Any) -> None:
    community = api_as("community")
    body = {"project_id": watched.project.pk, "quarter": "2026Q3", "scores": scores_body()}
    response = community.post("/evaluations", body)
    assert response.status_code == 201, response.content
    row = response.json()
    assert (row["total"], row["grade"], row["grade_name"]) == ("80.50", "good", "良")
    assert community.post("/evaluations", body).status_code == 409
    assert community.get(f"/evaluations/{row['id']}").json()["scores"][0]["evidence"] == "台账"
    trend = community.get(f"/evaluation-trends/{watched.project.pk}").json()
    assert trend["quarters"] == ["2026Q3"] and trend["totals"] == [80.5]
    assert api_as("head").get(f"/evaluation-trends/{watched.project.pk}").status_code == 200
    far = Api(login(far_staff))
    assert far.get(f"/evaluation-trends/{watched.project.pk}").status_code == 404
    assert far.get(f"/evaluations/{row['id']}").status_code == 404
    assert api_as("head").post("/evaluations", body | {"quarter": "2026Q2"}).status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        {"scores": scores_body(operations=31)},
        {"scores": {"operations": {"weight": 100, "score": 90}}},
        {"scores": scores_body() | {"quality": {"weight": 25, "score": "100.5"}}},
        {"scores": scores_body() | {"quality": {"weight": 25, "score": "NaN"}}},
        {"scores": scores_body() | {"quality": {"weight": 25, "score": "1e3"}}},
        {"scores": scores_body() | {"quality": {"weight": 25, "score": "90.123"}}},
        {"quarter": "2099Q1"},
        {"quarter": "2026Q9"},
        {"quarter": "'; drop"},
        {"project_id": HUGE},
    ],
)
def test_hostile_evaluations_are_4xx(api_as: Any, watched: Watched, change: dict[str, Any]) -> None:
    body = {"project_id": watched.project.pk, "quarter": "2026Q3", "scores": scores_body()}
    response = api_as("community").post("/evaluations", body | change)
    assert 400 <= response.status_code < 500, response.content


# --- query counts -------------------------------------------------------------------------
LISTS = [
    "/supervision-groups",
    "/inspections",
    "/findings",
    "/partner-feedback",
    "/evaluations",
]


def grow(w: Watched, users: dict[str, Any], n: int) -> None:
    """``n`` more groups, inspections with findings, ratings and evaluations."""
    community = users["community"]
    persons = list(
        Person.objects.filter(area_path__startswith=w.project.area_path, death_date__isnull=True)
        .exclude(partner_feedback__project=w.project)
        .order_by("pk")[:n]
    )
    head = Person.objects.get(user=users["head"])
    start = len(list(evals.evaluations_visible_to(community)))
    for i in range(n):
        group = svc.create_group(
            community, area_id=w.project.area_id, name=f"监督团{start + i}",
            member_ids=[persons[i].pk, head.pk], project_ids=[w.project.pk],
        )  # fmt: skip
        assert group.pk
        svc.record_inspection(
            community, w.project.pk, summary="例行检查",
            findings=[svc.FindingIn("问题", "minor", timezone.localdate() + dt.timedelta(days=3))],
        )  # fmt: skip
        fb._create(community, w.project, persons[i], channel="mailbox", rating=2, text="一般")
        evals.evaluate(
            community, w.project.pk, quarter=f"{2026 - (start + i) // 4}Q{(start + i) % 4 + 1}",
            scores={k: {"weight": v, "score": 80} for k, v in evals.DEFAULT_WEIGHTS.items()},
        )  # fmt: skip


@pytest.mark.parametrize("route", LISTS)
def test_lists_cost_the_same_for_few_rows_and_many(
    api_as: Any, watched: Watched, users: dict[str, Any], route: str
) -> None:
    # read by the community staff and by the 三长 on the canteen's group
    grow(watched, users, 2)
    counts = {}
    for who in ("community", "head"):
        api = api_as(who)
        api.get(route)
        with CaptureQueriesContext(connection) as ctx:
            body = api.get(route, limit=1).json()
        assert body["count"] >= 2, (who, route, body)
        counts[who] = len(ctx.captured_queries)
    grow(watched, users, 30)
    for who in ("community", "head"):
        api = api_as(who)
        with CaptureQueriesContext(connection) as ctx:
            body = api.get(route, limit=30).json()  # a full page: the count is read too
        assert len(body["items"]) >= 30
        assert len(ctx.captured_queries) == counts[who], (who, route)


def test_details_cost_the_same_for_few_children_and_many(
    api_as: Any, watched: Watched, users: dict[str, Any]
) -> None:
    community = api_as("community")
    grow(watched, users, 1)
    group = svc.groups_visible_to(users["community"]).order_by("pk").last()
    inspection = svc.record_inspection(
        users["community"], watched.project.pk, summary="x",
        findings=[svc.FindingIn("a", "minor", timezone.localdate())],
    )  # fmt: skip
    paths = [
        f"/supervision-groups/{group.pk}",
        f"/inspections/{inspection.pk}",
        f"/evaluation-trends/{watched.project.pk}",
        "/partner-feedback/mine",
    ]
    resident = api_as("resident")
    person = Person.objects.get(user=users["resident"])

    def rate_days(days: range) -> None:
        for d in days:
            Feedback.objects.create(
                project=watched.project, person=person, channel="mailbox", rating=4,
                submitted_at=timezone.now() - dt.timedelta(days=d),
            )  # fmt: skip

    rate_days(range(1, 3))

    def measure() -> list[int]:
        out = []
        for path in paths:
            api = resident if path.endswith("mine") else community
            api.get(path)
            with CaptureQueriesContext(connection) as ctx:
                assert api.get(path).status_code == 200, path
            out.append(len(ctx.captured_queries))
        return out

    before = measure()
    group.members.add(*Person.objects.filter(area_path__startswith=group.area_path)[:30])
    for _ in range(15):
        svc.report_finding(
            users["community"], watched.project.pk,
            svc.FindingIn("b", "minor", timezone.localdate()),
        )  # fmt: skip
    Finding.objects.filter(inspection__isnull=True).update(inspection=inspection)
    grow(watched, users, 10)
    rate_days(range(3, 33))
    assert measure() == before
