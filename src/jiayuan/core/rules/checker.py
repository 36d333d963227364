"""Resolve names against a registry and check types: the syntax tree becomes the typed
tree, or a :class:`RuleError` says what is wrong and where.

Everything that could go wrong when a rule runs is decided here, when it is saved:
unknown names and attributes, wrong argument counts or types, non-constant arguments,
comparing text with numbers, ordering text, ``startswith`` on a number, a ``verify``
that is negated or compared. The back ends can then assume a well-typed tree.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from . import nodes as n
from . import typed as t
from .errors import RuleError, Span
from .registry import BUILTINS, Field, Function, Namespace, RecordFunction, Registry
from .types import (
    BOOL,
    DATE,
    DECIMAL,
    INT,
    NULL,
    STR,
    EnumType,
    RecordType,
    RuleType,
    comparable,
    is_numeric,
    is_ordered,
)

METHODS = {"startswith": "以…开头", "endswith": "以…结尾", "contains": "包含"}
ORDER_OPS = ("<", "<=", ">", ">=")

# Where an expression sits: a condition (positive or under ``not``) or a value.
POS, NEG, VALUE = "pos", "neg", "value"


def check(tree: n.Node, registry: Registry, source: str) -> t.TNode:
    """The typed tree of a whole rule, which must be a condition."""
    node = _Checker(registry, source).expr(tree, POS)
    if node.type != BOOL:
        raise RuleError(
            f"规则的结果必须是条件（真/假），而不是{node.type.zh}",
            f"a rule must be a condition (true/false), not a {node.type}",
            span=tree.span,
        )
    return node


class _Checker:
    def __init__(self, registry: Registry, source: str) -> None:
        self.registry = registry
        self.source = source

    def src(self, span: Span) -> str:
        return self.source[span.start : span.end]

    # --- dispatch -----------------------------------------------------------------------
    def expr(self, node: n.Node, where: str) -> t.TNode:
        if isinstance(node, n.Literal):
            return t.TConst(_literal_type(node.value), node.span, self.src(node.span), node.value)
        if isinstance(node, n.Name):
            return self.name(node)
        if isinstance(node, n.Attribute):
            return self.attribute(node)
        if isinstance(node, n.Call):
            return self.call(node, where)
        if isinstance(node, n.Unary):
            return self.unary(node, where)
        if isinstance(node, n.Binary):
            return self.arith(node)
        if isinstance(node, n.BoolOp):
            operands = tuple(self.condition(o, where) for o in node.operands)
            return t.TBool(BOOL, node.span, self.src(node.span), node.op, operands)
        if isinstance(node, n.Compare):
            return self.compare(node)
        if isinstance(node, n.Membership):
            return self.membership(node)
        raise AssertionError(node)  # pragma: no cover

    def condition(self, node: n.Node, where: str) -> t.TNode:
        typed = self.expr(node, where)
        if typed.type != BOOL:
            raise RuleError(
                f"“{typed.src}”是{typed.type.zh}，这里需要条件（真/假）",
                f"'{typed.src}' is a {typed.type}, a condition (true/false) is needed here",
                span=node.span,
            )
        return typed

    # --- names --------------------------------------------------------------------------
    def name(self, node: n.Name) -> t.TNode:
        entry = self.registry.get(node.id)
        if isinstance(entry, Field):
            return t.TField(entry.type, node.span, self.src(node.span), entry)
        raise self.not_a_value(node.id, entry, node.span, self.registry)

    def not_a_value(
        self, name: str, entry: object, span: Span, registry: Registry, owner: str = ""
    ) -> RuleError:
        if isinstance(entry, Namespace):
            members = entry.registry.names()
            return RuleError(
                f"{name} 不是值，请写 {name}.成员（可用：{'、'.join(members)}）",
                f"{name} is not a value; write {name}.<member> ({', '.join(members)})",
                span=span,
            )
        if isinstance(entry, Function | RecordFunction) or name in BUILTINS:
            return RuleError(
                f"{name} 是函数，需要带括号调用，如 {name}(…)",
                f"{name} is a function; call it as {name}(…)",
                span=span,
            )
        hint = {"True": "true", "False": "false", "None": "null"}.get(name)
        if hint:
            return RuleError(f"请写 {hint}", f"write {hint}", span=span)
        return _unknown(name, registry.names() + list(BUILTINS), span, owner)

    def namespace_path(self, node: n.Node) -> tuple[Namespace, ...] | None:
        """``household`` (or ``a.b``) when it names namespaces, else ``None``."""
        if isinstance(node, n.Name):
            entry = self.registry.get(node.id)
            return (entry,) if isinstance(entry, Namespace) else None
        if isinstance(node, n.Attribute):
            outer = self.namespace_path(node.target)
            if outer is not None:
                entry = outer[-1].registry.get(node.name)
                if isinstance(entry, Namespace):
                    return (*outer, entry)
        return None

    def attribute(self, node: n.Attribute) -> t.TNode:
        path = self.namespace_path(node.target)
        if path is not None:
            ns = path[-1]
            entry = ns.registry.get(node.name)
            if isinstance(entry, Field):
                return t.TField(entry.type, node.span, self.src(node.span), entry, path)
            raise self.not_a_value(
                node.name, entry, node.name_span, ns.registry, owner=f"{ns.name}."
            )
        if isinstance(node.target, n.Call):
            record = self.record_call(node.target)
            if record is not None:
                function, args, rpath, rtype = record
                attr_type = rtype.attribute(node.name)
                if attr_type is None:
                    names = [a for a, _ in rtype.attributes]
                    raise _unknown(
                        node.name, names, node.name_span, f"{self.src(node.target.span)}.",
                        what=("属性", "attribute"),
                    )  # fmt: skip
                return t.TRecordAttr(
                    attr_type, node.span, self.src(node.span), function, args, node.name, rpath
                )
        target = self.expr(node.target, VALUE)
        if target.type == STR:
            methods = "、".join(METHODS)
            raise RuleError(
                f"字符串没有属性 {node.name}（可用的方法：{methods}）",
                f"a string has no attribute {node.name} (methods: {', '.join(METHODS)})",
                span=node.name_span,
            )
        raise RuleError(
            f"{target.type.zh}“{target.src}”没有属性 {node.name}",
            f"a {target.type} ('{target.src}') has no attribute {node.name}",
            span=node.name_span,
        )

    # --- calls --------------------------------------------------------------------------
    def resolve_function(self, node: n.Call) -> tuple[object, tuple[Namespace, ...], Registry]:
        if node.target is None:
            return self.registry.get(node.name), (), self.registry
        path = self.namespace_path(node.target)
        if path is None:
            return None, (), self.registry
        return path[-1].registry.get(node.name), path, path[-1].registry

    def record_call(
        self, node: n.Call
    ) -> tuple[RecordFunction, tuple[Any, ...], tuple[Namespace, ...], RecordType] | None:
        entry, path, _ = self.resolve_function(node)
        if not isinstance(entry, RecordFunction):
            return None
        args = self.arguments(node, entry.name, entry.params)
        return entry, args, path, entry.record(args)

    def call(self, node: n.Call, where: str) -> t.TNode:
        span, src = node.span, self.src(node.span)
        if node.target is None and node.name in BUILTINS:
            (arg,) = self.arguments(node, node.name, (STR,))
            if node.name == "date":
                return t.TConst(DATE, span, src, _parse_date(arg, node.args[0].span))
            if where != POS:
                raise RuleError(
                    "verify(…) 只能作为“并且/或者”中的条件，不能取反或参与比较",
                    "verify(…) can only be a condition under and/or, never negated or compared",
                    span=span,
                )
            if not arg.strip():
                raise RuleError("核实事项不能为空", "verify needs a text", span=node.args[0].span)
            return t.TVerify(BOOL, span, src, arg)
        entry, path, registry = self.resolve_function(node)
        if isinstance(entry, Function):
            args = self.arguments(node, entry.name, entry.params)
            return t.TCall(entry.returns, span, src, entry, args, path)
        if isinstance(entry, RecordFunction):
            names = "、".join(
                a
                for a, _ in entry.record(self.arguments(node, entry.name, entry.params)).attributes
            )
            raise RuleError(
                f"{entry.name}(…) 是记录，请读取它的属性，如 {src}.属性（可用：{names or '无'}）",
                f"{entry.name}(…) is a record; read an attribute, e.g. {src}.<attribute>",
                span=span,
            )
        if node.target is not None and path == ():
            target = self.expr(node.target, VALUE)
            return self.method(node, target)
        if isinstance(entry, Field | Namespace):
            raise RuleError(
                f"{node.name} 不是函数", f"{node.name} is not a function", span=node.name_span
            )
        owner = f"{path[-1].name}." if path else ""
        raise _unknown(node.name, [*registry.names(), *([] if path else BUILTINS)],
                       node.name_span, owner, what=("函数", "function"))  # fmt: skip

    def method(self, node: n.Call, target: t.TNode) -> t.TNode:
        if node.name not in METHODS:
            raise RuleError(
                f"{target.type.zh}没有方法 {node.name}（字符串可用：{'、'.join(METHODS)}）",
                f"a {target.type} has no method {node.name} (strings: {', '.join(METHODS)})",
                span=node.name_span,
            )
        if target.type != STR:
            raise RuleError(
                f"{node.name} 只能用于字符串，“{target.src}”是{target.type.zh}",
                f"{node.name} applies to strings only; '{target.src}' is a {target.type}",
                span=node.name_span,
            )
        (arg,) = self.arguments(node, node.name, (STR,))
        return t.TMethod(BOOL, node.span, self.src(node.span), node.name, target, arg)

    def arguments(self, node: n.Call, name: str, params: tuple[RuleType, ...]) -> tuple[Any, ...]:
        if len(node.args) != len(params):
            raise RuleError(
                f"{name} 需要 {len(params)} 个参数，实际 {len(node.args)} 个",
                f"{name} takes {len(params)} argument(s), {len(node.args)} given",
                span=node.span,
            )
        values = []
        for arg, param in zip(node.args, params, strict=True):
            const = self.constant(arg)
            if const is None:
                raise RuleError(
                    f'{name} 的参数必须是常量（如 "残疾人"、80）',
                    f"the arguments of {name} must be constants",
                    span=arg.span,
                )
            value, vtype = const
            values.append(self.fit(value, vtype, param, arg.span, what=f"{name} 的参数"))
        return tuple(values)

    def constant(self, node: n.Node) -> tuple[Any, RuleType] | None:
        if isinstance(node, n.Literal):
            return node.value, _literal_type(node.value)
        if isinstance(node, n.Call) and node.target is None and node.name == "date":
            (text,) = self.arguments(node, "date", (STR,))
            return _parse_date(text, node.args[0].span), DATE
        return None

    def fit(self, value: Any, vtype: RuleType, want: RuleType, span: Span, what: str) -> Any:
        """``value`` (of ``vtype``) as a value of ``want``, or a RuleError."""
        if isinstance(want, EnumType) and vtype == STR:
            if value in want.values:
                return value
            raise _unknown(value, list(want.values), span, "", what=("取值", "value"))
        if vtype == want or (is_numeric(vtype) and is_numeric(want)):
            return value
        raise RuleError(
            f"{what}应为{want.zh}，而不是{vtype.zh}",
            f"{what.replace(' 的参数', ': argument')} must be a {want}, not a {vtype}",
            span=span,
        )

    # --- operators ----------------------------------------------------------------------
    def unary(self, node: n.Unary, where: str) -> t.TNode:
        if node.op == "not":
            operand = self.condition(node.operand, NEG if where == POS else POS)
            return t.TNot(BOOL, node.span, self.src(node.span), operand)
        operand = self.expr(node.operand, VALUE)
        self.need_number(operand, node.op)
        if node.op == "+":
            return operand
        return t.TNeg(operand.type, node.span, self.src(node.span), operand)

    def arith(self, node: n.Binary) -> t.TNode:
        left, right = self.expr(node.left, VALUE), self.expr(node.right, VALUE)
        self.need_number(left, node.op)
        self.need_number(right, node.op)
        rtype = INT if left.type == right.type == INT else DECIMAL
        return t.TArith(rtype, node.span, self.src(node.span), node.op, left, right)

    def need_number(self, node: t.TNode, op: str) -> None:
        if not is_numeric(node.type):
            raise RuleError(
                f"“{op}”只能用于数字，“{node.src}”是{node.type.zh}",
                f"'{op}' applies to numbers only; '{node.src}' is a {node.type}",
                span=node.span,
            )

    def compare(self, node: n.Compare) -> t.TNode:
        left, right = self.expr(node.left, VALUE), self.expr(node.right, VALUE)
        span, src, op = node.span, self.src(node.span), node.op
        if NULL in (left.type, right.type):
            if op not in ("==", "!="):
                raise RuleError(
                    "空值 null 只能用 == 或 != 比较",
                    "null can only be compared with == or !=",
                    span=span,
                )
            return t.TCompare(BOOL, span, src, op, left, right)
        left, right = self.enum_literal(left, right), self.enum_literal(right, left)
        if not comparable(left.type, right.type):
            raise RuleError(
                f"不能比较{left.type.zh}“{left.src}”和{right.type.zh}“{right.src}”",
                f"cannot compare a {left.type} ('{left.src}') with a {right.type} ('{right.src}')",
                span=span,
            )
        if op in ORDER_OPS and not is_ordered(left.type):
            raise RuleError(
                f"{left.type.zh}不能比较大小，只能用 == 、!= 或 in",
                f"a {left.type} is not ordered; use ==, != or in",
                span=span,
            )
        return t.TCompare(BOOL, span, src, op, left, right)

    def enum_literal(self, node: t.TNode, other: t.TNode) -> t.TNode:
        """A string constant compared with an enum becomes a (checked) enum constant."""
        if isinstance(node, t.TConst) and node.type == STR and isinstance(other.type, EnumType):
            value = self.fit(node.value, STR, other.type, node.span, "")
            return t.TConst(other.type, node.span, node.src, value)
        return node

    def membership(self, node: n.Membership) -> t.TNode:
        operand = self.expr(node.operand, VALUE)
        if operand.type == BOOL:
            raise RuleError(
                "真假值请用 == 比较，不能用 in", "compare a bool with ==, not in", span=node.span
            )
        if operand.type == NULL:
            raise RuleError("null 不能用 in", "null cannot be used with in", span=node.span)
        if not node.items:
            raise RuleError("in 后的列表不能为空", "the list after in is empty", span=node.span)
        items = []
        for item in node.items:
            const = self.constant(item)
            if const is None or const[0] is None:
                raise RuleError(
                    "in 后的列表只能包含常量（不能有 null）",
                    "the list after in may hold constants only (no null)",
                    span=item.span,
                )
            value, vtype = const
            if isinstance(operand.type, EnumType):
                items.append(self.fit(value, vtype, operand.type, item.span, "列表项"))
            elif comparable(operand.type, vtype):
                items.append(value)
            else:
                raise RuleError(
                    f"不能比较{operand.type.zh}“{operand.src}”和{vtype.zh} {self.src(item.span)}",
                    f"cannot compare a {operand.type} ('{operand.src}') with a {vtype}",
                    span=item.span,
                )
        return t.TIn(BOOL, node.span, self.src(node.span), operand, tuple(items), node.negated)


def _literal_type(value: Any) -> RuleType:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, Decimal):
        return DECIMAL
    return STR


def _parse_date(text: str, span: Span) -> dt.date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RuleError(
            f"日期“{text}”无效，请写成 2026-01-01 的形式",
            f"invalid date '{text}'; write it as 2026-01-01",
            span=span,
        ) from None


def _unknown(
    name: str,
    candidates: Iterable[str],
    span: Span,
    owner: str = "",
    what: tuple[str, str] = ("名称", "name"),
) -> RuleError:
    candidates = list(candidates)
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    hint_zh = f"；您是否想写：{'、'.join(close)}" if close else ""
    hint_en = f"; did you mean {', '.join(close)}" if close else ""
    if not close and len(candidates) <= 12:
        hint_zh = f"；可用：{'、'.join(candidates)}" if candidates else ""
        hint_en = f"; known: {', '.join(candidates)}" if candidates else ""
    return RuleError(
        f"未知的{what[0]} {owner}{name}{hint_zh}",
        f"unknown {what[1]} {owner}{name}{hint_en}",
        span=span,
    )
