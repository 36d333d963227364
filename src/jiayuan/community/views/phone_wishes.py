"""The resident's phone pages of micro-wishes, under /m/wishes/: my wishes and, for a
party member, the compound's wishes to claim; making a wish; one wish (thank, claim,
fulfil with a photo, cancel). Each step is one action of
:mod:`jiayuan.community.wishes`; a refusal comes back as a message on the page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, NotFound
from jiayuan.core.views import page
from jiayuan.people.choices import PARTY

from .. import photos, wishes
from ..choices import WishCategory, WishChannel, WishStatus
from ..models import Photo, WishEvent
from ..residents import home_path, person_of
from .wishes import perform

LIST_LIMIT = 50


@page
def phone_wishes(request: HttpRequest) -> HttpResponse:
    """微心愿 (phone): the wishes I made or claimed, and — if I am a party member — the
    compound's collected wishes I may claim."""
    user: Any = request.user
    person = person_of(user)
    mine: list[Any] = []
    to_claim: list[Any] = []
    party = False
    if person is not None:
        visible = wishes.with_related(wishes.visible_wishes(user))
        mine = list(
            visible.filter(Q(beneficiary=person) | Q(claimer=person) | Q(created_by=user)).order_by(
                "-created_at", "-pk"
            )[:LIST_LIMIT]
        )
        home = home_path(user)
        party = home is not None and person.political_status in PARTY
        if party and home is not None:
            to_claim = list(
                visible.filter(area_path__startswith=home, status=WishStatus.COLLECTED)
                .exclude(beneficiary=person)
                .order_by("-created_at", "-pk")[:LIST_LIMIT]
            )
    return render(
        request,
        "community/phone/wishes.html",
        {"person": person, "mine": mine, "to_claim": to_claim, "party": party},
    )


class PhoneWishForm(forms.Form):
    title = forms.CharField(label="我的心愿", max_length=100)
    category = forms.ChoiceField(label="类别", choices=WishCategory.choices)
    description = forms.CharField(
        label="说明", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            field.widget.attrs.setdefault("class", css)


@page
def phone_wish_new(request: HttpRequest) -> HttpResponse:
    """许个心愿 (phone): a resident makes a wish for themself."""
    user: Any = request.user
    if person_of(user) is None:
        raise Http404("not a resident")
    form = PhoneWishForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            wish = wishes.collect(
                actor=user,
                channel=WishChannel.RESIDENT,
                title=data["title"],
                category=data["category"],
                description=data["description"],
            )
        except BilingualError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.zh)
        else:
            messages.success(request, f"心愿已提交（{wish.number}），社区会尽快联系您")
            return redirect("community:phone_wish", pk=wish.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "community/phone/wish_new.html", {"form": form}, status=status)


@page
def phone_wish(request: HttpRequest, pk: int) -> HttpResponse:
    """One wish on the phone: its steps so far and what I may do now."""
    user: Any = request.user
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
    person = person_of(user)
    events = list(wish.events.all())
    for event in events:
        event.label = wishes.EVENT_LABELS.get(event.kind, event.kind)  # type: ignore[attr-defined]
    mine = person is not None and wish.beneficiary_id == person.pk
    context = {
        "wish": wish,
        "events": events,
        "photos": list(wish.photos.all()),
        "actions": wishes.allowed_actions(user, wish),
        "mine": mine,
        "beneficiary_name": (
            wish.beneficiary.name
            if wish.beneficiary and (mine or wishes.is_staff_for(user, wish))
            else ""
        ),
    }
    return render(request, "community/phone/wish.html", context)


@require_POST
@page
def phone_wish_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """A step from the phone page; the page shows the outcome as a message."""
    user: Any = request.user
    wishes.get_wish(user, pk)
    try:
        perform(request, pk, action)
    except NotFound:
        raise
    except BilingualError as exc:
        messages.error(request, exc.zh)
    else:
        messages.success(request, f"已{wishes.ACTION_LABELS.get(action, '')}")
    return redirect("community:phone_wish", pk=pk)


@page
def phone_wish_photo(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    user: Any = request.user
    wish = wishes.get_wish(user, pk)
    photo = Photo.objects.filter(wish=wish, pk=min(photo_pk, wishes.MAX_ID)).first()
    if photo is None:
        raise Http404("no such photo")
    return photos.response(request, photo)  # type: ignore[return-value]  # streamed
