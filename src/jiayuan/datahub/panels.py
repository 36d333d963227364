"""The person page's 数据来源 card: where each imported field of a resident comes from.

For each field: the value the record holds, the source, the as-of date and the rank of
the value it holds, and beside it the values other sources sent that lost on rank
(personal ones masked as they are stored). Below: the history of held values changed by
imports and by review decisions (:class:`~.models.FieldChange`), and the latest edits
users made through the person form, which the audit log records (those are not
imports; a user's edit stays until a source sends a new value for the field).
Registered into :mod:`jiayuan.people.panels` (``people`` may not import ``datahub``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string

from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed, scope_q
from jiayuan.people.choices import Gender, HukouType, Relation, ResidenceStatus
from jiayuan.people.panels import register_person_panel

from .models import ChangeKind, FieldChange, ReviewPair, ReviewStatus, Source
from .provenance import PERSON, PERSON_FIELDS, values_of

PANEL_NAME = "数据来源"
HISTORY_LIMIT = 30


def render_source_panel(request: HttpRequest, person: Any) -> str:
    """The card, or nothing when no source has spoken about the resident."""
    user = request.user
    if not path_allowed(user, person.area_path, Perm.VIEW):
        return ""
    values = values_of(PERSON, person.pk)
    pairs = list(
        ReviewPair.objects.filter(scope_q(user), person_id=person.pk, status=ReviewStatus.PENDING)
        .order_by("-score", "pk")
        .values("pk", "score", "line", "run_id")[:5]
    )
    if not values and not pairs:
        return ""
    history = list(
        FieldChange.objects.filter(entity=PERSON, object_id=person.pk).order_by("-at", "-id")[
            :HISTORY_LIMIT
        ]
    )
    source_ids = {v.source_id for v in values} | {h.source_id for h in history if h.source_id}
    sources = {s.pk: s for s in Source.objects.filter(pk__in=source_ids)}
    actor_ids = {h.actor_id for h in history if h.actor_id}
    names: dict[int, str] = {}
    if actor_ids:
        from django.contrib.auth import get_user_model

        names = dict(
            get_user_model().objects.filter(pk__in=actor_ids).values_list("pk", "username")
        )
    rows: dict[str, dict[str, Any]] = {}
    for v in values:
        item = {
            "source_name": sources[v.source_id].name if v.source_id in sources else "—",
            "shown": shown(v.field, v.value),
            "as_of": v.as_of,
            "rank": v.rank,
        }
        row = rows.setdefault(
            v.field,
            {"field": v.field, "label": PERSON_FIELDS.get(v.field, v.field), "held": None,
             "others": []},
        )  # fmt: skip
        if v.current and row["held"] is None:
            row["held"] = item
        else:
            row["others"].append(item)
    order = list(PERSON_FIELDS)
    fields = sorted(
        rows.values(), key=lambda r: order.index(r["field"]) if r["field"] in order else 99
    )
    for h in history:
        h.label = PERSON_FIELDS.get(h.field, h.field)  # type: ignore[attr-defined]
        h.old_shown, h.new_shown = shown(h.field, h.old), shown(h.field, h.new)  # type: ignore[attr-defined]
        source_name = sources[h.source_id].name if h.source_id in sources else ""
        actor_name = names.get(h.actor_id, "") if h.actor_id else ""
        h.by = changed_by(h.kind, source_name, h.run_id, actor_name)  # type: ignore[attr-defined]
    edits = list(
        AuditEntry.objects.for_object(person)
        .filter(action=AuditEntry.Action.UPDATE, actor__isnull=False)
        .exclude(note__startswith="数据导入")
        .order_by("-at", "-id")
        .values("at", "actor_name", "note")[:5]
    )
    context = {
        "person": person, "fields": fields, "history": history, "edits": edits, "pairs": pairs,
    }  # fmt: skip
    return render_to_string("datahub/panel.html", context, request=request)


#: Fields stored as the people app's codes: shown by their Chinese labels.
CHOICES: dict[str, dict[str, str]] = {
    name: {str(value): str(label) for value, label in choices.choices}
    for name, choices in (
        ("gender", Gender), ("relation", Relation), ("hukou_type", HukouType),
        ("residence_status", ResidenceStatus),
    )
}  # fmt: skip


def shown(field: str, value: str) -> str:
    """A stored value as the page shows it: a code by its label, anything else as is."""
    return CHOICES.get(field, {}).get(value, value)


def changed_by(kind: str, source: str, run_id: int | None, actor: str) -> str:
    """Who changed a held value: ``公安户籍 批次 #3`` for an import (whoever started
    it), ``张三（核对 公安户籍 批次 #3）`` for a review decision, the user otherwise."""
    batch = f"{source} 批次 #{run_id}" if source and run_id else source
    if kind == ChangeKind.IMPORT:
        return batch or "—"
    if kind == ChangeKind.REVIEW:
        who = actor or "—"
        return f"{who}（核对 {batch}）" if batch else f"{who}（核对）"
    return actor or batch or "—"


def register() -> None:
    """Start-up hook (:mod:`jiayuan.datahub.hooks`)."""
    register_person_panel(PANEL_NAME, render_source_panel, order=40)
