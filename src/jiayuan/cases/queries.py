"""What the API and the pages of the request loop share: the cases a user can see and one
filter over them (status, overdue, light, category, place, text and phone search).

Who sees a case
    - everyone whose scope holds the level that owns it now (``Case.objects.visible_to``:
      the grid while the grid handles it, the community once raised there …);
    - its current handler, even outside their area (a department's handler, a worker a
      case was transferred to), as :func:`services.perform` lets them act on it;
    - read-only, the proxy who filed it for a resident (红色代办: a 三长 or 党员中心户
      follows the case of the resident they look after);
    - read-only, whoever filed it or worked on it (wrote an event on its timeline) after
      it was raised by 提级帮办 to a level above them: a grid worker follows the case they
      found on patrol or handled up to the community or street. "Read-only" needs no rule
      here: the state machine offers actions by relation (handler, supervisor, reporter)
      and a past participant holds none of them.

Outside these a case answers 404 in the API and the pages alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from jiayuan.core import pii
from jiayuan.core.calendar import WorkClock
from jiayuan.core.errors import NotFound
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, scope_q
from jiayuan.org.models import Area
from jiayuan.people.services import PHONE_RE

from .choices import OPEN_STATUSES, Light
from .choices import Status as CaseStatus
from .models import Case, CaseEvent
from .sla import light_for

#: The list orderings a caller may ask for (``-`` for descending).
ORDERINGS = ("received_at", "stage_due_at", "due_at", "number")


# --- who sees which case -------------------------------------------------------------------
def visible_cases(user: Any) -> QuerySet[Case]:
    """Every case ``user`` may read (see the module docstring), for lists and details."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Case.objects.none()
    scoped = Case.objects.visible_to(user)
    # assigned to them, or filed by them on a resident's behalf (红色代办)
    own = Q(handler_user_id=user.pk) | Q(proxy_user_id=user.pk)
    # A resident acts through their own link only: no staff timeline rows to follow.
    if has_perm_anywhere(user, Perm.VIEW):
        took_part = CaseEvent.objects.filter(actor_id=user.pk).values("case_id")
        own |= Q(escalated_help=True, pk__in=took_part)
    return scoped | Case.objects.filter(own)


def get_case(user: Any, pk: int, queryset: QuerySet[Case] | None = None) -> Case:
    """One case ``user`` may read, or :class:`NotFound` (404, never 403: no leak)."""
    base = queryset if queryset is not None else visible_cases(user)
    case = base.filter(pk=pk).first()
    if case is None:
        raise NotFound("诉求不存在", "case not found")
    return case


def with_related(qs: QuerySet[Case]) -> QuerySet[Case]:
    """What every case list shows beside the case itself, fetched in the same query."""
    return qs.select_related("category", "grid", "handler_user", "handler_department", "reporter")


# --- the inboxes --------------------------------------------------------------------------
def tab_querysets(user: Any) -> dict[str, QuerySet[Case]]:
    """What each inbox holds for ``user`` (the case list's tabs, the desk's work); 全部 is
    :func:`visible_cases`, the very cases the API lists."""
    visible = visible_cases(user)
    supervised = Case.objects.visible_to(user, Perm.SUPERVISE)
    handling = (CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS, CaseStatus.SUSPENDED)
    return {
        "accept": visible.filter(status=CaseStatus.DISPATCHED, handler_user=user),
        "doing": visible.filter(status__in=handling, handler_user=user),
        "dispatch": supervised.filter(status=CaseStatus.RECEIVED),
        "review": supervised.filter(status=CaseStatus.HANDLED).exclude(handler_user=user),
        "visit": supervised.filter(status=CaseStatus.REPLIED),
        "all": visible,
    }


# --- filters -------------------------------------------------------------------------------
@dataclass
class CaseFilter:
    """The filters of a case list, the same for the API (``CaseFilters``) and the pages
    (``CaseFilterForm``). Empty values filter nothing."""

    status: Sequence[str] | None = None
    open_only: bool = False  # not closed, rejected or merged
    overdue: bool = False  # open and past the stage's due time (a paused clock stopped)
    light: str | None = None
    category: str | None = None  # a category code; a parent code includes its children
    channel: str | None = None
    level: str | None = None
    grid: int | None = None
    area: int | None = None  # located in this area or below
    mine: bool = False  # handled by the acting user
    q: str | None = None  # number, title, description, address; a phone (with PII rights)
    received_after: dt.datetime | None = None
    received_before: dt.datetime | None = None
    ordering: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> CaseFilter:
        """From a mapping (a schema's ``dict()``, a form's ``cleaned_data``); unknown keys
        are ignored, ``None`` means "not given"."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names and v is not None})


def overdue_q(now: dt.datetime) -> Q:
    """Open cases whose stage clock ran out (red). A suspended case's clock stopped when
    it was suspended, so it is overdue only if it was already late then."""
    running = Q(stage_due_at__lt=now) & ~Q(status=CaseStatus.SUSPENDED)
    paused = Q(status=CaseStatus.SUSPENDED, suspended_at__gt=F("stage_due_at"))
    return Q(status__in=OPEN_STATUSES, stage_due_at__isnull=False) & (running | paused)


def filter_light(qs: QuerySet[Case], light: str, now: dt.datetime) -> QuerySet[Case]:
    """Open cases with the given light. Red is a date comparison; yellow (80 % of the
    stage's working minutes used) needs the working-time clock, so it is worked out on the
    open, not yet overdue cases only."""
    open_cases = qs.filter(status__in=OPEN_STATUSES)
    if light == Light.RED:
        return open_cases.filter(overdue_q(now))
    running = open_cases.exclude(overdue_q(now))
    clock = WorkClock()
    rows = running.filter(stage_due_at__isnull=False).values_list(
        "pk", "status", "stage_started_at", "stage_due_at", "suspended_at"
    )
    yellow = [
        pk
        for pk, status, started, due, suspended in rows
        if light_for(
            Case(status=status, stage_started_at=started, stage_due_at=due, suspended_at=suspended),
            now,
            clock,
        )
        == Light.YELLOW
    ]
    if light == Light.YELLOW:
        return running.filter(pk__in=yellow)
    return running.exclude(pk__in=yellow)


def category_q(code: str) -> Q:
    """The category ``code`` and everything below it (the tree is at most three deep)."""
    return (
        Q(category__code=code)
        | Q(category__parent__code=code)
        | Q(category__parent__parent__code=code)
    )


def search_q(term: str, user: Any) -> Q:
    """Number, title, description or address containing ``term``; a complete phone
    number finds the reporter's through the blind index (never by decrypting), and only
    among cases where ``user`` may see personal data."""
    match = (
        Q(number__icontains=term)
        | Q(title__icontains=term)
        | Q(description__icontains=term)
        | Q(address__icontains=term)
    )
    compact = term.replace(" ", "").replace("-", "")
    if user is not None and PHONE_RE.match(compact) and has_perm_anywhere(user, Perm.REVEAL_PII):
        index = pii.blind_index(compact, purpose="phone")
        phone = Q(reporter_phone_index=index) | Q(reporter__phone_index=index)
        match |= phone & scope_q(user, Perm.REVEAL_PII)
    return match


def filter_cases(
    qs: QuerySet[Case],
    filters: CaseFilter,
    *,
    user: Any = None,
    now: dt.datetime | None = None,
) -> QuerySet[Case]:
    """``qs`` narrowed by ``filters``; ``user`` is the acting user (``mine``, phone
    search)."""
    now = now or timezone.now()
    if filters.status:
        qs = qs.filter(status__in=list(filters.status))
    if filters.open_only:
        qs = qs.filter(status__in=OPEN_STATUSES)
    if filters.overdue:
        qs = qs.filter(overdue_q(now))
    if filters.category:
        qs = qs.filter(category_q(filters.category))
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.level:
        qs = qs.filter(level=filters.level)
    if filters.grid is not None:
        qs = qs.filter(grid_id=filters.grid)
    if filters.area is not None:
        path = Area.objects.filter(pk=filters.area).values_list("path", flat=True).first()
        qs = qs.filter(grid__path__startswith=path) if path else qs.none()
    if filters.mine:
        qs = qs.filter(handler_user_id=getattr(user, "pk", None))
    if filters.q and filters.q.strip():
        qs = qs.filter(search_q(filters.q.strip(), user))
    if filters.received_after is not None:
        qs = qs.filter(received_at__gte=filters.received_after)
    if filters.received_before is not None:
        qs = qs.filter(received_at__lt=filters.received_before)
    if filters.light:
        qs = filter_light(qs, filters.light, now)
    if filters.ordering and filters.ordering.lstrip("-") in ORDERINGS:
        qs = qs.order_by(filters.ordering, "-pk")
    return qs


def list_cases(user: Any, filters: CaseFilter) -> QuerySet[Case]:
    """The cases of a list (API ``/cases`` and the 全部 tab alike), newest first unless
    ``filters.ordering`` says otherwise."""
    qs = with_related(visible_cases(user)).order_by("-received_at", "-pk")
    return filter_cases(qs, filters, user=user)


def with_lights(cases: list[Case], now: dt.datetime | None = None) -> list[Case]:
    """Work out each case's light with one shared clock (one calendar read per year)."""
    clock = WorkClock()
    now = now or timezone.now()
    for case in cases:
        case._light = light_for(case, now, clock)  # type: ignore[attr-defined]
    return cases
