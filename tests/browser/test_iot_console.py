"""Acceptance 7 in Chromium against a real ``jiayuan serve``: the grid worker watches the
alarm console; a smoke detector in their grid reports a fire through the HTTP ingest
endpoint; the alarm appears on the open page without a reload; the grid worker
acknowledges it with one click; the case the alarm opened is in their case list."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from .conftest import DESKTOP, Site, login

pytestmark = pytest.mark.browser


def give_token(site: Site, serial: str) -> str:
    """Issue an HTTP token to a device, as the registry does (only its SHA-256 stored)."""
    raw = secrets.token_urlsafe(32)
    digest = hashlib.sha256(raw.encode()).hexdigest()
    with sqlite3.connect(site.db, timeout=30) as conn:
        conn.execute("UPDATE iot_device SET token_digest = ? WHERE serial = ?", (digest, serial))
    return raw


def post_ingest(site: Site, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - our own test server
        site.url + "/api/v1/ingest",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Device {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status in (200, 201, 202), response.status
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_console_shows_a_new_alarm_live_and_grid_acknowledges(
    site: Site, desktop: Any, screenshots: Path
) -> None:
    page = desktop
    _grid_id, grid_path, _name = site.grid_of("grid")
    serial = site.query(
        "SELECT d.serial FROM iot_device d JOIN iot_devicetype t ON t.id = d.device_type_id"
        " WHERE t.code = 'smoke' AND d.area_path LIKE ? ORDER BY d.serial LIMIT 1",
        grid_path + "%",
    )[0][0]
    token = give_token(site, serial)

    # --- the grid worker opens the console
    login(page, site, "grid")
    page.goto(site.url + "/iot/alarms/")
    live = page.get_by_test_id("alarm-live")
    live.wait_for()
    page.evaluate("window.__sameDocument = true")
    assert page.locator(f'tr[data-alarm] >> text="{serial}"').count() == 0

    # --- a smoke detector of the grid reports a fire (HTTP ingest)
    message = {
        "kind": "event",
        "message_id": uuid.uuid4().hex,
        "ts": datetime.now(UTC).isoformat(),
        "data": {"event": "alarm", "battery": 87, "smoke_density": 12.5},
    }
    post_ingest(site, token, message)

    # --- it appears without a reload (htmx polls the console every 2 s)
    row = page.locator("tr[data-alarm]", has_text=serial)
    row.wait_for(timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True
    assert row.get_attribute("data-status") == "active"
    assert row.locator("[data-severity=critical]").count() == 1
    case_number = row.get_by_test_id("case-ref").inner_text().strip()
    assert re.fullmatch(r"WS\d{8}-\d{4,}", case_number), case_number
    page.screenshot(path=str(screenshots / "iot-console-new-alarm.png"), full_page=True)

    # --- one click acknowledges it
    row.locator("[data-action=acknowledge]").click()
    acknowledged = page.locator('tr[data-alarm][data-status="acknowledged"]', has_text=serial)
    acknowledged.wait_for(timeout=10_000)
    alarm_id = acknowledged.get_attribute("data-alarm")
    status = site.query("SELECT status, case_ref FROM iot_alarm WHERE id = ?", alarm_id)[0]
    assert status == ("acknowledged", case_number)

    # --- the redelivered message changes nothing
    post_ingest(site, token, message)
    assert site.query("SELECT count, status FROM iot_alarm WHERE id = ?", alarm_id)[0] == (
        1,
        "acknowledged",
    )

    # --- the alarm's page shows the timeline and its case
    page.goto(f"{site.url}/iot/alarms/{alarm_id}/")
    assert page.get_by_test_id("alarm-status").get_attribute("data-status") == "acknowledged"
    timeline = page.get_by_test_id("alarm-timeline")
    assert timeline.locator("[data-event=raised]").count() == 1
    assert timeline.locator("[data-event=acknowledged]").count() == 1
    assert page.get_by_test_id("alarm-case").inner_text().strip() == case_number

    # --- the case is in the inbox of whoever it was dispatched to (the category's level in
    # the device's grid), with its device channel and the grid of the device
    handler, channel, grid_path_of_case = site.query(
        "SELECT u.username, c.channel, g.path FROM cases_case c"
        " JOIN auth_user u ON u.id = c.handler_user_id JOIN org_area g ON g.id = c.grid_id"
        " WHERE c.number = ?",
        case_number,
    )[0]
    assert (channel, grid_path_of_case) == ("device", grid_path)
    inbox = page
    if handler != "grid":
        inbox = page.context.browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
        login(inbox, site, handler)
    inbox.goto(site.url + "/cases/inbox/")
    note = inbox.get_by_test_id("notifications").locator("a", has_text=case_number)
    assert note.count() == 1
    note.click()
    inbox.wait_for_load_state()
    assert case_number in inbox.content() and "消防安全" in inbox.content()
    inbox.screenshot(path=str(screenshots / "iot-alarm-case.png"), full_page=True)


def test_device_map_and_telemetry_chart_draw(site: Site, desktop: Any, screenshots: Path) -> None:
    page = desktop
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _grid_id, grid_path, _name = site.grid_of("grid")
    expected = site.query(
        "SELECT count(*) FROM iot_device WHERE area_path LIKE ? AND lat IS NOT NULL",
        grid_path + "%",
    )[0][0]
    login(page, site, "grid")

    page.goto(site.url + "/iot/devices/")
    page.locator(".leaflet-container").wait_for()
    page.locator(".leaflet-container canvas").first.wait_for()
    dots = page.evaluate(
        """() => { let n = 0; document.querySelector('[data-device-map]').jyMap.eachLayer(
             (l) => { if (l instanceof L.CircleMarker) { n += 1; } }); return n; }"""
    )
    assert dots == expected > 0
    page.screenshot(path=str(screenshots / "iot-devices.png"), full_page=True)

    gas = site.query(
        "SELECT d.id FROM iot_device d JOIN iot_devicetype t ON t.id = d.device_type_id"
        " WHERE t.code = 'gas' AND d.area_path LIKE ? ORDER BY d.serial LIMIT 1",
        grid_path + "%",
    )[0][0]
    page.goto(f"{site.url}/iot/devices/{gas}/")
    chart = page.get_by_test_id("telemetry-chart")
    chart.locator("svg text", has_text="浓度(%LEL)").first.wait_for(state="attached")
    lines = chart.locator("svg path[stroke='#c0282d']")  # the first series' colour
    assert lines.count() >= 1
    page.screenshot(path=str(screenshots / "iot-device.png"), full_page=True)
    assert errors == []
