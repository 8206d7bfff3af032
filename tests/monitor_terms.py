"""The runtime monitor's check of loss terms cut from autograd (GL022). Installed by
`runtime_monitor.py` before the program runs. Kind:

- dead-term:  a backward ran on a value that requires grad and holds, as a term of a
              sum (kept through sums, `.sum()` / `.mean()` and scaling by numbers), a
              value taken out of autograd from one that required grad (`.detach()`,
              `.data`, `.item()`, and what is computed from those alone): that term gets
              no gradient. The lines are the backward's and the cut's. A straight-through
              estimator (`z + (q - z).detach()`), whose cut term was computed from the
              other operand itself, is not counted.

A torch function mode sees every operation; numbers taken out with `.item()` become a
float subclass that keeps where they were cut, through Python arithmetic too.
"""

from __future__ import annotations

import sys

import torch
from torch.overrides import TorchFunctionMode

_hooks = {}
# id(tensor) -> (tensor, the cut's lines, grad_fn of the value it was cut from) for values
# without a graph cut from one that had it; id(tensor) -> (tensor, the cut's lines) for
# values that require grad and hold such a term (kept alive: ids stay unique)
_cut = {}
_dead = {}

_SUMS = {"add", "__add__", "__radd__", "__iadd__", "add_", "sub", "__sub__", "__rsub__",
         "__isub__", "sub_", "subtract"}
_SCALINGS = {"mul", "__mul__", "__rmul__", "mul_", "multiply", "div", "__truediv__",
             "div_", "true_divide", "divide", "__itruediv__", "__imul__"}
_KEEPERS = {"sum", "mean", "neg", "__neg__", "negative", "clone"}


class CutFloat(float):
    """A number `.item()` took out of a tensor that required grad."""

    def __new__(cls, value, cut):
        self = super().__new__(cls, value)
        self.cut = cut
        return self

    def _keep(self, result):
        return CutFloat(result, self.cut) if isinstance(result, float) else result


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "__neg__", "__pos__"):
    def _op(self, *other, _name=_name):
        return self._keep(getattr(float, _name)(self, *other))
    setattr(CutFloat, _name, _op)


def _cut_of(value):
    """(lines, source grad_fn) of a value cut from autograd, else None."""
    if isinstance(value, CutFloat):
        return value.cut
    if isinstance(value, torch.Tensor) and not value.requires_grad:
        entry = _cut.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1:]
    return None


def _reaches(start, target) -> bool:
    """Is `target` (a graph node) `start` or behind it?"""
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        if node is target:
            return True
        seen.add(id(node))
        stack.extend(n for n, _ in getattr(node, "next_functions", ()))
    return False


def _node_of(tensor):
    if tensor.grad_fn is not None:
        return tensor.grad_fn
    return None


class _Watch(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        try:
            if name == "__get__" and _is_data(args, out):
                name = "data"  # (the getter may be a property another wrapper put there)
            return _after(name, args, out)
        except Exception:  # the watch must never change what the program does
            return out


def _is_data(args, out) -> bool:
    """A getter that gave a tensor without a graph over the same memory as a tensor with
    one: `.data`."""
    first = args[0] if args else None
    return (isinstance(first, torch.Tensor) and isinstance(out, torch.Tensor)
            and first.requires_grad and not out.requires_grad and out.numel() > 0
            and out.data_ptr() == first.data_ptr())


def _after(name, args, out):
    first = args[0] if args else None
    if name in ("detach", "data", "item") and isinstance(first, torch.Tensor) \
            and first.requires_grad:
        cut = (_hooks["lines"](), _node_of(first))
        if name == "item":
            return CutFloat(out, cut)
        _cut[id(out)] = (out, *cut)
        return out
    if not isinstance(out, torch.Tensor):
        return out
    cuts = [c for c in (_cut_of(a) for a in args) if c is not None]
    if not out.requires_grad:
        if cuts:
            _cut[id(out)] = (out, *cuts[0])
        return out
    dead = [_dead[id(a)][1] for a in args
            if isinstance(a, torch.Tensor) and id(a) in _dead and _dead[id(a)][0] is a]
    if name in _SUMS:
        grads = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        for lines, source in cuts:
            # a straight-through estimator: the cut value came from the other operand
            if not any(source is not None and _node_of(g) is not None
                       and _reaches(source, _node_of(g)) for g in grads):
                dead.append(lines)
    elif name in _SCALINGS:
        if any(isinstance(a, torch.Tensor) and a.requires_grad for a in args[1:]):
            dead = []  # a product of two tensors: the other weights the gradient
    elif name not in _KEEPERS:
        dead = []
    if dead:
        _dead[id(out)] = (out, dead[0])
    return out


def check_backward(tensors) -> None:
    """A backward starts on `tensors`: does one of them hold a term cut from autograd?"""
    for t in tensors:
        entry = _dead.get(id(t)) if isinstance(t, torch.Tensor) else None
        if entry is not None and entry[0] is t:
            _hooks["record"]("dead-term", _hooks["lines"]() + entry[1],
                             "a term of the loss was cut from autograd before it was added")


def install(record, program_lines) -> None:
    _hooks.update(record=record, lines=program_lines)
    mode = _Watch()
    mode.__enter__()
    sys.modules[__name__]._mode = mode  # (kept: leaving it would end the watch)
