"""The smart robot's callback (/assistant/wecom/callback/): WeCom's URL verification with
the published vector, a resident's question answered with an encrypted passive reply,
one ask per MsgId, stale (replayed) requests and hostile bodies refused with a 4xx."""

from __future__ import annotations

import time
import urllib.parse
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.test import Client

from jiayuan.assistant.models import Ask, Inbound
from jiayuan.assistant.wecom.crypto import WXBizMsgCrypt, signature

from .test_wecom_crypto import (
    AES_KEY,
    CORP_ID,
    ECHO_PLAIN,
    ECHOSTR,
    MSG_ENCRYPT,
    MSG_NONCE,
    MSG_SIGNATURE,
    MSG_TIMESTAMP,
    TOKEN,
    VERIFY_NONCE,
    VERIFY_SIGNATURE,
    VERIFY_TIMESTAMP,
)

URL = "/assistant/wecom/callback/"


@pytest.fixture
def configured(settings: Any) -> WXBizMsgCrypt:
    settings.ASSISTANT_WECOM_TOKEN = TOKEN
    settings.ASSISTANT_WECOM_AES_KEY = AES_KEY
    settings.ASSISTANT_WECOM_RECEIVE_ID = CORP_ID
    return WXBizMsgCrypt(TOKEN, AES_KEY, CORP_ID)


def text_message(content: str, msgid: str = "7001", robot: bool = False) -> str:
    if robot:
        return (
            "<xml><WebhookUrl><![CDATA[https://qyapi.weixin.qq.com/x]]></WebhookUrl>"
            "<ChatId><![CDATA[wrkSFfCgAAtMQKg4xqDatM5C9IiLxRaQ]]></ChatId>"
            "<From><UserId><![CDATA[zhangsan]]></UserId><Name><![CDATA[张三]]></Name></From>"
            f"<MsgType><![CDATA[text]]></MsgType><Text><Content><![CDATA[{content}]]></Content>"
            f"</Text><MsgId><![CDATA[{msgid}]]></MsgId></xml>"
        )
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        "<FromUserName><![CDATA[lisi]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msgid}</MsgId><AgentID>1</AgentID></xml>"
    )


def post(
    wx: WXBizMsgCrypt, xml: str, *, timestamp: str | None = None, body: bytes | None = None
) -> Any:
    timestamp = timestamp or str(int(time.time()))
    encrypted = wx.encrypt(xml)
    query = urllib.parse.urlencode({
        "msg_signature": signature(TOKEN, timestamp, "5551", encrypted),
        "timestamp": timestamp, "nonce": "5551",
    })  # fmt: skip
    data = body if body is not None else f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return Client().post(f"{URL}?{query}", data=data, content_type="text/xml")


def decrypt_reply(wx: WXBizMsgCrypt, response: Any) -> ET.Element:
    assert response.status_code == 200, response.content
    outer = ET.fromstring(response.content)  # noqa: S314 - our own reply
    fields = {child.tag: child.text or "" for child in outer}
    plain = wx.decrypt_message(
        fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]
    )
    return ET.fromstring(plain)  # noqa: S314 - our own reply


def test_unconfigured_the_callback_does_not_exist(db: Any, settings: Any) -> None:
    settings.ASSISTANT_WECOM_TOKEN = ""
    assert Client().get(URL, {"msg_signature": "x", "timestamp": "1", "nonce": "1",
                              "echostr": "x"}).status_code == 404  # fmt: skip
    assert Client().post(URL, data="<xml/>", content_type="text/xml").status_code == 404


def test_url_verification_answers_the_published_echostr(db: Any, configured: WXBizMsgCrypt) -> None:
    params = {"msg_signature": VERIFY_SIGNATURE, "timestamp": VERIFY_TIMESTAMP,
              "nonce": VERIFY_NONCE, "echostr": ECHOSTR}  # fmt: skip
    response = Client().get(URL, params)
    assert response.status_code == 200
    assert response.content.decode() == ECHO_PLAIN
    # a wrong signature is refused, in Chinese and English
    response = Client().get(URL, {**params, "msg_signature": "0" * 40})
    assert response.status_code == 403
    assert "签名校验失败" in response.content.decode() and "signature" in response.content.decode()
    assert Client().get(URL, {**params, "echostr": ""}).status_code == 400


def test_a_question_gets_an_encrypted_answer_once(db: Any, configured: WXBizMsgCrypt) -> None:
    # given a resident asking in the group
    asks = Ask.objects.count()

    # when WeCom forwards the message
    reply = decrypt_reply(configured, post(configured, text_message("高龄津贴怎么申请")))

    # then the assistant asked once on the wecom channel and answered its text
    ask = Ask.objects.order_by("-pk").first()
    assert ask is not None and Ask.objects.count() == asks + 1
    assert ask.channel == "wecom" and ask.question == "高龄津贴怎么申请" and ask.user is None
    content = reply.findtext("Content") or ""
    assert content.startswith(ask.answer)
    assert reply.findtext("ToUserName") == "lisi" and reply.findtext("MsgType") == "text"
    assert not ask.abstained  # the knowledge base answers it, with its source
    assert "依据：" in content and ask.citations[0]["source"] in content
    inbound = Inbound.objects.get(msgid="7001")
    assert inbound.ask_id == ask.pk and inbound.from_user == "lisi"

    # when WeCom re-sends the same message (no answer reached it in time)
    again = decrypt_reply(configured, post(configured, text_message("高龄津贴怎么申请")))

    # then the same answer, without asking again
    assert again.findtext("Content") == content
    assert Ask.objects.count() == asks + 1


def test_the_group_robot_format_is_answered_in_kind(db: Any, configured: WXBizMsgCrypt) -> None:
    reply = decrypt_reply(
        configured, post(configured, text_message("老年卡在哪办", msgid="r-1", robot=True))
    )
    ask = Ask.objects.order_by("-pk").first()
    assert ask is not None
    assert reply.findtext("MsgType") == "text"
    assert (reply.findtext("Text/Content") or "").startswith(ask.answer)
    assert Inbound.objects.get(msgid="r-1").chat_id == "wrkSFfCgAAtMQKg4xqDatM5C9IiLxRaQ"


def test_a_phone_number_is_never_stored_unmasked(db: Any, configured: WXBizMsgCrypt) -> None:
    post(configured, text_message("我电话13812345678，低保怎么申请", msgid="p-1"))
    inbound = Inbound.objects.get(msgid="p-1")
    assert "13812345678" not in inbound.content
    assert "13812345678" not in Ask.objects.get(pk=inbound.ask_id).question


def test_events_are_acknowledged_without_asking(db: Any, configured: WXBizMsgCrypt) -> None:
    asks = Ask.objects.count()
    event = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[enter_agent]]></Event></xml>"
    )
    response = post(configured, event)
    assert response.status_code == 200 and response.content == b"success"
    assert Ask.objects.count() == asks


def test_the_published_message_is_refused_as_a_replay(db: Any, configured: WXBizMsgCrypt) -> None:
    # WeCom's own vector is signed for 2014: five minutes later it is a replay
    query = urllib.parse.urlencode(
        {"msg_signature": MSG_SIGNATURE, "timestamp": MSG_TIMESTAMP, "nonce": MSG_NONCE}
    )
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{MSG_ENCRYPT}]]></Encrypt></xml>"
    )
    response = Client().post(f"{URL}?{query}", data=body, content_type="text/xml")
    assert response.status_code == 403
    assert "重放" in response.content.decode()
    assert not Inbound.objects.filter(msgid="4561255354251345929").exists()
    # six minutes ahead is refused too
    future = str(int(time.time()) + 360)
    assert post(configured, text_message("你好", msgid="f-1"), timestamp=future).status_code == 403


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    "<xml><Encrypt>&lol2;</Encrypt></xml>"
)
EXTERNAL = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS.encode(),
        EXTERNAL.encode(),
        b"<xml><Encrypt>",  # malformed
        b"\xff\xfe<\x00x\x00",  # not UTF-8
        b"<xml></xml>",  # no Encrypt
        b"<xml><Encrypt>\x00</Encrypt></xml>",
        b"<xml><Encrypt>" + b"A" * 70_000 + b"</Encrypt></xml>",  # too large
    ],
)
def test_hostile_bodies_are_refused(db: Any, configured: WXBizMsgCrypt, body: bytes) -> None:
    response = post(configured, text_message("x"), body=body)
    assert 400 <= response.status_code < 500
    assert not Inbound.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "msg_signature=abc&nonce=1",  # no timestamp
        "msg_signature=abc&timestamp=99999999999999999999&nonce=1",
        "msg_signature=abc&timestamp=x&nonce=1",
        "msg_signature=abc&timestamp=-1&nonce=1",
    ],
)
def test_bad_parameters_are_refused(db: Any, configured: WXBizMsgCrypt, query: str) -> None:
    response = Client().post(f"{URL}?{query}", data="<xml/>", content_type="text/xml")
    assert 400 <= response.status_code < 500


def test_a_tampered_or_foreign_message_is_refused(db: Any, configured: WXBizMsgCrypt) -> None:
    timestamp = str(int(time.time()))
    encrypted = configured.encrypt(text_message("你好", msgid="t-1"))
    good = signature(TOKEN, timestamp, "1", encrypted)
    tampered = ("B" if encrypted[0] != "B" else "C") + encrypted[1:]
    for enc, sig in ((tampered, good), (encrypted, "f" * 40)):
        query = urllib.parse.urlencode({"msg_signature": sig, "timestamp": timestamp, "nonce": "1"})
        body = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
        response = Client().post(f"{URL}?{query}", data=body, content_type="text/xml")
        assert response.status_code == 403
    # encrypted for another corp (same token and key): refused by the receive id
    foreign = WXBizMsgCrypt(TOKEN, AES_KEY, "ww1111111111111111").encrypt(text_message("你好"))
    query = urllib.parse.urlencode(
        {"msg_signature": signature(TOKEN, timestamp, "1", foreign), "timestamp": timestamp,
         "nonce": "1"}
    )  # fmt: skip
    body = f"<xml><Encrypt><![CDATA[{foreign}]]></Encrypt></xml>"
    assert Client().post(f"{URL}?{query}", data=body, content_type="text/xml").status_code == 403
    assert not Inbound.objects.exists()


def test_other_methods_are_refused(db: Any, configured: WXBizMsgCrypt) -> None:
    assert Client().put(URL).status_code == 405
