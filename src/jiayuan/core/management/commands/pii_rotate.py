"""``jiayuan pii-rotate``: re-encrypt every stored PII value with the newest key."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from tqdm import tqdm

from jiayuan.core import pii


def encrypted_fields() -> list[tuple[Any, list[str]]]:
    """(model, [field names]) for every model with ``*_enc`` PII columns."""
    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if f.name.endswith("_enc")]
        if names:
            found.append((model, names))
    return found


class Command(BaseCommand):
    help = "Re-encrypt PII with the first key of JIAYUAN_PII_KEY (after adding a new key)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=2000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model, names in encrypted_fields():
            rows = model._default_manager.only("pk", *names).order_by("pk")
            batch: list[Any] = []
            for obj in tqdm(
                rows.iterator(chunk_size=options["batch"]),
                total=rows.count(),
                desc=model._meta.label,
                disable=options["no_progress"],
            ):
                changed = False
                for name in names:
                    token = getattr(obj, name)
                    if pii.needs_rotation(token):
                        setattr(obj, name, pii.encrypt(pii.decrypt(token)))
                        changed = True
                if changed:
                    batch.append(obj)
                if len(batch) >= options["batch"]:
                    total += self._flush(model, batch, names)
            total += self._flush(model, batch, names)
        self.stdout.write(f"re-encrypted {total} rows")

    @staticmethod
    def _flush(model: Any, batch: list[Any], names: list[str]) -> int:
        if not batch:
            return 0
        with transaction.atomic():
            model._default_manager.bulk_update(batch, names)
        count = len(batch)
        batch.clear()
        return count
