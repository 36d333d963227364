"""Addresses of the command app's desk pages (included by command.urls): the desk
answers ``/`` (jiayuan.urls includes the command app before people, whose entry keeps the
name ``home`` for ``{% url 'home' %}`` and ``LOGIN_REDIRECT_URL``)."""

from django.urls import URLPattern, URLResolver, path

from . import desk_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", desk_views.desk, name="home"),
]
