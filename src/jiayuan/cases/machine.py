"""The state machine of a case, as data: which action leads from which statuses to
which, in which of the six steps, who may take it, what it is called and what it asks.

One row per action. :func:`jiayuan.cases.services.perform` reads everything it does
not compute from the row: the status after (``target``, or the declared ``outcomes`` of
an action whose result depends on its input), the step of the timeline event, whether
the event is public, whether the stage clock restarts. Forms and the API read the
labels and ``fields`` from here too, so adding an action means editing one row (and
writing its ``apply`` function in :mod:`jiayuan.cases.actions`).

``who`` names relations between the acting user and the case (see
``services.relations``): ``handler`` (the case is assigned to them), ``supervisor``
(staff of the community or above over the case's owning area), ``reporter`` (through
the tracking link) and ``system`` (jobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from django.utils.translation import gettext_lazy as _

from .choices import Status, Step

S = Status


@dataclass(frozen=True)
class Outcome:
    """One way an action whose result depends on its input ends (a return visit closes
    the case, reopens it or raises it).

    ``via`` names the follow-up that moves the case (``reopen``, ``escalate``): the
    action's own event then records the status unchanged and the follow-up's event the
    move, as a person reading the timeline would tell it.
    """

    status: str
    via: str = ""


@dataclass(frozen=True)
class Transition:
    """One action of the case state machine (one row of :data:`TRANSITIONS`).

    ``target`` is the status after the action; ``None`` leaves the status as it was
    (a delay is requested or approved while the case stays where it is), and an action
    with ``outcomes`` names the outcome in its effects. ``fields`` are the parameters
    the action reads (form fields and API body), ``label`` its name for staff and
    ``public_label`` the sentence the resident reads for its event ("" when its event
    is not shown to them: ``public`` is false).
    """

    action: str
    label: str
    sources: tuple[str, ...]
    target: str | None
    step: str
    who: frozenset[str]
    needs_reason: bool = False
    fields: tuple[str, ...] = ()
    public: bool = False
    public_label: str = ""
    restarts_clock: bool = True
    outcomes: Mapping[str, Outcome] = field(default_factory=lambda: MappingProxyType({}))

    def status_after(self, status: str, outcome: str = "") -> str:
        """The status a case in ``status`` ends in (``outcome`` for actions with
        outcomes); raises ``KeyError`` for an outcome the row does not declare."""
        if self.outcomes:
            return self.outcomes[outcome].status
        return self.target if self.target is not None else status


@dataclass(frozen=True)
class FollowUp:
    """An event that is not an action of the table: intake's ``receive``, and those an
    action writes after its own (``reply`` after approval, ``reopen`` after an
    unsatisfied visit, ``merged_in`` on the case kept by a merge)."""

    label: str
    step: str
    public: bool = False
    public_label: str = ""


def _t(
    action: str,
    label: str,
    sources: tuple[str, ...],
    target: str | None,
    step: str,
    who: set[str],
    *,
    fields: tuple[str, ...] = (),
    needs_reason: bool = False,
    public_label: str = "",
    restarts_clock: bool = True,
    outcomes: dict[str, Outcome] | None = None,
) -> Transition:
    return Transition(
        action=action,
        label=label,
        sources=sources,
        target=target,
        step=step,
        who=frozenset(who),
        needs_reason=needs_reason,
        fields=fields,
        public=bool(public_label),
        public_label=public_label,
        restarts_clock=restarts_clock,
        outcomes=MappingProxyType(outcomes or {}),
    )


HANDLING = (S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS)
NO_CHANGE = None  # the status stays as it is

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("dispatch", str(_("派单")), (S.RECEIVED,), S.DISPATCHED, Step.DISPATCH,
           {"supervisor", "system"}, fields=("handler_id", "reason"),
           public_label="已派给工作人员办理"),
        _t("accept", str(_("接单")), (S.DISPATCHED,), S.ACCEPTED, Step.DISPATCH, {"handler"},
           public_label="工作人员已接单"),
        _t("return", str(_("退回")), (S.DISPATCHED,), S.RECEIVED, Step.DISPATCH, {"handler"},
           fields=("reason",), needs_reason=True),
        _t("start", str(_("开始办理")), (S.ACCEPTED,), S.IN_PROGRESS, Step.HANDLE, {"handler"},
           public_label="开始办理", restarts_clock=False),
        _t("transfer", str(_("转办")), HANDLING, S.DISPATCHED, Step.TRANSFER,
           {"handler", "supervisor"}, fields=("reason", "handler_id", "level", "department_id"),
           needs_reason=True, public_label="已转交其他工作人员办理"),
        _t("escalate", str(_("提级帮办")), (S.RECEIVED, *HANDLING, S.SUSPENDED), S.DISPATCHED,
           Step.TRANSFER, {"handler", "supervisor", "system"}, fields=("reason", "level"),
           needs_reason=True, public_label="已提级，由上级协同办理"),
        _t("suspend", str(_("挂起")), (S.IN_PROGRESS,), S.SUSPENDED, Step.HANDLE, {"handler"},
           fields=("reason",), needs_reason=True, public_label="暂缓办理", restarts_clock=False),
        _t("resume", str(_("恢复办理")), (S.SUSPENDED,), S.IN_PROGRESS, Step.HANDLE,
           {"handler", "supervisor"}, public_label="恢复办理", restarts_clock=False),
        _t("request_delay", str(_("申请延期")), (S.ACCEPTED, S.IN_PROGRESS), NO_CHANGE,
           Step.HANDLE, {"handler"}, fields=("reason", "minutes"), needs_reason=True,
           restarts_clock=False),
        _t("approve_delay", str(_("批准延期")), (S.ACCEPTED, S.IN_PROGRESS), NO_CHANGE,
           Step.REVIEW, {"supervisor"}, restarts_clock=False),
        _t("handle", str(_("办结提交")), (S.ACCEPTED, S.IN_PROGRESS), S.HANDLED, Step.HANDLE,
           {"handler"}, fields=("result", "reason"), public_label="已办理完毕，等待审核"),
        _t("approve", str(_("审核通过")), (S.HANDLED,), S.REPLIED, Step.REVIEW, {"supervisor"},
           fields=("note", "reason")),
        _t("send_back", str(_("退回重办")), (S.HANDLED,), S.IN_PROGRESS, Step.REVIEW,
           {"supervisor"}, fields=("reason",), needs_reason=True),
        _t("visit", str(_("回访")), (S.REPLIED,), None, Step.REPLY, {"reporter", "supervisor"},
           fields=("satisfaction", "comment", "by", "reason"), public_label="已评价",
           outcomes={
               "closed": Outcome(S.CLOSED),  # satisfied or basically satisfied
               "reopened": Outcome(S.IN_PROGRESS, via="reopen"),  # the first "unsatisfied"
               "escalated": Outcome(S.DISPATCHED, via="escalate"),  # unsatisfied again
           }),
        _t("reject", str(_("不予受理")), (S.RECEIVED, S.DISPATCHED), S.REJECTED, Step.ASK,
           {"supervisor"}, fields=("reason",), needs_reason=True, public_label="不予受理"),
        _t("merge", str(_("合并重复")), (S.RECEIVED, S.DISPATCHED), S.MERGED, Step.ASK,
           {"supervisor"}, fields=("into", "reason"),
           public_label="与他人反映的同一问题合并办理"),
    ]
}  # fmt: skip

#: Events that are no action of their own (intake's ``receive``, and what an action
#: writes besides its own event); their steps and visibility live here too.
OTHER_EVENTS: dict[str, FollowUp] = {
    "receive": FollowUp(str(_("受理")), Step.ASK, public=True, public_label="您的诉求已受理"),
    "reply": FollowUp(str(_("答复反映人")), Step.REPLY, public=True,
                      public_label="办理结果已答复"),
    "reopen": FollowUp(str(_("不满意重办")), Step.HANDLE),
    "merged_in": FollowUp(str(_("合并重复诉求")), Step.ASK),
}  # fmt: skip


def event_kind(action: str) -> Transition | FollowUp:
    """The row that decides the step and visibility of an event named ``action``."""
    return TRANSITIONS.get(action) or OTHER_EVENTS[action]


def allowed(status: str, relations: set[str]) -> list[Transition]:
    """The transitions open from ``status`` to someone with ``relations`` to the case."""
    return [t for t in TRANSITIONS.values() if status in t.sources and t.who & relations]
