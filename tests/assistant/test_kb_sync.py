"""kb.sync(): the catalogue's 20 policies and the shipped YAML installed by the data
migration; a second run changes nothing; staff edits are kept, untouched entries follow
the files, a removed entry comes back; YAML errors name the file, the key and the field."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from jiayuan.assistant import kb
from jiayuan.assistant.choices import Origin
from jiayuan.assistant.models import Entry, Synonym
from jiayuan.core.errors import ValidationFailed
from jiayuan.policies.catalogue import CATALOGUE

pytestmark = pytest.mark.django_db


def test_the_migration_installed_the_base() -> None:
    keys = set(Entry.objects.values_list("key", flat=True))
    assert {f"policy-{spec.code}" for spec in CATALOGUE} <= keys
    assert {spec.key for spec in kb.shipped_entries()} <= keys
    assert Synonym.objects.count() == len(kb.shipped_synonyms())


def test_a_policy_entry_says_who_what_how_and_keeps_unknown_figures_unknown() -> None:
    entry = Entry.objects.get(key="policy-gaoling-jintie")
    assert entry.origin == Origin.CATALOGUE and entry.policy is not None
    assert entry.policy.code == "gaoling-jintie"
    assert "80周岁以上山东户籍老人" in entry.answer  # who qualifies
    assert "县民政局" in entry.answer and "居民身份证" in entry.answer  # where, with what
    assert (entry.source, entry.article) == ("山东省老年人权益保障条例", "第三十六条")
    assert "高龄津贴谁能领" in entry.questions
    figures = {f["name"]: f for f in entry.local_figures}
    assert figures["amount_80"]["value"] is None
    known = {f["name"]: f for f in Entry.objects.get(key="policy-jumin-yanglao").local_figures}
    assert known["account_divisor"]["value"] == "139"


def test_sync_twice_changes_nothing() -> None:
    kb.sync()  # the files as they are now (the migration ran at the session's start)
    result = kb.sync()
    assert (result.added, result.updated, result.synonyms) == (0, 0, 0)
    stamp = (Entry.objects.count(), Synonym.objects.count())
    assert (kb.sync().added, (Entry.objects.count(), Synonym.objects.count())) == (0, stamp)


def test_staff_edits_are_kept_and_untouched_entries_follow_the_files() -> None:
    staff = get_user_model().objects.create_user("kb-editor", password="x")
    edited = Entry.objects.get(key="policy-dibao")
    edited.answer = "工作人员改写的答复。"
    edited.updated_by = staff
    edited.save()
    bumped = Entry.objects.get(key="policy-tekun-gongyang")
    bumped.answer = "第二版答复。"
    bumped.version = 2
    bumped.save()
    stale = Entry.objects.get(key="policy-gaoling-jintie")
    shipped_answer = stale.answer
    stale.answer = "旧版本的答复。"
    stale.save()
    Entry.objects.filter(key="policy-laonian-tijian").delete()

    result = kb.sync()

    assert Entry.objects.get(key="policy-dibao").answer == "工作人员改写的答复。"
    assert Entry.objects.get(key="policy-tekun-gongyang").answer == "第二版答复。"
    assert Entry.objects.get(key="policy-gaoling-jintie").answer == shipped_answer
    assert Entry.objects.filter(key="policy-laonian-tijian").exists()
    assert (result.added, result.updated) == (1, 1)
    assert result.kept >= 2


def test_a_staff_synonym_is_kept() -> None:
    Synonym.objects.create(term="敬老卡片", canonical="老年人优待证")
    kb.sync()
    assert Synonym.objects.get(term="敬老卡片").canonical == "老年人优待证"


GOOD = """
- key: test-entry
  title: 测试条目
  topic: service
  questions: [测试问法]
  answer: 测试答复{amount}。
  source: 测试文件
  local_figures:
    - {name: amount, label: 测试标准, value: null, unit: 元}
"""


def test_valid_yaml_parses() -> None:
    (spec,) = kb.parse_entries(GOOD, "data/kb/t.yaml")
    assert spec.key == "test-entry"
    assert spec.local_figures == [
        {"name": "amount", "label": "测试标准", "value": None, "unit": "元"}
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("topic: service", "topic: weather"), "topic"),
        (("answer: 测试答复{amount}。", "answer: 答复{other}"), "answer"),
        (("source: 测试文件", "source: ''"), "source"),
        (("{name: amount,", "{name: Amount,"), "local_figures[0].name"),
        (("questions: [测试问法]", "questions: 测试问法"), "questions"),
        (("key: test-entry", "key: policy-x"), "key"),
    ],
)
def test_a_yaml_error_names_file_key_and_field(change: tuple[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        kb.parse_entries(GOOD.replace(*change), "data/kb/t.yaml")
    assert caught.value.field == field
    assert "data/kb/t.yaml" in caught.value.zh and field in caught.value.zh
    assert caught.value.detail["file"] == "data/kb/t.yaml"


def test_a_duplicate_key_across_files_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(ValidationFailed, match=r"b\.yaml"):
        kb.shipped_entries(tmp_path)


def test_the_shipped_files_are_valid() -> None:
    specs = kb.shipped_entries()
    assert specs and all(s.source and s.answer for s in specs)


def test_a_missing_data_directory_is_an_error_not_an_empty_base(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match="missing"):
        kb.shipped_entries(tmp_path / "absent")


def test_the_shipped_decline_topics_load_and_are_no_entries() -> None:
    topics = kb.shipped_declines()
    assert topics and all(t.key.startswith("decline-") and t.questions for t in topics)
    assert not Entry.objects.filter(key__in=[t.key for t in topics]).exists()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("- key: tianqi\n  title: 天气\n  questions: [明天下雨吗]\n", "key"),
        ("- key: decline-tianqi\n  title: ''\n  questions: [明天下雨吗]\n", "title"),
        ("- key: decline-tianqi\n  title: 天气\n  questions: []\n", "questions"),
        ("- key: decline-tianqi\n  title: 天气\n  questions: [明天下雨吗]\n" * 2, "key"),
    ],
)
def test_a_bad_decline_topic_names_its_field(tmp_path, text: str, field: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "decline.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        kb.shipped_declines(path)
    assert caught.value.detail["field"] == field and "decline.yaml" in caught.value.zh
