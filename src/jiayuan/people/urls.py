from django.urls import path

from . import area_views, views

urlpatterns = [
    # "/" is answered first by the command app's desk, which shows these counts under the
    # day's work; this entry keeps the name "home" (navigation, LOGIN_REDIRECT_URL).
    path("", views.home, name="home"),
    path("areas/", area_views.area_index, name="area_index"),
    path("areas/<int:pk>/", area_views.area_detail, name="area"),
    path("persons/<int:pk>/", views.person_detail, name="person"),
    path("persons/<int:pk>/reveal/", views.person_reveal, name="person_reveal"),
    path("search/", views.search, name="search"),
]
