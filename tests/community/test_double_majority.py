"""The double majority of Civil Code art. 278 on constructed cases, for every matter type.

The expectations here are written from the article itself (items six to eight need three
quarters of the participants by area and by headcount, the others more than half; two
thirds must take part by both), not read back from the data file, so a wrong threshold in
``matter_types.yaml`` fails here.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from jiayuan.community.deliberation import matters, voting
from jiayuan.community.deliberation.matters import Rule
from jiayuan.community.models import MatterType
from jiayuan.core.errors import ValidationFailed

THREE_QUARTERS = {
    "owners_06_raise_maintenance_fund", "owners_07_rebuild", "owners_08_common_parts_use",
}  # fmt: skip
MORE_THAN_HALF = {
    "owners_01_rules_of_procedure", "owners_02_management_statute", "owners_03_owners_committee",
    "owners_04_property_manager", "owners_05_use_maintenance_fund", "owners_09_other_major",
}  # fmt: skip
OWNERS = THREE_QUARTERS | MORE_THAN_HALF
ITEMS = {
    "owners_01_rules_of_procedure": "制定和修改业主大会议事规则",
    "owners_02_management_statute": "制定和修改管理规约",
    "owners_03_owners_committee": "选举业主委员会或者更换业主委员会成员",
    "owners_04_property_manager": "选聘和解聘物业服务企业或者其他管理人",
    "owners_05_use_maintenance_fund": "使用建筑物及其附属设施的维修资金",
    "owners_06_raise_maintenance_fund": "筹集建筑物及其附属设施的维修资金",
    "owners_07_rebuild": "改建、重建建筑物及其附属设施",
    "owners_08_common_parts_use": "改变共有部分的用途或者利用共有部分从事经营活动",
    "owners_09_other_major": "有关共有和共同管理权利的其他重大事项",
}


def ballots(*groups: tuple[int, str, str | None]) -> list[voting.Ballot]:
    """``(count, area, choice)`` groups of census entries; ``None`` did not vote."""
    return [
        voting.Ballot(area=Decimal(area), choice=choice)
        for n, area, choice in groups
        for _ in range(n)
    ]


def rule_of(code: str) -> Rule:
    return Rule.of(MatterType.objects.get(code=code))


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """The matter types are rows installed by migration 0003."""


def test_the_catalogue_holds_the_nine_items_and_a_resident_matter() -> None:
    rows = {m.code: m for m in MatterType.objects.all()}
    assert OWNERS <= set(rows)
    for code, name in ITEMS.items():
        assert rows[code].name == name
        assert rows[code].census_basis == "owners" and rows[code].by_area
        assert "第二百七十八条" in rows[code].legal_basis
    household = [m for m in rows.values() if m.census_basis == "households"]
    assert household and all(not m.by_area for m in household)


def test_install_is_idempotent_and_repairs_a_changed_threshold() -> None:
    assert matters.install() == 0
    MatterType.objects.filter(code="owners_07_rebuild").update(pass_share="1/2")
    assert matters.install() == 1
    assert MatterType.objects.get(code="owners_07_rebuild").pass_share == "3/4"
    assert matters.install() == 0


@pytest.mark.parametrize("code", sorted(OWNERS))
def test_participation_of_exactly_two_thirds_by_both_is_enough(code: str) -> None:
    # given 3 owners of 100 m² each; 2 take part and agree: exactly 2/3 by area and heads
    result = voting.tally(ballots((2, "100", "yes"), (1, "100", None)), rule_of(code))
    # then 三分之二以上 includes two thirds itself, and 2/2 agree
    assert result.headcount.participation == Fraction(2, 3)
    assert result.area is not None and result.area.participation == Fraction(2, 3)
    assert result.quorum_met and result.passed


@pytest.mark.parametrize("code", sorted(OWNERS))
def test_two_thirds_of_heads_without_two_thirds_of_area_decides_nothing(code: str) -> None:
    # given 2 small flats voting yes and 1 large flat absent: 2/3 of heads, 1/3 of the area
    result = voting.tally(ballots((2, "50", "yes"), (1, "200", None)), rule_of(code))
    assert result.headcount.participation_met
    assert result.area is not None and not result.area.participation_met
    assert not result.quorum_met and not result.passed


@pytest.mark.parametrize("code", sorted(OWNERS))
def test_two_thirds_of_area_without_two_thirds_of_heads_decides_nothing(code: str) -> None:
    # given 1 large flat voting yes and 2 small ones absent: 1/3 of heads, 2/3 of the area
    result = voting.tally(ballots((1, "200", "yes"), (2, "50", None)), rule_of(code))
    assert result.area is not None and result.area.participation_met
    assert not result.headcount.participation_met
    assert not result.passed


@pytest.mark.parametrize("code", sorted(OWNERS))
def test_exactly_half_of_the_participants_agreeing_fails(code: str) -> None:
    # given 4 equal owners all voting, 2 yes and 2 no: exactly one half by area and heads
    result = voting.tally(ballots((2, "90", "yes"), (2, "90", "no")), rule_of(code))
    assert result.quorum_met
    assert result.headcount.approval == Fraction(1, 2)
    # then 过半数 is not reached by one half, and three quarters certainly not
    assert not result.passed


@pytest.mark.parametrize("code", sorted(OWNERS))
def test_exactly_three_quarters_agreeing_passes_every_owners_matter(code: str) -> None:
    # given 4 equal owners voting, 3 yes: exactly 3/4 by area and heads
    result = voting.tally(ballots((3, "80", "yes"), (1, "80", "no")), rule_of(code))
    assert result.headcount.approval == Fraction(3, 4)
    assert result.passed  # 四分之三以上 includes three quarters; 3/4 is also more than half


@pytest.mark.parametrize("code", sorted(OWNERS))
def test_three_quarters_of_heads_but_not_of_area(code: str) -> None:
    # given 3 small flats for and 1 large flat against: 3/4 of heads, 60/100 of the area
    result = voting.tally(ballots((3, "20", "yes"), (1, "40", "no")), rule_of(code))
    assert result.headcount.approval == Fraction(3, 4)
    assert result.area is not None and result.area.approval == Fraction(3, 5)
    # then items (六)(七)(八) fail on the area; the others pass with more than half of both
    assert result.passed is (code in MORE_THAN_HALF)


@pytest.mark.parametrize("code", sorted(OWNERS))
def test_just_over_half_passes_only_the_ordinary_items(code: str) -> None:
    # given 5 equal owners voting, 3 yes (60 %)
    result = voting.tally(ballots((3, "70.5", "yes"), (2, "70.5", "no")), rule_of(code))
    assert result.passed is (code in MORE_THAN_HALF)


@pytest.mark.parametrize("code", sorted(OWNERS))
def test_abstentions_take_part_but_do_not_agree(code: str) -> None:
    # given 4 owners: 2 yes, 2 abstain — all took part; half agree
    result = voting.tally(ballots((2, "100", "yes"), (2, "100", "abstain")), rule_of(code))
    assert result.headcount.participation == 1
    assert result.headcount.abstain == 2
    assert not result.passed


def test_a_real_compound_boundary_is_exact() -> None:
    # given 78 owners, 52 of them taking part — 52/78 is exactly 2/3, which a float
    # (0.6666…) compared with 2/3 rounded the other way would miss
    rule = rule_of("owners_05_use_maintenance_fund")
    result = voting.tally(
        ballots((40, "88.88", "yes"), (12, "88.88", "no"), (26, "88.88", None)), rule
    )
    assert result.headcount.participation == Fraction(2, 3)
    assert result.area is not None and result.area.participation == Fraction(2, 3)
    assert result.passed
    # and one owner fewer taking part decides nothing
    fewer = voting.tally(
        ballots((39, "88.88", "yes"), (12, "88.88", "no"), (27, "88.88", None)), rule
    )
    assert not fewer.quorum_met and not fewer.passed


def test_household_matters_count_households_only() -> None:
    code = MatterType.objects.filter(census_basis="households").order_by("code")[0].code
    rule = rule_of(code)
    assert not rule.by_area
    # exactly half of the households taking part is not more than half
    half = voting.tally(ballots((2, "300", "yes"), (2, "10", None)), rule)
    assert half.area is None and not half.quorum_met
    # three of five households take part, two agree: more than half of both
    passed = voting.tally(ballots((2, "10", "yes"), (1, "500", "no"), (2, "10", None)), rule)
    assert passed.quorum_met and passed.passed
    # one yes, one no, one abstain of three taking part: a third agree
    failed = voting.tally(ballots((1, "1", "yes"), (1, "1", "no"), (1, "1", "abstain")), rule)
    assert failed.quorum_met and not failed.passed


def test_an_empty_census_decides_nothing() -> None:
    result = voting.tally([], rule_of("owners_01_rules_of_procedure"))
    assert not result.quorum_met and not result.passed
    assert result.as_json()["headcount"]["participation"] == "0"


def test_the_tally_is_stored_as_exact_text() -> None:
    result = voting.tally(
        ballots((2, "100.25", "yes"), (1, "100.25", None)), rule_of("owners_07_rebuild")
    )
    stored = result.as_json()
    assert stored["headcount"]["participation"] == "2/3"
    assert stored["area"]["total"] == "300.75"
    assert stored["area"]["participation_pct"] == "66.67"
    assert stored["rule"] == {
        "participation": "2/3", "participation_strict": False,
        "approval": "3/4", "approval_strict": False,
    }  # fmt: skip
    assert stored["passed"] is True


@pytest.mark.parametrize("text", ["2/0", "abc", "3/2", "-1/2", ""])
def test_a_bad_share_in_the_data_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed):
        matters.share(text)
