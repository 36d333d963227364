import base64
import logging

import pytest
from django.test import override_settings

from jiayuan.core import pii
from jiayuan.core.logging import PIIMaskingFilter, mask_text

ID = "37083019461128002X"


def test_encrypt_is_randomised_and_reversible() -> None:
    a, b = pii.encrypt(ID), pii.encrypt(ID)
    assert a != b
    assert ID not in a
    assert pii.decrypt(a) == pii.decrypt(b) == ID


def test_blind_index_is_stable_and_purpose_bound() -> None:
    assert pii.blind_index(ID, purpose="id") == pii.blind_index(ID.lower(), purpose="id")
    assert pii.blind_index(ID, purpose="id") != pii.blind_index(ID, purpose="phone")
    assert ID not in pii.blind_index(ID, purpose="id")


def test_masks() -> None:
    assert pii.mask_id_number("37083019461128123X") == "370830********123X"
    assert pii.mask_phone("13812345678") == "138****5678"
    assert pii.mask_id_number("") == ""


def test_tampered_ciphertext_is_refused() -> None:
    token = pii.encrypt(ID)
    prefix, key_id, body = token.split("$")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        pii.decrypt(f"{prefix}${key_id}${base64.b64encode(bytes(raw)).decode()}")


def test_key_rotation_keeps_old_rows_readable_and_the_index_stable() -> None:
    old_key = base64.b64encode(b"o" * 32).decode()
    new_key = base64.b64encode(b"n" * 32).decode()
    with override_settings(PII_KEY=old_key):
        old_token = pii.encrypt(ID)
        old_index = pii.blind_index(ID, purpose="id")
    with override_settings(PII_KEY=f"{new_key},{old_key}"):
        assert pii.decrypt(old_token) == ID
        assert pii.needs_rotation(old_token)
        new_token = pii.encrypt(ID)
        assert not pii.needs_rotation(new_token)
        assert pii.blind_index(ID, purpose="id") == old_index
    with override_settings(PII_KEY=new_key), pytest.raises(ValueError, match="not in"):
        pii.decrypt(old_token)


def test_log_lines_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    assert mask_text(f"found {ID} at 13812345678") == "found 370830********002X at 138****5678"
    logger = logging.getLogger("jiayuan.test")
    logger.addFilter(PIIMaskingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="jiayuan.test"):
            logger.info("person %s phone %s", ID, "13812345678")
    finally:
        logger.filters.clear()
    assert ID not in caplog.text
    assert "13812345678" not in caplog.text
    assert "370830********002X" in caplog.text


def test_blind_index_digests_are_unchanged_by_the_one_shot_hmac() -> None:
    # Pinned from the hmac.new(...).hexdigest() implementation: stored indexes must keep
    # matching, with the derived index key and with an explicit one.
    key = base64.b64encode(b"k" * 32).decode()
    index_key = base64.b64encode(b"i" * 32).decode()
    with override_settings(PII_KEY=key, PII_INDEX_KEY=""):
        assert pii.blind_index("37083019461128002x ", purpose="id") == (
            "803e950eca2f1db01e8a2134b3240262367a8ebe"
        )
    with override_settings(PII_KEY=key, PII_INDEX_KEY=index_key):
        assert pii.blind_index("13812345678", purpose="phone") == (
            "2fb1b8085cd82da9636a28e3e9f7d8f74f7f3331"
        )
