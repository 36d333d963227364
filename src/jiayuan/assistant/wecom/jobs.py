"""Periodic jobs of the WeCom part (broadcasts due, deliveries paced)."""

from __future__ import annotations
