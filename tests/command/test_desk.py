"""The desk (工作台) at ``/``: each role's work sections hold exactly the right items on
the tiny county, items made through the apps' own actions; the work comes before the
counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from jiayuan.cases import services as case_services
from jiayuan.cases.models import Case, Category
from jiayuan.command import mobilise
from jiayuan.command.desk.base import Section
from jiayuan.command.desk.roles import desk_for, role_of
from jiayuan.community import wishes
from jiayuan.community.choices import ClaimerKind, WishCategory, WishChannel
from jiayuan.community.deliberation import topics
from jiayuan.community.models import MatterType
from jiayuan.community.residents import person_of
from jiayuan.iot import lifecycle
from jiayuan.iot.models import Alarm, AlarmRule, Device
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people.models import Force, Person
from jiayuan.policies.indicators import TASK_OPEN
from jiayuan.policies.models import Match

from .conftest import on_duty

pytestmark = pytest.mark.django_db


# --- helpers ---------------------------------------------------------------------------------
def sections(user: Any) -> dict[str, Section]:
    return {s.key: s for s in desk_for(user)[1]}


def urls(section: Section) -> list[str]:
    return [item.url for item in section.items]


def grid_of(user: Any) -> Area:
    return user.memberships.get().area


def other_grid(grid: Area) -> Area:
    community = grid.path.rsplit("/", 3)[0] + "/"
    found = (
        Area.objects.filter(kind=AreaKind.GRID, path__startswith=community)
        .exclude(pk=grid.pk)
        .order_by("path")
        .first()
    )
    assert found is not None
    return found


def new_case(grid: Area, *, dispatch: bool = True, reporter: Person | None = None) -> Case:
    return case_services.intake(
        actor=None,
        channel="snapshot",
        category=Category.objects.get(code="0201"),
        description="楼道堆放杂物，影响通行",
        lat=grid.centroid_lat,
        lng=grid.centroid_lng,
        reporter=reporter,
        reporter_name="" if reporter else "王女士",
        reporter_phone="" if reporter else "13812345678",
        auto_dispatch=dispatch,
    )


def alarm_in(area: Area) -> Alarm:
    device = (
        Device.objects.filter(area_path__startswith=area.path, device_type__code="smoke")
        .order_by("serial")
        .first()
    )
    assert device is not None, area
    rule = AlarmRule.objects.get(code="tamper")
    Alarm.objects.filter(device=device, rule=rule).delete()
    alarm, _ = lifecycle.raise_alarm(device, rule, at=timezone.now(), detail={"event": "tamper"})
    return alarm


def case_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.pk])


# --- roles -----------------------------------------------------------------------------------
def test_each_demo_account_gets_its_own_roles_desk(users: dict[str, Any]) -> None:
    expected = {
        "admin": "county_admin",
        "street": "street_leader",
        "community": "community_staff",
        "grid": "grid_worker",
        "branch": "branch_secretary",
        "head": "three_head",
        "resident": "resident",
    }
    assert {name: role_of(users[name]) for name in expected} == expected
    assert desk_for(users["grid"])[1][0].key == "accept"
    assert desk_for(users["community"])[1][0].key == "dispatch"
    assert desk_for(users["resident"])[1][0].key == "my_requests"


# --- the grid worker ---------------------------------------------------------------------------
def test_a_case_dispatched_to_the_grid_worker_waits_to_be_accepted_then_moves(
    users: dict[str, Any],
) -> None:
    # given a case dispatched to the grid worker by intake
    grid_user = users["grid"]
    case = new_case(grid_of(grid_user))
    assert case.handler_user_id == grid_user.pk
    before = sections(grid_user)["accept"]
    assert case_url(case) in urls(before)
    item = before.items[urls(before).index(case_url(case))]
    assert item.word in {"正常", "预警", "超时"} and item.due == case.stage_due_at
    # and nobody else's desk offers it to accept
    assert case_url(case) not in urls(sections(users["community"])["dispatch"])

    # when they accept it through the request loop's own action
    case_services.perform(case.pk, "accept", actor=grid_user)

    # then it left 待接单 and the count went down with it
    after = sections(grid_user)["accept"]
    assert case_url(case) not in urls(after)
    assert after.count == before.count - 1


def test_the_grid_workers_overdue_cases_are_their_own(users: dict[str, Any]) -> None:
    grid_user = users["grid"]
    mine = new_case(grid_of(grid_user))
    case_services.perform(mine.pk, "accept", actor=grid_user)
    elsewhere = new_case(other_grid(grid_of(grid_user)))
    past = timezone.now() - dt.timedelta(days=3)
    Case.objects.filter(pk__in=[mine.pk, elsewhere.pk]).update(stage_due_at=past)

    overdue = sections(grid_user)["own_overdue"]
    assert case_url(mine) in urls(overdue)
    assert case_url(elsewhere) not in urls(overdue)
    assert overdue.items[urls(overdue).index(case_url(mine))].word == "超时"
    # the community sees both in its scope's overdue cases
    in_scope = urls(sections(users["community"])["overdue"])
    assert case_url(mine) in in_scope and case_url(elsewhere) in in_scope


def test_an_alarm_in_another_grid_never_appears_on_the_grid_workers_desk(
    users: dict[str, Any],
) -> None:
    grid_user = users["grid"]
    own = alarm_in(grid_of(grid_user))
    other = alarm_in(other_grid(grid_of(grid_user)))
    shown = urls(sections(grid_user)["alarms"])
    assert reverse("iot:alarm", args=[own.pk]) in shown
    assert reverse("iot:alarm", args=[other.pk]) not in shown


def test_alarms_reach_the_community_and_the_street_desks_as_they_escalate(
    users: dict[str, Any],
) -> None:
    alarm = alarm_in(grid_of(users["grid"]))
    url = reverse("iot:alarm", args=[alarm.pk])
    assert url not in urls(sections(users["community"])["alarms"])  # the grid's to act on

    lifecycle.escalate(alarm, now=timezone.now())
    assert url in urls(sections(users["community"])["alarms"])
    assert url not in urls(sections(users["street"])["alarms"])

    lifecycle.escalate(alarm, now=timezone.now())
    assert url in urls(sections(users["street"])["alarms"])
    assert url in urls(sections(users["admin"])["alarms"])


def test_a_call_of_a_mobilisation_and_the_duty_status_of_the_grid_worker(
    users: dict[str, Any],
) -> None:
    grid_user = users["grid"]
    duty = sections(grid_user)["duty"]
    assert [i.word for i in duty.items] == ["未在岗"]
    assert duty.items[0].url == "/m/duty/"

    force = Force.objects.filter(person__user=grid_user).order_by("pk").first()
    assert force is not None
    on_duty(force, grid_of(grid_user).centroid_lat, grid_of(grid_user).centroid_lng, timezone.now())
    mob = mobilise.start(
        users["community"],
        point={"lat": grid_of(grid_user).centroid_lat, "lng": grid_of(grid_user).centroid_lng},
        head_count=1,
        message="防汛集结：请到网格中心",
    )
    desk = sections(grid_user)
    assert [i.word for i in desk["duty"].items] == ["在岗"]
    assert urls(desk["calls"]) == [f"/m/mobilisations/{mob.pk}/"]
    assert desk["calls"].items[0].word == "待确认"
    # the street leader sees it among the open mobilisations of the scope
    assert f"/command/mobilisations/{mob.pk}/" in urls(sections(users["street"])["mobilisations"])


# --- the community staff -----------------------------------------------------------------------
def test_a_received_case_waits_on_the_community_desk_to_be_dispatched(
    users: dict[str, Any],
) -> None:
    case = new_case(grid_of(users["grid"]), dispatch=False)
    assert case_url(case) in urls(sections(users["community"])["dispatch"])
    assert case_url(case) not in urls(sections(users["grid"])["accept"])


def test_policy_matches_pending_appear_for_the_community_and_per_community_for_the_street(
    users: dict[str, Any],
) -> None:
    community = sections(users["community"])["matches"]
    assert community.count > 0
    assert all(url.startswith("/policies/matches/") for url in urls(community))
    per_community = sections(users["street"])["matches_per_community"]
    street = users["street"].memberships.get().area
    assert per_community.count == (
        Match.objects.filter(status__in=TASK_OPEN, area_path__startswith=street.path).count()
    )
    assert per_community.count >= community.count
    assert per_community.more == 0  # every community with tasks is listed (two here)
    name = users["community"].memberships.get().area.name
    assert any(item.text.startswith(name) for item in per_community.items)


def test_the_leaders_desk_links_the_one_screen(page_as: Any) -> None:
    for name in ("admin", "street"):
        html = page_as(name).get("/").content.decode()
        assert 'data-testid="desk-screen"' in html
        assert 'href="/command/screen/"' in html
    assert 'data-testid="desk-screen"' not in page_as("grid").get("/").content.decode()


# --- compounds: the branch secretary and the 三长 -----------------------------------------------
def test_a_collected_wish_waits_to_be_claimed_then_is_the_claimers(users: dict[str, Any]) -> None:
    branch = users["branch"]
    compound = branch.memberships.get().area
    wish = wishes.collect(
        actor=branch,
        channel=WishChannel.DOOR,
        title="想要一把带扶手的椅子",
        category=WishCategory.CARE,
        area=compound,
    )
    url = reverse("community:wish_detail", args=[wish.pk])
    assert url in urls(sections(branch)["wishes"])
    assert url in urls(sections(users["head"])["wishes"])  # the 三长 of the compound
    assert url in urls(sections(users["community"])["wishes"])

    me = person_of(branch)
    assert me is not None
    wishes.claim(wish, actor=branch, claimer_kind=ClaimerKind.PARTY_MEMBER, claimer=me)
    desk = sections(branch)
    assert url not in urls(desk["wishes"])
    assert url in urls(desk["wishes_mine"])


def test_a_wish_of_another_compound_is_not_on_the_branch_desk(users: dict[str, Any]) -> None:
    branch = users["branch"]
    compound = branch.memberships.get().area
    other = Area.objects.filter(kind=AreaKind.ZONE).exclude(pk=compound.pk).order_by("path").first()
    assert other is not None
    wish = wishes.collect(
        actor=users["admin"],
        channel=WishChannel.STAFF,
        title="楼下需要一个快递柜",
        category=WishCategory.REPAIR,
        area=other,
    )
    assert reverse("community:wish_detail", args=[wish.pk]) not in urls(sections(branch)["wishes"])


def test_a_topic_waits_on_the_branch_desk_and_its_vote_on_the_residents_until_cast(
    users: dict[str, Any],
) -> None:
    # given a topic raised in the branch secretary's compound (where ``resident`` lives)
    branch, resident = users["branch"], users["resident"]
    topic = topics.create_topic(
        branch,
        zone=branch.memberships.get().area,
        title="小区东门加装电动车充电桩",
        matter_type=MatterType.objects.order_by("code").first(),
    )
    staff_url = reverse("community:deliberation_topic", args=[topic.pk])
    phone_url = reverse("community:phone_topic", args=[topic.pk])
    shown = sections(branch)["topics"]
    assert staff_url in urls(shown)
    assert shown.items[urls(shown).index(staff_url)].word == "待协商"
    assert phone_url not in urls(sections(resident)["my_votes"])  # nothing to vote on yet

    # when the vote opens, the resident's household is in the census and has to vote
    topics.open_voting(branch, topic)
    topic.refresh_from_db()
    assert sections(branch)["topics"].items[0].word == "表决中"
    assert phone_url in urls(sections(resident)["my_votes"])

    # then once cast, it leaves the resident's desk
    topics.cast_vote(resident, topic, choice="yes")
    assert phone_url not in urls(sections(resident)["my_votes"])


# --- the resident --------------------------------------------------------------------------------
def test_a_resident_sees_only_their_own_requests_with_their_tracking_links(
    users: dict[str, Any],
) -> None:
    resident = users["resident"]
    me = person_of(resident)
    assert me is not None
    grid = Area.objects.get(path=me.area_path.rsplit("/", 3)[0] + "/")
    mine = new_case(grid, reporter=me)
    someone = Person.objects.filter(area_path__startswith=grid.path).exclude(pk=me.pk).first()
    theirs = new_case(grid, reporter=someone)

    shown = sections(resident)["my_requests"]
    assert f"/track/{mine.tracking_token}/" in urls(shown)
    assert f"/track/{theirs.tracking_token}/" not in urls(shown)
    assert shown.count == Case.objects.filter(reporter=me).count()
    assert shown.items[0].url == f"/track/{mine.tracking_token}/"  # open ones first
    assert shown.items[0].word == mine.get_status_display()


def test_a_residents_own_wish_is_on_their_desk(users: dict[str, Any]) -> None:
    resident = users["resident"]
    wish = wishes.collect(
        actor=resident, channel=WishChannel.RESIDENT, title="想学用智能手机", category="study"
    )
    assert reverse("community:phone_wish", args=[wish.pk]) in urls(sections(resident)["my_wishes"])
    assert reverse("community:phone_wish", args=[wish.pk]) not in urls(
        sections(users["head"])["wishes_mine"]
    )


# --- the page ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["admin", "street", "community", "grid", "branch", "head"])
def test_the_work_comes_before_the_counts(page_as: Any, users: dict[str, Any], name: str) -> None:
    html = page_as(name).get("/").content.decode()
    work, counts = html.find('data-desk="work"'), html.find('data-desk="counts"')
    assert 0 < work < counts
    # every section either lists its items or says plainly that there are none
    assert html.count('data-section="') == len(
        desk_for(page_as(name).get("/").wsgi_request.user)[1]
    )


def test_the_desk_total_counts_work_not_statuses(page_as: Any, users: dict[str, Any]) -> None:
    desk = desk_for(users["grid"])[1]
    work = sum(s.count for s in desk if s.key != "duty")
    assert {s.key for s in desk if s.kind != "work"} == {"duty"}
    html = page_as("grid").get("/").content.decode()
    assert f'data-testid="desk-total">待办 {work} 项<' in html


def test_the_residents_desk_is_work_only_and_empty_sections_say_so(page_as: Any) -> None:
    html = page_as("resident").get("/").content.decode()
    assert 'data-desk="work"' in html and 'data-desk="counts"' not in html
    assert "目前没有等您表决的议题" in html
    assert (
        'href="/report/" class="btn btn-sm btn-outline-primary" data-testid="desk-action"' in html
    )
    assert "您的账号暂无可查看的区域" not in html


def test_an_empty_inbox_says_so_in_words(page_as: Any) -> None:
    Case.objects.filter(status="dispatched").delete()
    html = page_as("grid").get("/").content.decode()
    assert "今日没有待接单的诉求" in html


def test_anonymous_visitors_are_sent_to_log_in(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_name_home_still_reverses_to_the_desk() -> None:
    from django.urls import resolve

    assert reverse("home") == "/"
    assert resolve("/").func.__module__ == "jiayuan.command.desk_views"
