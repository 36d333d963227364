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

import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
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
    dead_letter_raw,
    from_mqtt,
    ingest_batch,
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


@dataclass(frozen=True)
class _Inbound:
    mid: int
    qos: int
    topic: str
    payload: bytes


class Ingestor:
    """Receives on paho's network thread, batches and commits on the calling thread."""

    def __init__(self, config: IngestConfig, client_id: str) -> None:
        self.config = config
        self.client_id = client_id
        self.inbox: queue.Queue[_Inbound] = queue.Queue()
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
        self.inbox.put(_Inbound(msg.mid, msg.qos, msg.topic, msg.payload))

    # --- the batch loop (calling thread) --------------------------------------------------
    def connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect(
            self.host, self.port, keepalive=self.config.keepalive, clean_start=False,
            properties=props,
        )  # fmt: skip
        self.client.loop_start()

    def collect(self, timeout: float = 0.5) -> list[_Inbound]:
        """The next batch: waits up to ``timeout`` for a first message, then up to
        ``batch_ms`` more (or until ``batch_size``)."""
        try:
            first = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.config.batch_ms / 1000
        while len(batch) < self.config.batch_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self.inbox.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def flush(self, batch: list[_Inbound]) -> IngestResult:
        """Commit ``batch`` (retrying while the database is away), then acknowledge it."""
        items = [from_mqtt(m.topic, m.payload) for m in batch]
        delay = 0.5
        while True:
            try:
                result = ingest_batch(items, source=IngestSource.MQTT)
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
        for m in batch:
            if m.qos > 0:
                self.client.ack(m.mid, m.qos)
        self.total += len(batch)
        return result

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
