"""Addresses of the request-loop pages: staff pages under /cases/, the resident's
report page and tracking link without login."""

from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("cases/", views.case_index, name="index"),
    path("cases/new/", views.case_new, name="new"),
    path("cases/new/dwellings/", views.dwelling_options, name="dwellings"),
    path("cases/map/", views.case_map, name="map"),
    path("cases/indicators/", views.indicators, name="indicators"),
    path("cases/indicators/export.xlsx", views.indicators_export, name="indicators_export"),
    path("cases/<int:pk>/", views.case_detail, name="detail"),
    path("cases/<int:pk>/act/<slug:action>/", views.case_act, name="act"),
    path("cases/<int:pk>/photos/<int:photo_pk>/", views.case_photo, name="photo"),
    # The resident's pages: no login; the tracking token is the only key.
    path("report/", views.report, name="report"),
    path("track/<str:token>/", views.track, name="track"),
    path("track/<str:token>/visit/", views.track_visit, name="track_visit"),
    path("track/<str:token>/photos/<int:photo_pk>/", views.track_photo, name="track_photo"),
]
