"""Personal information at rest: AES-GCM encryption, a keyed blind index, masking.

``JIAYUAN_PII_KEY`` holds one or more base64 keys of 32 bytes, comma-separated, the
newest first. Ciphertexts name the key they were made with (its first 8 hex digits of
SHA-256), so old rows stay readable while ``jiayuan pii-rotate`` re-encrypts them with
the newest key. The blind index uses its own key (``JIAYUAN_PII_INDEX_KEY``, or one
derived from the oldest encryption key) so that rotation never changes an index.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

PREFIX = "g1"
# The associated data of every ciphertext, encoded once rather than per value.
_AAD = PREFIX.encode()


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, AESGCM]
    current: str
    index_key: bytes


def _key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:8]


def _decode_key(text: str) -> bytes:
    raw = base64.b64decode(text.strip())
    if len(raw) != 32:
        raise ValueError("JIAYUAN_PII_KEY entries must be base64 of 32 bytes")
    return raw


@lru_cache(maxsize=4)
def _keyring(spec: str, index_spec: str) -> Keyring:
    raws = [_decode_key(part) for part in spec.split(",") if part.strip()]
    if not raws:
        raise ValueError("JIAYUAN_PII_KEY is empty")
    keys = {_key_id(raw): AESGCM(raw) for raw in raws}
    if index_spec:
        index_key = base64.b64decode(index_spec)
    else:
        index_key = hmac.new(raws[-1], b"jiayuan blind index v1", hashlib.sha256).digest()
    return Keyring(keys=keys, current=_key_id(raws[0]), index_key=index_key)


def keyring() -> Keyring:
    return _keyring(settings.PII_KEY, settings.PII_INDEX_KEY)


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext``; the result is ``g1$<key id>$<base64 nonce+ciphertext>``."""
    if not plaintext:
        return ""
    ring = keyring()
    nonce = os.urandom(12)
    sealed = ring.keys[ring.current].encrypt(nonce, plaintext.encode(), _AAD)
    return f"{PREFIX}${ring.current}${base64.b64encode(nonce + sealed).decode()}"


def decrypt(token: str) -> str:
    if not token:
        return ""
    prefix, key_id, body = token.split("$", 2)
    if prefix != PREFIX:
        raise ValueError(f"unknown PII ciphertext format {prefix!r}")
    ring = keyring()
    if key_id not in ring.keys:
        raise ValueError(f"PII key {key_id} is not in JIAYUAN_PII_KEY")
    blob = base64.b64decode(body)
    return ring.keys[key_id].decrypt(blob[:12], blob[12:], _AAD).decode()


def needs_rotation(token: str) -> bool:
    return bool(token) and token.split("$", 2)[1] != keyring().current


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed HMAC of the normalised value: equal inputs give equal indexes."""
    if not value:
        return ""
    normalised = value.strip().replace(" ", "").upper()
    # hmac.digest is one C call (OpenSSL's one-shot HMAC); hmac.new builds two hash
    # objects in Python per value, which the seed pays for every resident's ID and phone.
    mac = hmac.digest(keyring().index_key, f"{purpose}:{normalised}".encode(), "sha256")
    return mac.hex()[:40]


def mask_id_number(value: str) -> str:
    """``370830********123X``: the division and the last four characters stay."""
    if not value:
        return ""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """``138****5678``."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
