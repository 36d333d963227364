"""The request-loop pages through the Django test client (rolled back after each test):
who sees which page, scope 404s, the buttons are exactly the allowed actions, an action
posted from a page moves the case, and the resident's pages show nothing they should
not."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from jiayuan.cases import services
from jiayuan.cases.choices import Status
from jiayuan.cases.models import Case, CaseEvent, CasePhoto, Category
from jiayuan.cases.views import month_start
from jiayuan.core.models import Notification
from jiayuan.org.models import Area, Dwelling

pytestmark = pytest.mark.django_db

ClientFor = Callable[[str | None], Client]
PHONE_DIGITS = re.compile(r"1[3-9]\d[\d*]{4}\d{4}")


@pytest.fixture
def as_user() -> ClientFor:
    def make(username: str | None) -> Client:
        client = Client()
        if username is not None:
            client.force_login(get_user_model().objects.get(username=username))
        return client

    return make


@pytest.fixture
def next_grid(own_grid: Area) -> Area:
    """A grid of the other community (outside ``community``'s scope)."""
    community = own_grid.path.rsplit("/", 3)[0] + "/"
    grid = (
        Area.objects.filter(kind="grid")
        .exclude(path__startswith=community)
        .order_by("path")
        .first()
    )
    assert grid is not None
    return grid


def html(response: Any) -> str:
    return response.content.decode()


def photo(name: str = "p.png", fmt: str = "PNG") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 40, 40)).save(buf, fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type=f"image/{fmt.lower()}")


def buttons(page: str) -> set[str]:
    block = re.search(r'data-testid="actions">(.*?)</div>', page, re.S)
    return set(re.findall(r'data-action="(\w+)"', block.group(1))) if block else set()


def to_handled(case: Case, users: dict[str, Any]) -> Case:
    services.perform(case.pk, "accept", actor=users["grid"])
    return services.perform(case.pk, "handle", actor=users["grid"], result="已清运完毕")


# --- login and scope -------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    ["/cases/", "/cases/new/", "/cases/map/", "/cases/indicators/", "/cases/inbox/", "/cases/1/"],
)
def test_staff_pages_require_login(as_user: ClientFor, url: str) -> None:
    response = as_user(None).get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("username", ["admin", "street", "community", "grid", "branch", "head"])
def test_every_staff_page_renders_in_chinese(as_user: ClientFor, username: str) -> None:
    client = as_user(username)

    for url in ["/cases/", "/cases/?tab=all", "/cases/map/", "/cases/indicators/", "/cases/inbox/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="zh-Hans">' in html(response)
    assert "诉求办理" in html(client.get("/cases/"))


def test_case_outside_scope_is_404(
    as_user: ClientFor, make_case: Any, other_grid: Area, next_grid: Area
) -> None:
    # given a case in another grid of the same community, and one in the other community
    neighbour = make_case(grid=other_grid)
    far = make_case(grid=next_grid)

    # then the grid worker sees neither, the community staff only its own community's
    grid, community = as_user("grid"), as_user("community")
    for pk in (neighbour.pk, far.pk):
        response = grid.get(f"/cases/{pk}/")
        assert response.status_code == 404
        assert "页面不存在" in html(response)
        assert grid.get(f"/cases/{pk}/act/accept/").status_code == 404
    assert community.get(f"/cases/{neighbour.pk}/").status_code == 200
    assert community.get(f"/cases/{far.pk}/").status_code == 404
    assert as_user("admin").get(f"/cases/{far.pk}/").status_code == 200
    # and the lists never name a case out of scope
    assert far.number not in html(community.get("/cases/?tab=all"))
    assert far.number not in html(community.get("/cases/map/"))


def test_photos_are_served_only_within_scope(
    as_user: ClientFor, users: dict[str, Any], make_case: Any, next_grid: Area
) -> None:
    from jiayuan.cases import photos

    case = make_case()
    stored = photos.attach(case, photo().read(), kind="report", actor=users["grid"])
    url = f"/cases/{case.pk}/photos/{stored.pk}/"

    response = as_user("community").get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]
    assert as_user("street").get(url).status_code == 200
    far = make_case(grid=next_grid)
    assert as_user("community").get(f"/cases/{far.pk}/photos/{stored.pk}/").status_code == 404
    other = as_user("grid")
    other.force_login(get_user_model().objects.get(username="head"))  # sees one building only
    assert other.get(url).status_code == 404


# --- inboxes ---------------------------------------------------------------------------------
def test_inbox_tabs_follow_the_role(
    as_user: ClientFor, users: dict[str, Any], make_case: Any
) -> None:
    # given a case dispatched to the grid worker, and one handled and waiting for review
    fresh = make_case()
    handled = to_handled(make_case(description="楼道堆放杂物"), users)

    # then the grid worker lands on 待接单 with the fresh case and has no review tabs
    page = html(as_user("grid").get("/cases/"))
    assert 'data-tab="accept"' in page and 'aria-current="page">待接单' in page
    assert fresh.number in page and handled.number not in page
    assert 'data-tab="review"' not in page and 'data-tab="visit"' not in page

    # and the community staff reviews the handled one
    page = html(as_user("community").get("/cases/?tab=review"))
    assert handled.number in page and fresh.number not in page
    for tab in ("accept", "doing", "dispatch", "review", "visit", "all"):
        assert f'data-tab="{tab}"' in page
    # the light and due time are shown on every open case of the 全部 list
    page = html(as_user("community").get("/cases/?tab=all"))
    assert re.search(rf"{fresh.number}.*?data-light=\"green\"", page, re.S)


def test_all_tab_filters(as_user: ClientFor, users: dict[str, Any], make_case: Any) -> None:
    rubbish = make_case(description="垃圾桶满溢")
    noise = make_case(category="0401", description="夜间装修噪音")
    services.perform(noise.pk, "accept", actor=users["grid"])

    client = as_user("community")
    page = html(client.get("/cases/", {"tab": "all", "category": "04"}))
    assert noise.number in page and rubbish.number not in page
    page = html(client.get("/cases/", {"tab": "all", "status": "dispatched"}))
    assert rubbish.number in page and noise.number not in page
    page = html(client.get("/cases/", {"tab": "all", "q": rubbish.number}))
    assert rubbish.number in page and noise.number not in page


def test_inbox_list_is_a_fixed_number_of_queries(
    as_user: ClientFor, make_case: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(12):
        make_case(description=f"第{i}件：垃圾未清运")
    client = as_user("community")
    client.get("/cases/")

    with django_assert_max_num_queries(25):
        response = client.get("/cases/?tab=all")
    assert response.status_code == 200
    visible = Case.objects.visible_to(get_user_model().objects.get(username="community")).count()
    rows = html(response).count('class="list-group-item list-group-item-action jy-case-item"')
    assert rows == min(visible, 20) and rows >= 12


def test_case_page_is_a_fixed_number_of_queries(
    as_user: ClientFor, users: dict[str, Any], make_case: Any, django_assert_max_num_queries: Any
) -> None:
    from jiayuan.cases import photos

    case = to_handled(make_case(), users)
    for _ in range(3):
        photos.attach(case, photo().read(), kind="result", actor=users["grid"])
    client = as_user("community")
    client.get("/cases/")

    with django_assert_max_num_queries(25):
        response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    assert html(response).count('data-kind="result"') == 3


def test_notifications_badge_and_inbox(
    as_user: ClientFor, users: dict[str, Any], make_case: Any
) -> None:
    case = make_case()
    client = as_user("grid")
    unread = Notification.objects.filter(user=users["grid"], read_at__isnull=True).count()
    assert unread >= 1

    page = html(client.get("/cases/"))
    assert re.search(rf'data-testid="unread-count">{unread}<', page)

    note = Notification.objects.get(user=users["grid"], ref=case.number, kind="dispatch")
    assert note.title in html(client.get("/cases/inbox/"))
    response = client.get(f"/cases/inbox/{note.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    note.refresh_from_db()
    assert note.read_at is not None
    # someone else's notification is not theirs to open
    assert as_user("community").get(f"/cases/inbox/{note.pk}/").status_code == 404

    client.post("/cases/inbox/read/")
    assert not Notification.objects.filter(user=users["grid"], read_at__isnull=True).exists()


# --- the case page and its actions ----------------------------------------------------------
def test_detail_shows_the_case_with_masked_reporter(
    as_user: ClientFor, users: dict[str, Any], make_case: Any
) -> None:
    case = make_case(reporter_phone="13912345678", reporter_name="李先生")

    page = html(as_user("grid").get(f"/cases/{case.pk}/"))

    assert case.number in page and case.description in page
    assert "139****5678" in page and "13912345678" not in page
    assert "李先生" in page
    assert 'data-case-map="case-map-data"' in page and '"geometry"' in page
    # the six steps drawn in order, 问 and 派 reached, 派 current (waiting to be accepted)
    steps = re.findall(r'data-step="(\w+)" data-state="(\w+)"', page)
    assert [s for s, _ in steps] == ["ask", "dispatch", "transfer", "handle", "review", "reply"]
    assert dict(steps)["ask"] == "done" and dict(steps)["dispatch"] == "current"
    assert dict(steps)["handle"] == "todo"
    assert re.findall(r'data-event="(\w+)"', page) == ["receive", "dispatch"]


@pytest.mark.parametrize("username", ["grid", "community", "street", "branch"])
def test_buttons_are_exactly_the_available_actions(
    as_user: ClientFor, users: dict[str, Any], make_case: Any, username: str
) -> None:
    for case in (make_case(), to_handled(make_case(description="路灯不亮"), users)):
        expected = {t.action for t in services.available_actions(users[username], case)}
        response = as_user(username).get(f"/cases/{case.pk}/")
        if not Case.objects.visible_to(users[username]).filter(pk=case.pk).exists():
            assert response.status_code == 404
            continue
        assert buttons(html(response)) == expected, (username, case.status)


def test_grid_worker_sees_accept_and_supervisor_sees_review(
    as_user: ClientFor, users: dict[str, Any], make_case: Any
) -> None:
    case = make_case()
    assert "accept" in buttons(html(as_user("grid").get(f"/cases/{case.pk}/")))
    assert "accept" not in buttons(html(as_user("community").get(f"/cases/{case.pk}/")))
    to_handled(case, users)
    assert buttons(html(as_user("grid").get(f"/cases/{case.pk}/"))) == set()
    assert {"approve", "send_back"} <= buttons(html(as_user("community").get(f"/cases/{case.pk}/")))


def test_action_posted_from_the_page_moves_the_case(
    as_user: ClientFor, users: dict[str, Any], make_case: Any
) -> None:
    case = make_case()
    grid = as_user("grid")

    # the dialog's form, through htmx
    form = grid.get(f"/cases/{case.pk}/act/accept/", headers={"HX-Request": "true"})
    assert form.status_code == 200 and "确认接单" in html(form)
    assert "<html" not in html(form)

    # 接单 without JavaScript: a plain POST and a redirect back to the case
    response = grid.post(f"/cases/{case.pk}/act/accept/", {"version": case.version})
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED

    # 办结 through htmx with a result photo: the page is told to reload the case
    response = grid.post(
        f"/cases/{case.pk}/act/handle/",
        {"version": case.version, "result": "已联系环卫清运", "photos": [photo()]},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/cases/{case.pk}/"
    case.refresh_from_db()
    assert case.status == Status.HANDLED and case.result == "已联系环卫清运"
    assert case.photos.filter(kind=CasePhoto.Kind.RESULT).count() == 1
    assert case.events.filter(action="handle", actor=users["grid"]).exists()

    # 审核通过 by the community
    response = as_user("community").post(f"/cases/{case.pk}/act/approve/", {"note": ""})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.REPLIED


def test_action_errors_are_shown_in_chinese_and_change_nothing(
    as_user: ClientFor, users: dict[str, Any], make_case: Any
) -> None:
    case = make_case()
    grid = as_user("grid")
    services.perform(case.pk, "accept", actor=users["grid"])

    # a missing result
    response = grid.post(f"/cases/{case.pk}/act/handle/", {}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "请填写办理结果" in html(response)
    # a stale form: someone else moved the case meanwhile
    response = grid.post(f"/cases/{case.pk}/act/start/", {"version": case.version - 1})
    assert response.status_code == 422
    assert "诉求已被他人更新" in html(response)
    # not a photo
    fake = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    response = grid.post(f"/cases/{case.pk}/act/handle/", {"result": "好了", "photos": [fake]})
    assert response.status_code == 422
    assert "无法识别的图片" in html(response)
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED and not case.photos.exists()
    # an action the role may not take: the form is refused, a post is refused by the service
    response = grid.get(f"/cases/{case.pk}/act/approve/")
    assert response.status_code == 403 and "当前不能对该诉求执行「审核通过」" in html(response)
    response = grid.post(f"/cases/{case.pk}/act/reject/", {"reason": "无"})
    assert response.status_code == 422 and "您不能对该诉求执行「不予受理」" in html(response)
    assert grid.get(f"/cases/{case.pk}/act/fly/").status_code == 404


def test_transfer_down_a_level_reaches_the_step_and_leaves_scope(
    as_user: ClientFor, users: dict[str, Any], make_case: Any
) -> None:
    # a street-lamp case belongs to the community; the community hands it to the grid
    case = make_case(category="0301", description="路灯不亮")
    assert case.level == "community" and case.handler_user == users["community"]

    response = as_user("community").post(
        f"/cases/{case.pk}/act/transfer/", {"level": "grid", "reason": "由网格员就近协调"}
    )

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.level == "grid" and case.handler_user == users["grid"]
    page = html(as_user("grid").get(f"/cases/{case.pk}/"))
    assert 'data-step="transfer" data-state="current"' in page
    assert "由网格员就近协调" in page


# --- intake ----------------------------------------------------------------------------------
def test_staff_intake_at_a_dwelling(
    as_user: ClientFor, users: dict[str, Any], own_grid: Area, other_grid: Area
) -> None:
    dwelling = Dwelling.objects.filter(area_path__startswith=own_grid.path).first()
    category = Category.objects.get(code="0602")
    data = {
        "channel": "patrol",
        "category": category.pk,
        "priority": "urgent",
        "description": "3单元楼道有电动车充电",
        "grid": own_grid.pk,
        "dwelling": dwelling.pk,
        "reporter_name": "",
        "reporter_phone": "",
        "anonymous": "on",
    }
    client = as_user("grid")
    assert client.get("/cases/new/").status_code == 200

    response = client.post("/cases/new/", {**data, "photos": [photo("a.jpg", "JPEG")]})

    case = Case.objects.get(description="3单元楼道有电动车充电")
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert case.channel == "patrol" and case.priority == "urgent" and case.anonymous
    assert case.grid == own_grid and case.dwelling == dwelling
    assert case.photos.filter(kind="report").count() == 1
    # another grid is not a choice for this grid worker
    response = client.post("/cases/new/", {**data, "grid": other_grid.pk, "dwelling": ""})
    assert response.status_code == 422
    # the dwellings of the grid load through htmx
    options = html(client.get("/cases/new/dwellings/", {"grid": own_grid.pk}))
    assert f'value="{dwelling.pk}"' in options
    assert "option" not in html(client.get("/cases/new/dwellings/", {"grid": other_grid.pk}))[30:]


def test_staff_intake_needs_a_location(as_user: ClientFor, users: dict[str, Any]) -> None:
    response = as_user("community").post(
        "/cases/new/",
        {"channel": "hotline", "category": Category.objects.get(code="09").pk,
         "priority": "normal", "description": "咨询养老补贴"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "请在地图上点选位置，或选择网格和房屋" in html(response)


# --- the resident's pages ---------------------------------------------------------------------
def report_data(grid: Area, **kw: Any) -> dict[str, Any]:
    data = {
        "category": Category.objects.get(code="0201").pk,
        "description": "小区东门垃圾桶满了没人清",
        "lat": grid.centroid_lat,
        "lng": grid.centroid_lng,
        "reporter_name": "赵女士",
        "reporter_phone": "13700001111",
    }
    data.update(kw)
    return data


def test_report_creates_a_case_and_gives_the_tracking_link(
    as_user: ClientFor, own_grid: Area, users: dict[str, Any]
) -> None:
    client = as_user(None)
    page = html(client.get("/report/"))
    assert "反映问题" in page and 'data-pick-map="pick-features"' in page

    response = client.post("/report/", {**report_data(own_grid), "photos": [photo()]})

    case = Case.objects.get(description="小区东门垃圾桶满了没人清")
    assert response.status_code == 302
    assert response["Location"] == f"/track/{case.tracking_token}/"
    assert case.channel == "snapshot" and case.grid == own_grid
    assert case.reporter_phone_masked == "137****1111"
    assert case.status == Status.DISPATCHED and case.handler_user == users["grid"]
    assert case.photos.get().kind == "report"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lat": "", "lng": ""}, "请在地图上点选问题位置"),
        ({"lat": "20.0", "lng": "100.0"}, "该位置不在本县任何网格内"),
        ({"lat": "95", "lng": "100.0"}, "位置无效"),
        ({"reporter_phone": "12345"}, "电话号码格式不正确"),
        ({"reporter_phone": ""}, "请填写手机号"),
        ({"description": "  "}, "请填写问题描述"),
        ({"category": "999999"}, "请选择问题类别"),
    ],
)
def test_report_validates_everything(
    as_user: ClientFor, own_grid: Area, change: dict[str, str], message: str
) -> None:
    before = Case.objects.count()

    response = as_user(None).post("/report/", report_data(own_grid, **change))

    assert response.status_code == 422
    assert message in html(response)
    assert Case.objects.count() == before


def test_report_refuses_a_non_public_category(as_user: ClientFor, own_grid: Area) -> None:
    hidden = Category.objects.get(code="0201")
    Category.objects.filter(pk=hidden.pk).update(public=False)

    page = html(as_user(None).get("/report/"))
    assert f'value="{hidden.pk}"' not in page
    response = as_user(None).post("/report/", report_data(own_grid))
    assert response.status_code == 422


def test_anonymous_report_keeps_no_contact(as_user: ClientFor, own_grid: Area) -> None:
    response = as_user(None).post(
        "/report/", report_data(own_grid, reporter_name="", reporter_phone="", anonymous="on")
    )
    assert response.status_code == 302
    case = Case.objects.get(description="小区东门垃圾桶满了没人清")
    assert case.anonymous and not case.reporter_phone_enc and not case.reporter_name


def test_tracking_page_shows_only_public_events_and_no_phone(
    as_user: ClientFor, users: dict[str, Any], make_case: Any
) -> None:
    # given a case that was returned once with an internal reason, then handled and approved
    case = make_case(reporter_phone="13812345678")
    services.perform(case.pk, "return", actor=users["grid"], reason="内部原因：不归我管ABC")
    services.perform(case.pk, "dispatch", actor=users["community"], handler_id=users["grid"].pk)
    to_handled(case, users)
    from jiayuan.cases import photos

    result = photos.attach(case, photo().read(), kind="result", actor=users["grid"])
    report = photos.attach(case, photo().read(), kind="report", actor=users["grid"])
    services.perform(case.pk, "approve", actor=users["community"])
    client = as_user(None)

    page = html(client.get(f"/track/{case.tracking_token}/"))

    public = CaseEvent.objects.filter(case=case, public=True).count()
    assert page.count('<li class="jy-event">') == public
    assert CaseEvent.objects.filter(case=case, public=False).exists()
    assert "内部原因" not in page and "ABC" not in page
    assert not PHONE_DIGITS.search(page)
    assert "grid" not in re.sub(r"<[^>]+>", "", page)  # no staff account names
    assert "已清运完毕" in page and 'data-testid="visit-form"' in page
    assert f"/track/{case.tracking_token}/photos/{result.pk}/" in page
    assert client.get(f"/track/{case.tracking_token}/photos/{result.pk}/").status_code == 200
    assert client.get(f"/track/{case.tracking_token}/photos/{report.pk}/").status_code == 404

    # when the resident says 满意
    response = client.post(f"/track/{case.tracking_token}/visit/", {"satisfaction": "satisfied"})

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.CLOSED and case.satisfaction == "satisfied"
    page = html(client.get(f"/track/{case.tracking_token}/"))
    assert 'data-testid="visit-done"' in page and 'data-testid="visit-form"' not in page


def test_tracking_refuses_wrong_tokens_and_early_verdicts(
    as_user: ClientFor, make_case: Any, own_grid: Area
) -> None:
    case = make_case()
    other = make_case(description="另一位居民的诉求：楼道灯坏了")
    client = as_user(None)

    assert client.get("/track/not-a-token/").status_code == 404
    assert client.get(f"/track/{case.tracking_token[:-1]}/").status_code == 404
    page = html(client.get(f"/track/{case.tracking_token}/"))
    assert other.number not in page and "楼道灯坏了" not in page
    assert 'data-testid="visit-form"' not in page
    # a verdict before the reply is refused in Chinese and changes nothing
    response = client.post(f"/track/{case.tracking_token}/visit/", {"satisfaction": "satisfied"})
    assert response.status_code == 422 and "不能执行" in html(response)
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED
    assert client.get(f"/track/{case.tracking_token}/visit/").status_code == 405
    assert client.post("/track/nope/visit/", {"satisfaction": "satisfied"}).status_code == 404


# --- map and indicators ----------------------------------------------------------------------
def test_map_holds_the_scope_open_cases_by_light(
    as_user: ClientFor, make_case: Any, other_grid: Area
) -> None:
    mine = make_case()
    theirs = make_case(grid=other_grid)

    page = html(as_user("grid").get("/cases/map/"))

    assert mine.number in page and theirs.number not in page
    assert '"light": "green"' in page
    assert mine.number in html(as_user("community").get("/cases/map/"))
    assert theirs.number in html(as_user("community").get("/cases/map/"))


def test_indicators_count_the_scope(
    as_user: ClientFor, users: dict[str, Any], make_case: Any, other_grid: Area
) -> None:
    case = to_handled(make_case(), users)
    services.perform(case.pk, "approve", actor=users["community"])
    services.visit_by_token(case.tracking_token, "satisfied")
    make_case(grid=other_grid)

    grid_page = html(as_user("grid").get("/cases/indicators/"))
    community_page = html(as_user("community").get("/cases/indicators/"))

    # the dashboard covers the last twelve months by month of receipt
    first = month_start(timezone.localdate(), 11)
    since = dt.datetime.combine(first, dt.time(), tzinfo=timezone.get_current_timezone())
    received = Case.objects.visible_to(users["grid"]).filter(received_at__gte=since).count()
    assert re.search(rf'jy-stat-value">{received}<', grid_page)
    assert 'id="indicator-data"' in grid_page and 'data-testid="grid-ranking"' in grid_page
    assert other_grid.name in community_page
    assert '"satisfied"' in community_page
