"""The rule language over device messages: which names an alarm condition may use.

A condition is written against one message: ``kind`` (telemetry, event, heartbeat) and
the payload fields of the rule's device type (``event == "alarm"``, ``lel >= 25``,
``event == "stranger" and similarity < 0.6``). A rule without a device type may use
``kind``, ``event`` (as free text) and ``battery``. Conditions are checked with
:func:`compile_rule` when a rule is saved (unknown fields, wrong types and enum values
not in the schema are refused then) and run on the ingest hot path through
:func:`predicate`, a closure built once from the same typed tree with the same
missing-value semantics as the Python back end, minus the trace that only an
explanation needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
from collections.abc import Callable
from typing import Any

from jiayuan.core.errors import ValidationFailed
from jiayuan.core.rules import (
    BOOL,
    DECIMAL,
    INT,
    STR,
    EnumType,
    Env,
    Field,
    Registry,
    Rule,
    RuleError,
    RuleType,
    compile_rule,
)
from jiayuan.core.rules import typed as t
from jiayuan.core.rules.types import coerce_json

from .choices import MessageKind, RuleKind
from .devicetypes import DEVICE_TYPES, KindSchema, field_types

Subject = dict[str, Any]
Predicate = Callable[[Subject], bool]

KIND_TYPE = EnumType.of("kind", list(MessageKind.values))
_SCALARS: dict[str, RuleType] = {"int": INT, "decimal": DECIMAL, "str": STR, "bool": BOOL}
_registries: dict[str, Registry] = {}


def _field(name: str, rtype: RuleType, label: str) -> Field:
    """A payload field. Its reader is what :func:`coerce_json` does for the field's type,
    with the common cases decided first: every rule of every message reads fields, and
    a missing field or an enum or integer value needs no walk through the type list."""
    read: Callable[[Subject, Any], Any]
    if isinstance(rtype, EnumType):
        from_db = rtype.from_db

        def read(subject: Subject, env: Any) -> Any:
            raw = subject.get(name)
            return None if raw is None else from_db(raw)

    elif rtype == INT:

        def read(subject: Subject, env: Any) -> Any:
            raw = subject.get(name)
            if type(raw) is int:  # not bool, which coerce_json refuses
                return raw
            return None if raw is None else coerce_json(INT, raw)

    else:

        def read(subject: Subject, env: Any) -> Any:
            raw = subject.get(name)
            return None if raw is None else coerce_json(rtype, raw)

    return Field(name=name, type=rtype, label=label, sql=f"payload__{name}", python=read)


def _rule_type(name: str, spec: dict[str, Any]) -> RuleType:
    if spec.get("type") == "enum":
        return EnumType.of(name, [str(v) for v in spec.get("values", [])])
    return _SCALARS.get(str(spec.get("type")), STR)


def build_registry(label: str, schema: dict[str, KindSchema]) -> Registry:
    registry = Registry(label=label)
    registry.add(_field("kind", KIND_TYPE, "消息类型"))
    for name, spec in field_types(schema).items():
        registry.add(_field(name, _rule_type(name, spec), str(spec.get("label", name))))
    return registry


def schema_key(schema: Any) -> str:
    """A short stable key of a schema's content (``""`` for none): caches of what was
    built from a schema are keyed by it, so a changed schema is never served stale."""
    if not schema:
        return ""
    text = json.dumps(schema, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def registry_for(type_code: str | None, schema: dict[str, KindSchema] | None = None) -> Registry:
    """The registry for rules on one device type (``None``: any type: ``kind``, ``battery``).

    Shipped types come from ``devicetypes``; a type stored in the database passes its
    stored ``schema``. Registries are cached per type *and* schema content: a running
    process (ingest, web) that reads a type saved with a new schema builds the new
    registry instead of checking rules against the old one."""
    if type_code is not None and schema is None:
        schema = DEVICE_TYPES[type_code][2] if type_code in DEVICE_TYPES else {}
    key = f"{type_code or ''}:{schema_key(schema)}"
    if key not in _registries:
        if type_code is None:
            found: dict[str, KindSchema] = {
                "event": {"event": {"type": "str", "label": "事件"}},
                "heartbeat": {"battery": {"type": "int", "label": "电量"}},
            }
            _registries[key] = build_registry("设备消息", found)
        else:
            _registries[key] = build_registry(type_code, schema or {})
    return _registries[key]


def compile_condition(source: str, registry: Registry) -> Rule:
    """Parse and check a condition; ``verify(…)`` means nothing to a device and is refused."""
    rule = compile_rule(source, registry)
    if any(isinstance(node, t.TVerify) for node in rule.tree.walk()):
        raise ValidationFailed(
            "告警条件不能使用 verify(…)", "alarm conditions cannot use verify(…)"
        )
    return rule


NEEDS_CONDITION = (RuleKind.EVENT, RuleKind.THRESHOLD, RuleKind.REPEAT)


def validate_rule(
    *,
    kind: str,
    condition: str,
    clear_condition: str,
    type_code: str | None,
    schema: dict[str, KindSchema] | None = None,
    count: int = 1,
    duration_s: int = 0,
    window_s: int = 0,
) -> None:
    """Refuse a rule that could not run: bad conditions, missing duration or window.

    Called when a rule is saved (API, editor, defaults); raises :class:`ValidationFailed`
    (a :class:`RuleError` for a bad expression, naming the field)."""
    if kind not in RuleKind.values:
        raise ValidationFailed(f"未知规则类型 {kind}", f"unknown rule kind {kind}", field="kind")
    registry = registry_for(type_code, schema)
    for name, source in (("condition", condition), ("clear_condition", clear_condition)):
        if not source.strip():
            continue
        try:
            compile_condition(source, registry)
        except RuleError as err:
            err.field = name
            raise
    if kind in NEEDS_CONDITION and not condition.strip():
        raise ValidationFailed("请填写触发条件", "a condition is required", field="condition")
    if kind == RuleKind.THRESHOLD and duration_s <= 0:
        raise ValidationFailed("请填写持续时间", "a duration is required", field="duration_s")
    if kind == RuleKind.REPEAT and (count < 2 or window_s <= 0):
        raise ValidationFailed(
            "重复规则需要次数(≥2)和时间窗", "a repeat rule needs a count ≥ 2 and a window",
            field="count",
        )  # fmt: skip
    if kind in (RuleKind.OFFLINE, RuleKind.WELFARE) and duration_s <= 0:
        raise ValidationFailed("请填写时长", "a duration is required", field="duration_s")
    if kind == RuleKind.AREA_OFFLINE and count < 2:
        raise ValidationFailed(
            "区域集中离线规则的次数是同时离线的最少设备数(≥2)",
            "an area-offline rule's count is the least number of silent devices (≥ 2)",
            field="count",
        )


# --- the hot path ---------------------------------------------------------------------
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def predicate(rule: Rule) -> Predicate:
    """A closure deciding ``rule`` for one message, agreeing with ``Rule.evaluate``."""
    fn = _build(rule.tree)

    def holds(subject: Subject) -> bool:
        return fn(subject) is True

    return holds


# Payload fields do not depend on a reference date; the getters ignore it.
_NO_DATE = Env(ref_date=dt.date.min)


def _build(node: t.TNode) -> Callable[[Subject], Any]:
    if isinstance(node, t.TConst):
        value = node.value
        return lambda s: value
    if isinstance(node, t.TField):
        read = node.field.python
        if isinstance(node.type, EnumType):
            from_db = node.type.from_db
            return lambda s: from_db(read(s, _NO_DATE))
        return lambda s: read(s, _NO_DATE)
    if isinstance(node, t.TMethod):
        target, arg, method = _build(node.target), node.arg, node.method

        def call(s: Subject) -> bool:
            v = target(s)
            if v is None:
                return False
            if method == "startswith":
                return bool(v.startswith(arg))
            if method == "endswith":
                return bool(v.endswith(arg))
            return arg in v

        return call
    if isinstance(node, t.TArith):
        left, right, plus = _build(node.left), _build(node.right), node.op == "+"

        def arith(s: Subject) -> Any:
            lv, rv = left(s), right(s)
            if lv is None or rv is None:
                return None
            return lv + rv if plus else lv - rv

        return arith
    if isinstance(node, t.TNeg):
        inner = _build(node.operand)
        return lambda s: None if (v := inner(s)) is None else -v
    if isinstance(node, t.TCompare):
        return _compare(node)
    if isinstance(node, t.TIn):
        operand, items, negated = _build(node.operand), node.items, node.negated
        return lambda s: False if (v := operand(s)) is None else (v in items) != negated
    if isinstance(node, t.TBool):
        parts = [_build(o) for o in node.operands]
        if node.op == "and":
            return lambda s: all(p(s) is True for p in parts)
        return lambda s: any(p(s) is True for p in parts)
    if isinstance(node, t.TNot):
        inner_not = _build(node.operand)
        return lambda s: inner_not(s) is not True
    raise ValueError(f"not usable in an alarm condition: {node.src}")


def _is_null(node: t.TNode) -> bool:
    return isinstance(node, t.TConst) and node.value is None


def _compare(node: t.TCompare) -> Callable[[Subject], Any]:
    left, right = _build(node.left), _build(node.right)
    if _is_null(node.left) or _is_null(node.right):
        other = right if _is_null(node.left) else left
        want_null = node.op == "=="
        return lambda s: (other(s) is None) == want_null
    op = _CMP[node.op]

    def cmp(s: Subject) -> bool:
        lv, rv = left(s), right(s)
        if lv is None or rv is None:
            return False
        return bool(op(lv, rv))

    return cmp
