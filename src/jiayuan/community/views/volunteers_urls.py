"""Addresses of the community pages: volunteers (staff under /community/, the resident's
phone pages under /m/)."""

from django.urls import path

from . import volunteers as staff
from . import volunteers_phone as phone

urlpatterns = [
    path("community/teams/", staff.team_index, name="volunteer_teams"),
    path("community/teams/<int:pk>/", staff.team_detail, name="volunteer_team"),
    path("community/volunteers/", staff.volunteer_index, name="volunteers"),
    path("community/volunteers/export.xlsx", staff.volunteer_export, name="volunteers_export"),
    path("community/volunteers/<int:pk>/", staff.volunteer_detail, name="volunteer"),
    path(
        "community/volunteers/<int:pk>/correct/",
        staff.volunteer_correct,
        name="volunteer_correct",
    ),
    path("community/volunteers/<int:pk>/edit/", staff.volunteer_edit, name="volunteer_edit"),
    path("community/activities/", staff.activity_index, name="activities"),
    path("community/activities/<int:pk>/", staff.activity_detail, name="activity"),
    path("community/activities/<int:pk>/signup/", staff.activity_signup, name="activity_signup"),
    path(
        "community/activities/<int:pk>/checkin/<int:signup>/",
        staff.activity_checkin,
        name="activity_checkin",
    ),
    path("community/activities/<int:pk>/close/", staff.activity_close, name="activity_close"),
    path(
        "community/activities/<int:pk>/photos/<int:photo>/",
        staff.activity_photo,
        name="activity_photo",
    ),
    path("community/activities/<int:pk>/cancel/", staff.activity_cancel, name="activity_cancel"),
    path("m/activities/", phone.phone_activities, name="phone_activities"),
    path("m/activities/<int:pk>/", phone.phone_activity, name="phone_activity"),
    path(
        "m/activities/<int:pk>/signup/", phone.phone_activity_signup, name="phone_activity_signup"
    ),
    path(
        "m/activities/<int:pk>/cancel/", phone.phone_activity_cancel, name="phone_activity_cancel"
    ),
    path(
        "m/activities/<int:pk>/checkin/<str:token>/",
        phone.phone_activity_checkin,
        name="phone_activity_checkin",
    ),
    path("m/hours/", phone.phone_hours, name="phone_hours"),
    path("m/hours/register/", phone.phone_register, name="phone_volunteer_register"),
]
