"""Shared fixtures of the red partners' tests: the community services' fixtures (the
demo accounts as users and as logged-in API and page clients, the compounds of the tiny
county, a private media root, a small JPEG) and the partners' own, added below by each
part."""

from __future__ import annotations

from tests.community.conftest import (  # noqa: F401 - fixtures, used by name
    Api,
    Compounds,
    api_as,
    compounds,
    jpeg,
    login,
    media,
    page_as,
    users,
)

COMMUNITY = "370830/001/001/"  # the ``community`` account's community
OTHER_COMMUNITY = "370830/001/002/"
