"""Resource programs: the ``requires`` and ``template-filter`` mini-language.

A program is one Python-like expression per non-empty line (``#`` lines are
comments); it holds when every line holds.  Bare names are resource aliases
(a resource job's partial id, or an ``imports`` alias) and ``name.key`` reads a
key of one of that resource's records.  Record values are always strings, hence
casts such as ``int(disk.size) > 150``.

Each line is parsed with :func:`ast.parse` and then *interpreted* over a
whitelist of node types; user text is never compiled or evaluated by Python.

Semantics, kept compatible with Checkbox:

* Implicit ANY: an expression is evaluated for every combination (Cartesian
  product) of the records of the resources it references, and is true when
  any combination is truthy.  A combination that fails (missing key, type
  error, ``int('abc')``, division by zero, a cap below) is simply false; a
  resource without records makes the expression false.
* The split pitfall: Checkbox splits a line that contains no ``(`` textually at
  its last `` or `` (else `` and ``) and gives each half its *own* implicit
  ANY.  So ``a.x == '1' and a.y == '2'`` holds when one record has ``x=1`` and
  *another* has ``y=2``, while ``(a.x == '1' and a.y == '2')`` needs one
  record with both.  We preserve that effect: in a line without ``(``, the
  top-level ``and``/``or`` operands are evaluated as separate expressions,
  recursively (``x and y or z`` is ``any(x) and any(y)  or  any(z)``).
  We split on the syntax tree, not on text, so ``' or '`` inside a string
  literal is not a split point (Checkbox would produce a broken half there).

Bounded work on hostile input (violations are parse errors or plain false):

* parse: ``MAX_PROGRAM_CHARS`` per program, ``MAX_EXPRESSION_CHARS`` per line,
  ``MAX_DEPTH`` levels of syntax tree, integer literals up to
  ``MAX_INT_BITS``;
* evaluation: integers up to ``MAX_INT_BITS`` (``**`` is refused before it
  computes anything larger), strings/lists/tuples up to ``MAX_VALUE_SIZE``
  (logical size, so ``[s] * n`` counts ``len(s) * n``), ``int()``/``float()``
  of at most ``MAX_INT_DIGITS`` characters, no ``str % x`` formatting,
  ``MAX_COMBINATIONS`` record combinations and ``MAX_STEPS`` interpreter steps
  per expression (exhausting either makes the expression false).
"""

from __future__ import annotations

import ast
import itertools
import keyword
import operator
import re
import warnings
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from plainbox.errors import ResourceExpressionError


# fmt: off
__all__ = [
    "MAX_COMBINATIONS", "MAX_DEPTH", "MAX_EXPRESSION_CHARS", "MAX_INT_BITS",
    "MAX_INT_DIGITS", "MAX_PROGRAM_CHARS", "MAX_STEPS", "MAX_VALUE_SIZE",
    "Record", "ResourceExpression", "ResourceMap", "ResourceProgram",
    "evaluate_filter", "parse_imports", "parse_program",
]
# fmt: on

Record = Mapping[str, str]
ResourceMap = Mapping[str, Sequence[Record]]

MAX_PROGRAM_CHARS = 100_000
MAX_EXPRESSION_CHARS = 10_000
MAX_DEPTH = 50
MAX_INT_BITS = 16_384
MAX_INT_DIGITS = 4_300
MAX_VALUE_SIZE = 1_000_000
MAX_COMBINATIONS = 1_000_000
MAX_STEPS = 2_000_000
# Work proportional to data size (copying, comparing) is charged one step per
# this many units, so a 1 MB string costs about as much as 1000 tree nodes.
_UNITS_PER_STEP = 1_024

# fmt: off
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "bool": bool, "int": int, "float": float,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda left, right: left in right,
    ast.NotIn: lambda left, right: left not in right,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos,
}
_CONSTRUCTS: dict[type[ast.AST], str] = {
    ast.Subscript: "subscript (x[...])", ast.Slice: "slice", ast.Lambda: "lambda",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension",
    ast.DictComp: "comprehension", ast.GeneratorExp: "generator expression",
    ast.JoinedStr: "f-string", ast.NamedExpr: "assignment expression (:=)",
    ast.IfExp: "conditional expression (x if c else y)", ast.Dict: "dict literal",
    ast.Set: "set literal", ast.Starred: "star expression",
}
# fmt: on
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_ALLOWED_NAMES = ", ".join(_FUNCTIONS)
_IMPORT = re.compile(
    r"from\s+(?P<namespace>[\w.-]+)\s+import\s+(?P<partial>\S+)"
    r"(?:\s+as\s+(?P<alias>\S+))?"
)


class _Refused(Exception):
    """A cap was hit while evaluating one record combination."""


class _Exhausted(Exception):
    """The step or combination budget of a whole evaluation is spent."""


# Anything that makes one record combination false instead of escaping.
_COMBINATION_ERRORS = (_Refused, ArithmeticError, LookupError, TypeError, ValueError)


def parse_imports(text: str, namespace: str) -> dict[str, str]:
    """Parse an ``imports`` field into ``{alias: full id}``.

    Each line reads ``from <namespace> import <partial_id> [as <alias>]``; the
    alias defaults to the partial id.  ``namespace`` is the importing unit's
    own namespace, which may be imported from like any other.
    """
    del namespace  # nothing depends on it yet; kept for a stable signature
    aliases: dict[str, str] = {}
    for offset, raw in enumerate(text.split("\n")):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _IMPORT.fullmatch(line)
        if match is None:
            raise ResourceExpressionError(
                f"bad import {line!r}: expected 'from <namespace> import <id>"
                " [as <alias>]'",
                offset,
            )
        partial, alias = match["partial"], match["alias"]
        if "::" in partial:
            raise ResourceExpressionError(
                f"bad import {line!r}: import a partial id, not {partial!r}", offset
            )
        if alias is not None and (not alias.isidentifier() or keyword.iskeyword(alias)):
            raise ResourceExpressionError(
                f"bad import {line!r}: alias {alias!r} is not a valid name", offset
            )
        name = alias or partial
        full_id = f"{match['namespace']}::{partial}"
        if aliases.setdefault(name, full_id) != full_id:
            raise ResourceExpressionError(
                f"{name!r} is imported twice: {aliases[name]!r}, {full_id!r}",
                offset,
            )
    return aliases


@dataclass(frozen=True, slots=True)
class ResourceExpression:
    """One line of a resource program; build it with :func:`parse_program`."""

    text: str
    line_offset: int
    resource_ids: tuple[str, ...]
    _body: ast.expr = field(repr=False, compare=False)
    _bindings: tuple[tuple[str, str], ...] = field(repr=False)  # alias -> full id

    def evaluate(self, resources: ResourceMap) -> bool:
        """True if some combination of records satisfies the expression."""
        run = _Run(resources, dict(self._bindings))
        try:
            # Checkbox's textual split happens only in lines without '('.
            return run.holds(self._body, split="(" not in self.text)
        except _Exhausted:
            return False


@dataclass(frozen=True, slots=True)
class ResourceProgram:
    """A whole ``requires`` program: every expression must hold."""

    expressions: tuple[ResourceExpression, ...]

    @property
    def resource_ids(self) -> tuple[str, ...]:
        """Every resource referenced, in first-use order, without repeats."""
        ids = (rid for expr in self.expressions for rid in expr.resource_ids)
        return tuple(dict.fromkeys(ids))

    def evaluate(self, resources: ResourceMap) -> bool:
        return all(expr.evaluate(resources) for expr in self.expressions)

    def failing(self, resources: ResourceMap) -> list[ResourceExpression]:
        """The expressions that do not hold, e.g. to explain a skip."""
        return [expr for expr in self.expressions if not expr.evaluate(resources)]


def parse_program(
    text: str, namespace: str, imports: Mapping[str, str] | None = None
) -> ResourceProgram:
    """Parse a resource program; names resolve through ``imports`` first."""
    if len(text) > MAX_PROGRAM_CHARS:
        raise ResourceExpressionError(
            f"resource program is too long ({len(text)} > {MAX_PROGRAM_CHARS} chars)"
        )
    expressions = []
    for offset, raw in enumerate(text.split("\n")):
        line = raw.strip()
        if line and not line.startswith("#"):
            expressions.append(_parse_line(line, offset, namespace, imports or {}))
    return ResourceProgram(tuple(expressions))


def evaluate_filter(
    text: str,
    namespace: str,
    record: Record,
    resource_id: str,
    imports: Mapping[str, str] | None = None,
) -> bool:
    """Evaluate a ``template-filter`` against one record of ``resource_id``.

    Unlike ``requires`` there is no ANY over the resource's records, and an
    expression naming any other resource is false.
    """
    program = parse_program(text, namespace, imports)
    resources = {resource_id: (record,)}
    return all(
        set(expr.resource_ids) <= {resource_id} and expr.evaluate(resources)
        for expr in program.expressions
    )


def _parse_line(
    line: str, offset: int, namespace: str, imports: Mapping[str, str]
) -> ResourceExpression:
    if len(line) > MAX_EXPRESSION_CHARS:
        raise ResourceExpressionError(
            f"expression is too long ({len(line)} > {MAX_EXPRESSION_CHARS} chars)",
            offset,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences
            tree = ast.parse(line, mode="eval")
    except SyntaxError as exc:
        raise ResourceExpressionError(f"syntax error: {exc.msg}", offset) from None
    except ValueError as exc:  # null bytes, on some Python versions
        raise ResourceExpressionError(f"cannot parse: {exc}", offset) from None
    except (RecursionError, MemoryError):  # nesting that exhausts the parser
        raise ResourceExpressionError(
            "expression is too deeply nested to parse", offset
        ) from None
    names: list[str] = []
    _check(tree.body, 1, names, offset)
    if not names:
        raise ResourceExpressionError("expression references no resource", offset)
    bindings = tuple(
        (name, imports.get(name, f"{namespace}::{name}"))
        for name in dict.fromkeys(names)
    )
    resource_ids = tuple(dict.fromkeys(full_id for _, full_id in bindings))
    return ResourceExpression(line, offset, resource_ids, tree.body, bindings)


def _check(node: ast.AST, depth: int, names: list[str], offset: int) -> None:
    """Validate ``node`` against the whitelist; collect resource names used."""

    def refuse(message: str) -> ResourceExpressionError:
        return ResourceExpressionError(message, offset)

    if depth > MAX_DEPTH:
        raise refuse(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
    children: list[ast.AST] = []
    if isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise refuse(f"name {node.id!r} is not allowed")
        names.append(node.id)
    elif isinstance(node, ast.Attribute):
        if not isinstance(node.value, ast.Name):
            raise refuse(
                f"attribute '.{node.attr}' is only allowed directly on a resource"
                " name (like device.category)"
            )
        if node.attr.startswith("__"):
            raise refuse(f"attribute {node.attr!r} is not allowed")
        children.append(node.value)
    elif isinstance(node, ast.Constant):
        value = node.value
        if not isinstance(value, _CONSTANT_TYPES):
            raise refuse(f"constant {type(value).__name__} is not allowed")
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise refuse(f"integer constant is larger than {MAX_INT_BITS} bits")
    elif isinstance(node, ast.Call):
        _check_call(node, refuse)
        children.extend(node.args)
    elif isinstance(node, ast.BoolOp):
        children.extend(node.values)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise refuse("operator '~' is not allowed")
        children.append(node.operand)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise refuse(f"operator {type(node.op).__name__} is not allowed")
        children.extend((node.left, node.right))
    elif isinstance(node, ast.Compare):
        children.extend((node.left, *node.comparators))
    elif isinstance(node, (ast.List, ast.Tuple)):
        children.extend(node.elts)
    else:
        what = _CONSTRUCTS.get(type(node), f"'{type(node).__name__}' syntax")
        raise refuse(f"{what} is not allowed in a resource expression")
    for child in children:
        _check(child, depth + 1, names, offset)


def _check_call(
    node: ast.Call, refuse: Callable[[str], ResourceExpressionError]
) -> None:
    func = node.func
    if isinstance(func, ast.Name) and func.id not in _FUNCTIONS:
        raise refuse(f"function call {func.id!r} is not allowed; only {_ALLOWED_NAMES}")
    if isinstance(func, ast.Attribute):
        owner = f"{func.value.id}." if isinstance(func.value, ast.Name) else "..."
        raise refuse(
            f"method call '{owner}{func.attr}()' is not allowed; only {_ALLOWED_NAMES}"
        )
    if not isinstance(func, ast.Name):
        raise refuse(f"calling a computed value is not allowed; only {_ALLOWED_NAMES}")
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise refuse(f"{func.id}() accepts positional arguments only")


def _aliases_in(node: ast.AST) -> list[str]:
    """Resource names referenced under ``node`` (function names excluded)."""
    nodes = list(ast.walk(node))
    functions = {id(sub.func) for sub in nodes if isinstance(sub, ast.Call)}
    names = (
        sub.id
        for sub in nodes
        if isinstance(sub, ast.Name) and id(sub) not in functions
    )
    return list(dict.fromkeys(names))


def _size(value: object) -> int:
    """Logical size of a scalar; sequences are sized as they are built."""
    if isinstance(value, int):
        bits = value.bit_length()
        if bits > MAX_INT_BITS:
            raise _Refused("integer too large")
        return 1 + bits // 64
    if isinstance(value, str):
        return 1 + len(value)
    return 1


def _is_sequence(value: object) -> bool:
    return isinstance(value, (str, list, tuple))


class _Run:
    """The state of one :meth:`ResourceExpression.evaluate` call."""

    def __init__(self, resources: ResourceMap, bindings: dict[str, str]) -> None:
        self.resources = resources
        self.bindings = bindings
        self.steps = 0
        self.combinations = 0
        self.env: dict[str, Record] = {}

    def charge(self, steps: int) -> None:
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise _Exhausted

    def holds(self, node: ast.expr, split: bool) -> bool:
        if split and isinstance(node, ast.BoolOp):
            results = (self.holds(value, split) for value in node.values)
            return any(results) if isinstance(node.op, ast.Or) else all(results)
        aliases = _aliases_in(node)
        pools = [self.resources.get(self.bindings[alias], ()) for alias in aliases]
        for combination in itertools.product(*pools):
            self.combinations += 1
            if self.combinations > MAX_COMBINATIONS:
                raise _Exhausted
            self.env = dict(zip(aliases, combination, strict=True))
            try:
                if self.value(node)[0]:
                    return True
            except _COMBINATION_ERRORS:
                continue
        return False

    def value(self, node: ast.expr) -> tuple[object, int]:
        """Evaluate ``node`` in ``self.env``; return its value and logical size."""
        self.charge(1)
        if isinstance(node, ast.Constant):
            return node.value, _size(node.value)
        if isinstance(node, ast.Name):
            record = self.env[node.id]
            return record, 1 + len(record)
        if isinstance(node, ast.Attribute):
            assert isinstance(node.value, ast.Name)  # guaranteed by _check
            text = self.env[node.value.id][node.attr]
            return text, _size(text)
        if isinstance(node, ast.Compare):
            return self.compare(node), 1
        if isinstance(node, ast.BoolOp):
            want = isinstance(node.op, ast.Or)  # 'or' stops at truthy, 'and' falsy
            for operand in node.values:
                outcome = self.value(operand)
                if bool(outcome[0]) is want:
                    break
            return outcome
        if isinstance(node, ast.UnaryOp):
            result = _UNARY[type(node.op)](self.value(node.operand)[0])
            return result, _size(result)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            items, total = [], 1
            for element in node.elts:
                item, size = self.value(element)
                total += size
                if total > MAX_VALUE_SIZE:
                    raise _Refused("sequence too large")
                items.append(item)
            return (items if isinstance(node, ast.List) else tuple(items)), total
        raise TypeError(f"unexpected node {type(node).__name__}")  # unreachable

    def compare(self, node: ast.Compare) -> bool:
        left, left_size = self.value(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right, right_size = self.value(comparator)
            searching = isinstance(op, (ast.In, ast.NotIn))
            cost = left_size + right_size if searching else min(left_size, right_size)
            self.charge(cost // _UNITS_PER_STEP)
            if not _COMPARE[type(op)](left, right):
                return False
            left, left_size = right, right_size
        return True

    def binary(self, node: ast.BinOp) -> tuple[object, int]:
        left, left_size = self.value(node.left)
        right, right_size = self.value(node.right)
        op = type(node.op)
        size: int | None = None  # a precomputed size, for sequence results
        if op is ast.Mult and isinstance(left, int) and _is_sequence(right):
            left, right, left_size, right_size = right, left, right_size, left_size
        if op is ast.Mult and _is_sequence(left) and isinstance(right, int):
            size = 1 + max(right, 0) * (left_size - 1)
        elif op is ast.Mult and isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise _Refused("integer too large")
        elif op is ast.Add and _is_sequence(left) and _is_sequence(right):
            size = left_size + right_size - 1
        elif op is ast.Mod and isinstance(left, str):
            # '%999999999d' % 1 would allocate without bound: no formatting.
            raise _Refused("string formatting is not supported")
        elif (
            op is ast.Pow
            and isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() * right > MAX_INT_BITS
        ):
            # Refuse before computing: 2 ** 10 ** 10 would run for hours.
            raise _Refused("power too large")
        if size is not None:
            if size > MAX_VALUE_SIZE:
                raise _Refused("sequence too large")
            self.charge(size // _UNITS_PER_STEP)
        result = _BINARY[op](left, right)
        return result, _size(result) if size is None else size

    def call(self, node: ast.Call) -> tuple[object, int]:
        assert isinstance(node.func, ast.Name)  # guaranteed by _check
        name = node.func.id
        args = []
        for arg in node.args:
            value, size = self.value(arg)
            self.charge(size // _UNITS_PER_STEP)
            args.append(value)
        text = args[0] if args and name in ("int", "float") else None
        if isinstance(text, str) and len(text) > MAX_INT_DIGITS:
            raise _Refused("number text too long")  # int() parsing is quadratic
        result = _FUNCTIONS[name](*args)
        return result, _size(result)
