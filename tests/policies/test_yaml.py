"""The YAML policy tests (政策测试用例): every shipped file passes, failures and
malformed cases are reported with the file, the case and the field, never a crash."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
from django.core.management import call_command

from jiayuan.policies.catalogue import RULES
from jiayuan.policies.yamltests import SHIPPED, run_paths

pytestmark = pytest.mark.django_db


def run_text(tmp_path: Path, text: str, name: str = "case.yaml") -> tuple[int, int, str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    out = io.StringIO()
    passed, failed = run_paths([path], out)
    return passed, failed, out.getvalue()


def test_one_file_ships_per_policy() -> None:
    assert sorted(p.stem for p in SHIPPED.glob("*.yaml")) == sorted(RULES)


def test_every_shipped_case_passes() -> None:
    out = io.StringIO()
    passed, failed = run_paths([SHIPPED], out)
    assert failed == 0, out.getvalue()
    assert passed >= 5 * len(RULES)
    assert out.getvalue().splitlines()[-1] == f"{passed} passed, 0 failed"


@pytest.mark.parametrize("code", sorted(RULES))
def test_each_policy_file_covers_every_outcome_it_can_reach(code: str) -> None:
    import yaml

    cases = yaml.safe_load((SHIPPED / f"{code}.yaml").read_text(encoding="utf-8"))
    expectations = {c["expect"] for c in cases}
    assert "not_eligible" in expectations
    assert expectations & {"eligible", "candidate"}
    assert {c["policy"] for c in cases} == {code}
    # the person already receiving the benefit is never matched again
    receiving = [c for c in cases if c.get("person", {}).get("benefits")]
    assert any(c["expect"] == "not_eligible" for c in receiving), code
    # the dead are covered (the funeral waiver matches them, the rest must not)
    assert any(c.get("person", {}).get("deceased") for c in cases), code


GOOD = """\
    - name: 刚满80周岁的本省户籍老人享受高龄津贴
      policy: gaoling-jintie
      date: 2026-11-28
      person:
        birth_date: 1946-11-28
        gender: female
        hukou: "370830"
        hukou_type: 农村
        residence: 常住
        tags:
          - {code: 残疾人, category: 肢体, grade: 2}
      household:
        size: 1
        tags: [低保]
      expect: eligible
"""


def test_the_example_of_the_issue_passes(tmp_path: Path) -> None:
    assert run_text(tmp_path, GOOD) == (1, 0, "1 passed, 0 failed\n")


def test_a_wrong_expectation_fails_with_the_trace(tmp_path: Path) -> None:
    # given the day before the 80th birthday, wrongly expected eligible
    text = GOOD.replace("date: 2026-11-28", "date: 2026-11-27")
    passed, failed, out = run_text(tmp_path, text)
    assert (passed, failed) == (0, 1)
    first, last = out.splitlines()
    assert first.startswith(f"{tmp_path / 'case.yaml'}: #1 刚满80周岁的本省户籍老人享受高龄津贴: ")
    assert "expected eligible, got not_eligible" in first
    assert "age = 79 ≥ 80 ✗" in first and first.endswith("⇒ 不符合")
    assert last == "0 passed, 1 failed"


def test_already_receiving_and_not_in_force_say_why(tmp_path: Path) -> None:
    receiving = GOOD.replace(
        "        tags:\n          - {code: 残疾人",
        "        benefits:\n          - {policy: gaoling-jintie, since: 2020-01-01}\n"
        "        tags:\n          - {code: 残疾人",
    )
    _, failed, out = run_text(tmp_path, receiving)
    assert failed == 1 and "already receives the benefit" in out and "⇒ 符合" in out
    early = """\
    - name: 执行前
      policy: canji-ertong-kangfu
      date: 2025-12-31
      person: {birth_date: 2016-05-05, tags: [残疾人]}
      expect: eligible
    """
    _, failed, out = run_text(tmp_path, early)
    assert failed == 1 and "not in force on 2025-12-31" in out


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("policy: gaoling-jintie", "policy: gaoling"), "policy",
         "unknown policy gaoling; did you mean gaoling-jintie"),
        (("date: 2026-11-28", "date: 2026-02-30"), "date", "invalid date"),
        (("date: 2026-11-28", "date: 明天"), "date", "invalid date '明天'"),
        (("birth_date: 1946-11-28", "birth_date: 1946-13-01"), "person.birth_date",
         "invalid date"),
        (("expect: eligible", "expect: yes"), "expect", "must be one of eligible"),
        (("expect: eligible", "expected: eligible"), "expected", "unknown key expected"),
        (("gender: female", "sex: female"), "person.sex", "unknown key sex"),
        (("gender: female", "gender: 未知"), "person.gender", "unknown value '未知'"),
        (("hukou_type: 农村", "hukou_type: 农业"), "person.hukou_type", "unknown value '农业'"),
        (("residence: 常住", "residence: 暂住"), "person.residence", "unknown value '暂住'"),
        (("code: 残疾人", "code: 残疾"), "person.tags[0].code",
         "unknown tag 残疾; did you mean 残疾人"),
        (("category: 肢体", "category: 腿"), "person.tags[0].category", "must be a 残疾类别"),
        (("grade: 2", "grade: 二级"), "person.tags[0].grade", "must be a int"),
        (("grade: 2", "grade: 2, level: 3"), "person.tags[0].level",
         "tag 残疾人 has no attribute level"),
        (("tags: [低保]", "tags: [低保户]"), "household.tags[0]", "unknown tag 低保户"),
        (("tags: [低保]", "tags: [残疾人]"), "household.tags[0]", "unknown tag 残疾人"),
        (("size: 1", "size: 0"), "household.size", "must be an integer ≥ 1"),
        (("hukou: \"370830\"", "hukou: 山东"), "person.hukou", "division code"),
    ],
)  # fmt: skip
def test_a_malformed_case_names_the_file_the_case_and_the_field(
    tmp_path: Path, change: tuple[str, str], field: str, message: str
) -> None:
    old, new = change
    assert old in GOOD
    passed, failed, out = run_text(tmp_path, GOOD.replace(old, new, 1) + GOOD)
    # the bad case fails, the good one after it still runs
    assert (passed, failed) == (1, 1), out
    line = out.splitlines()[0]
    where = f"{tmp_path / 'case.yaml'}: #1 刚满80周岁的本省户籍老人享受高龄津贴: {field}: "
    assert line.startswith(where), line
    assert message in line, line


def test_benefits_and_deceased_are_checked_too(tmp_path: Path) -> None:
    text = """\
    - name: 待遇写错
      policy: laonian-youdai
      date: 2026-11-28
      person:
        birth_date: 1950-01-01
        benefits:
          - {policy: laonian-youdai, since: 2020-01-01}
          - {policy: youdai, since: 2020-01-01}
      expect: not_eligible
    - name: 死亡日期不是日期
      policy: laonian-youdai
      date: 2026-11-28
      person: {birth_date: 1950-01-01, deceased: true}
      expect: not_eligible
    - name: 缺少日期
      policy: laonian-youdai
      expect: not_eligible
    - 不是用例
    """
    passed, failed, out = run_text(tmp_path, text)
    assert (passed, failed) == (0, 4), out
    lines = out.splitlines()
    assert ": #1 待遇写错: person.benefits[1].policy: 未知的政策 youdai" in lines[0]
    assert ": #2 死亡日期不是日期: person.deceased: 日期无效" in lines[1]
    assert ": #3 缺少日期: date: 缺少必填项 / missing" in lines[2]
    assert ": #4: case: 应为映射" in lines[3]


def test_unreadable_files_and_missing_paths_fail_without_a_crash(tmp_path: Path) -> None:
    passed, failed, out = run_text(tmp_path, "- name: [unclosed\n", "broken.yaml")
    assert (passed, failed) == (0, 1)
    assert out.startswith(f"{tmp_path / 'broken.yaml'}: 无法读取 YAML / cannot read YAML: ")
    passed, failed, out = run_text(tmp_path, "name: 不是列表\n", "mapping.yaml")
    assert failed == 1 and "the file must be a list of cases" in out
    out_missing = io.StringIO()
    assert run_paths([tmp_path / "nowhere.yaml"], out_missing) == (0, 1)
    assert "no such file or directory" in out_missing.getvalue()


def test_a_directory_runs_every_yaml_file_below_it(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text(textwrap.dedent(GOOD), encoding="utf-8")
    (tmp_path / "sub" / "b.yaml").write_text(textwrap.dedent(GOOD), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a test", encoding="utf-8")
    out = io.StringIO()
    assert run_paths([tmp_path], out) == (2, 0)


# --- the command ------------------------------------------------------------------------------
def test_the_command_exits_0_when_every_case_passes(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(textwrap.dedent(GOOD), encoding="utf-8")
    out = io.StringIO()
    call_command("policies", "test", str(tmp_path / "ok.yaml"), stdout=out)
    assert out.getvalue().splitlines()[-1] == "1 passed, 0 failed"


def test_the_command_exits_1_on_a_failure(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(textwrap.dedent(GOOD), encoding="utf-8")
    bad = GOOD.replace("expect: eligible", "expect: not_eligible")
    (tmp_path / "bad.yaml").write_text(textwrap.dedent(bad), encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("policies", "test", str(tmp_path), stdout=out)
    assert exited.value.code == 1
    lines = out.getvalue().splitlines()
    assert "bad.yaml: #1 刚满80周岁的本省户籍老人享受高龄津贴: " in lines[0]
    assert "expected not_eligible, got eligible" in lines[0]
    assert lines[-1] == "1 passed, 1 failed"


def test_the_command_runs_the_shipped_files(tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("policies", "test", str(SHIPPED), stdout=out)
    assert out.getvalue().strip().endswith(" passed, 0 failed")
