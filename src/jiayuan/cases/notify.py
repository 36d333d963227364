"""Notifications: the in-app inbox, and outbound channels (SMS, WeCom) behind one
interface. The default outbound channel only logs (masked) and records the message."""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

from django.dispatch import receiver

from jiayuan.core.notices import notice_requested
from jiayuan.core.pii import mask_phone

from .models import Case, Notification, OutboundMessage

logger = logging.getLogger(__name__)


class Channel(Protocol):
    name: str

    def send(self, recipient: str, body: str, case: Case | None) -> bool: ...


class LoggingChannel:
    """Writes the message to the log and the outbound table; sends nothing."""

    name = "log"

    def send(self, recipient: str, body: str, case: Case | None) -> bool:
        masked = mask_phone(recipient) if recipient.isdigit() else recipient
        logger.info("outbound %s to %s: %s", self.name, masked, body)
        OutboundMessage.objects.create(channel=self.name, recipient=masked, case=case, body=body)
        return True


_CHANNELS: dict[str, Channel] = {"log": LoggingChannel()}


def register_channel(channel: Channel) -> None:
    _CHANNELS[channel.name] = channel


def outbound() -> Channel:
    return _CHANNELS.get(os.environ.get("JIAYUAN_NOTIFY_CHANNEL", "log"), _CHANNELS["log"])


def notify(users: Any, case: Case | None, kind: str, title: str, body: str = "") -> int:
    """Put a message in each user's inbox."""
    rows = [
        Notification(user=u, case=case, kind=kind, title=title, body=body)
        for u in users
        if u is not None
    ]
    Notification.objects.bulk_create(rows)
    return len(rows)


@receiver(notice_requested, dispatch_uid="cases.notify.notice")
def _notice(
    sender: Any, *, users: Any, kind: str, title: str, body: str, link: str, **_: Any
) -> int:
    """Notices from other apps (see :mod:`jiayuan.core.notices`) land in the inbox."""
    rows = [Notification(user=u, kind=kind, title=title, body=body, link=link) for u in users]
    return len(Notification.objects.bulk_create(rows))


def tell_reporter(case: Case, body: str) -> None:
    """Send the reporter a message on the outbound channel, when they left a phone."""
    if case.anonymous:
        return
    phone = ""
    if case.reporter_phone_enc:
        from jiayuan.core.pii import decrypt

        phone = decrypt(case.reporter_phone_enc)
    elif case.reporter is not None and case.reporter.phone_enc:
        phone = case.reporter.reveal_phone()
    if phone:
        outbound().send(phone, body, case)
