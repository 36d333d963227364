"""The knowledge base over the API: ``GET /assistant/entries`` and
``/assistant/entries/{key}``. Staff read every entry; anyone else (a resident) the
enabled ones, as the answers cite them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import NotFound
from jiayuan.core.schemas import Page, PageParams

from .. import asking
from ..models import Entry

router = Router(tags=["assistant"])


class FigureOut(Schema):
    name: str
    label: str
    value: str | None
    unit: str


class EntryRowOut(Schema):
    key: str
    title: str
    topic: str
    topic_label: str
    origin: str
    source: str
    article: str
    enabled: bool
    version: int
    updated_at: dt.datetime


class EntryOut(EntryRowOut):
    questions: list[str]
    answer: str
    source_level: str
    office: str
    hours: str
    local_figures: list[FigureOut]
    policy: str | None
    valid_from: dt.date | None
    valid_until: dt.date | None


class EntryFilter(Schema):
    topic: str = Field("", max_length=20, description="类别 / topic")
    q: str = Field("", max_length=50, description="标题或问法包含 / title or question contains")


def entries_for(user: Any) -> QuerySet[Entry]:
    """Every entry for staff; the enabled ones for anyone else."""
    qs = Entry.objects.select_related("policy")
    return qs if asking.is_staff(user) else qs.filter(enabled=True)


def search(qs: QuerySet[Entry], *, topic: str = "", text: str = "") -> QuerySet[Entry]:
    if topic:
        qs = qs.filter(topic=topic)
    text = (text or "").replace("\x00", "").strip()
    if text:
        qs = qs.filter(
            Q(title__icontains=text) | Q(key__icontains=text) | Q(questions__icontains=text)
        )
    return qs


def figures(entry: Entry) -> list[dict[str, Any]]:
    out = []
    for item in entry.local_figures or []:
        if not isinstance(item, dict):
            continue
        value = item.get("value")
        out.append({
            "name": str(item.get("name", "")),
            "label": str(item.get("label", "")),
            "value": None if value is None else str(value),
            "unit": str(item.get("unit", "") or ""),
        })  # fmt: skip
    return out


def row_out(entry: Entry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "title": entry.title,
        "topic": entry.topic,
        "topic_label": str(entry.get_topic_display()),
        "origin": entry.origin,
        "source": entry.source,
        "article": entry.article,
        "enabled": entry.enabled,
        "version": entry.version,
        "updated_at": entry.updated_at,
    }


def entry_out(entry: Entry) -> dict[str, Any]:
    return {
        **row_out(entry),
        "questions": [str(q) for q in entry.questions or []],
        "answer": entry.answer,
        "source_level": entry.source_level,
        "office": entry.office,
        "hours": entry.hours,
        "local_figures": figures(entry),
        "policy": entry.policy.code if entry.policy is not None else None,
        "valid_from": entry.valid_from,
        "valid_until": entry.valid_until,
    }


@router.get("/assistant/entries", response=responses(Page[EntryRowOut]))
def list_entries(
    request: HttpRequest, page: Query[PageParams], filters: Query[EntryFilter]
) -> dict[str, Any]:
    """The knowledge base's entries by topic, searchable by title and question."""
    qs = search(entries_for(acting_user(request)), topic=filters.topic, text=filters.q)
    out = paginate(qs.order_by("topic", "key"), page)
    out["items"] = [row_out(e) for e in out["items"]]
    return out


@router.get("/assistant/entries/{key}", response=responses(EntryOut))
def get_entry(request: HttpRequest, key: str) -> dict[str, Any]:
    """One entry with its question variants, answer, source and local figures."""
    entry = entries_for(acting_user(request)).filter(key=key[:60].replace("\x00", "")).first()
    if entry is None:
        raise NotFound("知识条目不存在", "entry not found")
    return entry_out(entry)
