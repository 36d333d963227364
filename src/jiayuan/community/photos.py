"""Photos of the community services (a fulfilled wish, an activity, a market day).

Uploads are checked and cleaned by :mod:`jiayuan.core.images` (real type JPEG, PNG or
WebP, bounded size and pixels, re-encoded without EXIF) and kept under ``MEDIA_ROOT``,
which no URL serves. A photo carries the area path of its subject, and leaves the
server only through :func:`response`, which answers 404 to whoever may not see that
compound's services (staff out of scope, residents of another compound). The wishes,
volunteers and markets parts all call these two functions.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse, HttpRequest

from jiayuan.core import audit, images
from jiayuan.core.errors import NotFound, ValidationFailed
from jiayuan.core.models import AuditEntry

from .models import Photo
from .residents import may_see_compound

MAX_BYTES = images.MAX_BYTES


def save_photo(
    upload: Any,
    *,
    actor: Any,
    wish: Any = None,
    activity: Any = None,
    market: Any = None,
    caption: str = "",
) -> Photo:
    """Store a cleaned copy of ``upload`` (an uploaded file, or raw bytes) as the photo of
    exactly one subject (audited). Callers check the actor's right to the subject."""
    subjects = [s for s in (wish, activity, market) if s is not None]
    if len(subjects) != 1:
        raise ValidationFailed("照片须属于一个对象", "a photo belongs to exactly one subject")
    subject = subjects[0]
    raw = upload if isinstance(upload, bytes) else images.read_upload(upload, max_bytes=MAX_BYTES)
    image = images.clean(raw, max_bytes=MAX_BYTES)
    caption = (caption or "").strip()[:100]
    photo = Photo(
        wish=wish,
        activity=activity,
        market=market,
        area_path=subject.area_path,
        content_type=image.content_type,
        size=len(image.data),
        width=image.width,
        height=image.height,
        caption=caption,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    name = f"{secrets.token_hex(16)}.{image.ext}"
    with transaction.atomic():
        photo.file.save(name, ContentFile(image.data), save=False)
        try:
            photo.save()
            audit.record(
                AuditEntry.Action.CREATE,
                photo,
                actor,
                {
                    "subject": f"{subject._meta.model_name}:{subject.pk}",
                    "file": photo.file.name,
                    "content_type": photo.content_type,
                    "size": photo.size,
                },
                caption or "photo",
            )
        except Exception:
            photo.file.delete(save=False)
            raise
    return photo


def response(request: HttpRequest, photo: Photo) -> FileResponse:
    """Stream ``photo`` to the requesting user if they may see its compound, else 404."""
    if not may_see_compound(request.user, photo.area_path):
        raise NotFound()
    try:
        handle = photo.file.open("rb")
    except FileNotFoundError:
        raise NotFound("照片文件不存在", "the photo file is missing") from None
    resp = FileResponse(handle, content_type=photo.content_type)
    ext = images.extension(photo.content_type)
    resp["Content-Disposition"] = f'inline; filename="photo-{photo.pk}.{ext}"'
    resp["Cache-Control"] = "private, max-age=3600"
    resp["X-Content-Type-Options"] = "nosniff"
    return resp
