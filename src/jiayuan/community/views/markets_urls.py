"""Addresses of the community pages: markets."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
