"""Addresses of the community pages: the services dashboard."""

from django.urls import path

from .dashboard import dashboard_page

urlpatterns = [
    path("community/dashboard/", dashboard_page, name="dashboard"),
]
