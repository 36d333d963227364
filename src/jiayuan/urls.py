from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("jiayuan.core.urls")),
    path("", include("jiayuan.org.urls")),
    path("", include("jiayuan.people.urls")),
]

handler404 = "jiayuan.core.views.not_found"
