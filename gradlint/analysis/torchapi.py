"""What the analysis knows about PyTorch's API, by qualified name.

Kept as plain tables so that a reviewer can check each entry against PyTorch.
"""

from __future__ import annotations

FACTORIES = {
    "tensor", "as_tensor", "randn", "rand", "zeros", "ones", "empty", "full", "arange",
    "linspace", "logspace", "eye", "randint", "randperm", "normal", "zeros_like",
    "ones_like", "randn_like", "rand_like", "full_like", "empty_like", "randint_like",
    "from_numpy", "Tensor", "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
    "BoolTensor", "empty_strided", "scalar_tensor", "tril_indices", "triu_indices",
}
# factories whose result is an integer tensor unless a float dtype is given
INT_FACTORIES = {"randint", "randperm", "LongTensor", "IntTensor", "BoolTensor",
                 "randint_like", "tril_indices", "triu_indices"}
INT_DTYPES = {
    "torch.long", "torch.int", "torch.int64", "torch.int32", "torch.int16", "torch.int8",
    "torch.uint8", "torch.bool", "torch.short",
}

GRAD_CONTEXTS = {
    "torch.no_grad": False,
    "torch.autograd.no_grad": False,
    "torch.autograd.grad_mode.no_grad": False,
    "torch.inference_mode": False,
    "torch.autograd.inference_mode": False,
    "torch.autograd.grad_mode.inference_mode": False,
    "torch.enable_grad": True,
    "torch.autograd.enable_grad": True,
    "torch.autograd.grad_mode.enable_grad": True,
}
SET_GRAD_ENABLED = {"torch.set_grad_enabled", "torch.autograd.set_grad_enabled",
                    "torch.autograd.grad_mode.set_grad_enabled"}

PARAM_MODULES = {
    "Linear", "Bilinear", "LazyLinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
    "ConvTranspose2d", "ConvTranspose3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
    "Embedding", "EmbeddingBag", "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "RMSNorm",
    "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
    "TransformerDecoderLayer", "MultiheadAttention", "PReLU",
}
PARAM_FREE_MODULES = {
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
    "Tanh", "Softmax", "LogSoftmax", "Softplus", "Hardtanh", "Hardswish", "Hardsigmoid", "Dropout",
    "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Flatten", "Unflatten", "Identity",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "Upsample", "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss",
    "BCELoss", "BCEWithLogitsLoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss",
    "CosineEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss", "CTCLoss",
    "PoissonNLLLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
    "MultiLabelSoftMarginLoss", "CosineSimilarity", "PairwiseDistance",
}
NON_SAVING_MODULES = {"Flatten", "Unflatten", "Identity"}
CONTAINER_MODULES = {"Sequential", "ModuleList", "ModuleDict"}

OPTIMIZERS = {
    "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "ASGD", "LBFGS", "NAdam",
    "RAdam", "RMSprop", "Rprop", "SparseAdam", "Adafactor",
}

# tensor methods / torch functions whose result is not a tensor
NON_TENSOR_METHODS = {
    "item", "tolist", "numpy", "size", "dim", "numel", "nelement", "element_size",
    "data_ptr", "stride", "storage_offset", "is_contiguous", "is_floating_point",
    "get_device", "__len__", "backward", "retain_grad", "register_hook", "equal", "allclose",
    "register_post_accumulate_grad_hook", "storage", "untyped_storage", "tobytes",
}
# tensor methods whose result is an integer / bool tensor that never requires grad
INDEX_RESULT_METHODS = {
    "argmax", "argmin", "argsort", "nonzero", "count_nonzero", "eq", "ne", "lt", "le", "gt",
    "ge", "isnan", "isinf", "isfinite", "isclose", "all", "any", "bincount", "unique",
}
NON_TENSOR_ATTRS = {"shape", "dtype", "device", "ndim", "requires_grad", "is_leaf",
                    "is_cuda", "layout", "names", "grad_fn", "itemsize", "nbytes"}
# may return the tensor itself (same device / dtype): leaf-ness unknown afterwards
MAYBE_SELF = {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "type",
              "contiguous", "type_as", "pin_memory", "requires_grad_"}
INT_CASTS = {"long", "int", "short", "bool", "byte", "char"}
# differentiable ops whose backward needs no saved tensor: a second backward through
# them alone does not raise
NON_SAVING_OPS = {
    "sum", "mean", "view", "reshape", "view_as", "reshape_as", "flatten", "squeeze",
    "unsqueeze", "permute", "transpose", "t", "T", "mT", "expand", "expand_as", "repeat",
    "clone", "narrow", "select", "split", "chunk", "unbind", "add", "sub", "neg",
    "negative", "cat", "concat", "concatenate", "stack", "hstack", "vstack", "movedim",
    "squeeze_", "unsqueeze_", "detach", "flip", "roll", "tile", "diag_embed",
}
DETACHING = {"detach", "detach_"}
# Python operators whose backward needs a saved tensor: `a * 2` saves the scalar `2` (as a
# wrapped tensor) to compute a's gradient, `a * b` saves b even when b needs no grad,
# `a ** 2` saves a; `+` and `-` save nothing. tests/test_saved_tensors.py checks every
# entry here and in NON_SAVING_OPS against PyTorch's grad_fn.
SAVING_OPERATORS = {"*", "/", "**", "@"}

TORCH_OP_NAMESPACES = ("torch.", "torch.nn.functional.", "torch.linalg.",
                       "torch.special.", "torch.fft.")
TORCH_NON_OPS = {
    "save", "load", "manual_seed", "seed", "is_tensor", "is_floating_point", "numel",
    "device", "set_grad_enabled", "no_grad", "enable_grad", "inference_mode", "allclose",
    "equal", "is_grad_enabled", "set_printoptions", "get_default_dtype", "set_default_dtype",
    "use_deterministic_algorithms", "compile", "jit", "set_num_threads", "get_num_threads",
    "is_nonzero", "argmax", "argmin", "isclose", "isnan", "isinf", "isfinite", "dtype",
    "finfo", "iinfo", "Size", "Generator", "from_file", "cdist_", "broadcast_shapes",
    "set_float32_matmul_precision",
}
TORCH_SUBMODULES = {"nn", "optim", "cuda", "utils", "autograd", "distributed", "jit",
                    "backends", "fx", "onnx", "testing", "hub", "mps", "profiler",
                    "amp", "cpu", "multiprocessing", "overrides", "export", "compiler"}

BACKWARD_METHODS = {"backward"}
# receivers whose `.backward(loss)` means "backward of the argument"
BACKWARD_WRAPPERS = {"accelerator", "fabric", "engine", "model_engine", "trainer"}
MANUAL_BACKWARD = {"manual_backward"}

HARMLESS_BUILTINS = {
    "print", "len", "range", "zip", "enumerate", "list", "tuple", "dict", "set", "float",
    "int", "str", "bool", "isinstance", "min", "max", "abs", "round", "format", "repr",
    "sorted", "reversed", "iter", "next", "hasattr", "getattr", "type", "id", "hash",
    "any", "all", "map", "filter", "open", "super",
}


def torch_short(qualname: str, namespace: str = "torch.") -> str:
    return qualname[len(namespace):] if qualname.startswith(namespace) else ""


# GL018: what an operation saves for its backward, as PyTorch's grad_fn shows it
# (`_saved_result`, `_saved_self`; checked by tests/test_saved_tensors.py): its result,
# or its input
SAVES_RESULT = frozenset(("relu", "sigmoid", "tanh", "exp", "softmax", "log_softmax", "sqrt"))
SAVES_INPUT = frozenset(("log", "sin", "cos", "pow", "abs", "square", "clamp", "log1p"))

# functions that measure a tensor: of a gradient still scaled by AMP, a wrong number
NORMS = frozenset(("torch.norm", "torch.linalg.norm", "torch.linalg.vector_norm"))

# activations that take `inplace`: as modules, the function they run and where the
# flag is among the constructor's arguments; as functions, where it is among theirs
# (checked against torch 2.13's signatures in test_saved_tensors.py). Dropout is left
# out: with training off it changes nothing.
INPLACE_MODULE = {"ReLU": ("relu", 0), "ReLU6": ("relu6", 0), "SELU": ("selu", 0),
                  "SiLU": ("silu", 0), "Mish": ("mish", 0), "Hardswish": ("hardswish", 0),
                  "Hardsigmoid": ("hardsigmoid", 0), "LeakyReLU": ("leaky_relu", 1),
                  "ELU": ("elu", 1), "CELU": ("celu", 1), "Hardtanh": ("hardtanh", 2)}
INPLACE_FUNCTION_ARG = {"relu": 1, "relu6": 1, "selu": 1, "silu": 1, "mish": 1,
                        "hardswish": 1, "hardsigmoid": 1, "leaky_relu": 2, "elu": 2, "celu": 2,
                        "hardtanh": 3}
# in-place activations whose backward needs their result (the tensor they changed):
# changing it again before the backward raises (checked in test_saved_tensors.py)
INPLACE_SAVES_RESULT = frozenset((
    "relu", "selu", "leaky_relu", "elu", "celu", "relu_", "selu_", "leaky_relu_", "elu_",
    "celu_", "sigmoid_", "tanh_", "exp_"))
# modules whose forward saves its result, as the function of SAVES_RESULT they run
RESULT_SAVING_MODULES = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
                         "Softmax": "softmax", "LogSoftmax": "log_softmax"}

# layers whose forward saves their own weights whatever the input: recurrences (the
# hidden state depends on the weights) and stacks of projections
DEEP_MODULES = frozenset((
    "RNN", "LSTM", "GRU", "MultiheadAttention", "Transformer", "TransformerEncoder",
    "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer"))


def nn_class(qualname: str) -> str:
    for prefix in ("torch.nn.modules.", "torch.nn."):
        if qualname.startswith(prefix) and not qualname.startswith("torch.nn.functional."):
            name = qualname.rsplit(".", 1)[-1]
            return name if name[:1].isupper() else ""
    return ""


def optimizer_class(qualname: str) -> str:
    if qualname.startswith("torch.optim.") and not qualname.startswith("torch.optim.lr_scheduler"):
        name = qualname.rsplit(".", 1)[-1]
        if name in OPTIMIZERS or (name[:1].isupper() and name != "Optimizer"):
            return name
    return ""


def is_scheduler(qualname: str) -> bool:
    return qualname.startswith("torch.optim.lr_scheduler.") or qualname.startswith(
        "torch.optim.swa_utils.SWALR"
    )


def is_torch_op(qualname: str) -> bool:
    for ns in TORCH_OP_NAMESPACES:
        if qualname.startswith(ns):
            rest = qualname[len(ns):]
            if "." in rest or not rest or rest in TORCH_NON_OPS or rest in TORCH_SUBMODULES:
                continue
            if rest[:1].isupper() or rest in FACTORIES:
                continue
            return True
    return False
