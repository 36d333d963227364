"""The route factory for plain resources: list, detail, create, update and delete.

A plain resource (positions, forces, households, dwellings …) is a scoped model whose API
is the same five routes. Instead of five hand-written handlers per resource, a resource
declares what differs (its model, schemas, the queryset a user sees, its filters and its
domain actions) and :func:`register` adds the routes to a django-ninja router. Declared
by the names its modules use (``PositionOut``, ``position_queryset``, ``filter_positions``,
``create_position`` … see :meth:`Resource.by_convention`)::

    register(router, Resource.by_convention(Position, schemas, resources))

or field by field with ``Resource(model=..., name=..., out=..., ...)``.

What the factory does is what every handler did by hand, so it stays in one place:

- reads start from ``queryset(user)`` and go through :func:`get_visible` (404 outside
  scope, absent and hidden alike);
- update and delete answer 403 to a user who may see the row but not change it, before
  the domain action runs;
- create and update answer the row as a read would (``queryset(user)``, with its
  ``select_related``/annotations), so writes and reads return the same shape;
- the domain checks (dates, unique numbers, a dwelling inside its area …) belong to the
  resource's actions; the routes only parse, call one action and render.

Paths, OpenAPI tags, operation ids and summaries are those a hand-written
``list_positions``/``get_position``/… in the resource's API module would have, so the
published API does not change when a resource moves onto the factory.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Generic, TypeVar

from django.db import models
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from .api import acting_user, get_visible, paginate, require_change, responses
from .schemas import Page, PageParams

M = TypeVar("M", bound=models.Model)

User = Any  # the acting user (``request.auth``): a Django user


def drop_nulls(data: dict[str, Any], nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """A PATCH body without ``null`` for fields that cannot be cleared."""
    return {k: v for k, v in data.items() if v is not None or k in nullable}


def filter_fields(qs: models.QuerySet[M], filters: Any, **lookups: str) -> models.QuerySet[M]:
    """``qs`` filtered by each named field of ``filters`` that has a value, as
    ``lookup=value`` (``person="person_id"``). ``None`` and ``""`` filter nothing;
    ``False`` does (``on_duty=false``)."""
    for name, lookup in lookups.items():
        value = getattr(filters, name)
        if value is not None and value != "":
            qs = qs.filter(**{lookup: value})
    return qs


@dataclass(frozen=True)
class Docs:
    """The operation descriptions shown in the OpenAPI document (``/api/docs``)."""

    list: str
    detail: str
    create: str
    update: str
    delete: str = ""


@dataclass(frozen=True)
class Resource(Generic[M]):
    """One plain resource of the API: what the five routes need to know about it.

    ``create(user, body)`` and ``update(user, obj, changes)`` are the domain actions:
    they resolve references, check the domain rules, and write through
    ``jiayuan.core.actions`` (audited, scope re-checked in the transaction). ``changes``
    is the PATCH body with only the fields the client sent. ``delete`` is optional: a
    resource without it has no DELETE route.
    """

    model: type[M]
    name: str  # singular, snake_case: "position" (route names, the id parameter)
    plural: str  # "positions": the path and the OpenAPI tag
    out: type[Schema]
    create_in: type[Schema]
    patch_in: type[Schema]
    filters: type[Schema]
    queryset: Callable[[User], models.QuerySet[M]]
    filter: Callable[[models.QuerySet[M], Any], models.QuerySet[M]]
    create: Callable[[User, Any], M]
    update: Callable[[User, M, dict[str, Any]], M]
    docs: Docs
    delete: Callable[..., None] | None = None
    module: str = ""  # the API module the routes are named after; default the model's app
    tags: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/{self.plural}"

    @property
    def item_path(self) -> str:
        return f"/{self.plural}/{{{self.id_param}}}"

    @property
    def id_param(self) -> str:
        return f"{self.name}_id"

    @classmethod
    def by_convention(cls, model: type[M], schemas: ModuleType, service: ModuleType) -> Resource[M]:
        """The resource of ``model`` from the names its modules use for it (``Position``):

        - in ``schemas``: ``PositionOut``, ``PositionIn``, ``PositionPatch``,
          ``PositionFilters``;
        - in ``service``: ``position_queryset`` (its docstring describes the list),
          ``filter_positions``, ``create_position``, ``update_position`` and, if the
          resource may be deleted, ``delete_position(obj, *, actor)``.

        A missing name fails at import time, so a resource cannot start half-declared.
        """
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()
        plural = f"{name}s"
        title = model.__name__
        out = getattr(schemas, f"{title}Out")
        queryset = getattr(service, f"{name}_queryset")
        create = getattr(service, f"create_{name}")
        update = getattr(service, f"update_{name}")
        delete = getattr(service, f"delete_{name}", None)
        return cls(
            model=model,
            name=name,
            plural=plural,
            out=out,
            create_in=getattr(schemas, f"{title}In"),
            patch_in=getattr(schemas, f"{title}Patch"),
            filters=getattr(schemas, f"{title}Filters"),
            queryset=queryset,
            filter=getattr(service, f"filter_{plural}"),
            create=create,
            update=update,
            delete=delete,
            docs=Docs(
                list=_doc(queryset),
                detail=_doc(out),
                create=_doc(create),
                update=_doc(update),
                delete=_doc(delete) if delete is not None else "",
            ),
        )

    def reread(self, user: User, obj: M) -> M:
        """``obj`` as a read returns it (its joins and annotations)."""
        return self.queryset(user).get(pk=obj.pk)


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def _params(*params: tuple[str, Any]) -> inspect.Signature:
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=HttpRequest)  # fmt: skip
    rest = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        for name, annotation in params
    ]
    return inspect.Signature([request, *rest])


def _named(view: Callable[..., Any], res: Resource[Any], name: str, doc: str,
           signature: inspect.Signature) -> Callable[..., Any]:  # fmt: skip
    # django-ninja builds the parameters from the signature, the operation id from the
    # module and name, the description from the docstring: set all three as a
    # hand-written handler in the resource's API module would have them.
    view.__name__ = view.__qualname__ = name
    view.__module__ = res.module or f"jiayuan.{res.model._meta.app_label}.api"
    view.__doc__ = doc
    view.__signature__ = signature  # type: ignore[attr-defined]
    return view


def register(router: Router, res: Resource[Any]) -> None:
    """Add the list, detail, create, update (and delete) routes of ``res`` to ``router``."""
    tags = res.tags or [res.plural]
    id_param = res.id_param

    def list_view(request: HttpRequest, *, filters: Any, page: PageParams) -> dict[str, Any]:
        return paginate(res.filter(res.queryset(acting_user(request)), filters), page)

    def get_view(request: HttpRequest, **ids: int) -> Any:
        user = acting_user(request)
        return get_visible(res.queryset(user), user, pk=ids[id_param])

    def create_view(request: HttpRequest, *, body: Any) -> Status[Any]:
        user = acting_user(request)
        obj = res.create(user, body)
        return Status(201, res.reread(user, obj))

    def update_view(request: HttpRequest, *, body: Schema, **ids: int) -> Any:
        user = acting_user(request)
        obj = get_visible(res.queryset(user), user, pk=ids[id_param])
        require_change(user, obj)
        res.update(user, obj, body.dict(exclude_unset=True))
        return res.reread(user, obj)

    remove = res.delete

    def delete_view(request: HttpRequest, **ids: int) -> Status[None]:
        user = acting_user(request)
        obj = get_visible(res.queryset(user), user, pk=ids[id_param])
        require_change(user, obj)
        if remove is not None:  # the route exists only with a delete action
            remove(obj, actor=user)
        return Status(204, None)

    # The schemas are values here, not names a type checker can resolve.
    page_of: Any = Page
    query: Any = Query
    router.get(res.path, response=responses(page_of[res.out]), tags=tags)(
        _named(list_view, res, f"list_{res.plural}", res.docs.list,
               _params(("filters", query[res.filters]), ("page", query[PageParams]))),
    )  # fmt: skip
    router.get(res.item_path, response=responses(res.out), tags=tags)(
        _named(get_view, res, f"get_{res.name}", res.docs.detail, _params((id_param, int)))
    )
    router.post(res.path, response=responses(res.out, 201), tags=tags)(
        _named(create_view, res, f"create_{res.name}", res.docs.create,
               _params(("body", res.create_in)))
    )  # fmt: skip
    router.patch(res.item_path, response=responses(res.out), tags=tags)(
        _named(update_view, res, f"update_{res.name}", res.docs.update,
               _params((id_param, int), ("body", res.patch_in)))
    )  # fmt: skip
    if remove is not None:
        router.delete(res.item_path, response=responses(None, 204), tags=tags)(
            _named(delete_view, res, f"delete_{res.name}", res.docs.delete,
                   _params((id_param, int)))
        )  # fmt: skip
