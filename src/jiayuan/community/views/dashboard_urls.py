"""Addresses of the community pages: the services dashboard."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
