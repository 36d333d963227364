"""What the data hub's targets share: the source of a run, problems, dictionaries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jiayuan.core import imports
from jiayuan.core.imports import Context, Problem
from jiayuan.people.choices import Gender, HukouType, Relation

from ..models import ImportRun, Source
from ..provenance import Origin, among

#: The note of every audit entry an import writes (with the run id and the source).
NOTE = "数据导入"

__all__ = ["among"]


def source_id(context: Context) -> int:
    """The id of the run's source (one query per batch, by its unique code)."""
    found = Source.objects.filter(code=context.source_code).values_list("pk", flat=True).first()
    if found is None:
        raise imports.NotFound(
            f"数据源 {context.source_code} 不存在", f"there is no source {context.source_code!r}"
        )
    return int(found)


def origin_of(context: Context, source: int) -> Origin:
    actor = context.actor
    return Origin(
        source_id=source,
        as_of=context.as_of,
        ranks=dict(context.field_ranks),
        default_rank=context.rank,
        run_id=context.run_id,
        actor_id=getattr(actor, "pk", None),
    )


def context_of_run(run: ImportRun, actor: Any = None) -> Context:
    """The context a run's rows were written with, rebuilt for a later decision on one
    of them (a review pair merged or found distinct)."""
    stream = run.stream
    source = stream.source
    return Context(
        run_id=run.pk,
        source_code=source.code,
        source_name=source.name,
        rank=source.rank,
        field_ranks=dict(stream.field_ranks or {}),
        as_of=run.as_of or run.started_at.date(),
        actor=actor,
    )


def note(context: Context) -> str:
    return f"{NOTE}：{context.source_name} 批次 #{context.run_id}"


def problem(line: int, field: str, code: str, zh: str, en: str, raw: Any = "") -> Problem:
    return Problem(
        line=line, field=field, code=code, reason=zh, reason_en=en, raw=str(raw or "")[:300]
    )


def text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def as_date(value: Any) -> dt.date | None:
    """A date from the mapping (typed already), or an ISO text; anything else is None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


_GENDER = {
    **dict.fromkeys(("男", "male", "1", "m"), Gender.MALE),
    **dict.fromkeys(("女", "female", "2", "f"), Gender.FEMALE),
}


def gender(value: Any) -> str:
    return _GENDER.get(text(value).lower(), "")


def hukou_type(value: Any) -> str:
    v = text(value)
    if not v:
        return ""
    if v in (HukouType.URBAN, HukouType.RURAL):
        return v
    if "非农" in v or "城" in v or "居民" in v:
        return HukouType.URBAN
    if "农" in v:
        return HukouType.RURAL
    return ""


_RELATIONS = (
    (("户主", "本人"), Relation.HEAD),
    (("配偶", "妻", "夫"), Relation.SPOUSE),
    (("孙", "外孙", "兄", "弟", "姐", "妹", "侄", "甥", "媳", "婿"), Relation.OTHER),
    (("子", "女", "儿"), Relation.CHILD),
    (("父", "母", "公公", "婆婆", "岳"), Relation.PARENT),
    (("租",), Relation.TENANT),
)


#: The codes themselves (``Relation.values`` builds its list on every call: 60 µs a row).
_RELATION_CODES = frozenset(Relation.values)


def relation(value: Any) -> str:
    """与户主关系 as the police write it (长子, 妻, 母亲 …) in the people app's codes."""
    v = text(value)
    if not v:
        return ""
    if v in _RELATION_CODES:
        return v
    for words, code in _RELATIONS:
        if any(w in v for w in words):
            return code
    return Relation.OTHER
