"""The Python back end: evaluate a typed rule for one subject, recording a trace.

Every sub-expression is evaluated (no short-circuit) so the trace shows every value;
nothing can fail at run time because the checker already refused anything that could.

Missing values (``None``) follow the SQL back end exactly: arithmetic with a missing
value is missing; every comparison, ``in``, ``not in`` and string method with a missing
operand is false (``null`` itself is tested only with ``== null`` / ``!= null``); a
missing ``bool`` is false as a condition; ``not`` then gives true.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from . import typed as t
from .registry import Env, Namespace
from .trace import TraceNode, encode
from .types import BOOL, EnumType, coerce_json

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def evaluate(node: t.TNode, subject: Any, env: Env) -> tuple[Any, TraceNode]:
    """The value of ``node`` for ``subject`` and the trace of how it was reached."""
    return Evaluator(subject, env).eval(node)


class Evaluator:
    def __init__(self, subject: Any, env: Env) -> None:
        self.subject = subject
        self.env = env

    def trace(self, node: t.TNode, kind: str, value: Any, **extra: Any) -> TraceNode:
        out: TraceNode = {
            "kind": kind,
            "src": node.src,
            "type": node.type.name,
            "value": encode(value),
        }
        out.update(extra)  # type: ignore[typeddict-item]
        return out

    def navigate(self, path: tuple[Namespace, ...]) -> Any:
        obj = self.subject
        for ns in path:
            if obj is None:
                return None
            obj = ns.python(obj)
        return obj

    def eval(self, node: t.TNode) -> tuple[Any, TraceNode]:
        method = getattr(self, f"eval_{type(node).__name__[1:].lower()}")
        result: tuple[Any, TraceNode] = method(node)
        return result

    def eval_const(self, node: t.TConst) -> tuple[Any, TraceNode]:
        return node.value, self.trace(node, "const", node.value)

    # --- leaves: the values a rule reads (a subclass may read them from elsewhere) -------
    def read_field(self, node: t.TField) -> Any:
        obj = self.navigate(node.path)
        raw = None if obj is None else node.field.python(obj, self.env)
        value = node.type.from_db(raw) if isinstance(node.type, EnumType) else raw
        if node.type == BOOL and value is not None:
            value = bool(value)
        return value

    def read_call(self, node: t.TCall) -> Any:
        obj = self.navigate(node.path)
        fn = node.function
        if obj is None:
            return False if fn.returns == BOOL else None
        value = fn.python(obj, self.env, *node.args)
        return fn.returns.from_db(value) if isinstance(fn.returns, EnumType) else value

    def read_record_attr(self, node: t.TRecordAttr) -> tuple[Any, bool]:
        """The attribute's value and whether the record (the tag) is there at all."""
        obj = self.navigate(node.path)
        record = None if obj is None else node.function.python(obj, self.env, *node.args)
        value = None if record is None else coerce_json(node.type, record.get(node.attr))
        return value, record is not None

    def eval_field(self, node: t.TField) -> tuple[Any, TraceNode]:
        value = self.read_field(node)
        return value, self.trace(node, "field", value, label=_label(node.path, node.field.label))

    def eval_call(self, node: t.TCall) -> tuple[Any, TraceNode]:
        value = self.read_call(node)
        text = _label(node.path, node.function.label.format(*node.args))
        return value, self.trace(node, "call", value, label=text, args=encode(list(node.args)))

    def eval_recordattr(self, node: t.TRecordAttr) -> tuple[Any, TraceNode]:
        value, present = self.read_record_attr(node)
        label = _label(node.path, node.function.label.format(*node.args))
        return value, self.trace(node, "attr", value, label=f"{label}.{node.attr}", present=present)

    def eval_method(self, node: t.TMethod) -> tuple[Any, TraceNode]:
        target, ttrace = self.eval(node.target)
        if target is None:
            value = False
        elif node.method == "startswith":
            value = target.startswith(node.arg)
        elif node.method == "endswith":
            value = target.endswith(node.arg)
        else:
            value = node.arg in target
        return value, self.trace(
            node, "method", value, method=node.method, arg=node.arg, children=[ttrace]
        )

    def eval_arith(self, node: t.TArith) -> tuple[Any, TraceNode]:
        (lv, lt), (rv, rt) = self.eval(node.left), self.eval(node.right)
        value = None
        if lv is not None and rv is not None:
            value = lv + rv if node.op == "+" else lv - rv
        return value, self.trace(node, "arith", value, op=node.op, children=[lt, rt])

    def eval_neg(self, node: t.TNeg) -> tuple[Any, TraceNode]:
        v, tr = self.eval(node.operand)
        value = None if v is None else -v
        return value, self.trace(node, "neg", value, children=[tr])

    def eval_compare(self, node: t.TCompare) -> tuple[Any, TraceNode]:
        (lv, lt), (rv, rt) = self.eval(node.left), self.eval(node.right)
        if _is_null(node.left) or _is_null(node.right):
            other = rv if _is_null(node.left) else lv
            value = (other is None) == (node.op == "==")
        else:
            value = compare_values(node.op, lv, rv)
        return value, self.trace(node, "compare", value, op=node.op, children=[lt, rt])

    def eval_in(self, node: t.TIn) -> tuple[Any, TraceNode]:
        v, tr = self.eval(node.operand)
        if v is None:
            value = False
        else:
            value = (v in node.items) != node.negated
        return value, self.trace(
            node, "in", value, negated=node.negated, items=encode(list(node.items)), children=[tr]
        )

    def eval_bool(self, node: t.TBool) -> tuple[Any, TraceNode]:
        results = [self.eval(o) for o in node.operands]
        values = [v is True for v, _ in results]
        value = all(values) if node.op == "and" else any(values)
        return value, self.trace(node, node.op, value, children=[tr for _, tr in results])

    def eval_not(self, node: t.TNot) -> tuple[Any, TraceNode]:
        v, tr = self.eval(node.operand)
        value = v is not True
        return value, self.trace(node, "not", value, children=[tr])

    def eval_verify(self, node: t.TVerify) -> tuple[Any, TraceNode]:
        return True, self.trace(node, "verify", True, text=node.text)


def compare_values(op: str, left: Any, right: Any) -> bool:
    """``left <op> right``; false when either is missing."""
    if left is None or right is None:
        return False
    return _CMP[op](left, right)


def _is_null(node: t.TNode) -> bool:
    return isinstance(node, t.TConst) and node.value is None


def _label(path: tuple[Namespace, ...], text: str) -> str:
    return "".join(ns.label for ns in path) + text


def check_items(trace: TraceNode) -> list[str]:
    """The ``verify`` items a true outcome rests on, in rule order.

    Under ``and`` all of them; under a true ``or`` the true branch needing the fewest
    checks (the first on a tie), since that branch alone makes the rule hold.
    """
    if trace["value"] is not True:
        return []
    kind = trace["kind"]
    if kind == "verify":
        return [str(trace.get("text", ""))]
    children = trace.get("children", [])
    if kind == "and":
        out: list[str] = []
        for child in children:
            out.extend(c for c in check_items(child) if c not in out)
        return out
    if kind == "or":
        options = [check_items(c) for c in children if c["value"] is True]
        return min(options, key=len) if options else []
    return []
