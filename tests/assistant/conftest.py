"""Shared fixtures of the assistant's tests: the community services' fixtures (the demo
accounts as users and as logged-in API and page clients, the compounds of the tiny
county with the ``resident`` account's person) and the assistant's own, added below by
each part."""

from __future__ import annotations

from tests.community.conftest import (  # noqa: F401 - fixtures, used by name
    Api,
    Compounds,
    api_as,
    compounds,
    login,
    page_as,
    users,
)
