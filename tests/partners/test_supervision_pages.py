"""The supervision part's pages: every step doable on a page (inspection with findings
and photos, rectification, verification, return visits, evaluation, the resident's
mailbox on the phone), scope, hostile input, text shown as text, and query counts that do
not grow with the rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.partners import evaluation as evals
from jiayuan.partners import feedback as fb
from jiayuan.partners import supervision as svc
from jiayuan.partners.models import CreditEntry, Evaluation, Feedback, Finding, Inspection
from jiayuan.people.models import Person

from .conftest import Compounds, Watched, jpeg, login

pytestmark = pytest.mark.django_db


def deadline(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def an_inspection(user: Any, w: Watched, text: str = "后厨地面湿滑", days: int = 7) -> Inspection:
    return svc.record_inspection(
        user, w.project.pk, summary="例行检查",
        findings=[svc.FindingIn(text, "major", timezone.localdate() + dt.timedelta(days=days))],
    )  # fmt: skip


def test_the_nav_leads_to_the_three_pages(page_as: Any) -> None:
    home = page_as("community").get("/").content.decode()
    for url, label in (
        ("/partners/supervision/", "监管检查"),
        ("/partners/feedback/", "居民评价"),
        ("/partners/evaluations/", "季度评估"),
    ):
        assert f'href="{url}"' in home and label in home


@pytest.mark.parametrize("who", ["community", "grid", "head", "admin", "resident"])
def test_every_page_answers(
    page_as: Any, watched: Watched, users: dict[str, Any], who: str
) -> None:
    inspection = an_inspection(users["community"], watched)
    client = page_as(who)
    for url in (
        "/partners/supervision/", "/partners/supervision/findings/",
        "/partners/supervision/findings/?tab=overdue", "/partners/supervision/groups/",
        "/partners/feedback/", "/partners/feedback/?tab=pending", "/partners/evaluations/",
        "/partners/evaluations/new/", "/partners/supervision/inspections/new/",
    ):  # fmt: skip
        assert client.get(url).status_code == 200, (who, url)
    detail = client.get(f"/partners/supervision/inspections/{inspection.pk}/").status_code
    group = client.get(f"/partners/supervision/groups/{watched.group.pk}/").status_code
    sees = who in ("community", "head", "admin")  # staff of the community, or on its group
    assert (detail, group) == ((200, 200) if sees else (404, 404)), who


def test_an_inspection_with_a_photo_on_the_page(
    page_as: Any, watched: Watched, users: dict[str, Any], far_staff: Any, media: Any
) -> None:
    # given the inspection form of the canteen (its group offered)
    client = page_as("head")
    form = client.get(f"/partners/supervision/inspections/new/?project={watched.project.pk}")
    assert "食堂监督团" in form.content.decode()

    # when the 三长 records an inspection with a photographed finding
    response = client.post(
        "/partners/supervision/inspections/new/",
        {
            "project": watched.project.pk, "group": watched.group.pk,
            "summary": "<script>alert(1)</script>留样齐全",
            "finding-0-text": "后厨地面湿滑", "finding-0-severity": "major",
            "finding-0-rectify_by": deadline(5),
            "finding-0-photo": SimpleUploadedFile("a.jpg", jpeg(gps=True), "image/jpeg"),
        },
    )  # fmt: skip

    # then the inspection page shows it, the deadline in words, the summary as text
    assert response.status_code == 302
    inspection = Inspection.objects.get(project=watched.project)
    page = client.get(response["Location"]).content.decode()
    assert "还剩5天" in page and "&lt;script&gt;" in page and "<script>alert" not in page
    finding = inspection.findings.get()
    photo = client.get(f"/partners/supervision/findings/{finding.pk}/photo/")
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    far = login(far_staff)
    assert far.get(f"/partners/supervision/findings/{finding.pk}/photo/").status_code == 404
    assert far.get(f"/partners/supervision/inspections/{inspection.pk}/").status_code == 404


def test_a_refused_inspection_stays_on_the_form(page_as: Any, watched: Watched) -> None:
    client = page_as("community")
    response = client.post(
        "/partners/supervision/inspections/new/",
        {
            "project": watched.project.pk, "summary": "x", "finding-0-text": "问题",
            "finding-0-severity": "minor", "finding-0-rectify_by": "2020-01-01",
        },
    )  # fmt: skip
    assert response.status_code == 422
    assert "整改期限不能早于今天" in response.content.decode()
    early = client.post(
        "/partners/supervision/inspections/new/", {"project": watched.early.pk, "summary": "x"}
    )
    assert early.status_code == 422 and "尚未进入监管阶段" in early.content.decode()
    assert not Inspection.objects.exists()


def test_findings_in_words_and_rectification(
    page_as: Any, watched: Watched, users: dict[str, Any]
) -> None:
    inspection = an_inspection(users["community"], watched)
    item = inspection.findings.get()
    Finding.objects.filter(pk=item.pk).update(rectify_by=timezone.localdate() - dt.timedelta(2))
    client = page_as("community")
    page = client.get("/partners/supervision/findings/?tab=overdue").content.decode()
    assert "逾期2天未整改" in page
    listing = client.get("/partners/supervision/").content.decode()
    assert "1 个问题逾期未整改" in listing

    response = client.post(
        f"/partners/supervision/findings/{item.pk}/rectify/",
        {"text": "已铺防滑垫", "next": "/partners/supervision/findings/?tab=done"},
    )
    assert response.status_code == 302 and response["Location"].endswith("tab=done")
    assert Finding.objects.get(pk=item.pk).rectification == "已铺防滑垫"
    done = client.get("/partners/supervision/findings/?tab=done").content.decode()
    assert "逾期后整改" in done
    # an outside redirect target is ignored
    again = client.post(
        f"/partners/supervision/findings/{item.pk}/rectify/",
        {"text": "x", "next": "//evil.example/"},
    )
    assert again["Location"] == "/partners/supervision/findings/"


def test_the_group_page_sets_members_and_projects(
    page_as: Any, watched: Watched, users: dict[str, Any]
) -> None:
    client = page_as("community")
    created = client.post("/partners/supervision/groups/new/", {"area": watched.project.area_id,
                                                                "name": "助餐监督团"})  # fmt: skip
    assert created.status_code == 302
    page = client.get(created["Location"]).content.decode()
    head = Person.objects.get(user=users["head"])
    assert f'value="{head.pk}"' in page  # the 三长 (with an account) is offered
    saved = client.post(
        created["Location"],
        {"name": "助餐监督团", "members": [head.pk], "projects": [watched.project.pk]},
    )
    assert saved.status_code == 302
    group = svc.groups_visible_to(users["community"]).get(name="助餐监督团")
    assert list(group.members.all()) == [head] and list(group.projects.all()) == [watched.project]
    bad = client.post(created["Location"], {"name": "x", "projects": [watched.far.pk]})
    assert bad.status_code == 422 and "只能监督本区域的项目" in bad.content.decode()


def test_verify_buttons_on_the_feedback_list(
    page_as: Any, watched: Watched, users: dict[str, Any]
) -> None:
    row = fb.submit(users["resident"], watched.project.pk, rating=1, text="<b>凉</b>")
    head = page_as("head")
    page = head.get("/partners/feedback/?tab=pending").content.decode()
    assert 'data-testid="verify-form"' in page and "&lt;b&gt;凉&lt;/b&gt;" in page
    # the grid worker at the community sees it without the buttons
    response = head.post(f"/partners/feedback/{row.pk}/verify/", {"upheld": "1", "note": "属实"})
    assert response.status_code == 302
    assert CreditEntry.objects.filter(evidence=f"feedback:{row.pk}").count() == 1
    listing = page_as("community").get("/partners/feedback/?tab=negative").content.decode()
    assert "经核实属实" in listing and 'data-testid="verify-form"' not in listing
    # a second verdict is refused with a message, nothing more deducted
    head.post(f"/partners/feedback/{row.pk}/verify/", {"upheld": "1"})
    assert CreditEntry.objects.filter(evidence=f"feedback:{row.pk}").count() == 1
    assert (
        page_as("resident")
        .post(f"/partners/feedback/{row.pk}/verify/", {"upheld": "1"})
        .status_code
        == 404
    )


def test_a_return_visit_on_the_page(page_as: Any, watched: Watched, compounds: Compounds) -> None:
    client = page_as("grid")
    form = client.get("/partners/feedback/visit/").content.decode()
    assert "居民本人" in form and watched.project.name in form
    body = {"project": watched.project.pk, "person": compounds.neighbour.pk, "rating": "3",
            "text": "还行"}  # fmt: skip
    refused = client.post("/partners/feedback/visit/", body)
    assert refused.status_code == 422 and "居民本人的表达" in refused.content.decode()
    assert client.post("/partners/feedback/visit/", body | {"confirmed": "1"}).status_code == 302
    row = Feedback.objects.get(project=watched.project)
    assert (row.person, row.rating, row.channel) == (compounds.neighbour, 3, "return_visit")
    assert page_as("resident").get("/partners/feedback/visit/").status_code == 404


def test_the_evaluation_form_and_page(
    page_as: Any, watched: Watched, users: dict[str, Any]
) -> None:
    client = page_as("community")
    form = client.get(f"/partners/evaluations/new/?project={watched.project.pk}").content.decode()
    for key, weight in (("operations", 30), ("finance", 20), ("social", 25), ("quality", 25)):
        assert f'name="{key}-weight" value="{weight}"' in form
    body = {"project": watched.project.pk, "quarter": "2026Q3", "summary": "运营良好"}
    for key, score in (("operations", 95), ("finance", 90), ("social", 92), ("quality", 88)):
        body |= {f"{key}-weight": evals.DEFAULT_WEIGHTS[key], f"{key}-score": score,
                 f"{key}-evidence": "台账"}  # fmt: skip
    bad = client.post("/partners/evaluations/new/", body | {"finance-weight": "10"})
    assert bad.status_code == 422 and "权重之和须为 100" in bad.content.decode()
    nan = client.post("/partners/evaluations/new/", body | {"finance-score": "NaN"})
    assert nan.status_code == 422
    response = client.post("/partners/evaluations/new/", body)
    assert response.status_code == 302
    row = Evaluation.objects.get(project=watched.project)
    assert row.total == evals.total_of(list(row.scores.all()))
    page = client.get(response["Location"]).content.decode()
    assert str(row.total) in page and "evaluation-trend-data" in page
    assert (
        page_as("head").post("/partners/evaluations/new/", body | {"quarter": "2026Q2"}).status_code
        == 422
    )


def test_the_project_panel(watched: Watched, users: dict[str, Any]) -> None:
    an_inspection(users["community"], watched, days=-0)
    evals.evaluate(
        users["community"], watched.project.pk, quarter="2026Q3",
        scores={k: {"weight": v, "score": 91} for k, v in evals.DEFAULT_WEIGHTS.items()},
    )  # fmt: skip
    fb.submit(users["resident"], watched.project.pk, rating=2)
    request = RequestFactory().get("/")
    request.user = users["community"]
    html = Template("{% load supervision_panel %}{% supervision_panel project %}").render(
        Context({"project": watched.project, "request": request})
    )
    assert "1 个问题待整改" in html and "2026Q3：91.00 分 · 优" in html
    assert "1 条差评待核实" in html and 'data-testid="panel-inspect"' in html
    data = html.split('id="evaluation-trend-data" type="application/json">')[1].split("<")[0]
    assert json.loads(data)["quarters"] == ["2026Q3"]


# --- the resident's phone -----------------------------------------------------------------
def test_the_phone_mailbox(page_as: Any, watched: Watched) -> None:
    phone = page_as("resident")
    listing = phone.get("/m/partners/").content.decode()
    assert watched.project.name in listing and watched.far.name not in listing
    assert watched.early.name not in listing
    form = phone.get(f"/m/partners/{watched.project.pk}/feedback/").content.decode()
    assert "非常满意" in form and "font-size: 18px" in form

    sent = phone.post(f"/m/partners/{watched.project.pk}/feedback/", {"rating": "5", "text": "好"})
    assert sent.status_code == 302
    assert "今天已评价" in phone.get("/m/partners/").content.decode()
    again = phone.post(f"/m/partners/{watched.project.pk}/feedback/", {"rating": "4"})
    assert again.status_code == 409 and "今天已经评价过" in again.content.decode()
    assert Feedback.objects.get(project=watched.project).rating == 5


@pytest.mark.parametrize("rating", ["0", "6", "", "五", "99999999999999999999999"])
def test_hostile_phone_ratings(page_as: Any, watched: Watched, rating: str) -> None:
    response = page_as("resident").post(
        f"/m/partners/{watched.project.pk}/feedback/", {"rating": rating}
    )
    assert response.status_code == 422
    assert not Feedback.objects.exists()


def test_the_phone_refuses_other_projects(page_as: Any, watched: Watched) -> None:
    phone = page_as("resident")
    for project in (watched.far, watched.early):
        assert phone.get(f"/m/partners/{project.pk}/feedback/").status_code == 404
        assert phone.post(f"/m/partners/{project.pk}/feedback/", {"rating": "5"}).status_code == 404
    assert phone.get("/m/partners/99999999999999999999999/feedback/").status_code == 404
    assert not Feedback.objects.exists()


def test_ids_beyond_64_bits_are_404(page_as: Any) -> None:
    client = page_as("community")
    huge = "99999999999999999999999"
    for url in (
        f"/partners/supervision/inspections/{huge}/",
        f"/partners/supervision/groups/{huge}/",
        f"/partners/supervision/findings/{huge}/photo/",
        f"/partners/evaluations/{huge}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/partners/feedback/{huge}/verify/", {"upheld": "1"}).status_code == 404
    assert client.get(f"/partners/supervision/?project={huge}").status_code == 200


# --- query counts -------------------------------------------------------------------------
def grow(w: Watched, users: dict[str, Any], n: int) -> None:
    community = users["community"]
    persons = list(
        Person.objects.filter(area_path__startswith=w.project.area_path, death_date__isnull=True)
        .exclude(partner_feedback__project=w.project)
        .order_by("pk")[:n]
    )
    done = Evaluation.objects.filter(project=w.project).count()
    for i in range(n):
        inspection = an_inspection(community, w, days=3)
        if i % 2:  # every other finding overdue
            inspection.findings.update(rectify_by=timezone.localdate() - dt.timedelta(days=1))
        fb._create(community, w.project, persons[i], channel="mailbox", rating=1 + i % 5, text="")
        k = done + i
        evals.evaluate(
            community, w.project.pk, quarter=f"{2026 - k // 4}Q{k % 4 + 1}",
            scores={d: {"weight": v, "score": 85} for d, v in evals.DEFAULT_WEIGHTS.items()},
        )  # fmt: skip
        svc.create_group(
            community, area_id=w.project.area_id, name=f"监督团{k}",
            member_ids=[persons[i].pk], project_ids=[w.project.pk],
        )  # fmt: skip


PAGES = [
    "/partners/supervision/",
    "/partners/supervision/findings/?tab=all",
    "/partners/supervision/groups/",
    "/partners/feedback/",
    "/partners/evaluations/",
]


@pytest.mark.parametrize("who", ["community", "head"])
def test_pages_cost_the_same_for_few_rows_and_many(
    page_as: Any, watched: Watched, users: dict[str, Any], who: str
) -> None:
    client = page_as(who)
    grow(watched, users, 2)

    def counts() -> dict[str, int]:
        out = {}
        for url in PAGES:
            client.get(url)
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            out[url] = len(ctx.captured_queries)
        return out

    before = counts()
    grow(watched, users, 25)
    assert counts() == before
