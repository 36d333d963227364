"""Addresses of the community pages: places."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
