"""Alarm conditions in the rule language: checked when saved, and the hot-path closure
agrees with the rule language's own Python back end."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from jiayuan.core.errors import ValidationFailed
from jiayuan.core.rules import RuleError
from jiayuan.iot import refs
from jiayuan.iot.devicetypes import DEVICE_TYPES, validate_payload
from jiayuan.iot.models import Alarm, AlarmRule, DeviceType
from jiayuan.iot.registry import compile_condition, predicate, registry_for, validate_rule

from .conftest import item

TODAY = dt.date(2026, 11, 28)

CASES: list[tuple[str | None, str, list[dict[str, Any]]]] = [
    ("gas", "lel >= 25", [{"lel": 25}, {"lel": 24.9}, {"lel": None}, {}]),
    ("gas", 'kind == "telemetry" and lel - 5 > 20', [{"kind": "telemetry", "lel": 26}]),
    ("face_gate", 'event == "stranger" and similarity < 0.6',
     [{"event": "stranger", "similarity": 0.2}, {"event": "stranger"},
      {"event": "recognised", "similarity": 0.1}]),
    ("access", 'event in ("forced_open", "held_open") and not door == null',
     [{"event": "forced_open", "door": "东门"}, {"event": "forced_open"}]),
    ("fence", 'zone.startswith("东") or event != "intrusion"',
     [{"event": "intrusion", "zone": "东墙"}, {"event": "intrusion", "zone": "西墙"},
      {"event": "clear"}]),
    (None, 'event == "tamper" or battery < 15',
     [{"event": "tamper"}, {"battery": 10}, {"battery": 50, "event": "x"}]),
]  # fmt: skip


@pytest.mark.parametrize(("type_code", "source", "subjects"), CASES)
def test_fast_predicate_agrees_with_rule_evaluate(
    type_code: str | None, source: str, subjects: list[dict[str, Any]]
) -> None:
    rule = compile_condition(source, registry_for(type_code))
    fast = predicate(rule)
    for subject in subjects:
        assert fast(subject) == rule.evaluate(subject, TODAY).matched, subject


@pytest.mark.parametrize(
    ("type_code", "source", "word"),
    [
        ("gas", 'lel >= "high"', "lel"),
        ("gas", "temperature > 50", "temperature"),  # not a field of gas detectors
        ("smoke", 'event == "burning"', "burning"),  # not one of the schema's values
        ("smoke", 'verify("有人在家")', "verify"),
    ],
)
def test_bad_conditions_are_refused_when_saved(type_code: str, source: str, word: str) -> None:
    with pytest.raises((RuleError, ValidationFailed)) as err:
        validate_rule(kind="event", condition=source, clear_condition="", type_code=type_code)
    assert word in str(err.value)


def test_rule_kinds_need_their_parameters() -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_rule(kind="threshold", condition="lel > 1", clear_condition="", type_code="gas")
    assert err.value.field == "duration_s"
    with pytest.raises(ValidationFailed):
        validate_rule(kind="repeat", condition='event == "stranger"', clear_condition="",
                      type_code="face_gate", count=1, window_s=60)  # fmt: skip
    with pytest.raises(ValidationFailed):
        validate_rule(kind="event", condition="", clear_condition="", type_code="smoke")
    with pytest.raises(RuleError) as bad_clear:
        validate_rule(kind="event", condition='event == "alarm"', clear_condition="lel <",
                      type_code="smoke")  # fmt: skip
    assert bad_clear.value.field == "clear_condition"


def test_payload_schema_checks() -> None:
    gas = DEVICE_TYPES["gas"][2]
    assert validate_payload(gas, "telemetry", {"lel": 12.5, "battery": 80, "vendor_x": 1}) is None
    assert "missing field lel" in (validate_payload(gas, "telemetry", {}) or "")
    assert "out of range" in (validate_payload(gas, "telemetry", {"lel": 140}) or "")
    assert "integer" in (validate_payload(gas, "heartbeat", {"battery": 5.5}) or "")
    assert "number" in (validate_payload(gas, "telemetry", {"lel": True}) or "")
    assert "sends no" in (validate_payload(DEVICE_TYPES["door_sensor"][2], "telemetry", {}) or "")
    assert "object" in (validate_payload(gas, "heartbeat", [1]) or "")


# --- defect 6: a changed device-type schema reaches a running process -------------------------
def test_a_changed_schema_reaches_the_running_pipeline(make_device: Any, send: Any) -> None:
    # given a running pipeline that has already validated and evaluated gas readings
    device = make_device("gas")
    assert send(item(device, "telemetry", {"lel": 3.0})).stored == 1
    # when the gas type is saved with a new field (carbon monoxide) and a tighter %LEL range
    gas = DeviceType.objects.get(code="gas")
    schema = copy.deepcopy(gas.schema)
    schema["telemetry"]["co_ppm"] = {"type": "int", "min": 0, "max": 2000, "label": "一氧化碳"}
    schema["telemetry"]["lel"]["max"] = 50
    gas.schema = schema
    gas.save()
    # then a rule on the new field is checked against the stored schema and can be saved
    validate_rule(kind="event", condition="co_ppm >= 200", clear_condition="", type_code="gas",
                  schema=schema)  # fmt: skip
    AlarmRule.objects.create(
        code="co_high", name="一氧化碳超标", device_type=gas, kind="event",
        message_kind="telemetry", condition="co_ppm >= 200", severity="major",
    )  # fmt: skip
    # and once the process looks at the types again (every few seconds), the same
    # pipeline validates with the new schema and runs the new rule
    refs.TYPES.checked_at -= refs.TYPES_CHECK_S
    result = send(
        item(device, "telemetry", {"lel": 60.0}),
        item(device, "telemetry", {"lel": 4.0, "co_ppm": 350}),
    )
    assert result.stored == 1
    assert [r.index for r in result.rejected] == [0] and "lel" in result.rejected[0].reason
    assert Alarm.objects.filter(device=device, rule__code="co_high").count() == 1


def test_the_type_check_is_one_cheap_query_every_few_seconds(
    make_device: Any, django_assert_num_queries: Any
) -> None:
    device = make_device("smoke")
    refs.TYPES.get(device.device_type_id)  # loaded
    with django_assert_num_queries(0):  # within the interval: nothing asked
        refs.TYPES.get(device.device_type_id)
    refs.TYPES.checked_at -= refs.TYPES_CHECK_S
    with django_assert_num_queries(1):  # after it, unchanged: only the version is read
        refs.TYPES.get(device.device_type_id)


@pytest.mark.parametrize("raw", [None, 0, 7, -3, True, False, "7", "x", "", 1.5, "alarm", [1]])
@pytest.mark.parametrize("kind", ["int", "decimal", "str", "bool", "enum"])
def test_payload_readers_agree_with_coerce_json(kind: str, raw: Any) -> None:
    """The fast readers of payload fields decide exactly what ``coerce_json`` decides."""
    from jiayuan.core.rules.types import coerce_json
    from jiayuan.iot.registry import _field, _rule_type

    spec = {"type": kind, "values": ["alarm", "clear"]}
    rtype = _rule_type("f", spec)
    field = _field("f", rtype, "f")
    assert field.python({"f": raw}, None) == coerce_json(rtype, raw)
