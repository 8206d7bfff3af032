"""House rules for checkpoints: an example gradlint plugin.

HR001 (with a fix) reads only the syntax tree; HR002 asks gradlint's autograd analysis
what a tensor is (`ctx.facts.tensor(node)`).
"""

from typing import Iterator, List

import libcst as cst

from gradlint.api import Fix, Rule, RuleDocs

GRADLINT_API = 1  # the version of gradlint.api these rules were written for


class _Calls(cst.CSTVisitor):
    def __init__(self, names) -> None:
        self.names, self.found = names, []

    def visit_Call(self, node: cst.Call) -> None:
        if cst.helpers.get_full_name_for_node(node.func) in self.names:
            self.found.append(node)


def calls(module: cst.Module, *names: str) -> List[cst.Call]:
    visitor = _Calls(names)
    module.visit(visitor)
    return visitor.found


def check_torch_load(ctx) -> Iterator:
    for call in calls(ctx.module, "torch.load"):
        if any(arg.keyword is not None and arg.keyword.value == "weights_only"
               for arg in call.args):
            continue
        # the keyword goes before the closing parenthesis (after a trailing comma too)
        inner = ctx.code(call)[:-1].rstrip()
        joined = inner + ("" if inner.endswith(("(", ",")) else ", ") + "weights_only=True)"
        fix = Fix("safe", "Pass `weights_only=True`", (ctx.replace(call, joined),))
        yield ctx.report(
            call, f"`{ctx.code(call)}` does not pass `weights_only=True`",
            help="Without it, older PyTorch releases unpickle any object the file holds, "
                 "which can run code. Pass weights_only=True; load full objects only from "
                 "files you made.",
            fix=fix)


def check_saved_graph(ctx) -> Iterator:
    for call in calls(ctx.module, "torch.save"):
        if not call.args:
            continue
        saved = call.args[0].value
        parts = ([e.value for e in saved.elements if isinstance(e, cst.DictElement)]
                 if isinstance(saved, cst.Dict) else [saved])
        for part in parts:
            facts = ctx.facts.tensor(part)
            if facts is None or facts.graph is not True:
                continue
            name = ctx.code(part)
            yield ctx.report(
                part, f"`{name}` is saved with its autograd history: it loads back as a "
                      f"leaf that requires grad",
                help=f"torch.save keeps requires_grad but not the graph. Save "
                     f"`{name}.detach()` unless the loaded tensor should be trained.",
                fix=Fix("unsafe", f"Save `{name}.detach()`",
                        (ctx.replace(part, f"{name}.detach()"),)))


RULES = [
    Rule(
        code="HR001", name="torch-load-weights-only", fixable=True, needs=("load",),
        summary="`torch.load` without `weights_only=True`.",
        check=check_torch_load,
        url="https://github.com/gradlint/gradlint/tree/main/examples/plugin",
        docs=RuleDocs(
            what="Finds `torch.load(...)` calls that do not pass `weights_only`.",
            why="A checkpoint loaded with `weights_only=False` is unpickled: it can run code.",
            example='state = torch.load("ckpt.pt")',
            use_instead='state = torch.load("ckpt.pt", weights_only=True)',
            fix_safety="Safe for checkpoints of tensors and state dicts.")),
    Rule(
        code="HR002", name="saved-with-graph", fixable=True, needs=("save",),
        summary="`torch.save` of a tensor that has an autograd history.",
        check=check_saved_graph,
        docs=RuleDocs(
            what="Finds `torch.save(t)` (or a dict of tensors) where `t` was computed from "
                 "tensors that require grad.",
            why="The file keeps `requires_grad=True` but not the graph: the tensor loads "
                "back as a leaf that requires grad, which later code trains by accident.",
            example="emb = encoder(x)\ntorch.save(emb, 'emb.pt')",
            use_instead="emb = encoder(x)\ntorch.save(emb.detach(), 'emb.pt')",
            fix_safety="Unsafe: it changes what the file holds (no requires_grad).")),
]
