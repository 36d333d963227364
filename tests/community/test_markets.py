"""Public-welfare markets (公益集市): the catalogue (8 modules × 3 items), co-building
units with masked phones, markets with stalls, visitor counts and the report; the API
and the pages, the scope matrix and query counts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayuan.community import markets
from jiayuan.community.choices import StallHolder, UnitKind
from jiayuan.community.models import CoBuildingUnit, Market, ServiceItem, ServiceModule, Stall
from jiayuan.core.errors import NotFound, ValidationFailed
from jiayuan.core.models import AuditEntry

from .test_rooms import Places, make_places, next_weekday

User = get_user_model()
PHONE = "13905371234"


@pytest.fixture
def places(db: Any) -> Places:
    return make_places()


def client_of(username: str | None) -> Client:
    client = Client()
    if username:
        client.force_login(User.objects.get(username=username))
    return client


def span(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    return start, start + dt.timedelta(hours=3)


def a_market(places: Places, title: str = "五月公益集市") -> Market:
    start, end = span(next_weekday(6))
    return markets.create_market(
        places.staff,
        area_id=places.community.pk,
        title=title,
        starts_at=start,
        ends_at=end,
        position_id=places.centre.pk,
    )


def a_unit(places: Places, name: str = "县人民医院") -> CoBuildingUnit:
    return markets.create_unit(
        places.staff,
        area_id=places.community.pk,
        name=name,
        kind=UnitKind.HOSPITAL,
        contact_name="王医生",
        contact_phone=PHONE,
    )


# --- the catalogue ------------------------------------------------------------------------
def test_the_migration_installed_8_modules_of_3_items(db: Any) -> None:
    assert ServiceModule.objects.count() == 8
    assert ServiceItem.objects.count() == 24
    for module in ServiceModule.objects.prefetch_related("items"):
        assert len(module.items.all()) == 3, module.name
    names = set(ServiceItem.objects.values_list("name", flat=True))
    assert {"量血压", "测血糖", "中医推拿", "义务理发", "法律咨询", "小家电维修"} <= names
    assert set(ServiceModule.objects.values_list("name", flat=True)) >= {
        "健康服务",
        "法律服务",
        "家电维修",
        "便民理发",
    }


def test_installing_again_changes_nothing(db: Any) -> None:
    assert markets.install_catalogue() == (8, 24)
    assert (ServiceModule.objects.count(), ServiceItem.objects.count()) == (8, 24)


def test_the_catalogue_api(places: Places) -> None:
    body = client_of("grid").get("/api/v1/market-catalogue").json()
    assert len(body) == 8 and sum(len(m["items"]) for m in body) == 24
    assert body[0] == {
        "code": "M01",
        "name": "健康服务",
        "items": [
            {"code": "M01-01", "name": "量血压"},
            {"code": "M01-02", "name": "测血糖"},
            {"code": "M01-03", "name": "中医推拿"},
        ],
    }
    page = client_of("community").get("/community/markets/catalogue/").content.decode()
    assert page.count("data-item=") == 24 and page.count("data-module=") == 8


# --- units --------------------------------------------------------------------------------
def test_a_units_phone_is_encrypted_and_shown_masked(places: Places) -> None:
    unit = a_unit(places)
    unit.refresh_from_db()
    assert PHONE not in unit.contact_phone_enc and unit.contact_phone_enc
    assert unit.contact_phone_masked == "139****1234"
    entry = AuditEntry.objects.for_object(unit).get()
    assert PHONE not in json.dumps(entry.changes)
    api = client_of("community").get("/api/v1/cobuilding-units").json()
    row = next(u for u in api["items"] if u["id"] == unit.pk)
    assert row["contact_phone_masked"] == "139****1234" and PHONE not in json.dumps(api)
    page = client_of("community").get("/community/units/").content.decode()
    assert "139****1234" in page and PHONE not in page


def test_unit_input_is_checked(places: Places) -> None:
    for bad in (
        {"kind": "bank"},
        {"contact_phone": "call me"},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "单位\x00"},
    ):
        fields = {"area_id": places.community.pk, "name": "县医院", "kind": "hospital"} | bad
        with pytest.raises(ValidationFailed):
            markets.create_unit(places.staff, **fields)
    with pytest.raises(NotFound):
        markets.create_unit(places.staff, area_id=places.next_community.pk, name="x", kind="school")


# --- markets, stalls, visitors and the report ---------------------------------------------
def test_a_markets_report_counts_stalls_items_and_visitors(places: Places) -> None:
    # given a market with a unit's stall (2 health items), a merchant's (1 repair item)
    # and a team's (a health item and a haircut)
    market = a_market(places)
    unit = a_unit(places)
    s1 = markets.add_stall(
        places.staff,
        market.pk,
        holder_kind=StallHolder.UNIT,
        unit_id=unit.pk,
        item_codes=["M01-01", "M01-02"],
    )
    s2 = markets.add_stall(
        places.staff,
        market.pk,
        holder_kind=StallHolder.MERCHANT,
        holder_name="老张家电",
        item_codes=["M03-01"],
    )
    s3 = markets.add_stall(
        places.staff,
        market.pk,
        holder_kind=StallHolder.TEAM,
        holder_name="余晖金志愿队",
        item_codes=["M01-01", "M04-01"],
    )
    assert s1.holder_name == "县人民医院"
    # when the visitors are recorded
    markets.record_visitors(
        places.staff,
        market.pk,
        visitors=260,
        stalls={s1.pk: 120, s2.pk: 35, s3.pk: 80},
        report="群众反响热烈",
        done=True,
    )
    # then the report holds the numbers
    report = markets.market_report(markets.get_market(places.staff, market.pk, detail=True))
    assert report.stalls == 3
    assert report.by_holder == [("共建单位", 1), ("诚信商户", 1), ("志愿服务队", 1)]
    assert report.items == 4  # 量血压, 测血糖, 小家电维修, 义务理发
    assert [(m.module, m.items, m.stalls) for m in report.modules] == [
        ("便民理发", ["义务理发"], 1),
        ("健康服务", ["测血糖", "量血压"], 2),
        ("家电维修", ["小家电维修"], 1),
    ]
    assert (report.visitors, report.served_at_stalls) == (260, 235)
    market.refresh_from_db()
    assert (market.status, market.report) == ("done", "群众反响热烈")
    # the page shows them
    html = client_of("community").get(f"/community/markets/{market.pk}/").content.decode()
    assert 'data-stat="visitors"><div class="card-body"><div class="jy-stat-value">260' in html
    assert "老张家电" in html and "群众反响热烈" in html


def test_without_a_total_the_visitors_are_at_least_the_stalls_sum(places: Places) -> None:
    market = a_market(places)
    stall = markets.add_stall(
        places.staff, market.pk, holder_kind="partner", holder_name="红色合伙人"
    )
    markets.record_visitors(places.staff, market.pk, stalls={stall.pk: 42})
    market.refresh_from_db()
    assert market.visitors == 42


def test_hostile_market_input_is_refused(places: Places) -> None:
    market = a_market(places)
    start, end = span(next_weekday(6))
    for bad in (
        {"title": ""},
        {"title": "集" * 121},
        {"ends_at": start},
        {"starts_at": start.replace(year=1999), "ends_at": end.replace(year=1999)},
    ):
        fields = {
            "area_id": places.community.pk,
            "title": "集市",
            "starts_at": start,
            "ends_at": end,
        } | bad
        with pytest.raises(ValidationFailed):
            markets.create_market(places.staff, **fields)
    with pytest.raises(ValidationFailed):
        markets.add_stall(places.staff, market.pk, holder_kind="unit")  # no unit
    with pytest.raises(ValidationFailed):
        markets.add_stall(
            places.staff, market.pk, holder_kind="merchant", holder_name="x", item_codes=["NOPE"]
        )
    with pytest.raises(ValidationFailed):
        markets.record_visitors(places.staff, market.pk, visitors=-1)
    with pytest.raises(ValidationFailed):
        markets.record_visitors(places.staff, market.pk, visitors=10**9)
    other = Market.objects.create(
        title="别处", area=places.next_community, starts_at=start, ends_at=end
    )
    other_stall = Stall.objects.create(market=other, holder_kind="merchant", holder_name="x")
    with pytest.raises(NotFound):
        markets.record_visitors(places.staff, market.pk, stalls={other_stall.pk: 3})
    with pytest.raises(NotFound):
        markets.record_visitors(places.staff, other.pk, visitors=3)


# --- the API ------------------------------------------------------------------------------
def test_the_market_api_from_creation_to_visitors(places: Places) -> None:
    api = client_of("community")
    start, end = span(next_weekday(6))
    made = api.post(
        "/api/v1/markets",
        json.dumps(
            {
                "area_id": places.community.pk,
                "title": "六月公益集市",
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
                "position_id": places.centre.pk,
            }
        ),
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    market = made.json()
    assert (market["status"], market["place"]) == ("planned", places.centre.name)
    stall = api.post(
        f"/api/v1/markets/{market['id']}/stalls",
        json.dumps(
            {
                "holder_kind": "merchant",
                "holder_name": "便民理发店",
                "item_codes": ["M04-01", "M04-02"],
            }
        ),
        content_type="application/json",
    )
    assert stall.status_code == 201, stall.content
    assert [i["name"] for i in stall.json()["items"]] == ["义务理发", "儿童理发"]
    stall_id = stall.json()["id"]
    counted = api.patch(
        f"/api/v1/markets/{market['id']}/visitors",
        json.dumps({"visitors": 88, "stalls": {str(stall_id): 40}, "done": True}),
        content_type="application/json",
    )
    assert counted.status_code == 200, counted.content
    detail = counted.json()
    assert (detail["visitors"], detail["status"], detail["stall_count"]) == (88, "done", 1)
    assert (detail["items_offered"], detail["served_at_stalls"]) == (2, 40)
    assert detail["stalls"][0]["served"] == 40
    listed = api.get("/api/v1/markets").json()
    assert market["id"] in {m["id"] for m in listed["items"]}
    stalls = api.get(f"/api/v1/markets/{market['id']}/stalls").json()
    assert [s["holder_name"] for s in stalls] == ["便民理发店"]


@pytest.mark.parametrize(
    "body",
    [
        {"visitors": -5},
        {"visitors": 10**12},
        {"stalls": {"abc": 3}},
        {"stalls": {"1": "many"}},
        {"report": "x" * 6000},
        {"report": "bad\x00"},
    ],
)
def test_hostile_visitor_updates_get_a_bilingual_4xx(places: Places, body: dict) -> None:
    market = a_market(places)
    response = client_of("community").patch(
        f"/api/v1/markets/{market.pk}/visitors", json.dumps(body), content_type="application/json"
    )
    assert 400 <= response.status_code < 500, response.content
    assert " / " in response.json()["message"]


def test_market_scope_matrix(places: Places) -> None:
    mine = a_market(places)
    start, end = span(next_weekday(6))
    other = Market.objects.create(
        title="外社区集市", area=places.next_community, starts_at=start, ends_at=end
    )
    staff, admin, resident = client_of("community"), client_of("admin"), client_of("resident")
    assert staff.get(f"/api/v1/markets/{other.pk}").status_code == 404
    assert staff.get(f"/community/markets/{other.pk}/").status_code == 404
    assert staff.get(f"/community/markets/{mine.pk}/").status_code == 200
    assert admin.get(f"/api/v1/markets/{other.pk}").status_code == 200
    assert resident.get(f"/api/v1/markets/{mine.pk}").status_code == 404
    assert resident.get(f"/community/markets/{mine.pk}/").status_code == 404
    assert resident.get("/api/v1/markets").json()["count"] == 0
    response = staff.patch(
        f"/api/v1/markets/{other.pk}/visitors",
        json.dumps({"visitors": 3}),
        content_type="application/json",
    )
    assert response.status_code == 404
    ids = {m["id"] for m in staff.get("/api/v1/markets").json()["items"]}
    assert mine.pk in ids and other.pk not in ids
    response = staff.post(
        "/api/v1/markets",
        json.dumps(
            {
                "area_id": places.next_community.pk,
                "title": "越界",
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 404


# --- pages --------------------------------------------------------------------------------
def test_the_pages_create_a_market_add_stalls_and_record_visitors(places: Places) -> None:
    client = client_of("community")
    assert client.get("/community/markets/new/").status_code == 200
    day = next_weekday(6)
    made = client.post(
        "/community/markets/new/",
        {
            "title": "七月公益集市",
            "area": places.community.pk,
            "position": places.centre.pk,
            "day": f"{day:%Y-%m-%d}",
            "start": "09:00",
            "end": "11:30",
        },
    )
    assert made.status_code == 302, made.content.decode()[:3000]
    market = Market.objects.get(title="七月公益集市")
    unit = a_unit(places)
    added = client.post(
        f"/community/markets/{market.pk}/stalls/",
        {"holder_kind": "unit", "unit": unit.pk, "items": ["M02-01", "M02-02"]},
    )
    assert added.status_code == 302
    stall = market.stalls.get()
    bad = client.post(f"/community/markets/{market.pk}/stalls/", {"holder_kind": "unit"})
    assert bad.status_code == 422 and "请选择共建单位" in bad.content.decode()
    counted = client.post(
        f"/community/markets/{market.pk}/visitors/",
        {"visitors": "150", f"stall-{stall.pk}": "60", "report": "法律咨询很受欢迎", "done": "1"},
    )
    assert counted.status_code == 302
    market.refresh_from_db()
    assert (market.visitors, market.status) == (150, "done")
    wrong = client.post(f"/community/markets/{market.pk}/visitors/", {"visitors": "-3"})
    assert wrong.status_code == 422
    listing = client.get("/community/markets/").content.decode()
    assert "七月公益集市" in listing
    unit_page = client.post(
        "/community/units/new/", {"name": "", "kind": "school", "area": places.community.pk}
    )
    assert unit_page.status_code == 422


def test_market_pages_and_api_cost_the_same_with_many_rows(places: Places) -> None:
    market = a_market(places)
    client = client_of("admin")
    urls = [
        "/community/markets/",
        f"/community/markets/{market.pk}/",
        "/community/units/",
        "/community/markets/catalogue/",
        "/api/v1/markets?limit=100",
        f"/api/v1/markets/{market.pk}",
        f"/api/v1/markets/{market.pk}/stalls",
        "/api/v1/cobuilding-units?limit=100",
        "/api/v1/market-catalogue",
    ]

    def grow(n: int) -> None:
        for i in range(n):
            unit = a_unit(places, f"共建单位{i}-{n}")
            stall = markets.add_stall(
                places.staff,
                market.pk,
                holder_kind="unit",
                unit_id=unit.pk,
                item_codes=["M01-01", f"M0{i % 8 + 1}-02"],
            )
            assert stall.pk
            a_market(places, f"集市{i}-{n}")

    def count(url: str) -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200, url
        return len(ctx.captured_queries)

    grow(2)
    before = {url: count(url) for url in urls}
    grow(25)
    assert {url: count(url) for url in urls} == before
    assert len(client.get(f"/api/v1/markets/{market.pk}").json()["stalls"]) == 27


def test_the_menu_links_the_markets_pages(places: Places) -> None:
    html = client_of("grid").get("/").content.decode()
    for url in ("/community/markets/", "/community/markets/catalogue/", "/community/units/"):
        assert f'href="{url}"' in html


def test_a_market_photo_is_kept_and_served_in_scope_only(
    places: Places, settings: Any, tmp_path: Any
) -> None:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    market = a_market(places)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, format="PNG")
    upload = SimpleUploadedFile("market.png", buffer.getvalue(), content_type="image/png")
    client = client_of("community")
    sent = client.post(f"/community/markets/{market.pk}/photos/", {"photo": upload})
    assert sent.status_code == 302
    photo = market.photos.get()
    assert (photo.width, photo.height, photo.area_path) == (64, 48, market.area_path)
    html = client.get(f"/community/markets/{market.pk}/").content.decode()
    assert f"/community/markets/{market.pk}/photos/{photo.pk}/" in html
    served = client.get(f"/community/markets/{market.pk}/photos/{photo.pk}/")
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert (
        client_of("resident").get(f"/community/markets/{market.pk}/photos/{photo.pk}/").status_code
        == 404
    )
    junk = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    refused = client.post(f"/community/markets/{market.pk}/photos/", {"photo": junk})
    assert refused.status_code == 422
    assert client.post(f"/community/markets/{market.pk}/photos/", {}).status_code == 422
