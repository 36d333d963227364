from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("persons/<int:pk>/", views.person_detail, name="person"),
    path("persons/<int:pk>/reveal/", views.person_reveal, name="person_reveal"),
    path("search/", views.search, name="search"),
]
