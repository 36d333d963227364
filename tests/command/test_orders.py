"""The order queue on the phone (接单, /m/orders/): the handler's waiting and in-progress
cases, the one-tap accept through the cases service, refusals (not theirs, twice, hostile
ids) answered in Chinese and English with nothing changed, the duty page's count, and the
queue's query count."""

from __future__ import annotations

from typing import Any

import pytest

from jiayuan.cases import services
from jiayuan.cases.choices import Status
from jiayuan.cases.models import Case, Category
from jiayuan.core.models import AuditEntry
from jiayuan.org.models import Area

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_grid(users: dict[str, Any]) -> Area:
    return users["grid"].memberships.get().area


@pytest.fixture
def make_case(own_grid: Area) -> Any:
    """A resident's snapshot in a grid: intake dispatches it to the grid's worker."""

    def make(grid: Area | None = None, **kw: Any) -> Case:
        grid = grid or own_grid
        return services.intake(
            actor=None,
            channel="snapshot",
            category=Category.objects.get(code="0201"),
            description=kw.pop("description", "楼下垃圾三天没人清运"),
            lat=grid.centroid_lat,
            lng=grid.centroid_lng,
            reporter_name="王女士",
            reporter_phone="13812345678",
            **kw,
        )

    return make


def section(page: str, testid: str) -> str:
    """The part of the page inside the element with ``data-testid=testid``."""
    start = page.index(f'data-testid="{testid}"')
    return page[start : page.find('<h3 class="h4', start) if testid == "waiting" else None]


def test_the_worker_takes_an_order_with_one_tap(
    page_as: Any, users: dict[str, Any], make_case: Any
) -> None:
    # given a case dispatched to the grid worker
    case = make_case(title="<b>楼道堆物</b>")
    assert case.status == Status.DISPATCHED and case.handler_user == users["grid"]
    phone = page_as("grid")

    # when they open the queue
    page = phone.get("/m/orders/").content.decode()

    # then it waits there, with the stage's due time, its light in words and a link
    waiting = section(page, "waiting")
    assert case.number in waiting
    assert "接单时限" in waiting and any(w in waiting for w in ("（正常）", "（预警）", "（超时）"))
    assert f'href="/cases/{case.pk}/"' in waiting
    assert f'action="/m/orders/{case.pk}/accept/"' in waiting
    assert "&lt;b&gt;楼道堆物" in page and "<b>楼道堆物" not in page  # stored text is text

    # when they tap 接单
    response = phone.post(f"/m/orders/{case.pk}/accept/")

    # then the case action ran through the service: status, timeline event, audit entry
    assert response.status_code == 302 and response["Location"] == "/m/orders/"
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED and case.accepted_at is not None
    event = case.events.get(action="accept")
    assert event.actor == users["grid"]
    assert AuditEntry.objects.for_object(case).filter(note__startswith="accept").exists()
    # and the case has moved to 办理中
    page = phone.get("/m/orders/").content.decode()
    assert f"已接单 {case.number}" in page
    assert case.number not in section(page, "waiting")
    assert case.number in section(page, "doing") and "已接单" in section(page, "doing")


def test_a_second_accept_is_a_clear_409_and_changes_nothing(page_as: Any, make_case: Any) -> None:
    case = make_case()
    phone = page_as("grid")
    assert phone.post(f"/m/orders/{case.pk}/accept/").status_code == 302
    case.refresh_from_db()
    version, events = case.version, case.events.count()

    again = phone.post(f"/m/orders/{case.pk}/accept/")

    body = again.content.decode()
    assert again.status_code == 409
    assert "不能执行「接单」" in body and "is not allowed while the case is accepted" in body
    case.refresh_from_db()
    assert case.version == version and case.events.count() == events


def test_only_the_handler_accepts_and_sees_their_queue(
    page_as: Any, users: dict[str, Any], make_case: Any, own_grid: Area
) -> None:
    case = make_case()
    # the community staff see the case (their scope) but are not its handler: 403
    staff = page_as("community")
    refused = staff.post(f"/m/orders/{case.pk}/accept/")
    body = refused.content.decode()
    assert refused.status_code == 403
    assert "您不能对该诉求执行「接单」" in body and "you may not accept this case" in body
    assert case.number not in staff.get("/m/orders/").content.decode()
    # a case in another grid's queue: the grid worker cannot see it: 404, bilingual
    other_grid = Area.objects.filter(kind="grid").exclude(pk=own_grid.pk).order_by("path")[0]
    theirs = make_case(grid=other_grid)
    assert theirs.handler_user != users["grid"]
    before = {c.pk: c.status for c in (case, theirs)}
    phone = page_as("grid")
    missing = phone.post(f"/m/orders/{theirs.pk}/accept/")
    assert missing.status_code == 404
    assert "诉求不存在" in missing.content.decode() and "case not found" in missing.content.decode()
    assert theirs.number not in phone.get("/m/orders/").content.decode()
    # a resident has no queue and accepts nothing
    resident = page_as("resident")
    assert case.number not in resident.get("/m/orders/").content.decode()
    assert resident.post(f"/m/orders/{case.pk}/accept/").status_code == 404
    for c in (case, theirs):
        c.refresh_from_db()
        assert c.status == before[c.pk] and not c.events.filter(action="accept").exists()


def test_hostile_requests_are_4xx(page_as: Any, make_case: Any, client: Any) -> None:
    case = make_case()
    phone = page_as("grid")
    assert phone.post("/m/orders/99999999999999999999999/accept/").status_code == 404
    assert phone.post("/m/orders/0/accept/").status_code == 404
    assert phone.post("/m/orders/-1/accept/").status_code == 404
    assert phone.post("/m/orders/abc/accept/").status_code == 404
    assert phone.get(f"/m/orders/{case.pk}/accept/").status_code == 405  # a tap is a POST
    # signed out: to the login page, nothing accepted
    assert client.get("/m/orders/").status_code == 302
    assert client.post(f"/m/orders/{case.pk}/accept/").status_code == 302
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED


def test_the_duty_page_links_the_queue_with_its_count(page_as: Any, make_case: Any) -> None:
    phone = page_as("grid")
    page = phone.get("/m/duty/").content.decode()
    assert 'href="/m/orders/"' in page and 'data-testid="orders-waiting">0<' in page
    make_case()
    make_case(description="路灯不亮")
    page = phone.get("/m/duty/").content.decode()
    assert 'data-testid="orders-waiting">2<' in page


def test_the_queue_costs_the_same_with_more_orders(
    page_as: Any, make_case: Any, django_assert_max_num_queries: Any
) -> None:
    phone = page_as("grid")
    make_case()
    accepted = make_case(description="井盖松动")
    services.perform(accepted.pk, "accept", actor=accepted.handler_user)
    phone.get("/m/orders/")  # warm the calendar and catalogue caches
    with django_assert_max_num_queries(30) as few:
        phone.get("/m/orders/")
    for i in range(12):
        case = make_case(description=f"第{i}处积水")
        if i % 2:
            services.perform(case.pk, "accept", actor=case.handler_user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = phone.get("/m/orders/").content.decode()
    assert page.count('data-testid="accept"') == 7
