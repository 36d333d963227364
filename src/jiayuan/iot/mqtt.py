"""The MQTT side of ingest (``jiayuan ingest``): a persistent-session subscriber that
acknowledges each message only after the batch holding it has committed.

* MQTT 5 with ``clean_start=False`` and a session expiry, under a fixed client id (one
  per process: ``--client-id`` or host name plus ``--instance``), so the broker keeps
  the session, and the un-acknowledged messages in it, while the process is down.
* QoS 1 with paho's ``manual_ack``: paho sends PUBACK only when :meth:`Ingestor.flush`
  has committed the batch. A process killed before that has acknowledged nothing, and
  the broker redelivers on reconnect; ``(device, message_id)`` makes that harmless.
* A shared subscription (``$share/jiayuan/jiayuan/v1/+/+``): several ingest processes
  split the traffic between them.
* Batches close at ``batch_size`` messages or ``batch_ms`` after their first message.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from django.db import close_old_connections, connection
from django.db.utils import DatabaseError, InterfaceError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .choices import IngestSource
from .ingest import (
    SHARED_SUBSCRIPTION,
    IngestResult,
    Rejected,
    commit,
    dead_letter_raw,
    from_mqtt,
    ingest_batch,
    prepare,
    warm_up,
)

log = logging.getLogger("jiayuan.iot.ingest")

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
SESSION_EXPIRY_S = 7 * 24 * 3600
# How many un-acknowledged messages the broker may have in flight to us: enough to fill
# several batches while one commits.
RECEIVE_MAXIMUM = 8000
# Messages per batch (one transaction, about ten statements whatever its size): under a
# backlog a larger batch spreads the round trips and the commit over more messages;
# when traffic is light a batch closes after ``batch_ms`` anyway, so latency does not
# grow with it.
BATCH_SIZE = 1000
# How often a batch being filled looks for more messages.
FILL_POLL_S = 0.002


@dataclass
class IngestConfig:
    broker: str = DEFAULT_BROKER
    client_id: str = ""
    topic: str = SHARED_SUBSCRIPTION
    batch_size: int = BATCH_SIZE
    batch_ms: int = 50
    keepalive: int = 30

    def resolved_client_id(self, instance: int = 0) -> str:
        return self.client_id or f"jiayuan-ingest-{socket.gethostname()}-{instance}"


class _Inbound(NamedTuple):
    """What the batch needs of a received message. Copied out of paho's message at once:
    a backlog of paho messages (each with its properties and a condition variable) kept
    alive in the deque made the garbage collector's passes several times longer."""

    mid: int
    qos: int
    topic: str
    payload: bytes


class Ingestor:
    """Receives on paho's network thread, which only copies each message's id, topic and
    payload into a deque; collects, commits and then acknowledges each batch on the
    calling thread, so paho's thread runs while this one waits for the database.
    Preparing the next batch on a third thread while one commits was measured (once the
    deque no longer held paho's message objects) at the same rate for a quarter more CPU
    per message, so the batch loop is one thread (docs/benchmarks.md, "Device ingest")."""

    def __init__(self, config: IngestConfig, client_id: str) -> None:
        self.config = config
        self.client_id = client_id
        # deque.append and popleft are atomic: no lock per message on the network thread.
        self.pending: deque[_Inbound] = deque()
        self.arrived = threading.Event()
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.total = 0
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        url = urlparse(config.broker)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 1883
        if url.username:
            self.client.username_pw_set(url.username, url.password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # --- paho callbacks (network thread) -------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT connect refused: %s", reason)
            return
        log.info(
            "connected to %s:%s as %s (session present: %s)",
            self.host, self.port, self.client_id, flags.session_present,
        )  # fmt: skip
        client.subscribe(self.config.topic, qos=1)
        self.connected.set()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        log.info("subscribed to %s (%s)", self.config.topic, ", ".join(map(str, reasons)))

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected.clear()
        if not self.stop.is_set():
            log.warning("MQTT disconnected (%s); paho reconnects", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.pending.append(_Inbound(msg.mid, msg.qos, msg.topic, msg.payload))
        if not self.arrived.is_set():
            self.arrived.set()

    # --- collecting (calling thread) -----------------------------------------------------
    def connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect(
            self.host, self.port, keepalive=self.config.keepalive, clean_start=False,
            properties=props,
        )  # fmt: skip
        self.client.loop_start()

    def _wait(self, timeout: float) -> None:
        """Sleep until a message arrives or ``timeout`` passes. The flag is cleared
        before the deque is looked at, and set after a message is appended, so no
        arrival is slept through."""
        self.arrived.clear()
        if not self.pending:
            self.arrived.wait(timeout)

    def collect(self, timeout: float = 0.5) -> list[_Inbound]:
        """The next batch: waits up to ``timeout`` for a first message, then up to
        ``batch_ms`` more (or until ``batch_size``). While a batch fills, this thread
        looks at the deque every few milliseconds instead of being woken for each
        message: a wake-up per message (two thread switches and the GIL handed back
        and forth) costs more than preparing the message."""
        pending, size = self.pending, self.config.batch_size
        if not pending:
            self._wait(timeout)
            if not pending:
                return []
        batch: list[_Inbound] = []
        deadline = time.monotonic() + self.config.batch_ms / 1000
        while True:
            while pending and len(batch) < size:
                batch.append(pending.popleft())
            if len(batch) >= size:
                return batch
            left = deadline - time.monotonic()
            if left <= 0:
                return batch
            time.sleep(min(left, FILL_POLL_S))

    # --- committing and acknowledging (calling thread) -----------------------------------
    def flush(self, batch: list[_Inbound]) -> IngestResult:
        """Commit ``batch`` (retrying while the database is away), then acknowledge it."""
        items = [from_mqtt(m.topic, m.payload) for m in batch]
        delay = 0.5
        while True:
            try:
                result = commit(prepare(items, source=IngestSource.MQTT))
                break
            except (DatabaseError, InterfaceError):
                if self.stop.is_set():
                    raise
                log.exception("batch of %d not committed; retrying in %.1fs", len(batch), delay)
                connection.close()
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            except Exception:
                # Not the database: some message trips a bug. Redelivering it forever
                # would stop the gateway, so isolate it and keep it as a dead letter.
                log.exception("batch of %d failed; retrying message by message", len(batch))
                result = self._one_by_one(items)
                break
        self._acknowledge(batch)
        self.total += len(batch)
        return result

    def _acknowledge(self, batch: list[_Inbound]) -> None:
        """PUBACK every message of a committed batch.

        paho wakes its network thread for each packet queued (one byte written to a
        socket pair per ``ack``); a thousand system calls a batch, each letting another
        thread take the GIL, cost more than the rest of the acknowledging. The wake-up
        is held back while the batch's acknowledgements are queued and sent once after.
        Should paho replace its socket pair meanwhile (a reconnect), its new one stays."""
        client = self.client
        wake = getattr(client, "_sockpairW", None)
        if wake is not None:
            client._sockpairW = None
        try:
            ack = client.ack
            for m in batch:
                if m.qos > 0:
                    ack(m.mid, m.qos)
        finally:
            if wake is not None and getattr(client, "_sockpairW", wake) is None:
                client._sockpairW = wake
                with contextlib.suppress(OSError):
                    wake.send(b"0")

    def _one_by_one(self, items: list[dict[str, Any]]) -> IngestResult:
        total = IngestResult(received=len(items))
        for index, item in enumerate(items):
            try:
                one = ingest_batch([item], source=IngestSource.MQTT)
            except (DatabaseError, InterfaceError):
                raise
            except Exception as err:
                log.exception("message on %s failed", item.get("topic"))
                reason = f"处理失败 / processing failed: {type(err).__name__}"
                dead_letter_raw(item, IngestSource.MQTT, reason)
                total.rejected.append(Rejected(index, reason))
                continue
            total.stored += one.stored
            total.duplicates += one.duplicates
            total.rejected += [Rejected(index, r.reason) for r in one.rejected]
            total.alarms_raised += one.alarms_raised
        return total

    def run(self) -> None:
        warm_up()
        # Everything loaded so far (Django, the apps, the rule book) lives as long as the
        # process: out of the collector's sight, its passes look at the batches' objects only.
        gc.freeze()
        self.connect()
        last_report, counted = time.monotonic(), 0
        try:
            while not self.stop.is_set():
                batch = self.collect()
                if not batch:
                    close_old_connections()
                    continue
                started = time.perf_counter()
                result = self.flush(batch)
                counted += len(batch)
                if result.alarms_raised:
                    log.info(
                        "alarms raised: %s (batch of %d in %.0f ms)", result.alarms_raised,
                        len(batch), (time.perf_counter() - started) * 1000,
                    )  # fmt: skip
                if time.monotonic() - last_report >= 10:
                    rate = counted / (time.monotonic() - last_report)
                    log.info("ingest: %.0f msg/s, %d in total", rate, self.total)
                    last_report, counted = time.monotonic(), 0
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            log.info("ingest stopped: %d messages in total", self.total)
