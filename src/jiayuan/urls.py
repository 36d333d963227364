from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from .api import api

urlpatterns = [
    path("api/v1/", api.urls),
    # The issue names these addresses; the versioned API documents itself under /api/v1/.
    path("api/docs", RedirectView.as_view(url="/api/v1/docs")),
    path("api/openapi.json", RedirectView.as_view(url="/api/v1/openapi.json")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("open311/v2/", include("jiayuan.cases.open311_urls")),
    path("", include("jiayuan.core.urls")),
    # before people: the command app's desk (工作台) answers "/", people's entry names it "home"
    path("", include("jiayuan.command.urls")),
    path("", include("jiayuan.people.urls")),
    path("", include("jiayuan.cases.urls")),
    path("", include("jiayuan.policies.urls")),
    path("", include("jiayuan.iot.urls")),
    path("", include("jiayuan.datahub.urls")),
    path("", include("jiayuan.community.urls")),
    path("", include("jiayuan.partners.urls")),
    path("", include("jiayuan.assistant.urls")),
]

handler404 = "jiayuan.core.views.not_found"
