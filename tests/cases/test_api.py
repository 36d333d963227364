"""The cases API: intake, list and filters, detail, actions and their errors, scope, the
inbox and the catalogue; and acceptance 3 (routing by place and category, escalation
and visibility, transfer down keeping history)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from jiayuan.cases import catalogue, services
from jiayuan.cases.choices import Status
from jiayuan.cases.models import Case, CaseEvent, Category
from jiayuan.core.calendar import WorkClock
from jiayuan.core.models import AuditEntry, Notification
from jiayuan.core.roles import Role
from jiayuan.org.models import Area, Membership

pytestmark = pytest.mark.django_db

User = get_user_model()
BASE = "/api/v1"


class Api:
    """A JSON client for ``/api/v1`` logged in as one user."""

    def __init__(self, user: Any) -> None:
        self.client = Client()
        if user is not None:
            self.client.force_login(user)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(BASE + path, params)

    def post(self, path: str, data: Any = None) -> Any:
        body = json.dumps(data if data is not None else {}, ensure_ascii=False)
        return self.client.post(BASE + path, body, content_type="application/json")


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert " / " in body["message"]  # Chinese / English
    return body


def add_user(username: str, area: Area, role: str) -> Any:
    user = User.objects.create_user(username=username)
    Membership.objects.create(user=user, area=area, role=role)
    return user


@pytest.fixture
def api(users: dict[str, Any]) -> Callable[[str], Api]:
    def make(username: str) -> Api:
        return Api(users[username] if username in users else User.objects.get(username=username))

    return make


@pytest.fixture
def other_worker(other_grid: Area) -> Any:
    """The grid worker of another grid of the same community."""
    return add_user("grid_b", other_grid, Role.GRID_WORKER)


def point(grid: Area) -> dict[str, float]:
    return {"lat": grid.centroid_lat, "lng": grid.centroid_lng}


# --- intake ------------------------------------------------------------------------------
def test_grid_worker_files_a_patrol_case_dispatched_to_them(
    api: Any, users: dict[str, Any], own_grid: Area
) -> None:
    # when the grid worker reports what they saw on patrol
    response = api("grid").post(
        "/cases",
        {
            "category": "0201",
            "description": "3号楼下垃圾桶满溢",
            **point(own_grid),
            "reporter_name": "李先生",
            "reporter_phone": "13912345678",
        },
    )
    # then it is received, routed to their grid and dispatched to them (派)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("WS")
    assert body["channel"] == "patrol"
    assert (body["status"], body["status_label"]) == ("dispatched", "已派单")
    assert body["grid"] == own_grid.pk
    assert body["handler_user"] == users["grid"].pk
    assert body["reporter_phone"] == "139****5678"
    assert "13912345678" not in response.content.decode()
    case = Case.objects.get(number=body["number"])
    assert body["tracking_url"] == f"http://testserver/track/{case.tracking_token}/"
    assert [e["action"] for e in body["events"]] == ["receive", "dispatch"]
    assert {a["action"] for a in body["actions"]} == {"accept", "return", "transfer", "escalate"}


def test_staff_default_to_hotline_and_may_choose(api: Any, own_grid: Area) -> None:
    data = {"category": "0401", "description": "楼上深夜噪音", **point(own_grid)}
    assert api("community").post("/cases", data).json()["channel"] == "hotline"
    chosen = api("community").post("/cases", {**data, "channel": "door"})
    assert chosen.json()["channel"] == "door"


def test_resident_files_their_own_snapshot(api: Any, users: dict[str, Any], own_grid: Area) -> None:
    response = api("resident").post(
        "/cases",
        {"category": "0201", "description": "垃圾没清", **point(own_grid), "priority": "critical"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(pk=body["id"])
    assert case.channel == "snapshot"
    assert case.priority == "normal"  # residents do not set urgency
    assert case.reporter is not None and case.reporter.user == users["resident"]
    assert body["tracking_url"].endswith(f"/track/{case.tracking_token}/")
    assert body["actions"] == []
    # the resident follows it by the link, not by the staff API
    assert_error(api("resident").get(f"/cases/{case.pk}"), 404, "not_found")


def test_intake_by_dwelling_and_by_grid(api: Any, own_grid: Area) -> None:
    from jiayuan.org.models import Dwelling

    dwelling = Dwelling.objects.filter(area_path__startswith=own_grid.path).first()
    assert dwelling is not None
    by_dwelling = api("grid").post(
        "/cases", {"category": "0402", "description": "楼上漏水", "dwelling": dwelling.pk}
    )
    assert by_dwelling.status_code == 201, by_dwelling.content
    assert by_dwelling.json()["grid"] == own_grid.pk
    by_grid = api("grid").post(
        "/cases", {"category": "0201", "description": "垃圾", "grid": own_grid.pk}
    )
    assert by_grid.json()["grid"] == own_grid.pk


INVALID = "validation_error"


@pytest.mark.parametrize(
    ("data", "status", "code", "field"),
    [
        ({"category": "9999", "description": "x", "lat": 1, "lng": 1}, 422, INVALID, "category"),
        ({"category": "0201", "description": "无位置"}, 422, INVALID, "location"),
        ({"category": "0201", "description": "x", "lat": 10, "lng": 10}, 422, INVALID, "location"),
        ({"category": "0102", "description": "电梯停了", "grid": "OWN"}, 422, INVALID,
         "attributes.building"),
        ({"category": "0201", "description": "x", "grid": "OWN", "reporter_phone": "123"}, 422,
         INVALID, "phone"),
        ({"category": "0201", "description": "", "grid": "OWN"}, 422, INVALID, None),
        ({"category": "0201", "description": "x", "grid": "OWN", "colour": "red"}, 422, INVALID,
         None),
    ],
)  # fmt: skip
def test_intake_errors(
    api: Any, own_grid: Area, data: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    data = {k: (own_grid.pk if v == "OWN" else v) for k, v in data.items()}
    body = assert_error(api("grid").post("/cases", data), status, code)
    if field is not None:
        assert body["detail"] == {"field": field}


def test_intake_outside_own_area_is_not_found(api: Any, other_grid: Area) -> None:
    data = {"category": "0201", "description": "隔壁网格的垃圾", **point(other_grid)}
    assert_error(api("grid").post("/cases", data), 404, "not_found")
    assert_error(api("grid").post("/cases", {**data, "grid": other_grid.pk}), 404, "not_found")


def test_account_without_area_or_person_may_not_file(api: Any, own_grid: Area) -> None:
    User.objects.create_user(username="nobody")
    data = {"category": "0201", "description": "x", **point(own_grid)}
    assert_error(api("nobody").post("/cases", data), 403, "permission_denied")


def test_anonymous_caller_is_refused(own_grid: Area) -> None:
    response = Api(None).post("/cases", {"category": "0201", "description": "x"})
    assert_error(response, 401, "unauthorized")


# --- list and filters --------------------------------------------------------------------
def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def test_list_items_carry_the_essentials(api: Any, make_case: Any) -> None:
    case = make_case()
    response = api("grid").get("/cases", q=case.number)
    body = response.json()
    assert body["count"] == 1
    item = body["items"][0]
    assert item["number"] == case.number
    assert (item["status"], item["status_label"]) == ("dispatched", "已派单")
    assert (item["category"], item["category_name"]) == ("0201", "垃圾清运")
    assert (item["level"], item["priority"], item["light"]) == ("grid", "normal", "green")
    assert item["handler"] == "grid"
    assert item["reporter"] == "王女士"
    assert item["reporter_phone"] == "138****5678"
    assert "13812345678" not in response.content.decode()
    for key in ("stage_due_at", "due_at", "received_at", "grid", "grid_name"):
        assert item[key]


def test_list_filters(api: Any, users: dict[str, Any], make_case: Any, own_grid: Area) -> None:
    # given four cases of the grid in different states and categories
    rubbish = make_case()
    noise = make_case(category="0401", description="深夜噪音", reporter_phone="13700001111")
    lamp = make_case(category="0301", description="路灯不亮")  # community level
    services.perform(rubbish.pk, "accept", actor=users["grid"])
    received = make_case(auto_dispatch=False)
    grid, community = api("grid"), api("community")
    everything = {rubbish.pk, noise.pk, lamp.pk, received.pk}
    # then each filter selects the right ones
    assert ids(community.get("/cases", status="accepted")) & everything == {rubbish.pk}
    both = community.get("/cases", status=["accepted", "received"])
    assert ids(both) & everything == {rubbish.pk, received.pk}
    assert ids(community.get("/cases", category="04")) & everything == {noise.pk}  # subtree
    assert ids(community.get("/cases", category="0401")) & everything == {noise.pk}
    assert ids(community.get("/cases", level="community")) & everything == {lamp.pk}
    assert ids(community.get("/cases", channel="snapshot")) >= everything
    assert ids(community.get("/cases", grid=own_grid.pk)) >= everything
    assert ids(grid.get("/cases", mine="true")) & everything == {rubbish.pk, noise.pk}
    assert ids(community.get("/cases", mine="true")) & everything == {lamp.pk}
    assert ids(community.get("/cases", q="深夜")) & everything == {noise.pk}
    assert ids(community.get("/cases", q="13700001111")) & everything == {noise.pk}  # exact
    assert ids(community.get("/cases", q=lamp.number)) == {lamp.pk}
    later = timezone.now() + dt.timedelta(minutes=1)
    assert ids(community.get("/cases", received_after=later.isoformat())) == set()
    assert ids(community.get("/cases", received_before=later.isoformat())) >= everything


def test_light_filter_agrees_with_each_case_light(
    api: Any, users: dict[str, Any], make_case: Any
) -> None:
    # given three open cases whose stage clocks are at 50 %, 90 % and past their limit
    clock, now = WorkClock(), timezone.now()
    started = now - dt.timedelta(days=10)
    used = clock.minutes_between(started, now)
    green, yellow, red = make_case(), make_case(), make_case()
    Case.objects.filter(pk=green.pk).update(
        stage_started_at=started, stage_due_at=clock.add(started, used * 2)
    )
    Case.objects.filter(pk=yellow.pk).update(
        stage_started_at=started, stage_due_at=clock.add(started, used / 0.9)
    )
    Case.objects.filter(pk=red.pk).update(
        stage_started_at=started, stage_due_at=now - dt.timedelta(hours=1)
    )
    mine = {green.pk, yellow.pk, red.pk}
    community = api("community")
    # then the filter and the light of each item agree
    for light, case in (("green", green), ("yellow", yellow), ("red", red)):
        response = community.get("/cases", light=light, limit=500)
        assert ids(response) & mine == {case.pk}, light
        assert {item["light"] for item in response.json()["items"]} == {light}
    # and finished cases have no light and match no light filter
    services.perform(red.pk, "reject", actor=users["community"], reason="重复")
    assert red.pk not in ids(community.get("/cases", light="red", limit=500))
    detail = community.get(f"/cases/{red.pk}").json()
    assert detail["light"] is None


def test_list_pages_and_orders(api: Any, make_case: Any) -> None:
    cases = [make_case() for _ in range(3)]
    community = api("community")
    total = community.get("/cases").json()["count"]
    first = community.get("/cases", limit=2, offset=0, ordering="number").json()
    second = community.get("/cases", limit=2, offset=2, ordering="number").json()
    assert first["count"] == second["count"] == total >= 3
    numbers = [i["number"] for i in first["items"] + second["items"]]
    assert numbers == sorted(numbers)
    newest = community.get("/cases", limit=1).json()["items"][0]
    assert newest["number"] == cases[-1].number
    assert_error(community.get("/cases", ordering="description"), 422, "validation_error")


def test_list_queries_do_not_grow_with_the_page(
    api: Any, make_case: Any, django_assert_max_num_queries: Any
) -> None:
    for _ in range(6):
        make_case()
    community = api("community")
    for limit in (2, 500):
        # session, user, memberships, items, count, the calendar of the year
        with django_assert_max_num_queries(7):
            response = community.get("/cases", limit=limit)
        assert response.status_code == 200
        assert len(response.json()["items"]) == min(limit, response.json()["count"])


# --- scope -------------------------------------------------------------------------------
def test_other_grid_never_sees_the_case(
    api: Any, users: dict[str, Any], make_case: Any, other_worker: Any
) -> None:
    # given a case of the grid user's grid
    case = make_case()
    other = Api(other_worker)
    # then the worker of the other grid finds it nowhere: detail, list, counts, search
    assert_error(other.get(f"/cases/{case.pk}"), 404, "not_found")
    listing = other.get("/cases", limit=500).json()
    assert case.pk not in {item["id"] for item in listing["items"]}
    own_path = other_worker.memberships.get().area_path
    assert listing["count"] == Case.objects.filter(area_path__startswith=own_path).count()
    assert other.get("/cases", q=case.number).json() == {"items": [], "count": 0}
    # nor act on it, nor read or add its photos
    assert_error(other.post(f"/cases/{case.pk}/actions/accept"), 404, "not_found")
    assert_error(other.get(f"/cases/{case.pk}/photos/1"), 404, "not_found")
    # while the owner and the community do
    assert api("grid").get(f"/cases/{case.pk}").status_code == 200
    assert api("community").get(f"/cases/{case.pk}").status_code == 200


def test_next_community_never_sees_the_case(api: Any, make_case: Any) -> None:
    case = make_case()
    next_community = Area.objects.filter(kind="community").exclude(
        pk=User.objects.get(username="community").memberships.get().area_id
    )[0]
    staff = Api(add_user("staff_b", next_community, Role.COMMUNITY_STAFF))
    assert_error(staff.get(f"/cases/{case.pk}"), 404, "not_found")
    assert case.pk not in ids(staff.get("/cases", limit=500))


# --- detail ------------------------------------------------------------------------------
def test_detail_shows_timeline_actions_and_duplicates(
    api: Any, users: dict[str, Any], make_case: Any
) -> None:
    first = make_case()
    second = make_case(description="又是那堆垃圾")
    body = api("community").get(f"/cases/{second.pk}").json()
    assert body["description"] == "又是那堆垃圾"
    assert [d["number"] for d in body["duplicates"]] == [first.number]
    assert [(e["action"], e["step"], e["step_label"]) for e in body["events"]] == [
        ("receive", "ask", "问"),
        ("dispatch", "dispatch", "派"),
    ]
    assert {a["action"] for a in body["actions"]} == {"transfer", "escalate", "reject", "merge"}
    merge = next(a for a in body["actions"] if a["action"] == "merge")
    assert set(merge["params"]) == {"into", "reason"}
    assert body["tracking_url"].endswith(f"/track/{second.tracking_token}/")
    # the handler sees the detail without the reporter's link, with their own actions
    handler_view = api("grid").get(f"/cases/{second.pk}").json()
    assert handler_view["tracking_url"] is None
    assert {a["action"] for a in handler_view["actions"]} == {
        "accept",
        "return",
        "transfer",
        "escalate",
    }


# --- actions through the API -------------------------------------------------------------
def test_loop_through_the_api(api: Any, users: dict[str, Any], make_case: Any) -> None:
    case = make_case()
    grid, community = api("grid"), api("community")
    accepted = grid.post(f"/cases/{case.pk}/actions/accept", {"expected_version": case.version})
    assert accepted.status_code == 200, accepted.content
    assert (accepted.json()["status"], accepted.json()["version"]) == ("accepted", 1)
    assert grid.post(f"/cases/{case.pk}/actions/start").json()["status"] == "in_progress"
    handled = grid.post(f"/cases/{case.pk}/actions/handle", {"result": "已清运完毕"})
    assert handled.json()["status"] == "handled"
    approved = community.post(f"/cases/{case.pk}/actions/approve", {"note": "已核实"})
    assert (approved.json()["status"], approved.json()["public_note"]) == ("replied", "已核实")
    visited = community.post(
        f"/cases/{case.pk}/actions/visit", {"satisfaction": "basic", "by": "phone"}
    )
    body = visited.json()
    assert (body["status"], body["satisfaction"]) == ("closed", "basic")
    assert body["visits"][0]["by"] == "phone"
    steps = [e["step"] for e in body["events"]]
    assert steps == ["ask", "dispatch", "dispatch", "handle", "handle", "review", "reply", "reply"]


REFUSED, DENIED, MISSING = "transition_not_allowed", "permission_denied", "not_found"
HANDLED = ["accept", "start", "handle"]
CLOSED = [*HANDLED, "approve", "visit"]


@pytest.mark.parametrize(
    ("setup", "username", "action", "data", "status", "code"),
    [
        ([], "grid", "accept", {}, 200, None),
        ([], "community", "accept", {}, 403, DENIED),
        ([], "grid_b", "accept", {}, 404, MISSING),
        ([], "grid", "handle", {"result": "x"}, 409, REFUSED),
        ([], "grid", "approve", {}, 403, DENIED),
        ([], "community", "reject", {"reason": "不属实"}, 200, None),
        ([], "community", "reject", {}, 422, INVALID),
        ([], "grid", "return", {"reason": "非本网格"}, 200, None),
        ([], "grid", "fly", {}, 404, MISSING),
        ([], "grid", "accept", {"minutes": 5}, 422, INVALID),
        ([], "grid", "accept", {"now": "2026-01-01T00:00:00"}, 422, INVALID),
        ([], "grid", "accept", {"expected_version": 7}, 409, "conflict"),
        (["accept"], "grid", "accept", {}, 409, REFUSED),
        (HANDLED, "grid", "approve", {}, 403, DENIED),
        (HANDLED, "community", "approve", {}, 200, None),
        (HANDLED, "community", "send_back", {"reason": "照片模糊"}, 200, None),
        (HANDLED, "grid", "handle", {"result": "x"}, 409, REFUSED),
        ([*HANDLED, "approve"], "community", "visit", {"satisfaction": "satisfied",
                                                        "by": "resident"}, 422, INVALID),
        (CLOSED, "community", "reject", {"reason": "x"}, 409, REFUSED),
        (CLOSED, "grid_b", "reject", {"reason": "x"}, 404, MISSING),
    ],
)  # fmt: skip
def test_action_outcomes_through_the_api(
    api: Any,
    users: dict[str, Any],
    make_case: Any,
    other_worker: Any,
    setup: list[str],
    username: str,
    action: str,
    data: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    # given a dispatched case, taken some steps further
    case = make_case()
    params = {"handle": {"result": "已处理"}, "visit": {"satisfaction": "satisfied"}}
    for step in setup:
        actor = users["community"] if step in ("approve", "visit") else users["grid"]
        services.perform(case.pk, step, actor=actor, **params.get(step, {}))
    before = Case.objects.get(pk=case.pk)
    # when
    response = api(username).post(f"/cases/{case.pk}/actions/{action}", data)
    # then
    after = Case.objects.get(pk=case.pk)
    if code is None:
        assert response.status_code == status, response.content
        assert response.json()["status"] == after.status != before.status
        assert after.version == before.version + 1
    else:
        assert_error(response, status, code)
        assert (after.status, after.version) == (before.status, before.version)


def test_refusal_message_is_clear_and_bilingual(api: Any, make_case: Any) -> None:
    case = make_case()
    body = assert_error(
        api("grid").post(f"/cases/{case.pk}/actions/handle", {"result": "x"}),
        409,
        "transition_not_allowed",
    )
    assert body["message"] == (
        "当前状态「已派单」不能执行「办结提交」 / "
        "'handle' is not allowed while the case is dispatched"
    )


# --- acceptance 3: routing, levels, escalation, transfer down ---------------------------
def test_a_point_dispatches_to_the_worker_of_its_grid(
    api: Any, users: dict[str, Any], own_grid: Area, other_grid: Area, other_worker: Any
) -> None:
    # given grid A (the ``grid`` user's) and grid B (``grid_b``'s); the street files both
    street = api("street")
    data = {"category": "0201", "description": "垃圾满溢"}
    in_a = street.post("/cases", {**data, **point(own_grid)}).json()
    in_b = street.post("/cases", {**data, **point(other_grid)}).json()
    # then each goes to the worker of the grid containing the point
    assert (in_a["grid"], in_a["handler_user"]) == (own_grid.pk, users["grid"].pk)
    assert (in_b["grid"], in_b["handler_user"]) == (other_grid.pk, other_worker.pk)
    assert Notification.objects.filter(user=other_worker, ref=in_b["number"]).exists()


LEVEL_KIND = {
    "grid": "grid",
    "zone": "zone",
    "community": "community",
    "street": "street",
    "department": "street",
}
LEVEL_USER = {"grid": "grid", "zone": "branch", "community": "community", "street": "street"}


@pytest.mark.parametrize(
    ("code", "level", "department"),
    [(code, level, dept) for code, _n, _p, level, dept, _l, _e in catalogue.CATEGORIES],
)
def test_each_category_lands_at_its_default_level(
    users: dict[str, Any], make_case: Any, own_grid: Area, code: str, level: str, department: str
) -> None:
    # when a case of the category is filed in the grid user's grid
    case = make_case(category=code)
    # then it is owned by the area of the category's level above that grid, and goes to
    # the account holding that level's role (departments: to the department)
    assert case.level == level
    assert case.owner_area.kind == LEVEL_KIND[level]
    assert own_grid.path.startswith(case.owner_area.path)
    assert case.area_path == case.owner_area.path
    assert case.status == Status.DISPATCHED
    if level == "department":
        assert case.handler_user is None
        assert case.handler_department is not None
        assert case.handler_department.code == department
    else:
        assert case.handler_user == users[LEVEL_USER[level]]
        assert case.handler_department is None


def test_street_lamp_goes_to_the_community_and_water_to_the_department(
    users: dict[str, Any], make_case: Any
) -> None:
    lamp = make_case(category="0301", description="路灯不亮")
    assert (lamp.level, lamp.owner_area.kind) == ("community", "community")
    assert lamp.handler_user == users["community"]
    assert Membership.objects.filter(
        user=lamp.handler_user, area=lamp.owner_area, role=Role.COMMUNITY_STAFF
    ).exists()
    water = make_case(category="0302", description="供水管道漏水")
    assert water.level == "department"
    assert water.handler_department == Category.objects.get(code="0302").department
    assert water.handler_department is not None and water.handler_department.code == "swj"


def visible(user: Any, case: Case) -> bool:
    return Case.objects.visible_to(user).filter(pk=case.pk).exists()


def test_escalated_case_rises_and_stays_out_of_other_grids(
    api: Any, users: dict[str, Any], make_case: Any, other_worker: Any
) -> None:
    # given a grid case, seen by the grid and above, not by the other grid's worker
    case = make_case()
    assert visible(users["grid"], case) and not visible(other_worker, case)
    # when the grid worker raises it (提级帮办) to the zone, and the zone to the community
    response = api("grid").post(f"/cases/{case.pk}/actions/escalate", {"reason": "需要物业配合"})
    # (the answer shows the case risen out of the worker's hands, with nothing left to do)
    assert response.status_code == 200, response.content
    assert (response.json()["level"], response.json()["actions"]) == ("zone", [])
    case.refresh_from_db()
    assert (case.level, case.handler_user, case.escalated_help) == ("zone", users["branch"], True)
    services.perform(case.pk, "escalate", actor=users["branch"], reason="小区协调不了")
    case.refresh_from_db()
    # then the community owns it: community and street users see and list it …
    assert (case.level, case.owner_area.kind) == ("community", "community")
    assert case.area_path == case.owner_area.path
    assert case.handler_user == users["community"]
    for username in ("community", "street", "admin"):
        assert visible(users[username], case), username
        assert case.pk in ids(api(username).get("/cases", limit=500))
    # … and the other grid's worker still never does
    assert not visible(other_worker, case)
    assert_error(Api(other_worker).get(f"/cases/{case.pk}"), 404, "not_found")
    # every rise is on the timeline with its reason and levels
    rises = list(case.events.filter(action="escalate").order_by("id"))
    assert [(e.data["from_level"], e.data["to_level"], e.note) for e in rises] == [
        ("grid", "zone", "需要物业配合"),
        ("zone", "community", "小区协调不了"),
    ]


def test_transfer_down_with_reason_keeps_history(
    api: Any, users: dict[str, Any], make_case: Any
) -> None:
    # given a case raised to the community
    case = make_case()
    services.perform(
        case.pk, "escalate", actor=users["community"], reason="先由社区研判", level="community"
    )
    community = api("community")
    # when the community sends it down without a reason, it is refused
    no_reason = community.post(f"/cases/{case.pk}/actions/transfer", {"level": "grid"})
    assert_error(no_reason, 422, "validation_error")
    # and with a reason it goes back down to the grid worker
    response = community.post(
        f"/cases/{case.pk}/actions/transfer", {"level": "grid", "reason": "网格可自行处理"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["level"], body["status"], body["handler_user"]) == (
        "grid",
        "dispatched",
        users["grid"].pk,
    )
    case.refresh_from_db()
    assert case.owner_area == case.grid and case.transfer_count == 1
    # then the whole history is kept: received, dispatched, raised, sent down
    timeline = list(CaseEvent.objects.filter(case=case).order_by("id"))
    assert [e.action for e in timeline] == ["receive", "dispatch", "escalate", "transfer"]
    down = timeline[-1]
    assert (down.step, down.note, down.data["from_level"], down.data["to_level"]) == (
        "transfer",
        "网格可自行处理",
        "community",
        "grid",
    )
    assert AuditEntry.objects.for_object(case).filter(note__startswith="transfer:").exists()
    # and the grid worker sees it again and may accept it
    assert visible(users["grid"], case)
    accepted = api("grid").post(f"/cases/{case.pk}/actions/accept")
    assert accepted.json()["status"] == "accepted"


def test_transfer_up_is_refused(api: Any, make_case: Any) -> None:
    case = make_case()
    response = api("grid").post(
        f"/cases/{case.pk}/actions/transfer", {"level": "community", "reason": "太难"}
    )
    body = assert_error(response, 422, "validation_error")
    assert body["detail"] == {"field": "level"}


# --- inbox -------------------------------------------------------------------------------
def case_of(notice: dict[str, Any]) -> int | None:
    """The case a notice opens (its link is the case page, ``/cases/<pk>/``)."""
    found = re.fullmatch(r"/cases/(\d+)/", notice["link"])
    return int(found[1]) if found else None


def test_inbox_lists_mine_unread_first_and_marks_read(
    api: Any, users: dict[str, Any], make_case: Any
) -> None:
    # given two dispatches to the grid worker, the older one read
    older, newer = make_case(), make_case()
    grid = api("grid")
    mine = Notification.objects.filter(user=users["grid"])
    older_note = mine.get(ref=older.number)
    assert grid.post(f"/notifications/{older_note.pk}/read").json()["read_at"]
    third = make_case()
    # then unread come first, newest first; read ones after
    items = grid.get("/notifications", limit=500).json()["items"]
    cases = [case_of(i) for i in items]
    assert cases.index(third.pk) < cases.index(newer.pk) < cases.index(older.pk)
    assert all(i["read_at"] is None for i in items[: cases.index(older.pk)])
    assert {i["ref"] for i in items} >= {older.number, newer.number}
    unread = grid.get("/notifications", unread="true", limit=500).json()
    assert older.pk not in [case_of(i) for i in unread["items"]]
    # nobody else reads or marks the grid worker's messages
    community = api("community")
    assert older.pk not in [case_of(i) for i in community.get("/notifications").json()["items"]]
    newer_note = mine.get(ref=newer.number)
    assert_error(community.post(f"/notifications/{newer_note.pk}/read"), 404, "not_found")
    newer_note.refresh_from_db()
    assert newer_note.read_at is None


# --- catalogue ---------------------------------------------------------------------------
def test_category_tree_with_levels_and_limits(api: Any) -> None:
    response = api("resident").get("/categories")
    assert response.status_code == 200
    roots = response.json()
    top = [c["code"] for c in roots]
    assert top == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"]
    facilities = next(c for c in roots if c["code"] == "03")
    lamp = next(c for c in facilities["children"] if c["code"] == "0301")
    assert (lamp["name"], lamp["default_level"], lamp["default_level_label"]) == (
        "路灯损坏",
        "community",
        "社区",
    )
    assert (lamp["department"], lamp["department_name"]) == ("gdgs", "国网汶上县供电公司")
    # own limit for handling, the defaults for the rest (working minutes)
    assert lamp["limits"] == {
        "dispatch": 60,
        "accept": 120,
        "handle": 3 * 450,
        "review": 450,
        "visit": 900,
        "total": 2250,
    }
    lift = next(c for c in roots[0]["children"] if c["code"] == "0102")
    assert lift["attributes"][0]["code"] == "building"
    assert sum(1 + len(c["children"]) for c in roots) == len(catalogue.CATEGORIES)


def test_departments(api: Any) -> None:
    response = api("grid").get("/departments")
    assert [d["code"] for d in response.json()] == sorted(d[0] for d in catalogue.DEPARTMENTS)
    assert_error(Api(None).get("/departments"), 401, "unauthorized")
