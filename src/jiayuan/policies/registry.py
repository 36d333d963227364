"""The registry policy rules are written against: a resident's fields
(:mod:`jiayuan.people.rules_fields`) plus ``receives("code")``, whether the person
receives a policy's benefit on the reference date.

The list of policy codes ``receives`` accepts comes from the database, so the registry
is built on first use and rebuilt when a policy is added or removed.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from django.db.models import Exists, Q
from django.db.models.signals import post_delete, post_save

from jiayuan.core.rules import BOOL, EnumType, Env, Function, Registry, Rule, SqlEnv, compile_rule
from jiayuan.core.validity import is_valid_on, valid_on
from jiayuan.people.rules_fields import Benefit, PersonFacts, person_registry

from .models import Policy, ReceivedBenefit

_lock = threading.Lock()
_cached: dict[str, Any] = {}


def receiving_on(day: dt.date) -> Q:
    """Benefit rows in force on ``day``."""
    return valid_on(day, start="since", end="until")


def receives(benefits: list[Benefit], code: str, day: dt.date) -> bool:
    """Whether ``benefits`` hold one of policy ``code`` in force on ``day``."""
    return any(
        policy == code and is_valid_on(since, until, day) for policy, since, until in benefits
    )


def receives_function(codes: list[str]) -> Function:
    def sql(env: SqlEnv, code: str) -> Q:
        rows = ReceivedBenefit.objects.filter(
            receiving_on(env.ref_date), person=env.outer("pk"), policy__code=code
        )
        return Q(Exists(rows))

    def python(p: PersonFacts, env: Env, code: str) -> bool:
        return receives(p.benefits, code, env.ref_date)

    return Function("receives", (EnumType.of("政策", codes),), BOOL, "已享受「{0}」", sql, python)


def policy_registry() -> Registry:
    """The registry for policy rules (cached; rebuilt when policies change)."""
    with _lock:
        registry = _cached.get("registry")
        if registry is None:
            codes = list(Policy.objects.order_by("code").values_list("code", flat=True))
            registry = _cached["registry"] = person_registry([receives_function(codes)])
        return registry


def compile_policy_rule(source: str) -> Rule:
    """Compile a policy rule; :class:`jiayuan.core.rules.RuleError` when it is invalid.
    Compiled rules are kept with the registry (a person's save rechecks every open
    match, a YAML run compiles each policy once per case otherwise)."""
    registry = policy_registry()
    with _lock:
        rules: dict[str, Rule] = _cached.setdefault("rules", {})
        found = rules.get(source)
    if found is None:
        found = compile_rule(source, registry)
        with _lock:
            if _cached.get("registry") is registry:
                _cached.setdefault("rules", {})[source] = found
    return found


def load_benefits(person_ids: list[int]) -> dict[int, list[Benefit]]:
    """Benefits received, for :func:`jiayuan.people.rules_fields.facts_of`."""
    out: dict[int, list[Benefit]] = {}
    rows = ReceivedBenefit.objects.filter(person_id__in=person_ids).values_list(
        "person_id", "policy__code", "since", "until"
    )
    for person_id, code, since, until in rows:
        out.setdefault(person_id, []).append((code, since, until))
    return out


def _forget(**_: Any) -> None:
    with _lock:
        _cached.clear()


post_save.connect(_forget, sender=Policy, dispatch_uid="policies.registry.save")
post_delete.connect(_forget, sender=Policy, dispatch_uid="policies.registry.delete")
