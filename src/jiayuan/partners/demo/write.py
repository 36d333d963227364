"""Writing a :class:`~.plan.PartnersPlan` through the shared bulk path: parents as built
instances (:func:`jiayuan.core.bulk.insert` gives them their ids), leaves as tuples
(:func:`jiayuan.core.bulk.insert_tuples`). One audit entry summarises the stage, as the
community demo does.

The documents are one small valid PDF (:func:`demo_pdf`) written once under
``MEDIA_ROOT`` and shared by every document row, each with its size and SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from jiayuan.core import audit, bulk
from jiayuan.core.models import AuditEntry
from jiayuan.org.models import Area
from jiayuan.partners.choices import Decision, DismissalStatus
from jiayuan.partners.documents import PDF
from jiayuan.partners.models import (
    Agreement,
    Application,
    Call,
    Contact,
    CreditEntry,
    DimensionScore,
    Dismissal,
    Document,
    Evaluation,
    Feedback,
    Finding,
    Fund,
    Inspection,
    PanelScore,
    Partner,
    Project,
    Qualification,
    StageDecision,
    SupervisionGroup,
)

from . import texts
from .frame import Frame
from .plan import PartnersPlan

NOTE = "seed-demo"
DOCUMENT_NAME = "partners/demo/seed-document.pdf"


def demo_pdf() -> bytes:
    """A one-page PDF saying it is a demo document, with a correct cross-reference table
    (so any reader opens it)."""
    stream = b"BT /F1 14 Tf 72 760 Td (Jiayuan demo document) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _store_pdf() -> tuple[int, str]:
    """Write the demo PDF under MEDIA_ROOT (once); its size and SHA-256."""
    data = demo_pdf()
    path = Path(settings.MEDIA_ROOT) / DOCUMENT_NAME
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return len(data), hashlib.sha256(data).hexdigest()


def _tuples(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    return bulk.insert_tuples(model, fields, rows)


def _day(day: dt.date, now: dt.datetime) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(9)), now.tzinfo)


def write_plan(plan: PartnersPlan, frame: Frame, now: dt.datetime | None = None) -> dict[str, int]:
    """Write ``plan`` (planned on ``frame``, read from this database) in one transaction;
    returns the plan's counts."""
    now = now or timezone.now()
    size, digest = _store_pdf()
    communities = frame.communities
    with transaction.atomic():
        county = Area.objects.get(pk=frame.county_id)
        fund = bulk.insert(Fund, [
            bulk.build(Fund, area_id=county.pk, area_path=county.path, year=plan.fund_year,
                       name=f"{plan.fund_year}年党组织服务群众经费（红色合伙人）",
                       amount=plan.fund_amount, created_at=now - dt.timedelta(days=400))
        ])[0]  # fmt: skip
        partners = bulk.insert(Partner, [
            bulk.build(Partner, kind=p.kind, name=p.name, area_id=communities[p.community].id,
                       area_path=communities[p.community].path, uscc=p.uscc, person_id=p.person,
                       legal_representative=p.legal_representative, address=p.address,
                       services=p.services, status=p.status, credit=p.credit,
                       joined_on=p.joined_on, left_on=p.left_on, created_at=_day(p.joined_on, now))
            for p in plan.partners
        ])  # fmt: skip
        _tuples(
            Qualification,
            ("partner_id", "name", "number", "issuer", "issued_on", "expires_on", "area_path",
             "created_at", "updated_at"),
            ((partners[i].pk, name, number, issuer, issued, expires, partners[i].area_path,
              partners[i].created_at, now)
             for i, p in enumerate(plan.partners)
             for name, number, issuer, issued, expires in p.qualifications),
        )  # fmt: skip
        contacts = []
        for i, p in enumerate(plan.partners):
            for name, role, phone, primary in p.contacts:
                contact = bulk.build(
                    Contact, partner_id=partners[i].pk, name=name, role=role, primary=primary,
                    area_path=partners[i].area_path, created_at=partners[i].created_at,
                )  # fmt: skip
                contact.set_phone(phone)
                contacts.append(contact)
        bulk.insert(Contact, contacts)

        def partner_id(i: int | None) -> int | None:
            return partners[i].pk if i is not None else None

        projects = bulk.insert(Project, [
            bulk.build(Project, area_id=communities[p.community].id,
                       area_path=communities[p.community].path, name=p.name, content=p.content,
                       position_id=p.space[1] if p.space[0] == "position" else None,
                       room_id=p.space[1] if p.space[0] == "room" else None, hours=p.hours,
                       price_class=p.price_class, price_cap=p.price_cap,
                       target_groups=p.target_groups, budget=p.budget, fund_id=fund.pk,
                       stage=p.stage, status=p.status, partner_id=partner_id(p.partner),
                       proposed_by_id=p.proposed_by, created_at=p.created_at)
            for p in plan.projects
        ])  # fmt: skip
        _write_calls(plan, projects, partners)
        agreements = bulk.insert(Agreement, [
            bulk.build(Agreement, project_id=projects[a.project].pk,
                       partner_id=partners[a.partner].pk, starts_on=a.starts_on,
                       ends_on=a.ends_on, obligations=texts.OBLIGATIONS, price_cap=a.price_cap,
                       exit_conditions=texts.EXIT_CONDITIONS,
                       warning_threshold=settings.PARTNERS_WARNING_THRESHOLD,
                       dismissal_threshold=settings.PARTNERS_DISMISSAL_THRESHOLD,
                       status=a.status, signed_on=a.signed_on, signed_by_id=a.signed_by,
                       ended_on=a.ended_on, area_path=projects[a.project].area_path,
                       created_at=a.created_at)
            for a in plan.agreements
        ])  # fmt: skip
        groups = bulk.insert(SupervisionGroup, [
            bulk.build(SupervisionGroup, area_id=communities[g.community].id,
                       area_path=communities[g.community].path, name=g.name,
                       created_at=now - dt.timedelta(days=400))
            for g in plan.groups
        ])  # fmt: skip
        _tuples(
            SupervisionGroup.members.through,
            ("supervisiongroup_id", "person_id"),
            ((groups[i].pk, m) for i, g in enumerate(plan.groups) for m in g.members),
        )
        _tuples(
            SupervisionGroup.projects.through,
            ("supervisiongroup_id", "project_id"),
            ((groups[i].pk, projects[p].pk) for i, g in enumerate(plan.groups) for p in g.projects),
        )
        inspections = bulk.insert(Inspection, [
            bulk.build(Inspection, project_id=projects[x.project].pk,
                       group_id=groups[x.group].pk if x.group is not None else None,
                       inspected_at=x.inspected_at, summary=x.summary, inspector_id=x.inspector,
                       area_path=projects[x.project].area_path, created_at=x.inspected_at)
            for x in plan.inspections
        ])  # fmt: skip
        findings = bulk.insert(Finding, [
            bulk.build(Finding, project_id=projects[f.project].pk,
                       inspection_id=inspections[f.inspection].pk, text=f.text,
                       severity=f.severity, rectify_by=f.rectify_by, rectified_at=f.rectified_at,
                       rectification=f.rectification, penalised=f.penalised,
                       area_path=projects[f.project].area_path,
                       created_at=plan.inspections[f.inspection].inspected_at)
            for f in plan.findings
        ])  # fmt: skip
        feedback = bulk.insert(Feedback, [
            bulk.build(Feedback, project_id=projects[b.project].pk, person_id=b.person,
                       channel=b.channel, rating=b.rating, text=b.text,
                       submitted_at=b.submitted_at, visited_by_id=b.visited_by,
                       verified_group_id=groups[b.verified_group].pk
                       if b.verified_group is not None else None,
                       verified_at=b.verified_at, upheld=b.upheld,
                       area_path=projects[b.project].area_path, created_at=b.submitted_at)
            for b in plan.feedback
        ])  # fmt: skip
        evaluations = bulk.insert(Evaluation, [
            bulk.build(Evaluation, project_id=projects[e.project].pk, quarter=e.quarter,
                       total=e.total, grade=e.grade, feedback_count=e.feedback_count,
                       feedback_average=e.feedback_average, summary=e.summary,
                       evaluated_by_id=e.evaluated_by, evaluated_at=e.evaluated_at,
                       area_path=projects[e.project].area_path, created_at=e.evaluated_at)
            for e in plan.evaluations
        ])  # fmt: skip
        _tuples(
            DimensionScore,
            ("evaluation_id", "dimension", "weight", "score", "evidence"),
            ((evaluations[i].pk, dim, s.weight, s.score, s.evidence)
             for i, e in enumerate(plan.evaluations) for dim, s in e.scores.items()),
        )  # fmt: skip
        _tuples(
            StageDecision,
            ("project_id", "stage", "decision", "reasons", "decided_by_id", "decided_at",
             "area_path", "created_at", "updated_at"),
            ((projects[d.project].pk, d.stage, Decision.APPROVED, d.reasons, d.decided_by,
              d.decided_at, projects[d.project].area_path, d.decided_at, d.decided_at)
             for d in sorted(plan.decisions, key=lambda d: (d.decided_at, d.project))),
        )  # fmt: skip
        _tuples(
            Document,
            ("partner_id", "project_id", "stage", "kind", "title", "file", "content_type", "size",
             "sha256", "uploaded_by_id", "area_path", "created_at", "updated_at"),
            ((partner_id(d.partner), projects[d.project].pk if d.project is not None else None,
              d.stage, d.kind, d.title, DOCUMENT_NAME, PDF, size, digest, d.uploaded_by,
              projects[d.project].area_path if d.project is not None
              else partners[d.partner].area_path if d.partner is not None else "",
              d.at, d.at)
             for d in sorted(plan.documents, key=lambda d: d.at)),
        )  # fmt: skip
        pks = {
            "partner": {id(p): partners[i].pk for i, p in enumerate(plan.partners)},
            "finding": {id(f): findings[i].pk for i, f in enumerate(plan.findings)},
            "feedback": {id(b): feedback[i].pk for i, b in enumerate(plan.feedback)},
            "evaluation": {id(e): evaluations[i].pk for i, e in enumerate(plan.evaluations)},
        }
        _tuples(
            CreditEntry,
            ("partner_id", "delta", "balance", "reason", "note", "evidence", "decided_by_id",
             "area_path", "created_at", "updated_at"),
            ((partners[c.partner].pk, c.delta, c.balance, c.reason, c.note,
              f"{c.evidence[0]}:{pks[c.evidence[0]][id(c.evidence[1])]}", c.decided_by,
              partners[c.partner].area_path, c.at, c.at)
             for c in plan.credit),  # in each partner's order: ids replay it
        )  # fmt: skip
        dismissals = bulk.insert(Dismissal, [
            bulk.build(Dismissal, partner_id=partners[d.partner].pk,
                       agreement_id=agreements[d.agreement].pk, balance=d.balance,
                       status=DismissalStatus.DECIDED, reasons=d.reasons,
                       decided_by_id=d.decided_by, decided_at=d.decided_at,
                       area_path=partners[d.partner].area_path, created_at=d.proposed_at)
            for d in plan.dismissals
        ])  # fmt: skip
        for d, row in zip(plan.dismissals, dismissals, strict=True):
            # the words credit.decide gives an agreement it ends
            agreement = agreements[d.agreement]
            agreement.end_reason = f"信用分降至清退线，党委决定清退（提议 {row.pk}）"[:200]
            bulk.update([agreement], ["end_reason"])
        counts = plan.counts()
        audit.record(
            AuditEntry.Action.CREATE, county, None, counts,
            f"{NOTE}: 红色合伙人演示数据，批量写入，逐行审计已省略",
        )  # fmt: skip
    return counts


def _write_calls(plan: PartnersPlan, projects: list[Project], partners: list[Partner]) -> None:
    calls = bulk.insert(Call, [
        bulk.build(Call, project_id=projects[c.project].pk, title=c.title, text=c.text,
                   criteria=texts.CRITERIA, opens_at=c.opens_at, closes_at=c.closes_at,
                   status=c.status, reasons=c.reasons, published_at=c.published_at,
                   area_path=projects[c.project].area_path, created_at=c.opens_at)
        for c in plan.calls
    ])  # fmt: skip
    _tuples(
        Call.panel.through,
        ("call_id", "user_id"),
        ((calls[i].pk, u) for i, c in enumerate(plan.calls) for u in c.panel),
    )
    applications = bulk.insert(Application, [
        bulk.build(Application, call_id=calls[a.call].pk, partner_id=partners[a.partner].pk,
                   plan=a.plan, offered_price=a.offered_price, submitted_at=a.submitted_at,
                   area_path=calls[a.call].area_path, created_at=a.submitted_at)
        for a in plan.applications
    ])  # fmt: skip
    _tuples(
        PanelScore,
        ("application_id", "reviewer_id", "criterion", "score", "scored_at"),
        ((applications[i].pk, reviewer, key, score, a.scored_at)
         for i, a in enumerate(plan.applications)
         for reviewer, scores in a.scores.items() for key, score in scores.items()),
    )  # fmt: skip
    chosen = []
    for i, c in enumerate(plan.calls):
        if c.selected is not None:
            calls[i].selected_id = applications[c.selected].pk
            chosen.append(calls[i])
    bulk.update(chosen, ["selected"])
