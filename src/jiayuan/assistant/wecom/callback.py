"""The smart robot's callback (智能机器人回调): WeCom forwards what residents write in a
group to ``/assistant/wecom/callback/``, encrypted (:mod:`.crypto`); the assistant
answers with an encrypted passive reply.

- ``GET`` is WeCom's URL verification: the decrypted ``echostr`` is answered as plain
  text.
- ``POST`` carries ``<xml><Encrypt>…</Encrypt></xml>``: the signature, a timestamp no more
  than five minutes away (a replayed request is refused), then the message. A text
  message is asked through :func:`jiayuan.assistant.asking.ask` on the ``wecom``
  channel, once per ``MsgId``: WeCom re-sends a message it got no answer to in time,
  and the re-sent one is answered from the stored question without asking again.
  Anything else (events, pictures) is acknowledged with ``success``.

The callback is off (404) until ``ASSISTANT_WECOM_TOKEN``, ``_AES_KEY`` and
``_RECEIVE_ID`` are set. XML is read without a DOCTYPE (no entities, so no entity
expansion or external fetch) and within a size limit; every refusal is a
:class:`CallbackRefused` with its 4xx status.
"""

from __future__ import annotations

import datetime as dt
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jiayuan.core.errors import BilingualError

from ..choices import Channel
from ..models import Inbound
from .crypto import CryptoError, DecryptError, SignatureError, WXBizMsgCrypt

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes of a callback's body
MAX_SKEW = dt.timedelta(minutes=5)  # how far a request's timestamp may be from now
MAX_CONTENT = 500  # characters of a message kept


class CallbackRefused(BilingualError):
    status = 400
    code = "callback_refused"


class NotConfigured(CallbackRefused):
    status = 404
    code = "not_found"


class Forged(CallbackRefused):
    status = 403
    code = "forbidden"


def crypt() -> WXBizMsgCrypt:
    token = settings.ASSISTANT_WECOM_TOKEN
    key = settings.ASSISTANT_WECOM_AES_KEY
    receive_id = settings.ASSISTANT_WECOM_RECEIVE_ID
    if not (token and key and receive_id):
        raise NotConfigured("未启用企业微信回调", "the WeCom callback is not configured")
    return WXBizMsgCrypt(token, key, receive_id)


def read_xml(data: bytes | str) -> ET.Element:
    """An XML document's root, refusing DOCTYPE (and so every entity), bodies over
    :data:`MAX_BODY`, non-UTF-8 text and malformed XML."""
    if isinstance(data, bytes):
        if len(data) > MAX_BODY:
            raise CallbackRefused("消息过大", "the body is too large")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CallbackRefused("消息不是 UTF-8 编码", "the body is not UTF-8") from None
    else:
        text = data
    if len(text) > MAX_BODY:
        raise CallbackRefused("消息过大", "the body is too large")
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise CallbackRefused("不接受带 DOCTYPE 的 XML", "XML with a DOCTYPE is refused")
    try:
        return ET.fromstring(text)  # noqa: S314 - no DOCTYPE, so no entity can be declared
    except ET.ParseError:
        raise CallbackRefused("XML 格式错误", "malformed XML") from None


def _field(root: ET.Element, *paths: str) -> str:
    for path in paths:
        found = root.find(path)
        if found is not None and found.text:
            return found.text.strip()
    return ""


def _param(params: Any, name: str) -> str:
    value = params.get(name) or ""
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise CallbackRefused(f"缺少参数 {name}", f"missing parameter {name}")
    return value


def _fresh(timestamp: str, now: dt.datetime) -> None:
    try:
        sent = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise CallbackRefused("时间戳无效", "invalid timestamp") from None
    if abs(now - sent) > MAX_SKEW:
        raise Forged("请求已过期（超过 5 分钟），疑似重放", "stale timestamp: a replay is refused")


def verify_url(params: Any) -> str:
    """URL verification: the plain text of ``echostr``."""
    wx = crypt()
    try:
        return wx.verify_url(
            _param(params, "msg_signature"), _param(params, "timestamp"),
            _param(params, "nonce"), _param(params, "echostr"),
        )  # fmt: skip
    except SignatureError:
        raise Forged("签名校验失败", "signature mismatch") from None
    except CryptoError:
        raise CallbackRefused("无法解密", "cannot decrypt") from None


@dataclass(frozen=True)
class Message:
    """A received message, as the callback reads it (app and group-robot formats)."""

    msgid: str
    kind: str
    content: str
    from_user: str
    chat_id: str
    to_user: str
    robot_format: bool  # the group robot's format (``<Text><Content>``, ``<From><UserId>``)


def parse_message(xml: str) -> Message:
    root = read_xml(xml)
    robot_format = root.find("Text") is not None or root.find("From") is not None
    return Message(
        msgid=_field(root, "MsgId")[:64],
        kind=_field(root, "MsgType").lower()[:20],
        content=_field(root, "Content", "Text/Content")[:MAX_CONTENT],
        from_user=_field(root, "FromUserName", "From/UserId")[:64],
        chat_id=_field(root, "ChatId")[:64],
        to_user=_field(root, "ToUserName")[:64],
        robot_format=robot_format,
    )


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def reply_xml(message: Message, text: str, now: dt.datetime) -> str:
    """The passive reply, in the format the message came in."""
    if message.robot_format:
        return f"<xml><MsgType>text</MsgType><Text><Content>{cdata(text)}</Content></Text></xml>"
    return (
        f"<xml><ToUserName>{cdata(message.from_user)}</ToUserName>"
        f"<FromUserName>{cdata(message.to_user)}</FromUserName>"
        f"<CreateTime>{int(now.timestamp())}</CreateTime><MsgType>text</MsgType>"
        f"<Content>{cdata(text)}</Content></xml>"
    )


def with_sources(text: str, abstained: bool, citations: list[dict[str, str]]) -> str:
    """What the group reads: the answer, then the documents it rests on."""
    if citations and not abstained:
        sources = "；".join(f"{c['title']}（{c['source']}）" for c in citations[:3])
        text = f"{text}\n依据：{sources}"
    return text


def _ask(message: Message) -> tuple[str, Any]:
    """The reply to a text message and the question logged (None when refused)."""
    from ..asking import ask

    try:
        answer, row = ask(
            message.content,
            channel=Channel.WECOM,
            ip=f"wecom:{message.chat_id}:{message.from_user}",
        )
    except BilingualError as exc:  # empty, too long, too frequent: said in the group
        return exc.zh, None
    citations = [c.as_json() for c in answer.citations]
    return with_sources(answer.text, answer.abstained, citations), row


def receive(params: Any, body: bytes, now: dt.datetime | None = None) -> str:
    """A POSTed message's encrypted reply XML, or ``success`` when there is nothing to
    say."""
    now = now or timezone.now()
    wx = crypt()
    signature = _param(params, "msg_signature")
    timestamp = _param(params, "timestamp")
    nonce = _param(params, "nonce")
    _fresh(timestamp, now)
    encrypted = _field(read_xml(body), "Encrypt")
    if not encrypted:
        raise CallbackRefused("缺少加密内容", "no Encrypt element")
    try:
        xml = wx.decrypt_message(signature, timestamp, nonce, encrypted)
    except SignatureError:
        raise Forged("签名校验失败", "signature mismatch") from None
    except DecryptError:
        raise CallbackRefused("无法解密", "cannot decrypt") from None
    except CryptoError:
        raise Forged("消息不是发给本应用的", "the message is for another receiver") from None
    message = parse_message(xml)
    if message.kind != "text" or not message.content:
        return "success"
    text = _answer_once(message)
    reply = wx.encrypt_reply(reply_xml(message, text, now), str(int(now.timestamp())), nonce)
    return (
        f"<xml><Encrypt>{cdata(reply['Encrypt'])}</Encrypt>"
        f"<MsgSignature>{cdata(reply['MsgSignature'])}</MsgSignature>"
        f"<TimeStamp>{reply['TimeStamp']}</TimeStamp><Nonce>{cdata(reply['Nonce'])}</Nonce></xml>"
    )


def _answer_once(message: Message) -> str:
    """Ask once per MsgId: a message seen before is answered from its stored ask."""
    if message.msgid:
        seen = Inbound.objects.filter(msgid=message.msgid).select_related("ask").first()
        if seen is not None:
            log.info("wecom callback: msgid seen before, answered again without asking")
            return _stored(seen)
    text, row = _ask(message)
    if not message.msgid:
        return text
    try:
        with transaction.atomic():
            Inbound.objects.create(
                msgid=message.msgid, chat_id=message.chat_id, from_user=message.from_user,
                content=row.question if row is not None else "", ask=row,
            )  # fmt: skip
    except IntegrityError:  # a concurrent copy of the same message got there first
        seen = Inbound.objects.filter(msgid=message.msgid).select_related("ask").first()
        if seen is not None:
            return _stored(seen)
    return text


def _stored(inbound: Inbound) -> str:
    ask = inbound.ask
    if ask is None:
        return "您的消息已收到。"
    return with_sources(ask.answer, ask.abstained, ask.citations)
