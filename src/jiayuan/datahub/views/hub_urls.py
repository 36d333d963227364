"""Addresses of the import pages (数据汇聚), all under /hub/."""

from django.urls import path

from . import hub

urlpatterns = [
    path("hub/", hub.sources, name="hub"),
    path("hub/sources/<slug:code>/upload/", hub.upload, name="upload"),
    path("hub/runs/", hub.runs, name="runs"),
    path("hub/runs/<int:pk>/", hub.run, name="run"),
    path("hub/runs/<int:pk>/rejects/", hub.rejects, name="rejects"),
    path("hub/runs/<int:pk>/rejects.xlsx", hub.rejects_export, name="rejects_export"),
]
