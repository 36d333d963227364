"""Addresses of the one table's pages, under /reports/."""

from django.urls import path

from . import views

urlpatterns = [
    path("reports/", views.index, name="reports"),
    path("reports/build/", views.build, name="report_build"),
    path("reports/build/export.xlsx", views.export, name="report_export"),
    path("reports/save/", views.save, name="report_save"),
    path("reports/t/<slug:code>/", views.template_report, name="report_template"),
]
