"""The ingest pipeline (设备接入): parse, validate, store and evaluate device messages.

One function, :func:`ingest_batch`, serves MQTT (``jiayuan ingest``) and HTTP
(``POST /api/v1/ingest``) alike. A batch is one transaction: dead letters, new messages,
device liveness, rule state and alarms commit together, and only then does the MQTT
side acknowledge the batch's messages to the broker. A process killed before the
commit loses nothing (the broker redelivers); a redelivered message finds its
``(device, message_id)`` already stored and changes nothing.

What a new alarm sets going beyond its own row — its case in the request loop, the
grid workers' notice of a critical one — is not part of an MQTT batch: the commit enqueues
one job per such alarm (:func:`jiayuan.iot.tasks.follow_up_alarm`, Huey), retried until
the case is open, which writes the case number back to the alarm. Case intake therefore
never holds up device messages, and an alarm is visible as soon as its batch commits.
(HTTP, one device's request, opens them in its batch: see :func:`ingest_batch`.)

Wire format (also what the simulator publishes, see :func:`make_message`)::

    topic  jiayuan/v1/{device_serial}/{telemetry|event|heartbeat}
    body   {"message_id": "…", "ts": "2026-11-28T08:00:00+08:00" | 1764288000123,
            "data": {…payload fields of the device type…}}

HTTP takes the same body with ``"kind"`` added, one object or a list.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from .alarms import EngineResult, Stored, evaluate
from .choices import DeviceStatus, IngestSource, MessageKind
from .devicetypes import validate_payload
from .models import DeadLetter, Device, Message
from .refs import DeviceRef, device_refs, pg_cursor

# ``TextChoices.values`` rebuilds its list on every call: too slow for once per message.
MESSAGE_KINDS = frozenset(MessageKind.values)
# Likewise plain strings for the statuses read once per message.
DECOMMISSIONED = str(DeviceStatus.DECOMMISSIONED.value)
OFFLINE = str(DeviceStatus.OFFLINE.value)
ONLINE = str(DeviceStatus.ONLINE.value)

log = logging.getLogger("jiayuan.iot.ingest")

TOPIC_PREFIX = "jiayuan/v1/"
SHARED_SUBSCRIPTION = "$share/jiayuan/jiayuan/v1/+/+"
# Device liveness is written at most this often per device: heartbeats from 10,000
# devices would otherwise turn every batch into thousands of row updates, and the
# offline check counts in minutes.
SEEN_WRITE_INTERVAL = dt.timedelta(seconds=30)
FUTURE_LIMIT = dt.timedelta(days=1)
MAX_ID_LENGTH = 64
# Test hook: hold the batch's transaction open this long before committing, so a test
# can kill the process between receiving and committing (acceptance test 3).
_TEST_DELAY_S = int(os.environ.get("JIAYUAN_INGEST_TEST_DELAY_MS", "0") or 0) / 1000


# --- wire format -------------------------------------------------------------------------
def topic_for(serial: str, kind: str) -> str:
    return f"{TOPIC_PREFIX}{serial}/{kind}"


def parse_topic(topic: str) -> tuple[str, str] | None:
    """``(serial, kind)`` of a device topic, or ``None``."""
    if not topic.startswith(TOPIC_PREFIX):
        return None
    rest = topic[len(TOPIC_PREFIX) :].split("/")
    if len(rest) != 2 or not rest[0]:
        return None
    return rest[0], rest[1]


def make_message(
    data: dict[str, Any],
    *,
    message_id: str | None = None,
    ts: dt.datetime | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """A message body as devices send it (``kind`` only for HTTP)."""
    body: dict[str, Any] = {
        "message_id": message_id or uuid.uuid4().hex,
        "ts": (ts or timezone.now()).isoformat(),
        "data": data,
    }
    if kind is not None:
        body["kind"] = kind
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def from_mqtt(topic: str, payload: bytes) -> dict[str, Any]:
    """An inbound item for :func:`ingest_batch` from an MQTT message."""
    parsed = parse_topic(topic)
    serial, kind = parsed if parsed else ("", "")
    return {"serial": serial, "kind": kind, "body": payload, "topic": topic}


def from_http(device: Device, body: Any) -> dict[str, Any]:
    """An inbound item from one JSON object posted by an authenticated device."""
    kind = body.get("kind", "") if isinstance(body, dict) else ""
    return {"serial": device.serial, "kind": kind, "body": body, "topic": ""}


def warm_up() -> None:
    """Load and compile what the first batch would otherwise pay for (rules, device
    types, the database connection), so the first alarm is as fast as the rest."""
    from .alarms import BOOK, activity_predicate
    from .models import DeviceType

    BOOK.refresh(force=True)
    for device_type in DeviceType.objects.filter(activity=True):
        activity_predicate(device_type.code)


# --- the batch ---------------------------------------------------------------------------
@dataclass
class Rejected:
    index: int
    reason: str


@dataclass
class IngestResult:
    """What a batch did: how many messages were new, repeated or refused, and which
    alarms it raised or cleared, and — when the cases were opened in the batch (HTTP) —
    the numbers of the cases they opened; otherwise the follow-up jobs open them."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    alarms_raised: list[int] = field(default_factory=list)
    alarms_cleared: list[int] = field(default_factory=list)
    alarms_repeated: int = 0
    cases: list[str] = field(default_factory=list)

    @property
    def dead_letters(self) -> int:
        return len(self.rejected)

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": [{"index": r.index, "reason": r.reason} for r in self.rejected],
            "alarms_raised": self.alarms_raised,
            "alarms_cleared": self.alarms_cleared,
            "cases": self.cases,
        }


@dataclass
class _Valid:
    index: int
    device: DeviceRef
    kind: str
    message_id: str
    device_ts: dt.datetime
    data: dict[str, Any]


class _Refused(Exception):
    pass


def _text(raw: Any) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        return raw
    return json.dumps(raw, ensure_ascii=False, default=str)


def _loads(raw: bytes | str) -> Any:
    """``json.loads``, by orjson (a few times faster, and the hot path parses every
    message); what orjson refuses and the standard library takes (``NaN``, integers past
    64 bits) is read as before."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def _dumps(data: Any) -> str:
    """The payload as JSON text for the database (orjson; the standard library for what
    orjson cannot write, such as integers past 64 bits)."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:
        return json.dumps(data, ensure_ascii=False)


def _parse_ts(raw: Any, now: dt.datetime) -> dt.datetime:
    if isinstance(raw, bool) or raw is None:
        raise _Refused("缺少或无效的时间戳 ts / missing or invalid ts")
    try:
        if isinstance(raw, int | float):
            # Seconds or milliseconds since the epoch (devices send both).
            seconds = raw / 1000 if raw > 1e11 else raw
            value = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        elif isinstance(raw, str):
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if timezone.is_naive(value):
                value = timezone.make_aware(value)
        else:
            raise _Refused("无效的时间戳 ts / invalid ts")
    except (ValueError, OverflowError, OSError) as err:
        raise _Refused("无效的时间戳 ts / invalid ts") from err
    if value > now + FUTURE_LIMIT:
        raise _Refused("设备时间超前超过一天 / device time more than a day ahead")
    return value


def _validate(
    item: dict[str, Any], devices: dict[str, DeviceRef], now: dt.datetime
) -> tuple[DeviceRef | None, _Valid | str]:
    """The valid message, or the reason to refuse it (with the device when known)."""
    serial, kind = str(item.get("serial") or ""), str(item.get("kind") or "")
    device = devices.get(serial)
    if not serial:
        return None, "主题格式错误 / bad topic (jiayuan/v1/{serial}/{kind})"
    if device is None:
        return None, f"未登记的设备 {serial[:64]} / unknown device"
    if device.status == DECOMMISSIONED:
        return device, "设备已停用 / device decommissioned"
    if kind not in MESSAGE_KINDS:
        return device, f"未知消息类型 {kind[:20]} / unknown message kind"
    body = item.get("body")
    if isinstance(body, bytes | str):
        try:
            body = _loads(body)
        except (ValueError, UnicodeDecodeError):
            return device, "不是合法的 JSON / not valid JSON"
    if not isinstance(body, dict):
        return device, "消息应为 JSON 对象 / message must be a JSON object"
    message_id = body.get("message_id")
    if not isinstance(message_id, str | int) or isinstance(message_id, bool):
        return device, "缺少 message_id / missing message_id"
    message_id = str(message_id)
    if not message_id or len(message_id) > MAX_ID_LENGTH:
        return device, "message_id 长度应为1–64 / message_id must be 1–64 characters"
    try:
        device_ts = _parse_ts(body.get("ts"), now)
    except _Refused as err:
        return device, str(err)
    data = body.get("data", {})
    problem = validate_payload(device.device_type.schema, kind, data)
    if problem:
        return device, problem
    return device, _Valid(0, device, kind, message_id, device_ts, data)


@dataclass
class Prepared:
    """A batch read and checked, not yet written (:func:`prepare`, then :func:`commit`)."""

    source: str
    now: dt.datetime
    result: IngestResult
    valid: list[_Valid]
    dead: list[DeadLetter]
    # Which devices' liveness to write (:func:`_liveness_rows`) and, on PostgreSQL, the
    # rows to insert as one JSON array (:func:`_rows_json`): built before the
    # transaction, so it holds its locks only while the rows are sent.
    liveness: list[tuple[int, dt.datetime, int | None]] = field(default_factory=list)
    rows_json: str = ""


def prepare(
    messages: list[dict[str, Any]], *, source: str, now: dt.datetime | None = None
) -> Prepared:
    """Parse and validate a batch against its devices (one query), outside any
    transaction: refused items become dead letters (written by :func:`commit`), repeats of
    a ``(device, message_id)`` inside the batch count as duplicates.

    Nothing here decides what the commit must decide from the rows as they are then:
    whether a device was offline is read by the liveness update itself, so a batch may
    be prepared ahead of its transaction."""
    if source not in IngestSource.values:
        raise ValueError(f"unknown ingest source {source!r}")
    now = now or timezone.now()
    result = IngestResult(received=len(messages))
    valid: list[_Valid] = []
    dead: list[DeadLetter] = []
    if not messages:
        return Prepared(source, now, result, valid, dead)
    serials = {str(m.get("serial") or "") for m in messages} - {""}
    devices = device_refs(serials)
    seen: set[tuple[int, str]] = set()
    for index, item in enumerate(messages):
        device, outcome = _validate(item, devices, now)
        if isinstance(outcome, str):
            result.rejected.append(Rejected(index, outcome))
            dead.append(_dead_letter(item, source, outcome, device, now))
            continue
        key = (outcome.device.pk, outcome.message_id)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        outcome.index = index
        valid.append(outcome)
    rows_json = _rows_json(valid) if valid and connection.vendor == "postgresql" else ""
    return Prepared(source, now, result, valid, dead, _liveness_rows(valid, now), rows_json)


def commit(prepared: Prepared, *, cases_in_batch: bool = False) -> IngestResult:
    """Write a prepared batch in one transaction: dead letters, new messages, device
    liveness, rule state and alarms (see :func:`ingest_batch`)."""
    result, valid, now = prepared.result, prepared.valid, prepared.now
    if not result.received:
        return result
    with transaction.atomic():
        if connection.vendor == "postgresql":
            new = _write_postgresql(prepared)
        else:
            if prepared.dead:
                store_dead_letters(prepared.dead)
            new = _insert(valid, now)
            if prepared.liveness:
                ids = [r[0] for r in prepared.liveness]
                # The transaction holds SQLite's write lock: read here, the status is
                # the one the update below changes.
                offline = Device.objects.filter(pk__in=ids, status=OFFLINE)
                back = set(offline.values_list("pk", flat=True))
                _touch_sqlite(prepared.liveness, now)
                _mark_back_online(valid, back)
        result.stored = len(new)
        result.duplicates += len(valid) - len(new)
        engine: EngineResult = evaluate(
            [Stored(v.device, v.kind, v.device_ts, now, v.data, v.message_id) for v in new],
            now=now,
            cases_in_batch=cases_in_batch,
        )
        if _TEST_DELAY_S:
            log.warning(
                "holding batch of %d for %.1fs before commit", result.received, _TEST_DELAY_S
            )
            time.sleep(_TEST_DELAY_S)
    result.alarms_raised = engine.raised
    result.alarms_cleared = engine.cleared
    result.alarms_repeated = engine.repeated
    result.cases = engine.cases
    return result


def ingest_batch(
    messages: list[dict[str, Any]],
    *,
    source: str,
    now: dt.datetime | None = None,
    cases_in_batch: bool = False,
) -> IngestResult:
    """Validate, store and evaluate a batch of inbound messages in one transaction.

    Each item is ``{"serial", "kind", "body", "topic"?}`` (see :func:`from_mqtt` and
    :func:`from_http`); ``body`` is bytes, text or an already parsed object. Refused
    items become dead letters with their reason; the rest is stored once per
    ``(device, message_id)`` and only the newly stored ones feed the alarm engine.

    New alarms' cases are opened by a job the commit enqueues; ``cases_in_batch`` opens
    them in the batch instead, so that they commit with their alarms and the result
    names them (HTTP: one device's request, whose answer reports the cases)."""
    return commit(prepare(messages, source=source, now=now), cases_in_batch=cases_in_batch)


def _dead_letter(
    item: dict[str, Any], source: str, reason: str, device: DeviceRef | None, now: dt.datetime
) -> DeadLetter:
    topic = str(item.get("topic") or "")[:200]
    serial = str(item.get("serial") or "")[:64]
    payload = _text(item.get("body"))[:10000]
    return DeadLetter(
        received_at=now,
        last_received_at=now,
        source=source,
        topic=topic,
        serial=serial,
        payload=payload,
        reason=reason[:300],
        area_path=device.area_path if device is not None else "",
        fingerprint=DeadLetter.fingerprint_of(serial, topic, payload),
    )


_DEAD_COLUMNS = (
    "received_at", "last_received_at", "source", "topic", "serial", "payload", "reason",
    "area_path", "fingerprint", "count",
)  # fmt: skip


def store_dead_letters(rows: list[DeadLetter]) -> None:
    """Keep refused messages once each: a message seen before (the broker redelivering
    what was never acknowledged, a device resending the same bytes) raises the stored
    row's ``count`` and ``last_received_at`` instead of adding a row. One
    ``INSERT … ON CONFLICT (fingerprint) DO UPDATE`` (PostgreSQL, SQLite ≥ 3.24), so two
    ingest processes refusing the same redelivered message still keep one row."""
    merged: dict[str, DeadLetter] = {}
    for row in rows:
        key = row.fingerprint or DeadLetter.fingerprint_of(row.serial, row.topic, row.payload)
        row.fingerprint = key
        first = merged.get(key)
        if first is None:
            merged[key] = row
        else:
            first.count += 1
            first.last_received_at = max(first.last_received_at, row.last_received_at)
    table = DeadLetter._meta.db_table
    columns = ", ".join(_DEAD_COLUMNS)
    unique = list(merged.values())
    with connection.cursor() as cursor:
        for start in range(0, len(unique), 200):
            chunk = unique[start : start + 200]
            values = ", ".join(["(" + ", ".join(["%s"] * len(_DEAD_COLUMNS)) + ")"] * len(chunk))
            params: list[Any] = []
            for r in chunk:
                params += [
                    _db_ts(r.received_at), _db_ts(r.last_received_at), r.source, r.topic,
                    r.serial, r.payload, r.reason, r.area_path, r.fingerprint, r.count,
                ]  # fmt: skip
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values} "  # noqa: S608 - fixed names; values are parameters
                f"ON CONFLICT (fingerprint) DO UPDATE SET count = {table}.count + excluded.count, "
                "last_received_at = excluded.last_received_at",
                params,
            )


def dead_letter_raw(item: dict[str, Any], source: str, reason: str) -> DeadLetter:
    """Keep an item that could not be processed at all (its own transaction)."""
    refs = device_refs([str(item.get("serial") or "")])
    device = next(iter(refs.values()), None)
    row = _dead_letter(item, source, reason, device, timezone.now())
    with transaction.atomic():
        store_dead_letters([row])
    return DeadLetter.objects.get(fingerprint=row.fingerprint)


def _insert(valid: list[_Valid], now: dt.datetime) -> list[_Valid]:
    """Insert the messages (SQLite), skipping those already stored; returns the new ones.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (SQLite ≥ 3.35) tells exactly which rows
    were new, even when another ingest process stores the same redelivered message."""
    if not valid:
        return []
    columns = "device_id, message_id, kind, device_ts, received_at, payload"
    table = Message._meta.db_table
    returned: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(valid), 500):
            chunk = valid[start : start + 500]
            rows = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
            params: list[Any] = []
            for v in chunk:
                params += [
                    v.device.pk, v.message_id, v.kind, _db_ts(v.device_ts), _db_ts(now),
                    _dumps(v.data),
                ]  # fmt: skip
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {rows} "  # noqa: S608 - fixed names; values are parameters
                "ON CONFLICT (device_id, message_id) DO NOTHING "
                "RETURNING device_id, message_id",
                params,
            )
            returned += cursor.fetchall()
    return _new_ones(valid, returned)


def _new_ones(valid: list[_Valid], returned: list[tuple[Any, ...]]) -> list[_Valid]:
    by_key = {(v.device.pk, v.message_id): v for v in valid}
    new = [by_key[(int(d), str(m))] for d, m in returned]
    new.sort(key=lambda v: v.index)
    return new


def _rows_json(valid: list[_Valid]) -> str:
    """The batch's rows as one JSON array ``[[device, message_id, kind, device_ts,
    data], …]``: one C call (orjson) instead of quoting or copying row by row, and the
    payloads reach PostgreSQL already as JSON."""
    rows = [[v.device.pk, v.message_id, v.kind, v.device_ts, v.data] for v in valid]
    try:
        return orjson.dumps(rows).decode()
    except TypeError:
        return json.dumps(rows, ensure_ascii=False, default=_iso)


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


_INSERT_PG = (
    f"INSERT INTO {Message._meta.db_table} "  # noqa: S608 - fixed names; values are parameters
    "(device_id, message_id, kind, device_ts, received_at, payload) "
    "SELECT (r->>0)::bigint, r->>1, r->>2, (r->>3)::timestamptz, %s, r->4 "
    "FROM jsonb_array_elements(%s::jsonb) AS r "
    "ON CONFLICT (device_id, message_id) DO NOTHING RETURNING device_id, message_id"
)
_BACK_ONLINE_PG = (
    f"UPDATE {Device._meta.db_table} SET status = %s "  # noqa: S608 - fixed names
    "WHERE id = ANY(%s) AND status = %s RETURNING id"
)
_LIVENESS_PG = (
    f"UPDATE {Device._meta.db_table} AS d SET "  # noqa: S608 - fixed names; values are parameters
    "last_seen_at = GREATEST(COALESCE(d.last_seen_at, %s), %s), "
    "last_device_ts = GREATEST(COALESCE(d.last_device_ts, v.ts), v.ts), "
    "battery = COALESCE(v.battery, d.battery) "
    "FROM unnest(%s::bigint[], %s::timestamptz[], %s::int[]) AS v(id, ts, battery) "
    "WHERE d.id = v.id"
)


def _write_postgresql(prepared: Prepared) -> list[_Valid]:
    """Dead letters, new messages and liveness in one round trip (psycopg's pipeline
    mode: the statements are sent together and run in order, in the batch's transaction);
    returns the messages that were new.

    ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` tells exactly which rows were
    new, even when another ingest process stores the same redelivered message at the
    same moment. A device comes back online by its own ``UPDATE … RETURNING``, whose
    ``WHERE`` is checked again on the newest row version, so whether it was offline is
    what the database said as the batch committed — not what was read when the batch
    was prepared (the offline job may have marked it since, or an earlier batch brought
    it back). The engine's offline-back rule reads that answer from the devices' refs."""
    valid, now, rows = prepared.valid, prepared.now, prepared.liveness
    connection.ensure_connection()
    raw = connection.connection
    returned: list[tuple[Any, ...]] = []
    back: set[int] = set()
    with pg_cursor() as insert, pg_cursor() as online, pg_cursor() as seen:
        with raw.pipeline():
            if prepared.dead:
                store_dead_letters(prepared.dead)
            if valid:
                insert.execute(_INSERT_PG, [now, prepared.rows_json or _rows_json(valid)])
            if rows:
                ids = [r[0] for r in rows]
                online.execute(_BACK_ONLINE_PG, [ONLINE, ids, OFFLINE])
                seen.execute(
                    _LIVENESS_PG, [now, now, ids, [r[1] for r in rows], [r[2] for r in rows]]
                )
        if valid:
            returned = insert.fetchall()
        if rows:
            back = {row[0] for row in online.fetchall()}
    _mark_back_online(valid, back)
    return _new_ones(valid, returned)


def _mark_back_online(valid: Sequence[_Valid], back: set[int]) -> None:
    for v in valid:
        if v.device.pk in back:
            v.device.status = OFFLINE
        elif v.device.status == OFFLINE:
            v.device.status = ONLINE


def _db_ts(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _liveness_rows(
    valid: Sequence[_Valid], now: dt.datetime
) -> list[tuple[int, dt.datetime, int | None]]:
    """Which devices to mark as seen (throttled), back online, and their latest battery
    level: ``(device, newest device time, battery or None)``.

    Redelivered duplicates count as a sign of life too. Battery comes from the message
    with the newest device time, so a late message never sets an old level."""
    newest: dict[int, _Valid] = {}
    battery: dict[int, tuple[dt.datetime, int]] = {}
    for v in valid:
        pk = v.device.pk
        if pk not in newest or v.device_ts > newest[pk].device_ts:
            newest[pk] = v
        reported = v.data.get("battery")
        if isinstance(reported, int) and (pk not in battery or v.device_ts >= battery[pk][0]):
            battery[pk] = (v.device_ts, reported)
    stale = now - SEEN_WRITE_INTERVAL
    rows: list[tuple[int, dt.datetime, int | None]] = []
    for pk, v in newest.items():
        device = v.device
        level: int | None = None
        if pk in battery:
            ts, value = battery[pk]
            late = device.last_device_ts is not None and ts < device.last_device_ts
            level = value if value != device.battery and not late else None
        if (
            level is not None
            or device.last_seen_at is None
            or device.last_seen_at <= stale
            or device.status == OFFLINE
        ):
            rows.append((pk, v.device_ts, level))
    return rows


def _touch_devices(valid: Sequence[_Valid], now: dt.datetime) -> None:
    """Write the liveness of ``valid``'s devices by itself (a batch on PostgreSQL sends
    it with its messages, in :func:`_write_postgresql`). Times only move forward,
    whatever order concurrent ingest processes commit in."""
    rows = _liveness_rows(valid, now)
    if not rows:
        return
    if connection.vendor != "postgresql":
        _touch_sqlite(rows, now)
        return
    ids = [r[0] for r in rows]
    with pg_cursor() as cursor:
        cursor.execute(_BACK_ONLINE_PG, [ONLINE, ids, OFFLINE])
        back = {row[0] for row in cursor.fetchall()}
        cursor.execute(_LIVENESS_PG, [now, now, ids, [r[1] for r in rows], [r[2] for r in rows]])
    _mark_back_online(valid, back)


def _touch_sqlite(rows: list[tuple[int, dt.datetime, int | None]], now: dt.datetime) -> None:
    """One prepared ``UPDATE`` run for each device (``executemany``): SQLite has no
    arrays to join against, and a ``CASE`` with one branch per device made the statement
    — and its parsing — grow with the batch. The transaction already holds SQLite's
    write lock (``IMMEDIATE``), so the rows cannot change underneath."""
    at = _db_ts(now)
    offline, online = str(DeviceStatus.OFFLINE.value), str(DeviceStatus.ONLINE.value)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Device._meta.db_table} SET "  # noqa: S608 - fixed names; values are parameters
            "last_seen_at = MAX(COALESCE(last_seen_at, %s), %s), "
            "last_device_ts = CASE WHEN last_device_ts IS NULL OR last_device_ts < %s "
            "THEN %s ELSE last_device_ts END, "
            "battery = COALESCE(%s, battery), "
            "status = CASE WHEN status = %s THEN %s ELSE status END "
            "WHERE id = %s",
            [
                (at, at, _db_ts(ts), _db_ts(ts), level, offline, online, pk)
                for pk, ts, level in rows
            ],
        )
