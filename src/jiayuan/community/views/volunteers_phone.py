"""The resident's phone pages of the volunteers (under /m/): activities nearby (in my
community, upcoming, with places left), one activity with sign-up and cancel, the
check-in link the staff's QR code opens, and my hours ledger (with self-registration
as a volunteer)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError
from jiayuan.core.views import page, scoped_get_or_404

from .. import volunteering as vol
from ..choices import ActivityStatus
from ..models import Activity, HoursEntry, SignUp, Volunteer
from ..residents import person_of

UPCOMING = 50


def _me(request: HttpRequest) -> Any:
    """The signed-in resident's person record; an account without one sees a 404."""
    person = person_of(request.user)
    if person is None:
        raise Http404("no resident linked")
    return person


def _nearby(request: HttpRequest) -> Any:
    return vol.with_signup_counts(vol.nearby_for_resident(request.user))


@page
def phone_activities(request: HttpRequest) -> HttpResponse:
    """活动: upcoming activities of my community with places left, and the ones I signed up
    for."""
    me = _me(request)
    now = timezone.now()
    signed = SignUp.objects.filter(person=me, cancelled_at__isnull=True)
    upcoming = list(
        _nearby(request)
        .filter(status=ActivityStatus.PLANNED, ends_at__gt=now)
        .filter(Q(signed__lt=F("capacity")) | Q(pk__in=signed.values("activity_id")))
        .order_by("starts_at", "pk")[:UPCOMING]
    )
    mine = set(
        signed.filter(activity__in=[a.pk for a in upcoming]).values_list("activity_id", flat=True)
    )
    for a in upcoming:
        a.mine = a.pk in mine  # type: ignore[attr-defined]
        a.left = max(a.capacity - a.signed, 0)  # type: ignore[attr-defined]
    context = {"activities": upcoming, "me": me}
    return render(request, "community/phone/activities.html", context)


def _activity(request: HttpRequest, pk: int) -> Activity:
    return scoped_get_or_404(_nearby(request), pk=pk)


@page
def phone_activity(request: HttpRequest, pk: int) -> HttpResponse:
    """活动详情: time, place, places left; sign up or cancel; my check-in."""
    me = _me(request)
    activity = _activity(request, pk)
    mine = SignUp.objects.filter(activity=activity, person=me, cancelled_at__isnull=True).first()
    now = timezone.now()
    context = {
        "activity": activity,
        "mine": mine,
        "left": max(activity.capacity - activity.signed, 0),  # type: ignore[attr-defined]
        "open": activity.status == ActivityStatus.PLANNED and now < activity.ends_at,
        "may_cancel": mine is not None and mine.checked_in_at is None
        and activity.status == ActivityStatus.PLANNED,
        "is_volunteer": Volunteer.objects.filter(person=me, active=True).exists(),
        "credited": HoursEntry.objects.filter(activity=activity, volunteer__person=me).first(),
    }  # fmt: skip
    return render(request, "community/phone/activity.html", context)


@require_POST
@page
def phone_activity_signup(request: HttpRequest, pk: int) -> HttpResponse:
    """报名 (for myself)."""
    me = _me(request)
    activity = _activity(request, pk)
    try:
        vol.sign_up(activity, actor=request.user, person=me)
    except BilingualError as exc:
        messages.error(request, exc.zh)
    else:
        messages.success(request, "报名成功")
    return redirect("community:phone_activity", pk=pk)


@require_POST
@page
def phone_activity_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """取消报名 (mine)."""
    me = _me(request)
    activity = _activity(request, pk)
    try:
        vol.cancel_sign_up(activity, actor=request.user, person=me)
    except BilingualError as exc:
        messages.error(request, exc.zh)
    else:
        messages.success(request, "已取消报名")
    return redirect("community:phone_activity", pk=pk)


@never_cache
@page
def phone_activity_checkin(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """扫码签到: the link in the staff's QR code. Opening it checks the signed-in resident
    in (once); a wrong token is a 404 like an unknown activity."""
    me = _me(request)
    activity = _activity(request, pk)
    if len(token) > 64 or not vol.token_matches(activity, token):
        raise Http404("wrong token")
    problem = ""
    new = False
    try:
        row, new = vol.check_in(activity, actor=request.user, token=token)
    except BilingualError as exc:
        problem, row = exc.zh, None
    context = {
        "activity": activity,
        "row": row,
        "new": new,
        "problem": problem,
        "me": me,
        "is_volunteer": Volunteer.objects.filter(person=me, active=True).exists(),
    }
    return render(request, "community/phone/activity_checkin.html", context,
                  status=409 if problem else 200)  # fmt: skip


@page
def phone_hours(request: HttpRequest) -> HttpResponse:
    """我的时长: my hours ledger and balance; a resident not yet a volunteer may register
    (aged 4–75; a minor is registered by staff with a guardian)."""
    me = _me(request)
    volunteer = Volunteer.objects.filter(person=me).prefetch_related("teams").first()
    lines: list[HoursEntry] = []
    if volunteer is not None:
        lines = list(
            HoursEntry.objects.filter(volunteer=volunteer)
            .select_related("activity")
            .order_by("-created_at", "-pk")[:100]
        )
    age = me.age
    context = {
        "me": me,
        "volunteer": volunteer,
        "lines": lines,
        "balance": vol.balance(volunteer) if volunteer else 0,
        "may_register": volunteer is None
        and age is not None
        and vol.ADULT_AGE <= age <= vol.MAX_AGE,
        "minor": age is not None and age < vol.ADULT_AGE,
        "activities": SignUp.objects.filter(person=me, cancelled_at__isnull=True,
                                            checked_in_at__isnull=False).count(),
    }  # fmt: skip
    return render(request, "community/phone/hours.html", context)


@require_POST
@page
def phone_register(request: HttpRequest) -> HttpResponse:
    """注册志愿者 (myself): the same rules as staff registration; a minor needs a guardian,
    so staff register minors."""
    me = _me(request)
    skills = request.POST.get("skills", "")[:400]
    from .volunteers_forms import split_labels

    try:
        vol.register_volunteer(actor=request.user, person=me, skills=split_labels(skills))
    except BilingualError as exc:
        messages.error(request, exc.zh)
    else:
        messages.success(request, "已注册为志愿者，签到的活动结束后将记入志愿时长")
    return redirect("community:phone_hours")
