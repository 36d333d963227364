"""Benchmark: device ingest — 10,000 simulated devices against one ``jiayuan ingest``
process on PostgreSQL, beside a bare MQTT subscriber that only receives and parses the
same messages in the same run; then the alarm latency from publish to alarm row.

    .venv/bin/python bench/iot_ingest.py [--devices 10000] [--messages 100000]
                                         [--probes 200] [--live 40000] [--drop]

World: a scratch PostgreSQL database (``bench_jiayuan_iot``) holding the tiny demo
county's area tree and accounts (the ingest work does not depend on the number of areas)
plus ``--devices`` devices spread over its units and grids (40 % smoke, 15 % gas, 15 %
access control, 10 % cameras, the rest face gates, fences, door sensors and water
meters). A private Mosquitto on a free loopback port (so no other gateway on the shared
broker takes the traffic) with ``max_inflight_messages 0`` and ``max_queued_messages 0``:
the ingest process acknowledges a message only after its batch commits, so the broker
must let a whole batch be in flight.

Traffic comes from :mod:`jiayuan.iot.simulator` (heartbeats, telemetry, everyday events,
0.2 % malformed), pre-encoded, published by this process with QoS 1 as fast as paho
goes. Each rate is ``messages / (last one done − first publish)``:

* **bare** — a paho subscriber in its own process (QoS 1, MQTT v5) that receives and
  ``json.loads`` every message, nothing else;
* **ingest** — ``jiayuan ingest`` (batches of 500 / 50 ms; validation against the type's
  schema, ``INSERT … ON CONFLICT DO NOTHING``, device liveness, the alarm rules with
  their durable state, all in one transaction per batch, acknowledged after commit);
  "done" is the moment this process sees the last row in ``iot_message``.

Latency: with ingest running and background traffic at a third of its measured rate,
``--probes`` smoke-alarm events from distinct detectors, evenly spread; each one's time
from publish to its ``iot_alarm`` row being visible (a poller reads new alarms every
5 ms), and to its case number written back on the alarm: the case is opened by the
follow-up job the batch's commit enqueues, run here by a ``jiayuan worker`` (Huey on
SQLite in the run's scratch directory, so no other worker takes the jobs).

Then, unless ``--live 0``: one, then two ``jiayuan ingest`` processes on one shared
subscription (``$share/…``), connected while ``--live`` fresh messages are published;
rate from the first publish to the last message finished, beside the publisher's own
rate (Mosquitto serves a shared subscription only to connected members, so the stream
cannot be queued up beforehand and the publisher is the ceiling), and each process's
share of the stream.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup

DATABASE = "bench_jiayuan_iot"
# Not the shared subscription: the broker queues for an offline persistent session of a
# plain subscription (a shared one is served to connected members only).
TOPIC = "jiayuan/v1/+/+"
TYPE_MIX = [
    ("smoke", 40), ("gas", 15), ("access", 15), ("camera", 10),
    ("face_gate", 5), ("fence", 5), ("door_sensor", 5), ("water_meter", 5),
]  # fmt: skip


# --- the bare subscriber (a child process) ---------------------------------------------------
def bare_subscriber(port: int, expected: int, timeout: float) -> None:
    """Drain ``expected`` queued messages of the persistent session ``bench-bare``,
    parsing each; print the first and last arrival times as JSON."""

    state = {"n": 0, "first": 0.0, "last": 0.0, "bad": 0, "cpu_first": 0.0, "cpu_last": 0.0}
    done = threading.Event()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        now = time.time()
        try:
            json.loads(msg.payload)
        except ValueError:
            state["bad"] += 1
        if state["n"] == 0:
            state["first"] = now
            state["cpu_first"] = time.process_time()
        state["n"] += 1
        state["last"] = now
        if state["n"] >= expected:
            state["cpu_last"] = time.process_time()
            done.set()

    client = session_client("bench-bare")
    client.on_message = on_message
    connect_persistent(client, port)
    client.loop_start()
    done.wait(timeout)
    client.loop_stop()
    print(json.dumps(state), flush=True)


def session_client(client_id: str) -> Any:
    import paho.mqtt.client as mqtt

    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                       protocol=mqtt.MQTTv5)  # fmt: skip


def connect_persistent(client: Any, port: int) -> None:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=props)


def prime_session(port: int, client_id: str, topic: str) -> None:
    """Create the persistent session ``client_id`` subscribed to ``topic`` and leave it
    offline: the broker queues what is published until the client comes back."""
    client = session_client(client_id)
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    connect_persistent(client, port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    if not subscribed.wait(10):
        sys.exit(f"could not subscribe {client_id}")
    client.disconnect()
    client.loop_stop()


def forget_session(port: int, client_id: str) -> None:
    """End the persistent session ``client_id`` (clean start), so the broker stops
    queueing for it."""
    client = session_client(client_id)
    client.connect("127.0.0.1", port, clean_start=True)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


# --- helpers ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_inflight_messages 0\nmax_queued_messages 0\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    sys.exit("mosquitto did not start")


def build_world(url: str, devices: int) -> None:
    """Migrate, write the tiny county (no cases, no policies) and ``devices`` devices."""
    from django.db import connection
    from django.utils import timezone

    from jiayuan.demo.plan import plan_world
    from jiayuan.demo.seed import write_world
    from jiayuan.iot.defaults import ensure_default_rules
    from jiayuan.iot.devicetypes import ensure_device_types
    from jiayuan.iot.models import Device, DeviceType
    from jiayuan.org.models import Area

    _setup.migrate()
    write_world(plan_world("tiny", 7), progress=False)
    ensure_device_types()
    ensure_default_rules()
    types = {t.code: t for t in DeviceType.objects.all()}
    units = list(Area.objects.filter(kind="unit").order_by("path"))
    rng = random.Random(7)
    codes = [code for code, weight in TYPE_MIX for _ in range(weight)]
    now = timezone.now()
    rows = []
    for i in range(devices):
        unit = units[i % len(units)]
        code = codes[i % len(codes)]
        rows.append(Device(
            serial=f"BENCH{i:06d}", name="", device_type=types[code], area=unit,
            area_path=unit.path, lat=35.73 + rng.uniform(-0.01, 0.01),
            lng=116.49 + rng.uniform(-0.01, 0.01), status="online", last_seen_at=now,
            battery=rng.randint(40, 100),
        ))  # fmt: skip
    Device.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def encode_traffic(n: int, seed: int, *, alarm: float = 0.0) -> list[tuple[str, bytes]]:
    from jiayuan.iot import simulator

    devices = simulator.load_devices(10**9)
    mix = simulator.Mix(alarm=alarm, malformed=0.002, offline=0.0)
    traffic = simulator.Traffic(devices, mix=mix, seed=seed)
    return [(o.topic(), o.payload()) for o in (traffic.next() for _ in range(n))]


class Publisher:
    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub",
                                  protocol=mqtt.MQTTv5)  # fmt: skip
        self.client.max_inflight_messages_set(20)  # paho is fastest with a small window
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.last: Any = None

    def send(self, topic: str, payload: bytes) -> None:
        self.last = self.client.publish(topic, payload, qos=1)

    def flush(self) -> None:
        if self.last is not None:
            self.last.wait_for_publish(timeout=300)

    def close(self) -> None:
        self.flush()
        self.client.loop_stop()
        self.client.disconnect()


def message_count(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM iot_message").fetchone()[0])


def run_bare(port: int, expected: int) -> dict[str, float]:
    """Drain the bare subscriber's queue (a child process); rate from first to last."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--bare", str(port), str(expected)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, _ = child.communicate(timeout=900)
    result = json.loads(out.strip().splitlines()[-1])
    seconds = result["last"] - result["first"]
    cpu = result["cpu_last"] - result["cpu_first"]
    return {"received": result["n"], "seconds": seconds, "rate": result["n"] / seconds,
            "cpu_us_per_msg": cpu / result["n"] * 1e6}  # fmt: skip


def publish_all(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Publish with QoS 1; returns the publish rate."""
    pub = Publisher(port)
    started = time.time()
    for i, (topic, payload) in enumerate(messages, 1):
        pub.send(topic, payload)
        if i % 2000 == 0:  # keep paho's outgoing queue bounded
            pub.flush()
    pub.close()
    return len(messages) / (time.time() - started)


def child_env(url: str, var_dir: Path) -> dict[str, str]:
    """The environment of the ingest and worker processes: the bench database, and a
    job queue of their own (Huey on SQLite in ``var_dir``), so that no other worker on
    this machine takes the bench's jobs."""
    env = {
        **os.environ,
        "JIAYUAN_DATABASE_URL": url,
        "JIAYUAN_DEBUG": "0",
        "JIAYUAN_LOG_LEVEL": "WARNING",
        "JIAYUAN_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "jiayuan.settings",
    }
    env.pop("JIAYUAN_REDIS_URL", None)
    return env


def start_ingest(
    port: int, url: str, log: Path, client_id: str = "bench-ingest", topic: str = TOPIC
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "jiayuan.cli", "ingest", "--broker",
             f"mqtt://127.0.0.1:{port}", "--client-id", client_id, "--topic", topic],
            env=child_env(url, log.parent), cwd=_setup.ROOT, stdout=out, stderr=out,
        )  # fmt: skip


def start_worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    """``jiayuan worker``: runs the follow-up jobs (an alarm's case) that ingest enqueues
    after each commit. No periodic jobs (the offline check would judge the bench's
    devices); one consumer thread polling its queue every 20–100 ms."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "jiayuan.cli", "worker", "--no-periodic", "-w", "1",
             "-d", "0.02", "-m", "0.1"],
            env=child_env(url, log.parent), cwd=_setup.ROOT, stdout=out, stderr=out,
        )  # fmt: skip


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def processed(conn: Any) -> int:
    """Messages the ingest has finished with: stored rows plus dead letters."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM iot_message) + (SELECT count(*) FROM iot_deadletter)"
    ).fetchone()
    return int(row[0])


class Finished:
    """Messages the one ingest process has finished with (stored rows plus dead letters),
    counted without rescanning the table: each poll counts only the rows above the
    highest id already counted. Exact for one process, which commits its batches one
    after the other (a batch's ids are above every committed one's). Counting the whole
    of ``iot_message`` every 20 ms — what :func:`processed` does — kept a PostgreSQL
    backend and its parallel workers busy for much of the run, on the cores ingest and
    its database share; the bare subscriber's run has no such poller."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        top = conn.execute("SELECT coalesce(max(id), 0) FROM iot_message").fetchone()[0]
        self.last_id = int(top)
        self.stored = 0

    def stored_and_dead(self) -> tuple[int, int]:
        count, top, dead = self.conn.execute(
            "SELECT count(*), max(id), (SELECT count(*) FROM iot_deadletter) "
            "FROM iot_message WHERE id > %s", [self.last_id]
        ).fetchone()  # fmt: skip
        if top is not None:
            self.stored += int(count)
            self.last_id = int(top)
        return self.stored, int(dead)

    def __call__(self) -> int:
        stored, dead = self.stored_and_dead()
        return stored + dead


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_ingest(port: int, url: str, expected: int, log: Path) -> tuple[dict[str, float], Any]:
    """Start ``jiayuan ingest`` on its queued session and time it from its first stored
    message to the last one finished (stored or dead-lettered)."""
    import psycopg

    proc = start_ingest(port, url, log)
    with psycopg.connect(url, autocommit=True) as conn:
        finished = Finished(conn)
        stored_before = finished.stored
        before = finished()
        deadline = time.time() + 120
        while finished() == before:
            if proc.poll() is not None or time.time() > deadline:
                sys.exit(f"ingest did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.01)
        first, cpu_first = time.time(), cpu_seconds(proc.pid)
        deadline = first + 900
        while finished() < before + expected:
            if proc.poll() is not None:
                sys.exit(f"ingest exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            if time.time() > deadline:
                sys.exit(f"ingest finished {finished() - before} of {expected}")
            time.sleep(0.02)
        done, cpu = time.time(), cpu_seconds(proc.pid) - cpu_first
        stored = finished.stored - stored_before
    seconds = done - first
    result = {"stored": stored, "dead_letters": expected - stored, "seconds": seconds,
              "rate": expected / seconds, "cpu_us_per_msg": cpu / expected * 1e6}  # fmt: skip
    return result, proc


def run_live(
    port: int, url: str, processes: int, messages: list[tuple[str, bytes]], tmp: Path
) -> dict[str, float]:
    """``processes`` ingest processes on one shared subscription, connected, while this
    process publishes ``messages`` as fast as it can; rate from the first publish to the
    last message finished. (Mosquitto serves a shared subscription to connected members
    only, so the stream cannot be queued beforehand: the publisher's rate is the
    ceiling, and is reported beside.) Each process's share comes from its last log line."""
    import psycopg

    group = f"bench{processes}"
    logs = [tmp / f"live-{processes}-{i}.log" for i in range(processes)]
    procs = [
        start_ingest(port, url, log, f"bench-live-{processes}-{i}",
                     f"$share/{group}/jiayuan/v1/+/+")
        for i, log in enumerate(logs)
    ]  # fmt: skip
    try:
        deadline = time.time() + 120
        while not all(log.exists() and "subscribed to" in log.read_text() for log in logs):
            if time.time() > deadline or any(p.poll() is not None for p in procs):
                sys.exit("live ingest did not start:\n" + logs[0].read_text()[-2000:])
            time.sleep(0.05)
        with psycopg.connect(url, autocommit=True) as conn:
            before = processed(conn)
            started = time.time()
            publish_rate = publish_all(port, messages)
            deadline = time.time() + 900
            while processed(conn) < before + len(messages):
                if time.time() > deadline:
                    sys.exit(f"live ingest finished {processed(conn) - before} of {len(messages)}")
                time.sleep(0.02)
            seconds = time.time() - started
    finally:
        for proc in procs:
            stop(proc)
    shares = []
    for log in logs:
        tail = log.read_text(errors="replace").rsplit("ingest stopped: ", 1)
        shares.append(float(tail[1].split()[0]) if len(tail) == 2 else -1.0)
    out = {
        "processes": float(processes),
        "messages": float(len(messages)),
        "seconds": seconds,
        "rate": len(messages) / seconds,
        "publish_rate": publish_rate,
    }
    for i, share in enumerate(shares):
        out[f"share_{i}"] = share
    return out


def run_latency(port: int, url: str, probes: int, background_rate: float,
                proc: subprocess.Popen[bytes]) -> dict[str, float]:  # fmt: skip
    import psycopg

    from jiayuan.iot.ingest import encode, make_message, topic_for
    from jiayuan.iot.models import Alarm, Device

    busy = set(Alarm.objects.values_list("device_id", flat=True))
    smoke = [d.serial for d in Device.objects.filter(device_type__code="smoke").order_by("serial")
             if d.pk not in busy][:probes]  # fmt: skip
    background = encode_traffic(int(background_rate * 20) + 1000, seed=99)
    published: dict[str, float] = {}
    seen: dict[str, float] = {}
    cased: dict[str, float] = {}
    done = threading.Event()

    def poll() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            first = conn.execute("SELECT coalesce(max(id), 0) FROM iot_alarm").fetchone()[0]
            while not done.is_set():
                rows = conn.execute(
                    "SELECT d.serial, a.case_ref FROM iot_alarm a JOIN iot_device d"
                    " ON d.id = a.device_id WHERE a.id > %s", [first]
                ).fetchall()  # fmt: skip
                now = time.time()
                for serial, case_ref in rows:
                    seen.setdefault(serial, now)
                    if case_ref:
                        cased.setdefault(serial, now)
                time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    pub = Publisher(port)
    duration = 20.0
    started = time.time()
    every = duration / max(1, len(smoke))
    next_probe = started + 1.0
    sent = 0
    probe_index = 0
    while time.time() - started < duration + 1:
        now = time.time()
        due = int((now - started) * background_rate)
        while sent < min(due, len(background)):
            pub.send(*background[sent])
            sent += 1
        if probe_index < len(smoke) and now >= next_probe:
            serial = smoke[probe_index]
            body = make_message({"event": "alarm", "battery": 80, "smoke_density": 15.0})
            published[serial] = time.time()
            pub.send(topic_for(serial, "event"), encode(body))
            probe_index += 1
            next_probe += every
        time.sleep(0.001)
    deadline = time.time() + 60
    while len(cased.keys() & published.keys()) < len(published) and time.time() < deadline:
        time.sleep(0.05)
    done.set()
    poller.join(timeout=5)
    pub.close()
    samples = [(seen[s] - published[s]) * 1000 for s in published if s in seen]
    if not samples:
        sys.exit("no probe alarm was raised")
    out = _setup.percentiles(samples)
    out["missing"] = float(len(published) - len(samples))
    out["background_rate"] = sent / duration
    case_samples = [(cased[s] - published[s]) * 1000 for s in published if s in cased]
    case = _setup.percentiles(case_samples) if case_samples else {}
    case["missing"] = float(len(published) - len(case_samples))
    return {**out, **{f"case_{k}": v for k, v in case.items()}}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        bare_subscriber(int(sys.argv[2]), int(sys.argv[3]), timeout=600)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    parser.add_argument(
        "--live", type=int, default=40_000,
        help="messages for the live runs of one and two processes (0: skip them)",
    )  # fmt: skip
    args = parser.parse_args()

    url = _setup.recreate_postgres(DATABASE)
    os.environ["JIAYUAN_DEBUG"] = "0"
    _setup.setup_django(url)
    print(_setup.machine())
    with _setup.stopwatch() as took:
        build_world(url, args.devices)
    print(f"world: {args.devices} devices in {took['wall']:.1f}s")
    messages = encode_traffic(args.messages, seed=7)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        broker, port = start_broker(tmp)
        ingest: subprocess.Popen[bytes] | None = None
        worker: subprocess.Popen[bytes] | None = None
        try:
            prime_session(port, "bench-bare", TOPIC)
            prime_session(port, "bench-ingest", TOPIC)
            publish_rate = publish_all(port, messages)
            print(f"published {len(messages)} messages (QoS 1) at {publish_rate:.0f}/s")
            bare = run_bare(port, len(messages))
            print("bare   " + _setup.fmt(bare))
            stored, ingest = run_ingest(port, url, len(messages), tmp / "ingest.log")
            print("ingest " + _setup.fmt(stored))
            ratio = stored["rate"] / bare["rate"]
            print(f"ingest ÷ bare = {ratio:.0%}  (issue 10: ≥ 60 %"
                  f" {'met' if ratio >= 0.6 else 'NOT met'}; ≥ 10,000 msg/s"
                  f" {'met' if stored['rate'] >= 10_000 else 'NOT met'})")  # fmt: skip
            # The two rates are taken one after the other, so other work on the machine
            # moves their ratio; CPU per message is steadier. Its ratio is what the rates'
            # ratio would be with each process alone on a core (and the database on another).
            bare_cpu, ingest_cpu = bare["cpu_us_per_msg"], stored["cpu_us_per_msg"]
            print(f"CPU per message: bare {bare_cpu:.0f} µs, ingest {ingest_cpu:.0f} µs"
                  f" (bare ÷ ingest = {bare_cpu / ingest_cpu:.0%})")  # fmt: skip
            # The worker only from here: in production it runs elsewhere, and its polling
            # would take CPU from the ingest process measured above on these two cores.
            worker = start_worker(url, tmp / "worker.log")
            latency = run_latency(port, url, args.probes, min(stored["rate"] / 3, 1000.0), ingest)
            print("alarm latency ms " + _setup.fmt(latency))
            stop(ingest)
            ingest = None
            if args.live:
                for client_id in ("bench-bare", "bench-ingest"):
                    forget_session(port, client_id)
                for processes in (1, 2):
                    live = encode_traffic(args.live, seed=100 + processes)
                    result = run_live(port, url, processes, live, tmp)
                    print(f"live, {processes} process(es) on one shared subscription "
                          + _setup.fmt(result))  # fmt: skip
        finally:
            stop(ingest)
            stop(worker)
            broker.terminate()
            broker.wait(timeout=10)
    if args.drop:
        from django.db import connections

        connections.close_all()
        _setup.drop_postgres(DATABASE)


if __name__ == "__main__":
    main()
