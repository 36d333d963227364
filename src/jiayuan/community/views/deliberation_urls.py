"""Addresses of the community pages: deliberation (the desk under /community/deliberation/,
the resident's phone pages under /m/topics/)."""

from django.urls import path

from . import deliberation as desk
from . import deliberation_phone as phone

ACTION = "<slug:action>"

urlpatterns = [
    path("community/deliberation/", desk.desk, name="deliberation"),
    path("community/deliberation/new/", desk.topic_new, name="deliberation_new"),
    path("community/deliberation/topics/<int:pk>/", desk.topic_page, name="deliberation_topic"),
    path(
        f"community/deliberation/topics/<int:pk>/act/{ACTION}/",
        desk.topic_act,
        name="deliberation_topic_act",
    ),
    path(
        "community/deliberation/meetings/<int:pk>/",
        desk.meeting_page,
        name="deliberation_meeting",
    ),
    path(
        f"community/deliberation/meetings/<int:pk>/act/{ACTION}/",
        desk.meeting_act,
        name="deliberation_meeting_act",
    ),
    path("m/topics/", phone.phone_topics, name="phone_topics"),
    path("m/topics/<int:pk>/", phone.phone_topic, name="phone_topic"),
    path("m/topics/<int:pk>/vote/", phone.phone_topic_vote, name="phone_topic_vote"),
]
