"""Background jobs of red partners (Huey, found by djhuey's autodiscovery of ``tasks``):
each part keeps its jobs in its own module, imported here so the consumer registers them."""

from __future__ import annotations

from . import agreement_jobs, registry_jobs, supervision_jobs

__all__ = ["agreement_jobs", "registry_jobs", "supervision_jobs"]
