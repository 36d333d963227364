"""GB 11643-1999 citizen identity numbers (公民身份号码).

Eighteen characters: a six-digit GB/T 2260 division code, the birth date as YYYYMMDD,
a three-digit sequence whose last digit is odd for men and even for women, and an
ISO 7064 MOD 11-2 check character (0-9 or X).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils import timezone

from .divisions import is_valid_province
from .errors import ValidationFailed

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


class InvalidIDNumber(ValidationFailed):
    """An identity number that GB 11643 rejects (422 in the API)."""

    code = "invalid_id_number"


@dataclass(frozen=True)
class IDNumber:
    """A checked identity number and what it says about its holder."""

    value: str
    division: str
    birth_date: dt.date
    gender: str  # "male" | "female"

    def __str__(self) -> str:
        return self.value


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first seventeen digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def normalize(raw: str) -> str:
    """Spaces dropped and a lowercase ``x`` raised; a 15-digit number of the first
    generation (GB 11643-1989) upgraded to eighteen characters."""
    value = raw.strip().replace(" ", "").upper()
    if len(value) == 15 and value.isdigit():
        return upgrade15(value)
    return value


def upgrade15(value: str) -> str:
    """The 18-character form of a first-generation number: ``19`` before its two-digit
    birth year (those numbers were issued to people born in the 1900s only) and the
    check character after it."""
    body = f"{value[:6]}19{value[6:]}"
    return body + check_char(body)


def parse(raw: str, *, today: dt.date | None = None) -> IDNumber:
    """Check ``raw`` and return what it encodes, or raise :class:`InvalidIDNumber`."""
    value = normalize(raw or "")
    if not _SHAPE.match(value):
        raise InvalidIDNumber(
            "身份证号码应为18位，前17位为数字，最后一位为数字或X",
            "an ID number has 18 characters: 17 digits, then a digit or X",
        )
    if not is_valid_province(value[:6]):
        raise InvalidIDNumber(
            f"身份证号码的行政区划代码 {value[:6]} 不存在",
            f"the division code {value[:6]} of the ID number does not exist",
        )
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIDNumber(
            f"身份证号码中的出生日期 {value[6:14]} 不是有效日期",
            f"the birth date {value[6:14]} in the ID number is not a real date",
        ) from None
    today = today or timezone.localdate()
    if birth > today or birth.year < 1880:
        raise InvalidIDNumber(
            f"身份证号码中的出生日期 {birth.isoformat()} 不可能",
            f"the birth date {birth.isoformat()} in the ID number is impossible",
        )
    expected = check_char(value[:17])
    if value[17] != expected:
        raise InvalidIDNumber(
            "身份证号码校验位错误",
            "the check character of the ID number is wrong",
        )
    gender = "male" if int(value[16]) % 2 else "female"
    return IDNumber(value=value, division=value[:6], birth_date=birth, gender=gender)


def build(division: str, birth_date: dt.date, sequence: int, gender: str) -> str:
    """Compose a valid number; ``sequence`` 0-99 picks the first two sequence digits."""
    last = (sequence * 7) % 5 * 2 + (1 if gender == "male" else 0)
    body = f"{division}{birth_date:%Y%m%d}{sequence % 100:02d}{last}"
    return body + check_char(body)
