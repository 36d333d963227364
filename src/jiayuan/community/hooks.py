"""What the community app registers with the shared pieces when Django starts."""

from __future__ import annotations


def connect() -> None:
    """Connect each part's receivers and registrations."""
