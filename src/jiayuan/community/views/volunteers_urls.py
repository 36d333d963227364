"""Addresses of the community pages: volunteers."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
