"""Pages of the community services: staff pages under /community/, the resident's phone
pages under /m/."""

from django.urls import include, path

app_name = "community"

urlpatterns = [
    path("", include("jiayuan.community.views.wishes_urls")),
    path("", include("jiayuan.community.views.deliberation_urls")),
    path("", include("jiayuan.community.views.volunteers_urls")),
    path("", include("jiayuan.community.views.places_urls")),
    path("", include("jiayuan.community.views.markets_urls")),
    path("", include("jiayuan.community.views.dashboard_urls")),
]
