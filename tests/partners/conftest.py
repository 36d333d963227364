"""Shared fixtures of the red partners' tests: the community services' fixtures (the
demo accounts as users and as logged-in API and page clients, the compounds of the tiny
county, a private media root, a small JPEG) and the partners' own, added below by each
part."""

from __future__ import annotations

from tests.community.conftest import (  # noqa: F401 - fixtures, used by name
    Api,
    Compounds,
    api_as,
    compounds,
    jpeg,
    login,
    media,
    page_as,
    users,
)

COMMUNITY = "370830/001/001/"  # the ``community`` account's community
OTHER_COMMUNITY = "370830/001/002/"


# registry
import datetime as _dt  # noqa: E402
from typing import Any as _Any  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def community_area(db: _Any) -> _Any:
    """The ``community`` account's community (an Area)."""
    from jiayuan.org.models import Area

    return Area.objects.get(path=COMMUNITY)


@pytest.fixture
def other_community_area(db: _Any) -> _Any:
    from jiayuan.org.models import Area

    return Area.objects.get(path=OTHER_COMMUNITY)


@pytest.fixture
def make_partner(db: _Any) -> _Any:
    """``make_partner(area, name=..., kind=..., opening=True)``: a partner row with its
    opening credit entry (through the ledger), without the registry's checks."""
    from jiayuan.partners import credit
    from jiayuan.partners.models import Partner

    def make(area: _Any, *, name: str = "红帆社工服务中心", kind: str = "volunteer_team",
             opening: bool = True, **fields: _Any) -> Partner:  # fmt: skip
        partner = Partner.objects.create(area=area, name=name, kind=kind, **fields)
        if opening:
            credit.open_ledger(partner)
        partner.refresh_from_db()
        return partner

    return make


@pytest.fixture
def make_agreement(db: _Any) -> _Any:
    """``make_agreement(partner, warning=80, dismissal=60)``: an active agreement of a
    project in the partner's area (the project's partner set)."""
    from jiayuan.partners.models import Agreement, Project

    def make(partner: _Any, *, warning: int = 80, dismissal: int = 60, **fields: _Any) -> _Any:
        project = Project.objects.create(
            area=partner.area, name=f"{partner.name}的项目", content="长者助餐",
            price_class="low_cost", partner=partner, stage="supervision",
        )  # fmt: skip
        today = _dt.date(2026, 1, 1)
        return Agreement.objects.create(
            project=project, partner=partner, starts_on=today,
            ends_on=today + _dt.timedelta(days=365), obligations="提供助餐服务",
            exit_conditions="信用分降至清退线", warning_threshold=warning,
            dismissal_threshold=dismissal, status="active", **fields,
        )  # fmt: skip

    return make


def _member(username: str, role: str, area: _Any) -> _Any:
    from django.contrib.auth import get_user_model

    from jiayuan.org.models import Membership

    user = get_user_model().objects.create_user(username=username, password="x-unused-x")
    Membership.objects.create(user=user, area=area, role=role)
    return user


@pytest.fixture
def viewer(community_area: _Any) -> _Any:
    """A grid worker posted at the whole community: sees its partners (VIEW, CHANGE) but
    may neither manage them (SUPERVISE) nor reveal phones (REVEAL_PII)."""
    return _member("partners-viewer", "grid_worker", community_area)


@pytest.fixture
def outsider(other_community_area: _Any) -> _Any:
    """Another community's staff: sees none of this community's partners."""
    return _member("partners-outsider", "community_staff", other_community_area)


# supervision
from dataclasses import dataclass as _dataclass  # noqa: E402


@_dataclass(frozen=True)
class Watched:
    """The supervision part's world: ``project`` (永续 canteen, in operation at 监管 in
    COMMUNITY, run by ``partner`` with an opening credit), ``early`` (a project of
    COMMUNITY still in 协议), ``far`` (a project in operation in OTHER_COMMUNITY) and
    ``group`` (COMMUNITY's 食堂监督团 watching ``project``, the ``head`` account's person
    on it)."""

    project: _Any
    partner: _Any
    early: _Any
    far: _Any
    group: _Any


@pytest.fixture
def watched(db: _Any) -> Watched:
    from django.contrib.auth import get_user_model

    from jiayuan.org.models import Area
    from jiayuan.partners import credit
    from jiayuan.partners.models import Partner, Project, SupervisionGroup
    from jiayuan.people.models import Person

    here = Area.objects.get(path=COMMUNITY)
    there = Area.objects.get(path=OTHER_COMMUNITY)

    def partner_in(area: _Any, name: str) -> _Any:
        row = Partner.objects.create(area=area, name=name, kind="merchant")
        credit.open_ledger(row)
        row.refresh_from_db()
        return row

    partner = partner_in(here, "永续餐饮服务社")
    project = Project.objects.create(
        area=here, name="永续社区长者食堂", content="一荤两素，长者助餐", price_class="low_cost",
        price_cap="12.00", partner=partner, stage="supervision",
    )  # fmt: skip
    early = Project.objects.create(
        area=here, name="四点半课堂", content="放学后托管", price_class="free", stage="agreement"
    )
    far = Project.objects.create(
        area=there, name="邻村理发室", content="义剪", price_class="free",
        partner=partner_in(there, "邻村理发社"), stage="evaluation",
    )  # fmt: skip
    group = SupervisionGroup.objects.create(area=here, name="食堂监督团")
    group.members.set([Person.objects.get(user=get_user_model().objects.get(username="head"))])
    group.projects.set([project])
    return Watched(project=project, partner=partner, early=early, far=far, group=group)


@pytest.fixture
def far_staff(db: _Any) -> _Any:
    """Community staff of OTHER_COMMUNITY: SUPERVISE there, nothing here."""
    from django.contrib.auth import get_user_model

    from jiayuan.org.models import Area, Membership

    user = get_user_model().objects.create_user(username="supervision-far", password="x-unused-x")
    Membership.objects.create(
        user=user, area=Area.objects.get(path=OTHER_COMMUNITY), role="community_staff"
    )
    return user


@pytest.fixture
def community_grid_worker(db: _Any) -> _Any:
    """A grid worker posted at the whole COMMUNITY: sees its projects, may not SUPERVISE
    and is on no supervision group."""
    from django.contrib.auth import get_user_model

    from jiayuan.org.models import Area, Membership

    user = get_user_model().objects.create_user(username="supervision-gw", password="x-unused-x")
    Membership.objects.create(user=user, area=Area.objects.get(path=COMMUNITY), role="grid_worker")
    return user
