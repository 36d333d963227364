"""Addresses of the one screen's live stream (server-sent events); its map layers are
served by the API (``jiayuan.command.live_api``: ``/api/v1/screen/layers``)."""

from django.urls import URLPattern, URLResolver, path

from . import live_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("command/screen/<int:area_id>/live/", live_views.screen_live, name="screen_live"),
]
