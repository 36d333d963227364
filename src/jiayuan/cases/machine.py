"""The state machine of a case, as data: which action leads from which statuses to
which, in which of the six steps, and who may take it.

``who`` names relations between the acting user and the case (see
``services.relations``): ``handler`` (the case is assigned to them), ``supervisor``
(staff of the community or above over the case's owning area), ``reporter`` (through
the tracking link) and ``system`` (jobs).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from .choices import Status, Step

S = Status


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: tuple[str, ...]
    target: str | None  # None: decided by the action (transfer, visit)
    step: str
    who: frozenset[str]
    needs_reason: bool = False


def _t(
    action: str,
    label: str,
    sources: tuple[str, ...],
    target: str | None,
    step: str,
    who: set[str],
    needs_reason: bool = False,
) -> Transition:
    return Transition(action, label, sources, target, step, frozenset(who), needs_reason)


HANDLING = (S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS)

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("dispatch", str(_("派单")), (S.RECEIVED,), S.DISPATCHED, Step.DISPATCH,
           {"supervisor", "system"}),
        _t("accept", str(_("接单")), (S.DISPATCHED,), S.ACCEPTED, Step.DISPATCH, {"handler"}),
        _t("return", str(_("退回")), (S.DISPATCHED,), S.RECEIVED, Step.DISPATCH, {"handler"},
           needs_reason=True),
        _t("start", str(_("开始办理")), (S.ACCEPTED,), S.IN_PROGRESS, Step.HANDLE, {"handler"}),
        _t("transfer", str(_("转办")), HANDLING, S.DISPATCHED, Step.TRANSFER,
           {"handler", "supervisor"}, needs_reason=True),
        _t("escalate", str(_("提级帮办")), (S.RECEIVED, *HANDLING, S.SUSPENDED), S.DISPATCHED,
           Step.TRANSFER, {"handler", "supervisor", "system"}, needs_reason=True),
        _t("suspend", str(_("挂起")), (S.IN_PROGRESS,), S.SUSPENDED, Step.HANDLE, {"handler"},
           needs_reason=True),
        _t("resume", str(_("恢复办理")), (S.SUSPENDED,), S.IN_PROGRESS, Step.HANDLE,
           {"handler", "supervisor"}),
        _t("request_delay", str(_("申请延期")), (S.ACCEPTED, S.IN_PROGRESS), None, Step.HANDLE,
           {"handler"}, needs_reason=True),
        _t("approve_delay", str(_("批准延期")), (S.ACCEPTED, S.IN_PROGRESS), None, Step.REVIEW,
           {"supervisor"}),
        _t("handle", str(_("办结提交")), (S.ACCEPTED, S.IN_PROGRESS), S.HANDLED, Step.HANDLE,
           {"handler"}),
        _t("approve", str(_("审核通过")), (S.HANDLED,), S.REPLIED, Step.REVIEW, {"supervisor"}),
        _t("send_back", str(_("退回重办")), (S.HANDLED,), S.IN_PROGRESS, Step.REVIEW,
           {"supervisor"}, needs_reason=True),
        _t("visit", str(_("回访")), (S.REPLIED,), None, Step.REPLY,
           {"reporter", "supervisor"}),
        _t("reject", str(_("不予受理")), (S.RECEIVED, S.DISPATCHED), S.REJECTED, Step.ASK,
           {"supervisor"}, needs_reason=True),
        _t("merge", str(_("合并重复")), (S.RECEIVED, S.DISPATCHED), S.MERGED, Step.ASK,
           {"supervisor"}),
    ]
}  # fmt: skip


def allowed(status: str, relations: set[str]) -> list[Transition]:
    """The transitions open from ``status`` to someone with ``relations`` to the case."""
    return [t for t in TRANSITIONS.values() if status in t.sources and t.who & relations]
