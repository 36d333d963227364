"""Indicators on a constructed data set, against figures computed by hand (acceptance 5),
scope, rankings, month-over-month, the Excel export, and the 不满意 → reopen rule.

The data set lives in June 2024, before anything the demo seed writes, and every case
sits at its own point (more than the 50 m duplicate radius of 垃圾清运 apart) so that
only the case meant as a duplicate is one. Working hours 8:30–12:00, 13:30–17:30;
Mon 10 Jun 2024 was the Dragon Boat Festival.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from jiayuan.cases import indicators, services
from jiayuan.cases.choices import Level, Status
from jiayuan.cases.models import Case
from jiayuan.core.models import AuditEntry, Notification
from jiayuan.org.models import Area

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
JUNE = {"start": dt.date(2024, 6, 1), "end": dt.date(2024, 7, 1)}


def at(day: int, hour: int, minute: int = 0, month: int = 6) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def far_grid(users: dict[str, Any]) -> Area:
    """A grid outside the demo community (so outside `community`'s scope too)."""
    community = users["community"].memberships.get().area
    return Area.objects.filter(kind="grid").exclude(path__startswith=community.path).first()


@pytest.fixture
def june(users: dict[str, Any], make_case: Any, own_grid: Area, far_grid: Area) -> dict[str, Case]:
    """The constructed month. In the grid worker's grid unless said otherwise:

    A  closed first time, 满意               received Mon 3 Jun 09:00, replied 14:00
    B  sent back once, then closed, 基本满意  received Mon 3 Jun 10:00, replied 16:00
    C  不满意 → reopened → closed, 满意       received Tue 4 Jun 09:00, replied again 15:30
    D  replied late (after the total limit), waiting for the visit
    E  dispatched late by the community, accepted
    F  a duplicate of A, merged into it
    G  rejected (不予受理)
    U  不满意 at the visit, reopened and in progress again
    H  escalated by the grid worker to the community, closed there
    Z  a 公共区域保洁 (property, zone level) case closed by the zone
    O  in another community's grid, never dispatched
    """
    grid, community, street, branch = (users[n] for n in ("grid", "community", "street", "branch"))
    spots = iter(range(-5, 6))

    def new(received: dt.datetime, category: str = "0201", **kw: Any) -> Case:
        place = kw.pop("grid", own_grid)
        offset = 0.0008 * next(spots)  # ~89 m apart
        case = make_case(
            category=category,
            received_at=received,
            lat=place.centroid_lat + offset,
            lng=place.centroid_lng,
            **kw,
        )
        assert case.grid == place
        return case

    def act(case: Case, action: str, who: Any, when: dt.datetime, **params: Any) -> Case:
        return services.perform(case.pk, action, actor=who, now=when, **params)

    def close(case: Case, visitor: Any, replied: dt.datetime, verdict: str = "satisfied") -> None:
        act(case, "approve", visitor, replied)
        act(case, "visit", visitor, replied + dt.timedelta(hours=1), satisfaction=verdict)

    a = new(at(3, 9))
    act(a, "accept", grid, at(3, 9, 30))
    act(a, "start", grid, at(3, 9, 30))
    act(a, "handle", grid, at(3, 11), result="已清运")
    close(a, community, at(3, 14))

    b = new(at(3, 10))
    act(b, "accept", grid, at(3, 10, 10))
    act(b, "handle", grid, at(3, 11), result="已清运")
    act(b, "send_back", community, at(3, 11, 30), reason="照片不清楚")
    act(b, "handle", grid, at(3, 15), result="已清运并消毒")
    close(b, community, at(3, 16), "basic")

    c = new(at(4, 9))
    act(c, "accept", grid, at(4, 9, 10))
    act(c, "handle", grid, at(4, 10), result="已清运")
    act(c, "approve", community, at(4, 10, 30))
    act(c, "visit", community, at(4, 11), satisfaction="unsatisfied", comment="还有残留")
    act(c, "handle", grid, at(4, 15), result="已彻底清理")
    close(c, community, at(4, 15, 30))

    d = new(at(3, 9))
    act(d, "accept", grid, at(3, 9, 10))
    act(d, "handle", grid, at(7, 16), result="已清运")
    act(d, "approve", community, at(11, 10))  # total due Tue 11 Jun 09:00

    e = new(at(5, 9), auto_dispatch=False)
    act(e, "dispatch", community, at(5, 10, 30))  # dispatch stage due 10:00
    act(e, "accept", grid, at(5, 10, 40))

    f = make_case(received_at=at(5, 9, 30), lat=a.lat, lng=a.lng)
    assert f.duplicate_of_hint == [a.number]
    act(f, "merge", community, at(5, 10), into=a.number)

    g = new(at(6, 9))
    act(g, "reject", community, at(6, 9, 30), reason="不属于受理范围")

    u = new(at(4, 14))
    act(u, "accept", grid, at(4, 14, 10))
    act(u, "handle", grid, at(4, 15), result="已清运")
    act(u, "approve", community, at(4, 15, 30))
    act(u, "visit", community, at(4, 16), satisfaction="unsatisfied")

    h = new(at(6, 10))
    act(h, "accept", grid, at(6, 10, 10))
    act(h, "escalate", grid, at(6, 10, 20), reason="需社区协调物业", level="community")
    act(h, "accept", community, at(6, 10, 30))
    act(h, "handle", community, at(6, 11), result="社区协调解决")
    close(h, street, at(6, 14))

    z = new(at(6, 9), category="0103")
    act(z, "accept", branch, at(6, 9, 10))
    act(z, "handle", branch, at(6, 10), result="物业已保洁")
    close(z, community, at(6, 10, 30))

    o = new(at(3, 9), grid=far_grid, auto_dispatch=False)

    cases = {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f, "G": g, "U": u, "H": h, "Z": z}
    cases["O"] = o
    return {k: Case.objects.get(pk=v.pk) for k, v in cases.items()}


def test_the_constructed_month_is_what_the_fixture_says(june: dict[str, Case]) -> None:
    status = {k: c.status for k, c in june.items()}
    assert status == {
        "A": Status.CLOSED, "B": Status.CLOSED, "C": Status.CLOSED, "D": Status.REPLIED,
        "E": Status.ACCEPTED, "F": Status.MERGED, "G": Status.REJECTED,
        "U": Status.IN_PROGRESS, "H": Status.CLOSED, "Z": Status.CLOSED, "O": Status.RECEIVED,
    }  # fmt: skip
    assert (june["H"].closed_level, june["Z"].closed_level) == (Level.COMMUNITY, Level.ZONE)
    assert june["D"].closed_on_time is False and june["E"].dispatched_on_time is False
    # working minutes from receipt to (latest) reply
    assert {k: june[k].handling_minutes for k in "ABCDUHZ"} == {
        "A": 180 + 30,  # 09:00-12:00, 13:30-14:00
        "B": 120 + 150,  # 10:00-12:00, 13:30-16:00
        "C": 180 + 120,  # 09:00-12:00, 13:30-15:30
        "D": 2250 + 60,  # five working days to Tue 11 Jun 09:00 (3-7 Jun), then one hour
        "U": 90,  # 14:00-15:30
        "H": 120 + 30,
        "Z": 90,
    }


def test_grid_worker_indicators_match_the_hand_computed_figures(
    users: dict[str, Any], june: dict[str, Case]
) -> None:
    # The grid owns A B C D E F G U; H went up to the community, Z belongs to the zone,
    # O to another grid: none of those three is the grid worker's.
    row = indicators.summary(users["grid"], **JUNE)
    assert row.received == 8
    assert row.dispatch_on_time_rate == 7 / 8  # E dispatched late
    assert row.close_on_time_rate == 3 / 4  # A B C on time; D late
    assert row.close_rate == 3 / 8  # A B C
    assert row.rework_rate == 1 / 5  # B, of A B C D U handled
    # visits: A 满意, B 基本满意, C 不满意 then 满意, U 不满意
    assert row.satisfaction_rate == 3 / 5
    assert row.visit_rate == 3 / 4  # A B C visited; D waiting
    assert row.duplicate_rate == 1 / 8  # F
    assert row.first_time_rate == 1 / 3  # A (B reworked, C reopened)
    assert row.avg_handling_hours == pytest.approx((210 + 270 + 300 + 2310 + 90) / 5 / 60)
    assert row.in_grid_rate == 1.0
    assert row.in_network_rate == 1.0


def test_community_indicators_include_the_zone_and_the_escalated_case(
    users: dict[str, Any], june: dict[str, Case]
) -> None:
    row = indicators.summary(users["community"], **JUNE)
    assert row.received == 10  # + H and Z; O is in another community
    assert row.dispatch_on_time_rate == 9 / 10
    assert row.close_on_time_rate == 5 / 6  # A B C H Z of A B C D H Z
    assert row.close_rate == 5 / 10
    assert row.rework_rate == 1 / 7
    assert row.satisfaction_rate == 5 / 7  # + H and Z, 满意
    assert row.visit_rate == 5 / 6
    assert row.first_time_rate == 3 / 5  # A H Z
    assert row.avg_handling_hours == pytest.approx((3180 + 150 + 90) / 7 / 60)
    assert row.in_grid_rate == 3 / 5  # A B C at grid level; H community, Z zone
    assert row.in_network_rate == 5 / 5


def test_county_admin_sees_every_grid_and_a_grid_user_only_their_own(
    users: dict[str, Any], june: dict[str, Case], own_grid: Area, far_grid: Area
) -> None:
    admin = indicators.summary(users["admin"], **JUNE)
    assert (admin.received, admin.closed, admin.dispatched) == (11, 5, 10)
    # per grid, by location: H and Z happened in the grid worker's grid
    rows = {r.key: r for r in indicators.by_area(users["admin"], kind="grid", **JUNE)}
    assert rows[own_grid.path].received == 10 and rows[far_grid.path].received == 1
    assert sum(r.received for r in rows.values()) == 11
    # the grid worker gets one row, their own grid, without H, Z or the far grid's O
    mine = indicators.by_area(users["grid"], **JUNE)
    assert [(r.key, r.received) for r in mine] == [(own_grid.path, 8)]
    assert indicators.by_area(users["grid"], kind="grid", **JUNE)[0].key == own_grid.path
    assert not indicators.cases_for(users["grid"]).filter(grid=far_grid).exists()


def test_per_area_rows_add_grids_into_communities(
    users: dict[str, Any], june: dict[str, Case], far_grid: Area
) -> None:
    street = users["street"].memberships.get().area
    rows = indicators.by_area(users["street"], parent=street, **JUNE)
    assert [r.label for r in rows] == list(
        Area.objects.filter(parent=street).order_by("path").values_list("name", flat=True)
    )
    received = {r.key: r.received for r in rows}
    assert received[far_grid.path[:15]] == 1
    assert sum(received.values()) == 11


def test_rankings_put_the_busy_grid_first_and_empty_grids_last(
    users: dict[str, Any], june: dict[str, Case], own_grid: Area, far_grid: Area
) -> None:
    ranked = indicators.ranking(users["admin"], kind="grid", **JUNE)
    assert ranked[0].key == own_grid.path and ranked[0].extra["rank"] == 1
    assert ranked[1].key == far_grid.path and ranked[1].score == 0  # received, nothing closed
    assert all(r.extra["rank"] is None for r in ranked[2:])
    own = ranked[0]
    expected = 100 * (0.3 * (5 / 6) + 0.3 * (5 / 7) + 0.2 * (5 / 10) + 0.2 * (3 / 5))
    assert own.score == pytest.approx(expected)
    communities = indicators.ranking(users["admin"], kind="community", metric="close_rate", **JUNE)
    assert [c.extra["value"] for c in communities] == [5 / 10, 0.0]


def test_per_handler_category_and_month(users: dict[str, Any], june: dict[str, Case]) -> None:
    handlers = {r.label: r.received for r in indicators.by_handler(users["community"], **JUNE)}
    # current handlers: the grid worker (A B C D E F G U), the community (H), the zone (Z)
    assert handlers == {"grid": 8, "community": 1, "branch": 1}
    categories = {r.key: r.received for r in indicators.by_category(users["community"], **JUNE)}
    assert categories == {"01": 1, "02": 9}  # 公共区域保洁 counts under 物业服务
    leaves = {r.key: r.received for r in indicators.by_category(users["community"], top=False)}
    assert leaves["0103"] >= 1
    months = indicators.by_month(users["community"], start=dt.date(2024, 1, 1), end=JUNE["end"])
    assert [(m.key, m.received) for m in months] == [(dt.date(2024, 6, 1), 10)]
    # the return visits are grouped by the same keys as their cases
    assert months[0].satisfaction_rate == 5 / 7
    by_handler = {r.label: r for r in indicators.by_handler(users["community"], **JUNE)}
    assert by_handler["grid"].satisfaction_rate == 3 / 5
    assert by_handler["branch"].satisfaction_rate == 1.0
    assert {r.key: r.rated for r in indicators.by_category(users["community"], **JUNE)} == {
        "01": 1,
        "02": 6,
    }


def test_month_over_month_per_category_is_a_query(
    users: dict[str, Any], make_case: Any, own_grid: Area
) -> None:
    # given 5 property requests (物业服务) in February 2024 and 4 in March, and 2 then 3
    # requests about sanitation (环境卫生)
    def spots() -> Any:
        for i in range(40):
            yield own_grid.centroid_lat + 0.0002 * (i - 20)

    lat = spots()
    for day, code in [(5, "0103"), (6, "0101"), (7, "0103"), (19, "0105"), (20, "0102")]:
        make_case(category=code, received_at=at(day, 10, month=2), lat=next(lat))
    for day, code in [(4, "0103"), (5, "0101"), (12, "0103"), (13, "0104")]:
        make_case(category=code, received_at=at(day, 10, month=3), lat=next(lat))
    for month, days in ((2, (5, 6)), (3, (4, 5, 6))):
        for day in days:
            make_case(category="0202", received_at=at(day, 11, month=month), lat=next(lat))
    # when
    # (property cases belong to the zone, so ask the community, who sees zone and grid)
    found = indicators.month_over_month(users["community"], dt.date(2024, 3, 1))
    changes = {c.code: c for c in found}
    # then
    assert (changes["01"].current, changes["01"].previous) == (4, 5)
    assert changes["01"].change == pytest.approx(-0.2)
    assert changes["01"].sentence == "物业服务类诉求 4 件，环比下降 20%"
    assert changes["02"].change == pytest.approx(0.5)
    assert set(changes) == {"01", "02"}


def test_excel_export_respects_scope_and_holds_no_personal_data(
    users: dict[str, Any], june: dict[str, Case], far_grid: Area
) -> None:
    data = indicators.export_xlsx(users["grid"], **JUNE)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == [
        "总体", "按区域", "网格排名", "社区排名", "按办理人", "按分类", "按月", "环比",
    ]  # fmt: skip
    overall = list(book["总体"].iter_rows(values_only=True))
    assert overall[0][:2] == ("范围", "受理数") and overall[1][1] == 8
    text = " ".join(
        str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row
    )
    assert len(list(book["按区域"].iter_rows(values_only=True))) == 2  # header, own grid
    for secret in ("王女士", "13812345678", "138****5678", june["A"].number):
        assert secret not in text
    grids = list(book["网格排名"].iter_rows(values_only=True))
    assert len(grids) == 2 and grids[1][0] == 1  # the header and the grid worker's own grid
    assert AuditEntry.objects.filter(
        action="export", actor=users["grid"], object_id="indicators"
    ).exists()


# --- acceptance 5, first half -----------------------------------------------------------------
def test_unsatisfied_return_visit_reopens_the_case_once_then_escalates(
    users: dict[str, Any], make_case: Any
) -> None:
    grid, community = users["grid"], users["community"]
    case = make_case(received_at=at(3, 9))
    services.perform(case.pk, "accept", actor=grid, now=at(3, 9, 10))
    services.perform(case.pk, "handle", actor=grid, result="已清运", now=at(3, 10))
    services.perform(case.pk, "approve", actor=community, now=at(3, 10, 30))
    # when the resident says 不满意 through the tracking link
    case = services.visit_by_token(case.tracking_token, "unsatisfied", "垃圾还在")
    # then the case is back with the grid worker, counted as reopened, on the timeline
    assert (case.status, case.reopen_count, case.handler_user) == (Status.IN_PROGRESS, 1, grid)
    assert case.closed_at is None
    assert [e.action for e in case.events.order_by("id")][-2:] == ["visit", "reopen"]
    assert Notification.objects.filter(user=grid, ref=case.number, kind="reopen").exists()
    # and a second 不满意 after the rework raises it a level instead of reopening again
    services.perform(case.pk, "handle", actor=grid, result="已彻底清理", now=at(4, 10))
    services.perform(case.pk, "approve", actor=community, now=at(4, 10, 30))
    case = services.visit_by_token(case.tracking_token, "unsatisfied", "还是不行")
    assert (case.status, case.level, case.reopen_count) == (Status.DISPATCHED, Level.ZONE, 2)
    assert case.escalated_help
