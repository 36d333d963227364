"""The device pages through the Django test client: the scope (acceptance 6 on pages —
a grid worker's map, list, console and dead letters hold their grid only, other grids'
pages are 404), the console's live partial and its one-click acknowledgement, the rule
editor's checks, and the navigation entry."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from jiayuan.core.roles import Role
from jiayuan.iot import lifecycle
from jiayuan.iot.models import Alarm, AlarmRule, DeadLetter, Device, Message
from jiayuan.org.models import Area, Membership

pytestmark = pytest.mark.django_db
ClientFor = Callable[[str | None], Client]
HTMX = {"HX-Request": "true", "HX-Target": "alarm-live"}


@pytest.fixture
def as_user() -> ClientFor:
    def make(username: str | None) -> Client:
        client = Client()
        if username is not None:
            client.force_login(get_user_model().objects.get(username=username))
        return client

    return make


@pytest.fixture
def grid() -> Area:
    return Membership.objects.get(user__username="grid", role=Role.GRID_WORKER).area


@pytest.fixture
def other_grid(grid: Area) -> Area:
    community = grid.path.rsplit("/", 3)[0] + "/"
    found = (
        Area.objects.filter(kind="grid", path__startswith=community)
        .exclude(pk=grid.pk)
        .order_by("path")
        .first()
    )
    assert found is not None
    return found


def device_in(area: Area, type_code: str = "smoke") -> Device:
    device = (
        Device.objects.filter(area_path__startswith=area.path, device_type__code=type_code)
        .order_by("serial")
        .first()
    )
    assert device is not None
    return device


def raise_on(device: Device, rule_code: str = "tamper") -> Alarm:
    rule = AlarmRule.objects.get(code=rule_code)
    Alarm.objects.filter(device=device, rule=rule).delete()
    alarm, _ = lifecycle.raise_alarm(device, rule, at=timezone.now(), detail={"event": "tamper"})
    return alarm


def html(response: Any) -> str:
    return response.content.decode()


def map_serials(page: str) -> set[str]:
    match = re.search(r'<script id="device-map-data" type="application/json">(.*?)</script>', page)
    assert match is not None
    return {row[1] for row in json.loads(match.group(1))["devices"]}


# --- scope -------------------------------------------------------------------------------
def test_device_page_map_and_list_hold_the_grid_only(
    as_user: ClientFor, grid: Area, other_grid: Area
) -> None:
    response = as_user("grid").get("/iot/devices/")

    assert response.status_code == 200
    page = html(response)
    on_map = map_serials(page)
    assert on_map == set(
        Device.objects.filter(area_path__startswith=grid.path, lat__isnull=False).values_list(
            "serial", flat=True
        )
    )
    assert device_in(other_grid).serial not in page
    assert device_in(grid).serial in page  # the first page of the list, by serial


def test_other_grids_pages_are_404(as_user: ClientFor, grid: Area, other_grid: Area) -> None:
    client = as_user("grid")
    alarm = raise_on(device_in(other_grid))

    assert client.get(f"/iot/devices/{device_in(other_grid).pk}/").status_code == 404
    assert client.get(f"/iot/alarms/{alarm.pk}/").status_code == 404
    response = client.post(f"/iot/alarms/{alarm.pk}/act/acknowledge/")
    assert response.status_code == 404
    assert Alarm.objects.get(pk=alarm.pk).status == "active"
    # the community worker sees it
    assert as_user("community").get(f"/iot/alarms/{alarm.pk}/").status_code == 200


def test_console_holds_the_grid_alarms_only(
    as_user: ClientFor, grid: Area, other_grid: Area
) -> None:
    own = raise_on(device_in(grid))
    other = raise_on(device_in(other_grid))

    page = html(as_user("grid").get("/iot/alarms/"))

    assert f'data-alarm="{own.pk}"' in page
    assert f'data-alarm="{other.pk}"' not in page
    community = html(as_user("community").get("/iot/alarms/"))
    assert f'data-alarm="{own.pk}"' in community and f'data-alarm="{other.pk}"' in community


def test_dead_letters_in_scope(as_user: ClientFor, grid: Area, other_grid: Area) -> None:
    now = timezone.now()
    DeadLetter.objects.bulk_create(
        [
            DeadLetter(received_at=now, source="mqtt", serial="OWN-BAD", payload="{",
                       reason="JSON 格式错误 / invalid JSON", area_path=grid.path),
            DeadLetter(received_at=now, source="mqtt", serial="OTHER-BAD", payload="{",
                       reason="JSON 格式错误 / invalid JSON", area_path=other_grid.path),
            DeadLetter(received_at=now, source="http", serial="NOBODY", payload="{}",
                       reason="未知设备 / unknown device", area_path=""),
        ]
    )  # fmt: skip

    grid_page = html(as_user("grid").get("/iot/dead-letters/"))
    admin_page = html(as_user("admin").get("/iot/dead-letters/"))

    assert "OWN-BAD" in grid_page
    assert "OTHER-BAD" not in grid_page and "NOBODY" not in grid_page
    assert all(serial in admin_page for serial in ("OWN-BAD", "OTHER-BAD", "NOBODY"))
    community_page = html(as_user("community").get("/iot/dead-letters/"))
    assert "OTHER-BAD" in community_page and "NOBODY" not in community_page


# --- the console -------------------------------------------------------------------------
def test_live_partial_polls_and_shows_a_new_alarm(as_user: ClientFor, grid: Area) -> None:
    client = as_user("grid")
    page = html(client.get("/iot/alarms/"))
    assert 'hx-trigger="every 2s"' in page
    assert 'hx-get="/iot/alarms/live/"' in page

    alarm = raise_on(device_in(grid))
    live = client.get("/iot/alarms/live/", headers={"HX-Request": "true"})

    assert live.status_code == 200
    assert live["Cache-Control"] == "no-store"
    text = html(live)
    assert text.lstrip().startswith('<div id="alarm-live"')
    assert f'data-alarm="{alarm.pk}"' in text
    assert "is-new" in text
    assert "<html" not in text


def test_one_click_acknowledge_from_the_console(as_user: ClientFor, grid: Area) -> None:
    alarm = raise_on(device_in(grid))
    client = as_user("grid")

    response = client.post(f"/iot/alarms/{alarm.pk}/act/acknowledge/", headers=HTMX)

    assert response.status_code == 200
    assert 'id="alarm-live"' in html(response)
    row = re.search(rf'data-alarm="{alarm.pk}" data-status="(\w+)"', html(response))
    assert row is not None and row.group(1) == "acknowledged"
    alarm.refresh_from_db()
    assert alarm.status == "acknowledged" and alarm.acknowledged_by.username == "grid"


def test_alarm_page_clear_and_false_alarm(as_user: ClientFor, grid: Area) -> None:
    alarm = raise_on(device_in(grid))
    client = as_user("grid")
    page = html(client.get(f"/iot/alarms/{alarm.pk}/"))
    assert 'data-action="acknowledge"' in page and 'data-action="false_alarm"' in page

    refused = client.post(f"/iot/alarms/{alarm.pk}/act/false_alarm/", {"reason": ""}, follow=True)
    assert "请填写误报原因" in html(refused)
    assert Alarm.objects.get(pk=alarm.pk).status == "active"

    done = client.post(
        f"/iot/alarms/{alarm.pk}/act/false_alarm/", {"reason": "装修粉尘"}, follow=True
    )

    assert done.status_code == 200
    alarm.refresh_from_db()
    assert (alarm.status, alarm.false_alarm, alarm.false_reason) == ("closed", True, "装修粉尘")
    assert "装修粉尘" in html(done)
    assert 'data-testid="alarm-actions"' not in html(done)  # nothing left to do


def test_look_only_account_gets_no_buttons_and_403(as_user: ClientFor, grid: Area) -> None:
    alarm = raise_on(device_in(grid))
    branch = as_user("branch")  # the zone's party branch secretary: view only

    page = html(branch.get(f"/iot/alarms/{alarm.pk}/"))
    assert 'data-testid="alarm-actions"' not in page
    console = html(branch.get("/iot/alarms/"))
    assert f'data-alarm="{alarm.pk}"' in console
    assert 'data-action="acknowledge"' not in console
    assert branch.post(f"/iot/alarms/{alarm.pk}/act/acknowledge/").status_code == 403


# --- device page ---------------------------------------------------------------------------
def test_device_page_with_its_chart(as_user: ClientFor, grid: Area) -> None:
    device = device_in(grid, "gas")
    assert Message.objects.filter(device=device).exists(), "the seed gives gas a day of readings"

    response = as_user("grid").get(f"/iot/devices/{device.pk}/")

    assert response.status_code == 200
    page = html(response)
    match = re.search(r'<script id="telemetry-data" type="application/json">(.*?)</script>', page)
    assert match is not None
    chart = json.loads(match.group(1))
    assert chart["labels"]["lel"] == "浓度(%LEL)"
    assert len(chart["series"]["lel"]) == Message.objects.filter(device=device).count()
    assert "vendor/echarts/echarts.min.js" in page


# --- rules ---------------------------------------------------------------------------------
RULE_FORM = {
    "code": "door_night",
    "name": "夜间门禁常开",
    "kind": "event",
    "device_type": "access",
    "message_kind": "event",
    "condition": 'event == "held_open"',
    "clear_condition": "",
    "duration_s": "0",
    "count": "1",
    "window_s": "0",
    "severity": "major",
    "enabled": "on",
}


def test_rule_editor_checks_the_condition(as_user: ClientFor, grid: Area) -> None:
    client = as_user("community")
    community = Membership.objects.get(user__username="community").area
    form = {**RULE_FORM, "area": str(community.pk)}

    bad = client.post("/iot/rules/new/", {**form, "condition": 'event == "open" and lel > 3'})

    assert bad.status_code == 422
    assert 'data-testid="error-condition"' in html(bad)
    assert "lel" in html(bad)
    assert not AlarmRule.objects.filter(code="door_night").exists()

    good = client.post("/iot/rules/new/", form)

    assert good.status_code == 302, html(good)
    rule = AlarmRule.objects.get(code="door_night")
    assert rule.area_path == community.path and rule.device_type.code == "access"
    listing = html(client.get("/iot/rules/"))
    assert 'data-rule="door_night"' in listing
    edit = client.post(f"/iot/rules/{rule.pk}/", {**form, "severity": "minor"})
    assert edit.status_code == 302
    rule.refresh_from_db()
    assert rule.severity == "minor" and rule.code == "door_night"


def test_grid_worker_sees_rules_but_may_not_edit(as_user: ClientFor) -> None:
    client = as_user("grid")
    listing = html(client.get("/iot/rules/"))
    assert 'data-rule="smoke_alarm"' in listing
    assert "/iot/rules/new/" not in listing
    assert client.get("/iot/rules/new/").status_code == 403
    smoke = AlarmRule.objects.get(code="smoke_alarm")
    assert client.get(f"/iot/rules/{smoke.pk}/").status_code == 403


# --- navigation ----------------------------------------------------------------------------
def test_nav_entry_for_staff_only(as_user: ClientFor) -> None:
    assert 'data-testid="nav-iot"' in html(as_user("grid").get("/"))
    assert 'data-testid="nav-iot"' not in html(as_user("resident").get("/"))


def test_pages_query_counts(
    as_user: ClientFor, grid: Area, django_assert_max_num_queries: Any
) -> None:
    client = as_user("community")
    for device in Device.objects.filter(area_path__startswith=grid.path)[:10]:
        raise_on(device)
    client.get("/")
    with django_assert_max_num_queries(25):
        assert client.get("/iot/alarms/live/").status_code == 200
    with django_assert_max_num_queries(25):
        assert client.get("/iot/devices/").status_code == 200
