"""Addresses of the 政策找人 pages (app ``policies``)."""

from django.urls import path

from . import views

app_name = "policies"

urlpatterns = [
    path("policies/", views.policy_index, name="index"),
    path("policies/visits/", views.visits, name="visits"),
    path("policies/dashboard/", views.dashboard, name="dashboard"),
    path("policies/matches/<int:pk>/", views.match_detail, name="match"),
    path("policies/matches/<int:pk>/visit/", views.match_visit, name="visit"),
    path("policies/<slug:code>/", views.policy_detail, name="detail"),
    path("policies/<slug:code>/edit/", views.policy_edit, name="edit"),
    path("policies/<slug:code>/validate/", views.policy_validate, name="validate"),
    path("policies/<slug:code>/count/", views.policy_rule_count, name="rule_count"),
]
