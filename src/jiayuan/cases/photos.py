"""Photos of a case (现场照片 / 办理结果照片): checked, cleaned and kept private.

An upload is trusted for nothing: :mod:`jiayuan.core.images` reads its real type (JPEG,
PNG or WebP only), bounds its size and pixel count before any pixel is decoded, and
re-encodes the pixels alone — no EXIF (so no GPS position of the reporter's home), no
XMP, no comments. Files live under ``MEDIA_ROOT``, which no URL serves; they leave the
server only through :func:`response`, after the caller checked that the user may see
the case.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse

from jiayuan.core import audit, images
from jiayuan.core.errors import BilingualError, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry

from .choices import Status
from .models import Case, CasePhoto

MAX_BYTES = images.MAX_BYTES
MAX_PIXELS = images.MAX_PIXELS
MAX_PER_KIND = 9
# Result photos belong to the handling; report photos to an open case.
RESULT_STATUSES = (Status.ACCEPTED, Status.IN_PROGRESS, Status.SUSPENDED, Status.HANDLED)


class PhotoRefused(BilingualError):
    code = "photo_not_allowed"
    status = 409


def clean(raw: bytes) -> images.CleanImage:
    """Validate ``raw`` as a JPEG, PNG or WebP photo and re-encode it without metadata
    (:func:`jiayuan.core.images.clean` within this module's limits)."""
    return images.clean(raw, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)


def read_upload(upload: UploadedFile) -> bytes:
    """The bytes of an upload, refusing oversize files before reading them whole."""
    return images.read_upload(upload, max_bytes=MAX_BYTES)


def check_may_add(case: Case, kind: str, rel: set[str]) -> None:
    """Who may add which photo when: report photos to an open case by anyone who sees it,
    result photos by its handler or supervisor while it is handled."""
    if kind not in CasePhoto.Kind.values:
        raise ValidationFailed("照片类型无效", "kind is report or result", field="kind")
    if not case.is_open:
        raise PhotoRefused("已结束的诉求不能再上传照片", "the case is finished")
    if kind == CasePhoto.Kind.RESULT:
        if not rel & {"handler", "supervisor"}:
            raise PermissionDenied(
                "只有办理人或督办人可以上传办理结果照片",
                "only the handler or a supervisor may add result photos",
            )
        if case.status not in RESULT_STATUSES:
            raise PhotoRefused(
                f"当前状态「{case.get_status_display()}」不能上传办理结果照片",
                f"result photos cannot be added while the case is {case.status}",
            )
    if CasePhoto.objects.filter(case=case, kind=kind).count() >= MAX_PER_KIND:
        raise PhotoRefused(
            f"每类照片最多 {MAX_PER_KIND} 张", f"at most {MAX_PER_KIND} photos of each kind"
        )


def attach(case: Case, raw: bytes, *, kind: str, actor: Any, note: str = "") -> CasePhoto:
    """Store a cleaned copy of ``raw`` as a photo of ``case`` (audited). Callers check
    the actor's right first (:func:`check_may_add`)."""
    image = clean(raw)
    name = f"{secrets.token_hex(16)}.{image.ext}"
    photo = CasePhoto(
        case=case,
        kind=kind,
        content_type=image.content_type,
        size=len(image.data),
        width=image.width,
        height=image.height,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    with transaction.atomic():
        photo.file.save(name, ContentFile(image.data), save=False)
        try:
            photo.save()
            # the entry is scoped like the case (photos carry no area of their own)
            photo.area_path = case.area_path  # type: ignore[attr-defined]
            audit.record(
                AuditEntry.Action.CREATE,
                photo,
                actor,
                {
                    "case": case.number,
                    "kind": kind,
                    "file": photo.file.name,
                    "content_type": photo.content_type,
                    "size": photo.size,
                },
                note or f"photo of {case.number}",
            )
        except Exception:
            photo.file.delete(save=False)
            raise
    return photo


def response(photo: CasePhoto) -> FileResponse:
    """Stream a stored photo; never cached by shared caches."""
    try:
        handle = photo.file.open("rb")
    except FileNotFoundError:
        raise NotFound("照片文件不存在", "the photo file is missing") from None
    resp = FileResponse(handle, content_type=photo.content_type)
    resp["Content-Disposition"] = f'inline; filename="{photo.case_id}-{photo.pk}.{_ext(photo)}"'
    resp["Cache-Control"] = "private, max-age=3600"
    resp["X-Content-Type-Options"] = "nosniff"
    return resp


def _ext(photo: CasePhoto) -> str:
    return images.extension(photo.content_type)
