"""Staff pages of micro-wishes (微心愿) and the compound demand list (需求清单), under
/community/. Thin: parse, call one action of :mod:`jiayuan.community.wishes`, render.
Steps are htmx forms on the detail page; a refused step shows its message in place."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, NotFound, ValidationFailed
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, scope_q
from jiayuan.core.views import is_htmx, page
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people.models import Person
from jiayuan.people.services import search as search_people

from .. import demand, photos, wishes
from ..choices import OPEN_WISH_STATUSES, ClaimerKind, WishCategory, WishChannel, WishStatus
from ..models import Photo, Wish, WishEvent

PER_PAGE = 20
# How the timeline marks each kind of event (the request loop's step colours).
EVENT_STEPS = {
    "collected": ("收", ""),
    "claimed": ("领", "handle"),
    "fulfilled": ("实", "reply"),
    "thanked": ("谢", "reply"),
    "cancelled": ("撤", ""),
    "escalated": ("提", "transfer"),
    "case_closed": ("结", "review"),
    "reminded": ("催", "transfer"),
}
STAFF_CHANNELS = [c for c in WishChannel.choices if c[0] != WishChannel.RESIDENT]


def _require_staff(user: Any) -> None:
    if not has_perm_anywhere(user, Perm.SERVE):
        raise Http404("no community service right")


class FilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "全部状态"), *WishStatus.choices], required=False)
    category = forms.ChoiceField(choices=[("", "全部类别"), *WishCategory.choices], required=False)
    channel = forms.ChoiceField(choices=[("", "全部渠道"), *WishChannel.choices], required=False)
    q = forms.CharField(required=False, max_length=50)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            field.widget.attrs.update({"class": css, "aria-label": name})
        self.fields["q"].widget.attrs["placeholder"] = "编号或心愿"


def filtered(user: Any, form: FilterForm) -> QuerySet[Wish]:
    qs = wishes.with_related(wishes.visible_wishes(user))
    if form.is_valid():
        data = form.cleaned_data
        for name in ("status", "category", "channel"):
            if data[name]:
                qs = qs.filter(**{name: data[name]})
        if data["q"]:
            qs = qs.filter(Q(number__icontains=data["q"]) | Q(title__icontains=data["q"]))
    return qs


@page
def wish_index(request: HttpRequest) -> HttpResponse:
    """微心愿: the wishes of the user's area, filtered and paged, with status counts."""
    user: Any = request.user
    _require_staff(user)
    form = FilterForm(request.GET or None)
    rows = filtered(user, form)
    page_obj = Paginator(rows.order_by("-created_at", "-pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    counts = dict(
        wishes.visible_wishes(user).values_list("status").annotate(n=Count("pk")).order_by()
    )
    stats = [(value, label, counts.get(value, 0)) for value, label in WishStatus.choices]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "community/wishes/index.html",
        {"page_obj": page_obj, "form": form, "stats": stats, "query": query.urlencode()},
    )


class WishForm(forms.Form):
    title = forms.CharField(label="心愿", max_length=100)
    category = forms.ChoiceField(label="类别", choices=WishCategory.choices)
    channel = forms.ChoiceField(label="收集渠道", choices=STAFF_CHANNELS)
    description = forms.CharField(
        label="说明", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    area = forms.ModelChoiceField(
        label="所在小区或网格", queryset=Area.objects.none(), required=False
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = (  # type: ignore[attr-defined]
            Area.objects.filter(scope_q(user, Perm.SERVE, field="path"))
            .filter(kind__in=(AreaKind.ZONE, AreaKind.GRID))
            .order_by("path")
        )
        for field in self.fields.values():
            css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            field.widget.attrs.setdefault("class", css)


@page
def wish_new(request: HttpRequest) -> HttpResponse:
    """收集心愿: staff enter a wish (door knocking, WeChat group, direct) for a person of
    their area (``?person=<id>``) or for a compound or grid."""
    user: Any = request.user
    _require_staff(user)
    person = None
    raw_person = request.GET.get("person") or request.POST.get("person")
    if raw_person:
        if not raw_person.isdigit() or len(raw_person) > 18:
            raise Http404("bad person")
        person = Person.objects.visible_to(user, Perm.SERVE).filter(pk=int(raw_person)).first()
        if person is None:
            raise Http404("no such person")
    term = (request.GET.get("q") or "").strip()[:50]
    found: list[Person] = []
    if term and person is None:
        people = Person.objects.visible_to(user, Perm.SERVE).filter(death_date__isnull=True)
        found = list(search_people(people, term).select_related("area").order_by("pk")[:20])
    form = WishForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            wish = wishes.collect(
                actor=user,
                channel=data["channel"],
                title=data["title"],
                category=data["category"],
                description=data["description"],
                beneficiary=person,
                area=data["area"],
            )
        except BilingualError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.zh)
        else:
            messages.success(request, f"心愿 {wish.number} 已收集")
            return redirect("community:wish_detail", pk=wish.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "community/wishes/new.html",
        {"form": form, "person": person, "term": term, "found": found},
        status=status,
    )


def detail_context(user: Any, pk: int) -> dict[str, Any]:
    wish = (
        wishes.with_related(wishes.visible_wishes(user))
        .prefetch_related(
            Prefetch("events", queryset=WishEvent.objects.order_by("at", "pk")),
            Prefetch("photos", queryset=Photo.objects.order_by("created_at", "pk")),
        )
        .filter(pk=min(pk, wishes.MAX_ID))
        .first()
    )
    if wish is None:
        raise Http404("no such wish")
    events = list(wish.events.all())
    for event in events:
        event.label = wishes.EVENT_LABELS.get(event.kind, event.kind)  # type: ignore[attr-defined]
        event.mark, event.step = EVENT_STEPS.get(event.kind, ("·", ""))  # type: ignore[attr-defined]
    return {
        "wish": wish,
        "events": events,
        "photos": list(wish.photos.all()),
        "actions": wishes.allowed_actions(user, wish),
        "claimer_kinds": ClaimerKind.choices,
        "staff": wishes.is_staff_for(user, wish),
        "today": dt.date.today().isoformat(),  # noqa: DTZ011  (a form's min date)
        "open": wish.status in OPEN_WISH_STATUSES,
    }


@page
def wish_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One wish: who it is for (masked), its timeline, photos and the steps to take."""
    user: Any = request.user
    if not has_perm_anywhere(user, Perm.VIEW):  # residents have their phone page
        return redirect("community:phone_wish", pk=pk)
    return render(request, "community/wishes/detail.html", detail_context(user, pk))


def perform(request: HttpRequest, pk: int, action: str) -> None:
    """Run ``action`` on wish ``pk`` with the posted fields."""
    user: Any = request.user
    data = request.POST
    if action == "claim":
        claimer = None
        raw = data.get("claimer", "")
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                raise NotFound("认领人不存在", "no such claimer")
            claimer = Person.objects.visible_to(user).filter(pk=int(raw)).first()
            if claimer is None:
                raise NotFound("认领人不存在", "no such claimer")
        due_on = None
        if data.get("due_on"):
            try:
                due_on = dt.date.fromisoformat(data["due_on"])
            except ValueError:
                raise ValidationFailed("日期无效", "invalid date", field="due_on") from None
        wishes.claim(
            pk,
            actor=user,
            claimer_kind=data.get("claimer_kind", ""),
            claimer=claimer,
            claimer_name=data.get("claimer_name", ""),
            due_on=due_on,
        )
    elif action == "fulfil":
        wishes.fulfil(pk, actor=user, photo=request.FILES.get("photo"), note=data.get("note", ""))
    elif action == "thank":
        wishes.thank(pk, actor=user, thanks=data.get("thanks", ""))
    elif action == "cancel":
        wishes.cancel(pk, actor=user, reason=data.get("reason", ""))
    elif action == "escalate":
        wishes.escalate(pk, actor=user, reason=data.get("reason", ""))
    else:
        raise Http404("no such action")


@require_POST
@page
def wish_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """A step from the detail page: htmx swaps the page's body; a refusal shows in place."""
    user: Any = request.user
    wishes.get_wish(user, pk)  # 404 before anything else outside scope
    try:
        perform(request, pk, action)
    except BilingualError as exc:
        if isinstance(exc, NotFound):
            raise
        if is_htmx(request):
            context = {**detail_context(user, pk), "error": exc.zh, "failed": action}
            return render(request, "community/wishes/detail_body.html", context, status=exc.status)
        raise
    if is_htmx(request):
        return render(request, "community/wishes/detail_body.html", detail_context(user, pk))
    return redirect("community:wish_detail", pk=pk)


@page
def wish_photo(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    user: Any = request.user
    wish = wishes.get_wish(user, pk)
    photo = Photo.objects.filter(wish=wish, pk=min(photo_pk, wishes.MAX_ID)).first()
    if photo is None:
        raise Http404("no such photo")
    return photos.response(request, photo)  # type: ignore[return-value]  # streamed


@page
def demand_index(request: HttpRequest) -> HttpResponse:
    """需求清单: the compounds of the user's area, with their open wishes counted."""
    user: Any = request.user
    _require_staff(user)
    zones = list(demand.compounds_of(user)[:500])
    counts = dict(
        wishes.visible_wishes(user)
        .filter(status__in=OPEN_WISH_STATUSES)
        .values_list("area__path")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows = [(z, sum(n for p, n in counts.items() if p.startswith(z.path))) for z in zones]
    return render(request, "community/wishes/demand_index.html", {"rows": rows})


@page
def demand_page(request: HttpRequest, area_id: int) -> HttpResponse:
    """One compound's demand list: open wishes and open cases, newest first."""
    user: Any = request.user
    result = demand.demand_list(user, area_id)
    return render(
        request,
        "community/wishes/demands.html",
        {
            "zone": result.compound,
            "items": result.items,
            "wish_count": result.count("wishes"),
            "case_count": result.count("cases"),
            "new_url": reverse("community:wish_new"),
        },
    )
