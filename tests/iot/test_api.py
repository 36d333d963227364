"""The device API on the seeded tiny county: ``/devices``, ``/alarms`` with their actions
and ``/alarm-rules``, and the scope matrix (acceptance 6): a grid worker sees the
devices and alarms of their grid and gets 404 for the next grid's; a community worker
sees their whole community; an account that may only look gets 403 on an action.

Expected rows are computed from the ORM by area path, independently of ``visible_to``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Role
from jiayuan.iot import lifecycle
from jiayuan.iot.models import Alarm, AlarmEvent, AlarmRule, Device
from jiayuan.org.models import Area, Membership

BASE = "/api/v1"
pytestmark = pytest.mark.django_db


class Api:
    """A thin JSON client for ``/api/v1`` logged in as one demo account."""

    def __init__(self, username: str | None) -> None:
        self.client = Client()
        if username is not None:
            self.client.force_login(get_user_model().objects.get(username=username))

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(BASE + path, params)

    def post(self, path: str, data: Any = None) -> Any:
        return self.client.post(
            BASE + path, json.dumps(data or {}), content_type="application/json"
        )

    def patch(self, path: str, data: Any) -> Any:
        return self.client.patch(BASE + path, json.dumps(data), content_type="application/json")


@pytest.fixture
def api_as() -> Callable[[str | None], Api]:
    return Api


@dataclass(frozen=True)
class Places:
    grid: Area  # the ``grid`` account's grid
    other_grid: Area  # another grid of the same community
    community: Area  # the ``community`` account's community
    next_community: Area  # the other community


def membership_area(username: str, role: str) -> Area:
    return Membership.objects.select_related("area").get(user__username=username, role=role).area


@pytest.fixture
def places() -> Places:
    grid = membership_area("grid", Role.GRID_WORKER)
    community = membership_area("community", Role.COMMUNITY_STAFF)
    other_grid = (
        Area.objects.filter(kind="grid", path__startswith=community.path)
        .exclude(pk=grid.pk)
        .order_by("path")
        .first()
    )
    next_community = Area.objects.filter(kind="community").exclude(pk=community.pk).first()
    assert other_grid is not None and next_community is not None
    return Places(grid, other_grid, community, next_community)


def device_in(area: Area, type_code: str | None = None) -> Device:
    qs = Device.objects.filter(area_path__startswith=area.path)
    if type_code:
        qs = qs.filter(device_type__code=type_code)
    device = qs.order_by("serial").first()
    assert device is not None, f"the tiny county has no {type_code or ''} device in {area}"
    return device


@pytest.fixture
def make_alarm() -> Callable[..., Alarm]:
    """Raise a rule on a device through the lifecycle (the engine's own path)."""

    def make(device: Device, rule_code: str = "tamper") -> Alarm:
        rule = AlarmRule.objects.get(code=rule_code)
        Alarm.objects.filter(device=device, rule=rule).delete()
        alarm, created = lifecycle.raise_alarm(
            device, rule, at=timezone.now(), detail={"event": "tamper"}
        )
        assert created
        return alarm

    return make


def ids_of(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def all_ids(api: Api, path: str, **params: Any) -> set[int]:
    ids: set[int] = set()
    offset = 0
    while True:
        response = api.get(path, limit=500, offset=offset, **params)
        ids |= ids_of(response)
        offset += 500
        if offset >= response.json()["count"]:
            return ids


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert " / " in body["message"]  # Chinese / English
    return body


# --- devices -----------------------------------------------------------------------------
@pytest.mark.parametrize("username", ["grid", "community", "street", "admin"])
def test_device_list_is_exactly_the_scope(api_as: Any, places: Places, username: str) -> None:
    # given: where each account works, by path
    area = {
        "grid": places.grid,
        "community": places.community,
        "street": Area.objects.get(pk=places.community.parent_id),
        "admin": Area.objects.get(kind="county"),
    }[username]
    expected = set(
        Device.objects.filter(area_path__startswith=area.path).values_list("pk", flat=True)
    )

    # when
    seen = all_ids(api_as(username), "/devices")

    # then
    assert expected, "the seed puts devices everywhere"
    assert seen == expected


def test_grid_worker_sees_no_device_of_the_next_grid(api_as: Any, places: Places) -> None:
    api = api_as("grid")
    own, other = device_in(places.grid), device_in(places.other_grid)

    assert api.get(f"/devices/{own.pk}").status_code == 200
    assert_error(api.get(f"/devices/{other.pk}"), 404, "not_found")
    assert other.pk not in all_ids(api, "/devices")
    # the community worker sees both
    community = api_as("community")
    assert community.get(f"/devices/{other.pk}").status_code == 200


def test_resident_and_anonymous(api_as: Any, places: Places) -> None:
    assert_error(api_as(None).get("/devices"), 401, "unauthorized")
    assert_error(api_as(None).get("/alarms"), 401, "unauthorized")
    response = api_as("resident").get("/devices")
    assert response.status_code == 200
    assert response.json() == {"items": [], "count": 0}
    assert_error(api_as("resident").get(f"/devices/{device_in(places.grid).pk}"), 404, "not_found")


def test_device_filters(api_as: Any, places: Places) -> None:
    api = api_as("community")
    under = Device.objects.filter(area_path__startswith=places.community.path)

    smoke = all_ids(api, "/devices", type="smoke")
    assert smoke == set(under.filter(device_type__code="smoke").values_list("pk", flat=True))
    assert smoke

    in_grid = all_ids(api, "/devices", area=places.grid.pk)
    assert in_grid == set(
        Device.objects.filter(area_path__startswith=places.grid.path).values_list("pk", flat=True)
    )

    device = device_in(places.grid)
    Device.objects.filter(pk=device.pk).update(status="fault")
    faulty = all_ids(api, "/devices", status=["fault", "offline"])
    assert device.pk in faulty
    assert faulty == set(under.filter(status__in=["fault", "offline"]).values_list("pk", flat=True))
    serial = api.get("/devices", q=device.serial).json()
    assert [d["serial"] for d in serial["items"]] == [device.serial]


def test_device_detail_shows_no_credentials(api_as: Any, places: Places, make_alarm: Any) -> None:
    device = device_in(places.grid, "smoke")
    raw = device.issue_token()
    device.save()
    alarm = make_alarm(device)

    response = api_as("grid").get(f"/devices/{device.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["serial"] == device.serial
    assert body["type"] == "smoke" and body["type_name"] == "烟感探测器"
    assert body["has_token"] is True
    assert [a["id"] for a in body["open_alarms"]] == [alarm.pk]
    text = response.content.decode()
    assert raw not in text and device.token_digest not in text
    assert "token_digest" not in body and "mqtt_password_hash" not in body


def test_device_list_query_count(
    api_as: Any, places: Places, django_assert_max_num_queries: Any
) -> None:
    api = api_as("admin")
    api.get("/devices", limit=1)  # warm the session
    with django_assert_max_num_queries(6):
        response = api.get("/devices", limit=200)
    assert len(response.json()["items"]) == min(200, Device.objects.count())


# --- alarms ------------------------------------------------------------------------------
def test_alarm_scope(api_as: Any, places: Places, make_alarm: Any) -> None:
    # given: an alarm in the grid worker's grid and one in the next grid
    own = make_alarm(device_in(places.grid))
    other = make_alarm(device_in(places.other_grid))
    far = make_alarm(device_in(places.next_community))

    # then: each account sees exactly its scope, by path
    grid_ids = all_ids(api_as("grid"), "/alarms")
    assert own.pk in grid_ids and other.pk not in grid_ids and far.pk not in grid_ids
    assert grid_ids == set(
        Alarm.objects.filter(area_path__startswith=places.grid.path).values_list("pk", flat=True)
    )
    community_ids = all_ids(api_as("community"), "/alarms")
    assert {own.pk, other.pk} <= community_ids and far.pk not in community_ids
    assert far.pk in all_ids(api_as("admin"), "/alarms")
    assert_error(api_as("grid").get(f"/alarms/{other.pk}"), 404, "not_found")
    assert_error(api_as("grid").post(f"/alarms/{other.pk}/acknowledge"), 404, "not_found")
    assert api_as("grid").get(f"/alarms/{own.pk}").status_code == 200


def test_alarm_filters(api_as: Any, places: Places, make_alarm: Any) -> None:
    tamper = make_alarm(device_in(places.grid, "smoke"), "tamper")
    fire = make_alarm(device_in(places.other_grid, "smoke"), "smoke_alarm")
    api = api_as("community")

    critical = all_ids(api, "/alarms", severity="critical")
    assert fire.pk in critical and tamper.pk not in critical
    in_grid = all_ids(api, "/alarms", area=places.grid.pk)
    assert tamper.pk in in_grid and fire.pk not in in_grid
    lifecycle.acknowledge(tamper, None)
    acknowledged = all_ids(api, "/alarms", status="acknowledged")
    assert tamper.pk in acknowledged and fire.pk not in acknowledged
    open_ids = all_ids(api, "/alarms", open=True)
    assert {tamper.pk, fire.pk} <= open_ids
    assert open_ids == set(
        Alarm.objects.filter(
            area_path__startswith=places.community.path, status__in=["active", "acknowledged"]
        ).values_list("pk", flat=True)
    )
    by_device = api.get("/alarms", device=fire.device_id).json()["items"]
    assert [a["id"] for a in by_device] == [fire.pk]
    assert by_device[0]["case_ref"] == Alarm.objects.get(pk=fire.pk).case_ref


def test_grid_worker_acknowledges_clears_and_the_timeline_says_so(
    api_as: Any, places: Places, make_alarm: Any
) -> None:
    alarm = make_alarm(device_in(places.grid))
    api = api_as("grid")

    response = api.post(f"/alarms/{alarm.pk}/acknowledge")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "acknowledged"
    assert body["acknowledged_by"]
    assert [e["kind"] for e in body["events"]] == ["raised", "acknowledged"]
    assert body["events"][1]["actor"] != "系统"
    # a second acknowledgement is a state conflict
    assert_error(api.post(f"/alarms/{alarm.pk}/acknowledge"), 409, "conflict")

    cleared = api.post(f"/alarms/{alarm.pk}/clear", {"note": "已上门检查，设备外壳已复位"})

    assert cleared.status_code == 200, cleared.content
    assert cleared.json()["status"] == "cleared"
    assert cleared.json()["events"][-1]["note"] == "已上门检查，设备外壳已复位"
    assert (
        AuditEntry.objects.filter(
            object_type="iot.alarm", object_id=str(alarm.pk), actor__username="grid"
        ).count()
        == 2
    )


def test_false_alarm_needs_a_reason(api_as: Any, places: Places, make_alarm: Any) -> None:
    alarm = make_alarm(device_in(places.grid))
    api = api_as("grid")

    body = assert_error(api.post(f"/alarms/{alarm.pk}/false-alarm"), 422, "validation_error")
    assert body["detail"] == {"field": "reason"}
    response = api.post(f"/alarms/{alarm.pk}/false-alarm", {"reason": "厨房油烟"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "closed" and body["false_alarm"] is True
    assert body["false_reason"] == "厨房油烟"


def test_an_account_that_may_only_look_gets_403(
    api_as: Any, places: Places, make_alarm: Any
) -> None:
    # given: the branch secretary (小区党支部书记) sees the zone that holds the grid
    alarm = make_alarm(device_in(places.grid))
    branch = api_as("branch")
    assert branch.get(f"/alarms/{alarm.pk}").status_code == 200

    # then: looking is all they may do
    assert_error(branch.post(f"/alarms/{alarm.pk}/acknowledge"), 403, "permission_denied")
    assert Alarm.objects.get(pk=alarm.pk).status == "active"
    assert list(AlarmEvent.objects.filter(alarm=alarm).values_list("kind", flat=True)) == ["raised"]


def test_alarm_list_query_count(
    api_as: Any, places: Places, make_alarm: Any, django_assert_max_num_queries: Any
) -> None:
    for device in Device.objects.filter(area_path__startswith=places.community.path)[:15]:
        make_alarm(device)
    api = api_as("community")
    api.get("/alarms", limit=1)
    with django_assert_max_num_queries(6):
        response = api.get("/alarms", limit=100)
    assert len(response.json()["items"]) >= 15


# --- rules -------------------------------------------------------------------------------
GAS_RULE = {
    "code": "gas_kitchen",
    "name": "厨房燃气浓度偏高",
    "kind": "threshold",
    "device_type": "gas",
    "message_kind": "telemetry",
    "condition": "lel >= 15",
    "clear_condition": "lel < 5",
    "duration_s": 30,
    "severity": "major",
}


def test_rules_list_shows_the_county_rules(api_as: Any) -> None:
    response = api_as("grid").get("/alarm-rules", limit=500)

    assert response.status_code == 200
    codes = {r["code"] for r in response.json()["items"]}
    assert {"smoke_alarm", "gas_leak", "offline", "welfare"} <= codes
    smoke = next(r for r in response.json()["items"] if r["code"] == "smoke_alarm")
    assert smoke["opens_case"] is True and smoke["severity"] == "critical"
    assert smoke["area_path"] == ""


def test_community_creates_and_updates_a_rule_for_its_community(
    api_as: Any, places: Places
) -> None:
    api = api_as("community")

    response = api.post("/alarm-rules", {**GAS_RULE, "area": places.community.pk})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["area_path"] == places.community.path
    assert body["device_type"] == "gas" and body["kind"] == "threshold"
    rule = AlarmRule.objects.get(code="gas_kitchen")
    assert AuditEntry.objects.filter(object_type="iot.alarmrule", object_id=str(rule.pk)).exists()

    changed = api.patch(f"/alarm-rules/{rule.pk}", {"condition": "lel >= 12", "enabled": False})

    assert changed.status_code == 200, changed.content
    rule.refresh_from_db()
    assert (rule.condition, rule.enabled) == ("lel >= 12", False)
    # the grid worker of that community sees it (it applies to their grid) but may not edit
    grid = api_as("grid")
    assert rule.pk in {r["id"] for r in grid.get("/alarm-rules", limit=500).json()["items"]}
    assert_error(grid.patch(f"/alarm-rules/{rule.pk}", {"name": "x"}), 403, "permission_denied")
    # the other community does not see it
    far = Membership.objects.filter(area=places.next_community).first()
    if far is None:  # the tiny county has no account there: the street leader sees both
        assert rule.pk in {
            r["id"] for r in api_as("street").get("/alarm-rules", limit=500).json()["items"]
        }


def test_bad_conditions_are_422_with_the_place_of_the_mistake(api_as: Any, places: Places) -> None:
    api = api_as("community")

    unknown = api.post(
        "/alarm-rules", {**GAS_RULE, "area": places.community.pk, "condition": "ppm >= 15"}
    )
    syntax = api.post(
        "/alarm-rules", {**GAS_RULE, "area": places.community.pk, "condition": "lel >= "}
    )
    wrong_type = api.post(
        "/alarm-rules", {**GAS_RULE, "area": places.community.pk, "clear_condition": 'lel == "x"'}
    )

    for response in (unknown, syntax, wrong_type):
        body = assert_error(response, 422, "invalid_rule")
        assert body["detail"]["line"] == 1
    assert "ppm" in unknown.json()["message"]
    assert not AlarmRule.objects.filter(code="gas_kitchen").exists()
    # the kind's own needs: a threshold without a duration
    no_duration = api.post(
        "/alarm-rules", {**GAS_RULE, "area": places.community.pk, "duration_s": 0}
    )
    assert_error(no_duration, 422, "validation_error")
    # and an update is checked the same way
    smoke = AlarmRule.objects.get(code="smoke_alarm")
    admin = api_as("admin")
    assert_error(
        admin.patch(f"/alarm-rules/{smoke.pk}", {"condition": 'event == "boom"'}),
        422,
        "invalid_rule",
    )
    assert AlarmRule.objects.get(pk=smoke.pk).condition == 'event == "alarm"'


def test_who_may_set_rules_where(api_as: Any, places: Places) -> None:
    # a grid worker sets no rules
    assert_error(
        api_as("grid").post("/alarm-rules", {**GAS_RULE, "area": places.grid.pk}),
        403,
        "permission_denied",
    )
    # a community worker neither county-wide nor in the other community
    community = api_as("community")
    assert_error(community.post("/alarm-rules", GAS_RULE), 403, "permission_denied")
    assert_error(
        community.post("/alarm-rules", {**GAS_RULE, "area": places.next_community.pk}),
        403,
        "permission_denied",
    )
    smoke = AlarmRule.objects.get(code="smoke_alarm")
    assert_error(
        community.patch(f"/alarm-rules/{smoke.pk}", {"severity": "minor"}),
        403,
        "permission_denied",
    )
    # the county administrator sets county-wide rules
    response = api_as("admin").post("/alarm-rules", GAS_RULE)
    assert response.status_code == 201, response.content
    assert response.json()["area_path"] == ""
    # a code is used once
    assert_error(api_as("admin").post("/alarm-rules", GAS_RULE), 422, "validation_error")
