"""Acceptance tests of device ingest against the real Mosquitto on 127.0.0.1:1883.

A real ``jiayuan ingest`` subprocess runs on its own temporary SQLite database (migrated
and seeded with the tiny demo county once per session), exactly as in production, beside
a ``jiayuan worker`` that runs the jobs ingest enqueues (an alarm's case); the test
publishes with paho over QoS 1 and reads the database directly. Every test uses its
own devices (unique serials, so unique topics), its own MQTT client id and its own
shared-subscription group, so parallel runs and other subscribers do not interfere.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from jiayuan.iot.ingest import encode, make_message, topic_for

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
JIAYUAN = str(Path(sys.executable).with_name("jiayuan"))
BROKER = ("127.0.0.1", 1883)

SEED_WORLD = """
import django
django.setup()
from jiayuan.demo.seed import plan_world, write_world
write_world(plan_world("tiny", 7), progress=False)
"""
MAKE_DEVICES = """
import json, sys, uuid
import django
django.setup()
from django.contrib.auth import get_user_model
from jiayuan.iot.models import Device, DeviceType
from jiayuan.org.models import Area
spec = json.loads(sys.argv[1])
grid = get_user_model().objects.get(username="grid").memberships.get().area
area = Area.objects.filter(kind="building", path__startswith=grid.path).first() or grid
out = []
for code in spec:
    d = Device.objects.create(
        serial=f"MQ-{code}-{uuid.uuid4().hex[:10]}", device_type=DeviceType.objects.get(code=code),
        area=area, lat=area.centroid_lat, lng=area.centroid_lng,
    )
    out.append({"id": d.pk, "serial": d.serial, "type": code})
print(json.dumps({"grid": [grid.pk, grid.path], "devices": out}))
"""


@dataclass(frozen=True)
class World:
    url: str
    env: dict[str, str]
    tmp: Path

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.url.startswith("postgres"):
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
        path = self.url.removeprefix("sqlite:///")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, *params: Any) -> Any:
        rows = self.query(sql, *params)
        return rows[0][0] if rows else None

    def devices(self, *codes: str) -> tuple[tuple[int, str], list[dict[str, Any]]]:
        done = subprocess.run(
            [sys.executable, "-c", MAKE_DEVICES, json.dumps(list(codes))],
            env=self.env, cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"could not create devices:\n{done.stderr[-3000:]}")
        found = json.loads(done.stdout.strip().splitlines()[-1])
        return tuple(found["grid"]), found["devices"]


def _run(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(args, env=env, cwd=ROOT, stdout=out, stderr=out, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The ingest process's own database: a temporary SQLite file, or — when the suite
    runs on PostgreSQL — a scratch PostgreSQL database beside the test database."""
    tmp = tmp_path_factory.mktemp("ingest")
    base = os.environ.get("JIAYUAN_DATABASE_URL", "")
    scratch = ""
    if base.startswith("postgres"):
        scratch = f"iot_ingest_{uuid.uuid4().hex[:10]}"
        url = base.rsplit("/", 1)[0] + "/" + scratch
        _admin(base, f'CREATE DATABASE "{scratch}"')
    else:
        url = f"sqlite:///{tmp / 'db.sqlite3'}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "jiayuan.settings",
        "JIAYUAN_DATABASE_URL": url,
        "JIAYUAN_VAR_DIR": str(tmp),
        "JIAYUAN_HOME": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("JIAYUAN_REDIS_URL", None)
    env.pop("JIAYUAN_INGEST_TEST_DELAY_MS", None)
    log = tmp / "setup.log"
    worker: subprocess.Popen[bytes] | None = None
    try:
        _run([JIAYUAN, "migrate", "--no-input", "-v", "0"], env, log)
        # The tiny county's areas, people and accounts; not its year of cases or its demo
        # devices, which these tests do not need.
        _run([sys.executable, "-c", SEED_WORLD], env, log)
        # The job consumer (no periodic jobs: the offline check would judge the test
        # devices), polling its queue every 50 ms at most.
        with (tmp / "worker.log").open("ab") as out:
            worker = subprocess.Popen(
                [JIAYUAN, "worker", "--no-periodic", "-w", "2", "-d", "0.02", "-m", "0.05"],
                env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        yield World(url=url, env=env, tmp=tmp)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=5)
        if scratch:
            _admin(base, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[call-overload]


class Ingest:
    """One ``jiayuan ingest`` process with a fixed client id (its persistent session)."""

    def __init__(self, world: World, name: str, group: str = "", **env: str) -> None:
        self.world = world
        self.client_id = f"test-ingest-{name}-{uuid.uuid4().hex[:8]}"
        self.group = group or f"t{uuid.uuid4().hex[:10]}"
        self.env = {**world.env, **env}
        self.log = world.tmp / f"{self.client_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            JIAYUAN, "ingest", "--client-id", self.client_id,
            "--topic", f"$share/{self.group}/jiayuan/v1/+/+",
        ]  # fmt: skip
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                args, env=self.env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
            )
        self.wait_for_log("subscribed to", offset)

    def wait_for_log(self, text: str, offset: int = 0, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(
                    f"ingest exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            if text in self.log.read_text(errors="replace")[offset:]:
                return
            time.sleep(0.1)
        pytest.fail(f"ingest never logged {text!r}:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        forget_session(self.client_id)


def forget_session(client_id: str) -> None:
    """End the broker's persistent session of ``client_id`` (clean start, no expiry)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)  # fmt: skip
    client.connect(*BROKER, clean_start=True)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def ingest(world: World) -> Iterator[Callable[..., Ingest]]:
    started: list[Ingest] = []

    def start(name: str, group: str = "", **env: str) -> Ingest:
        process = Ingest(world, name, group, **env)
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def publisher() -> Iterator[Callable[..., None]]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                         client_id=f"test-pub-{uuid.uuid4().hex[:8]}")  # fmt: skip
    client.connect(*BROKER)
    client.loop_start()

    def publish(serial: str, kind: str, body: dict[str, Any] | bytes) -> None:
        payload = body if isinstance(body, bytes) else encode(body)
        info = client.publish(topic_for(serial, kind), payload, qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published()

    yield publish
    client.disconnect()
    client.loop_stop()


def wait_until(check: Callable[[], Any], timeout: float = 10, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return check()


def test_smoke_alarm_over_mqtt_becomes_alarm_within_a_second_and_a_case_in_the_grid(
    world: World, ingest: Callable[..., Ingest], publisher: Callable[..., None]
) -> None:
    # given a running ingest process and a smoke detector in the grid worker's grid
    (grid_id, grid_path), [smoke] = world.devices("smoke")
    ingest("smoke")
    # when the detector publishes a fire alarm
    sent = time.monotonic()
    publisher(smoke["serial"], "event", make_message({"event": "alarm", "battery": 88}))
    alarm = wait_until(
        lambda: world.query(
            "SELECT id, severity, status, case_ref, area_path FROM iot_alarm WHERE device_id = ?",
            smoke["id"],
        ),
        timeout=5,
        every=0.01,
    )
    elapsed = time.monotonic() - sent
    # then an active critical alarm exists within a second …
    assert alarm, "no alarm"
    assert elapsed < 1.0, f"alarm after {elapsed:.3f}s"
    alarm_id, severity, status, case_ref, area_path = alarm[0]
    assert (severity, status) == ("critical", "active")
    assert area_path.startswith(grid_path)
    # (the case is opened by the job the batch's commit enqueued, and written back)
    case_ref = wait_until(
        lambda: world.scalar("SELECT case_ref FROM iot_alarm WHERE id = ?", alarm_id), timeout=20
    )
    # … with a device case routed to the device's grid, linked both ways
    case = world.query(
        "SELECT number, channel, grid_id, source_ref FROM cases_case WHERE source_ref = ?",
        f"alarm:{alarm_id}",
    )
    assert case == [(case_ref, "device", grid_id, f"alarm:{alarm_id}")]


def test_same_message_twice_gives_one_alarm_with_one_count(
    world: World, ingest: Callable[..., Ingest], publisher: Callable[..., None]
) -> None:
    _, [smoke] = world.devices("smoke")
    ingest("twice")
    body = make_message({"event": "alarm"}, message_id=f"dup-{uuid.uuid4().hex[:8]}")
    publisher(smoke["serial"], "event", body)
    publisher(smoke["serial"], "event", body)
    # a later heartbeat proves both copies went through ingest before we count
    marker = make_message({"battery": 77})
    publisher(smoke["serial"], "heartbeat", marker)
    assert wait_until(
        lambda: world.scalar(
            "SELECT COUNT(*) FROM iot_message WHERE device_id = ? AND message_id = ?",
            smoke["id"], marker["message_id"],
        )
    )  # fmt: skip
    assert world.query(
        "SELECT COUNT(*), SUM(count) FROM iot_alarm WHERE device_id = ?", smoke["id"]
    ) == [(1, 1)]
    assert world.scalar(
        "SELECT COUNT(*) FROM iot_message WHERE device_id = ? AND message_id = ?",
        smoke["id"], body["message_id"],
    ) == 1  # fmt: skip
    # the case comes from the alarm's follow-up job: wait for it, then count
    assert wait_until(
        lambda: world.scalar("SELECT case_ref FROM iot_alarm WHERE device_id = ?", smoke["id"]),
        timeout=20,
    )
    assert (
        world.scalar(
            "SELECT COUNT(*) FROM cases_case WHERE source_ref IN "
            "(SELECT 'alarm:' || id FROM iot_alarm WHERE device_id = ?)",
            smoke["id"],
        )
        == 1
    )


def test_malformed_payload_goes_to_dead_letters_and_the_next_valid_one_is_processed(
    world: World, ingest: Callable[..., Ingest], publisher: Callable[..., None]
) -> None:
    _, [gas] = world.devices("gas")
    ingest("malformed")
    publisher(gas["serial"], "telemetry", b'{"message_id": "x1", "ts": ')
    publisher(gas["serial"], "telemetry", make_message({"lel": "lots"}))
    good = make_message({"lel": 4.5})
    publisher(gas["serial"], "telemetry", good)
    assert wait_until(
        lambda: world.scalar(
            "SELECT COUNT(*) FROM iot_message WHERE device_id = ? AND message_id = ?",
            gas["id"], good["message_id"],
        )
    )  # fmt: skip
    letters = world.query(
        "SELECT topic, reason, payload FROM iot_deadletter WHERE serial = ? ORDER BY id",
        gas["serial"],
    )
    assert len(letters) == 2
    assert letters[0][0] == topic_for(gas["serial"], "telemetry")
    assert "JSON" in letters[0][1] and letters[0][2] == '{"message_id": "x1", "ts": '
    assert "lel" in letters[1][1]


def test_killed_before_commit_then_restarted_stores_every_message_exactly_once(
    world: World, ingest: Callable[..., Ingest], publisher: Callable[..., None]
) -> None:
    # given an ingest process that holds each batch open for 4 s before committing
    _, [smoke] = world.devices("smoke")
    slow = ingest("kill", JIAYUAN_INGEST_TEST_DELAY_MS="4000")
    offset = slow.log.stat().st_size
    bodies = [make_message({"battery": 90 - i}) for i in range(20)]
    alarm = make_message({"event": "alarm"})
    # when messages are published, received, and the process is killed mid-batch
    for body in bodies:
        publisher(smoke["serial"], "heartbeat", body)
    publisher(smoke["serial"], "event", alarm)
    slow.wait_for_log("holding batch", offset, timeout=10)
    slow.kill()
    assert world.scalar("SELECT COUNT(*) FROM iot_message WHERE device_id = ?", smoke["id"]) == 0
    # and restarted under the same client id (its persistent session)
    slow.env.pop("JIAYUAN_INGEST_TEST_DELAY_MS")
    slow.start()
    # then the broker redelivers and every message is stored exactly once
    expected = {b["message_id"] for b in [*bodies, alarm]}
    assert wait_until(
        lambda: (
            world.scalar("SELECT COUNT(*) FROM iot_message WHERE device_id = ?", smoke["id"])
            >= len(expected)
        ),
        timeout=20,
    )
    time.sleep(0.5)  # any further redelivery would have landed by now
    rows = world.query("SELECT message_id FROM iot_message WHERE device_id = ?", smoke["id"])
    assert sorted(r[0] for r in rows) == sorted(expected)
    assert world.query(
        "SELECT COUNT(*), SUM(count) FROM iot_alarm WHERE device_id = ?", smoke["id"]
    ) == [(1, 1)]


def test_two_processes_on_one_shared_subscription_split_the_stream_without_loss_or_double_alarm(
    world: World, ingest: Callable[..., Ingest], publisher: Callable[..., None]
) -> None:
    # given two ingest processes in one shared-subscription group, and ten detectors
    group = f"t{uuid.uuid4().hex[:10]}"
    first, second = ingest("split-a", group), ingest("split-b", group)
    _, smokes = world.devices(*["smoke"] * 10)
    offsets = {p: p.log.stat().st_size for p in (first, second)}
    # when each detector sends heartbeats and a fire alarm that the device repeats
    # (same message id, so the broker deals the copies to both processes), then a second
    # alarm message: the broker deals consecutive messages round robin between the two
    sent: dict[int, set[str]] = {}
    for round_ in range(3):
        for smoke in smokes:
            body = make_message({"battery": 90 - round_})
            publisher(smoke["serial"], "heartbeat", body)
            sent.setdefault(smoke["id"], set()).add(body["message_id"])
    for smoke in smokes:
        fire = make_message({"event": "alarm"})
        publisher(smoke["serial"], "event", fire)
        publisher(smoke["serial"], "event", fire)
        again = make_message({"event": "alarm"})
        publisher(smoke["serial"], "event", again)
        sent[smoke["id"]] |= {fire["message_id"], again["message_id"]}
    ids = [s["id"] for s in smokes]
    marks = ",".join("?" * len(ids))
    total = sum(len(v) for v in sent.values())
    count_stored = f"SELECT COUNT(*) FROM iot_message WHERE device_id IN ({marks})"  # noqa: S608
    assert wait_until(lambda: world.scalar(count_stored, *ids) >= total, timeout=30)
    time.sleep(0.5)  # a duplicate still in flight would land by now
    # then every message is stored exactly once …
    for device_id, message_ids in sent.items():
        stored = world.query("SELECT message_id FROM iot_message WHERE device_id = ?", device_id)
        assert sorted(r[0] for r in stored) == sorted(message_ids)
    # … each detector has one alarm counting its two distinct alarm messages …
    alarms = world.query(
        f"SELECT device_id, COUNT(*), SUM(count) FROM iot_alarm WHERE device_id IN ({marks}) "  # noqa: S608
        "GROUP BY device_id", *ids,
    )  # fmt: skip
    assert sorted(alarms) == sorted((i, 1, 2) for i in ids)
    # … and one case, once the follow-up jobs ran
    assert wait_until(
        lambda: (
            world.scalar(
                f"SELECT COUNT(*) FROM iot_alarm WHERE case_ref != '' AND device_id IN ({marks})",  # noqa: S608
                *ids,
            )
            == len(ids)
        ),
        timeout=30,
    )
    alarm_keys = f"SELECT 'alarm:' || id FROM iot_alarm WHERE device_id IN ({marks})"  # noqa: S608
    cases = world.query(
        f"SELECT source_ref, COUNT(*) FROM cases_case WHERE source_ref IN ({alarm_keys}) "  # noqa: S608
        "GROUP BY source_ref", *ids,
    )  # fmt: skip
    assert len(cases) == len(ids) and all(n == 1 for _, n in cases)
    # and both processes took a share of the stream, which together is all of it
    shares = []
    for process in (first, second):
        process.stop()  # waits for the process to exit, after its last log line
        tail = process.log.read_text(errors="replace")[offsets[process] :]
        shares.append(int(tail.split("ingest stopped: ")[1].split()[0]))
    assert min(shares) > 0 and sum(shares) == 6 * len(smokes)  # 3 heartbeats, 3 events
