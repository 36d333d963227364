"""The one screen's JSON: ``GET /api/v1/screen?area=<id>`` answers the panels of a
county, street or community in the user's scope (the same numbers the page draws);
another kind of area, one outside the scope or an id beyond 64 bits is a 404."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from jiayuan.core.api import acting_user, responses

from .screen import panels as screen_panels

router = Router(tags=["指挥调度 · 一屏 / screen"])


class ScreenParams(Schema):
    area: int = Field(
        ..., ge=1, description="县、街道或社区的区域编号 / a county, street or community id"
    )
    part: Literal["all", "live"] = Field(
        "all",
        description="live: 只含随实时事件变化的面板 / only the panels live events change "
        "(forces, cases, alarms, policies); the others are null",
    )


class AreaOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str


class ChildOut(Schema):
    id: int
    name: str
    kind: str


class Figure(Schema):
    """One labelled number."""

    key: str
    label: str
    value: int


class GroupOut(Schema):
    """A special group: persons (人) or households (户) holding a tag (``key``) today."""

    key: str
    label: str
    unit: str
    value: int


class PopulationOut(Schema):
    counts: list[Figure]
    groups: list[GroupOut]


class PartyChildOut(Schema):
    id: int
    name: str
    zones: int
    branches: int
    grids: int
    groups: int


class PartyOut(Schema):
    """小区党支部 per zone and 网格党小组 per grid (coverage 0–1), 党员中心户, 党员."""

    zones: int
    branches: int
    grids: int
    groups: int
    zone_coverage: float
    grid_coverage: float
    central_households: int
    party_members: int
    by_child: list[PartyChildOut]


class ForceKindOut(Schema):
    key: str
    label: str
    on_duty: int
    total: int


class ForcesOut(Schema):
    """Forces on duty now (open 上岗 shifts); ``located``: how many reported a position."""

    on_duty: int
    located: int
    total: int
    by_kind: list[ForceKindOut]


class CasesOut(Schema):
    """Open cases per status, per step (派办审回) and per traffic light."""

    open: int
    by_status: list[Figure]
    by_step: list[Figure]
    by_light: list[Figure]


class AlarmLevelOut(Schema):
    key: str
    label: str
    active: int
    acknowledged: int


class AlarmsOut(Schema):
    """Open alarms: ``active`` not yet acknowledged, per severity."""

    open: int
    active: int
    by_level: list[AlarmLevelOut]


class PoliciesOut(Schema):
    """Policy matches: door tasks pending, delivered (已办结), upcoming."""

    pending: int
    delivered: int
    upcoming: int
    by_status: list[Figure]


class ServicesOut(Schema):
    """Community services since ``since`` (the last seven days)."""

    since: str
    items: list[Figure]


class SeriesOut(Schema):
    key: str
    label: str
    data: list[int]


class TrendsOut(Schema):
    """Per month over the last twelve months, the current one last."""

    months: list[str]
    series: list[SeriesOut]


class ScreenOut(Schema):
    """The panels; ``population``, ``party``, ``services`` and ``trends`` are null when
    only the live part was asked for (``part=live``)."""

    area: AreaOut
    children: list[ChildOut]
    generated_at: str
    kpis: list[Figure]
    population: PopulationOut | None
    party: PartyOut | None
    forces: ForcesOut
    cases: CasesOut
    alarms: AlarmsOut
    policies: PoliciesOut
    services: ServicesOut | None
    trends: TrendsOut | None


@router.get("/screen", response=responses(ScreenOut), url_name="screen_panels")
def screen(request: HttpRequest, params: Query[ScreenParams]) -> Any:
    """一屏的面板数据 / the panels of one screen: population and special groups, party
    coverage, forces on duty, open cases by step and light, open alarms by severity,
    policy matches, the week's community services and twelve months of trends;
    ``part=live`` only the panels the live stream's events change (what the page re-reads
    on an event)."""
    user = acting_user(request)
    area = screen_panels.screen_area(user, params.area)
    return screen_panels.panels(user, area, live_only=params.part == "live")
