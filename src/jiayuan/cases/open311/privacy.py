"""What leaves through Open311 and what never does: free text scrubbed of phones, ID
numbers, e-mail addresses and reporters' names; places shown down to the building,
never the door."""

from __future__ import annotations

import re
from collections.abc import Iterable

from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from ..choices import Level
from ..models import Case

# --- privacy ------------------------------------------------------------------------------
_SCRUB = [
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),  # e-mail
    re.compile(r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}\d{7}[0-9Xx](?![0-9A-Za-z])"),  # ID
    re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)"),  # mobile
    re.compile(r"(?<!\d)1[3-9]\d\*{4}\d{4}(?!\d)"),  # masked mobile
    re.compile(r"(?<![\d-])0\d{2,3}-?\d{7,8}(?!\d)"),  # landline
]
HIDDEN = "***"


def scrub(text: str, names: Iterable[str] = ()) -> str:
    """``text`` without contact details, ID numbers or the given personal names."""
    for pattern in _SCRUB:
        text = pattern.sub(HIDDEN, text)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len)[::-1]:
        text = text.replace(name, HIDDEN)
    return text


def _personal_names(case: Case) -> list[str]:
    names = [case.reporter_name]
    if case.reporter_id is not None and case.reporter is not None:
        names.append(case.reporter.name)
    return names


# What the timeline may say in public for each action. Notes of these actions are
# generated with staff names or carry the resident's own words, so a fixed text is
# shown instead; other public notes are staff explanations and are shown scrubbed.
GENERIC_NOTES = {
    "receive": "已受理",
    "dispatch": "已派单，等待接单",
    "accept": "已接单",
    "start": "办理中",
    "resume": "恢复办理",
    "visit": "已回访",
    "reopen": "重新办理",
}


# Depth of each kind of area in a path: 370830/001/003/02/01/05/02/
DEPTH = {
    AreaKind.STREET: 2,
    AreaKind.COMMUNITY: 3,
    AreaKind.ZONE: 4,
    AreaKind.GRID: 5,
    AreaKind.BUILDING: 6,
    AreaKind.UNIT: 7,
}


# --- places -------------------------------------------------------------------------------
def _prefix(path: str, depth: int) -> str:
    parts = path.rstrip("/").split("/")
    return "/".join(parts[:depth]) + "/" if len(parts) >= depth else ""


class Places:
    """Area names by path, fetched in one query for a page of requests."""

    def __init__(self) -> None:
        self.wanted: set[str] = set()
        self.names: dict[str, str] = {}

    def want(self, *paths: str) -> None:
        self.wanted.update(p for p in paths if p)

    def load(self) -> None:
        missing = self.wanted - self.names.keys()
        if missing:
            self.names.update(Area.objects.filter(path__in=missing).values_list("path", "name"))

    def join(self, *paths: str) -> str:
        return "".join(self.names.get(p, "") for p in paths if p)


def _address_paths(case: Case) -> list[str]:
    """The areas that name a request's place in public: community, zone, and the building
    of its dwelling (never the unit or the door) or else its grid."""
    if case.dwelling_id is not None and case.dwelling is not None:
        base = case.dwelling.area_path
        return [_prefix(base, d) for d in (3, 4, 6)]
    return [_prefix(case.grid.path, d) for d in (3, 4, 5)]


def _agency_paths(case: Case) -> list[str]:
    if case.level in (Level.GRID, Level.ZONE):
        return [_prefix(case.owner_area.path, 3), case.owner_area.path]
    return [case.owner_area.path]
