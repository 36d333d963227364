"""core.images: the one check-and-clean of uploaded photos that cases and the community
services share — real type, size and pixel bounds, and a stored copy without EXIF."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from jiayuan.core import images
from jiayuan.core.errors import ValidationFailed

GPS_IFD = 0x8825


def encoded(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB", **kw: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 200, 90) if mode == "RGB" else None).save(out, fmt, **kw)
    return out.getvalue()


def with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneCam"
    exif[GPS_IFD] = {1: "N", 2: (35.0, 44.0, 12.5), 3: "E", 4: (116.0, 28.0, 30.0)}
    return encoded("JPEG", exif=exif, comment=b"home")


@pytest.mark.parametrize(("fmt", "content_type"), [
    ("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"),
])  # fmt: skip
def test_the_three_formats_are_kept_by_their_real_type(fmt: str, content_type: str) -> None:
    clean = images.clean(encoded(fmt))
    assert (clean.content_type, clean.width, clean.height) == (content_type, 40, 30)
    assert images.extension(content_type) == clean.ext
    assert Image.open(io.BytesIO(clean.data)).format == fmt


def test_exif_and_comments_are_dropped() -> None:
    raw = with_gps()
    assert Image.open(io.BytesIO(raw)).getexif()
    clean = images.clean(raw)
    kept = Image.open(io.BytesIO(clean.data))
    assert not kept.getexif() and "comment" not in kept.info
    assert b"PhoneCam" not in clean.data and b"home" not in clean.data


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "无法识别"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "无法识别"),
        (b"GIF89a" + b"\x00" * 40, "无法识别"),
        (encoded("GIF"), "只接受"),
        (encoded("BMP"), "只接受"),
        (encoded("PNG")[:60], "无法识别"),
    ],
)
def test_what_is_no_accepted_photo_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        images.clean(raw)
    assert message in refused.value.zh and refused.value.field == "file"
    assert refused.value.en


def test_the_limits_are_the_callers() -> None:
    raw = encoded("PNG", size=(40, 30))
    assert images.clean(raw, max_pixels=40 * 30).width == 40
    with pytest.raises(ValidationFailed, match="像素"):
        images.clean(encoded("PNG", size=(41, 30)), max_pixels=40 * 30)
    with pytest.raises(ValidationFailed, match="MB"):
        images.clean(raw, max_bytes=len(raw) - 1)


def test_an_oversize_upload_is_refused_before_it_is_read_whole() -> None:
    upload = SimpleUploadedFile("big.jpg", b"x" * 2048, content_type="image/jpeg")
    with pytest.raises(ValidationFailed, match="MB"):
        images.read_upload(upload, max_bytes=1024)
    small = SimpleUploadedFile("ok.jpg", b"y" * 100, content_type="image/jpeg")
    assert images.read_upload(small, max_bytes=1024) == b"y" * 100
