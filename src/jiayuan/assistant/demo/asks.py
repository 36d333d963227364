"""A week of questions to the demo county's assistant: residents asking on their phones
and in their WeCom groups, each question answered by the real engine (the shipped
evaluation questions, as residents speak), the log written through
:func:`jiayuan.core.bulk.insert`, and some of the unanswered ones handed to the asker's
grid worker (cases opened through the incident bridge, as a hand-off does)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiayuan.core import bulk
from jiayuan.core.errors import BilingualError
from jiayuan.core.logging import mask_text
from jiayuan.people.models import Person

from .. import answering, evaluation, handoff
from ..asking import grid_path_of
from ..choices import Channel
from ..models import Ask

ASKS = {"tiny": 40, "small": 150}
DEFAULT_ASKS = 400
HANDOFFS = {"tiny": 4, "small": 10}
DEFAULT_HANDOFFS = 25
CHANNELS = [Channel.PHONE] * 3 + [Channel.WECOM] * 2 + [Channel.WEB]


def seed_asks(seed: int, scale: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Write the week's asks; returns how many were asked, abstained and handed off."""
    rng = random.Random(f"assistant-asks-{seed}")  # noqa: S311 - a reproducible demo, no secret
    now = now or timezone.now()
    questions = list(evaluation.shipped_questions())
    askers = list(
        Person.objects.filter(death_date__isnull=True)
        .exclude(area_path="")
        .order_by("pk")
        .values_list("pk", flat=True)[:2000]
    )
    if not questions or not askers:
        return {"asks": 0, "abstained": 0, "handed_off": 0}
    rows = []
    for _ in range(ASKS.get(scale, DEFAULT_ASKS)):
        question = mask_text(rng.choice(questions))[:200]
        result = answering.answer(question)
        person_id = rng.choice(askers)
        rows.append(
            Ask(
                created_at=now - dt.timedelta(minutes=rng.randint(5, 7 * 24 * 60)),
                channel=rng.choice(CHANNELS),
                person_id=person_id,
                question=question,
                answer=result.text,
                abstained=result.abstained,
                reason=result.reason,
                citations=[c.as_json() for c in result.citations],
                score=result.score,
                millis=0.0,
            )
        )
    persons = Person.objects.in_bulk({r.person_id for r in rows})
    for row in rows:
        row.area_path = grid_path_of(persons.get(row.person_id))
    with transaction.atomic():
        created = bulk.insert(Ask, rows)
    handed = 0
    wanted = HANDOFFS.get(scale, DEFAULT_HANDOFFS)
    for row in sorted((r for r in created if r.abstained), key=lambda r: r.created_at):
        if handed >= wanted:
            break
        person = persons.get(row.person_id)
        if person is None:
            continue
        try:
            with transaction.atomic():
                number = handoff.open_case(row, person)
                Ask.objects.filter(pk=row.pk).update(
                    case_number=number, handed_off_at=row.created_at + dt.timedelta(minutes=2)
                )
        except BilingualError:  # a resident registered above a grid: nobody to route to
            continue
        handed += 1
    return {
        "asks": len(created),
        "abstained": sum(1 for r in created if r.abstained),
        "handed_off": handed,
    }
