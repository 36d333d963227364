"""Addresses of the partners app's registry pages (included by partners.urls)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
