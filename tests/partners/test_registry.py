"""The partner registry's actions: kind rules, scope and permission, contacts' phones
masked and revealed only with an audit entry, documents checked by their bytes, the
reminders sent once, and a dismissed partner's history frozen."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import zipfile
from typing import Any

import pytest
from PIL import Image

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry, Notification
from jiayuan.org.models import Area
from jiayuan.partners import credit, documents, identity, registry
from jiayuan.partners.models import Agreement, CreditEntry, Partner, Qualification
from jiayuan.people.models import Person

from .conftest import jpeg

pytestmark = pytest.mark.django_db


def pdf(body: bytes = b"hello") -> bytes:
    return b"%PDF-1.4\n1 0 obj <<>> endobj\n" + body + b"\ntrailer <<>>\n%%EOF\n"


def office(folder: str = "word/", macro: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{folder}document.xml", "<document/>")
        if macro:
            archive.writestr(f"{folder}vbaProject.bin", b"\x00" * 16)
    return out.getvalue()


def fields(area: Area, **overrides: Any) -> registry.PartnerFields:
    values: dict[str, Any] = {
        "kind": "social_org",
        "name": "汶上县红帆社会工作服务中心",
        "area": area,
    }
    values.update(overrides)
    if "uscc" not in values:  # one code per name
        values["uscc"] = identity.generate("370830", random.Random(values["name"]))
    return registry.PartnerFields(**values)


def test_register_validates_the_code_and_opens_the_ledger(
    users: dict[str, Any], community_area: Area, settings: Any
) -> None:
    staff = users["community"]
    partner = registry.register(staff, fields(community_area))
    assert partner.area_path == community_area.path and partner.joined_on is not None
    assert partner.credit == settings.PARTNERS_CREDIT_OPENING
    assert [e.reason for e in CreditEntry.objects.filter(partner=partner)] == ["opening"]
    assert AuditEntry.objects.for_object(partner).get().actor == staff
    # the same code again is a conflict
    with pytest.raises(Conflict):
        registry.register(staff, fields(community_area, name="另一家", uscc=partner.uscc))


def test_kind_rules(users: dict[str, Any], community_area: Area) -> None:
    staff = users["community"]
    with pytest.raises(ValidationFailed) as caught:
        registry.register(staff, fields(community_area, uscc=""))
    assert caught.value.field == "uscc"
    with pytest.raises(ValidationFailed) as caught:
        registry.register(staff, fields(community_area, uscc="91350100M000100Y44"))
    assert caught.value.detail[0]["rule"] == "check"
    with pytest.raises(ValidationFailed):
        registry.register(staff, fields(community_area, kind="talent", uscc=""))
    person = Person.objects.filter(area_path__startswith=community_area.path).first()
    talent = registry.register(
        staff, fields(community_area, kind="talent", uscc="", person=person, name="王师傅")
    )
    assert talent.person == person and talent.uscc == ""
    team = registry.register(
        staff, fields(community_area, kind="volunteer_team", uscc="", name="银发志愿队")
    )
    assert team.uscc == ""
    with pytest.raises(ValidationFailed):  # only a talent is a person
        registry.register(staff, fields(community_area, person=person, name="某机构"))
    with pytest.raises(ValidationFailed):
        registry.register(staff, fields(community_area, kind="robot"))
    zone = Area.objects.filter(kind="zone", path__startswith=community_area.path).first()
    with pytest.raises(ValidationFailed):
        registry.register(staff, fields(zone, name="小区里的"))
    with pytest.raises(ValidationFailed):
        registry.register(staff, fields(community_area, name="x" * 101))


def test_scope_and_permission(
    users: dict[str, Any], community_area: Area, viewer: Any, outsider: Any
) -> None:
    with pytest.raises(PermissionDenied):
        registry.register(viewer, fields(community_area))
    with pytest.raises(NotFound):
        registry.register(outsider, fields(community_area))
    partner = registry.register(users["community"], fields(community_area))
    with pytest.raises(NotFound):
        registry.get_partner(outsider, partner.pk)
    with pytest.raises(NotFound):
        registry.update(outsider, partner, fields(community_area, name="改名"))
    with pytest.raises(PermissionDenied):
        registry.add_qualification(viewer, partner, name="健康证")
    assert registry.get_partner(viewer, partner.pk) == partner
    for hostile in ("abc", -1, 0, 2**64, "1e3"):
        with pytest.raises(NotFound):
            registry.get_partner(users["admin"], hostile)


def test_update_moves_the_partner_and_audits_the_diff(
    users: dict[str, Any], community_area: Area, other_community_area: Area
) -> None:
    staff = users["street"]
    partner = registry.register(staff, fields(community_area))
    registry.update(staff, partner, fields(other_community_area, uscc=partner.uscc, name="新名"))
    partner.refresh_from_db()
    assert partner.area_path == other_community_area.path and partner.name == "新名"
    change = AuditEntry.objects.for_object(partner).filter(action="update").get()
    assert change.changes["name"] == ["汶上县红帆社会工作服务中心", "新名"]
    # a community's staff may not move a partner into another community
    with pytest.raises(NotFound):
        registry.update(users["community"], partner, fields(community_area, uscc=partner.uscc))


def test_contact_phone_masked_and_revealed_with_audit(
    users: dict[str, Any], community_area: Area, viewer: Any
) -> None:
    staff = users["community"]
    partner = registry.register(staff, fields(community_area))
    contact = registry.add_contact(staff, partner, name="李主任", phone="13912345678", primary=True)
    assert contact.phone_masked == "139****5678" and "13912345678" not in contact.phone_enc
    logged = AuditEntry.objects.for_object(contact).get()
    assert "13912345678" not in str(logged.changes)
    with pytest.raises(PermissionDenied):
        registry.reveal_phone(viewer, contact)
    assert registry.reveal_phone(staff, contact) == "13912345678"
    assert AuditEntry.objects.for_object(contact).filter(action="reveal", actor=staff).exists()
    second = registry.add_contact(staff, partner, name="张干事", phone="", primary=True)
    contact.refresh_from_db()
    assert second.primary and not contact.primary
    with pytest.raises(ValidationFailed):
        registry.add_contact(staff, partner, name="坏号码", phone="12345")


def test_documents_are_checked_by_their_bytes(
    users: dict[str, Any], community_area: Area, media: Any
) -> None:
    staff = users["community"]
    partner = registry.register(staff, fields(community_area))
    data = pdf()
    doc = documents.save_document(staff, data, kind="license", title="登记证书", partner=partner)
    assert doc.content_type == "application/pdf" and doc.size == len(data)
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert doc.area_path == partner.area_path and doc.file.name.endswith(".pdf")
    assert "登记证书" not in doc.file.name  # stored under a random name
    docx = documents.save_document(staff, office(), kind="other", title="方案", partner=partner)
    assert docx.content_type.endswith("wordprocessingml.document")
    photo = documents.save_document(
        staff, jpeg(gps=True), kind="qualification", title="健康证", partner=partner
    )
    with photo.file.open("rb") as handle:
        assert not Image.open(handle).getexif()  # the GPS position is gone
    hostile = [
        b"MZ\x90\x00" + b"\x00" * 100,  # a Windows program
        b"<html><script>alert(1)</script></html>",
        office(macro=True),
        office(folder="evil/"),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,  # an old .doc
        b"%PDF-1.4 truncated",
        b"PK\x03\x04 not a zip",
        b"",
    ]
    for raw in hostile:
        with pytest.raises(ValidationFailed):
            documents.save_document(staff, raw, kind="other", title="x", partner=partner)
    with pytest.raises(ValidationFailed):
        documents.save_document(
            staff, pdf(b"x" * documents.MAX_BYTES), kind="other", title="大", partner=partner
        )
    with pytest.raises(ValidationFailed):
        documents.save_document(staff, pdf(), kind="bogus", title="x", partner=partner)
    with pytest.raises(ValidationFailed):
        documents.save_document(staff, pdf(), kind="other", title=" ", partner=partner)
    with pytest.raises(ValidationFailed):
        documents.save_document(staff, pdf(), kind="other", title="x")


def test_document_download_needs_scope(
    users: dict[str, Any], community_area: Area, outsider: Any, viewer: Any, media: Any
) -> None:
    partner = registry.register(users["community"], fields(community_area))
    doc = documents.save_document(
        users["community"], pdf(), kind="license", title="证书", partner=partner
    )
    response = documents.response(viewer, doc)
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content).startswith(b"%PDF")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        documents.response(outsider, doc)
    with pytest.raises(NotFound):
        documents.save_document(outsider, pdf(), kind="other", title="x", partner=partner)
    with pytest.raises(PermissionDenied):
        documents.save_document(viewer, pdf(), kind="other", title="x", partner=partner)


def test_qualification_reminder_once(
    users: dict[str, Any], community_area: Area, settings: Any
) -> None:
    staff = users["community"]
    partner = registry.register(staff, fields(community_area))
    today = dt.date(2026, 6, 1)
    soon = registry.add_qualification(
        staff, partner, name="食品经营许可证", expires_on=today + dt.timedelta(days=10)
    )
    registry.add_qualification(
        staff, partner, name="远期证书", expires_on=today + dt.timedelta(days=400)
    )
    with pytest.raises(ValidationFailed):
        registry.add_qualification(
            staff, partner, name="倒挂", issued_on="2026-05-01", expires_on="2026-04-01"
        )
    with pytest.raises(ValidationFailed):
        registry.add_qualification(staff, partner, name="坏日期", expires_on="31/12/2026")
    assert registry.remind_qualifications(today) == 1
    assert registry.remind_qualifications(today) == 0
    assert Qualification.objects.get(pk=soon.pk).reminded_on == today
    notice = Notification.objects.get(user=staff, kind="partner_qualification")
    assert "食品经营许可证" in notice.body and notice.link == f"/partners/{partner.pk}/"
    assert registry.expiry_state(soon, today) == "expiring"
    assert registry.expiry_state(soon, today + dt.timedelta(days=11)) == "expired"


def test_renewal_reminder_once(
    users: dict[str, Any], community_area: Area, make_partner: Any, make_agreement: Any
) -> None:
    partner = make_partner(community_area)
    agreement = make_agreement(partner)
    before_window = agreement.ends_on - dt.timedelta(days=40)
    assert registry.remind_renewals(before_window) == 0
    inside = agreement.ends_on - dt.timedelta(days=20)
    assert registry.remind_renewals(inside) == 1
    assert registry.remind_renewals(inside + dt.timedelta(days=1)) == 0
    assert Agreement.objects.get(pk=agreement.pk).renewal_reminded_on == inside
    assert Notification.objects.filter(user=users["community"], kind="partner_renewal").count() == 1


def test_dismissed_partner_is_frozen(
    users: dict[str, Any], community_area: Area, make_agreement: Any, media: Any
) -> None:
    staff = users["community"]
    partner = registry.register(staff, fields(community_area))
    contact = registry.add_contact(staff, partner, name="李主任", phone="13912345678")
    qualification = registry.add_qualification(staff, partner, name="健康证")
    make_agreement(partner, warning=80, dismissal=60)
    credit.record(partner, -50, "negative_feedback", evidence="feedback:1")
    proposal = partner.dismissals.get()
    credit.decide(staff, proposal, decision="decided", reasons="多次差评")
    partner = Partner.objects.get(pk=partner.pk)
    refused = [
        lambda: registry.update(staff, partner, fields(community_area, uscc=partner.uscc)),
        lambda: registry.add_qualification(staff, partner, name="新证"),
        lambda: registry.remove_qualification(staff, qualification),
        lambda: registry.add_contact(staff, partner, name="新人"),
        lambda: registry.remove_contact(staff, contact),
        lambda: documents.save_document(staff, pdf(), kind="other", title="x", partner=partner),
        lambda: credit.record(partner, 1, "adjustment"),
    ]
    for attempt in refused:
        with pytest.raises(Conflict) as caught:
            attempt()
        assert caught.value.status == 409 and caught.value.zh and caught.value.en
    # the history stays readable
    assert registry.get_partner(staff, partner.pk) == partner
    assert registry.reveal_phone(staff, contact) == "13912345678"
