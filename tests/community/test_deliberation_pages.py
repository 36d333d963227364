"""The deliberation desk and the resident's phone pages: the flow by forms, the 404 matrix,
minutes visibility, escaping, and query counts that do not grow with rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.community.choices import TopicStatus
from jiayuan.community.deliberation import meetings, topics
from jiayuan.community.models import CensusEntry, Meeting, Proposal, Topic, Vote
from jiayuan.core.roles import Role
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership
from jiayuan.people.models import Person

from .test_deliberation import HOUSEHOLD_MATTER, branch_zone, new_topic, other_zone, user

User = get_user_model()


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """Every test reads the seeded tiny county."""


def client_of(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def text(response: Any) -> str:
    return response.content.decode()


def test_the_desk_lists_the_topics_by_status_and_creates_one() -> None:
    branch = client_of("branch")
    new_topic(title="议题甲")
    page = branch.get("/community/deliberation/")
    assert page.status_code == 200 and "议题甲" in text(page)
    assert "议事台" in text(branch.get("/"))  # the menu item
    # a new topic through the form
    form = branch.get("/community/deliberation/new/")
    assert form.status_code == 200 and "第二百七十八条" in text(form)
    created = branch.post(
        "/community/deliberation/new/",
        {
            "zone": branch_zone().pk,
            "matter_type": HOUSEHOLD_MATTER,
            "title": "议题乙",
            "description": "说明",
        },
    )
    assert created.status_code == 302
    topic = Topic.objects.get(title="议题乙")
    assert created["Location"] == f"/community/deliberation/topics/{topic.pk}/"
    voting = branch.get("/community/deliberation/?status=proposed")
    assert "议题乙" in text(voting)
    assert "议题乙" not in text(branch.get("/community/deliberation/?status=voting"))
    # a bad form says why, in Chinese
    refused = branch.post(
        "/community/deliberation/new/",
        {"zone": other_zone().pk, "matter_type": HOUSEHOLD_MATTER, "title": "越权"},
    )
    assert refused.status_code == 422 and "请选择小区" in text(refused)


def test_the_flow_by_forms_from_desk_to_phone() -> None:
    branch, resident = client_of("branch"), client_of("resident")
    topic = new_topic(title="加装充电桩")
    base = f"/community/deliberation/topics/{topic.pk}"

    def act(action: str, **data: Any) -> Any:
        response = branch.post(f"{base}/act/{action}/", data, follow=True)
        assert response.status_code == 200
        return response

    act("propose", title="东门10个充电口", author_name="居民代表")
    act("schedule", starts_at=timezone.localtime().strftime("%Y-%m-%dT%H:%M"), agenda="一、说明")
    meeting = Meeting.objects.get(topic=topic)
    page = branch.get(f"/community/deliberation/meetings/{meeting.pk}/")
    assert page.status_code == 200 and "法定人数" in text(page)
    member = meeting.roster.order_by("pk").first()
    assert member is not None
    signed = branch.post(
        f"/community/deliberation/meetings/{meeting.pk}/act/sign_in/",
        {"member_id": member.pk},
        follow=True,
    )
    assert "已签到" in text(signed)
    act("open_voting")
    topic.refresh_from_db()
    assert topic.status == TopicStatus.VOTING

    # the resident sees the topic on the phone and votes once
    listing = resident.get("/m/topics/")
    assert listing.status_code == 200 and "待您投票" in text(listing)
    phone = resident.get(f"/m/topics/{topic.pk}/")
    assert 'data-testid="vote-form"' in text(phone)
    voted = resident.post(f"/m/topics/{topic.pk}/vote/", {"choice": "yes"}, follow=True)
    assert "投票成功" in text(voted) and 'data-testid="my-vote"' in text(voted)
    again = resident.post(f"/m/topics/{topic.pk}/vote/", {"choice": "no"}, follow=True)
    assert "已经投过票" in text(again)
    assert Vote.objects.filter(topic=topic).count() == 1

    # staff enter a paper vote and close the vote
    entry = CensusEntry.objects.filter(topic=topic, votes__isnull=True).first()
    assert entry is not None
    paper = act("paper_vote", entry_id=entry.pk, choice="no")
    assert "已录入纸质票" in text(paper)
    assert Vote.objects.get(entry=entry).paper
    refused = act("paper_vote", entry_id=entry.pk, choice="yes")
    assert "已经投过票" in text(refused)
    closed = act("close")
    assert 'data-testid="resolution"' in text(closed)

    # minutes: hidden as a draft, shown on the phone once published
    minutes = f"/community/deliberation/meetings/{meeting.pk}/act/minutes/"
    branch.post(minutes, {"minutes": "草稿内容", "publish": "0"})
    assert "草稿内容" not in text(resident.get(f"/m/topics/{topic.pk}/"))
    branch.post(minutes, {"minutes": "会议决定：东门安装充电桩。", "publish": "1"})
    shown = text(resident.get(f"/m/topics/{topic.pk}/"))
    assert "会议决定：东门安装充电桩。" in shown and 'data-testid="phone-resolution"' in shown


def test_escaping_of_user_text() -> None:
    topic = new_topic(title="<script>alert(1)</script>")
    page = text(client_of("branch").get(f"/community/deliberation/topics/{topic.pk}/"))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    phone = text(client_of("resident").get(f"/m/topics/{topic.pk}/"))
    assert "<script>alert(1)</script>" not in phone


def test_bad_form_values_are_messages_not_errors() -> None:
    branch = client_of("branch")
    topic = new_topic()
    base = f"/community/deliberation/topics/{topic.pk}/act"
    for action, data in [
        ("schedule", {"starts_at": "2026-02-30T10:00"}),
        ("schedule", {"starts_at": "2026-12-08T10:00", "quorum": "1" * 40}),
        ("paper_vote", {"entry_id": "x", "choice": "yes"}),
        ("propose", {"title": "\x00"}),
        ("update_task", {"task_id": "99999999999999999999999"}),
    ]:
        response = branch.post(f"{base}/{action}/", data, follow=True)
        assert response.status_code == 200, (action, data)
        assert 'class="alert alert-danger' in text(response), (action, data)
    assert branch.post(f"{base}/unknown/", {}).status_code == 404
    assert branch.get(f"{base}/propose/").status_code == 405


# --- who sees what -------------------------------------------------------------------------------
def outsider(username: str, area: Area, role: str | None = None) -> str:
    account = User.objects.create_user(username)
    if role is not None:
        Membership.objects.create(user=account, area=area, role=role)
    else:
        person = Person.objects.filter(
            area_path__startswith=area.path, relation="head", death_date__isnull=True
        ).first()
        assert person is not None
        person.user = account
        person.save()
    return username


def test_pages_scope_matrix() -> None:
    topic = new_topic()
    meeting = meetings.schedule(user("branch"), topic, starts_at=timezone.now())
    other_grid = Area.objects.filter(kind=AreaKind.GRID, path__startswith=other_zone().path)[0]
    staff_pages = [
        f"/community/deliberation/topics/{topic.pk}/",
        f"/community/deliberation/meetings/{meeting.pk}/",
    ]
    phone_page = f"/m/topics/{topic.pk}/"
    expected = {
        # username: (staff pages, phone page)
        "branch": (200, 200),
        "community": (200, 200),
        "resident": (403, 200),
        outsider("resident-b", other_zone()): (404, 404),
        outsider("grid-b", other_grid, Role.GRID_WORKER): (404, 404),
        outsider("branch-b", other_zone(), Role.BRANCH_SECRETARY): (404, 404),
    }
    for username, (staff, phone) in expected.items():
        client = client_of(username)
        for url in staff_pages:
            assert client.get(url).status_code == staff, (username, url)
        assert client.get(phone_page).status_code == phone, username
        assert (topic.title in text(client.get("/m/topics/"))) is (phone == 200), username
    # the desk itself is for staff only
    assert client_of("resident").get("/community/deliberation/").status_code == 403
    assert client_of("resident-b").post(phone_page + "vote/", {"choice": "yes"}).status_code == 404


# --- query counts -------------------------------------------------------------------------------
def count(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200, url
    return len(ctx.captured_queries)


def test_pages_cost_the_same_for_few_rows_and_many() -> None:
    # given a topic in voting with a meeting, and one more topic
    topic = new_topic(title="读的议题")
    topics.add_proposal(user("branch"), topic, title="p")
    meeting = meetings.schedule(user("branch"), topic, starts_at=timezone.now())
    topics.open_voting(user("branch"), topic)
    topic.refresh_from_db()
    new_topic(title="另一个")
    branch, resident = client_of("branch"), client_of("resident")
    urls = {
        branch: [
            "/community/deliberation/",
            f"/community/deliberation/topics/{topic.pk}/",
            f"/community/deliberation/meetings/{meeting.pk}/",
        ],
        resident: ["/m/topics/", f"/m/topics/{topic.pk}/"],
    }
    before = {url: count(c, url) for c, us in urls.items() for url in us}
    # when topics, proposals, meetings, roster members and votes grow
    for i in range(25):
        t = new_topic(title=f"议题{i}")
        topics.open_voting(user("branch"), t)
        t.refresh_from_db()
        topics.cast_vote(user("resident"), t, choice="yes")
    for i in range(10):
        Proposal.objects.create(topic=topic, title=f"方案{i}")
        meetings.add_member(user("branch"), meeting, group="deputy", name=f"代表{i}")
        Meeting.objects.create(topic=topic, starts_at=timezone.now())
    for entry in CensusEntry.objects.filter(topic=topic)[:20]:
        topics.paper_vote(user("branch"), topic, entry_id=entry.pk, choice="no")
    after = {url: count(c, url) for c, us in urls.items() for url in us}
    # then no page runs one more query
    assert after == before
