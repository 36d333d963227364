"""What the data hub's targets share: the source of a run, problems, dictionaries."""

from __future__ import annotations

from typing import Any

from jiayuan.core import imports
from jiayuan.core.imports import Context, text
from jiayuan.people.choices import Gender, HukouType, Relation

from ..models import Source
from ..provenance import Origin

#: The note of every audit entry an import writes (with the run id and the source).
NOTE = "数据导入"


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


def note(context: Context) -> str:
    return f"{NOTE}：{context.source_name} 批次 #{context.run_id}"


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
