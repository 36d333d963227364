"""评估: the quarterly evaluation — total and grade reproduced from its rows, the quarter's
feedback read from the ratings, 优 credited once, hostile input refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.partners import evaluation as evals
from jiayuan.partners.choices import CreditReason, Grade
from jiayuan.partners.models import CreditEntry, Evaluation, Feedback, Partner

from .conftest import Compounds, Watched

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 20)  # in 2026Q4


def scores(ops: Any = 95, fin: Any = "88.5", soc: Any = "92.25", qual: Any = "90.33", **w: int):  # type: ignore[no-untyped-def]
    weights = {"operations": 30, "finance": 20, "social": 25, "quality": 25} | w
    values = {"operations": ops, "finance": fin, "social": soc, "quality": qual}
    return {k: {"weight": weights[k], "score": values[k], "evidence": f"{k}台账"} for k in values}


def evaluate(user: Any, w: Watched, quarter: str = "2026Q3", **kw: Any) -> Evaluation:
    return evals.evaluate(
        user, w.project.pk, quarter=quarter, scores=kw.pop("s", None) or scores(), today=TODAY, **kw
    )


def test_the_total_and_grade_reproduce_from_the_rows(
    users: dict[str, Any], watched: Watched
) -> None:
    row = evaluate(users["community"], watched)

    # Σ weight × score / 100 by hand, in fractions: 9184.5 / 100 = 91.845 → 91.85 half up
    rows = list(row.scores.all())
    exact = sum(Fraction(s.weight) * Fraction(s.score) for s in rows) / 100
    assert exact == Fraction("91.845")
    assert row.total == Decimal("91.85")
    assert evals.total_of(rows) == row.total
    assert evals.grade_of(row.total) == row.grade == Grade.EXCELLENT
    assert sorted((s.dimension, s.weight, s.score, s.evidence) for s in rows) == [
        ("finance", 20, Decimal("88.50"), "finance台账"),
        ("operations", 30, Decimal("95.00"), "operations台账"),
        ("quality", 25, Decimal("90.33"), "quality台账"),
        ("social", 25, Decimal("92.25"), "social台账"),
    ]
    # read back from the database, the rows still give the stored total and grade
    stored = Evaluation.objects.get(pk=row.pk)
    assert evals.total_of(list(stored.scores.all())) == stored.total
    assert evals.grade_of(stored.total) == stored.grade


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        ("100", Grade.EXCELLENT), ("90.00", Grade.EXCELLENT), ("89.99", Grade.GOOD),
        ("75", Grade.GOOD), ("74.99", Grade.FAIR), ("60", Grade.FAIR), ("59.99", Grade.POOR),
        ("0", Grade.POOR),
    ],
)  # fmt: skip
def test_grade_bands(total: str, grade: str) -> None:
    assert evals.grade_of(Decimal(total)) == grade


def test_an_excellent_quarter_is_credited_once(users: dict[str, Any], watched: Watched) -> None:
    before = Partner.objects.get(pk=watched.partner.pk).credit
    row = evaluate(users["community"], watched)
    good = evaluate(users["community"], watched, "2026Q2", s=scores(80, 80, 80, 80))
    assert good.grade == Grade.GOOD

    entries = CreditEntry.objects.filter(
        partner=watched.partner, reason=CreditReason.EXCELLENT_QUARTER
    )
    assert [(e.delta, e.evidence) for e in entries] == [
        (settings.PARTNERS_CREDIT_EXCELLENT_QUARTER, f"evaluation:{row.pk}")
    ]
    assert (
        Partner.objects.get(pk=watched.partner.pk).credit
        == before + settings.PARTNERS_CREDIT_EXCELLENT_QUARTER
    )
    # the same quarter again is refused, and credits nothing
    with pytest.raises(Conflict):
        evaluate(users["community"], watched)
    assert entries.count() == 1


def test_the_quarter_feedback_is_read_from_the_ratings(
    users: dict[str, Any], watched: Watched, compounds: Compounds
) -> None:
    # ratings 5, 4 and 2 in 2026Q3, one of 1 on the first instant of Q4
    def rate(rating: int, when: dt.datetime) -> None:
        Feedback.objects.create(
            project=watched.project, person=compounds.resident, channel="mailbox",
            rating=rating, submitted_at=timezone.make_aware(when),
        )  # fmt: skip

    rate(5, dt.datetime(2026, 7, 1, 0, 0))
    rate(4, dt.datetime(2026, 8, 15, 12, 0))
    rate(2, dt.datetime(2026, 9, 30, 23, 59))
    rate(1, dt.datetime(2026, 10, 1, 0, 0))

    row = evaluate(users["community"], watched)
    assert (row.feedback_count, row.feedback_average) == (3, Decimal("3.67"))
    empty = evaluate(users["community"], watched, "2026Q1")
    assert (empty.feedback_count, empty.feedback_average) == (0, None)


@pytest.mark.parametrize(
    "bad",
    [
        scores(operations=40),  # weights sum to 110
        scores(operations=-10, finance=60),
        scores(ops="100.01"),
        scores(ops="-1"),
        scores(ops="NaN"),
        scores(ops="Infinity"),
        scores(ops="90.001"),
        scores(ops="九十"),
        scores(ops=True),
        scores(operations="30"),  # type: ignore[arg-type]
        {"operations": {"weight": 100, "score": 90}},
        {**scores(), "extra": {"weight": 0, "score": 0}},
        scores() | {"quality": {"weight": 25, "score": 90, "evidence": "据" * 2001}},
        [],
    ],
)
def test_hostile_scores_are_refused(users: dict[str, Any], watched: Watched, bad: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        evals.evaluate(
            users["community"], watched.project.pk, quarter="2026Q3", scores=bad, today=TODAY
        )
    assert caught.value.status == 422
    assert not Evaluation.objects.filter(project=watched.project).exists()


@pytest.mark.parametrize("quarter", ["2027Q1", "2026Q5", "2026q3", "26Q3", "2026Q3 ", "", "1999Q1"])
def test_bad_or_future_quarters_are_refused(
    users: dict[str, Any], watched: Watched, quarter: str
) -> None:
    with pytest.raises(ValidationFailed):
        evaluate(users["community"], watched, quarter)


def test_the_current_quarter_may_be_evaluated(users: dict[str, Any], watched: Watched) -> None:
    assert evaluate(users["community"], watched, "2026Q4").quarter == "2026Q4"


def test_who_may_evaluate(
    users: dict[str, Any], watched: Watched, far_staff: Any, community_grid_worker: Any
) -> None:
    for user in (users["head"], community_grid_worker):  # see the project, may not SUPERVISE
        with pytest.raises(PermissionDenied):
            evaluate(user, watched)
    for user in (far_staff, users["resident"]):
        with pytest.raises(NotFound):
            evaluate(user, watched)
    with pytest.raises(Conflict):  # not in operation yet
        evals.evaluate(
            users["community"], watched.early.pk, quarter="2026Q3", scores=scores(), today=TODAY
        )


def test_the_trend_lists_each_quarter_in_order(users: dict[str, Any], watched: Watched) -> None:
    evaluate(users["community"], watched, "2026Q3")
    evaluate(users["community"], watched, "2026Q1", s=scores(70, 70, 70, 70))
    trend = evals.trend(watched.project)
    assert trend["quarters"] == ["2026Q1", "2026Q3"]
    assert trend["totals"] == [70.0, 91.85]
    assert trend["grades"] == ["中", "优"]
    ops = next(d for d in trend["dimensions"] if d["key"] == "operations")
    assert ops["name"] == "运营成效" and ops["data"] == [70.0, 95.0]


def test_quarter_spans() -> None:
    start, end = evals.quarter_span("2026Q4")
    assert timezone.localtime(start).date() == dt.date(2026, 10, 1)
    assert timezone.localtime(end).date() == dt.date(2027, 1, 1)
    assert evals.quarter_of(dt.date(2026, 3, 31)) == "2026Q1"
