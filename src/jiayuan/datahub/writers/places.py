"""Placing an agency's address in the area tree (地址落位).

Agencies write addresses as the demo county's tree names them: ``永续社区阳光花园3号楼
2单元301室`` — community (社区), zone (小区/片区), building (楼栋), unit (单元), room (门牌).
The community may be missing (the zone's name is then looked up in the whole county, and
used when it is unique there), and spaces or a street prefix are ignored.

The area names of the county are read once per import run (one query; a few ten
thousand rows at county scale) and the dwellings of a whole batch in one more query.
A person is placed at a dwelling's unit (as the seed places residents), or at a unit
or building when the address stops there; an address that names only a community or a
zone places nobody (a person lives in a grid, building or unit), but still tells the
community, which entity resolution blocks on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Max

from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling

_BUILDING = re.compile(r"(\d+)\s*(?:号楼|栋|幢|号)")
_UNIT = re.compile(r"(\d+)\s*单元")
_ROOM = re.compile(r"(\d+)\s*(?:室|号房|户)?\s*$")


@dataclass(frozen=True)
class Place:
    """Where an address puts a person; ``area_id`` is 0 when it is not placeable."""

    community_path: str
    area_id: int = 0
    area_path: str = ""
    dwelling_id: int | None = None
    label: str = ""  # the address as the tree names it (for comparing addresses)

    @property
    def placeable(self) -> bool:
        return self.area_id > 0


@dataclass(frozen=True)
class _Node:
    pk: int
    kind: str
    name: str
    path: str
    parent_id: int | None


def community_of(path: str) -> str:
    """The community part of an area path (``370830/001/003/``), or ``""`` above it."""
    parts = path.split("/")
    return "/".join(parts[:3]) + "/" if len(parts) > 3 else ""


class AreaIndex:
    """The county's named areas, read once: communities, zones, buildings, units."""

    def __init__(self) -> None:
        kinds = (AreaKind.COMMUNITY, AreaKind.ZONE, AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT)
        rows = (
            Area.objects.filter(kind__in=kinds)
            .order_by()
            .values_list("pk", "kind", "name", "path", "parent_id")
        )
        self.nodes: dict[int, _Node] = {}
        self.by_path: dict[str, _Node] = {}
        self.communities: list[_Node] = []
        self.zones_by_name: dict[str, list[_Node]] = {}
        self.children: dict[tuple[str, str], _Node] = {}  # (zone/building path, name)
        for pk, kind, name, path, parent in rows:
            node = _Node(pk, kind, name, path, parent)
            self.nodes[pk] = node
            self.by_path[path] = node
            if kind == AreaKind.COMMUNITY:
                self.communities.append(node)
            elif kind == AreaKind.ZONE:
                self.zones_by_name.setdefault(name, []).append(node)
        for node in self.nodes.values():
            if node.kind == AreaKind.BUILDING:
                zone = self._zone_of(node.path)
                if zone is not None:
                    self.children[(zone, node.name)] = node
            elif node.kind == AreaKind.UNIT and node.parent_id in self.nodes:
                self.children[(self.nodes[node.parent_id].path, node.name)] = node
        # longest names first, so 东和园社区 is not read as a shorter name inside it
        self.communities.sort(key=lambda n: -len(n.name))
        self.zone_names = sorted(self.zones_by_name, key=len, reverse=True)

    def _zone_of(self, path: str) -> str | None:
        parts = path.split("/")
        return "/".join(parts[:4]) + "/" if len(parts) > 4 else None

    def community_named(self, text: str) -> _Node | None:
        return next((c for c in self.communities if c.name in text), None)

    def locate(self, text: str) -> tuple[str, _Node | None, str | None]:
        """``(community path, deepest area named, room number)`` of an address."""
        compact = re.sub(r"\s+", "", text or "")
        if not compact:
            return "", None, None
        community = self.community_named(compact)
        zone: _Node | None = None
        for name in self.zone_names:
            if name not in compact:
                continue
            found = self.zones_by_name[name]
            if community is not None:
                found = [z for z in found if z.path.startswith(community.path)]
            if len(found) == 1:
                zone = found[0]
                break
        if zone is None:
            return (community.path if community else ""), community, None
        comm_path = community_of(zone.path)
        rest = compact[compact.index(zone.name) + len(zone.name) :]
        building_match = _BUILDING.search(rest)
        if building_match is None:
            return comm_path, zone, None
        building = self.children.get((zone.path, f"{int(building_match.group(1))}号楼"))
        if building is None:
            return comm_path, zone, None
        rest = rest[building_match.end() :]
        unit_match = _UNIT.search(rest)
        if unit_match is None:
            return comm_path, building, None
        unit = self.children.get((building.path, f"{int(unit_match.group(1))}单元"))
        if unit is None:
            return comm_path, building, None
        room = _ROOM.search(rest[unit_match.end() :])
        return comm_path, unit, room.group(1) if room else None

    def label(self, node: _Node, room: str | None) -> str:
        """The address as the tree spells it (community … unit, room)."""
        parts: list[str] = []
        path = node.path
        while path:
            n = self.by_path.get(path)
            if n is not None and n.kind != AreaKind.GRID:
                parts.append(n.name)
            path = "/".join(path.rstrip("/").split("/")[:-1])
            path = f"{path}/" if path else ""
            if n is not None and n.kind == AreaKind.COMMUNITY:
                break
        text = "".join(reversed(parts))
        return f"{text}{room}室" if room else text


def place_all(index: AreaIndex, addresses: Iterable[str]) -> dict[str, Place]:
    """Every distinct address of a batch placed: one query for their dwellings."""
    located: dict[str, tuple[str, _Node | None, str | None]] = {}
    for text in addresses:
        if text and text not in located:
            located[text] = index.locate(text)
    wanted = {(node.pk, room) for _c, node, room in located.values()
              if node is not None and node.kind == AreaKind.UNIT and room}  # fmt: skip
    dwellings: dict[tuple[int, str], int] = {}
    if wanted:
        rows = Dwelling.objects.filter(
            unit_id__in={u for u, _r in wanted}, number__in={r for _u, r in wanted}
        ).values_list("unit_id", "number", "pk")
        dwellings = {(unit, number): pk for unit, number, pk in rows}
    placed: dict[str, Place] = {}
    resident = (AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT)
    for text, (community, node, room) in located.items():
        if node is None or node.kind not in resident:
            placed[text] = Place(community, label=index.label(node, None) if node else "")
            continue
        dwelling = dwellings.get((node.pk, room)) if room else None
        placed[text] = Place(
            community_path=community,
            area_id=node.pk,
            area_path=node.path,
            dwelling_id=dwelling,
            label=index.label(node, room if dwelling else None),
        )
    return placed


_cache: dict[tuple[int, int, int], AreaIndex] = {}


def index_for_run(run_id: int) -> AreaIndex:
    """The area index of one import run, built on its first batch and read again only
    when areas were added or removed since (one aggregate query per batch)."""
    stats = Area.objects.aggregate(n=Count("pk"), top=Max("pk"))
    key = (run_id, stats["n"] or 0, stats["top"] or 0)
    found = _cache.get(key)
    if found is None:
        _cache.clear()  # one run at a time per process is what the engine does
        found = _cache[key] = AreaIndex()
    return found
