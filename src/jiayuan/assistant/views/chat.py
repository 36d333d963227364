"""The chat pages: the resident's phone (/m/ask/, anonymous allowed), an entry's public
view (/m/ask/entries/<key>/), the staff desk's chat (/assistant/) and the question log
(/assistant/asks/). Every question goes through :func:`jiayuan.assistant.asking.ask`;
pages render text escaped, the small script only submits and scrolls."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, NotFound, PermissionDenied, row_id
from jiayuan.core.views import page

from .. import asking, handoff
from ..choices import Channel
from ..models import Ask, Entry

SESSION_KEY = "assistant_asks"  # an anonymous asker's questions, kept in their session
SHOWN = 10
LOG_PER_PAGE = 50


def _conversation(request: HttpRequest) -> list[Ask]:
    """The asker's latest questions, oldest first: a signed-in user's from the log, an
    anonymous asker's by the ids their session keeps."""
    user = request.user
    if user.is_authenticated:
        qs = Ask.objects.filter(user=user)
    else:
        ids = [i for i in request.session.get(SESSION_KEY, []) if isinstance(i, int)]
        qs = Ask.objects.filter(pk__in=ids, user__isnull=True)
    rows = list(qs.order_by("-created_at", "-id")[:SHOWN])
    rows.reverse()
    statuses = handoff.statuses_of(rows)
    for row in rows:
        row.handoff_status = statuses.get(row.pk)  # type: ignore[attr-defined]
    return rows


def _remember(request: HttpRequest, row: Ask) -> None:
    if not request.user.is_authenticated:
        ids = [i for i in request.session.get(SESSION_KEY, []) if isinstance(i, int)]
        request.session[SESSION_KEY] = [*ids, row.pk][-SHOWN:]


def _client(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def _ask_from_form(request: HttpRequest, channel: str) -> tuple[Ask | None, str, int]:
    """Ask the posted question; returns the logged ask, or the error text and status."""
    try:
        _answer, row = asking.ask(
            request.POST.get("question", ""),
            user=request.user,
            channel=channel,
            ip=_client(request),
        )
    except BilingualError as exc:
        return None, exc.zh, exc.status
    return row, "", 200


def phone_ask(request: HttpRequest) -> HttpResponse:
    """问助理: the resident's chat (anonymous allowed)."""
    error, status = "", 200
    if request.method == "POST":
        row, error, status = _ask_from_form(request, Channel.PHONE)
        if row is not None:
            _remember(request, row)
            return redirect(f"{reverse('assistant:phone_ask')}#ask-{row.pk}")
    context = {
        "rows": _conversation(request),
        "error": error,
        "question": request.POST.get("question", "")[:200] if error else "",
        "may_hand_off": asking.is_resident(request.user),
    }
    return render(request, "assistant/chat_phone.html", context, status=status)


@require_POST
def phone_handoff(request: HttpRequest, pk: str) -> HttpResponse:
    """转交网格员: the asker hands their unanswered question off."""
    user = request.user
    try:
        ask_id = row_id(pk)
        handoff.check_may_hand_off(user)  # an anonymous asker is told to log in
        row = Ask.objects.filter(pk=ask_id, user_id=getattr(user, "pk", 0)).first()
        if row is None:
            raise Http404("提问不存在")
        status = handoff.hand_off(row, user=user)
    except NotFound:
        raise Http404("提问不存在") from None
    except BilingualError as exc:
        messages.error(request, exc.zh)
    else:
        messages.success(request, f"已转交网格员（诉求编号 {status['case']}），{status['message']}")
    return redirect(f"{reverse('assistant:phone_ask')}#ask-{pk}")


def phone_entry(request: HttpRequest, key: str) -> HttpResponse:
    """An entry as the answers cite it (enabled entries only)."""
    entry = Entry.objects.filter(key=key[:60].replace("\x00", ""), enabled=True).first()
    if entry is None:
        raise Http404("知识条目不存在")
    return render(request, "assistant/chat_entry.html", {"entry": entry})


# --- the staff desk -----------------------------------------------------------------------
def _require_staff(user: Any) -> None:
    if not asking.is_staff(user):
        raise PermissionDenied("只有工作人员可以使用工作台", "staff only")


@page
def desk_chat(request: HttpRequest) -> HttpResponse:
    """数字助理 at the desk: staff ask on a resident's behalf (answered generally)."""
    _require_staff(request.user)
    error, status = "", 200
    if request.method == "POST":
        row, error, status = _ask_from_form(request, Channel.DESK)
        if row is not None:
            return redirect(f"{reverse('assistant:desk')}#ask-{row.pk}")
    context = {
        "rows": _conversation(request),
        "error": error,
        "question": request.POST.get("question", "")[:200] if error else "",
    }
    return render(request, "assistant/chat_desk.html", context, status=status)


@page
def asks_log(request: HttpRequest) -> HttpResponse:
    """提问记录: the questions asked in the user's scope, abstentions first."""
    _require_staff(request.user)
    get = request.GET
    flags = {"1": True, "0": False}
    qs = asking.filter_asks(
        asking.asks_for(request.user),
        abstained=flags.get(get.get("abstained", "")),
        handed_off=flags.get(get.get("handed_off", "")),
        text=get.get("q", "")[:50],
    )
    paginator = Paginator(qs, LOG_PER_PAGE)
    page_obj = paginator.get_page(get.get("page"))
    params = get.copy()
    params.pop("page", None)
    context = {
        "page_obj": page_obj,
        "filters": {k: get.get(k, "") for k in ("abstained", "handed_off", "q")},
        "query": params.urlencode(),
    }
    return render(request, "assistant/chat_asks.html", context)
