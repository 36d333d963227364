"""Documents of partners and of projects' stages (证照、申报书、审批意见、协议 …).

An upload is trusted for nothing. Its real type is read from its bytes, not from its
name or the browser's content type, and only these are kept:

- PDF (``%PDF-`` header and an ``%%EOF`` trailer);
- JPEG and PNG photos and scans, re-encoded without metadata by :mod:`jiayuan.core.images`
  (no EXIF, so no GPS position of whoever took the photo);
- Office Open XML documents (Word ``.docx``, Excel ``.xlsx``, PowerPoint ``.pptx``),
  recognised by their ZIP directory; macro-enabled ones (with a ``vbaProject.bin``) and the
  old binary formats are refused, since they can carry macros.

Every kept file is named by a random token under ``MEDIA_ROOT`` (which no URL serves),
with its SHA-256 recorded, and leaves the server only through :func:`response`, which
answers 404 to whoever may not see the partner's or project's area. Every part of the
app (registry, projects' stages, supervision) stores its files through
:func:`save_document`.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import zipfile
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse

from jiayuan.core import audit, images
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed

from .choices import DocumentKind, PartnerStatus, Stage
from .models import Document, Partner, Project

MAX_BYTES = 20 * 1024 * 1024
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
# The folder inside an Office Open XML package that names its application.
OOXML = {"word/": (DOCX, "docx"), "xl/": (XLSX, "xlsx"), "ppt/": (PPTX, "pptx")}
EXTENSIONS = {PDF: "pdf", "image/jpeg": "jpg", "image/png": "png"} | {
    ct: ext for ct, ext in OOXML.values()
}
ACCEPTED = "PDF、JPEG、PNG、Word/Excel/PowerPoint (docx/xlsx/pptx)"


@dataclass(frozen=True)
class CheckedFile:
    """The bytes to keep of an upload, with their real type."""

    data: bytes
    content_type: str
    ext: str


def _bad(zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(zh, en, field="file")


def read_upload(upload: Any, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of an upload (an uploaded file or raw bytes), refusing an oversize one
    before reading it whole."""
    if isinstance(upload, bytes):
        data = upload
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > max_bytes:
            raise _too_large(max_bytes)
        data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        raise _bad("文件为空", "the file is empty")
    return data


def _too_large(max_bytes: int) -> ValidationFailed:
    mb = max_bytes // (1024 * 1024)
    return _bad(f"文件不能超过 {mb} MB", f"the file is larger than {mb} MB")


def check(raw: bytes, *, max_bytes: int = MAX_BYTES) -> CheckedFile:
    """Recognise ``raw`` as one of the accepted types (``ValidationFailed`` on field
    ``file`` otherwise); images come back re-encoded."""
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
    if raw.startswith(b"%PDF-"):
        if b"%%EOF" not in raw[-2048:]:
            raise _bad("PDF 文件不完整", "the PDF is truncated (no %%EOF trailer)")
        return CheckedFile(raw, PDF, "pdf")
    if raw.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        image = images.clean(raw, max_bytes=max_bytes)
        if image.content_type not in ("image/jpeg", "image/png"):
            raise _bad("图片只接受 JPEG 或 PNG", "images must be JPEG or PNG")
        return CheckedFile(image.data, image.content_type, image.ext)
    if raw.startswith(b"PK\x03\x04"):
        return _office(raw)
    if raw.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise _bad(
            "不接受旧版 Office 文件（.doc/.xls），请另存为 docx/xlsx 或 PDF",
            "old binary Office files (.doc/.xls) are not accepted; save as docx/xlsx or PDF",
        )
    raise _bad(f"只接受 {ACCEPTED} 文件", f"only {ACCEPTED} files are accepted")


def _office(raw: bytes) -> CheckedFile:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _bad("文件已损坏", "the file is damaged") from None
    if "[Content_Types].xml" not in names:
        raise _bad(f"只接受 {ACCEPTED} 文件", f"only {ACCEPTED} files are accepted")
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise _bad("不接受含宏的 Office 文件", "Office files with macros are not accepted")
    for folder, (content_type, ext) in OOXML.items():
        if any(name.startswith(folder) for name in names):
            return CheckedFile(raw, content_type, ext)
    raise _bad(f"只接受 {ACCEPTED} 文件", f"only {ACCEPTED} files are accepted")


def ensure_not_frozen(partner: Partner | None) -> None:
    """A dismissed partner's history is frozen: 409 on any write to it."""
    if partner is not None and partner.status == PartnerStatus.DISMISSED:
        raise Conflict(
            "该合伙人已清退，档案已冻结，不能再修改",
            "the partner was dismissed; its history is frozen",
        )


def save_document(
    user: Any,
    upload: Any,
    *,
    kind: str,
    title: str,
    partner: Partner | None = None,
    project: Project | None = None,
    stage: str = "",
    perm: str = Perm.SUPERVISE,
) -> Document:
    """Keep ``upload`` (an uploaded file or raw bytes) as a document of ``partner`` or of
    ``project`` (at ``stage``), audited. ``user`` must hold ``perm`` (SUPERVISE unless the
    caller says otherwise) at the owner's area: 404 if they cannot see it, 403 if they
    can but may not; ``user=None`` is the system (demo, jobs). A dismissed partner's
    documents are frozen (409)."""
    owner: Partner | Project | None = project if project is not None else partner
    if owner is None:
        raise ValidationFailed(
            "文件须属于合伙人或项目", "a document belongs to a partner or a project"
        )
    if kind not in DocumentKind.values:
        raise ValidationFailed("文件类别无效", "unknown document kind", field="kind")
    if stage and stage not in Stage.values:
        raise ValidationFailed("阶段无效", "unknown stage", field="stage")
    if stage and project is None:
        raise ValidationFailed("只有项目的文件有阶段", "only a project's document has a stage")
    title = (title or "").strip()
    if not title:
        raise ValidationFailed("请填写文件标题", "the title is required", field="title")
    if len(title) > 120:
        raise ValidationFailed(
            "标题不能超过 120 字", "the title is over 120 characters", field="title"
        )
    if user is not None:
        if not path_allowed(user, owner.area_path, Perm.VIEW):
            raise NotFound()
        if not path_allowed(user, owner.area_path, perm):
            raise PermissionDenied("没有上传该文件的权限", "you may not upload this document")
    checked = check(read_upload(upload))
    digest = hashlib.sha256(checked.data).hexdigest()
    document = Document(
        partner=partner,
        project=project,
        stage=stage,
        kind=kind,
        title=title,
        content_type=checked.content_type,
        size=len(checked.data),
        sha256=digest,
        uploaded_by=user if getattr(user, "pk", None) else None,
    )
    name = f"{secrets.token_hex(16)}.{checked.ext}"
    with transaction.atomic():
        if partner is not None:
            # read the status under a lock: a dismissal decided meanwhile freezes it
            locked = Partner.objects.select_for_update().only("status").get(pk=partner.pk)
            ensure_not_frozen(locked)
        document.file.save(name, ContentFile(checked.data), save=False)
        try:
            document.save()
            audit.record(
                AuditEntry.Action.CREATE,
                document,
                user,
                {
                    "owner": f"{owner._meta.model_name}:{owner.pk}",
                    "stage": stage,
                    "kind": kind,
                    "file": document.file.name,
                    "content_type": document.content_type,
                    "size": document.size,
                    "sha256": digest,
                },
                title,
            )
        except Exception:
            document.file.delete(save=False)
            raise
    return document


def visible_document(user: Any, pk: int) -> Document:
    """The document ``pk`` if ``user`` may see its owner's area, else 404."""
    document = Document.objects.visible_to(user).filter(pk=pk).first()
    if document is None:
        raise NotFound("文件不存在", "document not found")
    return document


def response(user: Any, document: Document) -> FileResponse:
    """Stream ``document`` to ``user`` as a download if they may see its area, else 404."""
    if not path_allowed(user, document.area_path, Perm.VIEW):
        raise NotFound("文件不存在", "document not found")
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise NotFound("文件不存在", "the document's file is missing") from None
    ext = EXTENSIONS.get(document.content_type, "bin")
    resp = FileResponse(handle, content_type=document.content_type)
    resp["Content-Disposition"] = f'attachment; filename="document-{document.pk}.{ext}"'
    resp["Cache-Control"] = "private, max-age=3600"
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp
