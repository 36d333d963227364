"""Open311 GeoReport v2 conformance: every endpoint in JSON and XML, the error format,
the filters, api_key refusal, the status life of a request, and that nothing about the
reporter ever leaves."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from jiayuan.cases import open311, services
from jiayuan.cases.choices import Status
from jiayuan.cases.models import Case, Category, Open311Key
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Person

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"
FORMATS = ("json", "xml")
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords",
                  "group"]  # fmt: skip
ATTRIBUTE_FIELDS = ["variable", "code", "datatype", "required", "datatype_description", "order",
                    "description", "values"]  # fmt: skip
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url"]  # fmt: skip
# Reporter data used throughout: none of it may appear in any response body.
PHONE = "13987654321"
EMAIL = "fang.wang@example.com"
FIRST, LAST = "芳华", "欧阳"
DEVICE, ACCOUNT = "device-7f3a9c", "acct-551234"


def parse(response: Any) -> ET.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)  # noqa: S314 — our own output


def body(response: Any, fmt: str) -> Any:
    if fmt == "json":
        assert response["Content-Type"] == "application/json; charset=utf-8"
        return json.loads(response.content)
    return parse(response)


def errors_of(response: Any, fmt: str) -> list[tuple[int, str]]:
    """The (code, description) pairs of an error response, checking its shape."""
    if fmt == "json":
        data = body(response, fmt)
        assert isinstance(data, list)
        assert all(set(e) == {"code", "description"} for e in data)
        return [(e["code"], e["description"]) for e in data]
    root = parse(response)
    assert root.tag == "errors"
    assert all(child.tag == "error" for child in root)
    assert all([c.tag for c in child] == ["code", "description"] for child in root)
    return [(int(e.findtext("code") or 0), e.findtext("description") or "") for e in root]


def tags(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def api_key(db: Any) -> str:
    return open311.issue_key("test-client")


@pytest.fixture
def point(own_grid: Area) -> dict[str, str]:
    return {"lat": str(own_grid.centroid_lat), "long": str(own_grid.centroid_lng)}


def post(client: Client, fmt: str, **data: Any) -> Any:
    return client.post(f"{BASE}/requests.{fmt}", data)


def create(client: Client, api_key: str, point: dict[str, str], **data: Any) -> Case:
    data = {"api_key": api_key, "service_code": "0201", "description": "小区门口垃圾堆积",
            **point, **data}  # fmt: skip
    response = post(client, "json", **data)
    assert response.status_code == 200, response.content.decode()
    return Case.objects.get(pk=response.json()[0]["service_request_id"])


# --- discovery and services ---------------------------------------------------------------
def test_discovery_json_and_xml(client: Client) -> None:
    data = client.get(f"{BASE}/discovery.json").json()
    assert set(data) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = data["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]

    root = parse(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert tags(root) == ["changeset", "contact", "key_service", "endpoints"]
    endpoints = root.find("endpoints")
    assert endpoints is not None and tags(endpoints) == ["endpoint"]
    assert [f.text for f in root.iterfind("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]
    assert root.findtext("endpoints/endpoint/specification") == open311.SPECIFICATION


def test_services_json(client: Client) -> None:
    data = client.get(f"{BASE}/services.json").json()
    by_code = {s["service_code"]: s for s in data}
    assert all(isinstance(code, str) for code in by_code)
    assert len(by_code) == Category.objects.filter(public=True).count()
    assert list(by_code["0102"]) == SERVICE_FIELDS
    assert by_code["0102"]["service_name"] == "电梯故障"
    assert by_code["0102"]["metadata"] is True  # it asks for the building
    assert by_code["0201"]["metadata"] is False
    assert by_code["0201"]["group"] == "环境卫生"
    assert by_code["0201"]["type"] == "realtime"
    assert "垃圾清运" in by_code["0201"]["keywords"].split(", ")


def test_services_xml(client: Client) -> None:
    root = parse(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    assert set(tags(root)) == {"service"}
    by_code = {s.findtext("service_code"): s for s in root}
    assert "0201" in by_code and "01" in by_code  # codes stay strings: leading zeros kept
    assert tags(by_code["0102"]) == SERVICE_FIELDS
    assert by_code["0102"].findtext("metadata") == "true"
    assert by_code["0201"].findtext("metadata") == "false"
    assert by_code["0201"].findtext("group") == "环境卫生"


def test_private_category_is_not_offered(client: Client, api_key: str, point: Any) -> None:
    Category.objects.filter(code="0401").update(public=False)
    codes = [s["service_code"] for s in client.get(f"{BASE}/services.json").json()]
    assert "0401" not in codes
    assert client.get(f"{BASE}/services/0401.json").status_code == 404
    response = post(client, "json", api_key=api_key, service_code="0401", **point)
    assert response.status_code == 404


@pytest.fixture
def listed_attributes(db: Any) -> Category:
    category = Category.objects.get(code="0303")
    category.attributes = [
        {"code": "facility", "datatype": "singlevaluelist", "required": True,
         "description": "设施类型", "order": 2,
         "values": [{"key": "bench", "name": "座椅"}, {"key": "fence", "name": "护栏"}]},
        {"code": "damage", "datatype": "multivaluelist", "required": False, "order": 1,
         "description": "损坏情况", "values": ["破裂", "缺失", "松动"]},
        {"code": "count", "datatype": "number", "required": False, "order": 3,
         "datatype_description": "数量（个）"},
        {"code": "seen_at", "datatype": "datetime", "order": 4},
    ]  # fmt: skip
    category.save()
    return category


def test_service_definition_json(client: Client, listed_attributes: Category) -> None:
    data = client.get(f"{BASE}/services/0102.json").json()
    assert data["service_code"] == "0102"
    (attr,) = data["attributes"]
    assert list(attr) == ATTRIBUTE_FIELDS
    assert attr["variable"] is True
    assert attr["code"] == "building"
    assert attr["datatype"] == "string"
    assert attr["required"] is True
    assert attr["order"] == 1
    assert attr["description"] == "楼栋号"
    assert attr["values"] == []

    data = client.get(f"{BASE}/services/0303.json").json()
    assert [a["code"] for a in data["attributes"]] == ["damage", "facility", "count", "seen_at"]
    facility = data["attributes"][1]
    assert facility["datatype"] == "singlevaluelist"
    assert facility["values"] == [
        {"key": "bench", "name": "座椅"},
        {"key": "fence", "name": "护栏"},
    ]
    assert data["attributes"][2]["datatype_description"] == "数量（个）"


def test_service_definition_xml(client: Client, listed_attributes: Category) -> None:
    root = parse(client.get(f"{BASE}/services/0303.xml"))
    assert root.tag == "service_definition"
    assert tags(root) == ["service_code", "attributes"]
    assert root.findtext("service_code") == "0303"
    attributes = root.find("attributes")
    assert attributes is not None and set(tags(attributes)) == {"attribute"}
    facility = attributes[1]
    assert tags(facility) == ATTRIBUTE_FIELDS
    assert facility.findtext("required") == "true"
    assert facility.findtext("variable") == "true"
    values = facility.find("values")
    assert values is not None and tags(values) == ["value", "value"]
    assert [(v.findtext("key"), v.findtext("name")) for v in values] == [
        ("bench", "座椅"),
        ("fence", "护栏"),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_is_404(client: Client, fmt: str) -> None:
    response = client.get(f"{BASE}/services/9999.{fmt}")
    assert response.status_code == 404
    ((code, description),) = errors_of(response, fmt)
    assert code == 404
    assert "9999" in description and "not found" in description and "不存在" in description


# --- POST requests ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_post_creates_a_case(
    client: Client, api_key: str, point: Any, own_grid: Area, users: Any, fmt: str
) -> None:
    response = post(client, fmt, api_key=api_key, service_code="0201",
                    description="小区门口垃圾堆积", **point)  # fmt: skip
    assert response.status_code == 200, response.content.decode()
    if fmt == "json":
        (item,) = response.json()
        assert list(item) == ["service_request_id", "service_notice", "account_id"]
        assert isinstance(item["service_request_id"], int)
        assert item["account_id"] is None
        pk = item["service_request_id"]
        notice = item["service_notice"]
    else:
        root = parse(response)
        assert root.tag == "service_requests" and tags(root) == ["request"]
        assert tags(root[0]) == ["service_request_id", "service_notice", "account_id"]
        pk = int(root.findtext("request/service_request_id") or 0)
        notice = root.findtext("request/service_notice")
    case = Case.objects.get(pk=pk)
    assert case.channel == "open311"
    assert case.grid == own_grid
    assert case.status == Status.DISPATCHED  # routed to the grid's worker like any intake
    assert case.handler_user == users["grid"]
    assert case.source_ref == "open311:test-client"
    assert case.anonymous is True
    assert case.number in (notice or "")


def test_post_needs_no_csrf_token(api_key: str, point: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = post(strict, "xml", api_key=api_key, service_code="0201", **point)
    assert response.status_code == 200, response.content.decode()


def test_post_keeps_contact_for_the_loop(client: Client, api_key: str, point: Any) -> None:
    case = create(client, api_key, point, first_name=FIRST, last_name=LAST, phone=PHONE,
                  email=EMAIL, device_id=DEVICE, account_id=ACCOUNT,
                  media_url="https://img.example.com/p/1.jpg")  # fmt: skip
    assert case.reporter_name == "欧阳芳华"  # 姓在前
    assert case.reporter_phone_masked == "139****4321"  # stored encrypted for the reply
    assert case.anonymous is False
    assert case.attributes == {"media_url": "https://img.example.com/p/1.jpg"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_api_key_is_403(client: Client, point: Any, fmt: str) -> None:
    response = post(client, fmt, service_code="0201", description="x", **point)
    assert response.status_code == 403
    ((code, description),) = errors_of(response, fmt)
    assert code == 403 and "api_key" in description
    assert not Case.objects.filter(channel="open311").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_and_revoked_keys_are_403(
    client: Client, api_key: str, point: Any, fmt: str
) -> None:
    response = post(client, fmt, api_key="o311_not-a-key", service_code="0201", **point)
    assert response.status_code == 403
    assert errors_of(response, fmt)[0][0] == 403
    open311.revoke_key("test-client")
    response = post(client, fmt, api_key=api_key, service_code="0201", **point)
    assert response.status_code == 403
    ((code, description),) = errors_of(response, fmt)
    assert code == 403 and "revoked" in description
    assert not Case.objects.filter(channel="open311").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_code_missing_400_unknown_404(
    client: Client, api_key: str, point: Any, fmt: str
) -> None:
    response = post(client, fmt, api_key=api_key, **point)
    assert response.status_code == 400
    assert "service_code" in errors_of(response, fmt)[0][1]
    response = post(client, fmt, api_key=api_key, service_code="9999", **point)
    assert response.status_code == 404
    assert errors_of(response, fmt)[0][0] == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_location_errors_are_400(client: Client, api_key: str, point: Any, fmt: str) -> None:
    def refused(**data: Any) -> str:
        response = post(client, fmt, api_key=api_key, service_code="0201", **data)
        assert response.status_code == 400, response.content.decode()
        ((code, description),) = errors_of(response, fmt)
        assert code == 400
        return description

    assert "lat and long, or address_string" in refused(description="no place")
    assert "together" in refused(lat=point["lat"])
    assert "WGS84" in refused(lat="north", long=point["long"])
    assert "WGS84" in refused(lat="95", long=point["long"])
    assert "outside" in refused(lat="39.9042", long="116.4074")  # Beijing, not this county
    assert "address_string" in refused(address_string="火星基地")
    assert not Case.objects.filter(channel="open311").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_required_attribute_missing_is_400(
    client: Client, api_key: str, point: Any, fmt: str
) -> None:
    response = post(client, fmt, api_key=api_key, service_code="0102", description="电梯停运",
                    **point)  # fmt: skip
    assert response.status_code == 400
    ((code, description),) = errors_of(response, fmt)
    assert code == 400
    assert "building" in description and "楼栋号" in description
    response = post(client, fmt, api_key=api_key, service_code="0102", description="电梯停运",
                    **{"attribute[building]": "3号楼"}, **point)  # fmt: skip
    assert response.status_code == 200
    assert Case.objects.get(channel="open311").attributes == {"building": "3号楼"}


def test_attributes_are_validated_against_the_definition(
    client: Client, api_key: str, point: Any, listed_attributes: Category
) -> None:
    base = {"api_key": api_key, "service_code": "0303", "description": "护栏坏了", **point}
    response = post(client, "json", **base, **{"attribute[facility]": "swing",
                                               "attribute[count]": "many"})  # fmt: skip
    assert response.status_code == 400
    described = " ".join(e["description"] for e in response.json())
    assert len(response.json()) == 2  # both faults reported at once
    assert "facility" in described and "count" in described
    response = client.post(
        f"{BASE}/requests.json",
        "&".join(
            [f"{k}={v}" for k, v in base.items()]
            + ["attribute[facility]=fence", "attribute[damage][]=破裂",
               "attribute[damage][]=松动", "attribute[count]=2",
               "attribute[seen_at]=2026-03-02T08:00:00Z", "attribute[unknown]=x"]
        ),
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip
    assert response.status_code == 200, response.content.decode()
    case = Case.objects.get(pk=response.json()[0]["service_request_id"])
    assert case.attributes == {
        "facility": "fence",
        "damage": ["破裂", "松动"],
        "count": "2",
        "seen_at": "2026-03-02T16:00:00+08:00",
    }


def test_bad_phone_is_400(client: Client, api_key: str, point: Any) -> None:
    response = post(client, "json", api_key=api_key, service_code="0201", phone="12345", **point)
    assert response.status_code == 400
    assert "phone" in response.json()[0]["description"]


def test_address_string_finds_the_dwelling(client: Client, api_key: str, own_grid: Area) -> None:
    zone = own_grid.parent
    community = zone.parent
    building = own_grid.children.order_by("path").first()
    unit = building.children.order_by("path").first()
    dwelling = Dwelling.objects.filter(unit=unit).order_by("number").last()
    address = f"{community.name} {zone.name}{building.name}{unit.name}{dwelling.number}室"
    response = post(client, "json", api_key=api_key, service_code="0401",
                    description="楼上噪音", address_string=address)  # fmt: skip
    assert response.status_code == 200, response.content.decode()
    case = Case.objects.get(pk=response.json()[0]["service_request_id"])
    assert case.grid == own_grid
    assert case.dwelling == dwelling
    assert case.address == address.strip()
    # the public address stops at the building: no unit, no door
    data = client.get(f"{BASE}/requests/{case.pk}.json").json()[0]
    assert data["address"] == f"{community.name}{zone.name}{building.name}"
    assert dwelling.number not in data["address"]


def test_address_string_to_a_grid_or_a_single_grid_zone(client: Client, api_key: str) -> None:
    grid = Area.objects.get(path="370830/001/001/02/02/")  # 金色佳苑 第4网格
    response = post(
        client,
        "json",
        api_key=api_key,
        service_code="0201",
        address_string=f"{grid.parent.parent.name}{grid.parent.name}{grid.name}",
    )
    assert response.status_code == 200, response.content.decode()
    assert Case.objects.get(pk=response.json()[0]["service_request_id"]).grid == grid
    only = Area.objects.get(kind="zone", name="卫生片区")  # one grid in it
    response = post(client, "json", api_key=api_key, service_code="0201",
                    address_string=f"汶上县{only.name}东门")  # fmt: skip
    assert response.status_code == 200, response.content.decode()
    assert Case.objects.get(pk=response.json()[0]["service_request_id"]).grid.parent == only


def test_address_string_too_vague_is_400(client: Client, api_key: str) -> None:
    response = post(client, "json", api_key=api_key, service_code="0201",
                    address_string="和谐雅居门口")  # two grids in that estate  # fmt: skip
    assert response.status_code == 400
    assert "和谐雅居" in response.json()[0]["description"]


# --- GET requests -------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_created_request_is_listed_open_with_its_due_time(
    client: Client, api_key: str, point: Any, fmt: str
) -> None:
    case = create(client, api_key, point)
    case.refresh_from_db()
    response = client.get(f"{BASE}/requests.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        items = {r["service_request_id"]: r for r in response.json()}
        item = items[case.pk]
        assert list(item) == REQUEST_FIELDS
    else:
        root = parse(response)
        assert root.tag == "service_requests" and set(tags(root)) == {"request"}
        element = next(r for r in root if r.findtext("service_request_id") == str(case.pk))
        assert tags(element) == REQUEST_FIELDS
        item = {child.tag: child.text for child in element}
    assert item["status"] == "open"
    assert item["service_code"] == "0201"
    assert item["service_name"] == "垃圾清运"
    assert item["description"] == "小区门口垃圾堆积"
    assert dt.datetime.fromisoformat(item["expected_datetime"]) == case.due_at.replace(
        microsecond=0
    )
    assert item["expected_datetime"].endswith("+08:00")
    assert item["requested_datetime"] == timezone.localtime(case.received_at).isoformat(
        timespec="seconds"
    )
    assert item["agency_responsible"].endswith(case.grid.name)
    assert item["status_notes"] == "已派单，等待接单"
    assert item["media_url"] in (None, "")
    assert float(item["lat"]) == pytest.approx(float(point["lat"]))


@pytest.mark.parametrize("fmt", FORMATS)
def test_closed_request_reports_closed_and_its_note(
    client: Client, api_key: str, point: Any, users: Any, fmt: str
) -> None:
    case = create(client, api_key, point)
    services.perform(case.pk, "accept", actor=users["grid"])
    services.perform(case.pk, "start", actor=users["grid"])
    services.perform(case.pk, "handle", actor=users["grid"], result="已清运")
    services.perform(case.pk, "approve", actor=users["community"], note="垃圾已清运，已消杀")
    case = services.visit_by_token(case.tracking_token, "satisfied")
    response = client.get(f"{BASE}/requests/{case.pk}.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        (item,) = response.json()
    else:
        root = parse(response)
        assert root.tag == "service_requests" and tags(root) == ["request"]
        item = {child.tag: child.text for child in root[0]}
    assert item["status"] == "closed"
    assert item["status_notes"] == "垃圾已清运，已消杀"
    assert item["updated_datetime"] == timezone.localtime(case.closed_at).isoformat(
        timespec="seconds"
    )


def test_status_notes_follow_the_public_timeline(
    client: Client, api_key: str, point: Any, users: Any
) -> None:
    case = create(client, api_key, point, first_name="芳", last_name="王")
    services.perform(case.pk, "accept", actor=users["grid"])
    services.perform(case.pk, "start", actor=users["grid"])
    services.perform(case.pk, "suspend", actor=users["grid"],
                     reason=f"等待王芳（{PHONE}）在家时上门")  # fmt: skip
    item = client.get(f"{BASE}/requests/{case.pk}.json").json()[0]
    assert item["status"] == "open"
    assert item["status_notes"] == "等待***（***）在家时上门"
    services.perform(case.pk, "resume", actor=users["grid"])
    item = client.get(f"{BASE}/requests/{case.pk}.json").json()[0]
    assert item["status_notes"] == "恢复办理"
    other = create(client, api_key, point)
    services.perform(other.pk, "reject", actor=users["community"], reason="不属于受理范围")
    item = client.get(f"{BASE}/requests/{other.pk}.json").json()[0]
    assert (item["status"], item["status_notes"]) == ("closed", "不属于受理范围")


@pytest.fixture
def spread(make_case: Any, other_grid: Area, users: Any) -> dict[str, Case]:
    """Cases of several services, ages and states."""
    now = timezone.now()
    cases = {
        "fresh": make_case(category="0201", received_at=now - dt.timedelta(days=1)),
        "noise": make_case(category="0401", received_at=now - dt.timedelta(days=10)),
        "old": make_case(category="0201", received_at=now - dt.timedelta(days=60)),
        "ancient": make_case(category="0201", received_at=now - dt.timedelta(days=120)),
        "other": make_case(category="0202", grid=other_grid,
                           received_at=now - dt.timedelta(days=5)),
    }  # fmt: skip
    services.perform(cases["noise"].pk, "reject", actor=users["community"], reason="重复反映")
    return cases


def ids(client: Client, query: str = "") -> set[int]:
    response = client.get(f"{BASE}/requests.json{query}")
    assert response.status_code == 200, response.content.decode()
    return {r["service_request_id"] for r in response.json()}


def test_default_window_is_the_last_90_days(client: Client, spread: dict[str, Case]) -> None:
    found = ids(client)
    assert {spread[k].pk for k in ("fresh", "noise", "old", "other")} <= found
    assert spread["ancient"].pk not in found


def test_filter_by_ids_overrides_the_rest(client: Client, spread: dict[str, Case]) -> None:
    wanted = f"{spread['fresh'].pk},{spread['ancient'].number}"
    assert ids(client, f"?service_request_id={wanted}&status=closed&service_code=0401") == {
        spread["fresh"].pk,
        spread["ancient"].pk,
    }


def among(client: Client, spread: dict[str, Case], query: str) -> set[int]:
    """The spread's cases in the answer; the seeded year of cases is there too, so every
    answered row must also satisfy the filter (checked by the caller through ``rows``)."""
    return ids(client, query) & {c.pk for c in spread.values()}


def rows(client: Client, query: str) -> list[dict[str, Any]]:
    response = client.get(f"{BASE}/requests.json{query}")
    assert response.status_code == 200, response.content.decode()
    return response.json()


def test_filter_by_service_code_and_status(client: Client, spread: dict[str, Case]) -> None:
    assert among(client, spread, "?service_code=0401") == {spread["noise"].pk}
    assert {r["service_code"] for r in rows(client, "?service_code=0401")} == {"0401"}
    both = among(client, spread, "?service_code=0401,0202")
    assert both == {spread["noise"].pk, spread["other"].pk}
    closed = ids(client, "?status=closed")
    assert spread["noise"].pk in closed and spread["fresh"].pk not in closed
    assert {r["status"] for r in rows(client, "?status=closed")} == {"closed"}
    opened = ids(client, "?status=open")
    assert spread["fresh"].pk in opened and spread["noise"].pk not in opened
    assert {spread["noise"].pk, spread["fresh"].pk} <= ids(client, "?status=open,closed")


def test_filter_by_dates(client: Client, spread: dict[str, Case]) -> None:
    now = timezone.now()
    start = (now - dt.timedelta(days=70)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - dt.timedelta(days=7)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = f"?start_date={start}&end_date={end}&service_code=0201,0401"
    assert among(client, spread, query) == {spread["old"].pk, spread["noise"].pk}
    for row in rows(client, query):
        requested = dt.datetime.fromisoformat(row["requested_datetime"])
        assert now - dt.timedelta(days=70) <= requested <= now - dt.timedelta(days=7)
        assert row["service_code"] in ("0201", "0401")
    # an offset whose + was not encoded in the query string still reads right
    local = timezone.localtime(now - dt.timedelta(days=130)).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    assert spread["ancient"].pk in ids(client, f"?start_date={local}&service_code=0201")
    end_only = (now - dt.timedelta(days=100)).date().isoformat()
    assert among(client, spread, f"?end_date={end_only}&service_code=0201") == {
        spread["ancient"].pk
    }


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("start_date=yesterday", "start_date"),
        ("end_date=2026-13-45T00:00:00Z", "end_date"),
        ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "90 days"),
        ("start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "earlier"),
        ("status=pending", "status"),
    ],
)
def test_bad_filters_are_400(client: Client, fmt: str, query: str, needle: str) -> None:
    response = client.get(f"{BASE}/requests.{fmt}?{query}")
    assert response.status_code == 400
    ((code, description),) = errors_of(response, fmt)
    assert code == 400 and needle in description


def test_list_is_capped_and_newest_first(client: Client, make_case: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(open311.reading, "MAX_RESULTS", 3)
    now = timezone.now()
    made = [make_case(received_at=now - dt.timedelta(hours=h)) for h in range(5)]
    data = client.get(f"{BASE}/requests.json").json()
    assert [r["service_request_id"] for r in data] == [c.pk for c in made[:3]]


def test_list_query_count_does_not_grow(
    client: Client, make_case: Any, django_assert_max_num_queries: Any
) -> None:
    for _ in range(12):
        make_case()
    with django_assert_max_num_queries(6):
        assert len(client.get(f"{BASE}/requests.json").json()) >= 12


@pytest.mark.parametrize("fmt", FORMATS)
def test_single_request_by_id_or_number_and_404(client: Client, make_case: Any, fmt: str) -> None:
    case = make_case()
    for ref in (case.pk, case.number):
        response = client.get(f"{BASE}/requests/{ref}.{fmt}")
        assert response.status_code == 200
        data = body(response, fmt)
        got = (
            data[0]["service_request_id"]
            if fmt == "json"
            else data.findtext("request/service_request_id")
        )
        assert str(got) == str(case.pk)
    response = client.get(f"{BASE}/requests/99999999.{fmt}")
    assert response.status_code == 404
    assert errors_of(response, fmt)[0][0] == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_token_maps_to_the_request(client: Client, make_case: Any, fmt: str) -> None:
    case = make_case()
    response = client.get(f"{BASE}/tokens/{case.tracking_token}.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        assert response.json() == [{"service_request_id": case.pk, "token": case.tracking_token}]
    else:
        root = parse(response)
        assert root.tag == "service_requests" and tags(root[0]) == ["service_request_id", "token"]
        assert root.findtext("request/service_request_id") == str(case.pk)
    response = client.get(f"{BASE}/tokens/not-a-token.{fmt}")
    assert response.status_code == 404
    assert errors_of(response, fmt)[0][0] == 404


def test_unknown_resource_and_method(client: Client) -> None:
    response = client.get(f"{BASE}/services.csv")
    assert response.status_code == 404
    assert errors_of(response, "xml")[0][0] == 404
    response = client.get(f"{BASE}/nothing.json")
    assert errors_of(response, "json")[0][0] == 404
    response = client.put(f"{BASE}/requests.json")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert errors_of(response, "json")[0][0] == 405
    response = client.post(f"{BASE}/services.xml")
    assert response.status_code == 405
    assert errors_of(response, "xml")[0][0] == 405


# --- privacy ------------------------------------------------------------------------------
def test_reporter_data_never_leaves(
    client: Client, api_key: str, point: Any, make_case: Any
) -> None:
    # given a request from a named reporter whose description repeats their contact
    case = create(client, api_key, point, first_name=FIRST, last_name=LAST, phone=PHONE,
                  email=EMAIL, device_id=DEVICE, account_id=ACCOUNT,
                  description=f"{LAST}{FIRST}反映：垃圾没人清运，电话{PHONE}，邮箱{EMAIL}，"
                              "身份证370830199001011234")  # fmt: skip
    # and a case from a registered resident, filed by staff
    person = Person.objects.exclude(name="").order_by("pk").first()
    resident_case = make_case(reporter=person, reporter_name="", reporter_phone="",
                              description=f"{person.name}家门口路灯不亮")  # fmt: skip
    secrets = [PHONE, "139****4321", EMAIL, f"{LAST}{FIRST}", FIRST, DEVICE, ACCOUNT,
               "370830199001011234", person.name, case.tracking_token]  # fmt: skip
    urls = [f"{BASE}/requests.{{fmt}}", f"{BASE}/requests/{case.pk}.{{fmt}}",
            f"{BASE}/requests/{resident_case.pk}.{{fmt}}",
            f"{BASE}/requests.{{fmt}}?service_request_id={case.pk},{resident_case.pk}"]  # fmt: skip
    # when every reading endpoint is asked in both formats, and a new request is posted
    bodies = []
    for fmt in FORMATS:
        for url in urls:
            response = client.get(url.format(fmt=fmt))
            assert response.status_code == 200
            bodies.append(response.content)
        response = post(client, fmt, api_key=api_key, service_code="0201", first_name=FIRST,
                        last_name=LAST, phone=PHONE, email=EMAIL, device_id=DEVICE,
                        account_id=ACCOUNT, **point)  # fmt: skip
        bodies.append(response.content)
    # then the requests are there, scrubbed, and no reporter detail is in any byte
    listed = json.loads(bodies[1])[0]
    assert listed["description"].startswith("***反映：垃圾没人清运，电话***，邮箱***")
    assert str(case.pk).encode() in bodies[0]
    for raw in bodies:
        for secret in secrets:
            assert secret.encode() not in raw, (secret, raw[:200])


# --- keys on the command line -------------------------------------------------------------
def test_open311_key_command(client: Client, point: Any) -> None:
    out = StringIO()
    call_command("open311_key", "create", "城市服务App", stdout=out)
    lines = out.getvalue().splitlines()
    raw = lines[1]
    assert raw.startswith("o311_") and len(raw) > 40
    key = Open311Key.objects.get(name="城市服务App")
    assert key.digest == open311.key_digest(raw)
    assert raw not in key.digest
    response = post(client, "json", api_key=raw, service_code="0201", **point)
    assert response.status_code == 200

    out = StringIO()
    call_command("open311_key", "list", stdout=out)
    assert "城市服务App" in out.getvalue() and "active" in out.getvalue()
    assert raw not in out.getvalue()

    with pytest.raises(CommandError, match="exists already"):
        call_command("open311_key", "create", "城市服务App", stdout=StringIO())

    call_command("open311_key", "revoke", "城市服务App", stdout=StringIO())
    assert Open311Key.objects.get(name="城市服务App").revoked_at is not None
    assert post(client, "json", api_key=raw, service_code="0201", **point).status_code == 403
    out = StringIO()
    call_command("open311_key", "list", stdout=out)
    assert "revoked" in out.getvalue()
    with pytest.raises(CommandError, match="revoked already"):
        call_command("open311_key", "revoke", "城市服务App", stdout=StringIO())
    with pytest.raises(CommandError, match="no key"):
        call_command("open311_key", "revoke", "nobody", stdout=StringIO())
    with pytest.raises(CommandError, match="NAME"):
        call_command("open311_key", "create", stdout=StringIO())
