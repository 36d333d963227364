"""The inbox (消息): any app puts a notice in staff members' inboxes through
:func:`notify`, which writes :class:`~jiayuan.core.models.Notification` rows directly.

Cases, policies and devices all send through here; the inbox pages and API live in
``core`` too (``core/views.py``, ``core/api.py``), so no app depends on another for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .models import Notification


def notify(
    users: Iterable[Any],
    *,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    ref: str = "",
) -> int:
    """Put one notice in each user's inbox (``None`` entries are skipped, as are repeats
    of the same user); returns how many rows were written.

    ``kind`` is a short code (``dispatch``, ``overdue``, ``alarm_escalated`` …), ``link``
    a path inside Jiayuan the notice opens, ``ref`` a short reference such as a case
    number. Runs inside the caller's transaction: a rolled-back action leaves no notice.
    """
    rows = [
        Notification(
            user=user, kind=kind, title=title[:120], body=body, link=link[:200], ref=ref[:40]
        )
        for user in _distinct(users)
    ]
    Notification.objects.bulk_create(rows)
    return len(rows)


def _distinct(users: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        out.append(user)
    return out
