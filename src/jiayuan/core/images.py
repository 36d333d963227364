"""Uploaded images (photos of cases, wishes, activities, markets): checked, cleaned.

An upload is trusted for nothing: its real type is read by Pillow (JPEG, PNG or WebP
only), its size and pixel count are bounded before any pixel is decoded, and what is
kept is a fresh encoding of the pixels alone — no EXIF (so no GPS position of the
photographer's home), no XMP, no comments. Every app that accepts photos calls
:func:`read_upload` then :func:`clean`; where the cleaned bytes are stored and who may
read them is the calling app's business.
"""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ValidationFailed

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Pillow format → (content type, file extension, save options).
FORMATS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "JPEG": ("image/jpeg", "jpg", {"quality": 85, "optimize": True}),
    "PNG": ("image/png", "png", {"optimize": True}),
    "WEBP": ("image/webp", "webp", {"quality": 85}),
}


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


def _too_large(max_bytes: int) -> ValidationFailed:
    mb = max_bytes // (1024 * 1024)
    return _bad(f"照片不能超过 {mb} MB", f"the photo is larger than {mb} MB")


def clean(raw: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> CleanImage:
    """Validate ``raw`` as a JPEG, PNG or WebP photo and re-encode it without metadata
    (``ValidationFailed`` on field ``file`` otherwise)."""
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
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
    if width * height > max_pixels:
        raise _bad(
            f"照片像素过大（上限 {max_pixels / 10_000:g} 万像素）",
            f"the photo exceeds {max_pixels / 1_000_000:g} megapixels",
        )
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


def read_upload(upload: UploadedFile, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of an upload, refusing oversize files before reading them whole."""
    if upload.size is not None and upload.size > max_bytes:
        raise _too_large(max_bytes)
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def extension(content_type: str) -> str:
    """The file extension of a stored image's content type (``bin`` if unknown)."""
    for known, ext, _options in FORMATS.values():
        if known == content_type:
            return ext
    return "bin"
