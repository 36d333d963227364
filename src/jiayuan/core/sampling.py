"""Deterministic draws for generated data (the demo county and each app's demo stage):
one random stream per seed and label, exact splits of a total, mobile numbers.

They live below every app so that an app's own demo stage draws the same way as the
demo county without importing ``jiayuan.demo``, which sits on top of the apps."""

from __future__ import annotations

import random

# Mobile number prefixes in use in mainland China.
PHONE_PREFIXES: tuple[str, ...] = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180",
    "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip


def rng_for(seed: int, label: str) -> random.Random:
    """The random stream of ``label`` for the demo seed ``seed``."""
    return random.Random(f"jiayuan-demo:{seed}:{label}")  # noqa: S311 - demo data


def mobile_number(rng: random.Random) -> str:
    """An 11-digit mainland mobile number with a prefix in use."""
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def distribute(rng: random.Random, total: int, bins: int, lo: int, hi: int) -> list[int]:
    """``bins`` counts between ``lo`` and ``hi`` that add up to exactly ``total``."""
    if not lo * bins <= total <= hi * bins:
        raise ValueError(f"cannot split {total} into {bins} bins of {lo}..{hi}")
    counts = [lo] * bins
    rest = total - lo * bins
    open_bins = [i for i in range(bins) if counts[i] < hi]
    while rest:
        j = rng.randrange(len(open_bins))
        i = open_bins[j]
        counts[i] += 1
        rest -= 1
        if counts[i] == hi:
            open_bins[j] = open_bins[-1]
            open_bins.pop()
    return counts
