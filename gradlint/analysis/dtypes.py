"""Floating dtypes, as far as the analysis needs them: a cast to another dtype makes a
new tensor (a non-leaf when its input requires grad), a cast to the same dtype returns
the tensor itself (`t.float()` on float32 is `t`), and an unknown dtype claims nothing.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from gradlint.analysis.exprs import dotted, kwarg, positional
from gradlint.analysis.values import Tensor

# float factories make the default dtype unless told otherwise
FLOAT_FACTORIES = {"randn", "rand", "zeros", "ones", "empty", "eye", "linspace", "logspace",
                   "normal", "randn_like", "rand_like", "FloatTensor"}
DEFAULT = "float32"
_NAMES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16",
    "FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16",
    "BFloat16Tensor": "bfloat16",
}
# methods that cast to a fixed dtype
CAST_METHODS = {"float": "float32", "double": "float64", "half": "float16",
                "bfloat16": "bfloat16"}


def named(qualname: str) -> Optional[str]:
    """`torch.float64` / `torch.DoubleTensor` / `torch.cuda.DoubleTensor` -> float64."""
    if not qualname.startswith("torch."):
        return None
    return _NAMES.get(qualname.rsplit(".", 1)[-1])


def of_factory(interp, node: cst.Call, short: str, is_int) -> Optional[str]:
    arg = kwarg(node, "dtype")
    if arg is not None:
        return named(interp.qualify(dotted(arg.value) or ""))
    if short == "FloatTensor":
        return "float32"
    if is_int is False and short in FLOAT_FACTORIES and interp.default_dtype_known:
        return DEFAULT
    return None


def cast_target(interp, node: cst.Call, method: str, pos) -> Optional[str]:
    """The dtype a `.to(...)` / `.type(...)` / `.double()` call casts to, if it is known."""
    if method in CAST_METHODS:
        return CAST_METHODS[method]
    if method not in ("to", "type") or kwarg(node, "copy") is not None:
        return None
    arg, value = kwarg(node, "dtype"), None
    if arg is None:
        args = positional(node)
        if not args:
            return None
        # `.to(dtype)`, `.to(device, dtype)`, `.to(other)`, `.type(torch.DoubleTensor)`
        index = 1 if len(args) > 1 and method == "to" else 0
        arg, value = args[index], pos[index] if index < len(pos) else None
    if type(arg.value) is cst.SimpleString:
        return named(arg.value.evaluated) if method == "type" else None
    if isinstance(value, Tensor):
        return value.dtype  # `.to(other)`: other's dtype
    return named(interp.qualify(dotted(arg.value) or ""))
