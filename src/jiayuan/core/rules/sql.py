"""The SQL back end: compile a typed rule into a Django ``Q`` over the base model.

``Person.objects.filter(rule.q(ref_date))`` then finds everyone the rule holds for in one
query, on SQLite and PostgreSQL alike.

Missing values follow the Python back end (:mod:`.evaluate`), which SQL's three-valued
logic does not do by itself (``NOT (NULL >= 80)`` is NULL, so a plain ``~Q`` would drop
the row where Python says "true"). So every leaf condition is made two-valued: a
comparison is ANDed with "each operand is present" (``IS NOT NULL``, or "one of the
known values" for enums), then ``NOT`` and ``OR`` behave as in Python.

Only portable SQL is produced: string methods become ``LEFT``/``RIGHT``/``INSTR``
comparisons (``LIKE`` ignores case on SQLite), decimal constants are cast to
``NUMERIC`` (SQLite would compare a text parameter with a number otherwise), dates held
as ISO text in JSON attributes are compared byte-wise (``COLLATE "C"`` on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    Func,
    Q,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Left, Right, StrIndex
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
)

from . import typed as t
from .evaluate import compare_values
from .registry import Function, Namespace, SqlEnv
from .types import BOOL, DATE, INT, EnumType, RuleType

Cond = Q | bool
Hook = Callable[[str, Any], "Cond | None"]

LOOKUPS: dict[str, Any] = {
    "==": Exact,
    "<": LessThan,
    "<=": LessThanOrEqual,
    ">": GreaterThan,
    ">=": GreaterThanOrEqual,
}
FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def compile_q(node: t.TNode, ref_date: dt.date) -> Q:
    """The rule as a ``Q`` on the registry's base model for ``ref_date``."""
    cond = _Compiler(SqlEnv(ref_date)).cond(node)
    if cond is True:
        return Q()
    if cond is False:
        return Q(pk__in=[])
    return cond


# --- portable SQL pieces -----------------------------------------------------------------
class Numeric(Func):
    """A value as an unconstrained NUMERIC (exact on PostgreSQL; numeric on SQLite)."""

    template = "CAST(%(expressions)s AS NUMERIC)"
    output_field = DecimalField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s)::numeric", **extra)


class IsoText(Func):
    """ISO date text compared byte-wise, so both databases order it like dates."""

    template = "%(expressions)s"
    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template='(%(expressions)s) COLLATE "C"', **extra)


class DateAsIsoText(Func):
    """A date column as ISO text (SQLite already stores it so)."""

    template = "%(expressions)s"
    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="to_char(%(expressions)s, 'YYYY-MM-DD') COLLATE \"C\"",
            **extra,
        )


def const_expr(value: Any, rtype: RuleType, as_text: bool = False) -> Any:
    """A constant as a typed SQL expression."""
    if value is None:
        return Value(None)
    if isinstance(rtype, EnumType):
        return Value(rtype.to_db(value), output_field=TextField())
    if isinstance(value, bool):
        return Value(value, output_field=BooleanField())
    if isinstance(value, Decimal):
        return Numeric(Value(str(value), output_field=TextField()))
    if isinstance(value, int):
        return Value(value, output_field=BigIntegerField())
    if isinstance(value, dt.date):
        if as_text:
            return IsoText(Value(value.isoformat(), output_field=TextField()))
        return Value(value, output_field=DateField())
    return Value(value, output_field=TextField())


def both(*conds: Cond) -> Cond:
    out: Cond = True
    for c in conds:
        if c is False or out is False:
            return False
        if c is True:
            continue
        out = c if out is True else out & c
    return out


def either(*conds: Cond) -> Cond:
    out: Cond = False
    for c in conds:
        if c is True or out is True:
            return True
        if c is False:
            continue
        out = c if out is False else out | c
    return out


def negate(c: Cond) -> Cond:
    return (not c) if isinstance(c, bool) else ~c


def present_of(expr: Any, rtype: RuleType) -> Q:
    """The value is there: not NULL, and for an enum one of the known stored values
    (two-valued: ``NULL IN (…)`` alone would be NULL)."""
    defined = Q(IsNull(expr, False))
    if isinstance(rtype, EnumType):
        return defined & Q(In(expr, rtype.db_values))
    return defined


def predicate(expr: Any, op: str, const: Any, rtype: RuleType, text_dates: bool) -> Cond:
    """``expr <op> const`` for a present ``expr`` (the caller guards presence)."""
    if op in ("startswith", "endswith", "contains"):
        if const == "":
            return True
        if op == "startswith":
            return Q(Exact(Left(expr, len(const)), Value(const, output_field=TextField())))
        if op == "endswith":
            return Q(Exact(Right(expr, len(const)), Value(const, output_field=TextField())))
        return Q(GreaterThan(StrIndex(expr, Value(const, output_field=TextField())), 0))
    if op in ("in", "not in"):
        inside = Q(In(expr, [const_expr(c, rtype, text_dates) for c in const]))
        return inside if op == "in" else ~inside
    rhs = const_expr(const, rtype, text_dates)
    if op == "!=":
        return ~Q(Exact(expr, rhs))
    return Q(LOOKUPS[op](expr, rhs))


# A NULL operand makes SQL's answer NULL, so every comparison is guarded by "defined"
# (not NULL). An enum value outside its list is not NULL but is missing in Python: only
# the operators that could say "true" for it also need "present".
NEEDS_PRESENT = ("!=", "not in")


@dataclass
class SqlValue:
    """A compiled value: its expression; when it is not NULL (``defined``) and when it
    is a real value (``present``: also one of an enum's values); and optionally a faster
    way to compare it with a constant (``hook(op, constant)``)."""

    expr: Any
    defined: Cond
    present: Cond
    type: RuleType
    hook: Hook | None = None
    text_date: bool = False

    def guard(self, op: str) -> Cond:
        return self.present if op in NEEDS_PRESENT else self.defined


# --- the compiler ------------------------------------------------------------------------
class _Compiler:
    def __init__(self, env: SqlEnv) -> None:
        self.env = env

    def env_for(self, path: tuple[Namespace, ...]) -> SqlEnv:
        env = self.env
        for ns in path:
            env = env.child(ns.sql_path)
        return env

    def ns_present(self, path: tuple[Namespace, ...]) -> Cond:
        """The namespace objects on ``path`` exist (``household_id IS NOT NULL``)."""
        env, conds = self.env, []
        for ns in path:
            conds.append(Q(IsNull(env.f(ns.sql_path), False)))
            env = env.child(ns.sql_path)
        return both(*conds)

    # --- conditions ---------------------------------------------------------------------
    def cond(self, node: t.TNode) -> Cond:
        if isinstance(node, t.TBool):
            parts = [self.cond(o) for o in node.operands]
            return both(*parts) if node.op == "and" else either(*parts)
        if isinstance(node, t.TNot):
            return negate(self.cond(node.operand))
        if isinstance(node, t.TVerify):
            return True
        if isinstance(node, t.TCompare):
            return self.compare(node)
        if isinstance(node, t.TIn):
            return self.membership(node)
        if isinstance(node, t.TMethod):
            value = self.value(node.target)
            return self.against(value, node.method, node.arg)
        return self.truth(node)[0]

    def truth(self, node: t.TNode) -> tuple[Cond, Cond]:
        """For a ``bool`` node: (is true, is false); both false when it is missing."""
        if isinstance(node, t.TConst):
            if node.value is None:
                return False, False
            return bool(node.value), not node.value
        if isinstance(node, t.TField | t.TCall):
            env, present = self.env_for(node.path), self.ns_present(node.path)
            if isinstance(node, t.TCall):
                built = node.function.sql(env, *node.args)
                holds = both(present, built if isinstance(built, Q) else Q(built))
                return holds, negate(holds)
            sql = node.field.sql
            built = env.f(sql) if isinstance(sql, str) else sql(env)
            if isinstance(built, Q) or getattr(built, "conditional", False):
                # a condition builder: never missing (see Field)
                holds = built if isinstance(built, Q) else Q(built)
                return both(present, holds), both(present, negate(holds))
            return (
                both(present, Q(Exact(built, True))),
                both(present, Q(Exact(built, False))),
            )
        if isinstance(node, t.TRecordAttr):
            rs = node.function.sql(self.env_for(node.path), *node.args)
            inner = rs.attribute(node.attr, BOOL)
            return (
                Q(Exists(rs.rows.filter(Exact(inner, True)))),
                Q(Exists(rs.rows.filter(Exact(inner, False)))),
            )
        holds = self.cond(node)
        return holds, negate(holds)

    def compare(self, node: t.TCompare) -> Cond:
        left, right, op = node.left, node.right, node.op
        null_left = isinstance(left, t.TConst) and left.value is None
        null_right = isinstance(right, t.TConst) and right.value is None
        if null_left or null_right:
            other = right if null_left else left
            missing = self.missing(other)
            return missing if op == "==" else negate(missing)
        if left.type == BOOL:
            (lt, lf), (rt, rf) = self.truth(left), self.truth(right)
            if op == "==":
                return either(both(lt, rt), both(lf, rf))
            return either(both(lt, rf), both(lf, rt))
        if isinstance(left, t.TConst) and isinstance(right, t.TConst):
            return compare_values(op, left.value, right.value)
        if isinstance(right, t.TConst):
            return self.against(self.value(left), op, right.value)
        if isinstance(left, t.TConst):
            return self.against(self.value(right), FLIP[op], left.value)
        lv, rv = self.value(left), self.value(right)
        text = lv.text_date or rv.text_date
        lexpr, rexpr = self.as_text(lv) if text else lv.expr, self.as_text(rv) if text else rv.expr
        if op == "!=":
            holds: Cond = ~Q(Exact(lexpr, rexpr))
        else:
            holds = Q(LOOKUPS[op](lexpr, rexpr))
        return both(lv.guard(op), rv.guard(op), holds)

    def as_text(self, value: SqlValue) -> Any:
        return IsoText(value.expr) if value.text_date else DateAsIsoText(value.expr)

    def missing(self, node: t.TNode) -> Cond:
        if isinstance(node, t.TConst):
            return node.value is None
        if node.type == BOOL:
            yes, no = self.truth(node)
            return both(negate(yes), negate(no))
        return negate(self.value(node).present)

    def membership(self, node: t.TIn) -> Cond:
        return self.against(
            self.value(node.operand), "not in" if node.negated else "in", node.items
        )

    def against(self, value: SqlValue, op: str, const: Any) -> Cond:
        """``value <op> const``, false when the value is missing."""
        if value.hook is not None:
            fast = value.hook(op, const)
            if fast is not None:
                return fast
        holds = predicate(value.expr, op, const, value.type, value.text_date)
        return both(value.guard(op), holds)

    # --- values -------------------------------------------------------------------------
    def value(self, node: t.TNode) -> SqlValue:
        if isinstance(node, t.TConst):
            there = node.value is not None
            return SqlValue(const_expr(node.value, node.type), there, there, node.type)
        if isinstance(node, t.TField):
            return self.field(node)
        if isinstance(node, t.TCall):
            return self.call(node)
        if isinstance(node, t.TRecordAttr):
            return self.record_attr(node)
        if isinstance(node, t.TArith):
            return self.arith(node)
        if isinstance(node, t.TNeg):
            return self.neg(node)
        # a condition used as a value (``(a > 1) == b``) is a bool, handled by truth()
        raise AssertionError(node)  # pragma: no cover

    def field(self, node: t.TField) -> SqlValue:
        env, fld = self.env_for(node.path), node.field
        expr = env.f(fld.sql) if isinstance(fld.sql, str) else fld.sql(env)
        defined = present = self.ns_present(node.path)
        if fld.nullable:
            defined = both(defined, Q(IsNull(expr, False)))
        if isinstance(node.type, EnumType) or fld.nullable:
            present = both(present, present_of(expr, node.type))
        hook: Hook | None = None
        if fld.sql_compare is not None:
            compare, ns = fld.sql_compare, self.ns_present(node.path)

            def hook(op: str, const: Any) -> Cond | None:
                fast = compare(env, op, const)
                return None if fast is None else both(ns, fast)

        return SqlValue(expr, defined, present, node.type, hook)

    def call(self, node: t.TCall) -> SqlValue:
        fn: Function = node.function
        expr = fn.sql(self.env_for(node.path), *node.args)
        defined = present = self.ns_present(node.path)
        if fn.nullable:
            defined = both(defined, Q(IsNull(expr, False)))
        if fn.nullable or isinstance(fn.returns, EnumType):
            present = both(present, present_of(expr, node.type))
        return SqlValue(expr, defined, present, node.type)

    def record_attr(self, node: t.TRecordAttr) -> SqlValue:
        rs = node.function.sql(self.env_for(node.path), *node.args)
        inner = rs.attribute(node.attr, node.type)
        text = node.type == DATE
        expr = Subquery(rs.rows.values(v=inner)[:1])
        rtype = node.type

        def hook(op: str, const: Any) -> Cond:
            # inside EXISTS a NULL comparison just drops the row: only enums need a guard
            holds = predicate(inner, op, const, rtype, text)
            if holds is True or (isinstance(rtype, EnumType) and op in NEEDS_PRESENT):
                holds = both(present_of(inner, rtype), holds)
            if isinstance(holds, bool):  # pragma: no cover - predicate() folds to true only
                return Q(Exists(rs.rows)) if holds else False
            return Q(Exists(rs.rows.filter(holds)))

        defined = Q(IsNull(expr, False))
        return SqlValue(expr, defined, present_of(expr, rtype), rtype, hook, text_date=text)

    def arith(self, node: t.TArith) -> SqlValue:
        left, right = self.value(node.left), self.value(node.right)
        combined = left.expr + right.expr if node.op == "+" else left.expr - right.expr
        expr: Any = Numeric(combined)
        if node.type == INT:
            expr = ExpressionWrapper(combined, output_field=BigIntegerField())
        hook: Hook | None = None
        if left.hook is not None and isinstance(node.right, t.TConst):
            k = node.right.value if node.op == "+" else -node.right.value
            hook = _shifted(left.hook, k, 1)
        elif right.hook is not None and isinstance(node.left, t.TConst):
            # k + x op c  <=>  x op c - k ;  k - x op c  <=>  x flip(op) k - c
            sign = 1 if node.op == "+" else -1
            hook = _shifted(right.hook, node.left.value, sign)
        defined = both(left.defined, right.defined)
        return SqlValue(expr, defined, defined, node.type, hook)

    def neg(self, node: t.TNeg) -> SqlValue:
        inner = self.value(node.operand)
        zero = const_expr(0 if node.type == INT else Decimal(0), node.type)
        expr: Any = Numeric(zero - inner.expr)
        if node.type == INT:
            expr = ExpressionWrapper(zero - inner.expr, output_field=BigIntegerField())
        hook = _shifted(inner.hook, 0, -1) if inner.hook is not None else None
        return SqlValue(expr, inner.defined, inner.present, node.type, hook)


def _shifted(hook: Hook, k: Any, sign: int) -> Hook:
    """The hook of ``x`` seen through ``k + sign·x``: ``k + s·x op c`` ⇔ ``x op' s·(c − k)``."""

    def shifted(op: str, const: Any) -> Cond | None:
        if op in ("in", "not in"):
            return hook(op, tuple(sign * (c - k) for c in const))
        if op not in FLIP:
            return None
        return hook(op if sign > 0 else FLIP[op], sign * (const - k))

    return shifted


def leaf_expressions(node: t.TNode, ref_date: dt.date) -> tuple[Any, Any | None]:
    """What the database reads for one leaf of a rule (a field, a function call or a
    record attribute), as an expression to ``annotate`` a query with; for a record
    attribute also whether the record is there. A ``bool`` leaf reads as true, false or
    missing exactly as :meth:`_Compiler.truth` decides it, so the values a matching query
    records are the values its filter used (see :mod:`.inputs`)."""
    c = _Compiler(SqlEnv(ref_date))
    present: Any | None = None
    if isinstance(node, t.TRecordAttr):
        rows = node.function.sql(c.env_for(node.path), *node.args).rows
        present = Exists(rows)
    if node.type == BOOL:
        yes, no = c.truth(node)
        return Case(
            When(_as_q(yes), then=Value(True)),
            When(_as_q(no), then=Value(False)),
            default=Value(None),
            output_field=BooleanField(),
        ), present
    return c.value(node).expr, present


def _as_q(cond: Cond) -> Q:
    if isinstance(cond, Q):
        return cond
    return Q(pk__isnull=False) if cond else Q(pk__isnull=True)
