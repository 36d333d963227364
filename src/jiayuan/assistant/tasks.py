"""Background jobs of the assistant (Huey, found by djhuey's autodiscovery of
``tasks``): each part keeps its jobs in its own module, imported here."""

from __future__ import annotations

from .wecom import jobs as wecom_jobs

__all__ = ["wecom_jobs"]
