"""Every database test runs inside the tiny demo county, seeded once per session.

Tests run in a transaction that is rolled back, so they may change the world freely.
Tests that need ``transactional_db`` would flush it: use a live server subprocess
instead (see tests/browser/conftest.py).
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    from jiayuan.demo.seed import seed_demo

    with django_db_blocker.unblock():
        seed_demo(scale="tiny", seed=7, progress=False)
