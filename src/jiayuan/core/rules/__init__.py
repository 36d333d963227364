"""The rule language (规则语言): one small, safe expression language for tags, policy
eligibility, report filters and alarm conditions.

::

    age >= 80 and hukou.startswith("37")
    has_tag("残疾人") and tag("残疾人").grade in (1, 2) and not household.has_tag("特困")
    (age >= 60 or age < 16) and household.has_tag("低收入") and verify("无劳动能力")

A rule is parsed by a Lark LALR grammar (:mod:`.parser` says why), checked against a
:class:`Registry` of fields and functions (:mod:`.checker`: unknown names, wrong types
and unsafe forms are errors when the rule is saved, never when it runs) and then runs
on two back ends built from the same typed tree:

* :meth:`Rule.q` — a Django ``Q`` over the registry's base model: the whole population
  in one query (:mod:`.sql`);
* :meth:`Rule.evaluate` — one subject in Python, with a JSON trace of every
  sub-expression and the ``verify(…)`` check items (:mod:`.evaluate`, :mod:`.trace`).

Semantics both back ends share (tests prove they agree):

* **Reference date.** Every run takes one (``ref_date``): ages are counted to it (for
  the dead, to the date of death; :mod:`.age`), tags and benefits must be valid on it.
* **Missing values.** A value may be missing (``null``): an unknown birth date, no
  household, a tag the person does not hold, an attribute not recorded. Arithmetic
  with a missing value is missing; any comparison, ``in``, ``not in`` or string method
  with a missing operand is **false**; a missing ``bool`` is false as a condition, and
  ``not`` of a false condition is true. Test for a missing value with ``x == null``.
* **verify("…")** is true for matching and becomes a check item of the match; it may
  appear only as a condition under ``and``/``or``, never under ``not`` or in a
  comparison.
* **No ordering on text**; enums take only their listed values; ``+``/``-`` on numbers
  only; arguments to functions are constants.
"""

from .age import age_field, age_on
from .errors import RuleError, Span
from .registry import (
    Env,
    Field,
    Function,
    Namespace,
    RecordFunction,
    RecordSql,
    Registry,
    SqlEnv,
)
from .rule import Outcome, Rule, compile_rule
from .tags import TagFact, TagSpec, tag_functions
from .trace import TraceNode, render, render_lines
from .types import (
    BOOL,
    DATE,
    DECIMAL,
    INT,
    STR,
    EnumType,
    RecordType,
    RuleType,
)

__all__ = [
    "BOOL",
    "DATE",
    "DECIMAL",
    "INT",
    "STR",
    "EnumType",
    "Env",
    "Field",
    "Function",
    "Namespace",
    "Outcome",
    "RecordFunction",
    "RecordSql",
    "RecordType",
    "Registry",
    "Rule",
    "RuleError",
    "RuleType",
    "Span",
    "SqlEnv",
    "TagFact",
    "TagSpec",
    "TraceNode",
    "age_field",
    "age_on",
    "compile_rule",
    "render",
    "render_lines",
    "tag_functions",
]
