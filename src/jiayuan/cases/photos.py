"""Photos of a case (现场照片 / 办理结果照片): checked, cleaned and kept private.

An upload is trusted for nothing: its real type is read by Pillow (JPEG, PNG or WebP
only), its size and pixel count are bounded before any pixel is decoded, and what is
stored is a fresh encoding of the pixels alone — no EXIF (so no GPS position of the
reporter's home), no XMP, no comments. Files live under ``MEDIA_ROOT``, which no URL
serves; they leave the server only through :func:`response`, after the caller checked
that the user may see the case.
"""

from __future__ import annotations

import io
import secrets
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse
from PIL import Image, ImageOps, UnidentifiedImageError

from jiayuan.core import audit
from jiayuan.core.errors import BilingualError, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry

from .choices import Status
from .models import Case, CasePhoto

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PER_KIND = 9
# Pillow format → (content type, file extension, save options).
FORMATS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "JPEG": ("image/jpeg", "jpg", {"quality": 85, "optimize": True}),
    "PNG": ("image/png", "png", {"optimize": True}),
    "WEBP": ("image/webp", "webp", {"quality": 85}),
}
# Result photos belong to the handling; report photos to an open case.
RESULT_STATUSES = (Status.ACCEPTED, Status.IN_PROGRESS, Status.SUSPENDED, Status.HANDLED)


class PhotoRefused(BilingualError):
    code = "photo_not_allowed"
    status = 409


class CleanImage:
    """The re-encoded bytes of an upload and what is known about them."""

    def __init__(self, data: bytes, content_type: str, ext: str, width: int, height: int):
        self.data = data
        self.content_type = content_type
        self.ext = ext
        self.width = width
        self.height = height


def _bad(zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(zh, en, field="file")


def clean(raw: bytes) -> CleanImage:
    """Validate ``raw`` as a JPEG, PNG or WebP photo and re-encode it without metadata."""
    if len(raw) > MAX_BYTES:
        raise _bad("照片不能超过 8 MB", "the photo is larger than 8 MB")
    try:
        probe = Image.open(io.BytesIO(raw))
        fmt = probe.format or ""
        width, height = probe.size
        probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _bad(
            "无法识别的图片，请上传 JPEG、PNG 或 WebP 照片",
            "not a readable image; upload a JPEG, PNG or WebP photo",
        ) from None
    if fmt not in FORMATS:
        raise _bad("只接受 JPEG、PNG 或 WebP 照片", "only JPEG, PNG and WebP photos are accepted")
    if width * height > MAX_PIXELS:
        raise _bad("照片像素过大（上限 4000 万像素）", "the photo exceeds 40 megapixels")
    image: Image.Image
    try:
        image = Image.open(io.BytesIO(raw))
        image.load()
        # EXIF goes, so apply its orientation to the pixels first.
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _bad("图片已损坏", "the image is damaged") from None
    content_type, ext, options = FORMATS[fmt]
    if fmt == "JPEG":
        image = image.convert("L" if image.mode == "L" else "RGB")
    elif "transparency" in image.info or image.mode in ("PA", "RGBa", "La"):
        image = image.convert("RGBA")  # the transparency lived in ``info``, which goes
    elif image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        image = image.convert("RGB")
    # A copy with no ancillary data: Pillow would carry comments, ICC profiles and the
    # like over from ``info`` when saving.
    pixels = image.copy()
    pixels.info = {}
    out = io.BytesIO()
    pixels.save(out, format=fmt, **options)
    return CleanImage(out.getvalue(), content_type, ext, pixels.width, pixels.height)


def read_upload(upload: UploadedFile) -> bytes:
    """The bytes of an upload, refusing oversize files before reading them whole."""
    if upload.size is not None and upload.size > MAX_BYTES:
        raise _bad("照片不能超过 8 MB", "the photo is larger than 8 MB")
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _bad("照片不能超过 8 MB", "the photo is larger than 8 MB")
    return data


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
    for content_type, ext, _options in FORMATS.values():
        if content_type == photo.content_type:
            return ext
    return "bin"
