from django.urls import path  # noqa: F401 - the part adds its pages

urlpatterns: list = []
