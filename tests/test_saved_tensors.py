"""The model's table of which operations save tensors for backward, checked against
PyTorch: an operation saves when a second backward through it alone raises ("Trying to
backward through the graph a second time"), and its grad_fn then has `_saved_` tensors.

The analysis claims a freed graph (GL003, `explain`'s "graph freed by backward at ...")
only through operations it believes save; a wrong entry would be a false alarm (a saving
claim that PyTorch does not make) or a miss.
"""

import importlib.util

import pytest

from gradlint.analysis import torchapi as api

HAS_TORCH = importlib.util.find_spec("torch") is not None
pytestmark = [pytest.mark.torch, pytest.mark.skipif(
    not HAS_TORCH, reason="torch==2.13.0 is not installed (`pip install torch==2.13.0`; "
                          ".ci/run installs it)")]

# every entry of NON_SAVING_OPS, called as the analysis sees it (a method, a function
# of torch, or an attribute); `base` is a non-leaf (a clone) where the op is in place
NON_SAVING_CALLS = {
    "sum": lambda a: a.sum(), "mean": lambda a: a.mean(), "view": lambda a: a.view(6),
    "reshape": lambda a: a.reshape(3, 2), "view_as": lambda a: a.view_as(a),
    "reshape_as": lambda a: a.reshape_as(a), "flatten": lambda a: a.flatten(),
    "squeeze": lambda a: a.squeeze(), "unsqueeze": lambda a: a.unsqueeze(0),
    "permute": lambda a: a.permute(1, 0), "transpose": lambda a: a.transpose(0, 1),
    "t": lambda a: a.t(), "T": lambda a: a.T, "mT": lambda a: a.mT,
    "expand": lambda a: a.unsqueeze(0).expand(4, 2, 3), "expand_as": lambda a: a.expand_as(a),
    "repeat": lambda a: a.repeat(2, 1), "clone": lambda a: a.clone(),
    "narrow": lambda a: a.narrow(1, 0, 2), "select": lambda a: a.select(0, 1),
    "split": lambda a: a.split(1)[0], "chunk": lambda a: a.chunk(2)[0],
    "unbind": lambda a: a.unbind()[0], "add": lambda a: a.add(2), "sub": lambda a: a.sub(2),
    "neg": lambda a: a.neg(), "negative": lambda a: a.negative(),
    "cat": lambda a: __import__("torch").cat([a, a]),
    "concat": lambda a: __import__("torch").concat([a, a]),
    "concatenate": lambda a: __import__("torch").concatenate([a, a]),
    "stack": lambda a: __import__("torch").stack([a, a]),
    "hstack": lambda a: __import__("torch").hstack([a, a]),
    "vstack": lambda a: __import__("torch").vstack([a, a]),
    "movedim": lambda a: a.movedim(0, 1), "squeeze_": lambda a: a.clone().unsqueeze(0).squeeze_(),
    "unsqueeze_": lambda a: a.clone().unsqueeze_(0), "flip": lambda a: a.flip(0),
    "roll": lambda a: a.roll(1), "tile": lambda a: a.tile(2), "diag_embed": lambda a: a.diag_embed(),
}
# not differentiable at all: the result does not require grad
NOT_DIFFERENTIABLE = {"detach"}

# operations the analysis treats as saving (every torch op not in NON_SAVING_OPS): the
# ones training code uses most
SAVING_CALLS = {
    "relu": lambda a: a.relu(), "sigmoid": lambda a: a.sigmoid(), "tanh": lambda a: a.tanh(),
    "exp": lambda a: a.exp(), "log": lambda a: a.abs().log(), "sqrt": lambda a: a.abs().sqrt(),
    "pow": lambda a: a.pow(2), "mul": lambda a: a.mul(2), "div": lambda a: a.div(2),
    "matmul": lambda a: a.matmul(a.t()), "mm": lambda a: a.mm(a.t()),
    "softmax": lambda a: a.softmax(-1), "log_softmax": lambda a: a.log_softmax(-1),
    "abs": lambda a: a.abs(), "norm": lambda a: a.norm(), "prod": lambda a: a.prod(),
    "max": lambda a: a.max(), "min": lambda a: a.min(), "cos": lambda a: a.cos(),
    "sin": lambda a: a.sin(), "var": lambda a: a.var(), "std": lambda a: a.std(),
    "square": lambda a: a.square(), "clamp": lambda a: a.clamp(-0.5, 0.5),
    "leaky_relu": lambda a: __import__("torch").nn.functional.leaky_relu(a),
    "gelu": lambda a: __import__("torch").nn.functional.gelu(a),
    "linear": lambda a: __import__("torch").nn.functional.linear(a, __import__("torch").ones(4, 3)),
    "mse_loss": lambda a: __import__("torch").nn.functional.mse_loss(a, __import__("torch").zeros(2, 3)),
    "cross_entropy": lambda a: __import__("torch").nn.functional.cross_entropy(
        a, __import__("torch").tensor([0, 2])),
}


def _saves(build) -> bool:
    """Whether a second backward through `build(a)` alone raises, `a` a leaf."""
    import torch

    a = torch.tensor([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]], requires_grad=True)
    y = build(a)
    assert y.requires_grad and y.grad_fn is not None
    y.backward(torch.ones_like(y))
    try:
        y.backward(torch.ones_like(y))
    except RuntimeError as e:
        assert "backward through the graph a second time" in str(e)
        return True
    return False


def test_every_non_saving_op_is_checked():
    assert set(NON_SAVING_CALLS) | NOT_DIFFERENTIABLE == api.NON_SAVING_OPS
    assert not set(SAVING_CALLS) & api.NON_SAVING_OPS


@pytest.mark.parametrize("name", sorted(NON_SAVING_CALLS))
def test_non_saving_ops_save_nothing(name):
    assert not _saves(NON_SAVING_CALLS[name]), f"{name} saves a tensor: take it out of NON_SAVING_OPS"


@pytest.mark.parametrize("name", sorted(SAVING_CALLS))
def test_saving_ops_save(name):
    assert _saves(SAVING_CALLS[name]), f"{name} saves nothing: add it to NON_SAVING_OPS"


@pytest.mark.parametrize("symbol", ["+", "-", "*", "/", "**", "@"])
@pytest.mark.parametrize("operands", ["tensor, number", "number, tensor", "tensor, tensor"])
def test_operators_save_as_the_table_says(symbol, operands):
    import torch

    if symbol == "@" and "number" in operands:
        pytest.skip("@ takes no Python number")
    other = {"@": torch.ones(3, 2)}.get(symbol, torch.full((2, 3), 1.5))
    left, right = operands.split(", ")

    def build(a):  # `a` is the operand that requires grad; `other` one that does not
        x = 2 if left == "number" else a
        y = 2 if right == "number" else (other if left == "tensor" else a)
        return eval(f"x {symbol} y", {"x": x, "y": y})

    assert _saves(build) == (symbol in api.SAVING_OPERATORS)


def test_the_article_case_raises_in_pytorch_and_is_reported():
    """`b = a * 2; c = b + 3; c.backward(); c.backward()`: PyTorch raises, gradlint says so."""
    import torch

    from gradlint.linter import lint_source

    a = torch.tensor([1.1], requires_grad=True)
    c = a * 2 + 3
    c.backward()
    with pytest.raises(RuntimeError, match="second time"):
        c.backward()
    src = ("import torch\na = torch.tensor([1.1], requires_grad=True)\nb = a * 2\nc = b + 3\n"
           "c.backward()\nc.backward()\n")
    assert [(d.line, d.code) for d in lint_source(src, "article.py")] == [(6, "GL003")]


# GL018's table of what an operation saves, read off PyTorch's grad_fn: `_saved_result`
# for the ones that save their result; `_saved_self` (their input) for the others
SAVED_WHAT = {
    "relu": lambda a: a.relu(), "sigmoid": lambda a: a.sigmoid(), "tanh": lambda a: a.tanh(),
    "exp": lambda a: a.exp(), "softmax": lambda a: a.softmax(-1),
    "log_softmax": lambda a: a.log_softmax(-1), "sqrt": lambda a: a.sqrt(),
    "log": lambda a: a.log(), "sin": lambda a: a.sin(), "cos": lambda a: a.cos(),
    "pow": lambda a: a.pow(2), "abs": lambda a: a.abs(), "square": lambda a: a.square(),
    "clamp": lambda a: a.clamp(0.2, 0.8), "log1p": lambda a: a.log1p(),
}


def test_every_entry_of_the_saved_what_table_is_checked():
    assert set(SAVED_WHAT) == api.SAVES_RESULT | api.SAVES_INPUT
    assert not api.SAVES_RESULT & api.SAVES_INPUT


@pytest.mark.parametrize("name", sorted(SAVED_WHAT))
def test_saved_what_matches_pytorch(name):
    import torch

    base = torch.rand(2, 3, requires_grad=True)
    a = base * 1.0  # a non-leaf, as in training code
    y = SAVED_WHAT[name](a)
    saved = {attr for attr in dir(y.grad_fn) if attr.startswith("_saved_")}
    if name in api.SAVES_RESULT:
        assert getattr(y.grad_fn, "_saved_result", None) is not None, saved
        # changing the result in place makes its backward raise; changing the input does not
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    else:
        assert getattr(y.grad_fn, "_saved_self", None) is a, saved
        a.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@pytest.mark.parametrize("symbol", ["*", "/", "**", "@"])
def test_operators_save_the_operands_gl018_says(symbol):
    """Changing in place each operand the table says is saved makes the backward raise;
    changing one it says is not saved does not."""
    import libcst as cst
    import torch

    from gradlint.analysis.exprs import _saved_operands
    from gradlint.analysis.values import Tensor

    kind = {"*": cst.Multiply, "/": cst.Divide, "**": cst.Power, "@": cst.MatrixMultiply}[symbol]
    for left_grad, right_grad in ((True, False), (False, True), (True, True)):
        for changed in ("left", "right"):
            w = torch.rand(3, 3, requires_grad=True)
            left = (w * 1.0) if left_grad else torch.rand(3, 3) + 0.5
            right = (w * 2.0) if right_grad else torch.rand(3, 3) + 0.5
            if symbol == "**":
                right = torch.tensor(2.0, requires_grad=right_grad)
            y = eval(f"l {symbol} r", {"l": left, "r": right})

            values = {"left": Tensor(ident=1, requires_grad=left_grad, leaf=False),
                      "right": Tensor(ident=2, requires_grad=right_grad, leaf=False)}
            claimed = {v.ident for v in _saved_operands(kind, values["left"], values["right"])}
            target = left if changed == "left" else right
            with torch.no_grad():
                target.add_(0.5)
            raised = False
            try:
                y.sum().backward()
            except RuntimeError as err:
                assert "modified by an inplace operation" in str(err)
                raised = True
            said = values[changed].ident in claimed
            if said:
                assert raised, (symbol, left_grad, right_grad, changed)


def test_inplace_argument_positions_match_pytorch():
    import inspect

    import torch.nn as nn
    import torch.nn.functional as F

    for cls, (function, index) in api.INPLACE_MODULE.items():
        names = [p for p in inspect.signature(getattr(nn, cls).__init__).parameters if p != "self"]
        assert names.index("inplace") == index, cls
        assert function in api.INPLACE_FUNCTION_ARG, cls
    for function, index in api.INPLACE_FUNCTION_ARG.items():
        assert list(inspect.signature(getattr(F, function)).parameters).index("inplace") == index


def _inplace_calls():
    import torch
    import torch.nn.functional as F

    calls = {name: (lambda a, name=name: getattr(F, name)(a, inplace=True))
             for name in api.INPLACE_FUNCTION_ARG}
    for name in ("relu_", "selu_", "leaky_relu_", "elu_", "celu_"):
        calls[name] = lambda a, name=name: getattr(F, name)(a)
    for name in ("sigmoid_", "tanh_", "exp_"):
        calls[name] = lambda a, name=name: getattr(torch, name)(a)
    return calls


@pytest.mark.parametrize("name", sorted(set(api.INPLACE_FUNCTION_ARG) | api.INPLACE_SAVES_RESULT))
def test_inplace_activations_save_their_result_as_the_table_says(name):
    """An in-place activation whose output, changed again, makes the backward raise is in
    INPLACE_SAVES_RESULT; one whose output may change is not."""
    import torch

    a = torch.randn(3, 4, requires_grad=True) * 1.0
    y = _inplace_calls()[name](a)
    assert y is a  # it did change its input
    y.add_(1)
    try:
        y.sum().backward()
        raised = False
    except RuntimeError as exc:
        assert "modified by an inplace operation" in str(exc)
        raised = True
    assert raised == (name in api.INPLACE_SAVES_RESULT)


@pytest.mark.parametrize("cls", sorted(api.RESULT_SAVING_MODULES))
def test_result_saving_modules_save_their_result(cls):
    import torch
    import torch.nn as nn

    module = getattr(nn, cls)(dim=-1) if "Softmax" in cls else getattr(nn, cls)()
    y = module(torch.randn(3, 4, requires_grad=True) * 1.0)
    assert api.RESULT_SAVING_MODULES[cls] in api.SAVES_RESULT
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
