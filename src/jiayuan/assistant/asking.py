"""Asking the assistant (提问): the one path every channel takes — the API, the resident's
phone, the staff desk and the WeCom robot.

:func:`ask` checks the question (length, NUL bytes, lone surrogates), paces anonymous
askers per address (``ASSISTANT_ANON_PER_MINUTE``, Django's cache), answers it through
:func:`jiayuan.assistant.answering.answer`, turns the answer into a personal one for a
verified resident asking about themselves (:mod:`.personal`), logs an :class:`Ask`
with ID and phone numbers masked (never the raw text, in the row or in the log) and,
when asked to and the assistant abstained, hands the question off to the asker's grid
worker (:mod:`.handoff`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from jiayuan.core.errors import BilingualError, ValidationFailed
from jiayuan.core.logging import mask_text
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, scope_paths, scope_q
from jiayuan.org.choices import AreaKind
from jiayuan.org.paths import ancestor_path
from jiayuan.people.models import Person
from jiayuan.people.residents import person_of

from . import answering, personal
from .answering import Answer
from .choices import Channel
from .models import Ask

logger = logging.getLogger(__name__)

MAX_QUESTION = 200


class RateLimited(BilingualError):
    code = "rate_limited"
    status = 429


def clean_question(text: Any) -> str:
    """The question as asked, trimmed; 422 when empty, longer than :data:`MAX_QUESTION`
    characters, or holding NUL bytes, control characters or lone surrogates."""
    if not isinstance(text, str):
        raise ValidationFailed("请输入问题", "a question is required", field="question")
    text = text.strip()
    if not text:
        raise ValidationFailed("请输入问题", "a question is required", field="question")
    if len(text) > MAX_QUESTION:
        raise ValidationFailed(
            f"问题不能超过 {MAX_QUESTION} 个字", f"at most {MAX_QUESTION} characters",
            field="question",
        )  # fmt: skip
    if any(
        (ord(ch) < 32 and ch not in "\t\n\r") or 0xD800 <= ord(ch) <= 0xDFFF or ord(ch) == 0x7F
        for ch in text
    ):
        raise ValidationFailed(
            "问题含有无法识别的字符", "the question holds invalid characters", field="question"
        )
    return text


def check_pace(ip: str | None) -> None:
    """429 when the address has asked more than ``ASSISTANT_ANON_PER_MINUTE`` questions
    without logging in this minute (counted in Django's cache, shared by the processes
    that share the cache)."""
    limit = settings.ASSISTANT_ANON_PER_MINUTE
    if limit <= 0:
        return
    key = f"assistant:anon:{ip or '-'}:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=90)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=90)
        count = 1
    if count > limit:
        raise RateLimited(
            f"提问太频繁，请稍后再试（未登录每分钟最多 {limit} 次）",
            f"too many questions: at most {limit} a minute without logging in",
        )


def grid_path_of(person: Person | None) -> str:
    """The path of the grid ``person`` lives in, else their own area's path ("" when
    nobody)."""
    if person is None or not person.area_path:
        return ""
    try:
        return ancestor_path(person.area_path, AreaKind.GRID)
    except ValueError:  # registered above a grid
        return person.area_path


def is_resident(user: Any) -> bool:
    return person_of(user) is not None


def ask(
    question: Any,
    *,
    user: Any = None,
    person: Person | None = None,
    channel: str,
    ip: str | None = None,
    handoff: bool = False,
) -> tuple[Answer, Ask]:
    """Answer ``question`` for ``user`` (or nobody) on ``channel`` and log it.

    ``person`` is the resident the question is about when staff ask on their behalf or a
    channel knows the asker without an account; the answer is personal only for the
    asker's own record (a user linked to a living person), never for ``person`` named
    by someone else. ``handoff`` hands an abstained question to the asker's grid worker
    at once (403 before anything is answered for an asker who may not hand off)."""
    if channel not in Channel.values:
        raise ValidationFailed(f"未知渠道 {channel}", f"unknown channel {channel}", field="channel")
    text = clean_question(question)
    authenticated = bool(user is not None and getattr(user, "is_authenticated", False))
    if not authenticated:
        check_pace(ip)
    me = person_of(user) if authenticated else None
    if handoff:
        from .handoff import check_may_hand_off

        check_may_hand_off(user)
    masked = mask_text(text)
    started = time.perf_counter()
    answer = answering.answer(masked)
    if me is not None and (person is None or person.pk == me.pk):
        if personal.is_about_self(masked):
            mine = personal.personal_answer(answer, me, timezone.localdate())
            if mine is not None:
                answer = mine
    millis = (time.perf_counter() - started) * 1000
    subject = me if me is not None and person is None else person
    area_path = grid_path_of(subject)
    if not area_path and authenticated:  # staff at the desk: where they work
        area_path = next(iter(scope_paths(user, Perm.VIEW)), "")
    row = Ask.objects.create(
        channel=channel,
        user=user if authenticated else None,
        person=subject,
        area_path=area_path,
        question=masked,
        answer=answer.text,
        abstained=answer.abstained,
        reason=answer.reason,
        personal=answer.personal,
        citations=[c.as_json() for c in answer.citations],
        score=answer.score,
        millis=round(millis, 2),
    )
    logger.info(
        "ask %s channel=%s abstained=%s reason=%s personal=%s %.1f ms",
        row.pk, channel, answer.abstained, answer.reason, answer.personal, millis,
    )  # fmt: skip
    if handoff and answer.abstained:
        from .handoff import hand_off

        hand_off(row, user=user)
    return answer, row


# --- the question log ------------------------------------------------------------------
def is_staff(user: Any) -> bool:
    return has_perm_anywhere(user, Perm.VIEW)


def asks_for(user: Any) -> QuerySet[Ask]:
    """The asks ``user`` may read: staff those in their scope (asks of no known place —
    anonymous ones — to staff of the whole county), anyone else their own."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Ask.objects.none()
    if is_staff(user):
        q = scope_q(user, Perm.VIEW)
        if any(p.count("/") <= 1 for p in scope_paths(user, Perm.VIEW)):
            q |= Q(area_path="")
        return Ask.objects.filter(q)
    return Ask.objects.filter(user=user)


def filter_asks(
    qs: QuerySet[Ask],
    *,
    abstained: bool | None = None,
    handed_off: bool | None = None,
    text: str = "",
    abstentions_first: bool = True,
) -> QuerySet[Ask]:
    """The log filtered, abstentions first (then newest first)."""
    if abstained is not None:
        qs = qs.filter(abstained=abstained)
    if handed_off is not None:
        qs = qs.exclude(case_number="") if handed_off else qs.filter(case_number="")
    text = (text or "").replace("\x00", "").strip()
    if text:
        qs = qs.filter(question__icontains=mask_text(text))
    if abstentions_first:
        return qs.order_by("-abstained", "-created_at", "-id")
    return qs.order_by("-created_at", "-id")
