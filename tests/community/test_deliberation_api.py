"""The deliberation API: the flow over HTTP, the scope matrix (404 outside the compound),
one vote per census entry, hostile input, and query counts that do not grow with rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.community.deliberation import meetings, topics
from jiayuan.community.models import CensusEntry, Meeting, Topic, Vote
from jiayuan.core.roles import Role
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership
from jiayuan.people.models import Person

from ..api.conftest import Api
from .test_deliberation import (
    HOUSEHOLD_MATTER,
    OWNERS_MATTER,
    branch_zone,
    new_topic,
    other_zone,
    user,
    voting_topic,
)

User = get_user_model()


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """Every test reads the seeded tiny county."""


def api(username: str) -> Api:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return Api(client)


def resident_elsewhere() -> str:
    """A household head of another compound, with an account."""
    person = Person.objects.filter(
        area_path__startswith=other_zone().path, relation="head", death_date__isnull=True
    ).first()
    assert person is not None
    person.user = User.objects.create_user("resident-elsewhere")
    person.save()
    return "resident-elsewhere"


def staff_at(username: str, area: Area, role: str) -> str:
    account = User.objects.create_user(username)
    Membership.objects.create(user=account, area=area, role=role)
    return username


def other_grid() -> Area:
    """A grid outside the branch's compound."""
    return (
        Area.objects.filter(kind=AreaKind.GRID)
        .exclude(path__startswith=branch_zone().path)
        .order_by("path")[0]
    )


# --- the flow ------------------------------------------------------------------------------------
def test_the_flow_over_the_api() -> None:
    branch = api("branch")
    # given a new topic in the branch secretary's compound
    created = branch.post(
        "/topics",
        {"zone_id": branch_zone().pk, "title": "楼道堆物清理", "matter_type": HOUSEHOLD_MATTER},
    )
    assert created.status_code == 201, created.content
    topic_id = created.json()["id"]
    assert created.json()["may_serve"] and created.json()["status"] == "proposed"
    assert branch.post(f"/topics/{topic_id}/proposals", {"title": "统一清理日"}).status_code == 201

    # when a meeting is held and its members sign in
    start = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    meeting = branch.post(f"/topics/{topic_id}/meetings", {"starts_at": start, "agenda": "议程"})
    assert meeting.status_code == 201, meeting.content
    body = meeting.json()
    assert body["roster"] and body["attendance"]["quorum"] == len(body["roster"]) // 2 + 1
    mid = body["id"]
    member = body["roster"][0]["id"]
    signed = branch.post(f"/topics/{topic_id}/meetings/{mid}/sign-in", {"member_id": member})
    assert signed.status_code == 200 and signed.json()["attendance"]["signed_in"] == 1
    again = branch.post(f"/topics/{topic_id}/meetings/{mid}/sign-in", {"member_id": member})
    assert again.status_code == 409
    added = branch.post(
        f"/topics/{topic_id}/meetings/{mid}/roster", {"group": "deputy", "name": "县人大代表王某"}
    )
    assert added.status_code == 201 and added.json()["group"] == "deputy"

    # and the vote opens: the resident votes once; staff enter a paper vote
    opened = branch.post(f"/topics/{topic_id}/open-voting", {})
    assert opened.status_code == 200 and opened.json()["status"] == "voting"
    assert opened.json()["turnout"]["census"] > 0
    resident = api("resident")
    seen = resident.get(f"/topics/{topic_id}").json()
    assert seen["may_vote"] and seen["my_entry"] and not seen["may_serve"]
    assert seen["live_tally"] is None
    voted = resident.post(f"/topics/{topic_id}/votes", {"choice": "yes"})
    assert voted.status_code == 201 and not voted.json()["paper"]
    second = resident.post(f"/topics/{topic_id}/votes", {"choice": "no"})
    assert second.status_code == 409 and "已经投过票" in second.json()["message"]
    census = branch.get(f"/topics/{topic_id}/census", limit=500).json()
    free = next(e for e in census["items"] if not e["voted"])
    paper = branch.post(f"/topics/{topic_id}/paper-votes", {"entry_id": free["id"], "choice": "no"})
    assert paper.status_code == 201 and paper.json()["paper"]
    assert resident.post(
        f"/topics/{topic_id}/paper-votes", {"entry_id": free["id"], "choice": "yes"}
    ).status_code == 403  # fmt: skip

    # then closing gives the resolution with its tally
    closed = branch.post(f"/topics/{topic_id}/close", {})
    assert closed.status_code == 200
    result = closed.json()
    assert result["resolution"]["tally"]["headcount"]["participating"] == "2"
    assert result["status"] in ("passed", "rejected")

    # and minutes stay hidden from residents until published
    draft = branch.post(
        f"/topics/{topic_id}/meetings/{mid}/minutes", {"minutes": "讨论纪要", "publish": False}
    )
    assert draft.status_code == 200 and draft.json()["minutes"] == "讨论纪要"
    assert resident.get(f"/topics/{topic_id}").json()["meetings"][0]["minutes"] is None
    branch.post(f"/topics/{topic_id}/meetings/{mid}/minutes", {"minutes": "最终纪要"})
    assert resident.get(f"/topics/{topic_id}").json()["meetings"][0]["minutes"] == "最终纪要"


def test_tasks_and_their_public_progress() -> None:
    topic = voting_topic()
    for entry in CensusEntry.objects.filter(topic=topic)[:60]:
        topics.paper_vote(user("branch"), topic, entry_id=entry.pk, choice="yes")
    topics.close_voting(user("branch"), topic)
    branch = api("branch")
    task = branch.post(f"/topics/{topic.pk}/tasks", {"title": "张贴公告", "owner": "物业"})
    assert task.status_code == 201, task.content
    task_id = task.json()["id"]
    moved = branch.patch(f"/topics/{topic.pk}/tasks/{task_id}", {"progress": 50, "note": "进行中"})
    assert moved.status_code == 200 and moved.json()["status"] == "doing"
    assert api("resident").get(f"/topics/{topic.pk}").json()["tasks"][0]["progress"] == 50
    assert api("resident").patch(
        f"/topics/{topic.pk}/tasks/{task_id}", {"progress": 100}
    ).status_code == 403  # fmt: skip
    done = branch.patch(f"/topics/{topic.pk}/tasks/{task_id}", {"status": "done"})
    assert done.json()["progress"] == 100
    assert api("resident").get(f"/topics/{topic.pk}").json()["status"] == "closed"


def test_escalation_over_the_api() -> None:
    topic = new_topic()
    answer = api("branch").post(f"/topics/{topic.pk}/escalate", {"note": "需协调"})
    assert answer.status_code == 200, answer.content
    assert (
        api("branch").get(f"/topics/{topic.pk}").json()["case_number"]
        == answer.json()["case_number"]
    )


def test_matter_types_are_listed_with_their_thresholds() -> None:
    rows = {m["code"]: m for m in api("resident").get("/matter-types").json()}
    assert rows[OWNERS_MATTER]["pass_share"] == "1/2" and rows[OWNERS_MATTER]["pass_strict"]
    assert rows["owners_08_common_parts_use"]["pass_share"] == "3/4"


# --- scope ---------------------------------------------------------------------------------------
def seen_by(username: str, topic: Topic) -> tuple[int, bool]:
    """The detail's status for ``username`` and whether the list shows the topic."""
    client = api(username)
    listed = client.get("/topics", limit=500).json()
    ids = {t["id"] for t in listed.get("items", [])}
    return client.get(f"/topics/{topic.pk}").status_code, topic.pk in ids


def test_scope_matrix() -> None:
    topic = voting_topic()
    community = branch_zone().parent
    assert community is not None
    next_community = Area.objects.filter(kind=AreaKind.COMMUNITY).exclude(pk=community.pk)[0]
    cases = {
        "branch": 200,
        "resident": 200,
        "community": 200,
        "street": 200,
        "admin": 200,
        resident_elsewhere(): 404,
        staff_at("grid-elsewhere", other_grid(), Role.GRID_WORKER): 404,
        staff_at("branch-elsewhere", other_zone(), Role.BRANCH_SECRETARY): 404,
        staff_at("community-next", next_community, Role.COMMUNITY_STAFF): 404,
        staff_at("head-elsewhere", other_grid(), Role.THREE_HEAD): 404,
    }
    for username, expected in cases.items():
        status, listed = seen_by(username, topic)
        assert (status, listed) == (expected, expected == 200), username
    # outsiders cannot act either, and learn nothing: 404
    outsider = api("resident-elsewhere")
    assert outsider.post(f"/topics/{topic.pk}/votes", {"choice": "yes"}).status_code == 404
    assert api("branch-elsewhere").post(f"/topics/{topic.pk}/close", {}).status_code == 404
    assert api("branch-elsewhere").get(f"/topics/{topic.pk}/census").status_code == 404
    assert api("resident").get(f"/topics/{topic.pk}/census").status_code == 403
    assert not Vote.objects.filter(topic=topic).exists()
    anonymous = Api(Client())
    assert anonymous.get(f"/topics/{topic.pk}").status_code == 401


def test_a_topic_in_a_compound_outside_the_scope_cannot_be_created() -> None:
    answer = api("branch").post(
        "/topics",
        {"zone_id": other_zone().pk, "title": "越权议题", "matter_type": HOUSEHOLD_MATTER},
    )
    assert answer.status_code == 404
    assert not Topic.objects.filter(title="越权议题").exists()


def test_a_vote_outside_the_census_gets_403() -> None:
    topic = voting_topic()
    nobody = User.objects.create_user("nobody-in-census")
    Membership.objects.create(user=nobody, area=branch_zone(), role=Role.THREE_HEAD)
    answer = api("nobody-in-census").post(f"/topics/{topic.pk}/votes", {"choice": "yes"})
    assert answer.status_code == 403
    assert "表决名册" in answer.json()["message"]


# --- hostile input -------------------------------------------------------------------------------
HOSTILE_TOPICS: list[Any] = [
    {"zone_id": 10**30, "title": "x", "matter_type": HOUSEHOLD_MATTER},
    {"zone_id": -1, "title": "x", "matter_type": HOUSEHOLD_MATTER},
    {"zone_id": "一", "title": "x", "matter_type": HOUSEHOLD_MATTER},
    {"title": "x", "matter_type": HOUSEHOLD_MATTER},
    {"zone_id": 1, "title": "x" * 10_000, "matter_type": HOUSEHOLD_MATTER},
    {"zone_id": 1, "title": "\u0000", "matter_type": HOUSEHOLD_MATTER},
    {"zone_id": 1, "title": "x", "matter_type": "'; DROP TABLE x; --"},
    {"zone_id": 1, "title": {"a": [[[[[[1]]]]]]}, "matter_type": HOUSEHOLD_MATTER},
    [1, 2, 3],
    "just text",
]


@pytest.mark.parametrize("body", HOSTILE_TOPICS)
def test_hostile_topics_are_refused_with_a_bilingual_message(body: Any) -> None:
    if isinstance(body, dict) and body.get("zone_id") == 1:
        body = {**body, "zone_id": branch_zone().pk}
    answer = api("branch").post("/topics", body)
    assert 400 <= answer.status_code < 500, answer.content
    assert " / " in answer.json()["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/votes", {"choice": "maybe"}),
        ("/votes", {"choice": ["yes"]}),
        ("/votes", {"choice": "yes", "entry_id": 10**40}),
        ("/paper-votes", {"entry_id": 10**18, "choice": "yes"}),
        ("/paper-votes", {"entry_id": "abc", "choice": "yes"}),
        ("/open-voting", {"closes_at": "2026-02-30T10:00"}),
        ("/meetings", {"starts_at": "not a date"}),
        ("/meetings", {"starts_at": "2026-12-08T10:00:00", "quorum": 10**12}),
        ("/meetings", {"starts_at": "9999-12-31T23:59:59", "agenda": "\x07"}),
        ("/meetings", {"starts_at": "0001-01-01T00:00:00"}),
        ("/meetings", {"starts_at": "9999-12-31T23:59:59-12:00"}),
        ("/open-voting", {"closes_at": "9999-12-31T23:59:59-12:00"}),
        ("/open-voting", {"closes_at": "2000-01-01T00:00:00"}),
        ("/tasks", {"title": "x", "due_on": "2026-13-01"}),
        ("/escalate", {"category_code": "nope"}),
        ("/escalate", {"category_code": "1" * 500}),
    ],
)
def test_hostile_actions_are_4xx(path: str, body: Any) -> None:
    topic = voting_topic() if path in ("/votes", "/paper-votes") else new_topic()
    username = "resident" if path == "/votes" else "branch"
    answer = api(username).post(f"/topics/{topic.pk}{path}", body)
    assert 400 <= answer.status_code < 500, (path, body, answer.content)
    assert " / " in answer.json()["message"]


@pytest.mark.parametrize("topic_id", ["99999999999999999999999", "0", "-5", "abc"])
def test_odd_ids_are_404_or_422(topic_id: str) -> None:
    answer = api("branch").get(f"/topics/{topic_id}")
    assert answer.status_code in (404, 422)
    answer = api("branch").post(f"/topics/{topic_id}/votes", {"choice": "yes"})
    assert answer.status_code in (404, 422)


def test_a_task_progress_out_of_range_is_refused() -> None:
    topic = voting_topic()
    for entry in CensusEntry.objects.filter(topic=topic)[:60]:
        topics.paper_vote(user("branch"), topic, entry_id=entry.pk, choice="yes")
    topics.close_voting(user("branch"), topic)
    task = topics.add_task(user("branch"), topic, title="t")
    for progress in (-1, 101, 10**20, True):
        answer = api("branch").patch(f"/topics/{topic.pk}/tasks/{task.pk}", {"progress": progress})
        assert answer.status_code == 422, progress


# --- query counts --------------------------------------------------------------------------------
def queries_of(client: Api, path: str, **params: Any) -> int:
    client.get(path, **params)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, **params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def grow(n: int) -> Topic:
    """``n`` more topics, each with a meeting and roster, a proposal and votes; returns the
    one whose detail is read."""
    zone = branch_zone()
    topic = Topic.objects.filter(area_path=zone.path).order_by("pk").first()
    for i in range(n):
        t = new_topic(title=f"议题 {i}")
        topics.add_proposal(user("branch"), t, title=f"方案 {i}")
        meetings.schedule(user("branch"), t, starts_at=timezone.now())
    if topic is None:
        topic = new_topic(title="被读的议题")
    return topic


def test_list_and_detail_cost_the_same_for_few_rows_and_many() -> None:
    # given a topic read in detail, with one of each child
    topic = voting_topic()
    topics.add_proposal(user("branch"), Topic.objects.get(pk=new_topic().pk), title="a")
    meeting = meetings.schedule(user("branch"), new_topic(), starts_at=timezone.now())
    detail_topic = meeting.topic
    topics.add_proposal(user("branch"), detail_topic, title="p")
    branch, resident = api("branch"), api("resident")
    before = {
        "list": queries_of(branch, "/topics", limit=2),
        "detail": queries_of(branch, f"/topics/{detail_topic.pk}"),
        "resident": queries_of(resident, f"/topics/{detail_topic.pk}"),
        "census": queries_of(branch, f"/topics/{topic.pk}/census", limit=2),
        "voting": queries_of(branch, f"/topics/{topic.pk}"),
    }
    # when there are many more topics, proposals, meetings, roster members and votes
    grow(25)
    for i in range(20):
        topics.add_proposal(user("branch"), detail_topic, title=f"p{i}")
    for _ in range(5):
        Meeting.objects.create(topic=detail_topic, starts_at=timezone.now())
    entries = CensusEntry.objects.filter(topic=topic)[:30]
    for entry in entries:
        topics.paper_vote(user("branch"), topic, entry_id=entry.pk, choice="yes")
    after = {
        "list": queries_of(branch, "/topics", limit=30),
        "detail": queries_of(branch, f"/topics/{detail_topic.pk}"),
        "resident": queries_of(resident, f"/topics/{detail_topic.pk}"),
        "census": queries_of(branch, f"/topics/{topic.pk}/census", limit=30),
        "voting": queries_of(branch, f"/topics/{topic.pk}"),
    }
    # then the same number of queries
    assert after == before
