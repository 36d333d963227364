"""The order queue on the phone (接单, ``/m/orders/``): the cases dispatched to the
signed-in worker and waiting to be accepted (待接单, with the stage's due time and its
light in words), those they are handling (办理中), and a one-tap 接单.

The queue is the request loop's own inbox (``cases.queries.tab_querysets``: the
待接单 and 办理中 tabs, handler = the user), and 接单 is the case action ``accept``
performed by ``cases.services.perform`` as the case page performs it: the service locks
the case, checks that the user is its handler and that it is still waiting, writes the
timeline event and the audit entry. Refusals come back on the queue page with the
service's status (404 not theirs or unknown, 403 not the handler, 409 already taken)
and its message in Chinese and English; nothing is changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from jiayuan.cases import queries, services
from jiayuan.cases.views.common import decorate
from jiayuan.core.errors import BilingualError, row_id
from jiayuan.core.views import page

#: Rows shown per list; the rest are in the staff inbox (/cases/?tab=…).
SHOWN = 30


def queue(user: Any) -> dict[str, Any]:
    """The user's 待接单 (oldest stage deadline first) and 办理中, with their counts."""
    tabs = queries.tab_querysets(user)
    waiting = queries.with_related(tabs["accept"]).order_by("stage_due_at", "pk")
    doing = queries.with_related(tabs["doing"]).order_by("stage_due_at", "pk")
    return {
        "waiting": decorate(list(waiting[:SHOWN])),
        "doing": decorate(list(doing[:SHOWN])),
        "waiting_count": tabs["accept"].count(),
        "doing_count": tabs["doing"].count(),
        "shown": SHOWN,
    }


def _page(request: HttpRequest, error: BilingualError | None = None) -> HttpResponse:
    context = {**queue(request.user), "error": error}
    return render(
        request, "command/phone/orders.html", context, status=error.status if error else 200
    )


@page
def phone_orders(request: HttpRequest) -> HttpResponse:
    """接单 (phone): the worker's waiting and in-progress cases."""
    return _page(request)


@page
@require_POST
def phone_accept(request: HttpRequest, case_id: int) -> HttpResponse:
    """One tap: accept a case dispatched to the user (the case action ``accept``)."""
    try:
        case = services.perform(row_id(case_id), "accept", actor=request.user)
    except BilingualError as exc:
        return _page(request, exc)
    messages.success(request, f"已接单 {case.number}")
    return redirect("command:phone_orders")
