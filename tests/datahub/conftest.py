"""Shared fixtures of the data hub's tests: a small import target that keeps its rows in
a dict (the real :mod:`jiayuan.core.imports` contract, registered for the test only),
sources and streams made on the spot, and files written in the agencies' layouts."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jiayuan.core import idnumber, imports
from jiayuan.core.imports import Context, Kind, Outcome, Problem, Row, TargetField, Written
from jiayuan.datahub.models import Source, Stream


def id_number(n: int, born: dt.date = dt.date(1980, 1, 1), gender: str = "male") -> str:
    """A valid 18-character ID number of the county, distinct for each ``n`` < 100,000."""
    body = f"370830{born + dt.timedelta(days=n // 100):%Y%m%d}{n % 100:02d}"
    body += "1" if gender == "male" else "2"
    return body + idnumber.check_char(body)


@dataclass
class DictTarget:
    """An import target writing into ``self.rows`` (by ID number): INSERTED for a new
    number, UPDATED when a value changed, UNCHANGED otherwise; a row named "拒收" is
    refused with a problem, one named "待核" goes to review. ``fail_after`` batches in,
    it raises (an import killed half-way)."""

    code: str = "test_person"
    label: str = "测试居民"
    fields: tuple[TargetField, ...] = (
        TargetField("id_number", "身份证号", Kind.ID_NUMBER, required=True, pii=True),
        TargetField("name", "姓名", Kind.TEXT, required=True),
        TargetField("gender", "性别", Kind.CHOICE, choices=("male", "female")),
        TargetField("birth_date", "出生日期", Kind.DATE),
        TargetField("persons", "保障人数", Kind.INT),
        TargetField("amount", "月保障金额", Kind.DECIMAL),
        TargetField("address", "现住址", Kind.TEXT),
    )
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    batches: list[int] = field(default_factory=list)  # rows per write call
    contexts: list[Context] = field(default_factory=list)
    fail_after: int | None = None

    def write(self, context: Context, rows: Sequence[Row]) -> Written:
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise RuntimeError("killed")
        self.batches.append(len(rows))
        self.contexts.append(context)
        out = Written()
        for row in rows:
            values = dict(row.values)
            if values["name"] == "拒收":
                out.outcomes.append(Outcome.REJECTED)
                out.problems.append(
                    Problem(row.line, "name", "refused", "测试拒收", "refused by the test", "拒收")
                )
                continue
            if values["name"] == "待核":
                out.outcomes.append(Outcome.REVIEW)
                continue
            key = values["id_number"]
            old = self.rows.get(key)
            if old is None:
                out.outcomes.append(Outcome.INSERTED)
            elif old != values:
                out.outcomes.append(Outcome.UPDATED)
            else:
                out.outcomes.append(Outcome.UNCHANGED)
            self.rows[key] = values
        return out


ID_TRANSFORMS = ["trim", "nospace", "halfwidth", "upper"]
GENDERS = {"男": "male", "女": "female"}
MAPPING = [
    {"column": "公民身份号码", "field": "id_number", "transforms": ID_TRANSFORMS},
    {"column": "姓名", "field": "name", "transforms": ["trim"]},
    {"column": "性别", "field": "gender", "transforms": ["trim"], "map": GENDERS},
    {"column": "出生日期", "field": "birth_date", "transforms": ["trim"]},
    {"column": "现住址", "field": "address", "transforms": ["trim"], "optional": True},
]  # fmt: skip
HEADER = ["公民身份号码", "姓名", "性别", "出生日期", "现住址"]


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> DictTarget:
    t = DictTarget()
    monkeypatch.setitem(imports._targets, t.code, t)
    return t


@pytest.fixture
def make_stream(db: Any) -> Callable[..., Stream]:
    def make(
        *,
        code: str = "test-huji",
        kind: str = "csv",
        mapping: list[dict[str, Any]] | None = None,
        contract: str = "pause",
        config: dict[str, Any] | None = None,
        stream_config: dict[str, Any] | None = None,
        cursor_field: str = "",
        lookback: int = 0,
        target: str = "test_person",
        rank: int = 40,
    ) -> Stream:
        source = Source.objects.create(
            code=code, name="测试户籍", agency="测试公安局", kind=kind, rank=rank,
            config=config or {},
        )  # fmt: skip
        return Stream.objects.create(
            source=source, name="persons", target=target, mapping=mapping or MAPPING,
            contract=contract, config=stream_config or {}, cursor_field=cursor_field,
            lookback=lookback,
        )  # fmt: skip

    return make


def write_csv(
    path: Path,
    rows: Sequence[Sequence[Any]],
    header: Sequence[str] = HEADER,
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def person_rows(n: int, start: int = 0) -> list[list[str]]:
    return [
        [id_number(i), f"居民{i}", "男", "1980-01-01", f"中都街道{i}号"]
        for i in range(start, start + n)
    ]


@pytest.fixture
def client_as(db: Any) -> Callable[[str | None], Any]:
    """``client_as("street")``: a Django test client logged in as a demo account."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    def make(username: str | None) -> Client:
        client = Client()
        if username is not None:
            client.force_login(get_user_model().objects.get(username=username))
        return client

    return make
