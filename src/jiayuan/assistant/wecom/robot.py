"""The WeCom group robot's webhook (群机器人): payloads, pacing and the POST.

A group robot takes ``POST <ASSISTANT_WECOM_WEBHOOK_BASE>?key=<key>`` with a JSON body
of one message — ``text``, ``markdown`` or ``template_card`` (we send the
``text_notice`` card) — and answers ``{"errcode": 0, "errmsg": "ok"}``; any other
errcode is a refusal (45009: over the rate limit). WeCom allows 20 messages a minute per
robot: each robot's token bucket lives on its row (``tokens``, ``tokens_at``) and is
taken under ``select_for_update`` (:func:`jiayuan.core.pacing.take_token`), so every
process shares the pace.

The key is a secret: it appears only in the address of the POST, never in an error,
a log line or a page (:func:`mask_key`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jiayuan.core.pacing import take_token

from ..models import Robot

log = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds for one POST
MAX_ANSWER = 64 * 1024  # bytes of WeCom's answer read
TEXT_BYTES = 2048  # WeCom's limits on a message's content, in UTF-8 bytes
MARKDOWN_BYTES = 4096
RATE_LIMITED = 45009  # errcode: the robot sent more than its pace allows
KEY_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
# The demo county's robots have made-up keys starting with this: they are never sent to
# WeCom (a delivery to one fails at once, saying why).
DEMO_PREFIX = "demo-"


class RobotError(Exception):
    """A message WeCom did not take (network, HTTP status or errcode); the text never
    holds the key."""

    def __init__(self, message: str, *, errcode: int | None = None, final: bool = False) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.final = final  # retrying cannot help


class Paced(Exception):
    """The robot's bucket is empty: try again after ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"paced: wait {wait:.1f} s")
        self.wait = wait


def mask_key(key: str) -> str:
    """``693a****2b1c``: the first and last four characters of a webhook key."""
    if len(key) < 12:
        return "*" * len(key)
    return f"{key[:4]}****{key[-4:]}"


def parse_key(value: str) -> str:
    """A webhook key as staff paste it: the key itself, or the whole webhook address
    (``…/send?key=…``). Returns "" when it is neither."""
    text = (value or "").strip()
    if "?" in text or "://" in text:
        query = urllib.parse.urlsplit(text).query
        text = (urllib.parse.parse_qs(query).get("key") or [""])[0].strip()
    return text if KEY_RE.match(text) else ""


# --- payloads ------------------------------------------------------------------------------
def text_payload(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}


def markdown_payload(content: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": content}}


def card_payload(card: dict[str, Any]) -> dict[str, Any]:
    """A ``text_notice`` template card from ``card``'s ``title``, ``desc``, ``text``,
    ``fields`` (``[[name, value], …]``, at most six) and ``url`` (the card's link, which
    WeCom requires)."""
    body: dict[str, Any] = {
        "card_type": "text_notice",
        "source": {"desc": card.get("source") or "数字助理 · 政策宣讲"},
        "main_title": {"title": card.get("title", ""), "desc": card.get("desc", "")},
        "sub_title_text": card.get("text", ""),
        "horizontal_content_list": [
            {"keyname": str(name), "value": str(value)}
            for name, value in (card.get("fields") or [])[:6]
        ],
        "card_action": {"type": 1, "url": card.get("url", "")},
    }
    return {"msgtype": "template_card", "template_card": body}


# --- pacing ---------------------------------------------------------------------------------
def per_minute() -> int:
    return max(int(settings.ASSISTANT_WECOM_PER_MINUTE), 1)


def take(robot: Robot, now: dt.datetime, *, lend: bool) -> float:
    """Take one token of ``robot``'s bucket; the seconds to wait before sending. With
    ``lend`` the token is taken even from an empty bucket (the caller waits its turn);
    without, an empty bucket is left as it was and the wait is returned."""
    with transaction.atomic():
        row = Robot.objects.select_for_update().only("pk", "tokens", "tokens_at").get(pk=robot.pk)
        at = row.tokens_at or now
        tokens, wait = take_token(row.tokens, at, now, per_minute())
        if wait <= 0 or lend:
            Robot.objects.filter(pk=row.pk).update(tokens=tokens, tokens_at=max(at, now))
    return wait


# --- sending --------------------------------------------------------------------------------
def webhook_url(key: str) -> str:
    base = str(settings.ASSISTANT_WECOM_WEBHOOK_BASE)
    if not base.startswith(("https://", "http://")):
        raise RobotError("ASSISTANT_WECOM_WEBHOOK_BASE must be an http(s) address")
    return f"{base}?{urllib.parse.urlencode({'key': key})}"


def post(key: str, payload: dict[str, Any]) -> None:
    """POST one message to the robot with ``key``; :class:`RobotError` unless WeCom
    answers errcode 0."""
    if not KEY_RE.match(key or ""):
        raise RobotError("the webhook key is malformed", final=True)
    if key.startswith(DEMO_PREFIX):
        raise RobotError("演示机器人的密钥是虚构的，未发送到企业微信", final=True)
    body = json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310 - webhook_url checks the scheme
        webhook_url(key), data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            raw = answer.read(MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        raise RobotError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RobotError(f"network: {str(reason).replace(key, mask_key(key))[:150]}") from None
    try:
        answer_json = json.loads(raw)
        errcode = int(answer_json.get("errcode", -1))
    except (ValueError, TypeError, AttributeError):
        raise RobotError("WeCom answered something other than JSON") from None
    if errcode != 0:
        errmsg = str(answer_json.get("errmsg", ""))[:120].replace(key, mask_key(key))
        raise RobotError(f"errcode {errcode}: {errmsg}", errcode=errcode)


def send(
    robot: Robot,
    payload: dict[str, Any],
    *,
    clock: Callable[[], dt.datetime] = timezone.now,
    sleep: Callable[[float], Any] = time.sleep,
) -> float:
    """Send now, waiting for the robot's pace when its bucket is empty; returns the
    seconds waited."""
    wait = take(robot, clock(), lend=True)
    if wait > 0:
        sleep(wait)
    post(robot.webhook_key, payload)
    log.info("wecom robot %s sent %s (waited %.1f s)", robot.pk, payload.get("msgtype"), wait)
    return wait


def try_send(robot: Robot, payload: dict[str, Any], now: dt.datetime) -> None:
    """Send if the robot's pace allows it now, else raise :class:`Paced` without taking
    a token (the broadcasts' job moves on to other robots)."""
    wait = take(robot, now, lend=False)
    if wait > 0:
        raise Paced(wait)
    post(robot.webhook_key, payload)
