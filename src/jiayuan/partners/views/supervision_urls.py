"""Addresses of the partners app's supervision pages (included by partners.urls)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
