"""The registry's JSON API: scope (another community's staff gets 404), phones masked
unless revealed with REVEAL_PII, hostile input answered 4xx, the credit route the issue
names, the dismissal decision, and lists that cost the same for few rows and many."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jiayuan.core.models import AuditEntry
from jiayuan.org.models import Area
from jiayuan.partners import credit, identity
from jiayuan.partners.models import Dismissal, Partner

from .conftest import Api
from .test_registry import pdf

pytestmark = pytest.mark.django_db


def body(area: Area, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": "social_org",
        "name": "汶上县红帆社会工作服务中心",
        "area_id": area.pk,
        "legal_representative": "李红",
    }
    values.update(overrides)
    if "uscc" not in values:
        values["uscc"] = identity.generate("370830", random.Random(values["name"]))
    return values


@pytest.fixture
def partner(api_as: Any, community_area: Area) -> dict[str, Any]:
    response = api_as("community").post("/partners", body(community_area))
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def test_create_and_read(api_as: Any, partner: dict[str, Any], settings: Any) -> None:
    assert partner["credit"] == settings.PARTNERS_CREDIT_OPENING
    assert partner["status_label"] == "合作中" and partner["may_manage"] is True
    admin = api_as("admin")
    listed = admin.get("/partners", kind="social_org").json()
    assert [p["id"] for p in listed["items"]] == [partner["id"]]
    assert admin.get("/partners", q=partner["uscc"]).json()["count"] == 1
    assert admin.get("/partners", status="dismissed").json()["count"] == 0
    changed = api_as("community").client.patch(
        f"/api/v1/partners/{partner['id']}",
        '{"services": "长者助餐、上门送餐"}',
        content_type="application/json",
    )
    assert changed.status_code == 200 and changed.json()["services"] == "长者助餐、上门送餐"


def test_scope_another_community_gets_404(
    api_as: Any, partner: dict[str, Any], outsider: Any, community_area: Area
) -> None:
    other = api_as(outsider)
    pid = partner["id"]
    assert other.get(f"/partners/{pid}").status_code == 404
    assert other.get(f"/partners/{pid}/credit").status_code == 404
    assert other.get("/partners").json()["count"] == 0
    assert other.post(f"/partners/{pid}/contacts", {"name": "x"}).status_code == 404
    assert other.post("/partners", body(community_area, name="越权")).status_code == 404


def test_viewer_reads_but_may_not_manage(
    api_as: Any, partner: dict[str, Any], viewer: Any, community_area: Area
) -> None:
    client = api_as(viewer)
    pid = partner["id"]
    detail = client.get(f"/partners/{pid}").json()
    assert detail["may_manage"] is False and detail["may_reveal"] is False
    assert client.post(f"/partners/{pid}/qualifications", {"name": "健康证"}).status_code == 403
    assert client.post("/partners", body(community_area, name="无权")).status_code == 403


def test_phone_masked_unless_revealed(api_as: Any, partner: dict[str, Any], viewer: Any) -> None:
    staff = api_as("community")
    pid = partner["id"]
    created = staff.post(f"/partners/{pid}/contacts", {"name": "李主任", "phone": "13912345678"})
    assert created.status_code == 201
    contact = created.json()
    assert contact["phone_masked"] == "139****5678" and "phone" not in contact
    for client in (staff, api_as(viewer)):
        text = client.get(f"/partners/{pid}").content.decode()
        assert "13912345678" not in text and "139****5678" in text
    reveal = f"/partners/{pid}/contacts/{contact['id']}/reveal"
    assert api_as(viewer).post(reveal).status_code == 403
    answer = staff.post(reveal)
    assert answer.status_code == 200 and answer.json() == {"phone": "13912345678"}
    assert AuditEntry.objects.filter(action="reveal", object_id=str(contact["id"])).count() == 1


@pytest.mark.parametrize(
    "hostile",
    [
        {"kind": "robot"},
        {"uscc": "91350100M000100Y44"},
        {"uscc": "<script>alert(1)</script>"},
        {"uscc": ""},
        {"name": ""},
        {"name": "x" * 101},
        {"area_id": 2**64},
        {"area_id": 0},
        {"person_id": -3},
        {"joined_on": "not-a-date"},
    ],
)
def test_hostile_create_is_4xx(api_as: Any, community_area: Area, hostile: dict[str, Any]) -> None:
    response = api_as("community").post("/partners", body(community_area, **hostile))
    assert 400 <= response.status_code < 500, response.content
    assert "/" in response.json()["message"]  # Chinese / English
    assert not Partner.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/partners/18446744073709551616",
        "/partners/99999999999999999999999/credit",
        "/partners/0",
        "/partners/abc",
        "/partners/dismissals/18446744073709551616/decide",
    ],
)
def test_hostile_ids_are_404_or_422(api_as: Any, path: str) -> None:
    client = api_as("admin")
    response = client.post(path, {}) if path.endswith("decide") else client.get(path)
    assert response.status_code in (404, 422), response.content


def test_hostile_bodies(api_as: Any, partner: dict[str, Any]) -> None:
    staff = api_as("community")
    pid = partner["id"]
    assert staff.post("/partners", "{not json").status_code == 400
    assert staff.post(f"/partners/{pid}/contacts", {"name": "x", "phone": "abc"}).status_code == 422
    assert (
        staff.post(
            f"/partners/{pid}/qualifications",
            {"name": "证", "issued_on": "2026-05-01", "expires_on": "2026-01-01"},
        ).status_code
        == 422
    )
    dup = staff.post("/partners", body(Area.objects.get(pk=partner["area_id"]), name="重名"))
    assert dup.status_code == 201
    same_code = {"uscc": partner["uscc"], "name": "抄袭代码"}
    again = staff.post("/partners", body(Area.objects.get(pk=partner["area_id"]), **same_code))
    assert again.status_code == 409


def test_documents_upload_and_download(
    api_as: Any, partner: dict[str, Any], outsider: Any, media: Any
) -> None:
    staff = api_as("community")
    pid = partner["id"]
    upload = SimpleUploadedFile("证书.pdf", pdf(), content_type="application/pdf")
    created = staff.upload(f"/partners/{pid}/documents", {"file": upload}, title="登记证书")
    assert created.status_code == 201, created.content
    doc = created.json()
    assert doc["content_type"] == "application/pdf" and len(doc["sha256"]) == 64
    got = staff.client.get(doc["url"])
    assert got.status_code == 200 and got["Content-Type"] == "application/pdf"
    assert api_as(outsider).client.get(doc["url"]).status_code == 404
    fake = SimpleUploadedFile("a.pdf", b"MZ\x90\x00evil", content_type="application/pdf")
    bad = staff.upload(f"/partners/{pid}/documents", {"file": fake}, title="伪装")
    assert bad.status_code == 422 and "/" in bad.json()["message"]


def test_credit_route_and_dismissal_decision(
    api_as: Any, partner: dict[str, Any], make_agreement: Any, outsider: Any
) -> None:
    # given a partner under an agreement whose credit fell to the dismissal line
    row = Partner.objects.get(pk=partner["id"])
    agreement = make_agreement(row, warning=80, dismissal=60)
    credit.record(row, -20, "negative_feedback", evidence="feedback:1", note="差评经核实")
    credit.record(row, -20, "missed_rectification", evidence="finding:2")
    staff = api_as("community")
    ledger = staff.get(f"/partners/{row.pk}/credit").json()
    assert ledger["balance"] == 60 and ledger["status"] == "warned"
    assert [(e["reason"], e["delta"], e["balance"]) for e in ledger["entries"]] == [
        ("opening", 100, 100),
        ("negative_feedback", -20, 80),
        ("missed_rectification", -20, 60),
    ]
    assert ledger["entries"][0]["decided_by"] == "community"
    proposals = staff.get("/partners/dismissals", status="proposed").json()
    assert proposals["count"] == 1
    did = proposals["items"][0]["id"]
    # when another community's staff tries, then the committee decides
    decide = f"/partners/dismissals/{did}/decide"
    assert api_as(outsider).post(decide, {"decision": "decided", "reasons": "x"}).status_code == 404
    assert staff.post(decide, {"decision": "maybe", "reasons": "x"}).status_code == 422
    decided = staff.post(decide, {"decision": "decided", "reasons": "多次差评且逾期未整改"})
    assert decided.status_code == 200 and decided.json()["status"] == "decided"
    assert staff.post(decide, {"decision": "rejected", "reasons": "再议"}).status_code == 409
    # then the agreement ended, the project is no longer live and the partner is frozen
    agreement.refresh_from_db()
    assert agreement.status == "ended" and agreement.project.status == "dismissed"
    frozen = staff.post(f"/partners/{row.pk}/contacts", {"name": "新人"})
    assert frozen.status_code == 409 and "/" in frozen.json()["message"]
    assert staff.get(f"/partners/{row.pk}").json()["status_label"] == "已清退"


def _count(client: Api, path: str, **params: Any) -> tuple[int, Any]:
    client.get(path, **params)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, **params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def test_lists_and_details_cost_the_same_for_few_rows_and_many(
    api_as: Any, make_partner: Any, make_agreement: Any, community_area: Area, media: Any
) -> None:
    from jiayuan.partners import documents, registry

    admin = api_as("admin")

    def grow(n: int) -> Partner:
        last = None
        for i in range(n):
            p = make_partner(community_area, name=f"合伙人{Partner.objects.count()}-{i}")
            make_agreement(p, warning=90, dismissal=80)
            credit.record(p, -25, "negative_feedback", evidence=f"feedback:{i}")
            registry.add_contact(None, p, name="联系人", phone="13912345678")
            registry.add_qualification(None, p, name="资质", expires_on="2026-12-31")
            documents.save_document(None, pdf(), kind="other", title="文件", partner=p)
            last = p
        assert last is not None
        return last

    first = grow(2)
    routes = [
        "/partners",
        "/partners/dismissals",
        f"/partners/{first.pk}",
        f"/partners/{first.pk}/credit",
    ]
    before = {r: _count(admin, r)[0] for r in routes}
    many = grow(12)
    for _ in range(10):
        credit.record(first, -1, "adjustment")
    registry.add_contact(None, first, name="又一位", phone="13800000000")
    after = {r: _count(admin, r)[0] for r in routes}
    assert after == before
    assert _count(admin, f"/partners/{many.pk}")[0] == before[f"/partners/{first.pk}"]
    assert Dismissal.objects.count() == 14
