"""Pacing (限速): a token bucket kept as two numbers on a database row.

WeCom allows a group robot 20 messages a minute. Every process that sends through a
robot (web, workers on several hosts) must share that pace, so the bucket's state is a
row (its tokens and when they were counted) read with ``select_for_update``; this
module is the arithmetic both the mobilisation's group channel
(:mod:`jiayuan.command.channels`) and the assistant's group robots
(:mod:`jiayuan.assistant.wecom.robot`) apply to it.
"""

from __future__ import annotations

import datetime as dt

PER_MINUTE = 20  # WeCom's limit for one group robot


def take_token(
    tokens: float, at: dt.datetime, now: dt.datetime, per_minute: int = PER_MINUTE
) -> tuple[float, float]:
    """One token from a bucket of ``per_minute`` refilled evenly over a minute.

    Returns ``(tokens left, seconds to wait)``. An empty bucket lends the token ahead
    (tokens go negative), so the n-th message over the rate waits its own turn. A caller
    that will not wait keeps its old state instead of the returned one (the token was
    not taken)."""
    rate = per_minute / 60.0
    elapsed = max((now - at).total_seconds(), 0.0)
    tokens = min(float(per_minute), tokens + elapsed * rate)
    wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
    return tokens - 1, wait
