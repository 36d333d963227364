"""Fixtures of the device side on the seeded tiny county: devices placed in the grid of
the demo grid worker ``grid``, and helpers that build wire messages."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from jiayuan.iot import alarms, refs
from jiayuan.iot.ingest import IngestResult, ingest_batch, make_message
from jiayuan.iot.models import Device, DeviceType
from jiayuan.org.models import Area, Dwelling

User = get_user_model()
_serials = itertools.count(1)


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    return {u.username: u for u in User.objects.all()}


@pytest.fixture
def own_grid(users: dict[str, Any]) -> Area:
    return users["grid"].memberships.get().area


@pytest.fixture
def other_grid(own_grid: Area) -> Area:
    found = Area.objects.filter(kind="grid").exclude(pk=own_grid.pk).order_by("path").first()
    assert found is not None
    return found


@pytest.fixture
def building(own_grid: Area) -> Area:
    """A building inside the grid worker's grid (devices usually hang on a building)."""
    found = Area.objects.filter(kind="building", path__startswith=own_grid.path).first()
    return found or own_grid


@pytest.fixture
def dwelling(own_grid: Area) -> Dwelling:
    found = Dwelling.objects.filter(area_path__startswith=own_grid.path).first()
    assert found is not None
    return found


@pytest.fixture(autouse=True)
def fresh_rules() -> None:
    """Rules and device types created or rolled back by another test must not linger in
    the engine's in-process rule book or type cache (their next use reloads them)."""
    alarms.BOOK.loaded_at = 0.0
    refs.TYPES.forget()


@pytest.fixture
def make_device(building: Area) -> Any:
    def make(type_code: str = "smoke", area: Area | None = None, **kw: Any) -> Device:
        area = area or building
        kw.setdefault("serial", f"T-{type_code}-{next(_serials)}-{uuid.uuid4().hex[:6]}")
        kw.setdefault("lat", area.centroid_lat)
        kw.setdefault("lng", area.centroid_lng)
        return Device.objects.create(
            device_type=DeviceType.objects.get(code=type_code), area=area, **kw
        )

    return make


def item(
    device: Device,
    kind: str,
    data: dict[str, Any],
    *,
    message_id: str | None = None,
    ts: dt.datetime | None = None,
) -> dict[str, Any]:
    """One inbound item as the MQTT side hands it to ``ingest_batch``. Without ``ts`` the
    device time is the batch's ``now`` (filled in by ``send``), so tests that move time
    send messages from the moved present."""
    body = make_message(data, message_id=message_id, ts=ts)
    if ts is None:
        body["ts"] = None
    return {"serial": device.serial, "kind": kind, "body": body}


@pytest.fixture(autouse=True)
def jobs_run_at_once() -> Iterator[None]:
    """Huey runs a job when it is enqueued (no worker in unit tests): the follow-up of a
    new alarm (its case) runs as soon as the batch's commit enqueues it."""
    before = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = before


@pytest.fixture
def send(django_capture_on_commit_callbacks: Any) -> Any:
    """Ingest one batch as ``jiayuan ingest`` does; what the batch's commit would start
    (the alarms' follow-up jobs) runs when it returns, as after a real commit."""

    def send_(*items: dict[str, Any], now: dt.datetime | None = None) -> IngestResult:
        now = now or timezone.now()
        for one in items:
            body = one.get("body")
            if isinstance(body, dict) and "ts" in body and body["ts"] is None:
                one["body"] = {**body, "ts": now.isoformat()}
        with django_capture_on_commit_callbacks(execute=True):
            return ingest_batch(list(items), source="mqtt", now=now)

    return send_
