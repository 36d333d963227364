"""What the data hub plugs into the layers below it, called once from ``ready()``.

Each part registers its own pieces in its own function, so the parts of the app
(import engine, entity resolution, reports) can grow without touching each other.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``(module, function)`` pairs called at start-up, in order; a part adds its line.
_HOOKS: tuple[tuple[str, str], ...] = (
    ("jiayuan.datahub.writers", "register"),  # person and disability import targets
    ("jiayuan.datahub.panels", "register"),  # the 数据来源 card of the person page
)


def connect() -> None:
    from importlib import import_module

    for module, name in _HOOKS:
        hook: Callable[[], None] = getattr(import_module(module), name)
        hook()
