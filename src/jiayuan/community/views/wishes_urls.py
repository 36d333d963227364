"""Addresses of the community pages: wishes (staff under /community/, the resident's
phone pages under /m/wishes/) and the compounds' demand lists."""

from django.urls import path

from . import phone_wishes as phone
from . import wishes as staff

ACTIONS = "<slug:action>"

urlpatterns = [
    path("community/wishes/", staff.wish_index, name="wishes"),
    path("community/wishes/new/", staff.wish_new, name="wish_new"),
    path("community/wishes/<int:pk>/", staff.wish_detail, name="wish_detail"),
    path(f"community/wishes/<int:pk>/act/{ACTIONS}/", staff.wish_act, name="wish_act"),
    path("community/wishes/<int:pk>/photos/<int:photo_pk>/", staff.wish_photo, name="wish_photo"),
    path("community/demands/", staff.demand_index, name="demands"),
    path("community/compounds/<int:area_id>/demands/", staff.demand_page, name="demand_list"),
    path("m/wishes/", phone.phone_wishes, name="phone_wishes"),
    path("m/wishes/new/", phone.phone_wish_new, name="phone_wish_new"),
    path("m/wishes/<int:pk>/", phone.phone_wish, name="phone_wish"),
    path(f"m/wishes/<int:pk>/act/{ACTIONS}/", phone.phone_wish_act, name="phone_wish_act"),
    path(
        "m/wishes/<int:pk>/photos/<int:photo_pk>/",
        phone.phone_wish_photo,
        name="phone_wish_photo",
    ),
]
