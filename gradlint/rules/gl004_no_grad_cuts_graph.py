"""GL004: a value computed with grad mode off feeds a backward that expects a gradient."""

from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs


def check(ctx):
    # a cut whose backward raises is reported for that alone: nothing else runs after it
    crashing = {hit.cut_site for hit in ctx.obs.cut_hits.values() if hit.kind == "no-grad-backward"}
    for hit in ctx.obs.cut_hits.values():
        if hit.cut_site in crashing and hit.kind != "no-grad-backward":
            continue
        var = hit.cut_var or "this value"
        named = var if var.startswith("the ") else f"`{var}`"
        bw_line = ctx.line(hit.backward) if hit.backward in ctx.interp.nodes else None
        at = f" at line {bw_line}" if bw_line else ""
        if hit.kind == "no-grad-backward":
            message = (f"{named} is computed with gradient tracking off, so the backward{at} "
                       f"has no graph to run through")
            help = (f"Under torch.no_grad / inference_mode nothing requires grad, and PyTorch "
                    f"raises \"RuntimeError: element 0 of tensors does not require grad and does "
                    f"not have a grad_fn\". Compute {named} outside the no_grad block.")
        elif hit.kind == "grad-read":
            message = (f"{named} is computed with gradient tracking off, so `{hit.subject}.grad` "
                       f"stays None after the backward{at}")
            help = (f"torch.no_grad / inference_mode cuts the graph: the backward cannot reach "
                    f"`{hit.subject}` through {named}. Compute {named} outside the no_grad block "
                    f"if `{hit.subject}` should get a gradient.")
        else:
            message = (f"{named} is computed with gradient tracking off, so the backward{at} "
                       f"never trains `{hit.subject}`")
            help = (f"torch.no_grad / inference_mode cuts the graph: no gradient reaches the "
                    f"parameters of `{hit.subject}` that the optimizer is meant to train, and they "
                    f"never change. Compute {named} with gradients enabled, or leave "
                    f"`{hit.subject}` out of the optimizer if it is frozen on purpose.")
        related = []
        if hit.backward is not None:
            related.append((hit.backward, "the backward that gets no gradient through it"))
        related.extend(hit.related)
        yield ctx.diagnostic(RULE, hit.cut_site, message, related, make_fix(ctx, hit), help=help)


RULE = Rule(
    code="GL004",
    name="no-grad-cuts-graph",
    summary="A value computed under torch.no_grad() feeds a backward that needs its gradient.",
    check=check,
    needs=(("no_grad", "inference_mode", "set_grad_enabled"), "backward", GRAD_SOURCE,
           "torch"),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds a value computed under `torch.no_grad()`, `torch.inference_mode()` or
`torch.set_grad_enabled(False)` (a block, a decorated function or method in the same
file, a function or method called inside such a block, which is reported at that call,
or a `no_grad` block inside a module's `forward`, including modules held in an
`nn.ModuleList` / `nn.ModuleDict`) from tensors that require grad, when
a later backward needs a gradient through it:
the backward'd value does not require grad at all; or a leaf's `.grad` read after the
backward can only be reached through the cut value; or the module whose output was cut
has parameters in the optimizer stepped after that backward and no other path gives
them a gradient. Stop-gradients on purpose are not reported: DQN/TD targets from a
target network, teacher outputs in distillation, EMA updates, metrics, manual SGD
updates.
""",
        why="""
Results computed with grad mode off do not require grad: the graph is cut there.
Upstream tensors get no gradient (`.grad` stays `None`, parameters silently never
train), or backward raises "element 0 of tensors does not require grad and does not
have a grad_fn".
""",
        example="""
import torch

a = torch.tensor([1.1], requires_grad=True)
b = a * 2
with torch.no_grad():
    c = b + 2
d = torch.tensor([10.0], requires_grad=True)
e = c * d
e.backward()
print(d.grad)
print(a.grad)
""",
        fix_safety="""
Where the statement can leave the `no_grad` block without changing anything else (it
is the block's only, last, or first statement and nothing later in the block uses what
it assigns), the fix moves it out. The fix is unsafe: the value now records a graph,
costs memory, and its upstream tensors start to receive gradients, which changes
training. In other cases (including a `@torch.no_grad()` decorated function) there is
no fix: compute the value with gradients enabled by hand.
""",
        use_instead="""
import torch

a = torch.tensor([1.1], requires_grad=True)
b = a * 2
c = b + 2
d = torch.tensor([10.0], requires_grad=True)
e = c * d
e.backward()
print(d.grad)
print(a.grad)
""",
    ),
)


def make_fix(ctx, hit):
    """Move the statement out of its `with torch.no_grad():` block when nothing else in the
    block depends on it (unsafe: it now records a graph and costs memory)."""
    import libcst as cst

    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import assigned_names, dedent_lines, insert, replace, whole_lines

    parents = ctx.statement_parents()
    small = ctx.node(hit.cut_site)
    line_node = parents.get(id(small))
    if not isinstance(line_node, cst.SimpleStatementLine) or len(line_node.body) != 1:
        return _suite_fix(ctx, small, line_node, parents)
    block = parents.get(id(line_node))
    with_node = parents.get(id(block))
    if not isinstance(block, cst.IndentedBlock) or not _is_grad_with(ctx, with_node):
        return None
    src = ctx.src
    w_line, w_col = ctx.start_of(with_node)
    s_line, s_col, s_end, _ = ctx.span_of(line_node)
    if not src.starts_line(w_line, w_col):
        return None
    body = list(block.body)
    index = next(i for i, stmt in enumerate(body) if stmt is line_node)
    old, new = src.indent(s_line), src.indent(w_line)
    message = f"Move `{ctx.code(hit.cut_site)}` out of the no_grad block"
    if len(body) == 1:
        text = dedent_lines(src, w_line + 1, s_end, old, new)
        if text is None:
            return None
        return Fix("unsafe", message, (replace(src, whole_lines(w_line, s_end), text),))
    if index == len(body) - 1:
        text = dedent_lines(src, s_line, s_end, old, new)
        if text is None:
            return None
        return Fix("unsafe", message, (replace(src, whole_lines(s_line, s_end), text),))
    if index == 0:
        names = assigned_names(small)
        later = set()
        for stmt in body[1:]:
            later |= {n.value for n in _names(stmt)}
        text = dedent_lines(src, s_line, s_end, old, new)
        if text is None or names & later:
            return None
        return Fix("unsafe", message, (insert(w_line, 1, text),
                                       replace(src, whole_lines(s_line, s_end), "")))
    return None


def _suite_fix(ctx, small, suite, parents):
    """`with torch.no_grad(): c = b + 2` on one line: keep just the statement."""
    import libcst as cst

    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import replace

    if not isinstance(suite, cst.SimpleStatementSuite) or len(suite.body) != 1:
        return None
    with_node = parents.get(id(suite))
    if not _is_grad_with(ctx, with_node):
        return None
    return Fix("unsafe", f"Move `{ctx.interp.code(small)}` out of the no_grad block",
               (replace(ctx.src, ctx.span_of(with_node), ctx.interp.code(small)),))


def _is_grad_with(ctx, node) -> bool:
    import libcst as cst

    if not isinstance(node, cst.With) or len(node.items) != 1 or node.asynchronous:
        return False
    text = ctx.interp.code(node.items[0].item)
    return any(w in text for w in ("no_grad", "inference_mode", "set_grad_enabled"))


def _names(node):
    import libcst as cst

    from gradlint.analysis.walk import iter_tree

    return [n for n in iter_tree(node) if isinstance(n, cst.Name)]
