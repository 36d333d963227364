"""Messages about cases: outbound channels (SMS, WeCom) behind one interface, and the
case's notices in the core inbox (:mod:`jiayuan.core.notices`). The default outbound
channel only logs (masked) and records the message."""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

from django.urls import reverse

from jiayuan.core import notices
from jiayuan.core.pii import mask_phone

from .models import Case, OutboundMessage

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


def case_link(case: Case) -> str:
    """The staff page of ``case``: where its inbox notices lead."""
    return reverse("cases:detail", args=[case.pk])


def notify(users: Any, case: Case, kind: str, title: str, body: str = "") -> int:
    """Put a notice about ``case`` in each user's inbox, linked to the case page."""
    return notices.notify(
        users, kind=kind, title=title, body=body, link=case_link(case), ref=case.number
    )


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
