"""The credit ledger (信用积分) of red partners, its thresholds and dismissal (清退).

:func:`record` is the one way a partner's credit changes: under a row lock on the
partner it appends a :class:`CreditEntry` carrying the balance after it, moves
``Partner.credit`` to that balance and writes one audit entry. The same evidence never
counts twice for the same reason (``partners_credit_once_per_evidence``): a second call
returns ``None`` and changes nothing, also when two calls race. The ledger is
append-only; :func:`replay` recomputes every balance from the deltas alone.

Thresholds are those of the partner's active agreements (``warning_threshold``,
``dismissal_threshold``), else the settings' defaults. Falling to the warning threshold
(from above it) marks the partner 已预警 and tells the community staff once per
crossing; falling to an agreement's dismissal threshold opens one dismissal proposal
for that agreement and tells the community party committee (the community staff).
Rising above the warning threshold again clears the warning.

:func:`decide` is the committee's decision. 决定清退 ends the partner's live agreements,
marks their projects 已清退终止 (no longer live, so their rooms and positions are free
for another project) and the partner 已清退, whose history is then frozen: its ledger,
documents, qualifications and contacts refuse every write (409). 决定保留 leaves all as
it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.notices import notify
from jiayuan.core.roles import Perm, Role
from jiayuan.core.scoping import path_allowed
from jiayuan.org.models import Membership
from jiayuan.org.paths import paths_above

from .choices import (
    AgreementStatus,
    CreditReason,
    DismissalStatus,
    PartnerStatus,
    ProjectStatus,
)
from .documents import ensure_not_frozen
from .models import Agreement, CreditEntry, Dismissal, Partner, Project

# The partner statuses a credit change moves between (a table, not ifs in the code):
# (status now, crossing) → status after. Dismissed and withdrawn partners never move.
WARN = "warn"
CLEAR = "clear"
TRANSITIONS: dict[tuple[str, str], str] = {
    (PartnerStatus.ACTIVE, WARN): PartnerStatus.WARNED,
    (PartnerStatus.WARNED, CLEAR): PartnerStatus.ACTIVE,
}
DECISIONS = (DismissalStatus.DECIDED, DismissalStatus.REJECTED)


@dataclass(frozen=True)
class Thresholds:
    """The warning threshold that applies to a partner, and each active agreement with
    its own dismissal threshold."""

    warning: int
    agreements: tuple[Agreement, ...]


def thresholds(partner: Partner) -> Thresholds:
    """The thresholds of ``partner``: the highest warning threshold of its active
    agreements (the most cautious), else ``PARTNERS_WARNING_THRESHOLD``."""
    agreements = tuple(
        Agreement.objects.filter(partner=partner, status=AgreementStatus.ACTIVE)
        .select_related("project")
        .order_by("id")
    )
    if agreements:
        warning = max(a.warning_threshold for a in agreements)
    else:
        warning = settings.PARTNERS_WARNING_THRESHOLD
    return Thresholds(warning=warning, agreements=agreements)


def crossed_down(before: int, after: int, threshold: int) -> bool:
    """Did a change from ``before`` to ``after`` fall to ``threshold`` from above it?"""
    return before > threshold >= after


def committee(partner: Partner) -> list[Any]:
    """The community staff (the party committee's working members) over ``partner``'s
    area; the street's leaders if the area has no community staff (a street partner)."""
    prefixes = paths_above(partner.area_path)
    for role in (Role.COMMUNITY_STAFF, Role.STREET_LEADER):
        users = [
            m.user
            for m in Membership.objects.filter(
                active=True, role=role, area_path__in=prefixes, user__is_active=True
            )
            .select_related("user")
            .order_by("id")
        ]
        if users:
            return users
    return []


def record(
    partner: Partner,
    delta: int,
    reason: str,
    *,
    note: str = "",
    evidence: str = "",
    decided_by: Any = None,
) -> CreditEntry | None:
    """Append a change of ``delta`` points to ``partner``'s ledger (see the module's
    docstring); ``None`` if ``(reason, evidence)`` was counted already. A dismissed
    partner's ledger is frozen (409). ``partner`` is refreshed with the new balance and
    status."""
    if reason not in CreditReason.values:
        raise ValidationFailed("信用变动原因无效", "unknown credit reason", field="reason")
    if not isinstance(delta, int) or isinstance(delta, bool):
        raise ValidationFailed("变动须为整数", "the change must be an integer", field="delta")
    if abs(delta) > 1000:
        raise ValidationFailed("单次变动过大", "the change is out of range", field="delta")
    note = (note or "").strip()[:200]
    evidence = (evidence or "").strip()[:40]
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        ensure_not_frozen(locked)
        if (
            evidence
            and CreditEntry.objects.filter(
                partner=locked, reason=reason, evidence=evidence
            ).exists()
        ):
            return None
        before = locked.credit
        after = before + delta
        entry = CreditEntry(
            partner=locked,
            delta=delta,
            balance=after,
            reason=reason,
            note=note,
            evidence=evidence,
            decided_by=decided_by if getattr(decided_by, "pk", None) else None,
        )
        try:
            with transaction.atomic():
                entry.save()
        except IntegrityError:
            # another transaction counted the same evidence between our check and insert
            return None
        locked.credit = after
        changes: dict[str, Any] = {"delta": delta, "balance": [before, after]}
        if reason != CreditReason.OPENING:
            changes |= _thresholds(locked, before, after)
        Partner.objects.filter(pk=locked.pk).update(credit=after, status=locked.status)
        audit.record(
            AuditEntry.Action.CREATE,
            entry,
            decided_by,
            changes | {"reason": reason, "evidence": evidence},
            note or str(CreditReason(reason).label),
        )
    partner.credit = locked.credit
    partner.status = locked.status
    return entry


def _thresholds(partner: Partner, before: int, after: int) -> dict[str, Any]:
    """Apply the threshold crossings of a change (inside :func:`record`'s transaction and
    lock); returns what happened, for the audit entry."""
    found = thresholds(partner)
    happened: dict[str, Any] = {}
    staff: list[Any] | None = None
    link = f"/partners/{partner.pk}/"
    if crossed_down(before, after, found.warning):
        status = TRANSITIONS.get((partner.status, WARN))
        if status is not None:
            happened["status"] = [partner.status, status]
            partner.status = status
            staff = committee(partner)
            notify(
                staff,
                kind="partner_warned",
                title=f"合伙人信用预警：{partner.name}",
                body=f"信用分由 {before} 降至 {after}，已到预警线 {found.warning}。",
                link=link,
                ref=f"partner:{partner.pk}",
            )
    elif after > found.warning:
        status = TRANSITIONS.get((partner.status, CLEAR))
        if status is not None:
            happened["status"] = [partner.status, status]
            partner.status = status
    opened = []
    for agreement in found.agreements:
        if not crossed_down(before, after, agreement.dismissal_threshold):
            continue
        dismissal = _propose(partner, agreement, after)
        if dismissal is None:
            continue
        opened.append(dismissal.pk)
        if staff is None:
            staff = committee(partner)
        notify(
            staff,
            kind="partner_dismissal",
            title=f"清退提议待党委决定：{partner.name}",
            body=(
                f"{agreement.project.name}：信用分降至 {after}，"
                f"已到协议约定的清退线 {agreement.dismissal_threshold}。"
            ),
            link=f"/partners/dismissals/{dismissal.pk}/",
            ref=f"dismissal:{dismissal.pk}",
        )
    if opened:
        happened["dismissals"] = opened
    return happened


def _propose(partner: Partner, agreement: Agreement, balance: int) -> Dismissal | None:
    """Open the dismissal proposal of ``agreement``, unless one is open already."""
    if Dismissal.objects.filter(agreement=agreement, status=DismissalStatus.PROPOSED).exists():
        return None
    dismissal = Dismissal(partner=partner, agreement=agreement, balance=balance)
    try:
        with transaction.atomic():
            dismissal.save()
    except IntegrityError:
        return None
    return dismissal


def open_ledger(partner: Partner, *, decided_by: Any = None) -> CreditEntry | None:
    """The opening entry of a newly registered partner (``PARTNERS_CREDIT_OPENING``),
    once."""
    return record(
        partner,
        settings.PARTNERS_CREDIT_OPENING,
        CreditReason.OPENING,
        evidence=f"partner:{partner.pk}",
        decided_by=decided_by,
    )


def replay_balances(deltas: Iterable[int]) -> list[int]:
    """The balance after each of ``deltas``, from zero."""
    balance = 0
    out = []
    for delta in deltas:
        balance += delta
        out.append(balance)
    return out


def replay(partner: Partner) -> list[tuple[CreditEntry, int]]:
    """Every entry of ``partner``'s ledger in order, with the balance recomputed from the
    deltas alone (to compare with the stored ``entry.balance`` and ``partner.credit``)."""
    entries = list(CreditEntry.objects.filter(partner=partner).order_by("id"))
    return list(zip(entries, replay_balances(e.delta for e in entries), strict=True))


def mismatches(partner: Partner) -> list[CreditEntry]:
    """The entries whose stored balance differs from the replayed one (none, normally);
    the last entry's balance must also be the partner's credit."""
    rows = replay(partner)
    bad = [entry for entry, balance in rows if entry.balance != balance]
    expected = rows[-1][1] if rows else 0
    current = Partner.objects.values_list("credit", flat=True).get(pk=partner.pk)
    if current != expected and rows and rows[-1][0] not in bad:
        bad.append(rows[-1][0])
    return bad


def decide(user: Any, dismissal: Dismissal, *, decision: str, reasons: str = "") -> Dismissal:
    """The party committee's decision on a dismissal proposal (SUPERVISE at the partner's
    area): ``decided`` dismisses the partner (see the module's docstring), ``rejected``
    keeps it. A proposal is decided once (409 after)."""
    if decision not in DECISIONS:
        raise ValidationFailed(
            "决定须为清退或保留", "the decision is decided or rejected", field="decision"
        )
    reasons = (reasons or "").strip()
    if not reasons:
        raise ValidationFailed("请填写理由", "the reasons are required", field="reasons")
    if len(reasons) > 2000:
        raise ValidationFailed("理由不能超过 2000 字", "the reasons are too long", field="reasons")
    if not path_allowed(user, dismissal.area_path, Perm.VIEW):
        raise NotFound()
    if not path_allowed(user, dismissal.area_path, Perm.SUPERVISE):
        raise PermissionDenied("只有社区党委可以决定清退", "only the party committee decides")
    now = timezone.now()
    today = timezone.localdate()
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=dismissal.partner_id)
        locked = Dismissal.objects.select_for_update().get(pk=dismissal.pk)
        if locked.status != DismissalStatus.PROPOSED:
            raise Conflict("该清退提议已有决定", "this proposal was decided already")
        before = audit.snapshot(locked)
        locked.status = decision
        locked.reasons = reasons
        locked.decided_by = user
        locked.decided_at = now
        locked.save(update_fields=["status", "reasons", "decided_by", "decided_at", "updated_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            locked,
            user,
            audit.diff(before, audit.snapshot(locked)),
            f"清退提议：{DismissalStatus(decision).label}",
        )
        if decision == DismissalStatus.DECIDED:
            _dismiss(user, partner, locked, today)
    return locked


def _dismiss(user: Any, partner: Partner, dismissal: Dismissal, today: Any) -> None:
    """End every live agreement of ``partner`` (its projects 已清退终止, their spaces
    freed), close its other open proposals and freeze the partner (已清退)."""
    end_reason = f"信用分降至清退线，党委决定清退（提议 {dismissal.pk}）"
    agreements = list(
        Agreement.objects.select_for_update()
        .filter(partner=partner, status__in=(AgreementStatus.DRAFT, AgreementStatus.ACTIVE))
        .order_by("id")
    )
    if dismissal.agreement_id not in {a.pk for a in agreements}:
        agreements.append(Agreement.objects.select_for_update().get(pk=dismissal.agreement_id))
    for agreement in agreements:
        before = audit.snapshot(agreement)
        if agreement.status in (AgreementStatus.DRAFT, AgreementStatus.ACTIVE):
            agreement.status = AgreementStatus.ENDED
            agreement.ended_on = today
            agreement.end_reason = end_reason[:200]
            agreement.save(update_fields=["status", "ended_on", "end_reason", "updated_at"])
            _audited(agreement, user, before, "清退：协议终止")
    projects = Project.objects.select_for_update().filter(
        pk__in={a.project_id for a in agreements}, status=ProjectStatus.OPEN
    )
    for project in projects:
        before = audit.snapshot(project)
        project.status = ProjectStatus.DISMISSED
        project.save(update_fields=["status", "updated_at"])
        _audited(project, user, before, "清退：项目终止，场地释放")
    for other in Dismissal.objects.select_for_update().filter(
        partner=partner, status=DismissalStatus.PROPOSED
    ):
        other.status = DismissalStatus.DECIDED
        other.reasons = f"随提议 {dismissal.pk} 一并清退"
        other.decided_by = user
        other.decided_at = dismissal.decided_at
        other.save(update_fields=["status", "reasons", "decided_by", "decided_at", "updated_at"])
        audit.record(
            AuditEntry.Action.UPDATE, other, user, {"status": ["proposed", "decided"]},
            f"随提议 {dismissal.pk} 一并清退",
        )  # fmt: skip
    before = audit.snapshot(partner)
    partner.status = PartnerStatus.DISMISSED
    partner.left_on = today
    partner.save(update_fields=["status", "left_on", "updated_at"])
    _audited(partner, user, before, "党委决定清退")


def _audited(obj: Any, user: Any, before: dict[str, Any], note: str) -> None:
    audit.record(AuditEntry.Action.UPDATE, obj, user, audit.diff(before, audit.snapshot(obj)), note)
