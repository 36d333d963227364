"""The volunteers' API: teams, volunteers (numbers masked), the hours ledger, activities
with sign-up, check-in and closing; the scope matrix, hostile input, query counts."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.community import volunteering as vol
from jiayuan.community.models import HoursEntry, SignUp, Volunteer

from .test_volunteers import activity, area_of, community, other_community, person, team, user

BASE = "/api/v1"


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """Every test reads the seeded tiny county (rolled back afterwards)."""


class Api:
    def __init__(self, username: str | None) -> None:
        self.client = Client()
        if username:
            self.client.force_login(user(username))

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(BASE + path, params)

    def post(self, path: str, data: Any = None, raw: str | None = None) -> Any:
        body = raw if raw is not None else json.dumps(data or {}, ensure_ascii=False)
        return self.client.post(BASE + path, body, content_type="application/json")


def as_(username: str | None) -> Api:
    return Api(username)


def iso(delta: dt.timedelta) -> str:
    return (timezone.now() + delta).isoformat()


def new_activity_body(**changes: Any) -> dict[str, Any]:
    return {
        "area_id": community().pk,
        "title": "公益课堂：智能手机入门",
        "kind": "class",
        "starts_at": iso(dt.timedelta(minutes=-5)),
        "ends_at": iso(dt.timedelta(hours=2)),
        "capacity": 2,
        "hours": "1.5",
        "target_groups": ["高龄老人"],
    } | changes


# --- the flow ------------------------------------------------------------------------------
def test_a_resident_signs_up_checks_in_and_gets_hours_after_closing() -> None:
    staff, resident = as_("community"), as_("resident")
    me = user("resident").person
    v = vol.register_volunteer(actor=user("resident"), person=me)

    # given an activity planned by staff
    created = staff.post("/activities", new_activity_body())
    assert created.status_code == 201, created.content
    a = created.json()
    assert a["signed"] == 0 and a["kind_label"] == "公益课堂"
    token = vol.Activity.objects.get(pk=a["id"]).checkin_token
    assert token not in created.content.decode()  # the token is shown as a QR code only

    # when the resident signs up and checks in with the QR code's token
    assert resident.post(f"/activities/{a['id']}/signups").status_code == 201
    assert resident.post(f"/activities/{a['id']}/checkin", {"token": "x" * 32}).status_code == 404
    checked = resident.post(f"/activities/{a['id']}/checkin", {"token": token})
    assert checked.status_code == 200 and checked.json()["checked_in_at"]

    # and staff close it
    closed = staff.post(f"/activities/{a['id']}/close", {"report": "教会 12 位老人视频通话"})
    assert closed.status_code == 200, closed.content
    assert closed.json()["status"] == "done" and closed.json()["participations"] == 1

    # then the volunteer's hours are the activity's
    hours = staff.get(f"/volunteers/{v.pk}/hours").json()
    assert hours["balance"] == "1.5" and hours["count"] == 1
    assert hours["items"][0]["activity_id"] == a["id"]
    assert staff.post(f"/activities/{a['id']}/close").status_code == 409


def test_the_last_place_goes_once_and_a_full_activity_answers_409() -> None:
    staff = as_("community")
    a = staff.post("/activities", new_activity_body(capacity=1)).json()
    p1, p2 = person(30), person(31)
    assert staff.post(f"/activities/{a['id']}/signups", {"person_id": p1.pk}).status_code == 201
    full = staff.post(f"/activities/{a['id']}/signups", {"person_id": p2.pk})
    assert full.status_code == 409 and "名额已满" in full.json()["message"]
    assert SignUp.objects.filter(activity_id=a["id"]).count() == 1


def test_volunteers_are_listed_with_masked_numbers_only() -> None:
    p = user("resident").person
    assert p.id_number_masked and p.phone_masked
    v = vol.register_volunteer(actor=user("community"), person=p)
    body = as_("community").get(f"/volunteers/{v.pk}")
    assert body.status_code == 200
    data = body.json()
    assert data["id_number_masked"] == p.id_number_masked and data["phone_masked"] == p.phone_masked
    text = body.content.decode()
    assert p.reveal_id_number() not in text and p.reveal_phone() not in text
    listed = as_("community").get("/volunteers", q=p.name[:1]).content.decode()
    assert p.reveal_id_number() not in listed and p.reveal_phone() not in listed


def test_register_and_correct_through_the_api() -> None:
    staff = as_("community")
    child, mother = person(10), person(36)
    missing = staff.post("/volunteers", {"person_id": child.pk})
    assert missing.status_code == 422 and missing.json()["detail"] == {"field": "guardian"}
    ok = staff.post("/volunteers", {"person_id": child.pk, "guardian_id": mother.pk,
                                    "skills": ["画画"]})  # fmt: skip
    assert ok.status_code == 201 and ok.json()["guardian_name"] == mother.name
    old = staff.post("/volunteers", {"person_id": person(80).pk})
    assert old.status_code == 422 and "75" in old.json()["message"]
    v = ok.json()["id"]
    assert staff.post(f"/volunteers/{v}/hours", {"hours": "2", "reason": "补记"}).status_code == 201
    assert staff.post(f"/volunteers/{v}/hours", {"hours": "-3", "reason": "x"}).status_code == 422
    assert staff.get(f"/volunteers/{v}/hours").json()["balance"] == "2.0"


def test_teams_api() -> None:
    staff = as_("community")
    made = staff.post("/volunteer-teams", {"area_id": community().pk, "name": "希望绿队",
                                           "colour": "green"})  # fmt: skip
    assert made.status_code == 201 and made.json()["colour_label"] == "希望绿"
    assert staff.post("/volunteer-teams", {"area_id": community().pk, "name": "x",
                                           "colour": "pink"}).status_code == 422  # fmt: skip
    # a grid worker reads the teams of their community
    assert made.json()["id"] in [
        t["id"] for t in as_("grid").get("/volunteer-teams").json()["items"]
    ]


# --- scope ---------------------------------------------------------------------------------
def test_scope_matrix() -> None:
    # given a team, a volunteer and an activity in the next community
    admin = user("admin")
    far_team = vol.create_team(actor=admin, area=other_community(), name="远方队", colour="gold")
    far_v = vol.register_volunteer(actor=admin, person=person(30, area=other_community()))
    far_a = activity(actor=admin, area=other_community())
    near_a = activity()
    grid_a = activity(area=area_of("grid"))
    routes = [
        f"/volunteer-teams/{far_team.pk}",
        f"/volunteers/{far_v.pk}",
        f"/volunteers/{far_v.pk}/hours",
        f"/activities/{far_a.pk}",
    ]
    # then every user outside it gets 404, the county admin and the street 200
    for username in ("community", "grid", "branch", "head", "resident"):
        for route in routes:
            assert as_(username).get(route).status_code == 404, (username, route)
        assert far_a.pk not in [a["id"] for a in as_(username).get("/activities").json()["items"]]
    for username in ("admin", "street"):
        for route in routes:
            assert as_(username).get(route).status_code == 200, (username, route)
    # writes outside the scope are 404 too
    for path, body in [
        (f"/activities/{far_a.pk}/close", {}),
        (f"/activities/{far_a.pk}/signups", {}),
        (f"/activities/{far_a.pk}/checkin", {"token": far_a.checkin_token}),
        (f"/volunteers/{far_v.pk}/hours", {"hours": "1", "reason": "x"}),
    ]:
        assert as_("community").post(path, body).status_code == 404, path
    # a grid worker sees the activities of their grid, not the community's
    grid_ids = [a["id"] for a in as_("grid").get("/activities").json()["items"]]
    assert grid_a.pk in grid_ids and near_a.pk not in grid_ids
    # a resident reads their community's activities, with their own sign-up only
    vol.sign_up(near_a, actor=user("community"), person=person(30))
    mine = as_("resident").get(f"/activities/{near_a.pk}")
    assert mine.status_code == 200 and mine.json()["signups"] == []
    assert as_("resident").get("/volunteers").json()["count"] == 0
    assert as_(None).get("/activities").status_code == 401


# --- hostile input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"starts_at": "2026-02-30T10:00:00+08:00"},
        {"starts_at": "yesterday"},
        {"starts_at": "9999-12-31T10:00:00+08:00", "ends_at": "9999-12-31T11:00:00+08:00"},
        {"capacity": 10**30},
        {"capacity": -1},
        {"hours": "1e400"},
        {"hours": "NaN"},
        {"area_id": 10**20},
        {"title": "\u202e\u0000"},
        {"title": "义" * 10_000},
        {"kind": {"$ne": 1}},
        {"target_groups": [[["深"]]]},
        {"target_groups": ["x"] * 500},
    ],
)
def test_hostile_activity_input_is_a_4xx_with_a_bilingual_message(body: dict[str, Any]) -> None:
    response = as_("community").post("/activities", new_activity_body(**body))
    assert 400 <= response.status_code < 500, response.content
    message = response.json()["message"]
    assert " / " in message


def test_hostile_bodies_elsewhere() -> None:
    staff = as_("community")
    a = activity()
    deep = "[" * 5000 + "]" * 5000
    for path in (f"/activities/{a.pk}/checkin", f"/activities/{a.pk}/signups", "/volunteers"):
        assert 400 <= staff.post(path, raw=deep).status_code < 500
        assert 400 <= staff.post(path, raw="{not json").status_code < 500
    assert staff.post(f"/activities/{a.pk}/checkin", {"token": "t" * 5000}).status_code == 422
    assert staff.post(f"/activities/{a.pk}/signups", {"person_id": 2**70}).status_code == 422
    assert staff.get("/activities/99999999999999999999").status_code in (404, 422)
    assert staff.get("/volunteers", q="'; DROP TABLE x; --").status_code == 200
    v = vol.register_volunteer(actor=user("community"), person=person(30))
    for hours in ("1e9", "0.05", "Infinity"):
        r = staff.post(f"/volunteers/{v.pk}/hours", {"hours": hours, "reason": "x"})
        assert 400 <= r.status_code < 500, (hours, r.content)


# --- query counts --------------------------------------------------------------------------
def first_rows() -> dict[str, Any]:
    """A team with a volunteer holding a ledger line, and an activity with a sign-up,
    in the ``community`` user's community (the resident lives there)."""
    staff = user("community")
    red = team(name="红色先锋队")
    v = vol.register_volunteer(actor=staff, person=person(30), teams=[red])
    vol.correct_hours(v, actor=staff, hours=Decimal("1"), reason="补记")
    a = activity(capacity=100)
    vol.sign_up(a, actor=staff, person=v.person)
    return {"team": red, "volunteer": v, "activity": a}


def grow(rows: dict[str, Any], n: int) -> None:
    """``n`` more of everything the routes read: teams, volunteers in the first team,
    ledger lines of the first volunteer, sign-ups (checked in) of the first activity, and
    activities."""
    staff = user("community")
    start = vol.Team.objects.count()
    for i in range(n):
        team(name=f"服务队{start + i}")
        v = vol.register_volunteer(actor=staff, person=person(20 + i % 50), teams=[rows["team"]])
        vol.correct_hours(rows["volunteer"], actor=staff, hours=Decimal("0.5"), reason=f"补记{i}")
        vol.sign_up(rows["activity"], actor=staff, person=v.person)
        vol.check_in(rows["activity"], actor=staff, person=v.person)
        activity()


STAFF_ROUTES = [
    "/volunteer-teams",
    "/volunteer-teams/{team}",
    "/volunteers",
    "/volunteers/{volunteer}",
    "/volunteers/{volunteer}/hours",
    "/activities",
    "/activities/{activity}",
]
RESIDENT_ROUTES = ["/activities", "/activities/{activity}"]


@pytest.mark.parametrize("username", ["community", "admin", "resident"])
def test_lists_and_details_cost_the_same_for_few_rows_and_many(username: str) -> None:
    # given two rows of each kind, read one a page (a full page: the count query runs)
    rows = first_rows()
    grow(rows, 1)
    if username == "resident":
        me = user("resident").person
        vol.sign_up(rows["activity"], actor=user("resident"), person=me)
    ids = {k: v.pk for k, v in rows.items()}
    routes = RESIDENT_ROUTES if username == "resident" else STAFF_ROUTES
    api = as_(username)
    before = {r: count(api, r.format(**ids), limit=1)[0] for r in routes}

    # when every kind has 25 more
    grow(rows, 25)

    # then each route costs the same with a page of 25, and shows the rows
    for route in routes:
        after, _body = count(api, route.format(**ids), limit=25)
        assert after == before[route], f"{username} {route}: {before[route]} → {after}"
    if username != "resident":
        assert count(api, "/volunteers", limit=50)[1]["count"] >= 26
        assert len(count(api, f"/activities/{ids['activity']}")[1]["signups"]) >= 26
        assert count(api, f"/volunteers/{ids['volunteer']}/hours")[1]["count"] >= 26
        assert count(api, "/volunteer-teams", limit=50)[1]["count"] >= 26


def count(api: Api, path: str, **params: Any) -> tuple[int, Any]:
    api.get(path, **params)
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, **params)
    assert response.status_code == 200, (path, response.content)
    return len(ctx.captured_queries), response.json()


def test_the_hours_balance_is_the_sum_of_every_line_not_of_the_page() -> None:
    v = vol.register_volunteer(actor=user("community"), person=person(30))
    for i in range(5):
        vol.correct_hours(v, actor=user("community"), hours=Decimal("1.5"), reason=f"第{i}次")
    body = as_("community").get(f"/volunteers/{v.pk}/hours", limit=2).json()
    assert body["balance"] == "7.5" and body["count"] == 5 and len(body["items"]) == 2
    assert sum(Decimal(str(e.hours)) for e in HoursEntry.objects.filter(volunteer=v)) == Decimal(
        "7.5"
    )
    assert Volunteer.objects.filter(pk=v.pk).exists()


# --- rooms, updates, cancelling, photos ----------------------------------------------------
def test_an_activity_books_its_room_and_a_taken_room_is_a_409() -> None:
    from jiayuan.community.models import Booking, Room, ServicePosition

    centre = ServicePosition.objects.create(kind="centre", name="翔宇社区党群服务中心",
                                            area=community())  # fmt: skip
    room = Room.objects.create(position=centre, name="多功能活动室", capacity=60)
    staff = as_("community")
    made = staff.post("/activities", new_activity_body(room_id=room.pk))
    assert made.status_code == 201, made.content
    a = vol.Activity.objects.get(pk=made.json()["id"])
    assert a.booking is not None and a.booking.room == room and a.position == centre
    assert "多功能活动室" in a.place
    clash = staff.post("/activities", new_activity_body(room_id=room.pk, title="撞车的活动"))
    assert clash.status_code == 409
    assert not vol.Activity.objects.filter(title="撞车的活动").exists()
    assert Booking.objects.filter(room=room).count() == 1
    far = ServicePosition.objects.create(kind="centre", name="远方中心", area=other_community())
    far_room = Room.objects.create(position=far, name="远方活动室")
    assert staff.post("/activities", new_activity_body(room_id=far_room.pk)).status_code == 404


def test_a_volunteer_is_updated_and_an_activity_cancelled() -> None:
    staff = as_("community")
    red = team()
    v = vol.register_volunteer(actor=user("community"), person=person(30))
    changed = staff.client.patch(
        f"{BASE}/volunteers/{v.pk}",
        json.dumps({"teams": [red.pk], "skills": ["理发"], "active": False}),
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["teams"] == [red.pk] and changed.json()["active"] is False
    a = activity()
    cancelled = staff.post(f"/activities/{a.pk}/cancel", {"report": "大风"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert staff.post(f"/activities/{a.pk}/close").status_code == 409


def test_closing_keeps_the_photos_and_serves_them_in_scope() -> None:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "JPEG")
    upload = SimpleUploadedFile("p.jpg", buffer.getvalue(), content_type="image/jpeg")
    a = activity()
    staff = Client()
    staff.force_login(user("community"))
    response = staff.post(
        f"/community/activities/{a.pk}/close/", {"report": "好", "photos": [upload]}
    )
    assert response.status_code == 302
    photo = a.photos.get()
    url = f"/community/activities/{a.pk}/photos/{photo.pk}/"
    assert staff.get(url).status_code == 200
    far = Client()
    far.force_login(user("grid"))  # the grid worker does not see the community's activity
    assert far.get(url).status_code == 404
