"""Addresses of the one screen's live stream (server-sent events) and map layers."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
