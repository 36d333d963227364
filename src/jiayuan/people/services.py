"""Domain actions on residents: create, change, search, reveal. Pages, API, CLI and
imports all call these, so validation, scope and audit behave the same everywhere."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.dispatch import Signal
from django.utils import timezone

from jiayuan.core import actions, audit, idnumber, pii
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.org.models import Area

from .models import Person, PersonTag

PHONE_RE = re.compile(r"^1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")
PII_INPUTS = ("id_number", "phone")

# Sent inside the transaction that moves a person to another area (a new dwelling in
# another grid, building or unit), after the person's own row and tags have moved, with
# ``person``, ``old_path``, ``new_path`` and ``actor``. The apps above ``people`` that
# keep rows on the person's area path (policies: benefits, open matches) move theirs,
# so nothing of the resident stays visible to the old grid's worker. A receiver that
# raises rolls the move back.
person_moved = Signal()


def validate_phone(raw: str) -> str:
    value = raw.strip().replace(" ", "")
    if value and not PHONE_RE.match(value):
        raise ValidationFailed(
            f"电话号码格式不正确：{value[:3]}…",
            "the phone number is not a mainland mobile or landline number",
            field="phone",
        )
    return value


def pii_changes(data: dict[str, Any], *, current_hukou: str = "") -> dict[str, Any]:
    """Validate ``id_number``/``phone`` popped from ``data`` and return the field values
    to store: ciphertext, blind index, mask, and the birth date and gender the ID says."""
    changes: dict[str, Any] = {}
    scratch = Person()
    if "id_number" in data:
        raw = data.pop("id_number") or ""
        if raw:
            try:
                parsed = idnumber.parse(raw)
            except idnumber.InvalidIDNumber as exc:
                exc.field = "id_number"
                raise
            scratch.set_id_number(parsed.value)
            changes.update(birth_date=parsed.birth_date, gender=parsed.gender)
            if not current_hukou and "hukou_code" not in data:
                changes["hukou_code"] = parsed.division
        else:
            scratch.set_id_number("")
        changes.update(
            id_number_enc=scratch.id_number_enc,
            id_number_index=scratch.id_number_index,
            id_number_masked=scratch.id_number_masked,
        )
    if "phone" in data:
        scratch.set_phone(validate_phone(data.pop("phone") or ""))
        changes.update(
            phone_enc=scratch.phone_enc,
            phone_index=scratch.phone_index,
            phone_masked=scratch.phone_masked,
        )
    return changes


def _check_unique_id(index: str, exclude_pk: int | None = None) -> None:
    if not index:
        return
    clash = Person.objects.filter(id_number_index=index)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(
            "该身份证号码已登记",
            "a person with this ID number is already registered",
            field="id_number",
        )


def create_person(*, actor: Any, area: Area, **data: Any) -> Person:
    """Register a resident in ``area`` (a grid, building or unit)."""
    data.update(pii_changes(data, current_hukou=data.get("hukou_code", "")))
    _check_unique_id(data.get("id_number_index", ""))
    return actions.create(Person, actor=actor, area=area, **data)


def update_person(person: Person, *, actor: Any, **data: Any) -> Person:
    """Change a resident's record; a new ID number is validated and re-encrypted. A
    move to another area takes the person's tags (and, through :data:`person_moved`,
    the other apps' rows about them) along in the same transaction."""
    data.update(pii_changes(data, current_hukou=person.hukou_code))
    _check_unique_id(data.get("id_number_index", ""), exclude_pk=person.pk)
    with transaction.atomic():
        old_path = person.area_path
        actions.update(person, actor=actor, **data)
        if person.area_path != old_path:
            _follow_person(person, old_path, actor)
    return person


def _follow_person(person: Person, old_path: str, actor: Any) -> None:
    """Re-home the rows that carry the person's area path. Tags keep their history
    (ended rows move too): the old grid no longer sees anything of the resident."""
    PersonTag.objects.filter(person=person).update(
        area_path=person.area_path, updated_at=timezone.now()
    )
    person_moved.send(
        sender=Person, person=person, old_path=old_path, new_path=person.area_path, actor=actor
    )


def search(queryset: QuerySet[Person], term: str) -> QuerySet[Person]:
    """Name (contains) or an exact ID number / phone through the blind index."""
    term = term.strip()
    if not term:
        return queryset
    compact = term.replace(" ", "").upper()
    if re.fullmatch(r"\d{17}[\dX]", compact):
        return queryset.filter(id_number_index=pii.blind_index(compact, purpose="id"))
    if re.fullmatch(r"1[3-9]\d{9}", compact):
        return queryset.filter(phone_index=pii.blind_index(compact, purpose="phone"))
    return queryset.filter(name__contains=term)


def reveal(person: Person, *, actor: Any) -> dict[str, str]:
    """Return the clear ID and phone numbers, and write the reveal to the audit log."""
    if not path_allowed(actor, person.area_path, Perm.VIEW):
        raise NotFound()
    if not path_allowed(actor, person.area_path, Perm.REVEAL_PII):
        raise PermissionDenied("没有查看完整身份信息的权限", "you may not reveal personal data")
    audit.record(
        AuditEntry.Action.REVEAL,
        person,
        actor,
        {"fields": list(PII_INPUTS)},
        "查看完整身份证号和电话",
    )
    return {"id_number": person.reveal_id_number(), "phone": person.reveal_phone()}
