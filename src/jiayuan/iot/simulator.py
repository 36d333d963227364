"""Device traffic simulator (设备模拟器): realistic messages from the registered devices,
over MQTT or HTTP, at a chosen rate — for the demo's live alarms, load tests and the
benchmark.

Each simulated device sends heartbeats, telemetry its type has (smoke density, %LEL,
water flow …) and everyday events (a door opening, a recognised face); now and then a
real alarm (smoke, gas, intrusion, a stranger at night, an emergency call); a share of
devices stays silent (goes offline); a small share of messages is malformed (bad JSON,
missing fields, values out of range, unknown devices) so the dead-letter path is
exercised too. Bodies are built with the ingest module's own helpers
(:func:`jiayuan.iot.ingest.make_message`, ``topic_for``, ``encode``), so the simulator
speaks exactly the wire format ingest reads.

:class:`Traffic` only decides what to send (deterministic for a seed); the senders put
it on the wire. Over HTTP every device needs its token: :func:`issue_tokens` issues new
ones for the simulated devices (their old tokens stop working — a demo tool).
"""

from __future__ import annotations

import datetime as dt
import heapq
import http.client
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

from django.db import transaction
from django.utils import timezone

from .choices import DeviceStatus, MessageKind
from .devicetypes import DEFAULT_HEARTBEAT_S, HEARTBEAT_S
from .ingest import encode, make_message, topic_for
from .models import Device

log = logging.getLogger("jiayuan.iot.simulator")

# Everyday events per type (sent as routine traffic) and the alarm each can raise.
ROUTINE_EVENTS: dict[str, tuple[str, ...]] = {
    "smoke": ("test",),
    "gas": (),
    "access": ("open", "closed", "open", "closed", "denied"),
    "face_gate": ("recognised", "recognised", "recognised", "stranger"),
    "fence": (),
    "camera": ("loitering", "crowd"),
    "water_meter": (),
    "door_sensor": ("open", "close"),
    "sos_button": (),
}
# The events that raise an alarm under the default rules (one message is enough).
ALARM_EVENTS: dict[str, tuple[str, ...]] = {
    "smoke": ("alarm",),
    "gas": ("alarm",),
    "access": ("forced_open", "held_open"),
    "face_gate": ("tamper",),
    "fence": ("intrusion",),
    "camera": ("fire", "fall", "smoke"),
    "water_meter": ("tamper",),
    "door_sensor": ("tamper",),
    "sos_button": ("sos",),
}
CLEAR_EVENT = {"smoke": "clear", "gas": "clear", "fence": "clear", "camera": "clear",
               "access": "closed", "sos_button": "cancel"}  # fmt: skip
MALFORMED_KINDS = ("json", "missing", "range", "unknown_device", "unknown_kind")


@dataclass
class SimDevice:
    """One simulated device: its serial, type and the state its readings drift from."""

    serial: str
    type_code: str
    battery: int
    silent: bool = False  # never speaks: the offline check should find it
    token: str = ""
    total_water: float = 0.0


@dataclass(frozen=True)
class Outgoing:
    """One message to put on the wire. ``body`` is the JSON object (``None`` for raw
    malformed bytes in ``raw``); ``alarm`` says whether it should raise an alarm."""

    serial: str
    kind: str
    body: dict[str, Any] | None
    raw: bytes = b""
    alarm: bool = False
    malformed: str = ""
    token: str = ""

    def payload(self) -> bytes:
        return encode(self.body) if self.body is not None else self.raw

    def topic(self) -> str:
        return topic_for(self.serial, self.kind)


@dataclass
class Mix:
    """How the traffic is made up (shares of all messages, except ``offline``: a share of
    devices)."""

    heartbeat: float = 0.55
    telemetry: float = 0.25
    alarm: float = 0.002
    malformed: float = 0.005
    offline: float = 0.02


@dataclass
class Traffic:
    """Decides the next message: a device in turn, a kind by the mix, its payload."""

    devices: list[SimDevice]
    mix: Mix = field(default_factory=Mix)
    seed: int = 7
    rng: random.Random = field(init=False)
    sent: Counter[str] = field(default_factory=Counter, init=False)
    _turn: int = field(default=0, init=False)
    _speaking: list[SimDevice] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - traffic, not secrets
        for device in self.devices:
            device.silent = self.rng.random() < self.mix.offline
        self._speaking = [d for d in self.devices if not d.silent] or list(self.devices)
        self.rng.shuffle(self._speaking)

    def __iter__(self) -> Iterator[Outgoing]:
        while True:
            yield self.next()

    def next(self, now: dt.datetime | None = None) -> Outgoing:
        now = now or timezone.now()
        device = self._speaking[self._turn % len(self._speaking)]
        self._turn += 1
        roll = self.rng.random()
        mix = self.mix
        if roll < mix.malformed:
            out = self.malformed(device, now)
        elif roll < mix.malformed + mix.alarm:
            out = self.alarm(device, now)
        elif roll < mix.malformed + mix.alarm + mix.heartbeat:
            out = self.heartbeat(device, now)
        elif roll < mix.malformed + mix.alarm + mix.heartbeat + mix.telemetry:
            out = self.telemetry(device, now) or self.heartbeat(device, now)
        else:
            out = self.routine_event(device, now) or self.heartbeat(device, now)
        category = "malformed" if out.malformed else ("alarm" if out.alarm else out.kind)
        self.sent[category] += 1
        return out

    # --- message kinds -------------------------------------------------------------------
    def _msg(self, device: SimDevice, kind: str, data: dict[str, Any], now: dt.datetime,
             *, alarm: bool = False) -> Outgoing:  # fmt: skip
        # A device clock a little off, as real ones are (and out of order now and then).
        skew = dt.timedelta(milliseconds=self.rng.randint(-1500, 200))
        body = make_message(data, ts=now + skew, kind=kind if device.token else None)
        return Outgoing(device.serial, kind, body, alarm=alarm, token=device.token)

    def heartbeat(self, device: SimDevice, now: dt.datetime) -> Outgoing:
        if self.rng.random() < 0.01 and device.battery > 5:
            device.battery -= 1
        data = {"battery": device.battery, "rssi": self.rng.randint(-95, -45)}
        return self._msg(device, MessageKind.HEARTBEAT, data, now)

    def telemetry(self, device: SimDevice, now: dt.datetime) -> Outgoing | None:
        rng, code = self.rng, device.type_code
        data: dict[str, Any]
        if code == "smoke":
            data = {
                "smoke_density": round(abs(rng.gauss(0.4, 0.3)), 2),
                "temperature": round(rng.gauss(22, 3), 1),
                "battery": device.battery,
            }
        elif code == "gas":
            data = {"lel": round(abs(rng.gauss(1.0, 0.8)), 1), "battery": device.battery}
        elif code == "water_meter":
            flow = round(max(0.0, rng.gauss(3, 4)), 1) if rng.random() < 0.4 else 0.0
            device.total_water += flow / 1000
            data = {"flow": flow, "total": round(device.total_water, 3), "battery": device.battery}
        else:
            return None
        return self._msg(device, MessageKind.TELEMETRY, data, now)

    def routine_event(self, device: SimDevice, now: dt.datetime) -> Outgoing | None:
        events = ROUTINE_EVENTS.get(device.type_code, ())
        if not events:
            return None
        event = self.rng.choice(events)
        data: dict[str, Any] = {"event": event, "battery": device.battery}
        if device.type_code == "face_gate":
            data["similarity"] = round(self.rng.uniform(0.2, 0.6) if event == "stranger"
                                       else self.rng.uniform(0.85, 0.99), 2)  # fmt: skip
            data["direction"] = self.rng.choice(("in", "out"))
        if device.type_code == "access":
            data["method"] = self.rng.choice(("card", "face", "qr"))
        return self._msg(device, MessageKind.EVENT, data, now)

    def alarm(self, device: SimDevice, now: dt.datetime) -> Outgoing:
        """A real alarm: the event of the type that a default rule turns into an alarm."""
        code = device.type_code
        event = self.rng.choice(ALARM_EVENTS.get(code, ("tamper",)))
        data: dict[str, Any] = {"event": event, "battery": device.battery}
        if code == "gas":
            data["lel"] = round(self.rng.uniform(25, 60), 1)
        if code == "smoke":
            data["smoke_density"] = round(self.rng.uniform(8, 30), 1)
        if code == "camera":
            data["confidence"] = round(self.rng.uniform(0.8, 0.99), 2)
        return self._msg(device, MessageKind.EVENT, data, now, alarm=True)

    def malformed(self, device: SimDevice, now: dt.datetime) -> Outgoing:
        """A message ingest must refuse into the dead-letter table."""
        how = self.rng.choice(MALFORMED_KINDS)
        if how == "json":
            raw = b'{"message_id": "x", "data": {'
            return Outgoing(
                device.serial, MessageKind.EVENT, None, raw=raw, malformed=how, token=device.token
            )
        if how == "missing":
            body = make_message({}, kind=MessageKind.EVENT if device.token else None)
            return Outgoing(device.serial, MessageKind.EVENT, body, malformed=how,
                            token=device.token)  # fmt: skip
        if how == "range":
            body = make_message({"battery": 250, "rssi": 30},
                                kind=MessageKind.HEARTBEAT if device.token else None)  # fmt: skip
            return Outgoing(device.serial, MessageKind.HEARTBEAT, body, malformed=how,
                            token=device.token)  # fmt: skip
        if how == "unknown_kind":
            body = make_message({"battery": 50}, kind="diagnostics" if device.token else None)
            return Outgoing(device.serial, "diagnostics", body, malformed=how, token=device.token)
        body = make_message({"battery": 50}, kind=MessageKind.HEARTBEAT if device.token else None)
        return Outgoing(f"SIM-UNKNOWN-{self.rng.randint(1, 999):03d}", MessageKind.HEARTBEAT,
                        body, malformed=how, token=device.token)  # fmt: skip


def load_devices(count: int, *, types: list[str] | None = None) -> list[SimDevice]:
    """The first ``count`` working devices of the registry (by serial), spread over types
    (every type in turn, so a small fleet still has smoke and gas detectors)."""
    qs = Device.objects.exclude(status=DeviceStatus.DECOMMISSIONED).select_related("device_type")
    if types:
        qs = qs.filter(device_type__code__in=types)
    by_type: dict[str, list[Device]] = {}
    for device in qs.order_by("serial").iterator(chunk_size=2000):
        by_type.setdefault(device.device_type.code, []).append(device)
    picked: list[Device] = []
    queues = [list(reversed(v)) for _, v in sorted(by_type.items())]
    while len(picked) < count and any(queues):
        for q in queues:
            if q and len(picked) < count:
                picked.append(q.pop())
    return [SimDevice(d.serial, d.device_type.code, d.battery or 90) for d in picked]


def issue_tokens(devices: list[SimDevice]) -> None:
    """New HTTP tokens for the simulated devices (the raw values stay in memory)."""
    rows = {d.serial: d for d in Device.objects.filter(serial__in=[s.serial for s in devices])}
    with transaction.atomic():
        for sim in devices:
            row = rows.get(sim.serial)
            if row is None:
                continue
            sim.token = row.issue_token()
        Device.objects.bulk_update(list(rows.values()), ["token_digest"], batch_size=1000)


# --- senders ---------------------------------------------------------------------------------
Sender = Callable[[Outgoing], None]


class MqttSender:
    """Publishes with QoS 1 through one connection (as a vendor's edge box would)."""

    def __init__(self, broker: str, client_id: str = "") -> None:
        import paho.mqtt.client as mqtt

        url = urlparse(broker)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"jiayuan-sim-{random.randrange(10**8):08d}",  # noqa: S311
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        if url.username:
            self.client.username_pw_set(url.username, url.password)
        self.client.connect(url.hostname or "127.0.0.1", url.port or 1883, keepalive=30)
        self.client.loop_start()
        self.last: Any = None

    def __call__(self, out: Outgoing) -> None:
        self.last = self.client.publish(out.topic(), out.payload(), qos=1)

    def close(self) -> None:
        if self.last is not None:
            self.last.wait_for_publish(timeout=30)
        self.client.loop_stop()
        self.client.disconnect()


class HttpSender:
    """POSTs each message to ``/api/v1/ingest`` with the device's token, on one
    keep-alive connection per thread."""

    def __init__(self, base_url: str) -> None:
        url = urlparse(base_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.https = url.scheme == "https"
        self.local = threading.local()
        self.statuses: Counter[int] = Counter()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=30)
            self.local.conn = conn
        return conn

    def __call__(self, out: Outgoing) -> None:
        body = out.payload() if out.body is None else json.dumps(out.body).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Device {out.token}"}
        conn = self._conn()
        try:
            conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            self.statuses[0] += 1
            return
        self.statuses[response.status] += 1

    def close(self) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()


def run(traffic: Traffic, send: Sender, *, rate: float, seconds: float,
        report: Callable[[str], None] | None = None) -> Counter[str]:  # fmt: skip
    """Send ``rate`` messages a second for ``seconds`` (paced in 10 ms steps); returns
    what was sent by category."""
    started = time.monotonic()
    deadline = started + seconds
    done = 0
    next_report = started + 5
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        due = int((now - started) * rate) + 1
        while done < due:
            send(traffic.next())
            done += 1
        if report is not None and now >= next_report:
            report(f"{now - started:5.0f}s  已发送 {done} 条  " + _summary(traffic.sent))
            next_report += 5
        time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
    return traffic.sent


def _summary(sent: Counter[str]) -> str:
    names = {"heartbeat": "心跳", "telemetry": "遥测", "event": "事件", "alarm": "告警",
             "malformed": "异常"}  # fmt: skip
    return " ".join(f"{names.get(k, k)} {v}" for k, v in sorted(sent.items()))


# --- keep-alive: the demo's devices alive in the background -------------------------------------
@dataclass
class KeepAliveMix:
    """How lively the demo's fleet is beyond its heartbeats: a share of heartbeats with an
    everyday event or reading beside it, and real alarms across the whole fleet per hour
    (each cleared a few minutes later when its type can clear)."""

    routine: float = 0.05
    alarms_per_hour: float = 2.0
    battery_drain: float = 0.0005  # chance per heartbeat that a battery loses 1 %


class KeepAlive:
    """Heartbeats at each type's interval (``devicetypes.HEARTBEAT_S``) for the devices
    the demo has working, plus rare everyday events and alarms: what keeps the demo's
    alarm console meaningful when it is left running.

    Devices the seed left offline stay silent (they are the demo's offline devices);
    every other device speaks first within :attr:`ramp_s` when it has been silent for
    longer than its interval (the demo was stopped), else at a random point of its
    interval, so the load is even: about ``devices / 600`` messages a second.

    Messages carry a battery level only when the simulated battery drops: the seed's
    levels stay as they are instead of each low one raising an alarm at once.
    :meth:`due` is driven by the caller's clock, so a test can run an hour in a second."""

    def __init__(
        self,
        devices: list[SimDevice],
        *,
        mix: KeepAliveMix | None = None,
        seed: int = 7,
        start: dt.datetime | None = None,
        last_seen: dict[str, dt.datetime | None] | None = None,
        ramp_s: float = 30.0,
    ) -> None:
        self.devices = devices
        self.mix = mix or KeepAliveMix()
        self.traffic = Traffic(devices, mix=Mix(offline=0.0), seed=seed)
        self.rng = self.traffic.rng
        self.sent: Counter[str] = Counter()
        start = start or timezone.now()
        self._clock = start
        self._queue: list[tuple[float, int, int]] = []
        self._clears: list[tuple[float, int, str]] = []
        self._seq = 0
        seen = last_seen or {}
        for index, device in enumerate(devices):
            every = self.interval(device)
            last = seen.get(device.serial)
            stale = last is None or (start - last).total_seconds() >= every
            offset = self.rng.uniform(0, ramp_s if stale else every)
            self._push(start.timestamp() + offset, index)

    @staticmethod
    def interval(device: SimDevice) -> int:
        return HEARTBEAT_S.get(device.type_code, DEFAULT_HEARTBEAT_S)

    def _push(self, when: float, index: int) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, index))

    def due(self, now: dt.datetime) -> list[Outgoing]:
        """Everything to send up to ``now`` (call it every few seconds)."""
        out: list[Outgoing] = []
        stamp = now.timestamp()
        while self._queue and self._queue[0][0] <= stamp:
            _, _, index = heapq.heappop(self._queue)
            device = self.devices[index]
            out.append(self._heartbeat(device, now))
            if self.rng.random() < self.mix.routine:
                extra = self.traffic.telemetry(device, now) or self.traffic.routine_event(
                    device, now
                )
                if extra is not None:
                    out.append(self._quiet(extra))
            every = self.interval(device)
            # A little jitter, as real clocks drift: devices never fall into step.
            self._push(stamp + every * self.rng.uniform(0.95, 1.0), index)
        elapsed = max(0.0, stamp - self._clock.timestamp())
        self._clock = now
        if self.devices and self.rng.random() < self.mix.alarms_per_hour * elapsed / 3600:
            out.append(self._alarm(self.rng.choice(self.devices), now, stamp))
        while self._clears and self._clears[0][0] <= stamp:
            _, index, event = heapq.heappop(self._clears)
            device = self.devices[index]
            out.append(self._quiet(self.traffic._msg(device, MessageKind.EVENT,
                                                     {"event": event}, now)))  # fmt: skip
        for message in out:
            self.sent["alarm" if message.alarm else message.kind] += 1
        return out

    def _heartbeat(self, device: SimDevice, now: dt.datetime) -> Outgoing:
        data: dict[str, Any] = {"rssi": self.rng.randint(-95, -45)}
        if self.rng.random() < self.mix.battery_drain and device.battery > 5:
            device.battery -= 1
            data["battery"] = device.battery
        return self.traffic._msg(device, MessageKind.HEARTBEAT, data, now)

    def _alarm(self, device: SimDevice, now: dt.datetime, stamp: float) -> Outgoing:
        out = self._quiet(self.traffic.alarm(device, now))
        clear = CLEAR_EVENT.get(device.type_code)
        if clear is not None:
            index = self.devices.index(device)
            heapq.heappush(self._clears, (stamp + self.rng.uniform(120, 600), index, clear))
        return out

    @staticmethod
    def _quiet(out: Outgoing) -> Outgoing:
        """The message without its battery level (see the class docstring)."""
        if out.body is None or "battery" not in out.body.get("data", {}):
            return out
        data = {k: v for k, v in out.body["data"].items() if k != "battery"}
        return replace(out, body={**out.body, "data": data})


def load_working_devices() -> tuple[list[SimDevice], dict[str, dt.datetime | None]]:
    """Every device the demo has working (not offline, not decommissioned) and when each
    was last heard, for :class:`KeepAlive`."""
    rows = (
        Device.objects.exclude(status__in=[DeviceStatus.OFFLINE, DeviceStatus.DECOMMISSIONED])
        .order_by("serial")
        .values_list("serial", "device_type__code", "battery", "last_seen_at")
    )
    devices: list[SimDevice] = []
    seen: dict[str, dt.datetime | None] = {}
    for serial, code, battery, last in rows.iterator(chunk_size=5000):
        devices.append(SimDevice(serial, code, battery if battery is not None else 90))
        seen[serial] = last
    return devices, seen


BatchSender = Callable[[list[Outgoing], dt.datetime], None]
REPORT_S = 300  # a line on the demo's console every five minutes


def into_pipeline(batch: list[Outgoing], now: dt.datetime) -> None:
    """Feed messages straight into the ingest pipeline (no broker, no web server), in
    batches as the MQTT gateway makes them, as source ``sim``."""
    from .choices import IngestSource
    from .ingest import from_mqtt, ingest_batch

    for start in range(0, len(batch), 500):
        chunk = batch[start : start + 500]
        ingest_batch([from_mqtt(o.topic(), o.payload()) for o in chunk],
                     source=IngestSource.SIMULATOR, now=now)  # fmt: skip


def keep_alive(
    keep: KeepAlive,
    send: BatchSender = into_pipeline,
    *,
    stop: threading.Event,
    tick_s: float = 5.0,
    clock: Callable[[], dt.datetime] = timezone.now,
    seconds: float = 0.0,
    report: Callable[[str], None] | None = None,
) -> Counter[str]:
    """Send what :class:`KeepAlive` says is due every ``tick_s`` until ``stop`` is set
    (or ``seconds`` have passed, when given). A failed batch is logged and dropped: the
    next heartbeat of the same devices comes within their interval."""
    started = time.monotonic()
    next_report = started + REPORT_S
    while not stop.is_set():
        now = clock()
        batch = keep.due(now)
        if batch:
            try:
                send(batch, now)
            except Exception:
                log.exception("keep-alive batch of %d not sent", len(batch))
                from django.db import connection

                connection.close()
        if report is not None and time.monotonic() >= next_report:
            report("设备保活：" + _summary(keep.sent))
            next_report += REPORT_S
        left = seconds - (time.monotonic() - started) if seconds else tick_s
        if left <= 0:
            break
        stop.wait(min(tick_s, left))
    return keep.sent
