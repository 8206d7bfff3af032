"""A node's source text, as `Module.code_for_node` gives it, in a fraction of the time.

libcst generates code through two context managers per expression (its parentheses and
its syntactic position), about 4 us a node; a finding's message and its position each
need the text of the nodes it names (`loss.backward()`, an optimizer call, a loop's
header). The kinds that make up those are written out below, each as libcst's own
`_codegen_impl` does it. Any other kind is handed to libcst as a subtree of its own,
which gives the same text as inside its parent: no indentation is open inside an
expression or a simple statement, and the children handed over are the ones libcst
generates without arguments from their parent. A child that does take such arguments
(an argument's or an element's default comma) is written out here, or the whole node
goes to libcst. The tests compare both ways on every node of every fixture.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import libcst as cst

_DEFAULT = cst.MaybeSentinel.DEFAULT


class _Unhandled(Exception):
    """A child that needs its parent's arguments is of a kind not written out here."""


def node_text(module: cst.Module, node: cst.CSTNode) -> str:
    out: List[str] = []
    try:
        _emit(node, out, module)
    except _Unhandled:
        return module.code_for_node(node)
    return "".join(out)


def header_line(module: cst.Module, node) -> Optional[str]:
    """The first line of a loop's, `with`'s or `if`'s header as libcst writes it
    (`for x in y:`), or None if this kind is not written out here. (An `elif` comes out
    as `if`, as it does when libcst generates it on its own.)"""
    write = _HEADERS.get(type(node))
    if write is None or module.default_newline == "\r":
        return None  # (with "\r" alone, the stub body would run into the first line)
    out: List[str] = []
    try:
        write(node, out, module)
    except _Unhandled:
        return None
    return "".join(out).split("\n", 1)[0].rstrip("\r")


def _emit(node, out: List[str], mod) -> None:
    write = _EMIT.get(type(node))
    if write is None:
        out.append(mod.code_for_node(node))
    else:
        write(node, out, mod)


def _ws(ws, out, mod) -> None:
    if type(ws) is cst.SimpleWhitespace:
        out.append(ws.value)
    else:
        out.append(mod.code_for_node(ws))


def _open(node, out, mod) -> None:
    for lpar in node.lpar:
        out.append("(")
        _ws(lpar.whitespace_after, out, mod)


def _close(node, out, mod) -> None:
    for rpar in node.rpar:
        _ws(rpar.whitespace_before, out, mod)
        out.append(")")


def _token(node, out, mod, token: str) -> None:
    _ws(node.whitespace_before, out, mod)
    out.append(token)
    _ws(node.whitespace_after, out, mod)


def _comma(comma, out, mod, default: bool, spaced: bool = True) -> None:
    if comma is _DEFAULT:
        if default:
            out.append(", " if spaced else ",")
    elif type(comma) is cst.Comma:
        _token(comma, out, mod, ",")


def _semicolon(node, out, mod) -> None:
    # as a node on its own: no default semicolon
    semicolon = node.semicolon
    if type(semicolon) is cst.Semicolon:
        _token(semicolon, out, mod, ";")


def _atom(node, out, mod) -> None:
    _open(node, out, mod)
    out.append(node.value)
    _close(node, out, mod)


def _attribute(node, out, mod) -> None:
    _open(node, out, mod)
    _emit(node.value, out, mod)
    _token(node.dot, out, mod, ".")
    _emit(node.attr, out, mod)
    _close(node, out, mod)


def _call(node, out, mod) -> None:
    _open(node, out, mod)
    _emit(node.func, out, mod)
    _ws(node.whitespace_after_func, out, mod)
    out.append("(")
    _ws(node.whitespace_before_args, out, mod)
    last = len(node.args) - 1
    for i, arg in enumerate(node.args):
        _arg(arg, out, mod, i != last)
    out.append(")")
    _close(node, out, mod)


def _arg(arg, out, mod, default_comma: bool) -> None:
    out.append(arg.star)
    _ws(arg.whitespace_after_star, out, mod)
    if arg.keyword is not None:
        _emit(arg.keyword, out, mod)
        if arg.equal is _DEFAULT:
            out.append(" = ")
    if type(arg.equal) is cst.AssignEqual:
        _token(arg.equal, out, mod, "=")
    _emit(arg.value, out, mod)
    _comma(arg.comma, out, mod, default_comma)
    _ws(arg.whitespace_after_arg, out, mod)


def _subscript(node, out, mod) -> None:
    _open(node, out, mod)
    _emit(node.value, out, mod)
    _ws(node.whitespace_after_value, out, mod)
    out.append("[")
    _ws(node.lbracket.whitespace_after, out, mod)
    last = len(node.slice) - 1
    for i, element in enumerate(node.slice):
        if type(element) is not cst.SubscriptElement:
            raise _Unhandled
        _emit(element.slice, out, mod)
        _comma(element.comma, out, mod, i != last)
    _ws(node.rbracket.whitespace_before, out, mod)
    out.append("]")
    _close(node, out, mod)


def _index(node, out, mod) -> None:
    if node.star is not None:
        out.append(node.star)
    if node.whitespace_after_star is not None:
        _ws(node.whitespace_after_star, out, mod)
    _emit(node.value, out, mod)


def _slice(node, out, mod) -> None:
    if node.lower is not None:
        _emit(node.lower, out, mod)
    _token(node.first_colon, out, mod, ":")
    if node.upper is not None:
        _emit(node.upper, out, mod)
    if node.second_colon is _DEFAULT:
        if node.step is not None:
            out.append(":")
    elif type(node.second_colon) is cst.Colon:
        _token(node.second_colon, out, mod, ":")
    if node.step is not None:
        _emit(node.step, out, mod)


def _binary(node, out, mod) -> None:  # also boolean operations
    _open(node, out, mod)
    _emit(node.left, out, mod)
    _emit(node.operator, out, mod)
    _emit(node.right, out, mod)
    _close(node, out, mod)


def _unary(node, out, mod) -> None:
    _open(node, out, mod)
    _emit(node.operator, out, mod)
    _emit(node.expression, out, mod)
    _close(node, out, mod)


def _comparison(node, out, mod) -> None:
    _open(node, out, mod)
    _emit(node.left, out, mod)
    for target in node.comparisons:
        _emit(target.operator, out, mod)
        _emit(target.comparator, out, mod)
    _close(node, out, mod)


def _elements(elements, out, mod, spaced: bool) -> None:
    last = len(elements) - 1
    for i, element in enumerate(elements):
        kind = type(element)
        if kind is cst.Element:
            _emit(element.value, out, mod)
        elif kind is cst.StarredElement:
            _open(element, out, mod)
            out.append("*")
            _ws(element.whitespace_before_value, out, mod)
            _emit(element.value, out, mod)
            _close(element, out, mod)
        else:
            raise _Unhandled
        _comma(element.comma, out, mod, i != last or not spaced, spaced)


def _tuple(node, out, mod) -> None:
    _open(node, out, mod)
    # one element: its comma is written even by default, without a space
    _elements(node.elements, out, mod, len(node.elements) != 1)
    _close(node, out, mod)


def _list(node, out, mod) -> None:
    _open(node, out, mod)
    out.append("[")
    _ws(node.lbracket.whitespace_after, out, mod)
    _elements(node.elements, out, mod, True)
    _ws(node.rbracket.whitespace_before, out, mod)
    out.append("]")
    _close(node, out, mod)


def _expr(node, out, mod) -> None:
    _emit(node.value, out, mod)
    _semicolon(node, out, mod)


def _assign(node, out, mod) -> None:
    for target in node.targets:
        _emit(target.target, out, mod)
        _ws(target.whitespace_before_equal, out, mod)
        out.append("=")
        _ws(target.whitespace_after_equal, out, mod)
    _emit(node.value, out, mod)
    _semicolon(node, out, mod)


def _augassign(node, out, mod) -> None:
    _emit(node.target, out, mod)
    _emit(node.operator, out, mod)
    _emit(node.value, out, mod)
    _semicolon(node, out, mod)


def _return(node, out, mod) -> None:
    out.append("return")
    if node.whitespace_after_return is _DEFAULT:
        if node.value is not None:
            out.append(" ")
    else:
        _ws(node.whitespace_after_return, out, mod)
    if node.value is not None:
        _emit(node.value, out, mod)
    _semicolon(node, out, mod)


def _operators() -> Dict[type, Callable]:
    """Every operator kind: the ones between two operands write their surrounding
    whitespace, the unary ones only what follows; `not in` and `is not` have a middle."""
    table: Dict[type, Callable] = {}
    bases = {"BaseBinaryOp", "BaseBooleanOp", "BaseCompOp", "BaseAugOp"}
    for kind in vars(cst).values():
        if not isinstance(kind, type):
            continue
        mro = {base.__name__ for base in kind.__mro__[1:]}
        if "BaseUnaryOp" in mro:
            token = kind()._get_token()
            table[kind] = (lambda t: lambda node, out, mod: (
                out.append(t), _ws(node.whitespace_after, out, mod)))(token)
        elif mro & bases:
            if hasattr(kind, "_get_tokens"):
                first, second = kind()._get_tokens()
                table[kind] = (lambda a, b: lambda node, out, mod: (
                    _ws(node.whitespace_before, out, mod), out.append(a),
                    _ws(node.whitespace_between, out, mod), out.append(b),
                    _ws(node.whitespace_after, out, mod)))(first, second)
            else:
                token = kind()._get_token()
                table[kind] = (lambda t: lambda node, out, mod: _token(node, out, mod, t))(token)
    return table


_EMIT: Dict[type, Callable] = {
    cst.Name: _atom, cst.Integer: _atom, cst.Float: _atom, cst.Imaginary: _atom,
    cst.SimpleString: _atom, cst.Attribute: _attribute, cst.Call: _call,
    cst.Subscript: _subscript, cst.Index: _index, cst.Slice: _slice,
    cst.BinaryOperation: _binary, cst.BooleanOperation: _binary, cst.UnaryOperation: _unary,
    cst.Comparison: _comparison, cst.Tuple: _tuple, cst.List: _list,
    cst.Expr: _expr, cst.Assign: _assign, cst.AugAssign: _augassign, cst.Return: _return,
    **_operators(),
}


# -- headers: what libcst writes before the body, as `header_line` uses it --------------
def _async(node, out, mod) -> None:
    if node.asynchronous is not None:
        out.append("async")
        _ws(node.asynchronous.whitespace_after, out, mod)


def _for_header(node, out, mod) -> None:
    _async(node, out, mod)
    out.append("for")
    _ws(node.whitespace_after_for, out, mod)
    _emit(node.target, out, mod)
    _ws(node.whitespace_before_in, out, mod)
    out.append("in")
    _ws(node.whitespace_after_in, out, mod)
    _emit(node.iter, out, mod)
    _ws(node.whitespace_before_colon, out, mod)
    out.append(":")


def _tested(keyword: str, before: str, after: str) -> Callable:
    """`while` and `if`: a keyword and a test, each kind naming its whitespace its way."""
    def write(node, out, mod) -> None:
        out.append(keyword)
        _ws(getattr(node, before), out, mod)
        _emit(node.test, out, mod)
        _ws(getattr(node, after), out, mod)
        out.append(":")
    return write


def _with_header(node, out, mod) -> None:
    _async(node, out, mod)
    out.append("with")
    _ws(node.whitespace_after_with, out, mod)
    # libcst adds parentheses of its own when an item's comma ends a line
    needs_paren = any(
        type(item.comma) is cst.Comma and type(item.comma.whitespace_after) in (
            cst.EmptyLine, cst.TrailingWhitespace, cst.ParenthesizedWhitespace)
        for item in node.items)
    if type(node.lpar) is cst.LeftParen:
        out.append("(")
        _ws(node.lpar.whitespace_after, out, mod)
    elif needs_paren:
        out.append("(")
    last = len(node.items) - 1
    for i, item in enumerate(node.items):
        _emit(item.item, out, mod)
        if item.asname is not None:
            asname = item.asname
            _ws(asname.whitespace_before_as, out, mod)
            out.append("as")
            _ws(asname.whitespace_after_as, out, mod)
            _emit(asname.name, out, mod)
        _comma(item.comma, out, mod, i != last)
    if type(node.rpar) is cst.RightParen:
        _ws(node.rpar.whitespace_before, out, mod)
        out.append(")")
    elif needs_paren:
        out.append(")")
    _ws(node.whitespace_before_colon, out, mod)
    out.append(":")


_HEADERS: Dict[type, Callable] = {
    cst.For: _for_header, cst.With: _with_header,
    cst.While: _tested("while", "whitespace_after_while", "whitespace_before_colon"),
    cst.If: _tested("if", "whitespace_before_test", "whitespace_after_test"),
}
