"""The alarm engine (告警引擎): runs the rules over a batch of newly stored messages.

Called by ingest inside the batch's transaction, so everything it changes — rule
state, alarms, the cases alarms open — commits with the messages or not at all, and a
killed process redoes the batch from the broker's redelivery without double counting
(only messages that were new to the database reach the engine).

Durations and windows are measured on device timestamps; a message older than the
newest one a threshold rule has seen is stored but does not move its state back. Alarm
times are server times (when the message arrived), so the console sorts by what the
people watching it saw.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from .choices import OPEN_ALARM_STATUSES, DeviceStatus, RuleKind
from .devicetypes import ACTIVITY
from .lifecycle import auto_clear, raise_alarm
from .models import Alarm, AlarmRule, Device, RuleState
from .refs import DeviceRef, locked_ids, pg_cursor
from .registry import (
    Predicate,
    Subject,
    compile_condition,
    predicate,
    registry_for,
    schema_key,
)

RULES_TTL_S = 5.0
CLEARED_BY_RULE = "clear_condition"
# Plain strings: an enum member's attribute lookup costs more than the comparison, and
# these are read for every message and rule.
THRESHOLD, REPEAT = str(RuleKind.THRESHOLD.value), str(RuleKind.REPEAT.value)
STATEFUL = frozenset({THRESHOLD, REPEAT})
OFFLINE = str(DeviceStatus.OFFLINE.value)


@dataclass(frozen=True)
class CompiledRule:
    rule: AlarmRule
    condition: Predicate | None
    clear: Predicate | None


@dataclass(frozen=True)
class Stored:
    """A message the database had not seen before, as the engine reads it."""

    device: DeviceRef
    kind: str
    device_ts: dt.datetime
    received_at: dt.datetime
    data: dict[str, Any]
    message_id: str = ""

    def subject(self) -> dict[str, Any]:
        return {**self.data, "kind": self.kind}


@dataclass
class EngineResult:
    raised: list[int] = field(default_factory=list)
    repeated: int = 0
    cleared: list[int] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)


# --- the rule book: compiled once, reloaded when a rule changes ----------------------------
class RuleBook:
    """The enabled rules, compiled, with a per-(type, area) selection cache. Every process
    keeps one; a saved rule invalidates it here, and other processes within seconds."""

    def __init__(self) -> None:
        self.loaded_at = 0.0
        self.rules: list[CompiledRule] = []
        self.by_device: dict[tuple[int, str], list[CompiledRule]] = {}
        self.welfare: AlarmRule | None = None
        self.offline: list[AlarmRule] = []

    def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.loaded_at < RULES_TTL_S:
            return
        compiled: list[CompiledRule] = []
        welfare = None
        offline = []
        for rule in AlarmRule.objects.filter(enabled=True).select_related("device_type"):
            if rule.kind == RuleKind.WELFARE:
                welfare = welfare or rule
                continue
            if rule.kind == RuleKind.OFFLINE:
                offline.append(rule)
                continue
            if rule.kind == RuleKind.AREA_OFFLINE:
                continue  # raised and cleared by the offline job, never by a message
            dtype = rule.device_type
            code = dtype.code if dtype else None
            schema = dtype.schema if dtype else None
            compiled.append(
                CompiledRule(
                    rule,
                    _compile(rule.condition, code, schema),
                    _compile(rule.clear_condition, code, schema),
                )
            )
        self.rules, self.welfare, self.offline = compiled, welfare, offline
        self.by_device = {}
        self.loaded_at = time.monotonic()

    def for_device(self, device: DeviceRef) -> list[CompiledRule]:
        key = (device.device_type_id, device.area_path)
        found = self.by_device.get(key)
        if found is None:
            found = [c for c in self.rules if c.rule.applies_to(device)]
            self.by_device[key] = found
        return found


_compiled: dict[tuple[str | None, str, str], Predicate] = {}


def _compile(source: str, type_code: str | None, schema: Any) -> Predicate | None:
    """A condition's predicate, compiled once per process and schema (reloading the rule
    book every few seconds then costs one query, not a parse of every rule; a type saved
    with a new schema compiles its rules again against it)."""
    if not source.strip():
        return None
    key = (type_code, source, schema_key(schema))
    if key not in _compiled:
        _compiled[key] = predicate(compile_condition(source, registry_for(type_code, schema)))
    return _compiled[key]


BOOK = RuleBook()
_activity: dict[str, Predicate] = {}


def activity_predicate(type_code: str) -> Predicate | None:
    """Whether a message of this type shows someone active at home (``ACTIVITY``)."""
    if type_code not in ACTIVITY:
        return None
    if type_code not in _activity:
        _activity[type_code] = predicate(
            compile_condition(ACTIVITY[type_code], registry_for(type_code))
        )
    return _activity[type_code]


@receiver(post_save, sender=AlarmRule, dispatch_uid="iot-rulebook-save")
@receiver(post_delete, sender=AlarmRule, dispatch_uid="iot-rulebook-delete")
def _rules_changed(**_: Any) -> None:
    BOOK.loaded_at = 0.0


# --- evaluation ----------------------------------------------------------------------------
@dataclass
class _Action:
    device: DeviceRef
    rule: AlarmRule
    raise_: bool
    at: dt.datetime
    detail: dict[str, Any]
    note: str = ""


def _in_daily_window(rule: AlarmRule, ts: dt.datetime) -> bool:
    if rule.window_start is None or rule.window_end is None:
        return True
    now = timezone.localtime(ts).time()
    start, end = rule.window_start, rule.window_end
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # a window across midnight (22:00–05:00)


def _detail(msg: Stored) -> dict[str, Any]:
    return {"kind": msg.kind, "device_ts": msg.device_ts.isoformat(), "data": msg.data}


Step = tuple[str | None, bool]  # (raise / clear / nothing, whether the state changed)


def _step_threshold(c: CompiledRule, msg: Stored, subject: Subject, state: dict[str, Any]) -> Step:
    """Raise when the condition has held for ``duration_s`` of device time.

    Only a change of ``since`` is worth a write; ``last`` (the newest device time seen,
    which keeps late messages from resetting the window) travels along with it."""
    ts = msg.device_ts.timestamp()
    last = state.get("last")
    if last is not None and ts < last:
        return None, False  # late message: stored, but the window is already past it
    state["last"] = ts
    before = state.get("since")
    if c.condition is not None and c.condition(subject):
        if before is None:
            state["since"] = ts
        held = ts - state["since"] >= c.rule.duration_s
        return ("raise" if held else None), before is None
    state["since"] = None
    outcome = "clear" if c.clear is not None and c.clear(subject) else None
    return outcome, before is not None


def _step_repeat(c: CompiledRule, msg: Stored, subject: Subject, state: dict[str, Any]) -> Step:
    """Raise when the condition happened ``count`` times within ``window_s`` (inside the
    rule's daily time window, if it has one)."""
    if c.condition is not None and c.condition(subject):
        if not _in_daily_window(c.rule, msg.device_ts):
            return None, False
        ts = msg.device_ts.timestamp()
        newest = max([ts, *state.get("times", [])])
        times = sorted(x for x in [*state.get("times", []), ts] if x > newest - c.rule.window_s)
        state["times"] = times[-max(4 * c.rule.count, 16) :]
        hits = sum(1 for x in times if ts - c.rule.window_s < x <= ts)
        return ("raise" if hits >= c.rule.count else None), True
    return ("clear" if c.clear is not None and c.clear(subject) else None), False


def _step_event(c: CompiledRule, subject: Subject) -> str | None:
    if c.condition is not None and c.condition(subject):
        return "raise"
    return "clear" if c.clear is not None and c.clear(subject) else None


def evaluate(
    messages: Iterable[Stored], *, now: dt.datetime | None = None, cases_in_batch: bool = False
) -> EngineResult:
    """Run every applicable rule over ``messages`` (new ones only), in device-time order,
    and apply the resulting raises and clears. Must run inside the batch transaction.
    New alarms' cases follow in a job after the commit, or with ``cases_in_batch`` in the
    batch itself (see :func:`jiayuan.iot.ingest.ingest_batch`)."""
    BOOK.refresh()
    ordered = sorted(messages, key=lambda m: m.device_ts)
    result = EngineResult()
    if not ordered:
        return result
    states = _load_states(ordered)
    dirty_states: set[tuple[int, int]] = set()
    actions: list[_Action] = []
    active_dwellings: dict[int, dt.datetime] = {}
    for msg in ordered:
        device = msg.device
        subject = msg.subject()
        for c in BOOK.for_device(device):
            rule = c.rule
            if rule.message_kind and rule.message_kind != msg.kind:
                continue
            if rule.kind in STATEFUL:
                key = (rule.pk, device.pk)
                state = states.setdefault(key, {})
                step = _step_threshold if rule.kind == THRESHOLD else _step_repeat
                outcome, changed = step(c, msg, subject, state)
                if changed:
                    dirty_states.add(key)
            else:
                outcome = _step_event(c, subject)
            if outcome == "raise":
                actions.append(_Action(device, rule, True, msg.received_at, _detail(msg)))
            elif outcome is not None:
                actions.append(_Action(device, rule, False, msg.received_at, {}, CLEARED_BY_RULE))
        _track_activity(msg, subject, states, dirty_states, active_dwellings)
    _offline_back(ordered, actions)
    _apply(actions, result, after_commit=not cases_in_batch)
    _clear_welfare(active_dwellings, result)
    _save_states(states, dirty_states)
    return result


def _track_activity(
    msg: Stored,
    subject: Subject,
    states: dict[tuple[int, int], dict[str, Any]],
    dirty: set[tuple[int, int]],
    active_dwellings: dict[int, dt.datetime],
) -> None:
    """Remember the newest activity of a door sensor or water meter (welfare check)."""
    welfare = BOOK.welfare
    if welfare is None or not msg.device.device_type.activity:
        return
    check = activity_predicate(msg.device.device_type.code)
    if check is None or not check(subject):
        return
    key = (welfare.pk, msg.device.pk)
    state = states.setdefault(key, {})
    ts = msg.device_ts.timestamp()
    if ts > (state.get("last_activity") or 0):
        state["last_activity"] = ts
        dirty.add(key)
    if msg.device.dwelling_id is not None:
        active_dwellings[msg.device.dwelling_id] = msg.received_at


def _offline_back(messages: list[Stored], actions: list[_Action]) -> None:
    """A device the offline job marked offline talks again: clear its offline alarm."""
    back = {m.device.pk: m for m in messages if m.device.status == OFFLINE}
    for msg in back.values():
        for rule in BOOK.offline:
            if rule.applies_to(msg.device):
                actions.append(
                    _Action(msg.device, rule, False, msg.received_at, {}, note="设备恢复通信")
                )


def _apply(actions: list[_Action], result: EngineResult, *, after_commit: bool) -> None:
    if not actions:
        return
    open_alarms: dict[tuple[int, int], Alarm | None] = {}
    devices, rules = {a.device.pk for a in actions}, {a.rule.pk for a in actions}
    found = locked_ids(
        Alarm._meta.db_table,
        status=[str(s) for s in OPEN_ALARM_STATUSES],
        device_id=devices,
        rule_id=rules,
    )
    if found is not None:
        rows = Alarm.objects.filter(pk__in=found)
    else:
        rows = Alarm.objects.filter(
            device_id__in=devices, rule_id__in=rules, status__in=OPEN_ALARM_STATUSES
        )
        if connection.features.has_select_for_update:
            rows = rows.select_for_update()
    for alarm in rows:
        open_alarms[(alarm.device_id, alarm.rule_id)] = alarm
    dirty: dict[int, Alarm] = {}
    loaded: dict[int, Device] = {}
    for action in actions:
        key = (action.device.pk, action.rule.pk)
        current = open_alarms.get(key)
        if action.raise_:
            if current is not None:
                current.count += 1
                current.last_at = max(current.last_at, action.at)
                current.detail = action.detail
                current.updated_at = timezone.now()
                dirty[current.pk] = current
                result.repeated += 1
                continue
            if action.device.pk not in loaded:
                loaded[action.device.pk] = action.device.load()
            # The case (and the grid's notice) follow in a job after the batch commits:
            # case intake inside the batch would hold every message behind it.
            alarm, new = raise_alarm(
                loaded[action.device.pk], action.rule, at=action.at, detail=action.detail,
                after_commit=after_commit,
            )  # fmt: skip
            open_alarms[key] = alarm
            if new:
                result.raised.append(alarm.pk)
                if alarm.case_ref:
                    result.cases.append(alarm.case_ref)
            else:
                result.repeated += 1
        elif current is not None:
            if current.pk in dirty:
                dirty.pop(current.pk).save(
                    update_fields=["count", "last_at", "detail", "updated_at"]
                )
            note = action.note
            if note == CLEARED_BY_RULE:
                note = f"满足解除条件：{action.rule.clear_condition}"
            auto_clear(current, at=action.at, note=note)
            open_alarms[key] = None
            result.cleared.append(current.pk)
    if dirty:
        Alarm.objects.bulk_update(
            list(dirty.values()), ["count", "last_at", "detail", "updated_at"]
        )


def _clear_welfare(active_dwellings: dict[int, dt.datetime], result: EngineResult) -> None:
    if not active_dwellings or BOOK.welfare is None:
        return
    rows = Alarm.objects.filter(
        rule=BOOK.welfare,
        device__dwelling_id__in=list(active_dwellings),
        status__in=OPEN_ALARM_STATUSES,
    ).select_related("device")
    for alarm in rows:
        at = active_dwellings[alarm.device.dwelling_id or 0]
        auto_clear(alarm, at=at, note="住所恢复活动")
        result.cleared.append(alarm.pk)


def _load_states(messages: list[Stored]) -> dict[tuple[int, int], dict[str, Any]]:
    rule_ids = [c.rule.pk for c in BOOK.rules if c.rule.kind in STATEFUL]
    if BOOK.welfare is not None:
        rule_ids.append(BOOK.welfare.pk)
    if not rule_ids:
        return {}
    stateful = {c.rule.device_type_id for c in BOOK.rules if c.rule.kind in STATEFUL}
    devices = {
        m.device.pk
        for m in messages
        if m.device.device_type.activity or None in stateful or m.device.device_type_id in stateful
    }
    if not devices:
        return {}
    if connection.vendor == "postgresql":
        # One round trip: the rows locked (in id order, as every process locks them) and
        # read by the same statement, with one array parameter per column.
        with pg_cursor() as cursor:
            cursor.execute(
                f"SELECT rule_id, device_id, state FROM {RuleState._meta.db_table} "  # noqa: S608 - fixed names
                "WHERE rule_id = ANY(%s) AND device_id = ANY(%s) ORDER BY id FOR UPDATE",
                [rule_ids, list(devices)],
            )
            return {
                (rule_id, device_id): _state(state)
                for rule_id, device_id, state in cursor.fetchall()
            }
    # SQLite: no row locks, and none needed — ingest transactions are IMMEDIATE, so the
    # batch holds the database's write lock from its first statement to its commit and
    # no other process can change rule state between this read and the write back.
    rows = RuleState.objects.filter(rule_id__in=rule_ids, device_id__in=devices)
    return {
        (rule_id, device_id): dict(state)
        for rule_id, device_id, state in rows.values_list("rule_id", "device_id", "state")
    }


def _state(raw: Any) -> dict[str, Any]:
    return dict(raw) if isinstance(raw, dict) else dict(json.loads(raw))


def _save_states(
    states: dict[tuple[int, int], dict[str, Any]], dirty: set[tuple[int, int]]
) -> None:
    if not dirty:
        return
    now = timezone.now()
    keys = sorted(dirty)
    if connection.vendor == "postgresql":
        # Three arrays instead of one model instance and four parameters per row.
        with pg_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {RuleState._meta.db_table} (rule_id, device_id, state, updated_at) "  # noqa: S608 - fixed names
                "SELECT r, d, s::jsonb, %s FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) "
                "AS v(r, d, s) ON CONFLICT (rule_id, device_id) DO UPDATE "
                "SET state = excluded.state, updated_at = excluded.updated_at",
                [
                    now, [k[0] for k in keys], [k[1] for k in keys],
                    [json.dumps(states[k]) for k in keys],
                ],
            )  # fmt: skip
        return
    RuleState.objects.bulk_create(
        [
            RuleState(rule_id=rule_id, device_id=device_id, state=states[(rule_id, device_id)],
                      updated_at=now)
            for rule_id, device_id in keys
        ],
        update_conflicts=True,
        unique_fields=["rule", "device"],
        update_fields=["state", "updated_at"],
    )  # fmt: skip
