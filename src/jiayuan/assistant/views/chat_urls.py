from django.urls import path

from . import chat

urlpatterns: list = [
    path("m/ask/", chat.phone_ask, name="phone_ask"),
    path("m/ask/<str:pk>/handoff/", chat.phone_handoff, name="phone_ask_handoff"),
    path("m/ask/entries/<str:key>/", chat.phone_entry, name="phone_ask_entry"),
    path("assistant/", chat.desk_chat, name="desk"),
    path("assistant/asks/", chat.asks_log, name="asks"),
]
