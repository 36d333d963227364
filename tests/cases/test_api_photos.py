"""Photos of cases: the real type is checked, limits hold, the stored copy carries no
EXIF (no GPS), files stay private and stream only to those who may see the case."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image, features

from jiayuan.cases import photos, services
from jiayuan.cases.models import Case, CasePhoto
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Role
from jiayuan.org.models import Area, Membership

pytestmark = pytest.mark.django_db

User = get_user_model()
GPS_IFD = 0x8825
ORIENTATION = 0x0112


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    """Each test stores its files in its own private media root."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def jpeg_with_gps(size: tuple[int, int] = (64, 48), orientation: int | None = None) -> bytes:
    """A JPEG as a phone takes it: camera make, GPS position, a comment."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneCam"
    exif[GPS_IFD] = {1: "N", 2: (35.0, 44.0, 12.5), 3: "E", 4: (116.0, 28.0, 30.0)}
    if orientation is not None:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"home of Wang")
    return out.getvalue()


def encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, fmt)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid, tiny PNG (1-bit, all black) of the given dimensions."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


def upload(client: Client, case: Case, data: bytes, kind: str = "report", name: str = "a.jpg"):
    return client.post(
        f"/api/v1/cases/{case.pk}/photos",
        {"file": SimpleUploadedFile(name, data, content_type="image/jpeg"), "kind": kind},
    )


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- cleaning ----------------------------------------------------------------------------
def test_stored_jpeg_has_no_exif_and_no_gps(
    users: dict[str, Any], make_case: Any, media: Path
) -> None:
    # given a phone photo with a GPS position in its EXIF
    raw = jpeg_with_gps()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD)  # the input does carry GPS
    case = make_case()
    # when the grid worker adds it to the case
    response = upload(logged_in(users["grid"]), case, raw, name="wang_balcony.jpg")
    # then what is stored is a JPEG with no EXIF, GPS or comment left
    assert response.status_code == 201, response.content
    photo = CasePhoto.objects.get(pk=response.json()["id"])
    stored = Path(photo.file.path).read_bytes()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert not image.getexif().get_ifd(GPS_IFD)
    assert "exif" not in image.info and "comment" not in image.info
    assert b"Exif" not in stored and b"PhoneCam" not in stored and b"home of Wang" not in stored
    assert (photo.content_type, photo.width, photo.height) == ("image/jpeg", 64, 48)
    assert photo.size == len(stored)
    # and it lives under the private media root, never among static files, by a random name
    assert Path(photo.file.path).is_relative_to(media)
    assert not Path(photo.file.path).is_relative_to(Path(settings.STATIC_ROOT))
    assert "wang_balcony" not in photo.file.name
    assert photo.uploaded_by == users["grid"]
    assert AuditEntry.objects.filter(
        object_type="cases.casephoto", object_id=str(photo.pk), area_path=case.area_path
    ).exists()


def test_orientation_is_applied_before_exif_goes() -> None:
    # A portrait photo stored landscape with "rotate 90°" in EXIF stays portrait.
    clean = photos.clean(jpeg_with_gps(size=(64, 48), orientation=6))
    assert (clean.width, clean.height) == (48, 64)
    assert not Image.open(io.BytesIO(clean.data)).getexif()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_accepted_and_kept_in_their_format(fmt: str) -> None:
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("this Pillow has no WebP support")
    clean = photos.clean(encoded(fmt, "RGBA"))
    assert clean.content_type == f"image/{fmt.lower()}"
    assert Image.open(io.BytesIO(clean.data)).format == fmt


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4 not a photo at all", "无法识别的图片"),
        (encoded("GIF", "P"), "只接受 JPEG、PNG 或 WebP"),
        (encoded("BMP"), "只接受 JPEG、PNG 或 WebP"),
        (jpeg_with_gps()[:200], "图片"),  # truncated
        (png_claiming(8000, 5001), "4000 万像素"),
        (b"\xff\xd8\xff" + b"\x00" * (8 * 1024 * 1024), "8 MB"),
    ],
    ids=["not-an-image", "gif", "bmp", "truncated", "over-40-megapixels", "over-8-mb"],
)
def test_bad_uploads_are_refused(
    users: dict[str, Any], make_case: Any, media: Path, data: bytes, message: str
) -> None:
    case = make_case()
    response = upload(logged_in(users["grid"]), case, data)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "validation_error" and message in body["message"]
    assert body["detail"] == {"field": "file"}
    assert not CasePhoto.objects.filter(case=case).exists()
    assert not any(p.is_file() for p in media.rglob("*"))


def test_the_pixel_limit_is_inclusive(monkeypatch: Any) -> None:
    monkeypatch.setattr(photos, "MAX_PIXELS", 40 * 30)
    assert photos.clean(encoded("PNG", size=(40, 30))).width == 40
    with pytest.raises(photos.ValidationFailed, match="像素"):
        photos.clean(encoded("PNG", size=(41, 30)))


# --- who may add and see -----------------------------------------------------------------
def test_photo_streams_only_to_users_who_see_the_case(
    users: dict[str, Any], make_case: Any, other_grid: Area
) -> None:
    case = make_case()
    photo_id = upload(logged_in(users["grid"]), case, jpeg_with_gps()).json()["id"]
    url = f"/api/v1/cases/{case.pk}/photos/{photo_id}"
    for username in ("grid", "community", "street"):
        response = logged_in(users[username]).get(url)
        assert response.status_code == 200, username
        assert response["Content-Type"] == "image/jpeg"
        assert "private" in response["Cache-Control"]
        assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"
    stranger = User.objects.create_user(username="grid_b")
    Membership.objects.create(user=stranger, area=other_grid, role=Role.GRID_WORKER)
    assert logged_in(stranger).get(url).status_code == 404
    assert logged_in(users["resident"]).get(url).status_code == 404
    assert Client().get(url).status_code == 401
    # a photo id of another case does not open through this case
    other = make_case()
    assert (
        logged_in(users["grid"]).get(f"/api/v1/cases/{other.pk}/photos/{photo_id}").status_code
        == 404
    )
    # and no URL serves the media root
    name = CasePhoto.objects.get(pk=photo_id).file.name
    assert Client().get(f"/media/{name}").status_code == 404
    assert logged_in(users["grid"]).get(f"/media/{name}").status_code == 404


def test_result_photos_belong_to_the_handling(users: dict[str, Any], make_case: Any) -> None:
    case = make_case()
    grid, branch = logged_in(users["grid"]), logged_in(users["branch"])
    # not before the case is taken
    early = upload(grid, case, jpeg_with_gps(), kind="result")
    assert (early.status_code, early.json()["code"]) == (409, "photo_not_allowed")
    services.perform(case.pk, "accept", actor=users["grid"])
    # a viewer who neither handles nor supervises may not add a result
    assert upload(branch, case, jpeg_with_gps(), kind="result").status_code == 403
    # the handler may
    done = upload(grid, case, jpeg_with_gps(), kind="result")
    assert (done.status_code, done.json()["kind"]) == (201, "result")
    # an unknown kind is refused
    assert upload(grid, case, jpeg_with_gps(), kind="selfie").status_code == 422


def test_finished_cases_take_no_photos(users: dict[str, Any], make_case: Any) -> None:
    case = make_case()
    services.perform(case.pk, "reject", actor=users["community"], reason="不属实")
    response = upload(logged_in(users["community"]), case, jpeg_with_gps())
    assert (response.status_code, response.json()["code"]) == (409, "photo_not_allowed")


def test_at_most_nine_photos_of_a_kind(users: dict[str, Any], make_case: Any) -> None:
    case = make_case()
    grid = logged_in(users["grid"])
    raw = encoded("PNG", size=(4, 4))
    for _ in range(photos.MAX_PER_KIND):
        assert upload(grid, case, raw, name="p.png").status_code == 201
    assert upload(grid, case, raw, name="p.png").status_code == 409


# --- the reporter's link -----------------------------------------------------------------
def test_reporter_adds_photos_through_the_link_until_the_case_is_taken(
    users: dict[str, Any], make_case: Any
) -> None:
    case = make_case()
    public = Client()
    url = f"/api/v1/public/cases/{case.tracking_token}/photos"
    # when the reporter adds a photo after filing
    response = public.post(url, {"file": SimpleUploadedFile("x.jpg", jpeg_with_gps())})
    # then it is stored cleaned, as a problem photo, and readable through the link
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "report"
    assert body["url"] == f"{url}/{body['id']}"
    shown = public.get(body["url"])
    assert shown.status_code == 200
    assert not Image.open(io.BytesIO(b"".join(shown.streaming_content))).getexif()
    # a wrong token finds nothing
    assert (
        public.post(
            "/api/v1/public/cases/nope/photos",
            {"file": SimpleUploadedFile("x.jpg", jpeg_with_gps())},
        ).status_code
        == 404
    )
    assert public.get(f"/api/v1/public/cases/nope/photos/{body['id']}").status_code == 404
    # once the grid worker takes it, the link adds no more photos
    services.perform(case.pk, "accept", actor=users["grid"])
    late = public.post(url, {"file": SimpleUploadedFile("x.jpg", jpeg_with_gps())})
    assert (late.status_code, late.json()["code"]) == (409, "photo_not_allowed")
    # staff see the reporter's photo in the detail
    detail = logged_in(users["grid"]).get(f"/api/v1/cases/{case.pk}").json()
    assert [p["id"] for p in detail["photos"]] == [body["id"]]
    assert detail["photos"][0]["url"] == f"/api/v1/cases/{case.pk}/photos/{body['id']}"
