"""Staff pages of the volunteers (五色一彩): teams, volunteers with their hours ledger,
activities with sign-ups, the check-in QR code, check-in by hand, and closing with the
hours credited.

Views are thin: parse a form, call one action of :mod:`jiayuan.community.volunteering`,
render. Every list starts from the user's scope; a row outside it is a 404. Volunteers'
ID and phone numbers are shown masked; the clear numbers only through the person's
audited reveal (``people/partials/pii.html``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError, PermissionDenied
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, path_allowed
from jiayuan.core.views import page, scoped_get_or_404

from .. import photos, qr
from .. import volunteering as vol
from ..choices import ActivityKind, ActivityStatus, TeamColour
from ..models import Activity, HoursEntry, Photo, SignUp, Team, Volunteer
from .volunteers_forms import (
    ActivityForm,
    CloseForm,
    CorrectionForm,
    PersonForm,
    TeamForm,
    VolunteerEditForm,
    VolunteerForm,
    add_error,
    find_person,
    split_labels,
)

PER_PAGE = 30
MAX_PHOTOS = 6
COLOUR_CSS = {
    TeamColour.RED: "bg-red text-red-fg",
    TeamColour.GOLD: "bg-yellow text-yellow-fg",
    TeamColour.BLUE: "bg-blue text-blue-fg",
    TeamColour.GREEN: "bg-green text-green-fg",
    TeamColour.ORANGE: "bg-orange text-orange-fg",
    TeamColour.RAINBOW: "bg-purple text-purple-fg",
}
STATUS_CSS = {
    ActivityStatus.PLANNED: "bg-blue-lt",
    ActivityStatus.DONE: "bg-green-lt",
    ActivityStatus.CANCELLED: "bg-secondary-lt",
}


def require_serve(user: Any) -> None:
    """The volunteers' pages are for those who serve somewhere (Perm.SERVE)."""
    if not has_perm_anywhere(user, Perm.SERVE):
        raise PermissionDenied("仅社区工作人员可以使用", "for community staff only")


def decorate_teams(teams: list[Team]) -> list[Team]:
    for team in teams:
        team.colour_css = COLOUR_CSS.get(TeamColour(team.colour), "")  # type: ignore[attr-defined]
    return teams


def decorate_activities(activities: Any) -> Any:
    for a in activities:
        a.status_css = STATUS_CSS.get(ActivityStatus(a.status), "")
    return activities


# --- teams ---------------------------------------------------------------------------------
@page
def team_index(request: HttpRequest) -> HttpResponse:
    """志愿服务队: the teams of the user's scope by colour, each with its volunteers and
    activities, and the form to found one."""
    user = request.user
    require_serve(user)
    form = TeamForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            team = vol.create_team(
                actor=user, area=data["area"], name=data["name"], colour=data["colour"],
                description=data["description"],
            )  # fmt: skip
        except BilingualError as exc:
            add_error(form, exc)
        else:
            messages.success(request, f"已成立服务队：{team.name}")
            return redirect("community:volunteer_team", pk=team.pk)
    teams = decorate_teams(
        list(
            vol.teams_for(user)
            .select_related("area")
            .annotate(
                volunteer_count=Count("volunteers", distinct=True),
                activity_count=Count("activities", distinct=True),
            )
            .order_by("area_path", "colour", "name")[:200]
        )
    )
    by_colour = {c.value: 0 for c in TeamColour}
    for t in teams:
        by_colour[t.colour] += 1
    colours = [
        {"label": c.label, "count": by_colour[c.value], "css": COLOUR_CSS[c]} for c in TeamColour
    ]
    area_field: Any = form.fields["area"]
    context = {
        "teams": teams,
        "form": form,
        "colours": colours,
        "can_found": area_field.queryset.exists(),
    }
    return render(request, "community/volunteers/teams.html", context)


@page
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """服务队详情: its volunteers (masked numbers, hours) and its activities."""
    user = request.user
    require_serve(user)
    team = scoped_get_or_404(vol.teams_for(user).select_related("area", "leader"), pk=pk)
    decorate_teams([team])
    members = list(
        vol.with_balance(
            vol.volunteers_for(user).filter(teams=team).order_by("person__name", "pk")
        )[:200]
    )
    activities = decorate_activities(
        list(
            vol.with_signup_counts(vol.activities_for(user).filter(team=team)).order_by(
                "-starts_at", "-pk"
            )[:50]
        )
    )
    context = {"team": team, "members": members, "activities": activities}  # fmt: skip
    return render(request, "community/volunteers/team.html", context)


# --- volunteers ----------------------------------------------------------------------------
@page
def volunteer_index(request: HttpRequest) -> HttpResponse:
    """志愿者: the volunteers of the user's scope (name search, team filter) with their
    hours, and the registration form."""
    user = request.user
    require_serve(user)
    form = VolunteerForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            person = find_person(user, data["person"], "person")
            guardian = find_person(user, data["guardian"], "guardian") if data["guardian"] else None
            volunteer = vol.register_volunteer(
                actor=user, person=person, guardian=guardian, teams=list(data["teams"]),
                skills=split_labels(data["skills"]),
                availability=split_labels(data["availability"]),
            )  # fmt: skip
        except BilingualError as exc:
            add_error(form, exc)
        else:
            messages.success(request, f"已登记志愿者：{volunteer.person.name}")
            return redirect("community:volunteer", pk=volunteer.pk)
    qs = vol.volunteers_for(user)
    term = request.GET.get("q", "").strip()[:50]
    if term:
        qs = qs.filter(person__name__contains=term)
    team_id = request.GET.get("team", "")
    if team_id.isdigit() and len(team_id) < 12:
        qs = qs.filter(teams=int(team_id))
    qs = vol.with_balance(qs).prefetch_related("teams").order_by("area_path", "pk")
    page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    for v in page_obj:
        decorate_teams(list(v.teams.all()))
    context = {
        "volunteers": page_obj,
        "form": form,
        "q": term,
        "team": team_id,
        "teams": list(vol.teams_for(user).order_by("area_path", "name")[:200]),
    }
    return render(request, "community/volunteers/volunteers.html", context)


@page
def volunteer_export(request: HttpRequest) -> HttpResponse:
    """志愿者花名册 (Excel) of the user's scope, as filtered on the list; numbers masked,
    the export audited."""
    user = request.user
    require_serve(user)
    qs = vol.volunteers_for(user)
    term = request.GET.get("q", "").strip()[:50]
    if term:
        qs = qs.filter(person__name__contains=term)
    team_id = request.GET.get("team", "")
    if team_id.isdigit() and len(team_id) < 12:
        qs = qs.filter(teams=int(team_id))
    response = HttpResponse(
        vol.export_roster(user, qs),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    name = f"volunteers-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@page
def volunteer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """志愿者详情: masked numbers (reveal through the person's audited reveal), guardian,
    teams, and the hours ledger with its balance and the correction form."""
    user = request.user
    require_serve(user)
    volunteer = scoped_get_or_404(vol.volunteers_for(user).prefetch_related("teams"), pk=pk)
    lines = list(
        HoursEntry.objects.filter(volunteer=volunteer)
        .select_related("activity", "recorded_by")
        .order_by("-created_at", "-pk")[:100]
    )
    person = volunteer.person
    context = {
        "volunteer": volunteer,
        "person": person,
        "teams": decorate_teams(list(volunteer.teams.all())),
        "lines": lines,
        "balance": vol.balance(volunteer),
        "can_reveal": path_allowed(user, person.area_path, Perm.REVEAL_PII),
        "can_correct": path_allowed(user, volunteer.area_path, Perm.CHANGE),
        "form": CorrectionForm(),
        "edit_form": VolunteerEditForm(
            user,
            initial={
                "teams": [t.pk for t in volunteer.teams.all()],
                "skills": "，".join(volunteer.skills),
                "availability": "，".join(volunteer.availability),
                "active": volunteer.active,
            },
        ),
        "can_edit": path_allowed(user, volunteer.area_path, Perm.SERVE),
    }
    return render(request, "community/volunteers/volunteer.html", context)


@require_POST
@page
def volunteer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """修改志愿者: teams, skills, availability, standing (在册)."""
    user = request.user
    volunteer = scoped_get_or_404(vol.volunteers_for(user), pk=pk)
    form = VolunteerEditForm(user, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            vol.update_volunteer(
                volunteer, actor=user, teams=list(data["teams"]),
                skills=split_labels(data["skills"]),
                availability=split_labels(data["availability"]), active=data["active"],
            )  # fmt: skip
        except BilingualError as exc:
            messages.error(request, exc.zh)
        else:
            messages.success(request, "已保存")
    else:
        messages.error(request, "；".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("community:volunteer", pk=volunteer.pk)


@require_POST
@page
def volunteer_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """更正时长: a new ledger line with its reason."""
    user = request.user
    volunteer = scoped_get_or_404(vol.volunteers_for(user), pk=pk)
    form = CorrectionForm(request.POST)
    if form.is_valid():
        try:
            vol.correct_hours(volunteer, actor=user, hours=form.cleaned_data["hours"],
                              reason=form.cleaned_data["reason"])  # fmt: skip
        except BilingualError as exc:
            messages.error(request, exc.zh)
        else:
            messages.success(request, "已记入时长更正")
    else:
        messages.error(request, "；".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("community:volunteer", pk=volunteer.pk)


# --- activities ----------------------------------------------------------------------------
@page
def activity_index(request: HttpRequest) -> HttpResponse:
    """服务活动: the activities of the user's scope (by status), with sign-ups and
    check-ins, and the form to plan one."""
    user = request.user
    require_serve(user)
    form = ActivityForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            activity = vol.create_activity(
                actor=user, area=data["area"], title=data["title"], kind=data["kind"],
                starts_at=data["starts_at"], ends_at=data["ends_at"], capacity=data["capacity"],
                hours=data["hours"], team=data["team"], position=data["position"],
                place=data["place"], target_groups=split_labels(data["target_groups"]),
                room_id=data["room"].pk if data["room"] else None,
            )  # fmt: skip
        except BilingualError as exc:
            add_error(form, exc)
        else:
            messages.success(request, f"已发布活动：{activity.title}")
            return redirect("community:activity", pk=activity.pk)
    status = request.GET.get("status", "")
    qs = vol.with_signup_counts(vol.activities_for(user))
    if status in ActivityStatus.values:
        qs = qs.filter(status=status)
    kind = request.GET.get("kind", "")
    if kind in ActivityKind.values:
        qs = qs.filter(kind=kind)
    page_obj = Paginator(qs.order_by("-starts_at", "-pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    decorate_activities(page_obj)
    context = {
        "activities": page_obj,
        "form": form,
        "status": status,
        "kind": kind,
        "statuses": ActivityStatus.choices,
        "kinds": ActivityKind.choices,
        "show_form": request.method == "POST" or request.GET.get("new") == "1",
    }
    return render(request, "community/volunteers/activities.html", context)


def _activity(user: Any, pk: int) -> Activity:
    return scoped_get_or_404(
        vol.with_signup_counts(vol.activities_for(user)).prefetch_related(
            Prefetch(
                "signups",
                queryset=SignUp.objects.select_related("person").order_by("signed_up_at", "pk"),
            )
        ),
        pk=pk,
    )


@page
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """活动详情: place, time, capacity; the sign-ups with check-in by hand; the check-in QR
    code (the phone URL with the activity's secret token); closing with the report."""
    user = request.user
    require_serve(user)
    activity = decorate_activities([_activity(user, pk)])[0]
    signups = list(activity.signups.all())
    volunteer_ids = set(
        Volunteer.objects.filter(
            person_id__in=[s.person_id for s in signups], active=True
        ).values_list("person_id", flat=True)
    )
    for s in signups:
        s.is_volunteer = s.person_id in volunteer_ids  # type: ignore[attr-defined]
    may_serve = path_allowed(user, activity.area_path, Perm.SERVE)
    planned = activity.status == ActivityStatus.PLANNED
    show_qr = may_serve and planned and bool(activity.checkin_token)
    checkin_url = (
        request.build_absolute_uri(
            reverse("community:phone_activity_checkin", args=[activity.pk, activity.checkin_token])
        )
        if show_qr
        else ""
    )
    credited = list(
        HoursEntry.objects.filter(activity=activity).select_related("volunteer__person")[:500]
    )
    context = {
        "activity": activity,
        "signups": [s for s in signups if s.cancelled_at is None],
        "cancelled": [s for s in signups if s.cancelled_at is not None],
        "may_serve": may_serve,
        "planned": planned,
        "show_qr": show_qr,
        "checkin_url": checkin_url,
        "qr": qr.svg_data_uri(checkin_url) if show_qr else "",
        "close_form": CloseForm(),
        "person_form": PersonForm(),
        "credited": credited,
        "now": timezone.now(),
        "photos": _photos(activity),
    }
    return render(request, "community/volunteers/activity.html", context)


def _photos(activity: Activity) -> list[Any]:
    return list(activity.photos.order_by("pk")[:12])


def _done(request: HttpRequest, pk: int, ok: str, action: Any) -> HttpResponse:
    try:
        action()
    except BilingualError as exc:
        messages.error(request, exc.zh)
    else:
        messages.success(request, ok)
    return redirect("community:activity", pk=pk)


@require_POST
@page
def activity_signup(request: HttpRequest, pk: int) -> HttpResponse:
    """代报名: staff sign a resident of their scope up (capacity holds)."""
    user = request.user
    activity = _activity(user, pk)
    form = PersonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请输入居民身份证号、手机号或姓名")
        return redirect("community:activity", pk=pk)
    return _done(
        request, pk, "已代为报名",
        lambda: vol.sign_up(activity, actor=user,
                            person=find_person(user, form.cleaned_data["person"], "person")),
    )  # fmt: skip


@require_POST
@page
def activity_checkin(request: HttpRequest, pk: int, signup: int) -> HttpResponse:
    """手工签到: staff check a signed-up person in."""
    user = request.user
    activity = _activity(user, pk)
    row = scoped_get_or_404(SignUp.objects.select_related("person"), pk=signup, activity=activity)
    return _done(
        request, pk, f"{row.person.name} 已签到",
        lambda: vol.check_in(activity, actor=user, person=row.person),
    )  # fmt: skip


@require_POST
@page
def activity_close(request: HttpRequest, pk: int) -> HttpResponse:
    """结束活动并记录时长; photos uploaded with the report are kept with the activity."""
    user = request.user
    activity = _activity(user, pk)
    form = CloseForm(request.POST)
    report = form.cleaned_data["report"] if form.is_valid() else ""

    def close() -> None:
        with transaction.atomic():  # a refused photo leaves the activity open
            vol.close_activity(activity, actor=user, report=report)
            save_photos(request, activity)

    return _done(request, pk, "活动已结束，志愿时长已记入", close)


def save_photos(request: HttpRequest, activity: Activity) -> None:
    """Keep the uploaded photos (at most six) with the activity."""
    for upload in request.FILES.getlist("photos")[:MAX_PHOTOS]:
        photos.save_photo(upload, actor=request.user, activity=activity)


@page
def activity_photo(request: HttpRequest, pk: int, photo: int) -> HttpResponse:
    """A photo of an activity, served after the scope check."""
    activity = scoped_get_or_404(vol.activities_for(request.user), pk=pk)
    row = scoped_get_or_404(Photo.objects.filter(activity=activity), pk=photo)
    return photos.response(request, row)  # type: ignore[return-value]  # a streamed file


@require_POST
@page
def activity_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """取消活动."""
    user = request.user
    activity = _activity(user, pk)
    reason = request.POST.get("reason", "")[:200]
    return _done(
        request, pk, "活动已取消", lambda: vol.cancel_activity(activity, actor=user, reason=reason)
    )
