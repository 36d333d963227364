"""Addresses of the command app's screen pages (included by command.urls)."""

from django.urls import URLPattern, URLResolver, path

from . import screen_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("command/screen/", screen_views.screen_root, name="screen"),
    path("command/screen/<int:area_id>/", screen_views.screen, name="screen_area"),
]
