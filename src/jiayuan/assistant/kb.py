"""The shipped knowledge base: the entries generated from the 20 catalogue policies, the
entries of ``data/kb/*.yaml`` and the synonyms of ``data/synonyms.yaml``.

:func:`sync` installs them like the policy catalogue does (``jiayuan.policies.catalogue``):
missing entries and synonyms are added; a shipped or generated entry nobody edited is
brought up to date with the files; an entry staff edited (origin ``staff``, version above
1, or ``updated_by`` set) keeps its edits. A data migration runs it, so a new database
has the base; ``jiayuan assistant sync`` runs it again after an upgrade.

The YAML is validated before anything is written: an error names the file, the entry's
key and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.utils import timezone

from jiayuan.core.errors import ValidationFailed

from .choices import Origin, SourceLevel, Topic

DATA_DIR = Path(__file__).resolve().parent / "data"
KB_DIR = DATA_DIR / "kb"
SYNONYMS_FILE = DATA_DIR / "synonyms.yaml"
WORDS_FILE = DATA_DIR / "words.txt"
DECLINE_FILE = DATA_DIR / "decline.yaml"
DECLINE_PREFIX = "decline-"

POLICY_PREFIX = "policy-"
FIGURE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
# The fields an installed entry takes from its spec (what an edit protects).
CONTENT_FIELDS = (
    "title", "topic", "origin", "questions", "answer", "source", "article", "source_level",
    "office", "hours", "local_figures", "valid_from", "valid_until",
)  # fmt: skip
LEVEL_OF_POLICY = {"national": "national", "province": "province", "city": "city"}


@dataclass
class EntrySpec:
    """One entry as shipped (from a YAML file or generated from a catalogue policy)."""

    key: str
    title: str
    topic: str
    questions: list[str]
    answer: str
    source: str
    article: str = ""
    source_level: str = SourceLevel.NATIONAL
    office: str = ""
    hours: str = ""
    local_figures: list[dict[str, Any]] | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    origin: str = Origin.SHIPPED
    policy_code: str = ""

    def fields(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in CONTENT_FIELDS}
        values["local_figures"] = list(self.local_figures or [])
        return values


def _fail(where: str, key: str, field: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(
        f"{where}：条目 {key or '?'} 的字段 {field}：{zh}",
        f"{where}: entry {key or '?'}, field {field}: {en}",
        field=field,
        detail={"file": where, "key": key, "field": field},
    )


def _text(raw: dict[str, Any], name: str, where: str, key: str, *, required: bool,
          limit: int) -> str:  # fmt: skip
    value = raw.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _fail(where, key, name, "应为文字", "must be text")
    value = value.strip()
    if required and not value:
        raise _fail(where, key, name, "不能为空", "is required")
    if len(value) > limit:
        raise _fail(where, key, name, f"不能超过 {limit} 字", f"longer than {limit} characters")
    return value


def _date(raw: dict[str, Any], name: str, where: str, key: str) -> dt.date | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _fail(where, key, name, "日期格式应为 YYYY-MM-DD", "not a YYYY-MM-DD date") from None


def _figures(raw: Any, where: str, key: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail(where, key, "local_figures", "应为列表", "must be a list")
    figures = []
    for i, item in enumerate(raw):
        field = f"local_figures[{i}]"
        if not isinstance(item, dict):
            raise _fail(where, key, field, "应为 {name, label, value, unit}", "must be a mapping")
        unknown = set(item) - {"name", "label", "value", "unit", "note"}
        if unknown:
            raise _fail(where, key, field, f"未知字段 {sorted(unknown)}", "unknown fields")
        name = item.get("name")
        if not isinstance(name, str) or not FIGURE_NAME.match(name):
            raise _fail(
                where, key, f"{field}.name", "应为小写英文标识", "must be a lower-case name"
            )
        label = item.get("label")
        if not isinstance(label, str) or not label.strip():
            raise _fail(where, key, f"{field}.label", "不能为空", "is required")
        value = item.get("value")
        if value is not None and not isinstance(value, str | int | float | Decimal):
            raise _fail(where, key, f"{field}.value", "应为数值、文字或 null", "must be a scalar")
        unit = item.get("unit") or ""
        if not isinstance(unit, str):
            raise _fail(where, key, f"{field}.unit", "应为文字", "must be text")
        figures.append(
            {
                "name": name,
                "label": label.strip(),
                "value": None if value is None else _plain(value),
                "unit": unit.strip(),
            }
        )
    return figures


def _plain(value: Any) -> str:
    """A figure's value as residents read it: ``80``, not ``80.00``."""
    if isinstance(value, Decimal | float):
        text = format(Decimal(str(value)).normalize(), "f")
        return text
    return str(value).strip()


def yaml_list(text: str, where: str, what: tuple[str, str] = ("列表", "list")) -> list[Any]:
    """The list a shipped YAML file holds (empty for an empty file); ``where`` names the
    file in the error, ``what`` says in Chinese and English what the list is of."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(
            f"{where}：YAML 格式错误：{exc}", f"{where}: not valid YAML: {exc}"
        ) from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise ValidationFailed(f"{where}：应为{what[0]}", f"{where}: must be a {what[1]}")
    return data


def parse_entries(text: str, where: str) -> list[EntrySpec]:
    """The entries of one YAML file; ``where`` names the file in errors."""
    data = yaml_list(text, where, ("条目列表", "list of entries"))
    specs = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise _fail(where, f"#{i + 1}", "-", "应为映射", "must be a mapping")
        key = raw.get("key")
        if not isinstance(key, str) or not KEY.match(key):
            raise _fail(where, f"#{i + 1}", "key", "应为小写字母、数字和连字符", "must be a slug")
        if key.startswith(POLICY_PREFIX):
            raise _fail(where, key, "key", "policy- 前缀留给政策目录生成的条目",
                        "the policy- prefix is reserved for the catalogue")  # fmt: skip
        known = {
            "key", "title", "topic", "questions", "answer", "source", "article",
            "source_level", "office", "hours", "local_figures", "valid_from", "valid_until",
        }  # fmt: skip
        unknown = set(raw) - known
        if unknown:
            field = sorted(unknown)[0]
            raise _fail(where, key, field, "未知字段", "unknown field")
        topic = raw.get("topic") or Topic.OTHER
        if topic not in Topic.values:
            raise _fail(
                where, key, "topic", f"应为 {', '.join(Topic.values)} 之一", "unknown topic"
            )
        level = raw.get("source_level") or SourceLevel.NATIONAL
        if level not in SourceLevel.values:
            raise _fail(where, key, "source_level", "应为 national/province/city/county",
                        "unknown level")  # fmt: skip
        questions = raw.get("questions") or []
        if not isinstance(questions, list) or not all(
            isinstance(q, str) and q.strip() for q in questions
        ):
            raise _fail(where, key, "questions", "应为问法文字的列表", "must be a list of text")
        figures = _figures(raw.get("local_figures"), where, key)
        answer = _text(raw, "answer", where, key, required=True, limit=4000)
        names = {f["name"] for f in figures}
        for name in PLACEHOLDER.findall(answer):
            if name not in names:
                raise _fail(where, key, "answer", f"占位符 {{{name}}} 没有对应的本地数额",
                            f"placeholder {{{name}}} has no local figure")  # fmt: skip
        spec = EntrySpec(
            key=key,
            title=_text(raw, "title", where, key, required=True, limit=100),
            topic=topic,
            questions=[q.strip() for q in questions],
            answer=answer,
            source=_text(raw, "source", where, key, required=True, limit=200),
            article=_text(raw, "article", where, key, required=False, limit=100),
            source_level=level,
            office=_text(raw, "office", where, key, required=False, limit=100),
            hours=_text(raw, "hours", where, key, required=False, limit=100),
            local_figures=figures,
            valid_from=_date(raw, "valid_from", where, key),
            valid_until=_date(raw, "valid_until", where, key),
        )
        if spec.valid_from and spec.valid_until and spec.valid_until <= spec.valid_from:
            raise _fail(where, key, "valid_until", "应晚于 valid_from", "must follow valid_from")
        specs.append(spec)
    return specs


def shipped_entries(directory: Path = KB_DIR) -> list[EntrySpec]:
    """Every entry of ``directory/*.yaml``, validated; a key used twice is an error."""
    if not directory.is_dir():  # an install without its data files: say so, never "0 added"
        raise ValidationFailed(
            f"知识库文件目录不存在：{directory}",
            f"the knowledge base's directory is missing: {directory}",
        )
    specs: list[EntrySpec] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        where = f"data/kb/{path.name}"
        for spec in parse_entries(path.read_text(encoding="utf-8"), where):
            if spec.key in seen:
                raise _fail(where, spec.key, "key", f"与 {seen[spec.key]} 重复",
                            f"also in {seen[spec.key]}")  # fmt: skip
            seen[spec.key] = where
            specs.append(spec)
    return specs


def shipped_synonyms(path: Path = SYNONYMS_FILE) -> list[tuple[str, str]]:
    """``(term, canonical)`` pairs of ``data/synonyms.yaml``, validated."""
    if not path.exists():
        return []
    where = f"data/{path.name}"
    data = yaml_list(path.read_text(encoding="utf-8"), where)
    pairs: dict[str, str] = {}
    for i, item in enumerate(data):
        label = f"#{i + 1}"
        if not isinstance(item, dict):
            raise _fail(where, label, "-", "应为 {term, canonical}", "must be a mapping")
        term, canonical = item.get("term"), item.get("canonical")
        for name, value in (("term", term), ("canonical", canonical)):
            if not isinstance(value, str) or not value.strip() or len(value.strip()) > 30:
                raise _fail(where, f"{label} {term}", name, "应为 1–30 字的文字",
                            "must be text of 1-30 characters")  # fmt: skip
        assert isinstance(term, str) and isinstance(canonical, str)  # noqa: S101 - checked above
        term, canonical = term.strip(), canonical.strip()
        if term == canonical:
            raise _fail(where, f"{label} {term}", "canonical", "与说法相同", "same as term")
        if term in pairs and pairs[term] != canonical:
            raise _fail(where, f"{label} {term}", "term", "重复且规范词不同",
                        "repeated with another canonical")  # fmt: skip
        pairs[term] = canonical
    return list(pairs.items())


def shipped_words(path: Path = WORDS_FILE) -> list[str]:
    """The custom dictionary's words (``data/words.txt``; ``#`` starts a comment)."""
    if not path.exists():
        return []
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip().split(" ")[0].strip()
        if word:
            words.append(word)
    return words


@dataclass(frozen=True)
class DeclineTopic:
    """A topic the assistant must not answer although it shares words with the base
    (``data/decline.yaml``): indexed beside the entries, never an answer. It has no
    answer text; ``answer`` and ``local_figures`` are there for the index's sake."""

    key: str
    title: str
    questions: tuple[str, ...]
    answer: str = ""
    local_figures: tuple[dict[str, Any], ...] = ()


def shipped_declines(path: Path = DECLINE_FILE) -> list[DeclineTopic]:
    """The decline topics of ``data/decline.yaml`` (``{key: decline-…, title,
    questions}``), validated; none when the file is absent."""
    if not path.exists():
        return []
    where = f"data/{path.name}"
    data = yaml_list(path.read_text(encoding="utf-8"), where)
    topics: dict[str, DeclineTopic] = {}
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise _fail(where, f"#{i + 1}", "-", "应为 {key, title, questions}",
                        "must be a mapping")  # fmt: skip
        key = item.get("key")
        if not isinstance(key, str) or not KEY.match(key) or not key.startswith(DECLINE_PREFIX):
            raise _fail(where, f"#{i + 1} {key}", "key", f"应为 {DECLINE_PREFIX}… 形式的编号",
                        f"must be a key starting {DECLINE_PREFIX}")  # fmt: skip
        if key in topics:
            raise _fail(where, key, "key", "重复", "used twice")
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _fail(where, key, "title", "不能为空", "must not be empty")
        questions = item.get("questions")
        if (
            not isinstance(questions, list)
            or not questions
            or not all(isinstance(q, str) and q.strip() for q in questions)
        ):
            raise _fail(where, key, "questions", "应为非空的问题列表",
                        "must be a non-empty list of questions")  # fmt: skip
        topics[key] = DeclineTopic(key, title.strip(), tuple(q.strip() for q in questions))
    return list(topics.values())


def _materials(materials: Any) -> str:
    if isinstance(materials, list) and materials:
        return "、".join(str(m) for m in materials)
    return ""


def policy_entry(policy: Any, parameters: list[Any], today: dt.date | None = None) -> EntrySpec:
    """The entry generated from a catalogue policy (a Policy row and its Parameter rows,
    live or from a migration's registry): who qualifies, what they get, how to apply, the
    materials, the office and the legal basis; each parameter's latest period up to
    ``today`` becomes a local figure (value null when the county's figure is unknown)."""
    today = today or timezone.localdate()
    name = policy.name
    parts = []
    if policy.summary:
        parts.append(f"适用对象：{policy.summary}。")
    benefit = (policy.benefit or "").strip()
    if benefit:
        parts.append(f"享受待遇：{benefit}" + ("" if benefit.endswith("。") else "。"))
    apply = (
        f"申请办法：本人或家属向{policy.office}提出申请"
        if policy.office
        else "申请办法：向社区提出申请"
    )
    materials = _materials(policy.materials)
    parts.append(apply + (f"，带上{materials}。" if materials else "。"))
    latest: dict[str, Any] = {}
    for p in sorted(parameters, key=lambda p: p.start):
        if p.start <= today or p.name not in latest:
            latest[p.name] = p
    figures = [
        {
            "name": p.name,
            "label": p.label,
            "value": None if p.value is None else _plain(p.value),
            "unit": p.unit or "",
        }
        for p in latest.values()
    ]
    unknown = [f["label"] for f in figures if f["value"] is None]
    if unknown:
        parts.append(f"{'、'.join(unknown)}由县级主管部门确定，请向{policy.office or '社区'}咨询。")
    return EntrySpec(
        key=f"{POLICY_PREFIX}{policy.code}",
        title=name[:100],
        topic=topic_of_policy(policy.code),
        questions=[
            f"{name}谁能领",
            f"{name}怎么申请",
            f"{name}要什么材料",
            f"{name}是什么",
            f"{name}找哪个部门办",
            *([f"{policy.summary}能享受什么"] if policy.summary else []),
        ],
        answer="".join(parts),
        source=policy.legal_basis[:200],
        article=(policy.article or "")[:100],
        source_level=LEVEL_OF_POLICY.get(policy.level, SourceLevel.PROVINCE),
        office=policy.office or "",
        local_figures=figures,
        valid_from=policy.active_from,
        valid_until=policy.active_until,
        origin=Origin.CATALOGUE,
        policy_code=policy.code,
    )


TOPIC_OF_PREFIX = (
    ("yibao", Topic.MEDICAL_INSURANCE),
    ("jumin-yanglao", Topic.PENSION),
    ("laonian", Topic.ELDERLY),
    ("gaoling", Topic.ELDERLY),
    ("kunnan-laoren", Topic.ELDERLY),
    ("canji", Topic.DISABILITY),
    ("zhongdu-canji", Topic.DISABILITY),
    ("tekun", Topic.ASSISTANCE),
    ("dibao", Topic.ASSISTANCE),
    ("sangzang", Topic.ASSISTANCE),
    ("jisheng", Topic.FAMILY_PLANNING),
    ("tuiyi", Topic.VETERANS),
)


def topic_of_policy(code: str) -> str:
    if code == "canji-junren":
        return Topic.VETERANS
    for prefix, topic in TOPIC_OF_PREFIX:
        if code.startswith(prefix):
            return topic
    return Topic.OTHER


def edited(entry: Any) -> bool:
    """Whether staff changed an installed entry (its edits are kept)."""
    return entry.origin == Origin.STAFF or entry.version > 1 or entry.updated_by_id is not None


@dataclass
class SyncResult:
    added: int = 0
    updated: int = 0
    kept: int = 0
    synonyms: int = 0

    def __str__(self) -> str:
        return (
            f"新增条目 {self.added} 条，更新 {self.updated} 条，保留人工修改 {self.kept} 条，"
            f"新增同义词 {self.synonyms} 个"
        )


def sync(apps: Any = None) -> SyncResult:
    """Install the base (see the module): the catalogue's entries, the shipped YAML
    entries and the synonyms. ``apps`` is a migration's app registry, if any."""
    if apps is None:
        from django.apps import apps as live

        apps = live
    Entry = apps.get_model("assistant", "Entry")
    Synonym = apps.get_model("assistant", "Synonym")
    Policy = apps.get_model("policies", "Policy")
    Parameter = apps.get_model("policies", "Parameter")

    specs = shipped_entries()  # validated before anything is written
    synonyms = shipped_synonyms()
    by_policy: dict[int, list[Any]] = {}
    for p in Parameter.objects.all():
        by_policy.setdefault(p.policy_id, []).append(p)
    policies = {}
    for policy in Policy.objects.order_by("code"):
        spec = policy_entry(policy, by_policy.get(policy.pk, []))
        specs.append(spec)
        policies[spec.key] = policy

    result = SyncResult()
    installed = {e.key: e for e in Entry.objects.filter(key__in=[s.key for s in specs])}
    for spec in specs:
        values = spec.fields()
        entry = installed.get(spec.key)
        if entry is None:
            Entry.objects.create(key=spec.key, policy=policies.get(spec.key), **values)
            result.added += 1
        elif edited(entry):
            result.kept += 1
        elif any(getattr(entry, k) != v for k, v in values.items()) or (
            spec.key in policies and entry.policy_id != policies[spec.key].pk
        ):
            for k, v in values.items():
                setattr(entry, k, v)
            entry.policy = policies.get(spec.key)
            entry.save()
            result.updated += 1
    existing = set(Synonym.objects.values_list("term", flat=True))
    new = [Synonym(term=t, canonical=c) for t, c in synonyms if t not in existing]
    Synonym.objects.bulk_create(new)
    result.synonyms = len(new)
    return result
