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
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol
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
    Prepared,
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


class Inbound(Protocol):
    """What a batch holds: paho's ``MQTTMessage`` as received, or an :class:`_Inbound`."""

    @property
    def mid(self) -> int: ...
    @property
    def qos(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> bytes: ...


@dataclass(frozen=True)
class _Inbound:
    mid: int
    qos: int
    topic: str
    payload: bytes


@dataclass
class _Work:
    """A batch on its way from the collecting thread to the writing one."""

    batch: list[Inbound]
    items: list[dict[str, Any]]
    prepared: Prepared | None  # None: preparing failed; the writer starts it over


class Ingestor:
    """Three threads, so that the database's time overlaps Python's: paho's network
    thread only appends each message to a deque; the calling thread collects a batch and
    prepares it (parse, validate against the devices); a writer thread commits the
    prepared batch and then acknowledges it. While one batch commits the next is being
    prepared (at most one waits), so every message is still acknowledged only after
    the transaction holding it committed."""

    def __init__(self, config: IngestConfig, client_id: str) -> None:
        self.config = config
        self.client_id = client_id
        # deque.append and popleft are atomic: no lock per message on the network thread.
        self.pending: deque[Inbound] = deque()
        self.arrived = threading.Event()
        self.handoff: queue.Queue[_Work | None] = queue.Queue(maxsize=1)
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
        self._writer_error: BaseException | None = None

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
        self.pending.append(msg)
        if not self.arrived.is_set():
            self.arrived.set()

    # --- collecting and preparing (calling thread) ---------------------------------------
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

    def collect(self, timeout: float = 0.5) -> list[Inbound]:
        """The next batch: waits up to ``timeout`` for a first message, then up to
        ``batch_ms`` more (or until ``batch_size``)."""
        pending, size = self.pending, self.config.batch_size
        if not pending:
            self._wait(timeout)
            if not pending:
                return []
        batch: list[Inbound] = []
        deadline = time.monotonic() + self.config.batch_ms / 1000
        while True:
            while pending and len(batch) < size:
                batch.append(pending.popleft())
            if len(batch) >= size:
                return batch
            left = deadline - time.monotonic()
            if left <= 0:
                return batch
            self._wait(left)

    def _prepare(self, batch: list[Inbound]) -> _Work:
        items = [from_mqtt(m.topic, m.payload) for m in batch]
        try:
            prepared: Prepared | None = prepare(items, source=IngestSource.MQTT)
        except (DatabaseError, InterfaceError):
            log.exception("batch of %d not prepared; the writer retries it", len(batch))
            connection.close()
            prepared = None
        except Exception:
            log.exception("batch of %d not prepared; the writer isolates the message", len(batch))
            prepared = None
        return _Work(batch, items, prepared)

    # --- committing and acknowledging (writer thread) ------------------------------------
    def flush(self, batch: list[Inbound]) -> IngestResult:
        """Commit ``batch`` (retrying while the database is away), then acknowledge it."""
        return self._commit(_Work(batch, [from_mqtt(m.topic, m.payload) for m in batch], None))

    def _commit(self, work: _Work) -> IngestResult:
        prepared, items = work.prepared, work.items
        delay = 0.5
        while True:
            try:
                if prepared is None:
                    prepared = prepare(items, source=IngestSource.MQTT)
                result = commit(prepared)
                break
            except (DatabaseError, InterfaceError):
                if self.stop.is_set():
                    raise
                log.exception("batch of %d not committed; retrying in %.1fs", len(items), delay)
                connection.close()
                prepared = None  # read the devices again: they may have changed meanwhile
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            except Exception:
                # Not the database: some message trips a bug. Redelivering it forever
                # would stop the gateway, so isolate it and keep it as a dead letter.
                log.exception("batch of %d failed; retrying message by message", len(items))
                result = self._one_by_one(items)
                break
        ack = self.client.ack
        for m in work.batch:
            if m.qos > 0:
                ack(m.mid, m.qos)
        self.total += len(work.batch)
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

    def _write(self) -> None:
        last_report, counted = time.monotonic(), 0
        try:
            while True:
                try:
                    work = self.handoff.get(timeout=0.5)
                except queue.Empty:
                    close_old_connections()
                    continue
                if work is None:
                    return
                started = time.perf_counter()
                result = self._commit(work)
                counted += len(work.batch)
                if result.alarms_raised:
                    log.info(
                        "alarms raised: %s (batch of %d in %.0f ms)", result.alarms_raised,
                        len(work.batch), (time.perf_counter() - started) * 1000,
                    )  # fmt: skip
                if time.monotonic() - last_report >= 10:
                    rate = counted / (time.monotonic() - last_report)
                    log.info("ingest: %.0f msg/s, %d in total", rate, self.total)
                    last_report, counted = time.monotonic(), 0
        except BaseException as err:
            self._writer_error = err
            raise
        finally:
            connection.close()

    def _hand_over(self, work: _Work | None, writer: threading.Thread) -> None:
        """Queue ``work`` for the writer, waiting while it is busy; a writer that died
        (the database gone while stopping) ends the loop with its error."""
        while True:
            try:
                self.handoff.put(work, timeout=0.5)
                return
            except queue.Full:
                if not writer.is_alive():
                    raise RuntimeError("the ingest writer stopped") from self._writer_error

    def run(self) -> None:
        warm_up()
        self.connect()
        writer = threading.Thread(target=self._write, name="ingest-writer", daemon=True)
        writer.start()
        try:
            while not self.stop.is_set():
                batch = self.collect()
                if not batch:
                    close_old_connections()
                    if not writer.is_alive():
                        raise RuntimeError("the ingest writer stopped") from self._writer_error
                    continue
                self._hand_over(self._prepare(batch), writer)
        finally:
            if writer.is_alive():
                self._hand_over(None, writer)
                writer.join()
            self.client.disconnect()
            self.client.loop_stop()
            log.info("ingest stopped: %d messages in total", self.total)
