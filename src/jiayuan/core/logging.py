"""A logging filter that masks ID and phone numbers in every log line."""

from __future__ import annotations

import logging
import re

from .pii import mask_id_number, mask_phone

ID_RE = re.compile(r"(?<!\d)(\d{17}[\dXx])(?![\dXx])")
PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")


def mask_text(text: str) -> str:
    text = ID_RE.sub(lambda m: mask_id_number(m.group(1)), text)
    return PHONE_RE.sub(lambda m: mask_phone(m.group(1)), text)


class PIIMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
