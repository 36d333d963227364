"""The demo county's agency data: files of the four demo sources with realistic defects,
written from the seeded world and imported through the data hub on first start.

* :mod:`.snapshot` reads the seeded residents back as the agencies know them;
* :mod:`.agency` lays out each agency's rows and plants the defects (:data:`DEFECTS`);
* :mod:`.formats` writes them as the agencies send them (GBK CSV, XLSX, JSON pages);
* :mod:`.stage` is the seed's last stage (数据汇聚): write the files, import them.
"""

from __future__ import annotations

from .agency import DEFECTS, AgencyData, AgencyFile, build_agency_data
from .files import write_agency_files

__all__ = ["DEFECTS", "AgencyData", "AgencyFile", "build_agency_data", "write_agency_files"]
