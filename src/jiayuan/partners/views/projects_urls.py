"""Addresses of the partners app's projects pages (included by partners.urls)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
