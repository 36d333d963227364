"""Matter types (表决事项类型) and their thresholds, read from data.

The thresholds live in ``community/data/matter_types.yaml`` and are installed as
:class:`~jiayuan.community.models.MatterType` rows (migration 0003 and :func:`install`).
Owners' matters follow the Civil Code of the People's Republic of China, art. 278
(《中华人民共和国民法典》第二百七十八条):

    下列事项由业主共同决定：
    （一）制定和修改业主大会议事规则；
    （二）制定和修改管理规约；
    （三）选举业主委员会或者更换业主委员会成员；
    （四）选聘和解聘物业服务企业或者其他管理人；
    （五）使用建筑物及其附属设施的维修资金；
    （六）筹集建筑物及其附属设施的维修资金；
    （七）改建、重建建筑物及其附属设施；
    （八）改变共有部分的用途或者利用共有部分从事经营活动；
    （九）有关共有和共同管理权利的其他重大事项。
    业主共同决定事项，应当由专有部分面积占比三分之二以上的业主且人数占比三分之二以上
    的业主参与表决。决定前款第六项至第八项规定的事项，应当经参与表决专有部分面积四分之
    三以上的业主且参与表决人数四分之三以上的业主同意。决定前款其他事项，应当经参与表决
    专有部分面积过半数的业主且参与表决人数过半数的业主同意。

and art. 1259 (第一千二百五十九条): 民法所称的"以上"、"以下"、"以内"、"届满"，包括本数；
所称的"不满"、"超过"、"以外"，不包括本数。 So 三分之二以上 / 四分之三以上 are reached by
the share itself (``strict: false``), while 过半数 ("more than half") is not reached by
exactly one half (``strict: true``).

Resident matters (民事民议) are counted by household only, after the residents' meeting of
the Organic Law of the Urban Residents Committees art. 9 (more than half of the
households' representatives present; decided by more than half of those present).

Shares are exact fractions (:class:`fractions.Fraction`), never floats: 2/3 of 78 owners
is 52 exactly, and 52 must pass where a float might round 0.6666… below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from jiayuan.core.errors import ValidationFailed

from ..choices import CensusBasis

DATA = Path(__file__).resolve().parents[1] / "data" / "matter_types.yaml"
FIELDS = (
    "name", "legal_basis", "census_basis", "by_area", "participation_share",
    "participation_strict", "pass_share", "pass_strict",
)  # fmt: skip


def share(text: str) -> Fraction:
    """``"2/3"`` → ``Fraction(2, 3)``; a share must lie in [0, 1]."""
    try:
        value = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise ValidationFailed(
            f"比例 {text!r} 无效", f"invalid share {text!r}", field="share"
        ) from exc
    if not 0 <= value <= 1:
        raise ValidationFailed(
            f"比例 {text} 须在0到1之间", f"share {text} must lie in [0, 1]", field="share"
        )
    return value


@dataclass(frozen=True)
class Rule:
    """The thresholds of one matter type, as exact fractions."""

    by_area: bool
    participation: Fraction
    participation_strict: bool
    approval: Fraction
    approval_strict: bool

    @classmethod
    def of(cls, matter: Any) -> Rule:
        """The rule of a :class:`MatterType` row (or anything with its fields)."""
        return cls(
            by_area=bool(matter.by_area),
            participation=share(matter.participation_share),
            participation_strict=bool(matter.participation_strict),
            approval=share(matter.pass_share),
            approval_strict=bool(matter.pass_strict),
        )


def load(path: Path = DATA) -> list[dict[str, Any]]:
    """The matter types of the data file, checked (codes unique, shares valid)."""
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))["matter_types"]
    seen: set[str] = set()
    out = []
    for row in rows:
        code = row["code"]
        if code in seen:
            raise ValueError(f"{path}: matter type {code} twice")
        seen.add(code)
        if row["census_basis"] not in CensusBasis.values:
            raise ValueError(f"{path}: {code} has census_basis {row['census_basis']!r}")
        share(row["participation_share"])
        share(row["pass_share"])
        out.append({"code": code, **{name: row[name] for name in FIELDS}})
    return out


def install(model: Any = None) -> int:
    """Create or update the matter types from the data file (idempotent); returns how
    many rows were created or changed. ``model`` is the historical model in a migration."""
    if model is None:
        from ..models import MatterType

        model = MatterType
    changed = 0
    for row in load():
        values = {name: row[name] for name in FIELDS}
        obj = model.objects.filter(code=row["code"]).first()
        if obj is None:
            model.objects.create(code=row["code"], **values)
            changed += 1
        elif any(getattr(obj, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(obj, key, value)
            obj.save()
            changed += 1
    return changed
