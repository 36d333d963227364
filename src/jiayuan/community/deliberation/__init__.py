"""Compound deliberation (小区事大家议, 1+3+N, 民事民议民决): the domain actions.

* :mod:`.matters` — matter types and their thresholds (Civil Code art. 278), from data;
* :mod:`.voting` — the count: participation and approval by headcount and floor area;
* :mod:`.census` — the voters of a topic, taken once when voting opens;
* :mod:`.queries` — who sees which topic (the compound's residents and staff in scope);
* :mod:`.topics` — topic, proposals, voting, resolution, follow-up tasks, escalation;
* :mod:`.meetings` — meetings with the 1+3+N roster, sign-in, quorum and minutes.

Pages (``views/deliberation*.py``) and the API (``api/deliberation.py``) parse, call one
action here and render; every write checks scope, changes rows in one transaction and
writes its audit entry.
"""
