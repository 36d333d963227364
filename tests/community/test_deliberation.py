"""Compound deliberation's actions: a topic from proposal to published minutes, the census,
one vote per household or dwelling, paper votes, minutes visibility and escalation.

The helpers at the top are shared by the other ``test_deliberation_*`` files.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from jiayuan.community.choices import MeetingStatus, RosterGroup, TaskStatus, TopicStatus
from jiayuan.community.deliberation import census, meetings, present, queries, topics
from jiayuan.community.models import CensusEntry, MatterType, Resolution, Topic, Vote
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Role
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling, Membership
from jiayuan.people.models import Household, Person

User = get_user_model()
HOUSEHOLD_MATTER = "residents_public_affairs"
OWNERS_MATTER = "owners_05_use_maintenance_fund"


# --- shared helpers ------------------------------------------------------------------------
def user(username: str) -> Any:
    return User.objects.get(username=username)


def branch_zone() -> Area:
    """The compound of the demo ``branch`` secretary (where ``resident`` lives)."""
    return Membership.objects.get(user__username="branch", role=Role.BRANCH_SECRETARY).area


def other_zone() -> Area:
    return Area.objects.filter(kind=AreaKind.ZONE).exclude(pk=branch_zone().pk).order_by("path")[0]


def new_topic(
    matter: str = HOUSEHOLD_MATTER, zone: Area | None = None, actor: Any = None, title: str = ""
) -> Topic:
    actor = actor or user("branch")
    return topics.create_topic(
        actor,
        zone=zone or branch_zone(),
        title=title or "小区东门加装电动车充电桩",
        matter_type=MatterType.objects.get(code=matter),
        description="居民反映电动车充电难，拟在东门空地加装充电桩。",
    )


def resident_person() -> Person:
    return Person.objects.get(user__username="resident")


def voting_topic(matter: str = HOUSEHOLD_MATTER) -> Topic:
    topic = new_topic(matter)
    topics.open_voting(user("branch"), topic)
    topic.refresh_from_db()
    return topic


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """Every test reads the seeded tiny county (rolled back after each test)."""


# --- the flow --------------------------------------------------------------------------------
def test_a_topic_from_proposal_to_published_minutes() -> None:
    branch = user("branch")
    # given a topic with a proposal
    topic = new_topic()
    assert topic.area_path == branch_zone().path and topic.status == TopicStatus.PROPOSED
    topics.add_proposal(branch, topic, title="东门空地装10个充电口", author_name="居民代表")
    topic.refresh_from_db()
    assert topic.status == TopicStatus.DISCUSSING

    # when a meeting is held: the 1+3+N roster comes from the compound's positions
    meeting = meetings.schedule(
        branch, topic, starts_at=timezone.now() + dt.timedelta(days=1), agenda="一、方案说明"
    )
    topic.refresh_from_db()
    assert topic.status == TopicStatus.SCHEDULED
    members = list(meeting.roster.all())
    groups = {m.group for m in members}
    assert {RosterGroup.BRANCH, RosterGroup.PROPERTY, RosterGroup.RESIDENT_REP} <= groups
    assert meeting.quorum == len(members) // 2 + 1
    for member in members[: meeting.quorum]:
        meetings.sign_in(branch, meeting, member.pk)
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.OPEN
    assert meetings.attendance(meeting)["quorum_met"]

    # and the vote: the census is the compound's households
    topics.open_voting(branch, topic)
    topic.refresh_from_db()
    households = Household.objects.filter(area_path__startswith=topic.area_path).count()
    assert topic.status == TopicStatus.VOTING
    assert CensusEntry.objects.filter(topic=topic).count() == households
    vote = topics.cast_vote(user("resident"), topic, choice="yes")
    assert not vote.paper and vote.cast_by == resident_person()
    assert vote.proposal is not None and vote.proposal.title == "东门空地装10个充电口"
    entries = list(CensusEntry.objects.filter(topic=topic).exclude(pk=vote.entry_id)[:40])
    for entry in entries:
        topics.paper_vote(branch, topic, entry_id=entry.pk, choice="yes")

    # then closing records the resolution with its tally
    resolution = topics.close_voting(branch, topic)
    topic.refresh_from_db()
    assert resolution.passed and topic.status == TopicStatus.PASSED
    assert resolution.tally["headcount"]["participating"] == str(len(entries) + 1)
    assert resolution.tally["area"] is None  # a household matter counts households only

    # and the follow-up tasks are tracked until the topic is done
    task = topics.add_task(branch, topic, title="采购安装充电桩", owner="物业")
    topics.update_task(branch, task, progress=40, note="已完成选址")
    task.refresh_from_db()
    assert (task.status, task.progress) == (TaskStatus.DOING, 40)
    topics.update_task(branch, task, progress=100)
    topic.refresh_from_db()
    assert topic.status == TopicStatus.CLOSED

    # and the minutes become visible to the residents once published
    meetings.write_minutes(branch, meeting, minutes="会议同意方案。", publish=False)
    meeting.refresh_from_db()
    assert not queries.minutes_visible(user("resident"), meeting)
    assert queries.minutes_visible(branch, meeting)
    meetings.write_minutes(branch, meeting, minutes="会议同意方案，由物业实施。", publish=True)
    meeting.refresh_from_db()
    assert queries.minutes_visible(user("resident"), meeting)
    assert meeting.status == MeetingStatus.CLOSED
    with pytest.raises(Conflict):
        meetings.write_minutes(branch, meeting, minutes="改写", publish=True)

    # and every step is in the audit log
    notes = set(AuditEntry.objects.for_object(topic).values_list("note", flat=True))
    assert {"新议题", f"开始表决，表决名册 {households} 个", "居民投票", "结束表决"} <= notes


def test_owners_census_is_the_dwellings_with_their_floor_area() -> None:
    topic = voting_topic(OWNERS_MATTER)
    zone = topic.zone
    dwellings = Dwelling.objects.filter(area_path__startswith=zone.path)
    entries = CensusEntry.objects.filter(topic=topic)
    assert entries.count() == dwellings.count()
    total = sum((d.floor_area or Decimal(0) for d in dwellings), Decimal(0))
    assert sum((e.floor_area for e in entries), Decimal(0)) == total
    # the voter of a dwelling is the head of the household living there
    mine = entries.get(voter=resident_person())
    assert mine.dwelling_id == resident_person().dwelling_id
    # a dwelling nobody lives in is still counted, with no voter
    vacant = entries.filter(voter__isnull=True)
    lived_in = set(
        Household.objects.filter(area_path__startswith=zone.path).values_list("dwelling", flat=True)
    )
    assert {e.dwelling_id for e in vacant} == {d.pk for d in dwellings if d.pk not in lived_in}


def test_the_census_is_taken_once() -> None:
    topic = voting_topic()
    before = CensusEntry.objects.filter(topic=topic).count()
    assert census.take(topic) == 0
    assert CensusEntry.objects.filter(topic=topic).count() == before


def test_a_vote_outside_the_census_is_refused() -> None:
    topic = voting_topic()
    # an account linked to nobody has no household
    with pytest.raises(PermissionDenied):
        topics.cast_vote(User.objects.create_user("nobody"), topic, choice="yes")
    # a resident who is not a household head is not the household's voter
    member = (
        Person.objects.filter(area_path__startswith=topic.area_path, death_date__isnull=True)
        .exclude(relation="head")
        .first()
    )
    assert member is not None
    member_user = User.objects.create_user("family-member")
    member.user = member_user
    member.save()
    with pytest.raises(PermissionDenied):
        topics.cast_vote(member_user, topic, choice="yes")
    # a resident of another compound is outside this census too
    other = voting_topic()
    stranger = Person.objects.filter(
        area_path__startswith=other_zone().path, relation="head", death_date__isnull=True
    ).first()
    assert stranger is not None
    stranger.user = User.objects.create_user("stranger")
    stranger.save()
    with pytest.raises(PermissionDenied):
        topics.cast_vote(stranger.user, other, choice="yes")
    # a paper vote for an entry of another topic's census is refused
    foreign = CensusEntry.objects.filter(topic=other).first()
    assert foreign is not None
    with pytest.raises(ValidationFailed):
        topics.paper_vote(user("branch"), topic, entry_id=foreign.pk, choice="yes")
    assert not Vote.objects.filter(topic=topic).exists()


def test_a_second_vote_is_refused_and_replaces_nothing() -> None:
    topic = voting_topic()
    first = topics.cast_vote(user("resident"), topic, choice="no")
    with pytest.raises(Conflict) as refused:
        topics.cast_vote(user("resident"), topic, choice="yes")
    assert "已经投过票" in refused.value.zh
    # nor may staff overwrite it with a paper vote
    with pytest.raises(Conflict):
        topics.paper_vote(user("branch"), topic, entry_id=first.entry_id, choice="yes")
    votes = Vote.objects.filter(topic=topic)
    assert votes.count() == 1 and votes.get().choice == "no"


def test_the_database_holds_one_vote_per_entry() -> None:
    from django.db import IntegrityError, transaction

    topic = voting_topic()
    entry = CensusEntry.objects.filter(topic=topic).first()
    assert entry is not None
    Vote.objects.create(topic=topic, entry=entry, choice="yes")
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(topic=topic, entry=entry, choice="no")


def test_paper_votes_are_marked_with_who_entered_them() -> None:
    topic = voting_topic()
    entry = CensusEntry.objects.filter(topic=topic, voter__isnull=False).last()
    assert entry is not None
    vote = topics.paper_vote(user("branch"), topic, entry_id=entry.pk, choice="abstain")
    assert vote.paper and vote.entered_by == user("branch") and vote.cast_by == entry.voter
    # a resident may not enter paper votes
    with pytest.raises(PermissionDenied):
        topics.paper_vote(user("resident"), topic, entry_id=entry.pk, choice="yes")


def test_votes_only_while_voting_is_open() -> None:
    topic = new_topic()
    with pytest.raises(Conflict):
        topics.cast_vote(user("resident"), topic, choice="yes")
    topics.open_voting(user("branch"), topic)
    topic.refresh_from_db()
    topics.close_voting(user("branch"), topic)
    topic.refresh_from_db()
    with pytest.raises(Conflict):
        topics.cast_vote(user("resident"), topic, choice="yes")
    with pytest.raises(Conflict):  # and a decided topic is not decided twice
        topics.close_voting(user("branch"), topic)
    assert Resolution.objects.filter(topic=topic).count() == 1


def test_a_vote_after_the_deadline_is_refused() -> None:
    topic = new_topic()
    topics.open_voting(user("branch"), topic, closes_at=timezone.now() + dt.timedelta(seconds=30))
    Topic.objects.filter(pk=topic.pk).update(voting_closes_at=timezone.now())
    topic.refresh_from_db()
    with pytest.raises(Conflict):
        topics.cast_vote(user("resident"), topic, choice="yes")


def test_an_owners_matter_without_enough_participation_is_rejected() -> None:
    topic = voting_topic(OWNERS_MATTER)
    topics.cast_vote(user("resident"), topic, choice="yes")
    resolution = topics.close_voting(user("branch"), topic)
    assert not resolution.passed
    assert resolution.tally["quorum_met"] is False
    assert resolution.tally["area"]["participation_met"] is False
    assert "未达法定比例" in resolution.text
    topic.refresh_from_db()
    assert topic.status == TopicStatus.REJECTED


def test_the_resolution_agrees_with_the_count_by_area_and_heads() -> None:
    # given an owners' matter where 3/4 take part by heads; all participants agree
    topic = voting_topic("owners_07_rebuild")
    entries = list(CensusEntry.objects.filter(topic=topic).order_by("pk"))
    voters = entries[: (len(entries) * 3 + 3) // 4]
    for entry in voters:
        topics.paper_vote(user("branch"), topic, entry_id=entry.pk, choice="yes")
    resolution = topics.close_voting(user("branch"), topic)
    heads = resolution.tally["headcount"]
    area = resolution.tally["area"]
    assert heads["participating"] == str(len(voters)) and heads["total"] == str(len(entries))
    voted_area = sum((e.floor_area for e in voters), Decimal(0))
    all_area = sum((e.floor_area for e in entries), Decimal(0))
    assert Decimal(area["participating"]) == voted_area and Decimal(area["total"]) == all_area
    expected = voted_area * 3 >= all_area * 2 and len(voters) * 3 >= len(entries) * 2
    assert resolution.passed is expected


def test_staff_of_another_compound_may_not_act() -> None:
    topic = new_topic()
    # the resident of the compound sees the topic but may not act as staff: 403
    with pytest.raises(PermissionDenied):
        topics.open_voting(user("resident"), topic)
    # a branch secretary elsewhere does not see it: 404
    elsewhere = User.objects.create_user("branch-elsewhere")
    Membership.objects.create(user=elsewhere, area=other_zone(), role=Role.BRANCH_SECRETARY)
    with pytest.raises(NotFound):
        topics.open_voting(elsewhere, topic)
    with pytest.raises(NotFound):
        new_topic(actor=elsewhere)


def test_a_topic_belongs_to_a_compound() -> None:
    with pytest.raises(ValidationFailed):
        new_topic(zone=Area.objects.get(kind=AreaKind.COUNTY), actor=user("admin"))


@pytest.mark.parametrize(
    ("title", "field"),
    [("", "title"), ("x" * 121, "title"), ("东门\x00充电桩", "title"), ("  ", "title")],
)
def test_bad_titles_are_refused(title: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        new_topic(title=title or " ")
    assert refused.value.field == field


def test_escalation_opens_a_case_and_its_closing_finishes_the_topic() -> None:
    from jiayuan.cases.models import Case
    from jiayuan.core.incidents import close_incident

    topic = new_topic()
    number = topics.escalate(user("branch"), topic, note="需街道协调供电部门")
    topic.refresh_from_db()
    assert topic.status == TopicStatus.ESCALATED and topic.case_number == number
    case = Case.objects.get(number=number)
    assert case.source_ref == f"topic:{topic.pk}" and case.channel == "consultation"
    # escalating again is refused (the topic is with the street)
    with pytest.raises(Conflict):
        topics.escalate(user("branch"), topic)
    close_incident(Case, key=f"topic:{topic.pk}", number=number, outcome="closed")
    topic.refresh_from_db()
    assert topic.status == TopicStatus.CLOSED


def test_the_detail_shows_residents_their_vote_and_not_the_draft_minutes() -> None:
    topic = voting_topic()
    topics.cast_vote(user("resident"), topic, choice="yes")
    shown = present.detail(user("resident"), topic)
    assert shown["my_vote"] is not None and not shown["may_vote"]
    assert shown["live"] is None  # the running count is for staff
    size = CensusEntry.objects.filter(topic=topic).count()
    assert shown["turnout"] == {"census": size, "voted": 1}
    staff = present.detail(user("branch"), topic)
    assert staff["live"]["headcount"]["yes"] == "1"


def test_a_meeting_is_held_at_a_spot_of_the_compound_or_above_it() -> None:
    from jiayuan.community.models import ServicePosition

    zone = branch_zone()
    pavilion = ServicePosition.objects.create(kind="pavilion", name="和谐议事亭", area=zone)
    centre = ServicePosition.objects.create(kind="centre", name="党群服务中心", area=zone.parent)
    elsewhere = ServicePosition.objects.create(kind="corridor", name="别处", area=other_zone())
    spots = list(queries.spots_for(zone.path))
    assert pavilion in spots and centre in spots and elsewhere not in spots
    assert spots.index(pavilion) < spots.index(centre)  # the compound's own first
    topic = new_topic()
    meeting = meetings.schedule(user("branch"), topic, starts_at=timezone.now(), spot=pavilion)
    assert meeting.spot == pavilion
    with pytest.raises(ValidationFailed):
        meetings.schedule(user("branch"), topic, starts_at=timezone.now(), spot=elsewhere)
