"""Pages of the request loop (诉求办理), one module per purpose:

- :mod:`.lists` — the role inboxes and the filtered list of all cases (诉求);
- :mod:`.detail` — the case page, its action forms and photos;
- :mod:`.intake` — staff intake (新建诉求), also by party members and 三长 for their
  residents (红色代办);
- :mod:`.maps` — the case map;
- :mod:`.dashboard` — the indicator dashboard and its Excel export;
- :mod:`.public` — the resident's pages without login (随手拍, the tracking link);
- :mod:`.common` — presentation tables and helpers they share.

Views are thin: parse a form, call one action of :mod:`jiayuan.cases.services`, render.
Every lookup of a case starts from :func:`jiayuan.cases.queries.visible_cases`, the same
function the API reads from; outside it is a 404.
"""

from .dashboard import indicators, indicators_export, month_start
from .detail import case_act, case_detail, case_photo
from .intake import case_new, dwelling_options
from .lists import case_index
from .maps import case_map
from .public import report, track, track_photo, track_visit

__all__ = [
    "case_act",
    "case_detail",
    "case_index",
    "case_map",
    "case_new",
    "case_photo",
    "dwelling_options",
    "indicators",
    "indicators_export",
    "month_start",
    "report",
    "track",
    "track_photo",
    "track_visit",
]
