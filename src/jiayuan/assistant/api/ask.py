"""Asking the assistant over the API: ``POST /assistant/ask`` (anonymous allowed, paced
per address), the hand-off of an unanswered question, and the question log
(``GET /assistant/asks``: staff read the asks in their scope, a resident their own)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.utils import check_csrf

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import NotFound, row_id
from jiayuan.core.schemas import Page, PageParams

from .. import asking, handoff
from ..choices import Channel
from ..models import Ask

router = Router(tags=["assistant"])


class AskerAuth:
    """Who is asking: a bearer token's user, a session's user (with its CSRF check) or,
    for ``POST /assistant/ask`` only, nobody (an anonymous asker, paced per address)."""

    def __call__(self, request: HttpRequest) -> Any:
        from jiayuan.api import BearerToken  # the API module registers this router

        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return BearerToken()(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if not getattr(request, "_dont_enforce_csrf_checks", False) and check_csrf(request):
                raise HttpError(403, "CSRF 校验失败 / CSRF check failed")
            return user
        return AnonymousUser()


class AskIn(Schema):
    question: str = Field(..., description="问题（不超过200字） / the question")
    handoff: bool = Field(False, description="未能回答时转交网格员 / hand off if unanswered")


class CitationOut(Schema):
    entry: str
    title: str
    source: str


class HandoffOut(Schema):
    case: str
    status: str
    open: bool
    due_at: dt.datetime | None
    message: str


class AskOut(Schema):
    ask: int
    answer: str
    abstained: bool
    reason: str
    personal: bool
    citations: list[CitationOut]
    office: str
    case: str | None
    handoff_offered: bool
    handoff: HandoffOut | None


class AskRowOut(Schema):
    id: int
    created_at: dt.datetime
    channel: str
    question: str
    answer: str
    abstained: bool
    reason: str
    personal: bool
    citations: list[CitationOut]
    score: float
    area_path: str
    case: str | None
    handed_off_at: dt.datetime | None


class AskFilter(Schema):
    abstained: bool | None = Field(None, description="只看未能回答的 / only abstentions")
    handed_off: bool | None = Field(None, description="只看已转交的 / only handed off")
    q: str = Field("", max_length=50, description="问题包含 / question contains")


def client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def may_hand_off(user: Any) -> bool:
    return asking.is_resident(user)


@router.post("/assistant/ask", auth=AskerAuth(), response=responses(AskOut))
def ask(request: HttpRequest, body: AskIn) -> dict[str, Any]:
    """Ask the assistant a question (anonymous allowed, paced per address); a logged-in
    resident asking about themselves gets a personal answer. With ``handoff`` an
    unanswered question is handed to the asker's grid worker at once."""
    user = acting_user(request)
    answer, row = asking.ask(
        body.question,
        user=user,
        channel=Channel.API,
        ip=client_address(request),
        handoff=body.handoff,
    )
    status = handoff.status_of(row)
    return {
        "ask": row.pk,
        "answer": answer.text,
        "abstained": answer.abstained,
        "reason": answer.reason,
        "personal": answer.personal,
        "citations": [c.as_json() for c in answer.citations],
        "office": answer.office,
        "case": row.case_number or None,
        "handoff_offered": answer.abstained and not row.case_number,
        "handoff": status,
    }


@router.post("/assistant/asks/{ask_id}/handoff", response=responses(HandoffOut))
def hand_off(request: HttpRequest, ask_id: str) -> dict[str, Any]:
    """Hand an unanswered question to the asker's grid worker (the asker only, once);
    answers the case number and when to expect a reply."""
    user = acting_user(request)
    row = Ask.objects.filter(pk=row_id(ask_id), user_id=user.pk).first()
    if row is None:
        raise NotFound("提问不存在", "ask not found")
    return handoff.hand_off(row, user=user)


def row_out(row: Ask) -> dict[str, Any]:
    return {
        "id": row.pk,
        "created_at": row.created_at,
        "channel": row.channel,
        "question": row.question,
        "answer": row.answer,
        "abstained": row.abstained,
        "reason": row.reason,
        "personal": row.personal,
        "citations": row.citations or [],
        "score": row.score,
        "area_path": row.area_path,
        "case": row.case_number or None,
        "handed_off_at": row.handed_off_at,
    }


@router.get("/assistant/asks", response=responses(Page[AskRowOut]))
def list_asks(
    request: HttpRequest, page: Query[PageParams], filters: Query[AskFilter]
) -> dict[str, Any]:
    """The question log: staff read the asks in their scope (abstentions first), a
    resident their own questions."""
    user = acting_user(request)
    qs = asking.filter_asks(
        asking.asks_for(user),
        abstained=filters.abstained,
        handed_off=filters.handed_off,
        text=filters.q,
    )
    out = paginate(qs, page)
    out["items"] = [row_out(r) for r in out["items"]]
    return out
