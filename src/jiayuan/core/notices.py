"""Notices to staff from any app, delivered by whichever app keeps the inbox.

``policies`` reminds grid workers of overdue door visits, but the in-app inbox belongs
to ``cases`` and siblings never import each other. So a sender calls
:func:`send_notice` and ``cases`` receives :data:`notice_requested` and writes the
inbox rows (see ``cases/notify.py``).

Keyword arguments: ``users`` (an iterable of users), ``kind`` (a short code), ``title``,
``body`` and ``link`` (a path inside Jiayuan the notice opens).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.dispatch import Signal

notice_requested = Signal()


def send_notice(
    sender: Any, users: Iterable[Any], *, kind: str, title: str, body: str = "", link: str = ""
) -> int:
    """Deliver a notice to ``users``; returns how many inbox rows were written."""
    users = [u for u in users if u is not None]
    if not users:
        return 0
    responses = notice_requested.send(
        sender, users=users, kind=kind, title=title, body=body, link=link
    )
    written: list[Any] = [r for _, r in responses]
    return sum(r for r in written if isinstance(r, int))
