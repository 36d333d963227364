"""Parse rule text into the syntax tree of :mod:`.nodes`.

Why a parser library and why LALR: rules are typed by staff in an editor and stored
for years, so the language must be exactly what a grammar says and nothing more.
``eval`` or Python's ``ast`` would accept attribute chains, subscripts, lambdas and
dunder names that we would then have to forbid one by one; a grammar of our own
admits only the forms listed below, so ``__import__("os")`` is just an unknown
function name and ``().__class__`` a syntax error. Lark is pure Python, maintained,
typed, and its LALR(1) mode gives a linear-time parser with a deterministic grammar
(any ambiguity is a conflict reported when the grammar is built, not a surprise at
run time) and, on an error, the exact set of tokens the parser could accept there,
which is what the error messages show.

The language, Python-like::

    rule        := or ("or" and)*          comparisons are never chained
    and         := not ("and" not)*
    not         := "not" not | comparison
    comparison  := sum (== | != | < | <= | > | >=) sum
                 | sum ["not"] "in" ( "(" items ")" | "[" items "]" )
                 | sum
    sum         := unary (("+" | "-") unary)*
    unary       := "-" unary | postfix
    postfix     := primary ("." NAME ["(" args ")"])*
    primary     := NAME ["(" args ")"] | INT | DECIMAL | STRING
                 | true | false | null | "(" rule ")"

Strings take double or single quotes with ``\\" \\' \\\\ \\n \\t`` escapes, and
``\\u`` followed by four hex digits; ``#`` starts a comment to the end of the line.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import nodes as n
from .errors import RuleError, Span

GRAMMAR = r"""
?start: expr
?expr: or_expr
?or_expr: and_expr (OR and_expr)*
?and_expr: not_expr (AND not_expr)*
?not_expr: NOT not_expr -> not_
         | comparison
?comparison: sum COMP_OP sum -> compare
           | sum IN collection -> in_
           | sum NOT IN collection -> not_in
           | sum
?sum: unary (ADD_OP unary)*
?unary: ADD_OP unary -> neg
      | postfix
?postfix: primary
        | postfix DOT NAME LPAR [arguments] RPAR -> method
        | postfix DOT NAME -> attr
?primary: NAME LPAR [arguments] RPAR -> call
        | NAME -> name
        | INT -> int
        | DECIMAL -> decimal
        | STRING -> string
        | TRUE -> true
        | FALSE -> false
        | NULL -> null
        | LPAR expr RPAR -> group
arguments: expr (COMMA expr)* COMMA?
collection: LPAR [expr (COMMA expr)* COMMA?] RPAR
          | LSQB [expr (COMMA expr)* COMMA?] RSQB

OR: "or"
AND: "and"
NOT: "not"
IN: "in"
TRUE: "true"
FALSE: "false"
NULL: "null"
COMP_OP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
DOT: "."
LPAR: "("
RPAR: ")"
LSQB: "["
RSQB: "]"
COMMA: ","
NAME: /(?!(?:and|or|not|in|true|false|null)(?![A-Za-z0-9_]))[A-Za-z_][A-Za-z0-9_]*/
DECIMAL: /[0-9]+\.[0-9]+/
INT: /[0-9]+/
STRING: /"(?:[^"\\\n]|\\.)*"/ | /'(?:[^'\\\n]|\\.)*'/
COMMENT: /#[^\n]*/
%ignore /[ \t\r\n]+/
%ignore COMMENT
"""

# How each terminal is named in an error: (Chinese, English).
TOKEN_NAMES: dict[str, tuple[str, str]] = {
    "RPAR": ("右括号 ')'", "')'"),
    "LPAR": ("左括号 '('", "'('"),
    "RSQB": ("右方括号 ']'", "']'"),
    "LSQB": ("左方括号 '['", "'['"),
    "COMMA": ("逗号 ','", "','"),
    "DOT": ("'.'", "'.'"),
    "AND": ("and", "'and'"),
    "OR": ("or", "'or'"),
    "NOT": ("not", "'not'"),
    "IN": ("in", "'in'"),
    "COMP_OP": ("比较运算符（== != < <= > >=）", "a comparison (== != < <= > >=)"),
    "ADD_OP": ("'+' 或 '-'", "'+' or '-'"),
    "NAME": ("名称", "a name"),
    "INT": ("整数", "an integer"),
    "DECIMAL": ("小数", "a decimal"),
    "STRING": ("字符串", "a string"),
    "TRUE": ("true", "'true'"),
    "FALSE": ("false", "'false'"),
    "NULL": ("null", "'null'"),
    "$END": ("规则结尾", "end of rule"),
}
_ORDER = list(TOKEN_NAMES)

# Characters people type by habit, with what to write instead.
_CHAR_HINTS: dict[str, tuple[str, str]] = {
    "=": ("比较是否相等请用 ==", "use == to compare"),
    "&": ("“并且”请用 and", "use 'and'"),
    "|": ("“或者”请用 or", "use 'or'"),
    "!": ("取反请用 not", "use 'not'"),
    '"': ("字符串缺少结束引号", "the string has no closing quote"),
    "'": ("字符串缺少结束引号", "the string has no closing quote"),
    ":": ("不支持 lambda、字典或切片", "lambdas, dicts and slices are not supported"),
}
_FULL_WIDTH = "（）【】“”‘’，：；＝！＜＞　"

MAX_INT = 10**12


@cache
def _lark() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def parse(source: str) -> n.Node:
    """The syntax tree of ``source``; :class:`RuleError` with position on bad syntax."""
    if not source.strip():
        raise RuleError("规则为空", "the rule is empty", span=Span.at(source, 0))
    try:
        tree = _lark().parse(source)
    except UnexpectedInput as exc:
        raise _syntax_error(source, exc) from None
    return _Builder(source).build(tree)


# --- errors ------------------------------------------------------------------------------
def _expected_at(source: str, pos: int) -> set[str]:
    """The terminals the parser accepts after ``source[:pos]`` (exact, not LALR-merged)."""
    try:
        interactive = _lark().parse_interactive(source[:pos])
        interactive.exhaust_lexer()
        return set(interactive.accepts())
    except UnexpectedInput:  # pragma: no cover - the prefix parsed before the error
        return set()


def _syntax_error(source: str, exc: UnexpectedInput) -> RuleError:
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        pos = exc.token.start_pos or 0
        end = exc.token.end_pos or pos
        found = (f"'{exc.token.value}'", f"'{exc.token.value}'")
    elif isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        end = pos + 1
        found = (f"字符 '{source[pos]}'", f"character '{source[pos]}'")
    else:
        pos = end = len(source.rstrip())
        found = TOKEN_NAMES["$END"]
    span = Span.at(source, pos, end)
    expected = sorted(_expected_at(source, pos), key=lambda t: _ORDER.index(t))
    exp_zh = "、".join(TOKEN_NAMES[t][0] for t in expected)
    exp_en = ", ".join(TOKEN_NAMES[t][1] for t in expected)
    lead_zh = lead_en = ""
    char = source[pos] if pos < len(source) else ""
    if isinstance(exc, UnexpectedCharacters) and char in _CHAR_HINTS:
        lead_zh, lead_en = _CHAR_HINTS[char][0] + "；", _CHAR_HINTS[char][1] + "; "
    elif char and char in _FULL_WIDTH:
        lead_zh, lead_en = "请使用半角（英文）符号；", "use ASCII punctuation; "
    elif found == TOKEN_NAMES["$END"] and "RPAR" in expected:
        lead_zh, lead_en = "缺少右括号；", "missing ')'; "
    elif found == TOKEN_NAMES["$END"] and "RSQB" in expected:
        lead_zh, lead_en = "缺少右方括号；", "missing ']'; "
    elif isinstance(exc, UnexpectedToken) and exc.token.type == "COMP_OP":
        lead_zh, lead_en = "比较不能连写（请用 and 连接）；", "comparisons cannot be chained; "
    elif _previous_word(source, pos) == "lambda":
        lead_zh, lead_en = "不支持 lambda；", "lambdas are not supported; "
    verb_zh = "此处应为" if len(expected) == 1 else "此处应为以下之一："
    verb_en = "expected" if len(expected) == 1 else "expected one of"
    return RuleError(
        f"{lead_zh}{verb_zh}{exp_zh}，实际为{found[0]}",
        f"{lead_en}{verb_en} {exp_en}, found {found[1]}",
        span=span,
        expected=[TOKEN_NAMES[t][1] for t in expected],
    )


def _previous_word(source: str, pos: int) -> str:
    words = source[:pos].split()
    return words[-1] if words else ""


# --- tree building -----------------------------------------------------------------------
class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source

    def span(self, item: Tree | Token) -> Span:
        if isinstance(item, Token):
            start, end = item.start_pos or 0, item.end_pos or 0
        else:
            start, end = item.meta.start_pos, item.meta.end_pos
        return Span.at(self.source, start, end)

    def build(self, item: Tree | Token) -> n.Node:
        if isinstance(item, Token):  # only a NAME reaches here through an inlined rule
            return n.Name(self.span(item), str(item))
        kids = [c for c in item.children if not isinstance(c, Token) or c.type not in _PUNCT]
        span = self.span(item)
        kind = str(item.data)
        if kind in ("or_expr", "and_expr"):
            parts = tuple(self.build(c) for c in kids if not _is(c, "AND", "OR"))
            return n.BoolOp(span, "or" if kind == "or_expr" else "and", parts)
        if kind == "not_":
            return n.Unary(span, "not", self.build(kids[0]))
        if kind == "compare":
            return n.Compare(span, str(kids[1]), self.build(kids[0]), self.build(kids[2]))
        if kind in ("in_", "not_in"):
            items = tuple(self.build(c) for c in _children(kids[-1]))
            return n.Membership(span, self.build(kids[0]), items, kind == "not_in")
        if kind == "sum":
            node = self.build(kids[0])
            for op, right in zip(kids[1::2], kids[2::2], strict=True):
                rnode = self.build(right)
                node = n.Binary(
                    Span.at(self.source, node.span.start, rnode.span.end), str(op), node, rnode
                )
            return node
        if kind == "neg":
            op, operand = str(kids[0]), self.build(kids[1])
            value = operand.value if isinstance(operand, n.Literal) else None
            if isinstance(value, int | Decimal) and not isinstance(value, bool):
                return n.Literal(span, -value if op == "-" else value)
            return n.Unary(span, op, operand)
        if kind == "group":
            return self.build(kids[0])
        if kind == "name":
            return n.Name(span, str(kids[0]))
        if kind in ("call", "method"):
            target = self.build(kids[0]) if kind == "method" else None
            name_tok = kids[1] if kind == "method" else kids[0]
            last = kids[-1]
            args = last if isinstance(last, Tree) and last.data == "arguments" else None
            built = tuple(self.build(c) for c in _children(args))
            return n.Call(span, str(name_tok), self.span(name_tok), built, target)
        if kind == "attr":
            name_tok = kids[1]
            return n.Attribute(span, self.build(kids[0]), str(name_tok), self.span(name_tok))
        return self.literal(kind, kids[0] if kids else None, span)

    def literal(self, kind: str, token: Tree | Token | None, span: Span) -> n.Literal:
        text = str(token) if token is not None else ""
        if kind == "int":
            value = int(text)
            if value > MAX_INT:
                raise RuleError("数字太大", "number too large", span=span)
            return n.Literal(span, value)
        if kind == "decimal":
            if len(text) > 24:
                raise RuleError("数字太长", "number too long", span=span)
            return n.Literal(span, Decimal(text))
        if kind == "string":
            return n.Literal(span, _unescape(text[1:-1], span))
        return n.Literal(span, {"true": True, "false": False, "null": None}[kind])


_PUNCT = {"LPAR", "RPAR", "LSQB", "RSQB", "COMMA", "DOT", "IN", "NOT"}
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


def _children(item: Tree | Token | None) -> list[Tree | Token]:
    """The meaningful children of a collection or argument list (no punctuation)."""
    if not isinstance(item, Tree):
        return []
    return [c for c in item.children if not (isinstance(c, Token) and c.type in _PUNCT)]


def _is(item: Tree | Token, *types: str) -> bool:
    return isinstance(item, Token) and item.type in types


def _unescape(body: str, span: Span) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and len(body) >= i + 6 and _is_hex(body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            raise RuleError(
                f"字符串中的转义 \\{nxt} 无效", f"invalid escape \\{nxt} in string", span=span
            )
    return "".join(out)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
