"""The review queue through the API (/api/v1/hub/reviews …) and the pages (the list
and the side-by-side pair with its POST forms): scoped, masked, escaped, decisions
audited, and query counts that do not grow with the pairs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from jiayuan.core.models import AuditEntry
from jiayuan.datahub.models import ReviewPair, ReviewStatus
from jiayuan.people.models import Person

from .test_resolution import resident_of_grid, row_for, typo
from .test_writers import make_run, write

pytestmark = pytest.mark.django_db
User = get_user_model()
API = "/api/v1/hub/reviews"


def client_for(username: str, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(User.objects.get(username=username))
    return client


def held_pair(**over: Any) -> ReviewPair:
    p = resident_of_grid()
    run = make_run()
    write("person", run, row_for(p, p.dwelling, **over))
    return ReviewPair.objects.get(run=run)


def post(client: Client, url: str) -> Any:
    return client.post(url, "{}", content_type="application/json")


def test_the_api_lists_and_shows_pairs_masked_in_the_reviewers_area() -> None:
    pair = held_pair(id_number="37083019990101001X")
    grid = client_for("grid")
    body = grid.get(API, {"status": "pending"}).json()
    assert [item["id"] for item in body["items"]] == [pair.pk] and body["count"] == 1
    item = body["items"][0]
    assert item["person"]["id"] == pair.person_id and item["source"] == "测试户籍"
    assert "37083019990101001X" not in json.dumps(body, ensure_ascii=False)
    detail = grid.get(f"{API}/{pair.pk}").json()
    assert detail["may_decide"] is True and detail["details"]["name"]["score"] > 0
    assert grid.get(API, {"status": "merged"}).json()["count"] == 0
    assert grid.get(API, {"status": "bogus"}).status_code == 422
    # a resident sees nothing and gets 404 for the pair
    resident = client_for("resident")
    assert resident.get(f"{API}/{pair.pk}").status_code == 404
    assert post(resident, f"{API}/{pair.pk}/merge").status_code == 404


def test_the_api_decides_merge_undo_and_refuses_a_second_decision() -> None:
    pair = held_pair()
    name = pair.person.name
    grid = client_for("grid")
    response = post(grid, f"{API}/{pair.pk}/merge")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "merged"
    assert Person.objects.get(pk=pair.person_id).name == typo(name)
    assert post(grid, f"{API}/{pair.pk}/distinct").status_code == 409
    response = post(grid, f"{API}/{pair.pk}/undo")
    assert response.status_code == 200 and response.json()["status"] == "undone"
    assert Person.objects.get(pk=pair.person_id).name == name
    audit = AuditEntry.objects.filter(object_type="datahub.reviewpair", object_id=str(pair.pk))
    assert [e.changes["status"] for e in audit.order_by("at", "id")] == [
        ["pending", "merged"], ["merged", "undone"],
    ]  # fmt: skip
    assert post(grid, f"{API}/999999/merge").status_code == 404


def test_a_viewer_without_the_change_permission_gets_403() -> None:
    pair = held_pair()
    branch = client_for("branch")
    if branch.get(f"{API}/{pair.pk}").status_code == 404:
        pytest.skip("the branch secretary's zone does not hold the grid worker's grid")
    assert branch.get(f"{API}/{pair.pk}").json()["may_decide"] is False
    assert post(branch, f"{API}/{pair.pk}/merge").status_code == 403
    pair.refresh_from_db()
    assert pair.status == ReviewStatus.PENDING


def test_the_pages_show_the_pair_side_by_side_and_decide_by_post() -> None:
    pair = held_pair(ethnicity="<script>alert(1)</script>")
    grid = client_for("grid")
    listing = grid.get("/hub/reviews/").content.decode()
    assert f'data-pair="{pair.pk}"' in listing
    page = grid.get(f"/hub/reviews/{pair.pk}/").content.decode()
    assert 'data-testid="merge"' in page and "csrfmiddlewaretoken" in page
    # the incoming address beside the resident's, spelled the same way
    assert page.count(pair.incoming["address"]) == 2
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert grid.get(f"/hub/reviews/{pair.pk}/merge/").status_code == 405
    response = grid.post(f"/hub/reviews/{pair.pk}/merge/")
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.status == ReviewStatus.MERGED
    page = grid.get(f"/hub/reviews/{pair.pk}/").content.decode()
    assert 'data-testid="undo"' in page and 'data-testid="merge"' not in page
    # a decision that no longer applies is explained, not a crash
    response = grid.post(f"/hub/reviews/{pair.pk}/distinct/", follow=True)
    assert response.status_code == 200 and "不能执行此操作" in response.content.decode()
    assert grid.post(f"/hub/reviews/{pair.pk}/explode/").status_code == 404
    assert client_for("resident").get(f"/hub/reviews/{pair.pk}/").status_code == 404


def test_the_forms_need_the_csrf_token() -> None:
    pair = held_pair()
    grid = client_for("grid", csrf=True)
    assert grid.post(f"/hub/reviews/{pair.pk}/merge/").status_code == 403
    pair.refresh_from_db()
    assert pair.status == ReviewStatus.PENDING


def _clone(pair: ReviewPair, n: int) -> None:
    persons = list(
        Person.objects.filter(area_path__startswith=pair.area_path[:14]).order_by("pk")[:n]
    )
    ReviewPair.objects.bulk_create(
        ReviewPair(
            run_id=pair.run_id,
            line=pair.line + i + 1,
            incoming=pair.incoming,
            person=p,
            area_path=p.area_path,
            score=0.8,
            details=pair.details,
        )
        for i, p in enumerate(persons)
    )


def _count(client: Client, url: str, **params: Any) -> int:
    client.get(url, params)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params).status_code == 200
    return len(ctx.captured_queries)


def test_list_and_detail_cost_the_same_for_one_pair_and_for_many() -> None:
    pair = held_pair()
    admin = client_for("admin")
    urls = [("/hub/reviews/", {}), (API, {"limit": 1}), (f"{API}/{pair.pk}", {}),
            (f"/hub/reviews/{pair.pk}/", {})]  # fmt: skip
    _clone(pair, 1)
    before = [_count(admin, url, **params) for url, params in urls]
    _clone(pair, 30)
    after = [
        _count(admin, url, **({"limit": 30} if url == API else params)) for url, params in urls
    ]
    assert after == before
    assert len(admin.get(API, {"limit": 30}).json()["items"]) == 30


def test_the_person_page_links_the_pairs_waiting_for_review() -> None:
    pair = held_pair()
    page = client_for("grid").get(f"/persons/{pair.person_id}/").content.decode()
    assert "data-pending-pairs" in page and f"/hub/reviews/{pair.pk}/" in page
    # decided pairs are no longer waiting
    client_for("grid").post(f"/hub/reviews/{pair.pk}/distinct/")
    page = client_for("grid").get(f"/persons/{pair.person_id}/").content.decode()
    assert f"/hub/reviews/{pair.pk}/" not in page
