"""The ``api_key`` of each Open311 client: issued by ``jiayuan open311-key create``, only
their SHA-256 stored, revocable."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.errors import BilingualError, NotFound
from jiayuan.core.models import AuditEntry

from ..models import Open311Key
from .formats import Open311Error


# --- keys ---------------------------------------------------------------------------------
def key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_key(name: str) -> str:
    """Issue an Open311 api_key (签发密钥) for the client ``name``; returns the raw key,
    which is shown once — only its SHA-256 is stored."""
    name = name.strip()
    if not name or len(name) > 60:
        raise BilingualError("名称须为 1–60 个字符", "the name must have 1 to 60 characters")
    if Open311Key.objects.filter(name=name).exists():
        raise BilingualError(f"名称已存在：{name}", f"a key named {name!r} exists already")
    raw = f"o311_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = Open311Key.objects.create(name=name, digest=key_digest(raw))
        audit.record(AuditEntry.Action.CREATE, key, None, {"name": [None, name]}, "open311 key")
    return raw


def revoke_key(name: str) -> Open311Key:
    """Revoke (停用) the key of client ``name``: its requests are refused from now on."""
    key = Open311Key.objects.filter(name=name.strip()).first()
    if key is None:
        raise NotFound(f"没有名为 {name} 的密钥", f"no key named {name!r}")
    if key.revoked_at is not None:
        raise BilingualError(f"密钥 {name} 已停用", f"the key {name!r} is revoked already")
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            key,
            None,
            {"revoked_at": [None, key.revoked_at.isoformat()]},
            "open311 key revoked",
        )
    return key


def check_key(raw: str) -> Open311Key:
    """The active key for ``raw``, or a 403."""
    if not raw:
        raise Open311Error(403, ("缺少 api_key", "api_key is required to create a request"))
    key = Open311Key.objects.filter(digest=key_digest(raw), revoked_at__isnull=True).first()
    if key is None:
        raise Open311Error(
            403, ("api_key 无效或已停用", "invalid or revoked api_key — can't create the request")
        )
    return key
