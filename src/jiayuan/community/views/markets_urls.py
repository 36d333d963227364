"""Addresses of the community pages: public-welfare markets, the service catalogue and
the co-building units."""

from django.urls import path

from . import markets

urlpatterns = [
    path("community/markets/", markets.market_index, name="markets"),
    path("community/markets/new/", markets.market_new, name="market_new"),
    path("community/markets/catalogue/", markets.market_catalogue, name="market_catalogue"),
    path("community/markets/<int:pk>/", markets.market_detail, name="market"),
    path("community/markets/<int:pk>/stalls/", markets.market_stall, name="market_stall"),
    path("community/markets/<int:pk>/visitors/", markets.market_visitors, name="market_visitors"),
    path(
        "community/markets/<int:pk>/photos/", markets.market_photo_upload, name="market_photo_new"
    ),
    path(
        "community/markets/<int:pk>/photos/<int:photo_pk>/",
        markets.market_photo,
        name="market_photo",
    ),
    path("community/units/", markets.unit_index, name="units"),
    path("community/units/new/", markets.unit_new, name="unit_new"),
]
