"""What the community app registers with the shared pieces when Django starts."""

from __future__ import annotations


def connect() -> None:
    """Connect each part's receivers and registrations."""
    from . import demand, wishes

    wishes.connect()  # wish:<id> incident keys; a wish hears when its case is finished
    demand.connect()  # a compound's open wishes on its demand list (core.demands)
    from .deliberation import topics as deliberation_topics

    deliberation_topics.connect()  # topic:<id> incident keys; an escalated topic hears its case
    from jiayuan.people import overview

    from . import dashboard

    overview.register(dashboard.OVERVIEW_LABELS, dashboard.overview_counts)  # the overview
    from . import volunteering

    volunteering.connect()  # a volunteer who moves goes along (people.person_moved)
