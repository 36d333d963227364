"""The registry's pages: the list with credit and status in words, the partner page with
its masked phones (revealed only with REVEAL_PII, audited), the ledger and chart, the
forms refusing hostile input with 4xx, scope (404 for another community) and the
committee's decision page."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from jiayuan.core.models import AuditEntry
from jiayuan.org.models import Area
from jiayuan.partners import credit, documents, identity, registry
from jiayuan.partners.models import Dismissal, Partner

from .test_registry import pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner(make_partner: Any, community_area: Area) -> Partner:
    p = make_partner(community_area, name="汶上县红帆社工", kind="volunteer_team")
    registry.add_contact(None, p, name="李主任", phone="13912345678", primary=True)
    registry.add_qualification(None, p, name="食品经营许可证", expires_on="2020-01-01")
    credit.record(p, -25, "negative_feedback", evidence="feedback:1", note="差评经核实")
    return Partner.objects.get(pk=p.pk)


def test_list_shows_credit_and_status_in_words(page_as: Any, partner: Partner) -> None:
    response = page_as("community").get("/partners/")
    text = response.content.decode()
    assert response.status_code == 200
    assert "汶上县红帆社工" in text and ">75<" in text and "已预警" in text
    filtered = page_as("community").get("/partners/", {"status": "dismissed"}).content.decode()
    assert "汶上县红帆社工" not in filtered
    assert page_as("community").get("/partners/", {"kind": "<x>", "page": "-1"}).status_code == 200


def test_partner_page_masks_the_phone(page_as: Any, partner: Partner, viewer: Any) -> None:
    for who in ("community", viewer):
        text = page_as(who).get(f"/partners/{partner.pk}/").content.decode()
        assert "13912345678" not in text and "139****5678" in text
        assert "已过期" in text  # the qualification's expiry, in words
        assert 'data-testid="credit-chart"' in text and "差评经核实" in text
    staff_page = page_as("community").get(f"/partners/{partner.pk}/").content.decode()
    viewer_page = page_as(viewer).get(f"/partners/{partner.pk}/").content.decode()
    assert 'data-testid="reveal"' in staff_page and 'data-testid="reveal"' not in viewer_page
    assert 'data-testid="contact-form"' in staff_page
    assert 'data-testid="contact-form"' not in viewer_page


def test_reveal_is_audited_and_needs_the_permission(
    page_as: Any, partner: Partner, viewer: Any
) -> None:
    contact = partner.contacts.get()
    url = f"/partners/{partner.pk}/contacts/{contact.pk}/reveal/"
    assert page_as(viewer).post(url).status_code == 403
    assert page_as("community").get(url).status_code == 405
    response = page_as("community").post(url)
    assert response.status_code == 200 and "13912345678" in response.content.decode()
    assert AuditEntry.objects.filter(action="reveal", object_id=str(contact.pk)).count() == 1


def test_scope_another_community_gets_404(page_as: Any, partner: Partner, outsider: Any) -> None:
    client = page_as(outsider)
    contact = partner.contacts.get()
    for url in (
        f"/partners/{partner.pk}/",
        f"/partners/{partner.pk}/edit/",
        "/partners/99999999999999999999/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/partners/{partner.pk}/contacts/{contact.pk}/reveal/").status_code == 404
    assert client.post(f"/partners/{partner.pk}/contacts/", {"name": "x"}).status_code == 404
    assert "汶上县红帆社工" not in client.get("/partners/").content.decode()


def test_register_form(page_as: Any, community_area: Area) -> None:
    client: Client = page_as("community")
    assert client.get("/partners/new/").status_code == 200
    code = identity.generate("370830", random.Random(5))
    data = {"kind": "social_org", "name": "红帆", "area": community_area.pk, "uscc": code}
    response = client.post("/partners/new/", data)
    assert response.status_code == 302
    partner = Partner.objects.get(uscc=code)
    assert response["Location"] == f"/partners/{partner.pk}/"
    hostile = [
        {**data, "uscc": "91350100M000100Y44", "name": "坏代码"},
        {**data, "uscc": "", "name": "无代码"},
        {**data, "uscc": code, "name": "重复"},
        {**data, "area": 2**70},
        {**data, "kind": "<script>"},
        {**data, "joined_on": "3000-01-01", "uscc": identity.generate("370830", random.Random(6))},
    ]
    for bad in hostile:
        refused = client.post("/partners/new/", bad)
        assert refused.status_code == 422, bad
    assert Partner.objects.count() == 1
    wrong = client.post("/partners/new/", {**data, "uscc": "91350100M000100Y44", "name": "x"})
    assert "校验码" in wrong.content.decode()  # the rule that failed, in words


def test_edit_and_subforms(page_as: Any, partner: Partner, media: Any) -> None:
    client: Client = page_as("community")
    base = f"/partners/{partner.pk}/"
    edit = client.post(
        base + "edit/",
        {"kind": "volunteer_team", "name": "红帆志愿队", "area": partner.area_id, "uscc": ""},
    )
    assert edit.status_code == 302
    assert client.post(base + "qualifications/", {"name": ""}).status_code == 422
    bad_dates = {"name": "证", "issued_on": "2026-05-01", "expires_on": "2026-01-01"}
    assert client.post(base + "qualifications/", bad_dates).status_code == 422
    assert client.post(base + "qualifications/", {"name": "健康证"}).status_code == 302
    assert client.post(base + "contacts/", {"name": "张", "phone": "12"}).status_code == 422
    upload = SimpleUploadedFile("a.exe", b"MZ\x90\x00", content_type="application/pdf")
    refused = client.post(base + "documents/", {"kind": "other", "title": "x", "file": upload})
    assert refused.status_code == 422
    upload = SimpleUploadedFile("证书.pdf", pdf(), content_type="application/pdf")
    ok = client.post(base + "documents/", {"kind": "license", "title": "登记证书", "file": upload})
    assert ok.status_code == 302
    document = partner.documents.get()
    got = client.get(f"{base}documents/{document.pk}/")
    assert got.status_code == 200 and got["Content-Disposition"].startswith("attachment")
    assert "红帆志愿队" in client.get(base).content.decode()


def test_dismissal_pages_and_decision(
    page_as: Any, partner: Partner, make_agreement: Any, viewer: Any, outsider: Any
) -> None:
    agreement = make_agreement(partner, warning=80, dismissal=60)
    credit.record(partner, -20, "missed_rectification", evidence="finding:1")
    dismissal = Dismissal.objects.get(agreement=agreement)
    staff: Client = page_as("community")
    listing = staff.get("/partners/dismissals/").content.decode()
    assert "汶上县红帆社工" in listing and "待党委决定" in listing
    url = f"/partners/dismissals/{dismissal.pk}/"
    assert 'data-testid="decision-form"' in staff.get(url).content.decode()
    assert 'data-testid="decision-form"' not in page_as(viewer).get(url).content.decode()
    assert page_as(viewer).post(url, {"decision": "decided", "reasons": "x"}).status_code == 403
    assert page_as(outsider).get(url).status_code == 404
    assert staff.post(url, {"decision": "decided", "reasons": ""}).status_code == 422
    assert staff.post(url, {"decision": "bogus", "reasons": "x"}).status_code == 422
    done = staff.post(url, {"decision": "decided", "reasons": "逾期未整改，经党委会研究清退"})
    assert done.status_code == 302
    assert staff.post(url, {"decision": "rejected", "reasons": "再议"}).status_code == 409
    page = staff.get(f"/partners/{partner.pk}/").content.decode()
    assert 'data-testid="frozen"' in page and "已清退" in page
    assert 'data-testid="contact-form"' not in page
    assert staff.post(f"/partners/{partner.pk}/contacts/", {"name": "新"}).status_code == 409


def test_nav_links_the_registry(page_as: Any) -> None:
    home = page_as("community").get("/").content.decode()
    assert 'href="/partners/"' in home and 'href="/partners/dismissals/"' in home


def _count(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200, url
    return len(ctx.captured_queries)


def test_pages_cost_the_same_for_few_rows_and_many(
    page_as: Any, make_partner: Any, make_agreement: Any, community_area: Area, media: Any
) -> None:
    client: Client = page_as("community")

    def grow(n: int) -> Partner:
        last = None
        for i in range(n):
            p = make_partner(community_area, name=f"页面合伙人{Partner.objects.count()}-{i}")
            make_agreement(p, warning=90, dismissal=80)
            credit.record(p, -25, "negative_feedback", evidence=f"feedback:{i}")
            registry.add_contact(None, p, name="联系人", phone="13912345678")
            registry.add_qualification(None, p, name="资质", expires_on="2026-12-31")
            documents.save_document(None, pdf(), kind="other", title="文件", partner=p)
            last = p
        assert last is not None
        return last

    first = grow(2)
    dismissal = Dismissal.objects.filter(partner=first).get()
    urls = [
        "/partners/",
        "/partners/dismissals/",
        f"/partners/{first.pk}/",
        f"/partners/dismissals/{dismissal.pk}/",
    ]
    before = {url: _count(client, url) for url in urls}
    grow(12)
    for _ in range(10):
        credit.record(first, -1, "adjustment")
    registry.add_contact(None, first, name="又一位", phone="13800000000")
    registry.add_qualification(None, first, name="又一证")
    after = {url: _count(client, url) for url in urls}
    assert after == before
