"""The 统一社会信用代码 (unified social credit code, GB 32100-2015) of a partner.

Eighteen characters from the code set ``0-9 A-H J-N P-R T-U W-Y`` (no I, O, Z, S, V),
with these parts::

    9  1  370830  MA3C4B5D6  X
    │  │  │       │          └ 18: check character over the first 17 (mod 31)
    │  │  │       └ 9–17: organisation code (GB 11714: 8 characters and its check digit)
    │  │  └ 3–8: administrative division of the registering authority (GB/T 2260)
    │  └ 2: organisation category, within the authority
    └ 1: registration authority (1 机构编制, 5 民政, 9 市场监管 …)

:func:`problems` names every rule a code breaks, in Chinese and English; :func:`validate`
raises the first as a 422 with all of them in ``detail``. :func:`generate` makes valid
codes for a division (the demo and the tests).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

from jiayuan.core.divisions import COUNTIES, PROVINCES
from jiayuan.core.errors import ValidationFailed

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {char: value for value, char in enumerate(CHARSET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714's organisation code: its characters' values (0–9, A=10 … Z=35) and weights.
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Registration authority (登记管理部门) → its organisation categories (机构类别).
AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常住新闻机构", "9": "其他"}),
    "3": ("司法行政", {
        "1": "律师执业机构", "2": "公证处", "3": "基层法律服务所", "4": "司法鉴定机构",
        "5": "仲裁委员会", "9": "其他",
    }),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构", "2": "港澳台旅游部门常驻代表机构",
                   "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商/市场监管", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织",
                   "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),
}  # fmt: skip


@dataclass(frozen=True)
class Problem:
    """One rule a code breaks: a short ``rule`` name, the 1-based ``position`` it is
    about (0 for the whole code) and the message in both languages."""

    rule: str
    position: int
    zh: str
    en: str

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "position": self.position, "zh": self.zh, "en": self.en}


@dataclass(frozen=True)
class Uscc:
    """A valid code and what its parts say."""

    code: str
    authority: str
    category: str
    division: str
    division_name: str
    organisation_code: str


def normalise(text: str) -> str:
    """Full-width characters to half-width, spaces and dashes out, upper case."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(c for c in text if c not in " -\t\n\r").upper()


def check_character(first17: str) -> str:
    """The 18th character of a code whose first 17 characters are ``first17``."""
    total = sum(VALUES[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def _org_value(char: str) -> int:
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10


def org_check_digit(body8: str) -> str:
    """The 9th character of a GB 11714 organisation code (``0-9`` or ``X``)."""
    total = sum(_org_value(c) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def problems(raw: str) -> list[Problem]:
    """Every rule ``raw`` breaks (empty if it is a valid code)."""
    code = normalise(raw)
    if len(code) != 18:
        return [
            Problem(
                "length", 0,
                f"统一社会信用代码应为 18 位，实为 {len(code)} 位",
                f"a unified social credit code has 18 characters, not {len(code)}",
            )
        ]  # fmt: skip
    bad = [i + 1 for i, c in enumerate(code) if c not in VALUES]
    if bad:
        return [
            Problem(
                "charset", bad[0],
                f"第 {bad[0]} 位含有不允许的字符（不用 I、O、Z、S、V 及符号）",
                f"character {bad[0]} is not allowed (no I, O, Z, S, V or symbols)",
            )
        ]  # fmt: skip
    found: list[Problem] = []
    authority = AUTHORITIES.get(code[0])
    if authority is None:
        found.append(
            Problem(
                "authority", 1,
                f"第 1 位登记管理部门码“{code[0]}”不存在",
                f"character 1 ({code[0]}) is not a registration authority code",
            )
        )  # fmt: skip
    elif code[1] not in authority[1]:
        found.append(
            Problem(
                "category", 2,
                f"第 2 位机构类别码“{code[1]}”不属于登记管理部门“{authority[0]}”",
                f"character 2 ({code[1]}) is not an organisation category of authority "
                f"{code[0]}",
            )
        )  # fmt: skip
    division = code[2:8]
    if not division.isdigit():
        found.append(
            Problem(
                "division", 3,
                "第 3–8 位行政区划码应为 6 位数字",
                "characters 3-8 (the division code) must be six digits",
            )
        )  # fmt: skip
    elif division[:2] not in PROVINCES:
        found.append(
            Problem(
                "division", 3,
                f"第 3–8 位行政区划码“{division}”的省级代码不存在",
                f"characters 3-8: {division} names no province (GB/T 2260)",
            )
        )  # fmt: skip
    org = code[8:17]
    if org[8] != org_check_digit(org[:8]):
        found.append(
            Problem(
                "organisation_code", 17,
                "第 9–17 位组织机构代码的校验码（第 17 位）不正确",
                "characters 9-17: the organisation code's check digit (character 17) is wrong",
            )
        )  # fmt: skip
    if code[17] != check_character(code[:17]):
        found.append(
            Problem(
                "check", 18,
                "第 18 位校验码不正确，请核对代码是否抄错",
                "character 18 (the check character) does not match; the code is mistyped",
            )
        )  # fmt: skip
    return found


def validate(raw: str, *, field: str = "uscc") -> Uscc:
    """The parsed code, or ``ValidationFailed`` naming the first broken rule (all of
    them in ``detail``)."""
    found = problems(raw)
    if found:
        first = found[0]
        raise ValidationFailed(first.zh, first.en, field=field, detail=[p.as_dict() for p in found])
    code = normalise(raw)
    division = code[2:8]
    return Uscc(
        code=code,
        authority=code[0],
        category=code[1],
        division=division,
        division_name=COUNTIES.get(division, PROVINCES[division[:2]]),
        organisation_code=code[8:17],
    )


def is_valid(raw: str) -> bool:
    return not problems(raw)


# Organisation code bodies use the characters both code sets share.
_BODY = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def generate(
    division: str,
    rng: random.Random,
    *,
    authority: str = "5",
    category: str = "2",
) -> str:
    """A valid code registered in ``division`` (six digits) by ``authority`` in
    ``category`` (default: 民政, 民办非企业单位), its organisation code drawn from
    ``rng``."""
    if authority not in AUTHORITIES or category not in AUTHORITIES[authority][1]:
        raise ValueError(f"no category {category} under authority {authority}")
    if len(division) != 6 or not division.isdigit() or division[:2] not in PROVINCES:
        raise ValueError(f"{division!r} is not a GB/T 2260 division code")
    while True:
        body = "".join(rng.choice(_BODY) for _ in range(8))
        org = body + org_check_digit(body)
        if all(c in VALUES for c in org):
            break
    first17 = authority + category + division + org
    return first17 + check_character(first17)
