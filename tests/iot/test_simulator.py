"""The device simulator: its traffic is what ingest expects (valid messages validate
against their type's schema, malformed ones land in the dead-letter table, alarm
messages raise alarms), it is deterministic for a seed, and ``jiayuan simulate-devices
--mqtt`` puts it on a real Mosquitto.

The MQTT test starts its own Mosquitto on a free port: the broker on 1883 is shared
with the ingest tests, whose gateways would otherwise take this traffic into their
databases (and this test theirs).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from jiayuan import cli
from jiayuan.iot import jobs, simulator
from jiayuan.iot.choices import OPEN_ALARM_STATUSES
from jiayuan.iot.devicetypes import validate_payload
from jiayuan.iot.ingest import from_mqtt, ingest_batch, parse_topic
from jiayuan.iot.models import Alarm, DeadLetter, Device, DeviceType, Message
from jiayuan.iot.simulator import CLEAR_EVENT

pytestmark = pytest.mark.django_db
CLEAR_EVENTS = set(CLEAR_EVENT.values())


def schemas() -> dict[str, Any]:
    return dict(DeviceType.objects.values_list("code", "schema"))


def test_traffic_is_deterministic_and_follows_the_mix() -> None:
    devices = simulator.load_devices(40)
    again = simulator.load_devices(40)
    mix = simulator.Mix(alarm=0.02, malformed=0.02, offline=0.1)

    first = simulator.Traffic(devices, mix=mix, seed=3)
    second = simulator.Traffic(again, mix=mix, seed=3)
    a = [first.next() for _ in range(2000)]
    b = [second.next() for _ in range(2000)]

    assert [(o.serial, o.kind, o.alarm, o.malformed) for o in a] == [
        (o.serial, o.kind, o.alarm, o.malformed) for o in b
    ]
    assert {o.body["data"]["battery"] for o in a if o.kind == "heartbeat" and o.body}
    sent = first.sent
    assert sum(sent.values()) == 2000
    # heartbeats, plus the telemetry and events a type does not have (a door has no reading)
    assert 0.4 < sent["heartbeat"] / 2000 < 0.9
    assert sent["telemetry"] > 0 and sent["event"] > 0
    assert 10 <= sent["alarm"] <= 80 and 10 <= sent["malformed"] <= 80
    # silent devices never speak: the offline check has something to find
    silent = {d.serial for d in devices if d.silent}
    assert silent and not silent & {o.serial for o in a}
    # a small fleet still mixes the types
    assert len({d.type_code for d in devices}) >= 6


def test_valid_messages_validate_and_malformed_ones_do_not() -> None:
    traffic = simulator.Traffic(simulator.load_devices(60), mix=simulator.Mix(malformed=0.1))
    types = {d.serial: d.type_code for d in traffic.devices}
    schema = schemas()

    for _ in range(1500):
        out = traffic.next()
        parsed = parse_topic(out.topic())
        assert parsed == (out.serial, out.kind)
        body = json.loads(out.payload()) if not out.malformed or out.body else None
        if not out.malformed:
            assert body is not None
            assert set(body) == {"message_id", "ts", "data"}  # MQTT bodies carry no kind
            assert validate_payload(schema[types[out.serial]], out.kind, body["data"]) is None
        elif out.malformed in ("missing", "range") and body is not None:
            assert validate_payload(schema[types[out.serial]], out.kind, body["data"])


def test_simulated_traffic_through_the_ingest_pipeline() -> None:
    # given: 400 messages from 60 devices, with many alarms and malformed ones
    traffic = simulator.Traffic(
        simulator.load_devices(60), mix=simulator.Mix(alarm=0.05, malformed=0.05), seed=11
    )
    outgoing = [traffic.next() for _ in range(400)]
    before_messages, before_dead = Message.objects.count(), DeadLetter.objects.count()
    started = timezone.now()

    # when: the ingest pipeline takes them in batches, as the MQTT gateway does
    stored = 0
    for start in range(0, len(outgoing), 100):
        chunk = outgoing[start : start + 100]
        result = ingest_batch([from_mqtt(o.topic(), o.payload()) for o in chunk], source="mqtt")
        stored += result.stored

    # then: every valid message is stored once, every malformed one is a dead letter
    bad = [o for o in outgoing if o.malformed]
    assert bad and stored == len(outgoing) - len(bad)
    assert Message.objects.count() - before_messages == stored
    assert DeadLetter.objects.count() - before_dead == len(bad)
    # and each alarm message raised (or repeated) an alarm of an event rule on its device;
    # a later routine message may have cleared it ("closed" after "forced_open")
    alarmed = {o.serial for o in outgoing if o.alarm}
    assert alarmed
    raised_on = set(
        Alarm.objects.filter(device__serial__in=alarmed, last_at__gte=started)
        .exclude(rule__code__in=("low_battery", "offline"))
        .values_list("device__serial", flat=True)
    )
    assert raised_on == alarmed
    assert Alarm.objects.filter(
        device__serial__in=alarmed, status__in=OPEN_ALARM_STATUSES, rule__code="smoke_alarm"
    ).exists() or not any(o.serial.startswith("YG") for o in outgoing if o.alarm)


# --- over a real broker ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """A private Mosquitto on a free loopback port."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_simulate_devices_command_publishes_over_mqtt(broker: str) -> None:
    import paho.mqtt.client as mqtt

    received: Counter[str] = Counter()
    ready = threading.Event()
    port = int(broker.rsplit(":", 1)[1])
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_subscribe = lambda *args: ready.set()
    client.on_message = lambda c, u, msg: received.update([msg.topic.rsplit("/", 1)[1]])
    client.connect("127.0.0.1", port)
    client.subscribe("jiayuan/v1/+/+", qos=1)
    client.loop_start()
    assert ready.wait(10)
    out = StringIO()

    call_command(
        "simulate_devices", "--mqtt", "--broker", broker, "--devices", "30",
        "--rate", "300", "--seconds", "1", stdout=out,
    )  # fmt: skip

    # what the command says it sent ("完成：心跳 n 遥测 n …"); a loaded machine may send
    # fewer than rate × seconds, but every message sent must arrive
    done = next(line for line in out.getvalue().splitlines() if line.startswith("完成："))
    sent = sum(int(word) for word in done.removeprefix("完成：").split() if word.isdigit())
    deadline = time.monotonic() + 10
    while sum(received.values()) < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    assert 100 <= sent <= 310, done
    assert sum(received.values()) == sent, (received, done)
    assert received["heartbeat"] > 0 and received["event"] + received["telemetry"] > 0
    assert "模拟 30 台设备" in out.getvalue() and "完成" in out.getvalue()
    serials = set(Device.objects.values_list("serial", flat=True)[:1])
    assert serials  # the command simulated registered devices


# --- defect 12: the demo's devices kept alive ---------------------------------------------------
def test_keep_alive_keeps_every_working_device_online_and_is_light() -> None:
    # given the world's working devices, kept alive from now (no alarms, no battery drain)
    devices, last_seen = simulator.load_working_devices()
    assert len(devices) > 50
    start = timezone.now()
    keep = simulator.KeepAlive(
        devices, last_seen=last_seen, start=start,
        mix=simulator.KeepAliveMix(alarms_per_hour=0, battery_drain=0),
    )  # fmt: skip
    # when 45 minutes pass with the simulator ticking every 5 s into the ingest pipeline
    end = start + dt.timedelta(minutes=45)
    t = start
    while t <= end:
        batch = keep.due(t)
        if batch:
            simulator.into_pipeline(batch, t)
        t += dt.timedelta(seconds=5)
    # then the offline job finds no device silent (without it: every one of them)
    assert jobs.detect_offline(now=end + dt.timedelta(seconds=5))["offline"] == 0
    serials = {d.serial: d for d in devices}
    for serial, seen in Device.objects.filter(serial__in=serials).values_list(
        "serial", "last_seen_at"
    ):
        assert seen >= end - dt.timedelta(seconds=keep.interval(serials[serial]) + 60), serial
    # and it is light: one heartbeat per device per interval, a few events beside
    window = (end - start).total_seconds()
    most = sum(window / (0.95 * keep.interval(d)) + 1 for d in devices)
    assert keep.sent["heartbeat"] <= most
    assert keep.sent["event"] + keep.sent["telemetry"] <= 0.15 * keep.sent["heartbeat"]
    # the seed's battery levels are left alone: no low-battery alarm out of nowhere
    assert not Alarm.objects.filter(rule__code="low_battery", first_at__gte=start).exists()
    assert not Message.objects.filter(
        received_at__gte=start, kind="heartbeat", payload__has_key="battery"
    ).exists()


def test_keep_alive_wakes_a_long_silent_fleet_within_its_ramp() -> None:
    # given a demo restarted after a day: nobody heard for hours
    devices, _ = simulator.load_working_devices()
    start = timezone.now()
    keep = simulator.KeepAlive(devices, last_seen={}, start=start, ramp_s=30)
    # then every device speaks within the first 30 seconds, and not again right away
    first = keep.due(start + dt.timedelta(seconds=30))
    assert {o.serial for o in first if o.kind == "heartbeat"} == {d.serial for d in devices}
    assert not [o for o in keep.due(start + dt.timedelta(seconds=60)) if o.kind == "heartbeat"]


def test_keep_alive_sends_rare_alarms_and_clears_them() -> None:
    devices, last_seen = simulator.load_working_devices()
    start = timezone.now()
    keep = simulator.KeepAlive(
        devices, last_seen=last_seen, start=start, seed=5,
        mix=simulator.KeepAliveMix(alarms_per_hour=20),
    )  # fmt: skip
    sent = [o for minute in range(1, 601) for o in keep.due(start + dt.timedelta(minutes=minute))]
    alarms = [o for o in sent if o.alarm]
    # about 20 an hour over ten hours: rare, but there
    assert 100 <= len(alarms) <= 320
    clears = [o for o in sent if o.body and o.body["data"].get("event") in CLEAR_EVENTS]
    assert clears


def test_the_demo_command_line_starts_the_keep_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    # the demo runs ``jiayuan simulate-devices --keep-alive`` beside web and worker
    assert cli.SIMULATOR[-2:] == ["simulate-devices", "--keep-alive"]
    out = StringIO()
    call_command(cli.SIMULATOR[-2].replace("-", "_"), cli.SIMULATOR[-1], "--seconds", "0.5",
                 stdout=out)  # fmt: skip
    text = out.getvalue()
    assert "台在用设备" in text and "设备保活结束" in text
