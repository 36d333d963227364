"""Policy broadcasts (政策宣讲): composed from a policy, scheduled, sent every minute by
the job to each enabled robot at or below the area (a real local HTTP server stands in
for WeCom), paced, retried with backoff, cancelled before sending; scoped in the pages
and the API, with the webhook key never shown."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jiayuan.assistant.choices import BroadcastStatus, DeliveryStatus
from jiayuan.assistant.models import Broadcast, Delivery, Robot
from jiayuan.assistant.wecom import broadcasts
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.org.models import Area
from jiayuan.org.paths import ancestor_path
from jiayuan.policies.models import Policy

from .conftest import Compounds
from .wecom_server import FakeWeCom, wecom  # noqa: F401 - the fixture, used by name

T0 = dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing
MINUTE = dt.timedelta(minutes=1)
_KEYS = itertools.count()


def community_of(area: Area) -> Area:
    return Area.objects.get(path=ancestor_path(area.path, "community"))


def add_robot(area: Area, *, enabled: bool = True, name: str = "居民群") -> Robot:
    key = f"k{next(_KEYS):04d}-5d1c-4bc4-97a0-0ec2sifa5aaa"
    return Robot.objects.create(area=area, name=name, webhook_key=key, enabled=enabled)


def make(user: Any, area: Area, *, at: dt.datetime | None = T0, **fields: Any) -> Broadcast:
    data = broadcasts.BroadcastFields(
        area=area,
        title=fields.pop("title", "医保缴费提醒"),
        content=fields.pop("content", "2027年度城乡居民医保集中缴费期至12月31日。"),
        scheduled_at=at,
        **fields,
    )
    return broadcasts.create(user, data, now=T0 - MINUTE)


@pytest.fixture
def community(compounds: Compounds) -> Area:
    return community_of(compounds.home)


def test_a_broadcast_is_composed_from_a_policy(users: Any, community: Area) -> None:
    # given the 高龄津贴 policy of the catalogue
    policy = Policy.objects.get(code="gaoling-jintie")

    # when community staff broadcast it, leaving title and content empty
    made = make(users["community"], community, title="", content="", policy=policy)

    # then both are composed from the policy, and the broadcast is scheduled and audited
    assert made.title == "政策宣讲：高龄津贴"
    assert policy.summary in made.content and policy.benefit in made.content
    assert (policy.office or "所在社区党群服务中心") in made.content
    assert policy.legal_basis in made.content
    assert made.status == BroadcastStatus.SCHEDULED and made.area_path == community.path
    entry = AuditEntry.objects.for_object(made).get()
    assert entry.actor == users["community"] and entry.action == "create"
    # a draft when no time is given; a card carries the policy's office and basis
    card = make(
        users["community"], community, at=None, title="", content="", policy=policy,
        kind="template_card", card={"url": "https://example.org/gaoling"},
    )  # fmt: skip
    assert card.status == BroadcastStatus.DRAFT
    assert card.card["title"] == "高龄津贴" and card.card["url"] == "https://example.org/gaoling"
    assert card.card["fields"][0][0] == "受理部门"


def test_the_job_sends_to_each_enabled_robot_at_or_below_the_area(
    wecom: FakeWeCom,  # noqa: F811
    users: Any,
    compounds: Compounds,
    community: Area,
) -> None:
    # given robots in the community, in one of its compounds, one switched off, and one
    # in another community
    here = add_robot(community, name="社区居民群")
    below = add_robot(compounds.home, name="小区居民群")
    add_robot(compounds.sibling, enabled=False)
    add_robot(community_of(compounds.far))
    made = make(users["community"], community)

    # when the minute's job runs before the send time, nothing happens
    assert broadcasts.send_due(T0 - MINUTE)["started"] == 0 and not wecom.received

    # when it runs at the send time
    counts = broadcasts.send_due(T0)

    # then each enabled robot at or below the community received the message, once
    assert counts == {"started": 1, "sent": 2, "paced": 0, "retry": 0, "failed": 0,
                      "finished": 1}  # fmt: skip
    assert sorted(r.key for r in wecom.received) == sorted([here.webhook_key, below.webhook_key])
    assert wecom.received[0].body == {"msgtype": "text", "text": {"content": made.content}}
    made.refresh_from_db()
    assert made.status == BroadcastStatus.SENT and made.sent_at == T0
    assert set(made.deliveries.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    notes = list(AuditEntry.objects.for_object(made).values_list("note", flat=True))
    assert any("2/2" in n for n in notes) and any("开始发送" in n for n in notes)
    # a later run sends nothing again
    assert broadcasts.send_due(T0 + MINUTE)["sent"] == 0 and len(wecom.received) == 2


def test_the_job_keeps_each_robots_pace(
    wecom: FakeWeCom,  # noqa: F811
    users: Any,
    community: Area,
) -> None:
    # given 21 broadcasts due at the same minute to the community's one robot
    add_robot(community)
    for i in range(21):
        make(users["community"], community, title=f"第{i + 1}期宣讲")

    # when the job runs: 20 go, the 21st waits for the robot's next token (3 s)
    counts = broadcasts.send_due(T0)
    assert (counts["sent"], counts["paced"]) == (20, 1)
    waiting = Delivery.objects.get(status=DeliveryStatus.PENDING)
    assert waiting.next_at == T0 + dt.timedelta(seconds=3) and waiting.attempts == 0
    assert broadcasts.send_due(T0 + dt.timedelta(seconds=2))["sent"] == 0

    # then the next run after the wait sends it and closes every broadcast
    counts = broadcasts.send_due(T0 + MINUTE)
    assert counts["sent"] == 1 and counts["finished"] == 1
    assert len(wecom.received) == 21
    assert not Broadcast.objects.exclude(status=BroadcastStatus.SENT).filter(
        area_path=community.path
    )


def test_refusals_are_retried_with_backoff_then_given_up(
    wecom: FakeWeCom,  # noqa: F811
    users: Any,
    community: Area,
) -> None:
    robot = add_robot(community)
    made = make(users["community"], community)
    for _ in range(broadcasts.MAX_ATTEMPTS):
        wecom.answer(200, {"errcode": 93000, "errmsg": f"invalid webhook url {robot.webhook_key}"})

    # each failure waits longer: 1, 2, 4, 8 minutes, then the delivery fails for good
    now = T0
    for attempt in range(1, broadcasts.MAX_ATTEMPTS + 1):
        broadcasts.send_due(now)
        delivery = Delivery.objects.get(broadcast=made)
        assert delivery.attempts == attempt
        assert "errcode 93000" in delivery.error and robot.webhook_key not in delivery.error
        if attempt < broadcasts.MAX_ATTEMPTS:
            assert delivery.status == DeliveryStatus.PENDING
            assert delivery.next_at == now + broadcasts.backoff(attempt)
            assert broadcasts.send_due(delivery.next_at - dt.timedelta(seconds=1))["retry"] == 0
            now = delivery.next_at  # type: ignore[assignment]
    assert delivery.status == DeliveryStatus.FAILED
    made.refresh_from_db()
    assert made.status == BroadcastStatus.FAILED
    assert len(wecom.received) == broadcasts.MAX_ATTEMPTS


def test_a_retry_that_succeeds_sends_the_broadcast(
    wecom: FakeWeCom,  # noqa: F811
    users: Any,
    community: Area,
) -> None:
    add_robot(community)
    made = make(users["community"], community)
    wecom.answer(502, b"bad gateway")
    assert broadcasts.send_due(T0)["retry"] == 1
    assert broadcasts.send_due(T0 + MINUTE)["sent"] == 1
    made.refresh_from_db()
    delivery = made.deliveries.get()
    assert made.status == BroadcastStatus.SENT and delivery.attempts == 2 and not delivery.error


def test_without_a_robot_the_broadcast_fails(users: Any, community: Area) -> None:
    Robot.objects.filter(area_path__startswith=community.path).delete()
    made = make(users["community"], community)
    broadcasts.send_due(T0)
    made.refresh_from_db()
    assert made.status == BroadcastStatus.FAILED and not made.deliveries.exists()


def test_cancel_before_sending_only(
    wecom: FakeWeCom,  # noqa: F811
    users: Any,
    community: Area,
) -> None:
    add_robot(community)
    staff = users["community"]
    cancelled = broadcasts.cancel(staff, make(staff, community))
    assert cancelled.status == BroadcastStatus.CANCELLED
    sent = make(staff, community, title="另一条")
    broadcasts.send_due(T0)
    assert len(wecom.received) == 1  # the cancelled one never went
    with pytest.raises(Conflict):
        broadcasts.cancel(staff, sent)
    with pytest.raises(Conflict):
        broadcasts.cancel(staff, cancelled)


def test_who_may_broadcast_where(users: Any, compounds: Compounds, community: Area) -> None:
    far = community_of(compounds.far)
    with pytest.raises(NotFound):  # another community's staff do not see it
        make(users["community"], far)
    with pytest.raises(PermissionDenied):  # the branch secretary sees but may not change
        make(users["branch"], compounds.home)
    with pytest.raises(NotFound):
        make(users["resident"], compounds.home)
    made = make(users["community"], community)
    assert broadcasts.visible_broadcasts(users["street"]).filter(pk=made.pk).exists()
    assert not broadcasts.visible_broadcasts(users["grid"]).filter(pk=made.pk).exists()
    with pytest.raises(NotFound):
        broadcasts.cancel(users["resident"], made)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "", "content": "x"}, "title"),
        ({"content": ""}, "content"),
        ({"content": "宣" * 700}, "content"),  # 2100 bytes: over the text limit
        ({"content": "a\x00b"}, "content"),
        ({"kind": "template_card", "card": {}}, "url"),
        ({"kind": "template_card", "card": {"url": "javascript:alert(1)"}}, "url"),
        ({"kind": "sms"}, "kind"),
    ],
)
def test_bad_broadcasts_are_refused(
    users: Any, community: Area, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make(users["community"], community, **fields)
    assert refused.value.field == field


def test_a_send_time_in_the_past_or_too_far_is_refused(users: Any, community: Area) -> None:
    with pytest.raises(ValidationFailed):
        make(users["community"], community, at=T0 - dt.timedelta(hours=1))
    with pytest.raises(ValidationFailed):
        make(users["community"], community, at=T0 + dt.timedelta(days=400))


# --- the API ---------------------------------------------------------------------------------
def test_the_api_creates_lists_shows_and_cancels(
    api_as: Any, compounds: Compounds, community: Area
) -> None:
    add_robot(community)
    staff = api_as("community")
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    response = staff.post("/assistant/broadcasts", {
        "area_id": community.pk, "policy": "yibao-zizhu", "scheduled_at": when,
    })  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "政策宣讲：城乡居民医保参保资助" and body["status"] == "scheduled"
    assert body["may_cancel"] and body["delivery_list"] == []
    listed = staff.get("/assistant/broadcasts").json()
    assert body["id"] in [b["id"] for b in listed["items"]]
    assert staff.get(f"/assistant/broadcasts/{body['id']}").json()["policy"] == "yibao-zizhu"
    # another community's staff and a grid worker of another place see a 404
    assert api_as("grid").get(f"/assistant/broadcasts/{body['id']}").status_code == 404
    assert api_as("resident").post(f"/assistant/broadcasts/{body['id']}/cancel").status_code == 404
    cancelled = staff.post(f"/assistant/broadcasts/{body['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = staff.post(f"/assistant/broadcasts/{body['id']}/cancel")
    assert again.status_code == 409 and "取消" in again.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"area_id": 2**70, "content": "x", "title": "x"},
        {"area_id": 0, "content": "x", "title": "x"},
        {"area_id": "NaN", "content": "x"},
        {"content": "x"},
        '{"area_id": 1, "title": "\\ud800", "content": "x"}',  # a lone surrogate
        '{"area_id": 1, "title": "x", "content": "a\\u0000b"}',
        "[" * 5000 + "]" * 5000,
        {"area_id": 1, "title": "x", "content": "x", "scheduled_at": "2020-01-01T00:00:00Z"},
        {"area_id": 1, "title": "x", "content": "x", "kind": "template_card",
         "card": {"fields": [["a", "b"]] * 7, "url": "https://e.org"}},
        {"area_id": 1, "policy": "no-such-policy"},
    ],
)  # fmt: skip
def test_hostile_api_bodies_are_4xx(api_as: Any, community: Area, body: Any) -> None:
    if isinstance(body, str):
        body = body.replace('"area_id": 1,', f'"area_id": {community.pk},')
    elif body.get("area_id") == 1:
        body = {**body, "area_id": community.pk}
    response = api_as("community").post("/assistant/broadcasts", body)
    assert 400 <= response.status_code < 500, response.content
    assert api_as("community").get("/assistant/broadcasts/99999999999999999999").status_code == 404


def test_robots_are_listed_with_their_keys_masked(api_as: Any, community: Area) -> None:
    robot = add_robot(community)
    body = api_as("community").get("/assistant/robots").json()
    row = next(r for r in body["items"] if r["id"] == robot.pk)
    assert row["key_masked"] == robot.key_masked and robot.webhook_key not in str(body)
    assert robot.pk not in [
        r["id"] for r in api_as("grid").get("/assistant/robots").json()["items"]
    ]


def grow(community: Area, n: int, users: Any) -> None:
    robots = [add_robot(community) for _ in range(n)]
    for i in range(n):
        made = make(users["community"], community, title=f"宣讲{i}")
        Delivery.objects.bulk_create(Delivery(broadcast=made, robot=r) for r in robots)


def counted(client: Any, path: str) -> int:
    client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_the_lists_and_details_cost_the_same_for_few_rows_and_many(
    api_as: Any, page_as: Any, users: Any, community: Area
) -> None:
    # given two broadcasts with two deliveries each, read through the API and the pages
    grow(community, 2, users)
    first = Broadcast.objects.filter(area_path=community.path).order_by("pk").first()
    assert first is not None
    api, page = api_as("community").client, page_as("community")
    paths = [
        "/api/v1/assistant/broadcasts?limit=1", f"/api/v1/assistant/broadcasts/{first.pk}",
        "/api/v1/assistant/robots?limit=1", "/assistant/broadcasts/",
        f"/assistant/broadcasts/{first.pk}/", "/assistant/robots/",
    ]  # fmt: skip
    before = {p: counted(api if p.startswith("/api") else page, p) for p in paths}

    # when there are 30 more broadcasts and robots, each broadcast with deliveries
    grow(community, 30, users)
    Delivery.objects.bulk_create(
        Delivery(broadcast=first, robot=r)
        for r in Robot.objects.exclude(deliveries__broadcast=first)
    )
    grown = {p.replace("limit=1", "limit=30"): p for p in paths}

    # then each costs the same
    after = {p: counted(api if g.startswith("/api") else page, g) for g, p in grown.items()}
    assert after == before


# --- the pages -------------------------------------------------------------------------------
def test_the_pages_write_a_broadcast_and_cancel_it(
    page_as: Any, users: Any, community: Area
) -> None:
    # given community staff on the new broadcast page, the 高龄津贴 policy preselected
    add_robot(community, name="幸福里居民群")
    client = page_as("community")
    policy = Policy.objects.get(code="gaoling-jintie")
    form = client.get("/assistant/broadcasts/new/?policy=gaoling-jintie")
    assert form.status_code == 200
    assert f'<option value="{policy.pk}" selected>' in form.content.decode()

    # when they save it from the policy, scheduled in two hours
    at = (dt.datetime.now() + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/assistant/broadcasts/new/", {
        "area": community.pk, "policy": policy.pk, "kind": "text", "title": "", "content": "",
        "card_url": "", "when": "at", "scheduled_at": at,
    })  # fmt: skip

    # then it is scheduled, shown with its composed text, listed, and may be cancelled
    made = Broadcast.objects.get(policy=policy, area=community)
    assert (
        response.status_code == 302 and response["Location"] == f"/assistant/broadcasts/{made.pk}/"
    )
    page = client.get(response["Location"]).content.decode()
    assert "政策宣讲：高龄津贴" in page and "已排期" in page and "取消宣讲" in page
    assert "（1 个群）" in page
    assert made.title in client.get("/assistant/broadcasts/").content.decode()
    client.post(f"/assistant/broadcasts/{made.pk}/cancel/")
    made.refresh_from_db()
    assert made.status == BroadcastStatus.CANCELLED
    # a refusal is shown on the form, in Chinese
    refused = client.post("/assistant/broadcasts/new/", {
        "area": community.pk, "kind": "template_card", "title": "通知", "content": "内容",
        "card_url": "", "when": "draft",
    })  # fmt: skip
    assert refused.status_code == 422 and "请填写详情链接" in refused.content.decode()


def test_the_pages_are_scoped(page_as: Any, users: Any, compounds: Compounds) -> None:
    made = make(users["community"], community_of(compounds.home))
    assert page_as("grid").get(f"/assistant/broadcasts/{made.pk}/").status_code == 404
    assert page_as("street").get(f"/assistant/broadcasts/{made.pk}/").status_code == 200
    assert page_as("grid").post(f"/assistant/broadcasts/{made.pk}/cancel/").status_code == 404
    other = make(users["admin"], community_of(compounds.far))
    assert page_as("community").get(f"/assistant/broadcasts/{other.pk}/").status_code == 404
    assert (
        page_as("community").get("/assistant/broadcasts/99999999999999999999/").status_code == 404
    )


def test_robots_are_added_with_the_key_never_shown(page_as: Any, community: Area) -> None:
    client = page_as("community")
    key = "693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa"
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}"
    response = client.post("/assistant/robots/new/", {
        "area": community.pk, "name": "幸福里居民群机器人", "chat_name": "幸福里居民群",
        "webhook_key": url,
    })  # fmt: skip
    assert response.status_code == 302
    robot = Robot.objects.get(webhook_key=key)
    page = client.get("/assistant/robots/").content.decode()
    assert "幸福里居民群机器人" in page and "693a****5aaa" in page and key not in page
    audit = AuditEntry.objects.for_object(robot).get()
    assert key not in str(audit.changes) and audit.changes["webhook_key"] == "693a****5aaa"
    # the same robot twice, or a key that is no key, is refused on the form
    again = client.post("/assistant/robots/new/", {
        "area": community.pk, "name": "重复", "webhook_key": key,
    })  # fmt: skip
    assert again.status_code == 422 and "该群机器人已登记" in again.content.decode()
    bad = client.post("/assistant/robots/new/", {
        "area": community.pk, "name": "坏的", "webhook_key": "<script>",
    })  # fmt: skip
    assert bad.status_code == 422 and "<script>" not in bad.content.decode()
    # switching it off keeps it out of broadcasts
    client.post(f"/assistant/robots/{robot.pk}/toggle/")
    robot.refresh_from_db()
    assert not robot.enabled
    assert page_as("grid").post(f"/assistant/robots/{robot.pk}/toggle/").status_code == 404


# --- the demo stage ----------------------------------------------------------------------------
def test_the_demo_stage_seeds_robots_and_broadcasts(
    wecom: FakeWeCom,  # noqa: F811
    db: Any,
) -> None:
    from jiayuan.assistant.demo.wecom import seed_wecom

    # given the tiny county without robots or broadcasts
    Robot.objects.all().delete()
    Broadcast.objects.all().delete()

    # when the stage runs
    counts = seed_wecom(7, "tiny", now=T0)

    # then each community's resident group has its robot, with a made-up demo key
    communities = Area.objects.filter(kind="community")
    assert counts["robots"] == communities.count() == Robot.objects.count()
    assert set(Robot.objects.values_list("area_id", flat=True)) == set(
        communities.values_list("pk", flat=True)
    )
    assert all(k.startswith("demo-") for k in Robot.objects.values_list("webhook_key", flat=True))
    # three broadcasts sent (from 城乡居民医保参保资助 on), with deliveries, two scheduled
    sent = Broadcast.objects.filter(status=BroadcastStatus.SENT).order_by("scheduled_at")
    assert [b.policy.code for b in sent] == ["yibao-zizhu", "gaoling-jintie", "dibao"]  # type: ignore[union-attr]
    assert Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED).count() == 2
    for b in sent:
        robots = Robot.objects.filter(area_path__startswith=b.area_path).count()
        assert b.deliveries.count() == robots
        assert b.deliveries.filter(status=DeliveryStatus.SENT).exists()
    assert counts["deliveries"] == Delivery.objects.count()
    # and the same seed draws the same keys
    keys = sorted(Robot.objects.values_list("webhook_key", flat=True))
    Robot.objects.all().delete()
    seed_wecom(7, "tiny", now=T0)
    assert sorted(Robot.objects.values_list("webhook_key", flat=True)) == keys

    # when a scheduled one falls due, its demo robots are never sent to WeCom
    due = Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED).order_by("scheduled_at")[0]
    broadcasts.send_due(due.scheduled_at)
    due.refresh_from_db()
    assert due.status == BroadcastStatus.FAILED and not wecom.received
    assert "演示机器人" in due.deliveries.first().error  # type: ignore[union-attr]


def test_the_minute_job_is_registered_and_runs(
    wecom: FakeWeCom,  # noqa: F811
    users: Any,
    community: Area,
) -> None:
    from jiayuan.assistant import tasks

    # a broadcast due a minute ago is sent by the periodic task itself
    add_robot(community)
    now = dt.datetime.now(dt.UTC)
    made = broadcasts.create(
        users["community"],
        broadcasts.BroadcastFields(area=community, title="通知", content="医保缴费提醒",
                                   scheduled_at=now - MINUTE),
        now=now - MINUTE,
    )  # fmt: skip
    result = tasks.wecom_jobs.send_broadcasts.call_local()
    assert result["started"] >= 1 and result["sent"] >= 1
    made.refresh_from_db()
    assert made.status == BroadcastStatus.SENT and len(wecom.received) >= 1
