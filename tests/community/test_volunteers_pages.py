"""The volunteers' pages: staff (teams, volunteers, activities with the check-in QR code,
closing) and the resident's phone pages (activities nearby, sign-up, the check-in link,
my hours); masked numbers, scope, hostile input, query counts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.community import volunteering as vol
from jiayuan.community.models import Activity, HoursEntry, SignUp, Team, Volunteer
from jiayuan.core.models import AuditEntry

from .test_volunteers import activity, community, other_community, person, team, user


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """Every test reads the seeded tiny county (rolled back afterwards)."""


def client(username: str | None) -> Client:
    c = Client()
    if username:
        c.force_login(user(username))
    return c


def text(response: Any) -> str:
    return response.content.decode()  # type: ignore[no-any-return]


# --- the resident's flow on the phone ------------------------------------------------------
def test_a_resident_signs_up_on_the_phone_checks_in_by_the_qr_link_and_sees_the_hours() -> None:
    staff, phone = client("community"), client("resident")
    me = user("resident").person

    # given a resident registered as a volunteer on the hours page, and an activity
    assert "成为志愿者" in text(phone.get("/m/hours/"))
    assert phone.post("/m/hours/register/").status_code == 302
    assert Volunteer.objects.filter(person=me).exists()
    a = activity(capacity=3, hours="2.5", title="关爱帮扶：陪老人包饺子")

    # when they find it nearby, sign up, and open the link the staff's QR code holds
    listed = text(phone.get("/m/activities/"))
    assert "关爱帮扶：陪老人包饺子" in listed and "余 3 个名额" in listed
    assert phone.post(f"/m/activities/{a.pk}/signup/").status_code == 302
    assert "已报名" in text(phone.get("/m/activities/"))
    page = text(staff.get(f"/community/activities/{a.pk}/"))
    link = re.search(r'data-testid="checkin-link">([^<]+)<', page)
    assert link and 'src="data:image/svg+xml' in page
    path = link.group(1).replace("http://testserver", "")
    assert path == f"/m/activities/{a.pk}/checkin/{a.checkin_token}/"
    assert phone.get(f"/m/activities/{a.pk}/checkin/{'0' * 32}/").status_code == 404
    first = phone.get(path)
    assert first.status_code == 200 and "签到成功" in text(first)
    again = phone.get(path)
    assert again.status_code == 200 and "无需重复签到" in text(again)

    # and staff close the activity
    closed = staff.post(f"/community/activities/{a.pk}/close/", {"report": "包了三百个饺子"})
    assert closed.status_code == 302

    # then the hours show on the phone
    hours = text(phone.get("/m/hours/"))
    assert re.search(r'data-testid="hours-balance">2\.5<', hours)
    assert "参加活动：关爱帮扶：陪老人包饺子" in hours
    assert "已记入志愿时长 2.5 小时" in text(phone.get(f"/m/activities/{a.pk}/"))


def test_a_full_activity_is_not_offered_and_the_phone_cancel_frees_the_place() -> None:
    phone = client("resident")
    me = user("resident").person
    a = activity(capacity=1, title="满员的活动")
    vol.sign_up(a, actor=user("community"), person=person(30))
    assert "满员的活动" not in text(phone.get("/m/activities/"))
    assert "名额已满" in text(phone.get(f"/m/activities/{a.pk}/"))
    b = activity(capacity=1, title="可取消的活动", starts_in=dt.timedelta(days=1))
    phone.post(f"/m/activities/{b.pk}/signup/")
    assert SignUp.objects.filter(activity=b, person=me, cancelled_at=None).exists()
    phone.post(f"/m/activities/{b.pk}/cancel/")
    assert not SignUp.objects.filter(activity=b, person=me, cancelled_at=None).exists()


def test_phone_pages_of_another_community_are_404() -> None:
    far = activity(actor=user("admin"), area=other_community())
    phone = client("resident")
    assert phone.get(f"/m/activities/{far.pk}/").status_code == 404
    assert phone.post(f"/m/activities/{far.pk}/signup/").status_code == 404
    assert phone.get(f"/m/activities/{far.pk}/checkin/{far.checkin_token}/").status_code == 404
    assert not SignUp.objects.filter(activity=far).exists()
    assert client(None).get("/m/activities/").status_code == 302  # to the login


def test_checking_in_without_a_sign_up_says_so() -> None:
    a = activity()
    response = client("resident").get(f"/m/activities/{a.pk}/checkin/{a.checkin_token}/")
    assert response.status_code == 409 and "尚未报名" in text(response)


# --- staff pages ---------------------------------------------------------------------------
def test_staff_plan_an_activity_and_check_in_by_hand() -> None:
    staff = client("community")
    start = timezone.localtime() - dt.timedelta(minutes=5)
    form = {
        "title": "邻里调解：楼上漏水", "kind": "mediation", "area": community().pk,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "capacity": "5", "hours": "1.0", "target_groups": "楼上住户，楼下住户",
    }  # fmt: skip
    made = staff.post("/community/activities/?new=1", form)
    assert made.status_code == 302
    a = Activity.objects.get(title="邻里调解：楼上漏水")
    assert a.target_groups == ["楼上住户", "楼下住户"]
    p = user("resident").person
    assert (
        staff.post(f"/community/activities/{a.pk}/signup/", {"person": p.name}).status_code == 302
    )
    row = SignUp.objects.get(activity=a, person=p)
    staff.post(f"/community/activities/{a.pk}/checkin/{row.pk}/")
    row.refresh_from_db()
    assert row.checked_in_at is not None
    bad = staff.post("/community/activities/?new=1", form | {"ends_at": form["starts_at"]})
    assert bad.status_code == 200 and "结束时间须晚于开始时间" in text(bad)


def test_registration_form_shows_the_age_and_guardian_rules() -> None:
    staff = client("community")
    old = person(80, name="年长居民甲")
    page = staff.post("/community/volunteers/", {"person": "年长居民甲"})
    assert page.status_code == 200 and "75" in text(page)
    child = person(9, name="小志愿者乙")
    page = staff.post("/community/volunteers/", {"person": "小志愿者乙"})
    assert "监护人" in text(page) and not Volunteer.objects.filter(person=child).exists()
    person(40, name="监护人丙")
    done = staff.post("/community/volunteers/", {"person": "小志愿者乙", "guardian": "监护人丙"})
    assert done.status_code == 302
    assert not Volunteer.objects.filter(person=old).exists()


def test_volunteer_numbers_are_masked_and_revealed_only_through_the_audited_reveal() -> None:
    p = user("resident").person
    v = vol.register_volunteer(actor=user("community"), person=p)
    staff = client("community")
    for url in ("/community/volunteers/", f"/community/volunteers/{v.pk}/"):
        page = text(staff.get(url))
        assert p.id_number_masked in page and p.phone_masked in page
        assert p.reveal_id_number() not in page and p.reveal_phone() not in page
    assert f"/persons/{p.pk}/reveal/" in text(staff.get(f"/community/volunteers/{v.pk}/"))
    revealed = staff.post(f"/persons/{p.pk}/reveal/")
    assert p.reveal_phone() in text(revealed)
    assert AuditEntry.objects.for_object(p).filter(action="reveal").exists()
    # a grid worker has no reveal right: no button
    assert f"/persons/{p.pk}/reveal/" not in text(
        client("grid").get(f"/community/volunteers/{v.pk}/")
    )


def test_staff_pages_are_scoped() -> None:
    admin = user("admin")
    far_team = vol.create_team(actor=admin, area=other_community(), name="远方队", colour="gold")
    far_v = vol.register_volunteer(actor=admin, person=person(30, area=other_community()))
    far_a = activity(actor=admin, area=other_community())
    for username in ("community", "grid", "branch", "head"):
        c = client(username)
        for url in (
            f"/community/teams/{far_team.pk}/",
            f"/community/volunteers/{far_v.pk}/",
            f"/community/activities/{far_a.pk}/",
        ):
            assert c.get(url).status_code == 404, (username, url)
        assert c.post(f"/community/activities/{far_a.pk}/close/").status_code == 404
    assert client("admin").get(f"/community/activities/{far_a.pk}/").status_code == 200
    # a resident holds no staff pages
    assert client("resident").get("/community/activities/").status_code == 403


def test_the_qr_code_is_shown_to_staff_who_serve_while_the_activity_is_planned() -> None:
    a = activity()
    assert 'data-testid="checkin-qr"' in text(
        client("community").get(f"/community/activities/{a.pk}/")
    )
    vol.cancel_activity(a, actor=user("community"))
    assert 'data-testid="checkin-qr"' not in text(
        client("community").get(f"/community/activities/{a.pk}/")
    )


@pytest.mark.parametrize(
    "query",
    [
        "?page=99999999999999999999",
        "?status=%00",
        "?kind=<script>",
        "?team=1" + "9" * 40,
        "?q=" + "深" * 500,
    ],
)
def test_hostile_queries_are_harmless(query: str) -> None:
    staff = client("community")
    for base in ("/community/activities/", "/community/volunteers/"):
        response = staff.get(base + query)
        assert response.status_code == 200
        assert "<script>" not in text(response)


def test_user_text_is_escaped() -> None:
    a = activity(title='<img src=x onerror="alert(1)">')
    page = text(client("community").get(f"/community/activities/{a.pk}/"))
    assert '<img src=x onerror="alert(1)">' not in page and "&lt;img src=x" in page
    phone = text(client("resident").get(f"/m/activities/{a.pk}/"))
    assert '<img src=x onerror="alert(1)">' not in phone


def test_the_menu_lists_the_volunteers_pages_for_those_who_serve() -> None:
    assert "/community/activities/" in text(client("branch").get("/"))
    assert 'data-testid="nav-activities"' not in text(client("resident").get("/"))


# --- query counts --------------------------------------------------------------------------
def grow(rows: dict[str, Any], n: int) -> None:
    staff = user("community")
    for i in range(n):
        team(name=f"页面服务队{Team.objects.count()}")
        v = vol.register_volunteer(actor=staff, person=person(20 + i % 50), teams=[rows["team"]])
        vol.correct_hours(rows["volunteer"], actor=staff, hours=Decimal("0.5"), reason=f"补{i}")
        vol.correct_hours(v, actor=staff, hours=Decimal("1"), reason="补")
        vol.sign_up(rows["activity"], actor=staff, person=v.person)
        vol.check_in(rows["activity"], actor=staff, person=v.person)
        activity()


def counted(c: Client, urls: list[str]) -> dict[str, int]:
    out = {}
    for url in urls:
        c.get(url)
        with CaptureQueriesContext(connection) as ctx:
            response = c.get(url)
        assert response.status_code == 200, (url, response.status_code)
        out[url] = len(ctx.captured_queries)
    return out


def test_pages_cost_the_same_after_the_rows_grow() -> None:
    # given one row of each kind (the resident signed up and is a volunteer with hours)
    staff = user("community")
    red = team(name="页面红队")
    me = user("resident").person
    v = vol.register_volunteer(actor=staff, person=me, teams=[red])
    a = activity(capacity=200)
    vol.sign_up(a, actor=staff, person=me)
    vol.correct_hours(v, actor=staff, hours=Decimal("1"), reason="补")
    rows = {"team": red, "volunteer": v, "activity": a}
    grow(rows, 1)
    staff_urls = [
        "/community/teams/", f"/community/teams/{red.pk}/", "/community/volunteers/",
        f"/community/volunteers/{v.pk}/", "/community/activities/",
        f"/community/activities/{a.pk}/",
    ]  # fmt: skip
    phone_urls = ["/m/activities/", f"/m/activities/{a.pk}/", "/m/hours/"]
    before = counted(client("community"), staff_urls) | counted(client("resident"), phone_urls)

    # when every list grows
    grow(rows, 25)

    # then no page runs one more query
    after = counted(client("community"), staff_urls) | counted(client("resident"), phone_urls)
    assert after == before
    assert HoursEntry.objects.filter(volunteer=v).count() >= 27


def test_staff_edit_a_volunteers_teams_and_standing() -> None:
    red = team(name="编辑红队")
    v = vol.register_volunteer(actor=user("community"), person=person(30))
    staff = client("community")
    assert 'data-testid="volunteer-edit"' in text(staff.get(f"/community/volunteers/{v.pk}/"))
    response = staff.post(
        f"/community/volunteers/{v.pk}/edit/", {"teams": [red.pk], "skills": "理发、量血压"}
    )
    assert response.status_code == 302
    v.refresh_from_db()
    assert list(v.teams.all()) == [red] and v.skills == ["理发", "量血压"] and not v.active
    assert AuditEntry.objects.for_object(v).filter(action="update").exists()
    far = vol.register_volunteer(actor=user("admin"), person=person(30, area=other_community()))
    assert staff.post(f"/community/volunteers/{far.pk}/edit/", {"active": "on"}).status_code == 404


def test_the_roster_export_is_masked_scoped_and_audited() -> None:
    import io

    from openpyxl import load_workbook

    p = user("resident").person
    vol.register_volunteer(actor=user("community"), person=p)
    far = vol.register_volunteer(actor=user("admin"), person=person(30, area=other_community(),
                                                                    name="远方志愿者"))  # fmt: skip
    response = client("community").get("/community/volunteers/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[str(c.value or "") for c in row] for row in sheet.iter_rows()]
    flat = " ".join(" ".join(r) for r in rows)
    assert rows[0][:3] == ["姓名", "身份证号", "手机号"]
    assert p.name in flat and p.id_number_masked in flat and p.phone_masked in flat
    assert p.reveal_id_number() not in flat and p.reveal_phone() not in flat
    assert far.person.name not in flat
    assert AuditEntry.objects.filter(action="export", object_id="roster").exists()
    assert client("resident").get("/community/volunteers/export.xlsx").status_code == 403
