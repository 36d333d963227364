"""The one screen's map layers as GeoJSON, one per kind.

``GET /api/v1/screen/layers?area=<id>&kind=<kind>``: the FeatureCollection of one layer
(:mod:`jiayuan.command.screen.layers`) on the screen of a county, street or community in
the user's scope. Another area, another kind of area or an id beyond 64 bits is a 404;
an unknown kind a 422; the forces layer without the right to supervise the area a 403.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from jiayuan.core.api import acting_user, responses

from .screen import layers

router = Router(tags=["指挥调度 · 一屏 / screen"])


class LayerParams(Schema):
    # A string, not an int: an id beyond 64 bits is "not found" like any other unknown
    # area, not a validation error.
    area: str = Field(..., max_length=40, description="县、街道或社区的区域编号 / area id")
    kind: str = Field(..., max_length=40, description="、".join(layers.KINDS))


class LayerOut(Schema):
    type: str = Field("FeatureCollection")
    kind: str
    features: list[dict[str, Any]]
    link: str | None = Field(None, description="a feature's page, with 0 for its id")
    limited: bool = Field(False, description="the layer's cap cut the list")
    clustered: bool | None = Field(None, description="devices: one point per grid")
    statuses: dict[str, str] | None = Field(None, description="devices: status labels")


@router.get("/screen/layers", response=responses(LayerOut))
def screen_layer(request: HttpRequest, params: Query[LayerParams]) -> dict[str, Any]:
    """一屏图层：one map layer of a scope's screen as a GeoJSON FeatureCollection."""
    user = acting_user(request)
    area = layers.screen_area(user, params.area)
    return layers.layer(user, area, params.kind)
