"""The group robot's sender against a real local HTTP server standing in for WeCom: the
three payloads as WeCom documents them, errcode checks, the pace of 20 a minute kept on
the robot's row, and a key that never shows in errors or logs."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from jiayuan.assistant.models import Robot
from jiayuan.assistant.wecom import robot as sender
from jiayuan.org.models import Area

from .wecom_server import PATH, FakeWeCom, wecom  # noqa: F401 - the fixture, used by name

KEY = "693axxx6-7aoc-4bc4-97a0-0ec2sifa5aaa"
T0 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def robot(db: Any) -> Robot:
    community = Area.objects.filter(kind="community").order_by("path").first()
    assert community is not None
    return Robot.objects.create(area=community, name="测试群机器人", webhook_key=KEY)


class Clock:
    """A clock the sender reads and its ``sleep`` advances (no test waits for real)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


def test_the_three_payloads_reach_the_webhook(wecom: FakeWeCom, robot: Robot) -> None:  # noqa: F811
    # when a text, a markdown and a text_notice card are sent
    sender.send(robot, sender.text_payload("本周六上午社区开展医保政策宣讲"))
    sender.send(robot, sender.markdown_payload("**高龄津贴**\n> 80周岁以上按月发放"))
    card = {
        "title": "高龄津贴", "desc": "政策宣讲", "text": "80周岁以上本省户籍老人按月发放",
        "fields": [["受理部门", "县民政局"]], "url": "https://example.org/policy/gaoling",
    }  # fmt: skip
    sender.send(robot, sender.card_payload(card))

    # then WeCom received each at /send?key=<key>, shaped as its API documents
    assert [r.path for r in wecom.received] == [PATH] * 3
    assert {r.key for r in wecom.received} == {KEY}
    text, markdown, template = (r.body for r in wecom.received)
    assert text == {"msgtype": "text", "text": {"content": "本周六上午社区开展医保政策宣讲"}}
    assert markdown["msgtype"] == "markdown"
    assert markdown["markdown"]["content"].startswith("**高龄津贴**")
    body = template["template_card"]
    assert template["msgtype"] == "template_card" and body["card_type"] == "text_notice"
    assert body["main_title"] == {"title": "高龄津贴", "desc": "政策宣讲"}
    assert body["horizontal_content_list"] == [{"keyname": "受理部门", "value": "县民政局"}]
    assert body["card_action"] == {"type": 1, "url": "https://example.org/policy/gaoling"}


def test_the_21st_message_within_a_minute_waits(wecom: FakeWeCom, robot: Robot) -> None:  # noqa: F811
    # given a clock standing still at T0 (twenty messages go out in the same instant)
    clock = Clock(T0)

    # when 21 messages are sent
    waits = [
        sender.send(robot, sender.text_payload(f"第{i}条"), clock=clock, sleep=clock.sleep)
        for i in range(21)
    ]

    # then the first 20 went at once and the 21st waited for a token (60 s / 20 = 3 s)
    assert waits[:20] == [0.0] * 20
    assert waits[20] == pytest.approx(3.0)
    assert clock.slept == [pytest.approx(3.0)]
    assert len(wecom.received) == 21
    # the bucket is on the row: another instance of the robot sees it empty too
    again = Robot.objects.get(pk=robot.pk)
    with pytest.raises(sender.Paced) as paced:
        sender.try_send(again, sender.text_payload("第22条"), clock.now)
    assert paced.value.wait == pytest.approx(3.0)
    assert len(wecom.received) == 21  # refused before the POST, and no token taken
    sender.try_send(again, sender.text_payload("第22条"), clock.now + dt.timedelta(seconds=3))
    assert len(wecom.received) == 22


def test_a_minute_later_the_bucket_is_full_again(wecom: FakeWeCom, robot: Robot) -> None:  # noqa: F811
    for _ in range(20):
        sender.try_send(robot, sender.text_payload("通知"), T0)
    with pytest.raises(sender.Paced):
        sender.try_send(robot, sender.text_payload("通知"), T0)
    later = T0 + dt.timedelta(minutes=1)
    for _ in range(20):
        sender.try_send(robot, sender.text_payload("通知"), later)
    assert len(wecom.received) == 40
    robot.refresh_from_db()
    assert robot.tokens == pytest.approx(0.0) and robot.tokens_at == later


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        (200, {"errcode": 93000, "errmsg": f"invalid webhook url {KEY}"}, "errcode 93000"),
        (200, {"errcode": 45009, "errmsg": "api freq out of limit"}, "errcode 45009"),
        (500, b"oops", "HTTP 500"),
        (200, b"<html>not json</html>", "other than JSON"),
    ],
)
def test_a_refusal_is_an_error_without_the_key(
    wecom: FakeWeCom,  # noqa: F811
    robot: Robot,
    caplog: Any,
    status: int,
    answer: Any,
    expected: str,
) -> None:
    wecom.answer(status, answer)
    with caplog.at_level(logging.DEBUG), pytest.raises(sender.RobotError) as error:
        sender.send(robot, sender.text_payload("通知"))
    assert expected in str(error.value)
    assert KEY not in str(error.value) and KEY not in caplog.text


def test_an_unreachable_webhook_is_an_error_without_the_key(
    settings: Any, robot: Robot, caplog: Any
) -> None:
    settings.ASSISTANT_WECOM_WEBHOOK_BASE = "http://127.0.0.1:9/cgi-bin/webhook/send"
    with caplog.at_level(logging.DEBUG), pytest.raises(sender.RobotError) as error:
        sender.send(robot, sender.text_payload("通知"))
    assert str(error.value).startswith("network")
    assert KEY not in str(error.value) and KEY not in caplog.text
    settings.ASSISTANT_WECOM_WEBHOOK_BASE = "file:///etc/passwd"
    with pytest.raises(sender.RobotError):
        sender.post(KEY, sender.text_payload("通知"))


def test_keys_are_masked_and_parsed(robot: Robot) -> None:
    assert robot.key_masked == "693a****5aaa"
    assert KEY not in robot.key_masked
    assert sender.mask_key("short") == "*****"
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"
    assert sender.parse_key(url) == KEY
    assert sender.parse_key(f"  {KEY} ") == KEY
    assert sender.parse_key("https://example.org/send?key=<script>") == ""
    assert sender.parse_key("abc") == ""
    with pytest.raises(sender.RobotError):  # a malformed key is never put in an address
        sender.post("a b&c=d", sender.text_payload("x"))


def test_the_audit_log_keeps_the_key_masked(robot: Robot) -> None:
    from jiayuan.core import audit

    snapshot = audit.snapshot(robot)
    assert snapshot["webhook_key"] == "693a****5aaa"
    assert KEY not in str(snapshot)
