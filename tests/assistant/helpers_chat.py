"""Helpers of the asking, hand-off and chat tests: a second resident account, the
bilingual error check, and known questions (one the base answers, one out of scope)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache

from jiayuan.people.models import Person

ANSWERABLE = "高龄津贴谁能领"
ANSWERABLE_ENTRY = "policy-gaoling-jintie"
OUT_OF_SCOPE = "附近哪家火锅店好吃"


def resident_account(person: Person, username: str = "resident2") -> Any:
    """An account linked to ``person`` (a verified resident)."""
    user = get_user_model().objects.create_user(username=username, password="x-Passw0rd!")
    person.user = user
    person.save(update_fields=["user"])
    return user


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["message"] and " / " in body["message"], body  # Chinese / English
    return body  # type: ignore[no-any-return]


def fresh_pace() -> None:
    cache.clear()


def abstain_on(monkeypatch: Any, *questions: str) -> None:
    """The engine abstains on ``questions`` (the hand-off's tests do not depend on where
    the engine's threshold lies today)."""
    from jiayuan.assistant import answering

    real = answering.answer

    def answer(question: str, **kw: Any) -> Any:
        if question in questions:
            return answering.Answer(
                question=question, text="我还不能准确回答这个问题。", abstained=True,
                reason="low_score", office="社区党群服务中心",
            )  # fmt: skip
        return real(question, **kw)

    monkeypatch.setattr(answering, "answer", answer)
