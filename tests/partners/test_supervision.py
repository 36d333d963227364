"""监管: supervision groups, inspections with findings and photos, rectification, and the
credit a missed rectification deadline costs — once."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from PIL import Image

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.partners import supervision as svc
from jiayuan.partners import supervision_jobs
from jiayuan.partners.choices import CreditReason
from jiayuan.partners.models import CreditEntry, Finding, Inspection, Partner
from jiayuan.people.models import Person

from .conftest import Watched, jpeg

pytestmark = pytest.mark.django_db


def finding(text: str = "后厨地面湿滑", days: int = 7, **kw: Any) -> svc.FindingIn:
    return svc.FindingIn(
        text=text,
        severity=kw.pop("severity", "major"),
        rectify_by=timezone.localdate() + dt.timedelta(days=days),
        **kw,
    )


def inspect(user: Any, w: Watched, *items: svc.FindingIn) -> Inspection:
    return svc.record_inspection(user, w.project.pk, summary="菜品留样齐全", findings=items)


# --- inspections --------------------------------------------------------------------------
def test_an_inspection_records_its_findings_and_a_cleaned_photo(
    users: dict[str, Any], watched: Watched, media: Path
) -> None:
    # when the community staff inspect the canteen and find two problems, one photographed
    # (the photo carries the photographer's GPS position in its EXIF)
    inspection = inspect(
        users["community"], watched, finding(photo=jpeg(gps=True)), finding("价目表未公示", 3)
    )

    # then both findings hang on the inspection with their deadlines
    rows = list(inspection.findings.order_by("pk"))
    assert [f.text for f in rows] == ["后厨地面湿滑", "价目表未公示"]
    assert rows[1].rectify_by == timezone.localdate() + dt.timedelta(days=3)
    assert inspection.inspector == users["community"]
    # the photo is stored re-encoded, without its metadata
    with rows[0].photo.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    assert stored.format == "JPEG" and not stored.getexif()
    assert not rows[1].photo
    # and each row is audited
    audited = AuditEntry.objects.filter(object_type="partners.finding").count()
    assert audited == 2
    assert AuditEntry.objects.for_object(inspection).exists()


def test_a_group_member_inspects_the_project_their_group_watches(
    users: dict[str, Any], watched: Watched
) -> None:
    # the 三长 holds SERVE on a building only, but sits on the canteen's group
    inspection = inspect(users["head"], watched)
    assert inspection.group == watched.group


def test_a_project_before_supervision_cannot_be_inspected(
    users: dict[str, Any], watched: Watched
) -> None:
    with pytest.raises(Conflict):
        svc.record_inspection(users["community"], watched.early.pk, summary="看看")
    assert not Inspection.objects.filter(project=watched.early).exists()


@pytest.mark.parametrize("who", ["resident", "far"])
def test_outsiders_cannot_see_the_project_to_inspect_it(
    users: dict[str, Any], watched: Watched, far_staff: Any, who: str
) -> None:
    user = far_staff if who == "far" else users[who]
    with pytest.raises(NotFound):
        inspect(user, watched)


def test_a_failing_finding_records_nothing_of_the_inspection(
    users: dict[str, Any], watched: Watched, media: Path
) -> None:
    # the second finding's photo is not an image: the whole inspection is refused
    with pytest.raises(ValidationFailed):
        inspect(users["community"], watched, finding(), finding(photo=b"%PDF-1.4 not a photo"))
    assert not Inspection.objects.filter(project=watched.project).exists()
    assert not Finding.objects.filter(project=watched.project).exists()


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (svc.FindingIn("", "minor", dt.date.max), "findings.0.text"),
        (svc.FindingIn("x" * 2001, "minor", dt.date.max), "findings.0.text"),
        (svc.FindingIn("a\x00b", "minor", dt.date.max), "findings.0.text"),
        (svc.FindingIn("问题", "fatal", dt.date.max), "findings.0.severity"),
        (svc.FindingIn("问题", "minor", dt.date(2020, 1, 1)), "findings.0.rectify_by"),
        (svc.FindingIn("问题", "minor", dt.date.max), "findings.0.rectify_by"),
        (svc.FindingIn("问题", "minor", None), "findings.0.rectify_by"),  # type: ignore[arg-type]
    ],
)
def test_hostile_findings_are_refused(
    users: dict[str, Any], watched: Watched, item: svc.FindingIn, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        inspect(users["community"], watched, item)
    assert caught.value.field == field
    assert caught.value.status == 422


def test_an_inspection_in_the_future_is_refused(users: dict[str, Any], watched: Watched) -> None:
    with pytest.raises(ValidationFailed):
        svc.record_inspection(
            users["community"],
            watched.project.pk,
            summary="明天的检查",
            inspected_at=timezone.now() + dt.timedelta(days=1),
        )


def test_ids_beyond_64_bits_are_not_found(users: dict[str, Any]) -> None:
    with pytest.raises(NotFound):
        svc.record_inspection(users["community"], 2**64, summary="x")
    with pytest.raises(NotFound):
        svc.get_finding(users["community"], -1)


# --- rectification ------------------------------------------------------------------------
def test_a_finding_is_rectified_once(users: dict[str, Any], watched: Watched) -> None:
    inspection = inspect(users["community"], watched, finding())
    item = inspection.findings.get()

    done = svc.rectify(users["head"], item.pk, text="已铺防滑垫")

    assert done.rectification == "已铺防滑垫" and done.rectified_at is not None
    assert svc.deadline_words(done) == "已按期整改"
    with pytest.raises(Conflict):
        svc.rectify(users["community"], item.pk, text="再来一次")


def test_a_rectification_in_the_future_is_refused(users: dict[str, Any], watched: Watched) -> None:
    item = inspect(users["community"], watched, finding()).findings.get()
    with pytest.raises(ValidationFailed):
        svc.rectify(
            users["community"],
            item.pk,
            text="明天整改",
            rectified_at=timezone.now() + dt.timedelta(days=2),
        )


def test_deadline_words() -> None:
    today = dt.date(2026, 5, 10)
    late = Finding(rectify_by=dt.date(2026, 5, 7))
    assert svc.deadline_words(late, today) == "逾期3天未整改"
    assert svc.is_overdue(late, today)
    assert svc.deadline_words(Finding(rectify_by=today), today) == "今天到期"
    assert svc.deadline_words(Finding(rectify_by=dt.date(2026, 5, 12)), today) == "还剩2天"


# --- the missed-rectification job ---------------------------------------------------------
def test_a_missed_deadline_costs_the_partner_once(users: dict[str, Any], watched: Watched) -> None:
    # given three findings: one overdue, one overdue but rectified, one not yet due
    inspection = inspect(users["community"], watched, finding("a"), finding("b"), finding("c"))
    overdue, rectified, pending = inspection.findings.order_by("pk")
    Finding.objects.filter(pk__in=[overdue.pk, rectified.pk]).update(
        rectify_by=timezone.localdate() - dt.timedelta(days=1)
    )
    svc.rectify(users["community"], rectified.pk, text="已整改")
    before = Partner.objects.get(pk=watched.partner.pk).credit

    # when the job runs twice (as Huey calls it) and once more directly
    assert supervision_jobs.penalise_missed_rectifications.call_local() == 1
    assert supervision_jobs.penalise_missed_rectifications.call_local() == 0
    assert svc.penalise_overdue() == 0

    # then the partner lost the setting's points once, for the overdue finding only
    entries = CreditEntry.objects.filter(
        partner=watched.partner, reason=CreditReason.MISSED_RECTIFICATION
    )
    assert [(e.delta, e.evidence) for e in entries] == [
        (settings.PARTNERS_CREDIT_MISSED_RECTIFICATION, f"finding:{overdue.pk}")
    ]
    partner = Partner.objects.get(pk=watched.partner.pk)
    assert partner.credit == before + settings.PARTNERS_CREDIT_MISSED_RECTIFICATION
    assert Finding.objects.get(pk=overdue.pk).penalised
    assert not Finding.objects.get(pk=rectified.pk).penalised
    assert not Finding.objects.get(pk=pending.pk).penalised
    # a late rectification keeps the penalty and costs nothing more
    svc.rectify(users["community"], overdue.pk, text="迟到的整改")
    assert svc.deadline_words(Finding.objects.get(pk=overdue.pk)) == "逾期后整改"
    assert svc.penalise_overdue() == 0
    assert Partner.objects.get(pk=watched.partner.pk).credit == partner.credit


def test_a_penalty_recorded_already_is_not_recorded_again(
    users: dict[str, Any], watched: Watched
) -> None:
    # the ledger holds the finding's deduction, but the flag was lost: the job marks the
    # finding without a second deduction
    item = inspect(users["community"], watched, finding()).findings.get()
    Finding.objects.filter(pk=item.pk).update(rectify_by=timezone.localdate() - dt.timedelta(1))
    assert svc.penalise_overdue() == 1
    Finding.objects.filter(pk=item.pk).update(penalised=False)
    svc.penalise_overdue()
    assert (
        CreditEntry.objects.filter(partner=watched.partner, evidence=f"finding:{item.pk}").count()
        == 1
    )
    assert Finding.objects.get(pk=item.pk).penalised


# --- supervision groups -------------------------------------------------------------------
def test_the_community_forms_a_group_of_its_residents(
    users: dict[str, Any], watched: Watched
) -> None:
    head = Person.objects.get(user=users["head"])
    grid = Person.objects.get(user=users["grid"])
    group = svc.create_group(
        users["community"],
        area_id=watched.project.area_id,
        name="助餐监督团",
        member_ids=[head.pk, grid.pk],
        project_ids=[watched.project.pk],
    )
    assert set(group.members.all()) == {head, grid}
    assert list(group.projects.all()) == [watched.project]
    assert AuditEntry.objects.for_object(group).get().changes["members"] == sorted(
        [head.pk, grid.pk]
    )


def test_group_members_and_projects_come_from_the_group_area(
    users: dict[str, Any], watched: Watched, compounds: Any
) -> None:
    far = Person.objects.filter(area_path__startswith="370830/001/002/").first()
    assert far is not None
    with pytest.raises(ValidationFailed):
        svc.update_group(users["community"], watched.group.pk, member_ids=[far.pk])
    with pytest.raises(ValidationFailed):
        svc.update_group(users["community"], watched.group.pk, project_ids=[watched.far.pk])
    with pytest.raises(ValidationFailed):
        svc.update_group(users["community"], watched.group.pk, member_ids=[2**70])


def test_only_supervise_holders_manage_groups(
    users: dict[str, Any], watched: Watched, community_grid_worker: Any, far_staff: Any
) -> None:
    area = watched.project.area_id
    with pytest.raises(PermissionDenied):
        svc.create_group(community_grid_worker, area_id=area, name="x")
    with pytest.raises(NotFound):
        svc.create_group(far_staff, area_id=area, name="x")
    with pytest.raises(NotFound):
        svc.update_group(far_staff, watched.group.pk, name="改名")
    # a member who is not staff there sees the group but may not change it
    with pytest.raises(PermissionDenied):
        svc.update_group(users["head"], watched.group.pk, name="改名")
