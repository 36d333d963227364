"""The API tests' fixtures (demo-account clients, the scope matrix's places)."""

from tests.api.conftest import api_as, world

__all__ = ["api_as", "world"]
