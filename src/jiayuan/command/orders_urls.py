"""Addresses of the command app's orders pages (included by command.urls): the worker's
order queue on the phone and its one-tap 接单."""

from django.urls import URLPattern, URLResolver, path

from . import orders_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("m/orders/", orders_views.phone_orders, name="phone_orders"),
    path("m/orders/<int:case_id>/accept/", orders_views.phone_accept, name="phone_accept"),
]
