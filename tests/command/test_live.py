"""The one screen's map layers (``/api/v1/screen/layers``), its change feed and its live
stream (``/command/screen/<id>/live/``): scope, the kinds, the forces layer's rule and
audit, the cursor (resumed without loss or duplicates, gaps of out-of-order commits),
the server-sent events' format, the per-process cap and hostile input."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from typing import Any

import pytest
from django.core.signals import request_finished
from django.db import DatabaseError, close_old_connections, connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.cases.choices import OPEN_STATUSES
from jiayuan.cases.models import Case, CaseEvent
from jiayuan.command import live_views, mobilise
from jiayuan.command.models import DutyShift, MobilisationEvent
from jiayuan.command.screen import feed as feed_mod
from jiayuan.command.screen import layers
from jiayuan.command.screen.feed import Cursor, Feed, Track
from jiayuan.core.models import AuditEntry
from jiayuan.iot.choices import OPEN_ALARM_STATUSES
from jiayuan.iot.models import Alarm, AlarmRule, Device, DeviceType
from jiayuan.org.models import Area, Membership
from jiayuan.org.paths import ancestor_path

from ..pages.test_query_counts import grow_grid
from .conftest import COMMUNITY, GRID, OTHER_COMMUNITY, POINT, at, living_forces, login, on_duty

pytestmark = pytest.mark.django_db

LAYERS = "/api/v1/screen/layers"
_serials = itertools.count(1)


# --- the world ------------------------------------------------------------------------------
def area(path: str) -> Area:
    return Area.objects.get(path=path)


@pytest.fixture
def county() -> Area:
    return Area.objects.get(kind="county")


@pytest.fixture
def street() -> Area:
    return Area.objects.get(path="370830/001/")  # the ``street`` account's street


@pytest.fixture
def other_street(county: Area) -> Area:
    """A second street with a community and a grid (the tiny county has one street)."""
    s = Area.objects.create(kind="street", code="099", name="测试街道", parent=county)
    c = Area.objects.create(kind="community", code="001", name="测试社区", parent=s)
    Area.objects.create(kind="grid", code="01", name="测试网格", parent=c)
    return s


def grid_under(path: str) -> Area:
    return Area.objects.filter(kind="grid", path__startswith=path).order_by("path").first()  # type: ignore[return-value]


def new_alarm(where: Area, severity: str = "critical", title: str = "烟雾报警", **kw: Any) -> Alarm:
    """An open alarm on a new smoke detector at the centre of ``where``."""
    device = Device.objects.create(
        serial=f"LIVE-{next(_serials)}-{uuid.uuid4().hex[:6]}",
        name=kw.pop("device_name", "101室烟感"),
        device_type=DeviceType.objects.get(code="smoke"),
        area=where,
        lat=where.centroid_lat or POINT[0],
        lng=where.centroid_lng or POINT[1],
    )
    rule = AlarmRule.objects.get(code="smoke_alarm")
    return Alarm.objects.create(device=device, rule=rule, severity=severity, title=title, **kw)


def an_open_case(path: str) -> Case:
    case = Case.objects.filter(area_path__startswith=path, status__in=OPEN_STATUSES).first()
    if case is None:
        case = Case.objects.filter(area_path__startswith=path).order_by("pk").first()
    assert case is not None
    return case


def case_event(case: Case, action: str, from_status: str, to_status: str) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        action=action,
        step="dispatch" if action == "dispatch" else "ask",
        from_status=from_status,
        to_status=to_status,
    )


def layer(client: Any, area_id: Any, kind: str) -> Any:
    return client.get(LAYERS, {"area": area_id, "kind": kind})


# --- the layers -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(layers.KINDS))
def test_every_layer_is_a_feature_collection(
    page_as: Any, county: Area, street: Area, kind: str
) -> None:
    for target in (county, street, area(COMMUNITY)):
        response = layer(page_as("admin"), target.pk, kind)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["type"] == "FeatureCollection" and body["kind"] == kind
        for f in body["features"]:
            assert f["type"] == "Feature" and f["geometry"]["type"] in (
                "Point",
                "Polygon",
                "MultiPolygon",
            )


def test_layers_hold_what_is_in_the_area_and_nothing_else(
    page_as: Any, users: dict[str, Any], other_street: Area
) -> None:
    # given alarms inside the community and in another street, and one cleared alarm
    community = area(COMMUNITY)
    mine = new_alarm(grid_under(COMMUNITY))
    elsewhere = new_alarm(grid_under(other_street.path))
    cleared = new_alarm(grid_under(COMMUNITY), status="cleared")
    client = page_as("community")

    # when the community's staff read the alarms layer
    body = layer(client, community.pk, "alarms").json()

    # then it is the community's open alarms, by an independent count
    ids = {f["properties"]["id"] for f in body["features"]}
    assert mine.pk in ids and elsewhere.pk not in ids and cleared.pk not in ids
    expected = Alarm.objects.filter(
        area_path__startswith=COMMUNITY, status__in=OPEN_ALARM_STATUSES, device__lat__isnull=False
    ).count()
    assert len(ids) == expected
    props = next(f["properties"] for f in body["features"] if f["properties"]["id"] == mine.pk)
    assert props["severity"] == "critical" and props["severity_label"] == "紧急"
    assert props["device"] == "101室烟感" and body["link"] == "/iot/alarms/0/"

    # the grids layer: the community's outline and its grids, no grid of the other one
    grids = layer(client, community.pk, "grids").json()["features"]
    roles = [f["properties"]["role"] for f in grids]
    assert (
        roles.count("scope") == 1
        and roles.count("grid")
        == Area.objects.filter(
            kind="grid", path__startswith=COMMUNITY, boundary__isnull=False
        ).count()
    )
    others = set(Area.objects.filter(path__startswith=OTHER_COMMUNITY).values_list("pk", flat=True))
    assert not {f["properties"]["id"] for f in grids} & others

    # open cases owned in the community, with their light
    cases = layer(client, community.pk, "cases").json()["features"]
    expected_cases = Case.objects.filter(
        area_path__startswith=COMMUNITY, status__in=OPEN_STATUSES, lat__isnull=False
    ).count()
    assert len(cases) == expected_cases
    assert all(f["properties"]["light"] in ("green", "yellow", "red") for f in cases)

    # devices and positions: every placed one in the community
    devices = layer(client, community.pk, "devices").json()
    assert devices["clustered"] is False
    assert (
        len(devices["features"])
        == Device.objects.filter(area_path__startswith=COMMUNITY, lat__isnull=False)
        .exclude(status="decommissioned")
        .count()
    )
    from jiayuan.community.models import ServicePosition

    positions = layer(client, community.pk, "positions").json()["features"]
    assert (
        len(positions)
        == ServicePosition.objects.filter(
            area_path__startswith=COMMUNITY, active=True, lat__isnull=False
        ).count()
    )


@pytest.mark.parametrize("odd_grid", [False, True])
def test_the_devices_layer_folds_into_grids_above_its_cap(
    page_as: Any, street: Area, monkeypatch: pytest.MonkeyPatch, odd_grid: bool
) -> None:
    if odd_grid:  # a grid whose code is wider than its siblings': grouped the slow way
        zone = Area.objects.filter(kind="zone", path__startswith=street.path).first()
        odd = Area.objects.create(kind="grid", code="777", name="宽编码网格", parent=zone)
        new_alarm(odd)
        new_alarm(odd)
    placed = Device.objects.filter(area_path__startswith=street.path, lat__isnull=False).exclude(
        status="decommissioned"
    )
    monkeypatch.setattr(layers, "DEVICE_POINTS_MAX", 10)
    body = layer(page_as("street"), street.pk, "devices").json()
    assert body["clustered"] is True
    grids: dict[str, int] = {}
    for path in placed.values_list("area_path", flat=True):
        grid = ancestor_path(path, "grid")
        grids[grid] = grids.get(grid, 0) + 1
    names = dict(Area.objects.filter(path__in=grids).values_list("path", "name"))
    found = sorted((f["properties"]["name"], f["properties"]["count"]) for f in body["features"])
    assert found == sorted((names[g], n) for g, n in grids.items())
    if odd_grid:
        assert ("宽编码网格", 2) in found
    for f in body["features"]:
        p = f["properties"]
        assert sum(p["by_status"].values()) == p["count"]


def test_scope_of_the_layers(page_as: Any, county: Area, street: Area, other_street: Area) -> None:
    # the street leader: their street and its communities; not the county, not another street
    client = page_as("street")
    assert layer(client, street.pk, "grids").status_code == 200
    assert layer(client, area(OTHER_COMMUNITY).pk, "grids").status_code == 200
    for outside in (county.pk, other_street.pk):
        response = layer(client, outside, "grids")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    # community staff: their community only
    community = page_as("community")
    assert layer(community, area(COMMUNITY).pk, "alarms").status_code == 200
    assert layer(community, area(OTHER_COMMUNITY).pk, "alarms").status_code == 404
    assert layer(community, street.pk, "alarms").status_code == 404
    # a grid worker, a resident: no screen at all (a grid is not a screen's area either)
    for who in ("grid", "resident", "head"):
        assert layer(page_as(who), area(COMMUNITY).pk, "alarms").status_code == 404
        assert layer(page_as(who), area(GRID).pk, "alarms").status_code == 404
    assert layer(page_as("admin"), area(GRID).pk, "alarms").status_code == 404


@pytest.mark.parametrize(
    ("area_id", "kind", "status"),
    [
        ("abc", "grids", 404),
        (str(2**64), "grids", 404),
        ("-1", "grids", 404),
        ("0", "grids", 404),
        ("9" * 39, "grids", 404),
        ("1", "bogus", 422),
        ("1", "<script>", 422),
        ("1", "x" * 41, 422),
        ("x" * 41, "grids", 422),
    ],
)
def test_hostile_layer_queries_are_4xx_with_a_bilingual_message(
    page_as: Any, county: Area, area_id: str, kind: str, status: int
) -> None:
    real = str(county.pk) if area_id == "1" else area_id
    response = layer(page_as("admin"), real, kind)
    assert response.status_code == status, response.content
    body = response.json()
    assert " / " in body["message"]
    if status == 422 and kind == "bogus":
        assert "未知图层" in body["message"] and "unknown layer" in body["message"]
    assert layer(page_as("admin"), county.pk, "").status_code in (400, 422)
    assert page_as("admin").get(LAYERS, {"kind": "grids"}).status_code == 422


def test_unauthenticated_layers_are_401() -> None:
    from django.test import Client

    assert Client().get(LAYERS, {"area": 1, "kind": "grids"}).status_code == 401


# --- the forces layer: personal information ---------------------------------------------------
@pytest.fixture
def forces_on_duty(users: dict[str, Any]) -> list[Any]:
    forces = list(living_forces(COMMUNITY)[:3])
    for i, f in enumerate(forces):
        on_duty(f, *at(0.001 * (i + 1)), now=timezone.now())
    return forces


@pytest.fixture
def viewer(users: dict[str, Any]) -> Any:
    """A user who may see the community but not supervise it (a secretary's view)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("viewer-live", password="x")
    Membership.objects.create(user=user, area=area(COMMUNITY), role="branch_secretary")
    return user


def test_forces_layer_for_supervisors_audited_without_coordinates(
    page_as: Any, users: dict[str, Any], forces_on_duty: list[Any]
) -> None:
    # given a stale position (beyond the retention) and a force of another community
    stale = living_forces(COMMUNITY)[5]
    on_duty(stale, *at(0.004), now=timezone.now() - dt.timedelta(days=3))
    other = living_forces(OTHER_COMMUNITY)[0]
    on_duty(other, *at(-0.01), now=timezone.now())
    community = area(COMMUNITY)
    before = AuditEntry.objects.filter(action="reveal").count()

    # when the community's staff read the forces layer
    response = layer(page_as("community"), community.pk, "forces")

    # then they see the positions on duty within the retention, in their community only
    assert response.status_code == 200
    ids = {f["properties"]["id"] for f in response.json()["features"]}
    expected = set(
        DutyShift.objects.filter(
            area_path__startswith=COMMUNITY,
            ended_at__isnull=True,
            lat__isnull=False,
            located_at__gte=timezone.now() - dt.timedelta(hours=24),
        ).values_list("force_id", flat=True)
    )
    assert {f.pk for f in forces_on_duty} <= ids == expected
    assert stale.pk not in ids and other.pk not in ids
    assert all(f["properties"]["name"] for f in response.json()["features"])

    # and one audit entry names the area and the count, never a coordinate
    entries = AuditEntry.objects.filter(action="reveal").order_by("-pk")
    assert entries.count() == before + 1
    entry = entries[0]
    assert entry.object_type == "org.area" and entry.object_id == str(community.pk)
    assert entry.actor == users["community"]
    assert entry.changes == {"layer": "forces", "count": len(ids)}
    logged = json.dumps(entry.changes) + entry.note + entry.object_repr
    for f in response.json()["features"]:
        lng, lat = f["geometry"]["coordinates"]
        assert str(lat)[:6] not in logged and str(lng)[:6] not in logged


def test_forces_layer_refused_without_the_right_to_supervise(
    viewer: Any, forces_on_duty: list[Any]
) -> None:
    community = area(COMMUNITY)
    client = login(viewer)
    before = AuditEntry.objects.count()
    response = layer(client, community.pk, "forces")
    assert response.status_code == 403 and " / " in response.json()["message"]
    assert AuditEntry.objects.count() == before  # nothing shown, nothing to audit
    assert layer(client, community.pk, "alarms").status_code == 200
    assert [x["kind"] for x in layers.offered(viewer, community)] == [
        k for k in layers.KINDS if k != "forces"
    ]


def test_the_map_partial_offers_forces_only_to_supervisors(
    users: dict[str, Any], viewer: Any
) -> None:
    community = area(COMMUNITY)
    Area.objects.filter(pk=community.pk).update(name='<img src=x onerror="alert(1)">社区')
    community.refresh_from_db()

    def offered_in(user: Any) -> list[str]:
        html = render_to_string("command/screen_map.html", {"area": community, "user": user})
        assert "<img src=x" not in html  # the name is escaped wherever it is written
        data = html.split('id="screen-map-layers" type="application/json">')[1].split("</script>")[
            0
        ]
        return [x["kind"] for x in json.loads(data)]

    assert "forces" in offered_in(users["community"])
    assert "forces" not in offered_in(viewer)
    feed_html = render_to_string("command/screen_feed.html", {})
    cursor = json.loads(
        feed_html.split('id="screen-live-cursor" type="application/json">')[1].split("</script>")[0]
    )
    assert Cursor.decode(cursor) is not None


# --- the feed -----------------------------------------------------------------------------------
def test_feed_brings_alarms_of_the_area_only(
    users: dict[str, Any], county: Area, street: Area, other_street: Area
) -> None:
    # given the street leader's feed on their street, and the administrator's on the county
    feed = Feed(users["street"], street)
    county_feed = Feed(users["admin"], county)
    # when alarms are raised in their street and in another street
    mine = new_alarm(grid_under(street.path), title="烟雾报警 <b>x</b>")
    new_alarm(grid_under(other_street.path))
    # then only theirs comes through, with its map feature
    events = feed.poll()
    assert [e.data["kind"] for e in events] == ["alarm"]
    data = events[0].data
    assert data["id"] == mine.pk and data["active"] is True
    assert data["text"] == "101室烟感：烟雾报警 <b>x</b>"  # raw text: the page writes it as text
    assert data["feature"]["properties"]["id"] == mine.pk
    assert feed.poll() == []  # nothing twice
    # the administrator's county feed sees both
    assert len([e for e in county_feed.poll() if e.data["kind"] == "alarm"]) == 2


def test_feed_brings_new_cases_and_steps_not_notes(users: dict[str, Any]) -> None:
    community = area(COMMUNITY)
    feed = Feed(users["community"], community)
    case, other = Case.objects.filter(area_path__startswith=COMMUNITY).order_by("pk")[:2]
    # ``other`` is owned by the neighbouring community now
    Case.objects.filter(pk=other.pk).update(
        area_path=OTHER_COMMUNITY, owner_area=area(OTHER_COMMUNITY)
    )
    case_event(case, "receive", "", "received")
    case_event(case, "dispatch", "received", "dispatched")
    CaseEvent.objects.create(case=case, action="comment", step="handle", note="备注")
    case_event(other, "dispatch", "received", "dispatched")
    events = feed.poll()
    assert [(e.data["kind"], e.data["id"]) for e in events] == [
        ("case", case.pk),
        ("step", case.pk),
    ]
    assert events[0].data["text"].startswith(case.number)
    assert events[1].data["status_label"] == "已派单" and events[1].data["step_label"] == "派"


def test_feed_brings_mobilisation_milestones(users: dict[str, Any]) -> None:
    for i, f in enumerate(living_forces(COMMUNITY).exclude(person__user__isnull=False)[:3]):
        on_duty(f, *at(0.001 * (i + 1)), now=timezone.now())
    feed = Feed(users["community"], area(COMMUNITY))
    mob = mobilise.start(
        users["community"], point={"lat": POINT[0], "lng": POINT[1]}, head_count=2, message="集合"
    )
    kinds = [e.data for e in feed.poll() if e.data["kind"] == "mobilisation"]
    assert [k["event"] for k in kinds] == ["created"]
    assert kinds[0]["id"] == mob.pk and mob.number in kinds[0]["text"]
    # the members' notifications are on the timeline, but not milestones of the screen
    steps = MobilisationEvent.objects.filter(mobilisation=mob, kind="step").count()
    assert steps >= 2


def test_cursor_resumes_without_loss_or_duplicates(users: dict[str, Any], street: Area) -> None:
    # given a feed that has delivered two of three alarms when the connection drops
    feed = Feed(users["street"], street)
    grid = grid_under(street.path)
    first, second, third = (new_alarm(grid, title=f"第{i}次") for i in range(3))
    events = feed.poll()
    assert [e.data["id"] for e in events] == [first.pk, second.pk, third.pk]
    resumed_at = events[1].cursor  # the browser received the second one last

    # when it reconnects with Last-Event-ID and a fourth alarm arrives
    fourth = new_alarm(grid, title="第4次")
    resumed = Feed(users["street"], street, Cursor.decode(resumed_at))

    # then it gets the third and the fourth, once each
    assert [e.data["id"] for e in resumed.poll()] == [third.pk, fourth.pk]
    assert resumed.poll() == []


def test_a_late_commit_below_the_highest_id_is_not_lost(
    users: dict[str, Any], street: Area
) -> None:
    # given a feed, and an alarm committed with id n + 2 while n + 1 is still in flight
    feed = Feed(users["street"], street)
    n = feed.cursor.alarms.last
    grid = grid_under(street.path)
    late = new_alarm(grid, title="先提交", id=n + 2)
    assert [e.data["id"] for e in feed.poll()] == [late.pk]
    assert n + 1 in feed.cursor.alarms.gaps
    carried = feed.cursor.encode()
    assert carried.startswith(f"{n + 2}~{n + 1}-")

    # when id n + 1 commits
    early = new_alarm(grid, title="后提交", id=n + 1)

    # then it comes through, and a stream resumed from before it gets it too, once
    resumed = Feed(users["street"], street, Cursor.decode(carried))
    assert [e.data["id"] for e in feed.poll()] == [early.pk]
    assert feed.cursor.alarms.gaps == {}
    assert [e.data["id"] for e in resumed.poll()] == [early.pk]
    assert resumed.poll() == []


def test_a_gap_that_never_fills_is_given_up(users: dict[str, Any], street: Area) -> None:
    now = [1000.0]
    feed = Feed(users["street"], street, clock=lambda: now[0])
    n = feed.cursor.alarms.last
    new_alarm(grid_under(street.path), id=n + 3)
    feed.poll()
    assert set(feed.cursor.alarms.gaps) == {n + 1, n + 2}
    now[0] += feed_mod.GAP_WAIT_S + 1
    feed.poll()
    assert feed.cursor.alarms.gaps == {}
    new_alarm(grid_under(street.path), id=n + 1)  # too late: the feed has moved on
    assert feed.poll() == []


def test_rows_of_other_scopes_move_the_cursor_without_gaps(
    users: dict[str, Any], street: Area, other_street: Area
) -> None:
    # on PostgreSQL ids rolled back by earlier tests leave real gaps: start after them
    new_alarm(grid_under(other_street.path))
    feed = Feed(users["street"], street)
    for _ in range(3):
        new_alarm(grid_under(other_street.path))
    assert feed.poll() == []
    assert feed.cursor.alarms.gaps == {}
    assert feed.cursor.alarms.last == Alarm.objects.order_by("-pk")[0].pk


def test_a_cursor_far_behind_replays_the_newest_rows_only(
    users: dict[str, Any], county: Area, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_mod, "MAX_REPLAY", 2)
    grid = grid_under(COMMUNITY)
    alarms = [new_alarm(grid) for _ in range(4)]
    resumed = Feed(users["admin"], county, Cursor.decode("0-0-0"))
    assert [e.data["id"] for e in resumed.poll() if e.data["kind"] == "alarm"] == [
        a.pk for a in alarms[2:]
    ]
    assert resumed.poll() == []


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "1-2",
        "1-2-3-4",
        "-1-2-3",
        "1~2-3-4",  # a gap above the last id
        "5~0-1-1",
        f"{2**64}-1-1",
        "1-2-" + "~".join(["9"] * 40),
        "9" * 2000,
        "1\n2-3-4",
        "1.5-2-3",
    ],
)
def test_hostile_cursors_start_from_the_present(raw: str) -> None:
    assert Cursor.decode(raw) is None


def test_cursor_round_trip() -> None:
    cursor = Cursor(Track(10, {8: 0.0, 9: 0.0}), Track(3), Track(0))
    assert cursor.encode() == "10~8~9-3-0"
    back = Cursor.decode(cursor.encode())
    assert back is not None and back.encode() == "10~8~9-3-0"


def test_an_idle_poll_is_three_primary_key_lookups(users: dict[str, Any], street: Area) -> None:
    feed = Feed(users["street"], street)
    with CaptureQueriesContext(connection) as ctx:
        assert feed.poll() == []
    assert len(ctx.captured_queries) == 3
    # each looks up the primary key index, never scans the table
    for query in ctx.captured_queries:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # a table of a few rows is cheaper to scan: ask whether the index serves
                cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(
                "EXPLAIN " + ("QUERY PLAN " if connection.vendor == "sqlite" else "") + query["sql"]
            )
            plan = " ".join(str(row) for row in cursor.fetchall())
        if connection.vendor == "sqlite":
            assert "PRIMARY KEY" in plan and "SCAN" not in plan.replace("SCAN CONSTANT", ""), plan
        else:
            assert "Index" in plan and "Seq Scan" not in plan, plan


def test_a_poll_costs_the_same_for_one_alarm_and_many(users: dict[str, Any], street: Area) -> None:
    grid = grid_under(street.path)

    def cost(n: int) -> tuple[int, int]:
        feed = Feed(users["street"], street)
        for _ in range(n):
            new_alarm(grid)
        case = an_open_case(street.path)
        for _ in range(n):
            case_event(case, "dispatch", "received", "dispatched")
        with CaptureQueriesContext(connection) as ctx:
            events = feed.poll()
        return len(ctx.captured_queries), len(events)

    one, many = cost(1), cost(25)
    assert many[1] == 50 and one[1] == 2
    assert many[0] <= one[0] + 2  # the light's working-day calendar may be read once more


def test_layers_cost_the_same_after_the_rows_grow(page_as: Any, users: dict[str, Any]) -> None:
    client = page_as("community")
    community = area(COMMUNITY)
    forces = list(living_forces(COMMUNITY)[:2])
    for i, f in enumerate(forces):
        on_duty(f, *at(0.001 * (i + 1)), now=timezone.now())

    def counts() -> dict[str, int]:
        out = {}
        for kind in layers.KINDS:
            layer(client, community.pk, kind)  # per-process caches warm up once
            with CaptureQueriesContext(connection) as ctx:
                assert layer(client, community.pk, kind).status_code == 200
            out[kind] = len(ctx.captured_queries)
        return out

    grid = area(GRID)
    grow_grid(grid, 1)
    before = counts()
    grow_grid(grid, 30)
    for f in living_forces(COMMUNITY)[2:12]:
        on_duty(f, *at(0.002), now=timezone.now())
    assert counts() == before


# --- the stream -----------------------------------------------------------------------------
@pytest.fixture
def short(monkeypatch: pytest.MonkeyPatch) -> live_views.Limits:
    limits = live_views.Limits(duration_s=0.3, poll_s=0.02, heartbeat_s=0.1, max_streams=2)
    monkeypatch.setattr(live_views, "LIMITS", limits)
    return limits


def parse(body: str) -> list[dict[str, str]]:
    """Server-sent events as the browser reads them: field lines up to a blank line."""
    out = []
    for block in body.split("\n\n"):
        if not block:
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.removeprefix(" ")
        out.append(fields)
    return out


def test_the_stream_speaks_server_sent_events(
    page_as: Any, street: Area, other_street: Area, short: live_views.Limits
) -> None:
    # given the street leader's stream, opened now
    response = page_as("street").get(f"/command/screen/{street.pk}/live/")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"

    # when an alarm is raised in the street and one in another street while it runs
    mine = new_alarm(grid_under(street.path), title="烟感报警")
    new_alarm(grid_under(other_street.path))
    body = b"".join(response.streaming_content).decode()

    # then: the retry delay and the starting id first, then one event for the street's
    # alarm (its id the cursor after it), heartbeats, and a closing comment
    blocks = parse(body)
    assert blocks[0]["retry"] == str(short.retry_ms) and Cursor.decode(blocks[0]["id"])
    events = [b for b in blocks if "data" in b]
    assert len(events) == 1
    data = json.loads(events[0]["data"])
    assert data["kind"] == "alarm" and data["id"] == mine.pk and data["text"].endswith("烟感报警")
    assert Cursor.decode(events[0]["id"]).alarms.last >= mine.pk  # type: ignore[union-attr]
    assert any(b.get("comment") == "hb" for b in blocks)
    assert blocks[-1] == {"comment": "bye"}
    assert live_views.open_streams() == 0


def test_the_stream_resumes_from_last_event_id(
    page_as: Any, street: Area, short: live_views.Limits
) -> None:
    # given a cursor from before two alarms (the browser's last id)
    before = Cursor.now().encode()
    grid = grid_under(street.path)
    first, second = new_alarm(grid), new_alarm(grid)
    # when the browser reconnects with it (Last-Event-ID beats the page's ?since=)
    response = page_as("street").get(
        f"/command/screen/{street.pk}/live/",
        {"since": Cursor.now().encode()},
        HTTP_LAST_EVENT_ID=before,
    )
    blocks = parse(b"".join(response.streaming_content).decode())
    # then both arrive, in order; ?since= alone starts at the page's cursor as well
    ids = [json.loads(b["data"])["id"] for b in blocks if "data" in b]
    assert ids == [first.pk, second.pk]
    response = page_as("street").get(f"/command/screen/{street.pk}/live/", {"since": before})
    ids = [
        json.loads(b["data"])["id"]
        for b in parse(b"".join(response.streaming_content).decode())
        if "data" in b
    ]
    assert ids == [first.pk, second.pk]
    # a garbled Last-Event-ID starts from the present
    response = page_as("street").get(
        f"/command/screen/{street.pk}/live/", HTTP_LAST_EVENT_ID="<script>"
    )
    assert not [b for b in parse(b"".join(response.streaming_content).decode()) if "data" in b]


def test_scope_of_the_stream(
    page_as: Any, county: Area, street: Area, other_street: Area, short: live_views.Limits
) -> None:
    assert page_as("street").get(f"/command/screen/{other_street.pk}/live/").status_code == 404
    assert page_as("street").get(f"/command/screen/{county.pk}/live/").status_code == 404
    assert page_as("community").get(f"/command/screen/{street.pk}/live/").status_code == 404
    for who in ("grid", "resident"):
        assert page_as(who).get(f"/command/screen/{area(COMMUNITY).pk}/live/").status_code == 404
    assert page_as("admin").get(f"/command/screen/{area(GRID).pk}/live/").status_code == 404
    assert page_as("admin").get(f"/command/screen/{2**64}/live/").status_code == 404
    assert page_as("admin").post(f"/command/screen/{county.pk}/live/").status_code == 405
    from django.test import Client

    anonymous = Client().get(f"/command/screen/{county.pk}/live/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert live_views.open_streams() == 0


def test_streams_beyond_the_cap_are_told_to_come_back(
    page_as: Any, street: Area, short: live_views.Limits
) -> None:
    short.max_streams = 1
    client = page_as("street")
    first = client.get(f"/command/screen/{street.pk}/live/")
    assert live_views.open_streams() == 1
    # a second stream while the first is open: answered at once, retry later, no id
    busy = client.get(f"/command/screen/{street.pk}/live/")
    assert busy.status_code == 200 and not busy.streaming
    assert busy["Content-Type"].startswith("text/event-stream")
    blocks = parse(busy.content.decode())
    retry = int(blocks[0]["retry"])
    assert short.busy_retry_ms[0] <= retry <= short.busy_retry_ms[1] and "id" not in blocks[0]
    # the first one closed without ever being read still frees its slot (closed as the
    # test client closes a response: without closing the test's database connection)
    request_finished.disconnect(close_old_connections)
    try:
        first.close()
    finally:
        request_finished.connect(close_old_connections)
    assert live_views.open_streams() == 0
    again = client.get(f"/command/screen/{street.pk}/live/")
    assert again.streaming
    b"".join(again.streaming_content)
    assert live_views.open_streams() == 0


def test_a_database_failure_ends_the_stream_quietly(
    users: dict[str, Any], street: Area, short: live_views.Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = Feed(users["street"], street)

    def broken() -> list[Any]:
        raise DatabaseError("database is locked")

    monkeypatch.setattr(feed, "poll", broken)
    assert live_views._take_slot()
    body = live_views.Stream(feed, short, sleep=lambda s: None)
    chunks = list(body)
    body.close()
    assert chunks[0].startswith("retry:") and len(chunks) == 1
    assert live_views.open_streams() == 0


def test_the_stream_ends_on_time_with_heartbeats(
    users: dict[str, Any], street: Area, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a simulated clock: 55 s of polls every 0.5 s, a heartbeat after 15 s of silence
    now = [0.0]
    limits = live_views.Limits()
    feed = Feed(users["street"], street)
    polls = []
    monkeypatch.setattr(feed, "poll", lambda: polls.append(now[0]) or [])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    assert live_views._take_slot()
    body = live_views.Stream(feed, limits, sleep=sleep, clock=lambda: now[0])
    chunks = list(body)
    body.close()
    assert chunks.count(": hb\n\n") == 3 and chunks[-1] == ": bye\n\n"
    assert len(polls) == 111 and polls[-1] == pytest.approx(55.0)


def test_a_stream_ends_when_the_browser_has_gone(
    users: dict[str, Any], street: Area, short: live_views.Limits
) -> None:
    import socket

    server, client = socket.socketpair()
    try:
        assert live_views.peer_gone(server) is False
        client.sendall(b"x")  # data waiting is not an end of file
        assert live_views.peer_gone(server) is False
        client.close()
        server.recv(1)
        assert live_views.peer_gone(server) is True
    finally:
        server.close()
    assert live_views.peer_gone(server) is True  # a closed socket: gone
    assert live_views.peer_gone(None) is False  # not under gunicorn: the writes tell

    # the stream stops at the first poll after the browser left, well before its time
    polls: list[int] = []
    feed = Feed(users["street"], street)
    real_poll = feed.poll
    feed.poll = lambda: polls.append(1) or real_poll()  # type: ignore[method-assign]
    short.duration_s = 60
    assert live_views._take_slot()
    body = live_views.Stream(feed, short, sleep=lambda s: None, gone=lambda: len(polls) >= 2)
    chunks = list(body)
    body.close()
    assert len(polls) == 2 and chunks[-1] != ": bye\n\n"
    assert live_views.open_streams() == 0
