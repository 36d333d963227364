"""The wishes' API: list, detail with timeline, the steps, photo bytes and the compound's
demand list; the scope matrix (grid, community, branch, a resident of another compound →
404); hostile input → 4xx with a bilingual message; query counts that do not grow."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jiayuan.community import wishes
from jiayuan.community.models import Wish, WishEvent
from jiayuan.org.models import Area

from .conftest import Compounds, jpeg

pytestmark = pytest.mark.django_db


def make(users: dict[str, Any], c: Compounds, area: Area | None = None, **kw: Any) -> Wish:
    if area is not None:
        kw.update(area=area, beneficiary=None)
    kw.setdefault("beneficiary", c.neighbour)
    return wishes.collect(
        actor=users["community"], channel=kw.pop("channel", "door"),
        title=kw.pop("title", "想要一台电风扇"), category=kw.pop("category", "daily"), **kw,
    )  # fmt: skip


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["message"] and " / " in body["message"], body  # Chinese / English
    return body  # type: ignore[no-any-return]


def test_the_whole_walk_over_the_api(
    api_as: Any, users: dict[str, Any], compounds: Compounds, media: Any
) -> None:
    grid = api_as("grid")
    created = grid.post("/wishes", {
        "title": "冬天需要一床厚棉被", "category": "daily", "channel": "wechat",
        "beneficiary_id": compounds.neighbour.pk,
    })  # fmt: skip
    assert created.status_code == 201, created.content
    wish = created.json()
    assert wish["status"] == "collected" and wish["number"].startswith("WY")
    assert wish["beneficiary"]["name"] == compounds.neighbour.name
    assert wish["beneficiary"]["id_number_masked"] == compounds.neighbour.id_number_masked
    assert "claim" in wish["actions"]
    path = f"/wishes/{wish['id']}"
    claimed = grid.post(f"{path}/claim", {"claimer_kind": "volunteer", "claimer_name": "小李"})
    assert claimed.json()["status"] == "claimed", claimed.content
    upload = SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg")
    fulfilled = grid.upload(f"{path}/fulfil", {"file": upload}, note="送到了")
    assert fulfilled.status_code == 200, fulfilled.content
    body = fulfilled.json()
    assert body["status"] == "fulfilled" and len(body["photos"]) == 1
    thanked = api_as("resident")
    # the resident is not the beneficiary: they see the wish but may not thank for it
    assert_error(thanked.post(f"{path}/thank", {"thanks": "谢谢"}), 403)
    done = grid.post(f"{path}/thank", {"thanks": "谢谢大家"}).json()
    assert done["status"] == "thanked"
    assert [e["kind"] for e in done["timeline"]] == [
        "collected", "claimed", "fulfilled", "thanked"
    ]  # fmt: skip
    assert {e["actor_name"] for e in done["timeline"]} == {"grid"} or all(
        e["actor_name"] for e in done["timeline"]
    )
    # the photo's bytes stream to those who see the wish
    photo_url = done["photos"][0]["url"].removeprefix("/api/v1")
    got = grid.get(photo_url)
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"
    assert b"".join(got.streaming_content)[:2] == b"\xff\xd8"


def test_an_illegal_step_answers_409(
    api_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    wish = make(users, compounds)
    body = assert_error(api_as("community").post(f"/wishes/{wish.pk}/thank", {}), 409)
    assert body["code"] == "conflict" and "已收集" in body["message"]


def test_fulfil_refuses_what_is_not_an_image(
    api_as: Any, users: dict[str, Any], compounds: Compounds, media: Any
) -> None:
    wish = make(users, compounds)
    wishes.claim(wish.pk, actor=users["grid"], claimer_kind="unit", claimer_name="单位")
    fake = SimpleUploadedFile("p.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    body = assert_error(api_as("grid").upload(f"/wishes/{wish.pk}/fulfil", {"file": fake}), 422)
    assert body["detail"] == {"field": "file"}
    assert Wish.objects.get(pk=wish.pk).status == "claimed"
    assert not any(p.is_file() for p in media.rglob("*"))
    missing = api_as("grid").upload(f"/wishes/{wish.pk}/fulfil", {})
    assert missing.status_code == 422


# --- the scope matrix ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("username", "place", "sees"),
    [
        ("grid", "grid", True),
        ("grid", "sibling", False),
        ("branch", "grid", True),
        ("branch", "sibling", False),
        ("community", "sibling", True),
        ("community", "far", False),
        ("street", "far", True),
        ("resident", "grid", True),
        ("resident", "other_grid", True),
        ("resident", "sibling", False),
        ("head", "sibling", False),
    ],
)
def test_who_sees_a_wish(
    api_as: Any,
    users: dict[str, Any],
    compounds: Compounds,
    username: str,
    place: str,
    sees: bool,
) -> None:
    area = getattr(compounds, place)
    if area is None:
        pytest.skip("no such place in the tiny county")
    wish = wishes.collect(
        actor=users["admin"], channel="staff", title="心愿", category="other", area=area
    )
    client = api_as(username)
    detail = client.get(f"/wishes/{wish.pk}")
    listed = [w["id"] for w in client.get("/wishes", limit=500).json()["items"]]
    photo = client.get(f"/wishes/{wish.pk}/photos/1")
    if sees:
        assert detail.status_code == 200 and wish.pk in listed
    else:
        assert_error(detail, 404)
        assert wish.pk not in listed
        assert_error(client.post(f"/wishes/{wish.pk}/claim", {"claimer_name": "x"}), 404)
        assert_error(client.post(f"/wishes/{wish.pk}/cancel", {}), 404)
        assert_error(photo, 404)


def test_a_neighbour_sees_a_masked_name_only(
    api_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    wish = make(users, compounds)
    seen = api_as("resident").get(f"/wishes/{wish.pk}").json()["beneficiary"]
    assert seen["id"] is None and seen["name"].startswith(compounds.neighbour.name[0])
    assert "*" in seen["name"] and not seen["id_number_masked"] and not seen["phone_masked"]
    staff = api_as("grid").get(f"/wishes/{wish.pk}").json()["beneficiary"]
    assert staff["phone_masked"] == compounds.neighbour.phone_masked
    assert "*" in staff["id_number_masked"] or not staff["id_number_masked"]


# --- hostile input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/wishes", {"title": "x", "category": "nope"}, 422),
        ("/wishes", {"title": "x" * 5000, "category": "daily", "area_id": 1}, 422),
        ("/wishes", {"title": "a\u0000b", "category": "daily", "area_id": 1}, 422),
        ("/wishes", {"title": "x", "category": "daily", "beneficiary_id": 2**70}, 422),
        ("/wishes", {"title": "x", "category": "daily", "beneficiary_id": 2**62}, 404),
        ("/wishes", {"title": "x", "category": "daily"}, 422),
        ("/wishes", {"title": ["deep", {"a": [[[[1]]]]}], "category": "daily"}, 422),
        ("/wishes", "not json at all", 400),
        ("/wishes/99999999999999999999999/claim", {"claimer_name": "x"}, 404),
        ("/wishes/1/claim", {"due_on": "2026-02-30", "claimer_name": "x"}, 422),
        ("/wishes/1/claim", {"claimer_id": -5}, 422),
    ],
)
def test_hostile_input_gets_a_4xx(api_as: Any, path: str, body: Any, status: int) -> None:
    response = api_as("community").post(path, body)
    assert_error(response, status)


@pytest.mark.parametrize(
    "query",
    [{"status": "nope"}, {"area_id": "2" * 40}, {"limit": 10**9}, {"offset": -1}],
)
def test_hostile_filters_get_a_422(api_as: Any, query: dict[str, Any]) -> None:
    assert_error(api_as("community").get("/wishes", **query), 422)


def test_huge_ids_in_paths_are_404(api_as: Any) -> None:
    client = api_as("community")
    assert_error(client.get("/wishes/99999999999999999999999"), 404)
    assert_error(client.get("/wishes/1/photos/99999999999999999999999"), 404)
    assert_error(client.get("/compounds/99999999999999999999999/demands"), 404)


# --- the demand list ------------------------------------------------------------------------
def test_the_demand_list_holds_open_wishes_and_open_cases(
    api_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    open_wish = make(users, compounds)
    closed = make(users, compounds, title="已撤销")
    wishes.cancel(closed.pk, actor=users["community"])
    escalated = make(users, compounds, title="要提级", category="repair")
    wishes.escalate(escalated.pk, actor=users["community"])
    elsewhere = make(users, compounds, area=compounds.sibling)
    body = api_as("community").get(f"/compounds/{compounds.home.pk}/demands").json()
    refs = {(i["source"], i["ref"]) for i in body["items"]}
    assert ("wishes", open_wish.number) in refs
    assert ("wishes", closed.number) not in refs and ("wishes", elsewhere.number) not in refs
    case_number = Wish.objects.get(pk=escalated.pk).case_number
    assert ("cases", case_number) in refs
    assert body["counts"]["wishes"] >= 1 and body["counts"]["cases"] >= 1
    assert body["compound"]["id"] == compounds.home.pk
    # a resident of the compound sees its wishes but no cases; another compound is 404
    mine = api_as("resident").get(f"/compounds/{compounds.home.pk}/demands").json()
    assert {i["source"] for i in mine["items"]} == {"wishes"}
    assert_error(api_as("resident").get(f"/compounds/{compounds.sibling.pk}/demands"), 404)
    assert_error(api_as("branch").get(f"/compounds/{compounds.far.pk}/demands"), 404)
    assert_error(api_as("community").get(f"/compounds/{compounds.grid.pk}/demands"), 404)


# --- query counts -----------------------------------------------------------------------------
def queries(client: Any, path: str, **params: Any) -> int:
    client.get(path, **params)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, **params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_lists_and_details_cost_the_same_for_few_rows_and_many(
    api_as: Any, users: dict[str, Any], compounds: Compounds, media: Any
) -> None:
    client = api_as("community")
    first = make(users, compounds)
    make(users, compounds, area=compounds.home)
    wishes.claim(first.pk, actor=users["grid"], claimer_kind="party_member",
                 claimer=compounds.resident)  # fmt: skip
    demands = f"/compounds/{compounds.home.pk}/demands"
    few = (queries(client, "/wishes", limit=1), queries(client, f"/wishes/{first.pk}"),
           queries(client, demands))  # fmt: skip
    for i in range(25):
        wish = make(users, compounds, title=f"心愿{i}")
        WishEvent.objects.create(wish=first, kind="reminded", note=str(i))
        if i % 5 == 0:
            wishes.escalate(wish.pk, actor=users["community"])
    upload = io.BytesIO(jpeg())
    from jiayuan.community.photos import save_photo

    for _ in range(3):
        upload.seek(0)
        save_photo(upload.getvalue(), actor=users["grid"], wish=first)
    many = (queries(client, "/wishes", limit=30), queries(client, f"/wishes/{first.pk}"),
            queries(client, demands))  # fmt: skip
    assert many == few
