"""The data hub's import targets: persons (公安户籍) and disability certificates (残联).

The benefit target (民政救助) belongs to ``policies`` (``policies/hub_target.py``): a
target lives with the rows it writes. :func:`register` is a start-up hook of
:mod:`jiayuan.datahub.hooks`.
"""

from __future__ import annotations


def register() -> None:
    from jiayuan.core import imports

    from .disability import DisabilityTarget
    from .person import PersonTarget

    imports.register(PersonTarget())
    imports.register(DisabilityTarget())
