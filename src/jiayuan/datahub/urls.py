"""Pages of the data hub: the import pages, the review queue and the one table."""

from django.urls import include, path

app_name = "datahub"

urlpatterns = [
    path("", include("jiayuan.datahub.views.hub_urls")),
    path("", include("jiayuan.datahub.views.review_urls")),
    path("", include("jiayuan.datahub.reports.urls")),
]
