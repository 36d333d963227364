"""Reading the area tree's materialised paths (``370830/001/003/02/01/``) without a query."""

from __future__ import annotations

from .choices import AREA_ORDER, AreaKind

#: The number of codes in the path of an area of each kind: county 1, street 2, …, unit 7.
KIND_DEPTH: dict[str, int] = {kind: i + 1 for i, kind in enumerate(AREA_ORDER)}


def ancestor_path(path: str, kind: str) -> str:
    """The path of the area of ``kind`` that contains ``path`` (itself if it is one);
    ``ValueError`` when ``path`` lies above that kind."""
    parts = path.rstrip("/").split("/")
    depth = KIND_DEPTH[AreaKind(kind)]
    if len(parts) < depth:
        raise ValueError(f"{path} lies above a {kind}")
    return "/".join(parts[:depth]) + "/"


def paths_above(path: str) -> list[str]:
    """``path`` and the paths of every area above it: ``370830/001/001/`` →
    ``["370830/", "370830/001/", "370830/001/001/"]``."""
    return [path[: i + 1] for i, ch in enumerate(path) if ch == "/"]
