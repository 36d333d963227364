"""The hand-off (转交网格员): a question the assistant could not answer becomes a case for
the asker's grid worker.

The case is opened through the incident bridge (:func:`jiayuan.core.incidents.raise_incident`,
key ``ask:<id>``, category 09 政策咨询, channel 数字助理, level grid), in the same
transaction as the ask's ``case_number``, so the two commit together; the asker is told
when to expect a reply from the case's due time (:func:`jiayuan.core.incidents.incident_status`).
Only the asker hands off their own question, once; an anonymous asker (or an account
with no resident record) is told to log in or call the office instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.incidents import incident_statuses, raise_incident
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.org.paths import ancestor_path
from jiayuan.people.models import Person
from jiayuan.people.residents import person_of

from .choices import HANDOFF_KEY_KIND
from .models import Ask

CATEGORY_CODE = "09"  # 政策咨询
CASE_CHANNEL = "assistant"  # the cases' channel 数字助理
CASE_LEVEL = "grid"


def key_of(ask: Ask) -> str:
    return f"{HANDOFF_KEY_KIND}:{ask.pk}"


def check_may_hand_off(user: Any) -> Person:
    """The asker's resident record; 403 for an anonymous asker or an account that is not a
    resident's (they are told to log in or call the community)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied(
            "请登录后再转交网格员，或直接致电社区党群服务中心咨询",
            "log in to hand the question to your grid worker, or call the community office",
        )
    person = person_of(user)
    if person is None:
        raise PermissionDenied(
            "只有登记在册的居民可以转交网格员，请致电社区党群服务中心咨询",
            "only registered residents can hand a question off; call the community office",
        )
    return person


def _home_area(person: Person) -> Area:
    area = Area.objects.filter(path=person.area_path).first() if person.area_path else None
    try:
        ancestor_path(area.path if area is not None else "", AreaKind.GRID)
    except ValueError:  # registered above a grid: nobody to route the case to
        area = None
    if area is None:
        raise ValidationFailed(
            "您的登记信息中没有所在网格，请致电社区党群服务中心咨询",
            "your record names no grid; call the community office",
        )
    return area


def due_text(due_at: dt.datetime | None) -> str:
    """ "网格员将在 <date> 前联系您" from the case's due time."""
    if due_at is None:
        return "网格员会尽快联系您。"
    local = timezone.localtime(due_at)
    return f"网格员将在 {local:%Y年%m月%d日 %H:%M} 前联系您。"


def open_case(row: Ask, person: Person) -> str:
    """Open the case of ``row`` for ``person``'s grid worker through the incident bridge
    and return its number (the caller stores it; the demo's seed calls this too)."""
    number = raise_incident(
        Ask,
        key=key_of(row),
        category_code=CATEGORY_CODE,
        title=f"居民咨询：{row.question[:40]}",
        description=f"居民通过数字助理提问，助理未能回答，请联系居民答复。\n问题：{row.question}",
        area=_home_area(person),
        dwelling=None,
        lat=None,
        lng=None,
        priority="normal",
        channel=CASE_CHANNEL,
        level=CASE_LEVEL,
        reporter=person,
    )
    if not number:
        raise ValidationFailed(
            "暂时无法转交，请致电社区党群服务中心咨询", "the hand-off failed; call the office"
        )
    return number


def hand_off(ask: Ask, *, user: Any) -> dict[str, Any]:
    """Open the case of ``ask`` for the asker's grid worker; returns ``{"case",
    "status", "due_at", "message"}``. 404 for anyone but the asker, 409 when already
    handed off or when the assistant answered."""
    person = check_may_hand_off(user)
    with transaction.atomic():
        row = Ask.objects.select_for_update().filter(pk=ask.pk, user_id=user.pk).first()
        if row is None:
            raise NotFound("提问不存在", "ask not found")
        if row.case_number:
            raise Conflict("这个问题已经转交网格员", "this question was already handed off")
        if not row.abstained:
            raise Conflict(
                "这个问题已有答复，如仍有疑问请重新提问",
                "the assistant answered this question; ask again if in doubt",
            )
        number = open_case(row, person)
        row.case_number = number
        row.handed_off_at = timezone.now()
        if row.person_id is None:
            row.person = person
        row.save(update_fields=["case_number", "handed_off_at", "person"])
    ask.case_number, ask.handed_off_at = row.case_number, row.handed_off_at
    return status_of(row) or {"case": number, "status": "", "due_at": None, "message": ""}


def _status(number: str, found: dict[str, Any]) -> dict[str, Any]:
    due_at = found.get("due_at")
    is_open = found.get("open", True)
    message = due_text(due_at) if is_open else f"已办结（{found.get('status_label', '')}）。"
    return {
        "case": number,
        "status": found.get("status_label", ""),
        "open": is_open,
        "due_at": due_at,
        "message": message,
    }


def statuses_of(asks: list[Ask]) -> dict[int, dict[str, Any]]:
    """Where the hand-off of each handed-off ask stands (one bridge call for all), by
    the ask's id: ``{"case", "status", "open", "due_at", "message"}``."""
    handed = [a for a in asks if a.case_number]
    found = incident_statuses(Ask, [key_of(a) for a in handed])
    return {a.pk: _status(a.case_number, found.get(key_of(a), {})) for a in handed}


def status_of(ask: Ask) -> dict[str, Any] | None:
    """Where the hand-off of ``ask`` stands, or ``None`` when it was not handed off."""
    return statuses_of([ask]).get(ask.pk)
