"""Issue 13's acceptance in Chromium against a real ``jiayuan serve``: the county
administrator has the one screen open; a smoke detector's alarm arrives OVER MQTT (the
Mosquitto on 127.0.0.1:1883, a real ``jiayuan ingest`` on the site's database); within
seconds, without a reload, the live ticker shows it, its marker flashes on the map and
the screen's active-alarm number goes up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from .conftest import ROOT, Site, login

pytestmark = pytest.mark.browser

BROKER = ("127.0.0.1", 1883)
JIAYUAN = str(Path(sys.executable).with_name("jiayuan"))


class Gateway:
    """``jiayuan ingest`` on the site's database, subscribed (in a share group of its
    own, under a client id of its own) to one device's topics only, so other tests'
    gateways and devices on the shared broker neither take nor send it anything."""

    def __init__(self, site: Site, serial: str) -> None:
        self.client_id = f"test-screen-ingest-{uuid.uuid4().hex[:8]}"
        self.log = site.db.parent / f"{self.client_id}.log"
        env = {
            **os.environ,
            "JIAYUAN_DATABASE_URL": f"sqlite:///{site.db}",
            # the site's job queue: the alarm's follow-up (its case) runs in the site's worker
            "JIAYUAN_VAR_DIR": str(site.db.parent),
            "JIAYUAN_HOME": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("JIAYUAN_REDIS_URL", None)
        topic = f"$share/t{uuid.uuid4().hex[:10]}/jiayuan/v1/{serial}/+"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [JIAYUAN, "ingest", "--client-id", self.client_id, "--topic", topic],
                env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip

    def wait_subscribed(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"ingest exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            if "subscribed to" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        pytest.fail(f"ingest never subscribed:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # end the broker's persistent session of this client id
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        client.connect(*BROKER, clean_start=True)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def device(site: Site) -> tuple[str, str]:
    """A smoke detector of the ``grid`` account's grid, with a place on the map."""
    _grid_id, grid_path, _name = site.grid_of("grid")
    serial, name = site.query(
        "SELECT d.serial, d.name FROM iot_device d JOIN iot_devicetype t ON t.id = d.device_type_id"
        " WHERE t.code = 'smoke' AND d.area_path LIKE ? AND d.lat IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM iot_alarm a WHERE a.device_id = d.id)"
        " ORDER BY d.serial DESC LIMIT 1",
        grid_path + "%",
    )[0]
    return serial, name


@pytest.fixture
def gateway(site: Site, device: tuple[str, str]) -> Iterator[Gateway]:
    running = Gateway(site, device[0])
    try:
        running.wait_subscribed()
        yield running
    finally:
        running.stop()


def publish_alarm(serial: str) -> float:
    """A fire reported by the detector over MQTT (QoS 1, as the simulator sends it);
    returns the moment it was acknowledged by the broker."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-screen-pub-{uuid.uuid4().hex[:8]}"
    )
    client.connect(*BROKER)
    client.loop_start()
    try:
        body = {
            "message_id": uuid.uuid4().hex,
            "ts": datetime.now(UTC).isoformat(),
            "data": {"event": "alarm", "battery": 87, "smoke_density": 12.5},
        }
        sent = time.monotonic()
        info = client.publish(f"jiayuan/v1/{serial}/event", json.dumps(body), qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published()
        return sent
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_screen_shows_an_alarm_that_arrives_over_mqtt_live(
    site: Site, desktop: Any, screenshots: Path, device: tuple[str, str], gateway: Gateway
) -> None:
    page = desktop
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    serial, name = device
    county = site.query("SELECT id FROM org_area WHERE kind = 'county'")[0][0]

    # --- the administrator opens the county's screen; the stream connects
    login(page, site, "admin")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{site.url}/command/screen/{county}/")
    page.locator('[data-testid=live-state][data-live-state="open"]').wait_for(timeout=15_000)
    page.locator("#screen-map[data-alarms-count]").wait_for(state="attached", timeout=15_000)
    page.evaluate("window.__sameDocument = true")
    kpi = page.get_by_test_id("kpi-alarms_active")
    before = int(kpi.inner_text().strip())
    markers = int(page.locator("#screen-map").get_attribute("data-alarms-count") or "0")
    assert page.locator("[data-live-ticker] li").count() == 0

    # --- the detector reports a fire over MQTT
    sent = publish_alarm(serial)

    # --- the ticker shows it within 2 s of the gateway's commit (a few seconds in all
    # on this shared machine), the marker flashes, the number goes up, no reload
    row = page.locator('[data-live-ticker] li[data-kind="alarm"]', has_text=name)
    row.wait_for(timeout=10_000)
    shown = time.monotonic() - sent
    assert "紧急" in row.inner_text()
    page.locator("#screen-map .jy-alarm-flash").first.wait_for(state="attached", timeout=5_000)
    assert int(page.locator("#screen-map").get_attribute("data-alarms-count") or "0") == markers + 1
    page.wait_for_function(
        "([el, n]) => parseInt(el.textContent, 10) === n",
        arg=[kpi.element_handle(), before + 1],
        timeout=10_000,
    )
    assert page.evaluate("window.__sameDocument") is True
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    alarm = site.query(
        "SELECT a.id, a.severity FROM iot_alarm a JOIN iot_device d ON d.id = a.device_id"
        " WHERE d.serial = ?",
        serial,
    )
    assert alarm and alarm[0][1] == "critical"
    assert row.get_attribute("data-id") == str(alarm[0][0])
    page.screenshot(path=str(screenshots / "screen-live-alarm.png"))
    # the budget is 2 s (bench/screen_live.py measures it); a loaded test machine gets more
    assert shown < 6, f"publish → ticker took {shown:.1f} s"
    assert errors == []


def test_the_map_offers_a_layer_per_kind(site: Site, desktop: Any, screenshots: Path) -> None:
    page = desktop
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    street = site.query("SELECT id FROM org_area WHERE kind = 'street' ORDER BY path")[0][0]
    login(page, site, "street")
    page.goto(f"{site.url}/command/screen/{street}/")
    control = page.locator("#screen-map .leaflet-control-layers")
    control.wait_for()
    labels = [t.strip() for t in control.locator("label").all_inner_texts()]
    assert labels == ["网格", "诉求", "告警", "设备", "阵地", "在岗力量"]
    page.locator("#screen-map[data-grids-count]").wait_for(state="attached")
    # switching a layer on fetches it once: the devices of the street, as dots
    page.locator("#screen-map .leaflet-control-layers label", has_text="设备").locator(
        "input"
    ).check()
    page.locator("#screen-map[data-devices-count]").wait_for(state="attached")
    expected = site.query(
        "SELECT count(*) FROM iot_device d JOIN org_area a ON a.id = ?"
        " WHERE d.area_path LIKE a.path || '%' AND d.lat IS NOT NULL"
        " AND d.status != 'decommissioned'",
        street,
    )[0][0]
    assert int(page.locator("#screen-map").get_attribute("data-devices-count") or "0") == expected
    # the open cases owned in the street, as squares in their light's colour
    page.locator("#screen-map .leaflet-control-layers label", has_text="诉求").locator(
        "input"
    ).check()
    page.locator("#screen-map[data-cases-count]").wait_for(state="attached")
    cases = site.query(
        "SELECT count(*) FROM cases_case c JOIN org_area a ON a.id = ?"
        " WHERE c.area_path LIKE a.path || '%' AND c.lat IS NOT NULL"
        " AND c.status NOT IN ('closed', 'rejected', 'merged')",
        street,
    )[0][0]
    assert int(page.locator("#screen-map").get_attribute("data-cases-count") or "0") == cases
    assert page.locator("#screen-map .jy-case-icon").count() == cases
    page.screenshot(path=str(screenshots / "screen-map-layers.png"))
    assert errors == []


def test_the_map_and_ticker_on_a_phone(site: Site, phone: Any, screenshots: Path) -> None:
    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    community = site.query("SELECT id FROM org_area WHERE kind = 'community' ORDER BY path")[0][0]
    login(page, site, "community")
    page.goto(f"{site.url}/command/screen/{community}/")
    page.locator("#screen-map[data-grids-count]").wait_for(state="attached")
    page.locator('[data-testid=live-state][data-live-state="open"]').wait_for(timeout=15_000)
    # the layer control is a button on a phone; opened, it lists the layers
    control = page.locator("#screen-map .leaflet-control-layers")
    assert "leaflet-control-layers-expanded" not in (control.get_attribute("class") or "")
    box = page.locator("#screen-map").bounding_box()
    assert box is not None and box["width"] <= 390 and box["height"] >= 250
    page.get_by_test_id("screen-map-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "screen-live-phone.png"))
    assert errors == []
