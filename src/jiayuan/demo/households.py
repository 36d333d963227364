"""Household shapes (家庭结构) of a county town: who lives together, at what ages."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from jiayuan.people.choices import (
    Gender,
    Relation,
)


# --- household shapes ----------------------------------------------------------------------
@dataclass(slots=True)
class Member:
    relation: str
    age: int
    gender: str
    away: bool = False


def _sex(rng: random.Random, male_share: float = 0.5) -> str:
    return Gender.MALE if rng.random() < male_share else Gender.FEMALE


def _other(gender: str) -> str:
    return Gender.FEMALE if gender == Gender.MALE else Gender.MALE


def _couple(rng: random.Random, lo: int, hi: int, mode: float | None = None) -> list[Member]:
    age = int(rng.triangular(lo, hi, mode if mode is not None else (lo + hi) / 2))
    head = _sex(rng, 0.78)
    gap = rng.randint(0, 4)
    spouse_age = age - gap if head == Gender.MALE else age + gap
    return [
        Member(Relation.HEAD, age, head),
        Member(Relation.SPOUSE, max(20, min(100, spouse_age)), _other(head)),
    ]


def _child_age(rng: random.Random, parent_age: int) -> int:
    return max(0, parent_age - rng.randint(23, 33))


def _elder_alone(rng: random.Random) -> list[Member]:
    return [Member(Relation.HEAD, int(rng.triangular(62, 97, 74)), _sex(rng, 0.35))]


def _elder_couple(rng: random.Random) -> list[Member]:
    return _couple(rng, 60, 93, 68)


def _young_couple(rng: random.Random) -> list[Member]:
    return _couple(rng, 23, 35)


def _empty_nest(rng: random.Random) -> list[Member]:
    return _couple(rng, 45, 60)


def _one_child(rng: random.Random) -> list[Member]:
    members = _couple(rng, 26, 56, 40)
    mother = min(m.age for m in members)
    return [*members, Member(Relation.CHILD, _child_age(rng, mother), _sex(rng, 0.52))]


def _two_children(rng: random.Random) -> list[Member]:
    members = _couple(rng, 30, 52, 38)
    first = _child_age(rng, min(m.age for m in members))
    second = max(0, first - rng.randint(2, 9))
    return [*members, Member(Relation.CHILD, first, _sex(rng, 0.52)),
            Member(Relation.CHILD, second, _sex(rng, 0.52))]  # fmt: skip


def _three_generations(rng: random.Random) -> list[Member]:
    members = _couple(rng, 30, 50)
    young = min(m.age for m in members)
    members.append(Member(Relation.CHILD, _child_age(rng, young), _sex(rng, 0.52)))
    if rng.random() < 0.45:
        members.append(
            Member(Relation.CHILD, max(0, members[-1].age - rng.randint(2, 8)), _sex(rng, 0.52))
        )
    elder = min(98, members[0].age + rng.randint(24, 32))
    if rng.random() < 0.45:
        members.append(Member(Relation.PARENT, elder, Gender.MALE))
        members.append(Member(Relation.PARENT, max(50, elder - rng.randint(0, 4)), Gender.FEMALE))
    else:
        members.append(Member(Relation.PARENT, elder, _sex(rng, 0.3)))
    return members


def _single(rng: random.Random) -> list[Member]:
    return [Member(Relation.HEAD, rng.randint(22, 58), _sex(rng, 0.55))]


def _single_parent(rng: random.Random) -> list[Member]:
    parent = Member(Relation.HEAD, rng.randint(30, 50), _sex(rng, 0.3))
    return [parent, Member(Relation.CHILD, _child_age(rng, parent.age), _sex(rng, 0.52))]


def _left_behind(rng: random.Random) -> list[Member]:
    """Grandparents raising grandchildren while the parents work away (外出务工)."""
    members = _couple(rng, 55, 72) if rng.random() < 0.8 else [
        Member(Relation.HEAD, rng.randint(55, 75), _sex(rng, 0.4))
    ]  # fmt: skip
    head_age = members[0].age
    father = Member(Relation.CHILD, max(22, head_age - rng.randint(23, 30)), Gender.MALE, away=True)
    mother = Member(
        Relation.OTHER, max(21, father.age - rng.randint(0, 3)), Gender.FEMALE, away=True
    )
    kids = [
        Member(Relation.OTHER, min(15, max(1, father.age - rng.randint(22, 30))), _sex(rng, 0.52))
    ]
    if rng.random() < 0.4:
        kids.append(
            Member(Relation.OTHER, max(0, kids[0].age - rng.randint(2, 6)), _sex(rng, 0.52))
        )
    return [*members, father, mother, *kids]


HOUSEHOLD_KINDS: tuple[tuple[str, int], ...] = (
    ("elder_alone", 8), ("elder_couple", 15), ("young_couple", 5), ("empty_nest", 9),
    ("one_child", 23), ("two_children", 14), ("three_gen", 12), ("single", 7),
    ("single_parent", 3), ("left_behind", 3),
)  # fmt: skip
HOUSEHOLD_SHAPES: dict[str, Callable[[random.Random], list[Member]]] = {
    "elder_alone": _elder_alone,
    "elder_couple": _elder_couple,
    "young_couple": _young_couple,
    "empty_nest": _empty_nest,
    "one_child": _one_child,
    "two_children": _two_children,
    "three_gen": _three_generations,
    "single": _single,
    "single_parent": _single_parent,
    "left_behind": _left_behind,
}
# Measured mean size of the shapes above; sets how many dwellings are occupied.
MEAN_HOUSEHOLD_SIZE = 2.8
