"""Background jobs of residents: the nightly recompute of computed tags."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from .tagging import Summary, recompute_tags


@db_periodic_task(crontab(hour="1", minute="0"))
@lock_task("people-recompute-tags")
def recompute_tags_nightly() -> Summary:
    """At 01:00: computed tags for the new day. Age-based tags (高龄老人 on the 80th
    birthday) change with the date alone, with no save to trigger them; changes to
    residents are picked up as they happen (:func:`jiayuan.people.tagging.connect`).
    Runs before the policies' nightly matching (01:30), which reads tags."""
    return recompute_tags()
