"""Element counts of tensors, known only from literal shapes (GL013).

A count is exact or unknown (None): elementwise operations keep it, whole-tensor
reductions make it 1, shape changes keep it, and everything else forgets it.
"""

from __future__ import annotations

from math import prod
from typing import List, Optional

import libcst as cst

from gradlint.analysis.values import Const, Tensor, evolve

# operations whose result has as many elements as their tensor input
SAME_COUNT = {
    "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan", "sinh",
    "cosh", "tanh", "asin", "acos", "atan", "sigmoid", "relu", "gelu", "silu", "softplus",
    "elu", "leaky_relu", "abs", "neg", "negative", "sqrt", "rsqrt", "square", "reciprocal",
    "sign", "erf", "floor", "ceil", "round", "trunc", "clamp", "clip", "float", "double",
    "half", "bfloat16", "to", "clone", "contiguous", "cpu", "cuda", "flatten", "ravel",
    "reshape", "view", "squeeze", "unsqueeze", "t", "transpose", "permute", "softmax",
    "log_softmax", "dropout", "nan_to_num", "hardtanh",
}
ELEMENTWISE_BINARY = {"pow", "mul", "add", "sub", "div", "true_divide", "multiply",
                      "subtract", "divide", "maximum", "minimum"}
REDUCE_ALL = {"sum", "mean", "prod", "max", "min", "norm", "std", "var", "amax", "amin",
              "median", "nansum", "nanmean"}
# torch.nn.functional losses reduce to one element unless `reduction=` says otherwise
LOSSES = {"mse_loss", "l1_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
          "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss", "kl_div",
          "soft_margin_loss", "poisson_nll_loss", "margin_ranking_loss"}
SHAPE_FACTORIES = {"randn", "rand", "zeros", "ones", "empty"}
LIKE_FACTORIES = {"zeros_like", "ones_like", "randn_like", "rand_like", "full_like", "empty_like"}


def _int(node: cst.BaseExpression) -> Optional[int]:
    if isinstance(node, cst.Integer):
        value = int(node.value, 0)
        return value if value >= 0 else None
    return None


def _size(node: cst.BaseExpression) -> Optional[int]:
    """The element count of a literal size: `3`, `(2, 3)`, `[4]`."""
    if isinstance(node, (cst.Tuple, cst.List)):
        dims = [_int(e.value) if isinstance(e, cst.Element) else None for e in node.elements]
        return None if None in dims else prod(dims)
    return _int(node)


def _data_count(node: cst.BaseExpression) -> Optional[int]:
    """Elements of literal data: `1.0` -> 1, `[[1., 2.], [3., 4.]]` -> 4."""
    if isinstance(node, (cst.Integer, cst.Float)):
        return 1
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return _data_count(node.expression)
    if isinstance(node, (cst.List, cst.Tuple)):
        counts = [_data_count(e.value) if isinstance(e, cst.Element) else None
                  for e in node.elements]
        return None if None in counts or not counts else sum(counts)
    return None


def _positional(node: cst.Call) -> List[cst.BaseExpression]:
    return [a.value for a in node.args if a.keyword is None and not a.star]


def _keyword(node: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def factory_count(node: cst.Call, short: str, inputs) -> Optional[int]:
    if any(a.star for a in node.args):
        return None
    pos = _positional(node)
    size = _keyword(node, "size")
    if short in SHAPE_FACTORIES:
        if size is not None:
            return _size(size)
        if len(pos) == 1:
            return _size(pos[0])
        dims = [_int(p) for p in pos]
        return prod(dims) if pos and None not in dims else None
    if short == "full":
        return _size(size if size is not None else pos[0]) if (pos or size is not None) else None
    if short in ("tensor", "as_tensor") and pos:
        return _data_count(pos[0])
    if short == "randint":
        target = size if size is not None else (pos[-1] if len(pos) >= 2 else None)
        return _size(target) if isinstance(target, (cst.Tuple, cst.List)) else None
    if short == "arange" and len(pos) in (1, 2) and _keyword(node, "step") is None:
        bounds = [_int(p) for p in pos]
        if None in bounds:
            return None
        return bounds[0] if len(bounds) == 1 else max(bounds[1] - bounds[0], 0)
    if short == "linspace":
        steps = _keyword(node, "steps")
        return _int(steps if steps is not None else pos[2]) if (steps is not None or len(pos) > 2) else None
    if short == "eye" and pos:
        n = [_int(p) for p in pos[:2]]
        return None if None in n else (n[0] * n[-1])
    if short in LIKE_FACTORIES and inputs and isinstance(inputs[0], Tensor):
        return inputs[0].numel
    return None


def elementwise_count(values) -> Optional[int]:
    """Broadcasting tensors of known counts where each is 1 or the same n: n."""
    counts = []
    for v in values:
        if isinstance(v, Tensor):
            counts.append(v.numel)
        elif not isinstance(v, Const):
            return None
    if not counts or None in counts:
        return None
    big = {c for c in counts if c != 1}
    return big.pop() if len(big) == 1 else (1 if not big else None)


def op_count(name: str, node: cst.Call, inputs, method: bool) -> Optional[int]:
    """Element count of `torch.<name>(...)` or of the method `t.<name>(...)`."""
    extra = [a for a in node.args if not (a.keyword is not None and a.keyword.value == "dtype")]
    if name in REDUCE_ALL:
        # no dimension given: one element (`t.sum()`, `torch.sum(t)`)
        whole = len(extra) == (0 if method else 1)
        return 1 if whole and not any(a.star for a in node.args) else None
    if name in LOSSES:
        reduction = _keyword(node, "reduction")
        if reduction is None:
            return 1
        if isinstance(reduction, cst.SimpleString) and reduction.evaluated_value == "none":
            return elementwise_count(inputs)
        return None
    if name in ELEMENTWISE_BINARY:
        return elementwise_count(inputs)
    if name in SAME_COUNT and inputs and isinstance(inputs[0], Tensor):
        return inputs[0].numel
    return None


def with_count(value, count: Optional[int]):
    if isinstance(value, Tensor) and count is not None and value.numel != count:
        return evolve(value, numel=count)
    return value
