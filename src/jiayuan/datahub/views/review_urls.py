"""Addresses of the review queue (待核对记录)."""

from django.urls import path

from . import review

urlpatterns = [
    path("hub/reviews/", review.review_index, name="reviews"),
    path("hub/reviews/<int:pk>/", review.review_detail, name="review"),
    path(
        "hub/reviews/<int:pk>/<str:decision>/",
        review.review_decide,
        name="review_decide",
    ),
]
