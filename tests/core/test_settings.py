"""Configuration comes from the environment; production refuses unsafe defaults."""

import os
import subprocess
import sys

import pytest


def run_check(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JIAYUAN_")}
    return subprocess.run(
        [sys.executable, "-m", "jiayuan.cli", "check"],
        env={**base, "JIAYUAN_DATABASE_URL": "sqlite:///:memory:", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({}, "JIAYUAN_SECRET_KEY is the default"),
        ({"JIAYUAN_SECRET_KEY": "s" * 50}, "JIAYUAN_PII_KEY is the default"),
        (
            {
                "JIAYUAN_SECRET_KEY": "s" * 50,
                "JIAYUAN_PII_KEY": "bmV3LXBpaS1rZXktb2YtMzItYnl0ZXMtZm9yLXRlc3Q=",
                "JIAYUAN_DEBUG": "1",
            },
            "DEBUG is on",
        ),
    ],
)
def test_production_refuses_default_secrets_and_debug(env: dict[str, str], complaint: str) -> None:
    result = run_check(JIAYUAN_ENV="production", **env)
    assert result.returncode != 0
    assert complaint in result.stderr
    assert "拒绝以生产模式启动" in result.stderr


def test_production_starts_with_real_secrets() -> None:
    result = run_check(
        JIAYUAN_ENV="production",
        JIAYUAN_SECRET_KEY="s" * 50,
        JIAYUAN_PII_KEY="bmV3LXBpaS1rZXktb2YtMzItYnl0ZXMtZm9yLXRlc3Q=",
    )
    assert result.returncode == 0, result.stderr


def test_defaults_are_chinese_and_shanghai() -> None:
    from django.conf import settings

    assert settings.LANGUAGE_CODE == "zh-hans"
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ
