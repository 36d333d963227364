from django.urls import path

from . import views

urlpatterns = [
    path("areas/", views.area_index, name="area_index"),
    path("areas/<int:pk>/", views.area_detail, name="area"),
]
