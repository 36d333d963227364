"""How a mobilisation reaches people: one interface, three channels.

- in-app (站内消息) through :func:`jiayuan.core.notices.notify`: delivered at once;
- SMS (短信) to the person's phone;
- the WeCom group robot (企业微信群机器人), paced at 20 messages a minute by a token bucket
  whose state is one database row, so every process shares the pace.

SMS and WeCom messages go to :class:`~jiayuan.command.models.Outbox` first. With no
endpoint configured (``COMMAND_SMS_ENDPOINT``, ``COMMAND_WECOM_WEBHOOK``) that record is
all that happens: nothing calls the internet. With one, :func:`flush_outbox` (a periodic
job) sends each row once it is due.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jiayuan.core.notices import notify
from jiayuan.core.pacing import PER_MINUTE as WECOM_PER_MINUTE
from jiayuan.core.pacing import take_token
from jiayuan.people.models import Person

from .models import ChannelBucket, Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    person: Person
    user: Any  # the person's account, or None
    title: str
    body: str
    link: str
    ref: str


class Channel(Protocol):
    name: str

    def send(self, message: Message, now: dt.datetime) -> bool:
        """Send (or queue) ``message``; ``True`` when it is known to have arrived."""
        ...


class InApp:
    name = "inapp"

    def send(self, message: Message, now: dt.datetime) -> bool:
        if message.user is None:
            return False
        notify(
            [message.user],
            kind="mobilisation",
            title=message.title,
            body=message.body,
            link=message.link,
            ref=message.ref,
        )
        return True


class Sms:
    name = "sms"

    def send(self, message: Message, now: dt.datetime) -> bool:
        if not message.person.phone_masked:
            return False
        Outbox.objects.create(
            channel=self.name,
            recipient=f"person:{message.person.pk} {message.person.phone_masked}",
            body=f"{message.title}：{message.body}"[:500],
            ref=message.ref,
            created_at=now,
            send_after=now,
        )
        return False  # delivery receipts are not known until a gateway reports them


class WeComRobot:
    """The group robot: one message to the group per call, paced."""

    name = "wecom"

    def send(self, message: Message, now: dt.datetime) -> bool:
        with transaction.atomic():
            bucket, _ = ChannelBucket.objects.select_for_update().get_or_create(
                name=self.name, defaults={"tokens": float(WECOM_PER_MINUTE), "at": now}
            )
            bucket.tokens, wait = take_token(bucket.tokens, bucket.at, now)
            bucket.at = max(bucket.at, now)
            bucket.save()
            Outbox.objects.create(
                channel=self.name,
                recipient="group",
                body=f"{message.title}\n{message.body}"[:2000],
                ref=message.ref,
                created_at=now,
                send_after=now + dt.timedelta(seconds=wait),
            )
        return False


PERSONAL: tuple[Channel, ...] = (InApp(), Sms())
GROUP = WeComRobot()


def send_personal(message: Message, now: dt.datetime) -> bool:
    """Every personal channel; ``True`` when one of them delivered."""
    delivered = False
    for channel in PERSONAL:
        delivered = channel.send(message, now) or delivered
    return delivered


def _endpoint(channel: str) -> str:
    name = {"sms": "COMMAND_SMS_ENDPOINT", "wecom": "COMMAND_WECOM_WEBHOOK"}[channel]
    return str(getattr(settings, name, "") or "")


def _post(url: str, payload: dict[str, Any]) -> None:
    if not url.startswith(("https://", "http://")):
        raise ValueError("endpoint must be http(s)")
    body = json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        answer.read()


def flush_outbox(now: dt.datetime | None = None, limit: int = 200) -> int:
    """Send due outbox rows of channels with an endpoint; rows of channels without one
    stay recorded only. Returns how many were sent."""
    now = now or timezone.now()
    sent = 0
    for channel in ("sms", "wecom"):
        url = _endpoint(channel)
        if not url:
            continue
        due = Outbox.objects.filter(channel=channel, sent_at__isnull=True, send_after__lte=now)
        for row in due[:limit]:
            payload: dict[str, Any]
            if channel == "wecom":
                payload = {"msgtype": "text", "text": {"content": row.body}}
            else:
                person_id = row.recipient.split(" ")[0].removeprefix("person:")
                person = Person.objects.filter(pk=int(person_id)).first()
                if person is None:
                    continue
                payload = {"phone": person.reveal_phone(), "text": row.body}
            try:
                _post(url, payload)
            except (OSError, ValueError) as exc:
                Outbox.objects.filter(pk=row.pk).update(error=str(exc)[:200])
                log.warning("outbox %s %s failed: %s", channel, row.pk, exc)
                continue
            Outbox.objects.filter(pk=row.pk).update(sent_at=now, error="")
            sent += 1
    return sent
