"""The checked, typed tree both back ends share.

Every node knows its type, its source text (for traces) and its span. Names are
resolved to registry entries; constant arguments are plain Python values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import Span
from .registry import Field, Function, Namespace, RecordFunction
from .types import RuleType


@dataclass(frozen=True, eq=False)
class TNode:
    type: RuleType
    span: Span
    src: str

    def children(self) -> tuple[TNode, ...]:
        return ()

    def walk(self) -> Iterator[TNode]:
        yield self
        for child in self.children():
            yield from child.walk()


@dataclass(frozen=True, eq=False)
class TConst(TNode):
    """A constant: literal, ``date("…")`` or a folded ``-1``. Enum values as written."""

    value: Any


@dataclass(frozen=True, eq=False)
class TField(TNode):
    field: Field
    path: tuple[Namespace, ...] = ()


@dataclass(frozen=True, eq=False)
class TCall(TNode):
    function: Function
    args: tuple[Any, ...]
    path: tuple[Namespace, ...] = ()


@dataclass(frozen=True, eq=False)
class TRecordAttr(TNode):
    """``tag("残疾人").grade``: one attribute of a record returned by a function."""

    function: RecordFunction
    args: tuple[Any, ...]
    attr: str
    path: tuple[Namespace, ...] = ()


@dataclass(frozen=True, eq=False)
class TMethod(TNode):
    """``hukou.startswith("37")`` (also ``endswith``, ``contains``) with a constant."""

    method: str
    target: TNode
    arg: str

    def children(self) -> tuple[TNode, ...]:
        return (self.target,)


@dataclass(frozen=True, eq=False)
class TArith(TNode):
    op: str  # "+" or "-"
    left: TNode
    right: TNode

    def children(self) -> tuple[TNode, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, eq=False)
class TNeg(TNode):
    operand: TNode

    def children(self) -> tuple[TNode, ...]:
        return (self.operand,)


@dataclass(frozen=True, eq=False)
class TCompare(TNode):
    op: str  # == != < <= > >=
    left: TNode
    right: TNode

    def children(self) -> tuple[TNode, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, eq=False)
class TIn(TNode):
    operand: TNode
    items: tuple[Any, ...]
    negated: bool

    def children(self) -> tuple[TNode, ...]:
        return (self.operand,)


@dataclass(frozen=True, eq=False)
class TBool(TNode):
    op: str  # "and" / "or"
    operands: tuple[TNode, ...]

    def children(self) -> tuple[TNode, ...]:
        return self.operands


@dataclass(frozen=True, eq=False)
class TNot(TNode):
    operand: TNode

    def children(self) -> tuple[TNode, ...]:
        return (self.operand,)


@dataclass(frozen=True, eq=False)
class TVerify(TNode):
    """``verify("无劳动能力")``: true for matching; a check item for the door visit."""

    text: str
