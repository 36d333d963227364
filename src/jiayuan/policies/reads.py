"""What a policy's pass reads, and which logged changes concern it (issue 10).

An incremental pass re-evaluates the persons whose *inputs of that rule* changed: a tag
given to a resident does not concern 高龄津贴, whose rule reads the age, the death date
and the hukou. :func:`reads_of` lists the inputs from the rule's leaves
(:func:`jiayuan.core.rules.inputs.leaves`); a leaf this module does not know makes the
rule read everything, so a name added to the registry later is never missed, only not
narrowed.

A change (:class:`Change`) names what changed, as the change log
(:class:`~.models.PersonChange`, migration 0008) and the rows' own dates record it:

* of a person: a column of ``people_person`` (``birth_date``, ``residence_status`` …),
  ``tag`` (a person tag, ``ref`` its tag's id), ``benefit`` (``ref`` the policy's id)
  or ``new`` (the person was created: everything);
* of a household, for its members: ``members`` (someone joined, left, died or had
  their birth date changed: the size, living alone, ``members_under``) or ``tag`` (a
  household tag, ``ref`` its tag's id);
* ``""`` (a row logged before the log said what changed): everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jiayuan.core.rules import Rule
from jiayuan.core.rules import typed as t
from jiayuan.core.rules.inputs import leaves

# the person's own fields: the columns each reads
PERSON_FIELDS: dict[str, frozenset[str]] = {
    "age": frozenset({"birth_date", "death_date"}),
    "birth_date": frozenset({"birth_date"}),
    "death_date": frozenset({"death_date"}),
    "deceased": frozenset({"death_date"}),
    "gender": frozenset({"gender"}),
    "political_status": frozenset({"political_status"}),
    "party_member": frozenset({"political_status"}),
    "hukou": frozenset({"hukou_code"}),
    "hukou_type": frozenset({"hukou_type"}),
    "residence": frozenset({"residence_status"}),
    "area": frozenset({"area_path"}),
}
# read from the household's composition (who lives there, alive, born when)
HOUSEHOLD_FIELDS = frozenset({"size", "members_under"})
TAG_FUNCTIONS = frozenset({"has_tag", "tag"})
# kinds of change a person row of the log names besides a column
TAG, BENEFIT, NEW, MEMBERS, UNKNOWN = "tag", "benefit", "new", "members", ""
# the columns of people_person the log watches (migration 0008)
PERSON_COLUMNS = (
    "birth_date", "death_date", "gender", "political_status", "hukou_code", "hukou_type",
    "residence_status", "area_path", "household_id",
)  # fmt: skip


@dataclass(frozen=True)
class Reads:
    """The inputs one policy's pass reads."""

    everything: bool = False
    columns: frozenset[str] = frozenset()  # of people_person
    tags: frozenset[str] = frozenset()  # person tag codes
    household_tags: frozenset[str] = frozenset()
    members: bool = False  # the household's composition
    benefits: frozenset[str] = frozenset()  # policy codes received

    def person(self, kind: str, ref: str | None) -> bool:
        """Whether a change of ``kind`` to a person (``ref``: the tag's code or the
        benefit's policy code) may change their verdict."""
        if self.everything or kind in (NEW, UNKNOWN):
            return True
        if kind == TAG:
            return ref is None or ref in self.tags
        if kind == BENEFIT:
            return ref is None or ref in self.benefits
        return kind in self.columns

    def household(self, kind: str, ref: str | None) -> bool:
        """Whether a change of ``kind`` to a household may change its members'
        verdicts."""
        if self.everything or kind == UNKNOWN:
            return True
        if kind == TAG:
            return ref is None or ref in self.household_tags
        if kind == MEMBERS:
            return self.members
        return True


EVERYTHING = Reads(everything=True)


def reads_of(rule: Rule, policy_code: str) -> Reads:
    """What a pass of policy ``policy_code`` under ``rule`` reads: the rule's leaves,
    and the benefit of the policy itself (who receives it is not matched)."""
    columns: set[str] = set()
    tags: set[str] = set()
    household_tags: set[str] = set()
    benefits = {policy_code}
    members = False
    for node in leaves(rule.tree):
        path = tuple(ns.name for ns in getattr(node, "path", ()))
        name = node.field.name if isinstance(node, t.TField) else _function_name(node)
        if name is None:
            return EVERYTHING
        if path == ():
            if isinstance(node, t.TField) and name in PERSON_FIELDS:
                columns |= PERSON_FIELDS[name]
            elif isinstance(node, t.TField) and name == "lives_alone":
                members = True
            elif name in TAG_FUNCTIONS:
                tags.add(_code(node))
            elif isinstance(node, t.TCall) and name == "receives":
                benefits.add(_code(node))
            else:
                return EVERYTHING
        elif path == ("household",):
            if name in HOUSEHOLD_FIELDS:
                members = True
            elif name in TAG_FUNCTIONS:
                household_tags.add(_code(node))
            else:
                return EVERYTHING
        else:
            return EVERYTHING
    if members or household_tags:
        # moving to another household changes both for the person who moves
        columns.add("household_id")
    return Reads(
        columns=frozenset(columns),
        tags=frozenset(tags),
        household_tags=frozenset(household_tags),
        members=members,
        benefits=frozenset(benefits),
    )


def _function_name(node: t.TNode) -> str | None:
    if isinstance(node, t.TCall | t.TRecordAttr):
        return node.function.name
    return None


def _code(node: t.TNode) -> str:
    args = node.args if isinstance(node, t.TCall | t.TRecordAttr) else ()
    return str(args[0]) if args else ""


@dataclass(frozen=True)
class Change:
    """One logged or dated change: to a person (``person``) or to a household's members
    (``household``), of ``kind`` (see the module docstring); ``ref`` the tag's code or
    the benefit's policy code."""

    person: int | None
    household: int | None
    kind: str
    ref: str | None = None


def concerned(changes: Iterable[Change], reads: Reads, members: dict[int, list[int]]) -> set[int]:
    """The persons whose verdict under ``reads`` one of ``changes`` may alter
    (``members``: the persons of each household named by a change)."""
    out: set[int] = set()
    for c in changes:
        if c.person is not None and reads.person(c.kind, c.ref):
            out.add(c.person)
        if c.household is not None and reads.household(c.kind, c.ref):
            out.update(members.get(c.household, ()))
    return out
