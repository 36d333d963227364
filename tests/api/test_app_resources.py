"""The scope matrix for every list/detail resource of cases, iot and policies: each
declares its rows and inherits the generic read tests (tests/api/mixins.py)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from jiayuan.cases import services as case_services
from jiayuan.cases.models import Case, CaseEvent, Category
from jiayuan.iot import lifecycle
from jiayuan.iot.models import Alarm, AlarmRule, Device
from jiayuan.org.models import Area
from jiayuan.people.models import Person
from jiayuan.policies import services as policy_services
from jiayuan.policies.models import Match, Policy, ReceivedBenefit

from .conftest import World
from .mixins import ListScopeTests, ScopeTests


def a_grid_in(area: Area) -> Area:
    grid = Area.objects.filter(kind="grid", path__startswith=area.path).order_by("path").first()
    assert grid is not None
    return grid


class TestCases(ScopeTests):
    model = Case
    path = "/cases"

    def seed(self, world: World) -> None:
        # The seeded year of cases lies in the first grids only; one case per place.
        for area in (world.grid, world.other_grid, world.next_community):
            if self.under(area).exists():
                continue
            grid = a_grid_in(area)
            case_services.intake(
                actor=None,
                channel="snapshot",
                category=Category.objects.get(code="0201"),
                description="楼道堆放杂物，影响通行",
                lat=grid.centroid_lat,
                lng=grid.centroid_lng,
                reporter_name="李先生",
                reporter_phone="13812345678",
            )

    def also_seen(self, username: str) -> set[int]:
        # cases.queries: the current handler, and who filed or worked on a case that was
        # raised above them (提级帮办), read-only.
        user = get_user_model().objects.get(username=username)
        took_part = CaseEvent.objects.filter(actor=user).values("case_id")
        rows = Case.objects.filter(Q(handler_user=user) | Q(escalated_help=True, pk__in=took_part))
        return set(rows.values_list("pk", flat=True))


class TestDevices(ScopeTests):
    model = Device
    path = "/devices"


class TestAlarms(ScopeTests):
    model = Alarm
    path = "/alarms"

    def seed(self, world: World) -> None:
        rule = AlarmRule.objects.get(code="tamper")
        for area in (world.grid, world.other_grid, world.next_community):
            if self.under(area).exists():
                continue
            device = Device.objects.filter(area_path__startswith=area.path).order_by("pk").first()
            assert device is not None
            lifecycle.raise_alarm(device, rule, at=timezone.now(), detail={"event": "tamper"})


class TestMatches(ScopeTests):
    model = Match
    path = "/matches"


class TestBenefits(ListScopeTests):
    # Benefits are listed, and recorded with POST; there is no detail route.
    model = ReceivedBenefit
    path = "/benefits"

    def seed(self, world: World) -> None:
        policy = Policy.objects.order_by("code").first()
        assert policy is not None
        for area in (world.grid, world.other_grid, world.next_community):
            if self.under(area).exists():
                continue
            person = Person.objects.filter(area_path__startswith=area.path).order_by("pk")[0]
            policy_services.record_benefit(person, policy, since=timezone.localdate())
