"""Entity resolution (实体识别): which resident an incoming row speaks about.

Rows with a usable ID number join exactly through the blind index of the normalised
number (:mod:`jiayuan.datahub.writers.person`, one query per batch). Rows without one
(empty, or refused by GB 11643) but with a name and a birth date are compared with the
residents of the same community, in blocks:

* **blocks** — same community (from the row's address) and either the same birth year
  or the same surname (the first character: its pinyin initial is the name's first);
  one query reads every block of a batch;
* **features** — the name (hanzi edit distance, and the pinyin so that 张伟明 and
  张为明 read alike; rapidfuzz), the birth date (exact, one digit off, day and month
  swapped, same year), the address inside the community (same dwelling, unit, building,
  zone), the gender as a check;
* **score** — ``0.5·name + 0.3·birth + 0.2·address`` (× 0.8 when the genders differ).

A row whose best candidate scores at least :data:`REVIEW_THRESHOLD` becomes a
:class:`~.models.ReviewPair` (pending, with the per-feature details, the row masked and
encrypted); below it the row is refused with ``no_match``. **Nothing is merged without
a person's decision**: there is no auto-merge threshold. Decisions:

* :func:`merge` applies the row's values to the resident by rank (the same provenance
  rules as an import) and keeps what it changed in ``ReviewPair.undo``;
* :func:`distinct` inserts the row as a new resident when its address places it;
* :func:`undo` puts the resident's previous values and provenance back exactly.

Reviewers see the pairs of their area (the candidate's area path) and need the change
permission there to decide.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from jiayuan.core import actions, audit, bulk, imports, pii
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied
from jiayuan.core.imports import Outcome, Problem
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed, scope_q
from jiayuan.people.models import Household, Person

from . import provenance
from .models import ChangeKind, ReviewPair, ReviewStatus
from .provenance import PERSON
from .writers.person import Incoming, PersonWriter
from .writers.places import Place, community_of

REVIEW_THRESHOLD = 0.75
"""Pairs scoring at least this are held for review; below, the row is refused."""

WEIGHTS = {"name": 0.5, "birth_date": 0.3, "address": 0.2}


# --- features ----------------------------------------------------------------------------
def pinyin(name: str) -> str:
    return " ".join(lazy_pinyin(name))


def initials(name: str) -> str:
    return "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).lower()


def name_score(a: str, b: str) -> float:
    """1 for the same name, 0.95 for the same pinyin (a homophone typed), else the
    better of the hanzi similarity and (discounted) the share of syllables that sound
    alike, position by position (章伟民 for 张伟明: two of three)."""
    if a == b:
        return 1.0
    sa, sb = lazy_pinyin(a), lazy_pinyin(b)
    if sa == sb:
        return 0.95
    sound = 0.0
    if len(sa) == len(sb) and sa:
        sound = sum(x == y for x, y in zip(sa, sb, strict=True)) / len(sa)
    return max(fuzz.ratio(a, b) / 100, 0.9 * sound)


def birth_score(a: dt.date | None, b: dt.date | None) -> float:
    if a is None or b is None:
        return 0.0
    if a == b:
        return 1.0
    if a.year == b.year and a.month == b.day and a.day == b.month:
        return 0.8  # day and month swapped
    if Levenshtein.distance(f"{a:%Y%m%d}", f"{b:%Y%m%d}") == 1:
        return 0.8  # one digit mistyped
    if a.year == b.year:
        return 0.4
    return 0.0


def address_score(place: Place | None, path: str, dwelling: int | None) -> float:
    """Inside the community (the block): the deeper the shared place, the higher."""
    if place is None or not place.area_path:
        return 0.3
    if place.dwelling_id is not None and place.dwelling_id == dwelling:
        return 1.0
    if place.area_path == path:
        return 0.8
    shared = 0
    for x, y in zip(place.area_path.split("/"), path.split("/"), strict=False):
        if x != y:
            break
        shared += 1
    # county/street/community/zone/grid/building: a shared building or grid, a zone
    return {6: 0.7, 5: 0.6, 4: 0.5}.get(shared, 0.3)


@dataclass(frozen=True)
class Candidate:
    pk: int
    name: str
    birth_date: dt.date | None
    gender: str
    area_path: str
    dwelling_id: int | None
    id_number_masked: str


def compare(item: Incoming, place: Place | None, c: Candidate) -> tuple[float, dict[str, Any]]:
    """The pair's score and its per-feature details (shown on the review page)."""
    scores = {
        "name": name_score(item.name, c.name),
        "birth_date": birth_score(item.birth_date, c.birth_date),
        "address": address_score(place, c.area_path, c.dwelling_id),
    }
    total = sum(WEIGHTS[k] * v for k, v in scores.items())
    gender_ok = not item.gender or not c.gender or item.gender == c.gender
    if not gender_ok:
        total *= 0.8
    details: dict[str, Any] = {
        "name": {"score": round(scores["name"], 3), "incoming": item.name, "existing": c.name,
                 "pinyin": [pinyin(item.name), pinyin(c.name)]},
        "birth_date": {"score": round(scores["birth_date"], 3),
                       "incoming": provenance.as_text(item.birth_date),
                       "existing": provenance.as_text(c.birth_date)},
        "address": {"score": round(scores["address"], 3), "incoming": item.address,
                    "existing_area": c.area_path},
        "gender": {"same": gender_ok, "incoming": item.gender, "existing": c.gender},
        "weights": WEIGHTS,
    }  # fmt: skip
    return round(total, 4), details


# --- blocking ----------------------------------------------------------------------------
def candidates(
    items: Sequence[tuple[Incoming, str]],
) -> dict[str, list[Candidate]]:
    """Residents of the blocks of ``items`` (row, community path), by community: one
    query for the batch."""
    blocks: dict[str, tuple[set[int], set[str]]] = {}
    for item, community in items:
        years, surnames = blocks.setdefault(community, (set(), set()))
        if item.birth_date is not None:
            years.add(item.birth_date.year)
        surnames.add(item.name[:1])
    q = Q()
    for community, (years, surnames) in blocks.items():
        inner = Q()
        for year in years:
            inner |= Q(birth_date__range=(dt.date(year, 1, 1), dt.date(year, 12, 31)))
        for surname in surnames:
            inner |= Q(name__startswith=surname)
        q |= Q(area_path__startswith=community) & inner
    found: dict[str, list[Candidate]] = {c: [] for c in blocks}
    if not blocks:
        return found
    rows = (
        Person.objects.filter(q)
        .order_by()
        .values_list(
            "pk", "name", "birth_date", "gender", "area_path", "dwelling_id", "id_number_masked"
        )
    )
    for row in rows:
        c = Candidate(*row)
        found.setdefault(community_of(c.area_path), []).append(c)
    return found


def in_block(item: Incoming, c: Candidate) -> bool:
    same_year = (
        item.birth_date is not None
        and c.birth_date is not None
        and (item.birth_date.year == c.birth_date.year)
    )
    return same_year or (
        initials(item.name)[:1] == initials(c.name)[:1] and (item.name[:1] == c.name[:1])
    )


def hold_for_review(
    writer: PersonWriter,
    items: Sequence[tuple[int, Incoming]],
    places: dict[str, Place],
) -> list[tuple[int, Outcome, Problem | None]]:
    """Rows without a usable ID number: a review pair with their best candidate, or
    refused (``unknown_place`` without a community, ``no_match`` below the threshold)."""
    out: list[tuple[int, Outcome, Problem | None]] = []
    located: list[tuple[int, Incoming, Place | None, str]] = []
    for i, item in items:
        place = places.get(item.address) if item.address else None
        community = place.community_path if place is not None else ""
        if not community:
            out.append((i, Outcome.REJECTED, imports.problem(
                item.line, "address", "unknown_place",
                "没有有效身份证号码，且现住址找不到所属社区，无法比对",
                "no usable ID number, and the address names no known community", item.address,
            )))  # fmt: skip
            continue
        located.append((i, item, place, community))
    blocks = candidates([(item, community) for _i, item, _p, community in located])
    pairs: list[ReviewPair] = []
    for i, item, place, community in located:
        best: tuple[float, dict[str, Any], Candidate] | None = None
        for c in blocks.get(community, ()):
            if not in_block(item, c):
                continue
            score, details = compare(item, place, c)
            if best is None or score > best[0]:
                best = (score, details, c)
        if best is None or best[0] < REVIEW_THRESHOLD:
            score = best[0] if best is not None else 0.0
            out.append((i, Outcome.REJECTED, imports.problem(
                item.line, "id_number", "no_match",
                f"没有有效身份证号码，本社区内没有足够相似的居民（最高相似度 {score:.2f}）",
                f"no usable ID number and no similar resident in the community (best {score:.2f})",
                pii.mask_id_number(item.id_raw),
            )))  # fmt: skip
            continue
        score, details, c = best
        pairs.append(ReviewPair(
            run_id=writer.context.run_id, line=item.line, incoming=item.masked(),
            incoming_enc=pii.encrypt(json.dumps(item.to_json(), ensure_ascii=False)),
            person_id=c.pk, area_path=c.area_path, score=score, details=details,
        ))  # fmt: skip
        out.append((i, Outcome.REVIEW, None))
    if pairs:
        bulk.insert(ReviewPair, pairs)
    return out


# --- the queue ---------------------------------------------------------------------------
def visible_pairs(user: Any) -> QuerySet[ReviewPair]:
    """The pairs whose candidate lives in the user's area."""
    return ReviewPair.objects.filter(scope_q(user, Perm.VIEW)).select_related(
        "person__dwelling", "person__household", "run__stream__source", "decided_by"
    )


def get_pair(user: Any, pk: int) -> ReviewPair:
    pair = visible_pairs(user).filter(pk=pk).first()
    if pair is None:
        raise NotFound("待核对记录不存在", "no such review pair")
    return pair


def _decide(user: Any, pk: int, status: str) -> ReviewPair:
    """The pair, locked, after checking the user may decide it and it is ``status``."""
    get_pair(user, pk)  # 404 outside the user's area
    pair = ReviewPair.objects.select_for_update().select_related("run__stream__source").get(pk=pk)
    if not path_allowed(user, pair.area_path, Perm.CHANGE):
        raise PermissionDenied("没有处理该记录的权限", "you may view but not decide this pair")
    if pair.status != status:
        raise Conflict(
            f"该记录当前为“{pair.get_status_display()}”，不能执行此操作",
            f"the pair is {pair.status}; this decision does not apply",
        )
    return pair


def _incoming(pair: ReviewPair) -> Incoming:
    return Incoming.from_json(json.loads(pii.decrypt(pair.incoming_enc)))


def _writer(pair: ReviewPair, user: Any) -> PersonWriter:
    context = pair.run.context(user)
    writer = PersonWriter(context, source=pair.run.stream.source_id)
    writer.origin = dataclasses.replace(writer.origin, kind=ChangeKind.REVIEW)
    writer.note = f"核对合并：{context.source_name} 批次 #{pair.run_id} 第 {pair.line} 行"
    return writer


def _plain_state(person: Person) -> dict[str, Any]:
    return {a: provenance.as_text(v) if isinstance(v, dt.date) else v
            for a in PersonWriter.ATTNAMES for v in [getattr(person, a)]}  # fmt: skip


def _close(pair: ReviewPair, user: Any, status: str, undo: dict[str, Any]) -> ReviewPair:
    old = pair.status
    pair.status, pair.undo = status, undo
    pair.decided_by, pair.decided_at = user, timezone.now()
    pair.save(update_fields=["status", "undo", "decided_by", "decided_at"])
    audit.record(AuditEntry.Action.UPDATE, pair, user, {"status": [old, status]}, "待核对记录处理")
    return pair


def merge(user: Any, pk: int) -> ReviewPair:
    """The row is this resident: apply its values by rank, keep what to undo."""
    with transaction.atomic():
        pair = _decide(user, pk, ReviewStatus.PENDING)
        item = _incoming(pair)
        writer = _writer(pair, user)
        person = Person.objects.select_for_update().get(pk=pair.person_id)
        person = Person.objects.select_related("household").get(pk=person.pk)
        before = _plain_state(person)
        saved = provenance.snapshot(PERSON, person.pk)
        place = writer.places([item]).get(item.address) if item.address else None
        households = _households(writer, item, person, place)
        writer.update([(person, item, place)], households)
        writer.finish()
        undo = {"person": before, "after": _plain_state(person), "field_values": saved}
        return _close(pair, user, ReviewStatus.MERGED, undo)


def _households(
    writer: PersonWriter, item: Incoming, person: Person, place: Place | None
) -> dict[str, Household]:
    if not item.household:
        return {}
    if place is not None and place.placeable:
        where = (place.area_id, place.area_path, place.dwelling_id)
    else:
        where = (person.area_id, person.area_path, person.dwelling_id)
    return writer.household_map({item.household: where})


def distinct(user: Any, pk: int) -> ReviewPair:
    """The row is someone else: a new resident when its address places them."""
    with transaction.atomic():
        pair = _decide(user, pk, ReviewStatus.PENDING)
        item = _incoming(pair)
        writer = _writer(pair, user)
        writer.note = f"核对为新居民：{writer.context.source_name} 批次 #{pair.run_id}"
        place = writer.places([item]).get(item.address) if item.address else None
        undo: dict[str, Any] = {}
        if place is not None and place.placeable and writer.allowed(place.area_path):
            households = (
                writer.household_map(
                    {item.household: (place.area_id, place.area_path, place.dwelling_id)}
                )
                if item.household
                else {}
            )
            created = writer.create([(item, place)], households)
            writer.finish()
            undo["created"] = created[0].pk
        return _close(pair, user, ReviewStatus.DISTINCT, undo)


def _from_plain(name: str, value: Any) -> Any:
    if name in ("birth_date", "death_date") and value:
        return dt.date.fromisoformat(value)
    return value


def undo(user: Any, pk: int) -> ReviewPair:
    """Take a merge back: the resident's values and provenance as before it."""
    with transaction.atomic():
        pair = _decide(user, pk, ReviewStatus.MERGED)
        person = Person.objects.select_for_update().get(pk=pair.person_id)
        person = Person.objects.select_related("household").get(pk=person.pk)
        saved = pair.undo
        if _plain_state(person) != saved["after"]:
            raise Conflict(
                "合并之后该居民的信息又有修改，不能自动撤销，请手工更正",
                "the resident changed after the merge; correct it by hand instead",
            )
        held_before = PersonWriter.held(person)
        stored_before = provenance.stored_values(PERSON, [person.pk])
        old_path = person.area_path
        previous = {a: getattr(person, a) for a in PersonWriter.ATTNAMES}
        changed = []
        for name, value in saved["person"].items():
            if saved["after"].get(name) != value:
                setattr(person, name, _from_plain(name, value))
                changed.append(name)
        writer = _writer(pair, user)
        writer.note = f"撤销核对合并：批次 #{pair.run_id} 第 {pair.line} 行"
        if changed:
            if "household_id" in changed:
                person.household = (
                    Household.objects.filter(pk=person.household_id).first()
                    if person.household_id
                    else None
                )
            actions.bulk_update_each(
                [person], changed, actor=user, note=writer.note,
                previous=[{a: previous[a] for a in changed}],
            )  # fmt: skip
            if person.area_path != old_path:
                writer.follow(person, old_path)
        provenance.restore(PERSON, person.pk, saved["field_values"])
        held_after = PersonWriter.held(person)
        stored_after = provenance.stored_values(PERSON, [person.pk])
        history = []
        now = timezone.now()
        keys = {k for k in held_before} | {k for k in stored_before} | {k for k in stored_after}
        for key in sorted(keys):
            old = held_before.get(key, _current(stored_before.get(key)))
            new = held_after.get(key, _current(stored_after.get(key)))
            if old != new:
                history.append(
                    (
                        PERSON,
                        person.pk,
                        key[1],
                        old,
                        new,
                        None,
                        None,
                        getattr(user, "pk", None),
                        now,
                        ChangeKind.REVIEW,
                    )
                )
        if history:
            provenance.record_history(history)
        writer.touched.add(person.pk)
        writer.finish()
        return _close(pair, user, ReviewStatus.UNDONE, {**saved, "undone_at": now.isoformat()})


def _current(values: list[Any] | None) -> str:
    for fv in values or ():
        if fv.current:
            return str(fv.value)
    return ""
