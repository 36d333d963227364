"""Counting a topic's votes: participation and approval, by headcount and by floor area.

The double majority of Civil Code art. 278 (see :mod:`.matters`): an owners' matter is
decided only when enough owners take part *both* by exclusive floor area *and* by
headcount, and passes only when enough of the participants agree *both* by area *and*
by headcount. A household matter counts households only. Every share is an exact
:class:`~fractions.Fraction` (floor areas are :class:`~decimal.Decimal` square metres,
which convert exactly), so a boundary case (exactly 2/3, exactly 3/4, exactly one half)
is decided by the rule, not by rounding.

Abstentions (弃权) take part in the vote (参与表决) but do not agree: they count towards
participation and against approval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..choices import VoteChoice
from .matters import Rule


def reaches(value: Fraction, threshold: Fraction, strict: bool) -> bool:
    """Whether ``value`` meets ``threshold``: 过半数 (strict) must exceed it, 以上 (not
    strict) includes it (Civil Code art. 1259)."""
    return value > threshold if strict else value >= threshold


def ratio(part: Decimal | int, whole: Decimal | int) -> Fraction:
    return Fraction(part) / Fraction(whole) if whole else Fraction(0)


@dataclass(frozen=True)
class Ballot:
    """One census entry as the count sees it: its floor area and its vote (or none)."""

    area: Decimal
    choice: str | None


@dataclass(frozen=True)
class Measure:
    """One way of counting (headcount or floor area) and whether it meets the rule."""

    total: Decimal
    participating: Decimal
    yes: Decimal
    no: Decimal
    abstain: Decimal
    participation: Fraction
    approval: Fraction
    participation_met: bool
    approval_met: bool

    def as_json(self) -> dict[str, Any]:
        def number(value: Decimal) -> str:
            return format(value.normalize(), "f") if value else "0"

        return {
            "total": number(self.total),
            "participating": number(self.participating),
            "yes": number(self.yes),
            "no": number(self.no),
            "abstain": number(self.abstain),
            "participation": str(self.participation),
            "participation_pct": _pct(self.participation),
            "approval": str(self.approval),
            "approval_pct": _pct(self.approval),
            "participation_met": self.participation_met,
            "approval_met": self.approval_met,
        }


def _pct(value: Fraction) -> str:
    """A share as a percentage for people (two decimals); the decision used the fraction."""
    return f"{float(value) * 100:.2f}"


def measure(weights: Iterable[tuple[Decimal, str | None]], rule: Rule) -> Measure:
    total = participating = yes = no = abstain = Decimal(0)
    for weight, choice in weights:
        total += weight
        if choice is None:
            continue
        participating += weight
        if choice == VoteChoice.YES:
            yes += weight
        elif choice == VoteChoice.NO:
            no += weight
        else:
            abstain += weight
    participation = ratio(participating, total)
    approval = ratio(yes, participating)
    return Measure(
        total=total,
        participating=participating,
        yes=yes,
        no=no,
        abstain=abstain,
        participation=participation,
        approval=approval,
        participation_met=bool(total)
        and reaches(participation, rule.participation, rule.participation_strict),
        approval_met=bool(participating) and reaches(approval, rule.approval, rule.approval_strict),
    )


@dataclass(frozen=True)
class Tally:
    """The outcome of a vote: headcount always, floor area for owners' matters."""

    rule: Rule
    headcount: Measure
    area: Measure | None

    @property
    def measures(self) -> list[Measure]:
        return [self.headcount] + ([self.area] if self.area is not None else [])

    @property
    def quorum_met(self) -> bool:
        return all(m.participation_met for m in self.measures)

    @property
    def approval_met(self) -> bool:
        return all(m.approval_met for m in self.measures)

    @property
    def passed(self) -> bool:
        return self.quorum_met and self.approval_met

    def as_json(self) -> dict[str, Any]:
        """What :class:`~jiayuan.community.models.Resolution.tally` stores."""
        return {
            "by_area": self.rule.by_area,
            "rule": {
                "participation": str(self.rule.participation),
                "participation_strict": self.rule.participation_strict,
                "approval": str(self.rule.approval),
                "approval_strict": self.rule.approval_strict,
            },
            "headcount": self.headcount.as_json(),
            "area": self.area.as_json() if self.area is not None else None,
            "quorum_met": self.quorum_met,
            "approval_met": self.approval_met,
            "passed": self.passed,
        }


def tally(ballots: Iterable[Ballot], rule: Rule) -> Tally:
    """Count ``ballots`` (one per census entry, ``choice=None`` for no vote) by ``rule``."""
    ballots = list(ballots)
    heads = measure(((Decimal(1), b.choice) for b in ballots), rule)
    area = measure(((b.area, b.choice) for b in ballots), rule) if rule.by_area else None
    return Tally(rule=rule, headcount=heads, area=area)
