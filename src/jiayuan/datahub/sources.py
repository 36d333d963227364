"""Sources are data: the YAML file shipped with the app (``data/sources.yaml``) and the
admin pages edit the same :class:`~.models.Source` and :class:`~.models.Stream` rows.

:func:`sync` loads a YAML file into those rows idempotently: a source or stream the
database lacks is added; one it has keeps the edits made on the admin pages unless
``force`` is given (then the file's values win). Nothing is ever deleted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from jiayuan.core.errors import NotFound, ValidationFailed

from .models import Contract, Source, SourceKind, Stream

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "sources.yaml"

SOURCE_KEYS = {"code", "name", "agency", "kind", "rank", "config", "schedule", "active",
               "description", "streams"}  # fmt: skip
STREAM_KEYS = {"name", "label", "target", "mapping", "field_ranks", "cursor_field", "lookback",
               "contract", "config"}  # fmt: skip


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)  # "code" or "code/stream"
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"新增 {len(self.created)}，更新 {len(self.updated)}，保留 {len(self.kept)} / "
            f"created {len(self.created)}, updated {len(self.updated)}, kept {len(self.kept)}"
        )


def _bad(zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(f"数据源定义有误：{zh}", f"bad source definition: {en}")


def load(path: Path | str | None = None) -> list[dict[str, Any]]:
    """The source definitions of a YAML file, checked for shape (not yet written)."""
    file = Path(path) if path else DEFAULT_FILE
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _bad(f"无法读取 {file.name}（{exc}）", f"cannot read {file.name} ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise _bad("文件应有 sources 列表", "the file needs a 'sources' list")
    out = []
    for item in data["sources"]:
        if not isinstance(item, dict) or not item.get("code"):
            raise _bad("每个数据源都要有 code", "every source needs a code")
        code = item["code"]
        unknown = set(item) - SOURCE_KEYS
        if unknown:
            raise _bad(f"{code} 有未知的键 {sorted(unknown)}", f"{code}: unknown keys {unknown}")
        if item.get("kind") not in SourceKind.values:
            raise _bad(f"{code} 的 kind 应为 {SourceKind.values}", f"{code}: bad kind")
        for stream in item.get("streams") or []:
            if not isinstance(stream, dict) or not stream.get("name") or not stream.get("target"):
                raise _bad(f"{code} 的数据流要有 name 和 target", f"{code}: stream needs name")
            unknown = set(stream) - STREAM_KEYS
            if unknown:
                raise _bad(
                    f"{code}/{stream['name']} 有未知的键 {sorted(unknown)}",
                    f"{code}/{stream['name']}: unknown keys {unknown}",
                )
            if stream.get("contract", Contract.PAUSE) not in Contract.values:
                raise _bad(f"{code}/{stream['name']} 的 contract 无效", "bad contract")
            if not isinstance(stream.get("mapping", []), list):
                raise _bad(f"{code}/{stream['name']} 的 mapping 应为列表", "mapping is a list")
        out.append(item)
    return out


def _source_values(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item.get("name", item["code"]),
        "agency": item.get("agency", ""),
        "kind": item["kind"],
        "rank": int(item.get("rank", 10)),
        "config": item.get("config") or {},
        "schedule": item.get("schedule", ""),
        "active": bool(item.get("active", True)),
        "description": item.get("description", ""),
    }


def _stream_values(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "label": item.get("label", ""),
        "target": item["target"],
        "mapping": item.get("mapping") or [],
        "field_ranks": item.get("field_ranks") or {},
        "cursor_field": item.get("cursor_field", ""),
        "lookback": int(item.get("lookback", 0)),
        "contract": item.get("contract", Contract.PAUSE),
        "config": item.get("config") or {},
    }


@transaction.atomic
def sync(path: Path | str | None = None, *, force: bool = False) -> SyncReport:
    """Write the file's sources and streams (see the module's docstring)."""
    report = SyncReport()
    items = load(path)
    existing = {s.code: s for s in Source.objects.filter(code__in=[i["code"] for i in items])}
    streams = {
        (s.source_id, s.name): s for s in Stream.objects.filter(source__in=existing.values())
    }
    for item in items:
        values = _source_values(item)
        source = existing.get(item["code"])
        if source is None:
            source = Source.objects.create(code=item["code"], **values)
            report.created.append(source.code)
        elif force and any(getattr(source, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(source, k, v)
            source.save()
            report.updated.append(source.code)
        else:
            report.kept.append(source.code)
        for stream_item in item.get("streams") or []:
            key = f"{source.code}/{stream_item['name']}"
            svalues = _stream_values(stream_item)
            stream = streams.get((source.pk, stream_item["name"]))
            if stream is None:
                Stream.objects.create(source=source, name=stream_item["name"], **svalues)
                report.created.append(key)
            elif force and any(getattr(stream, k) != v for k, v in svalues.items()):
                for k, v in svalues.items():
                    setattr(stream, k, v)
                stream.save()
                report.updated.append(key)
            else:
                report.kept.append(key)
    return report


def get_source(code: str) -> Source:
    source = Source.objects.filter(code=code).first()
    if source is None:
        raise NotFound(f"数据源 {code} 不存在", f"there is no source {code!r}")
    return source


def pick_stream(source: Source, name: str | None = None) -> Stream:
    """The named stream of ``source``, or its only one when no name is given."""
    streams = list(source.streams.all())
    if name:
        for stream in streams:
            if stream.name == name:
                return stream
        raise NotFound(
            f"数据源 {source.code} 没有数据流 {name}",
            f"source {source.code} has no stream {name!r}",
        )
    if len(streams) != 1:
        names = "、".join(s.name for s in streams) or "无"
        raise ValidationFailed(
            f"数据源 {source.code} 有多个数据流（{names}），请指定 --stream",
            f"source {source.code} has {len(streams)} streams: name one with --stream",
            field="stream",
        )
    return streams[0]
