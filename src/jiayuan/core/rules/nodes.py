"""The syntax tree the parser produces, before names and types are checked.

Plain frozen dataclasses: nothing here can run code or reach an object. The checker
(:mod:`.checker`) turns this tree into the typed tree both back ends share.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .errors import Span

LiteralValue = int | Decimal | str | bool | None


@dataclass(frozen=True)
class Node:
    span: Span


@dataclass(frozen=True)
class Literal(Node):
    """``80``, ``1.5``, ``"37"``, ``true``, ``false``, ``null``."""

    value: LiteralValue


@dataclass(frozen=True)
class Name(Node):
    """A bare name: a field (``age``) or a namespace (``household``)."""

    id: str


@dataclass(frozen=True)
class Attribute(Node):
    """``target.name``: a namespace field or an attribute of a record (``tag("x").grade``)."""

    target: Node
    name: str
    name_span: Span


@dataclass(frozen=True)
class Call(Node):
    """``name(args)`` or ``target.name(args)`` (then ``target`` is set)."""

    name: str
    name_span: Span
    args: tuple[Node, ...]
    target: Node | None = None


@dataclass(frozen=True)
class Unary(Node):
    """``not x`` or ``-x``."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    """``a + b``, ``a - b``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp(Node):
    """``a and b and c`` / ``a or b``."""

    op: str
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    """``a == b``, ``a < b`` … (never chained)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Membership(Node):
    """``a in (x, y)`` / ``a not in [x, y]``."""

    operand: Node
    items: tuple[Node, ...]
    negated: bool
