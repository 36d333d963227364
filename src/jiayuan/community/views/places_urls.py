"""Addresses of the community pages: service positions, rooms and bookings, the rooms'
usage and the community's calendar."""

from django.urls import path

from . import places

urlpatterns = [
    path("community/places/", places.place_index, name="places"),
    path("community/places/<int:pk>/", places.place_detail, name="place"),
    path("community/rooms/usage/", places.room_usage, name="room_usage"),
    path("community/rooms/<int:pk>/", places.room_detail, name="room"),
    path("community/rooms/<int:pk>/book/", places.room_book, name="room_book"),
    path("community/bookings/<int:pk>/cancel/", places.booking_cancel, name="booking_cancel"),
    path("community/calendar/", places.calendar_page, name="calendar"),
]
