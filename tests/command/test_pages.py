"""Pages of mobilisation: the staff's list, new (with an alarm's or case's place), live
detail, and the force's phone pages; scope, hostile input, escaping and query counts."""

from __future__ import annotations

from typing import Any

import pytest

from jiayuan.cases.models import Case
from jiayuan.command import mobilise
from jiayuan.command.models import DutyShift, Member, Mobilisation, Step
from jiayuan.iot.models import Alarm

from .conftest import COMMUNITY, GRID, POINT, at, living_forces, on_duty

pytestmark = pytest.mark.django_db


@pytest.fixture
def called(users: dict[str, Any]) -> Mobilisation:
    on_duty(living_forces(GRID).get(person__user=users["grid"]), *at(0.0005))
    for i, f in enumerate(living_forces(COMMUNITY).exclude(person__user__isnull=False)[:3]):
        on_duty(f, *at(0.001 * (i + 1)))
    return mobilise.start(
        users["community"],
        point={"lat": POINT[0], "lng": POINT[1]},
        head_count=2,
        message="<b>防汛</b>集结",
    )


def test_new_page_starts_a_mobilisation(page_as: Any, users: dict[str, Any]) -> None:
    for i, f in enumerate(living_forces(COMMUNITY).exclude(person__user__isnull=False)[:3]):
        on_duty(f, *at(0.001 * (i + 1)))
    client = page_as("community")
    form = client.get("/command/mobilisations/new/").content.decode()
    assert 'id="mobilise-shapes"' in form and '"boundary"' in form  # the map's areas
    response = client.post(
        "/command/mobilisations/new/",
        {
            "lat": POINT[0],
            "lng": POINT[1],
            "head_count": 2,
            "message": "集合",
            "skills": "",
        },
    )
    mob = Mobilisation.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{mob.pk}/")
    assert mob.members.count() == 2
    # a form error comes back on the page, bilingual domain text in Chinese
    bad = client.post(
        "/command/mobilisations/new/", {"lat": "x", "lng": "y", "head_count": 2, "message": "集合"}
    )
    assert bad.status_code == 422 and "位置无效" in bad.content.decode()
    for hostile in (
        {"head_count": "9" * 40, "message": "m", "lat": POINT[0], "lng": POINT[1]},
        {"head_count": 1, "message": "m", "polygon": "[" * 3000},
        {"head_count": 1, "message": "m", "area_id": "abc"},
        {"head_count": 1, "message": "m", "area_id": "9" * 40},
        {"head_count": 1, "message": "m", "area_id": "-3"},
        {"head_count": 1, "message": "\x00", "lat": POINT[0], "lng": POINT[1]},
    ):
        assert client.post("/command/mobilisations/new/", hostile).status_code in (404, 422)
    assert page_as("grid").get("/command/mobilisations/new/").status_code == 403


def test_new_page_takes_the_place_of_an_alarm_or_a_case(page_as: Any) -> None:
    client = page_as("community")
    alarm = (
        Alarm.objects.select_related("device")
        .filter(device__area_path__startswith=COMMUNITY, device__lat__isnull=False)
        .first()
    )
    if alarm is not None:
        page = client.get(f"/command/mobilisations/new/?alarm={alarm.pk}").content.decode()
        assert f"alarm:{alarm.pk}" in page and str(alarm.device.lat)[:6] in page
    case = Case.objects.filter(area_path__startswith=COMMUNITY, lat__isnull=False).first()
    assert alarm is not None or case is not None
    if case is not None:
        page = client.get(f"/command/mobilisations/new/?case={case.pk}").content.decode()
        assert f"case:{case.number}" in page
    # hostile or foreign ids fill nothing and break nothing
    for q in ("alarm=99999999999999999999999", "case=-1", "alarm=abc"):
        assert client.get(f"/command/mobilisations/new/?{q}").status_code == 200


def test_detail_and_live_show_counts_and_escape(page_as: Any, called: Mobilisation) -> None:
    client = page_as("community")
    page = client.get(f"/command/mobilisations/{called.pk}/").content.decode()
    assert "&lt;b&gt;防汛&lt;/b&gt;" in page and "<b>防汛" not in page
    assert 'hx-trigger="every 3s"' in page
    live = client.get(f"/command/mobilisations/{called.pk}/live/").content.decode()
    assert 'data-step="delivered">1<' in live and 'data-step="notified">1<' in live
    listing = client.get("/command/mobilisations/")
    assert listing.status_code == 200 and 'data-testid="nav-command"' in listing.content.decode()
    # outside the scope: 404; a huge id: 404
    assert page_as("grid").get(f"/command/mobilisations/{called.pk}/").status_code == 404
    assert client.get("/command/mobilisations/99999999999999999999999/").status_code == 404
    assert page_as("resident").get("/command/mobilisations/").status_code == 404


def test_staff_record_a_step_and_close(page_as: Any, called: Mobilisation) -> None:
    client = page_as("community")
    member = called.members.order_by("rank").first()
    client.post(
        f"/command/mobilisations/{called.pk}/step/",
        {"member_id": member.pk, "step": "acknowledged"},
    )
    member.refresh_from_db()
    assert member.step == Step.ACKNOWLEDGED
    client.post(f"/command/mobilisations/{called.pk}/close/")
    called.refresh_from_db()
    assert called.status == "closed"


def test_phone_duty_and_call(page_as: Any, users: dict[str, Any], called: Mobilisation) -> None:
    phone = page_as("grid")
    page = phone.get("/m/duty/").content.decode()
    assert f"/m/mobilisations/{called.pk}/" in page
    call = phone.get(f"/m/mobilisations/{called.pk}/").content.decode()
    assert "&lt;b&gt;防汛" in call and 'data-testid="step-acknowledged"' in call
    phone.post(f"/m/mobilisations/{called.pk}/", {"step": "acknowledged"})
    phone.post(
        f"/m/mobilisations/{called.pk}/", {"step": "checked_in", "lat": POINT[0], "lng": POINT[1]}
    )
    me = Member.objects.get(mobilisation=called, person__user=users["grid"])
    assert me.step == Step.CHECKED_IN and me.checkin_lat == POINT[0]
    # not called: 404
    assert page_as("head").get(f"/m/mobilisations/{called.pk}/").status_code == 404
    # off duty from the phone: the position is gone
    force = me.force
    phone.post("/m/duty/", {"force_id": force.pk, "action": "off"})
    assert not DutyShift.objects.filter(force=force, ended_at__isnull=True).exists()
    phone.post("/m/duty/", {"force_id": force.pk, "action": "on", "lat": "35.7", "lng": "116.4"})
    assert DutyShift.objects.get(force=force, ended_at__isnull=True).lat == 35.7
    assert phone.post("/m/duty/", {"force_id": "999999999", "action": "on"}).status_code == 404


def test_pages_cost_the_same_with_more_rows(
    page_as: Any, called: Mobilisation, users: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = page_as("community")
    with django_assert_max_num_queries(40) as few:
        client.get(f"/command/mobilisations/{called.pk}/live/")
    with django_assert_max_num_queries(40) as few_list:
        client.get("/command/mobilisations/")
    extra = list(living_forces(COMMUNITY).exclude(person__user__isnull=False)[3:20])
    for i, f in enumerate(extra):
        on_duty(f, *at(0.01 + 0.001 * i))
    big = mobilise.start(
        users["community"],
        point={"lat": POINT[0], "lng": POINT[1]},
        head_count=len(extra),
        message="增援",
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"/command/mobilisations/{big.pk}/live/")
    with django_assert_max_num_queries(len(few_list.captured_queries)):
        client.get("/command/mobilisations/")


def test_the_position_page_is_audited_and_scoped(page_as: Any, called: Mobilisation) -> None:
    from jiayuan.core.models import AuditEntry

    member = called.members.order_by("rank").first()
    client = page_as("community")
    page = client.get(f"/command/forces/{member.force_id}/position/").content.decode()
    assert "最后位置" in page
    shift = DutyShift.objects.get(force_id=member.force_id, ended_at__isnull=True)
    look = AuditEntry.objects.for_object(shift).filter(action="reveal").get()
    assert look.actor_name == "community" and look.note == "查看力量位置"
    assert (
        page_as("resident").get(f"/command/forces/{member.force_id}/position/").status_code == 404
    )
    assert client.get("/command/forces/99999999999999999999999/position/").status_code == 404
