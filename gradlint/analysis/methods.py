"""Method calls: on tensors, modules, optimizers, and `.append` / `.zero_()` idioms on
anything (a mixin of the interpreter)."""

from __future__ import annotations

import re
from typing import Optional

import libcst as cst

from gradlint.analysis import dtypes, shapes, torchapi as api
from gradlint.analysis.shapes import with_count
from gradlint.analysis.exprs import (NONTENSOR, dotted, grad_owner, is_grad_expr, kwarg,
                                     literal_bool, positional)
from gradlint.analysis.values import (
    GradContext, Instance, NNModule, Optimizer, Params, Scaler, Scheduler, Seq, Severed, State, Tensor,
    UNKNOWN, Unknown, Value, evolve,
)
from gradlint.analysis.steps import is_scaler_name, is_scheduler_name


_OPT_NAME = re.compile(r"^(opt|opt_.*|.*_opt|opt[A-Z0-9].*|.*optim.*|.*Optim.*)$")


def optimizer_like_name(text: Optional[str]) -> bool:
    if not text:
        return False
    last = text.rsplit(".", 1)[-1]
    return bool(_OPT_NAME.match(last)) and "scheduler" not in last.lower()


def keeps_graph(call: cst.Call, retain_pos: int) -> Optional[bool]:
    """Does this backward keep the graph? True / False / None (cannot tell)."""
    arg = kwarg(call, "retain_graph")
    if arg is None:
        pos = positional(call)
        if len(pos) > retain_pos:
            arg = pos[retain_pos]
    if arg is not None:
        value = literal_bool(arg.value)
        if value is None and isinstance(arg.value, cst.Name) and arg.value.value == "None":
            arg = None
        else:
            return value
    create = kwarg(call, "create_graph")
    if create is not None:
        value = literal_bool(create.value)
        return None if value is None else value
    return False


class MethodEvaluator:
    def call_method(self, node, func, method, receiver: Value, args, pos, st: State) -> Value:
        rtext = dotted(func.value)
        if method == "append" and len(node.args) == 1 and pos and rtext is not None and (
                isinstance(func.value, cst.Name) or rtext.count(".") == 1 and rtext[:5] == "self."):
            self.on_accumulate(node, rtext, pos[0], node.args[0].value, st)
        if isinstance(receiver, Seq) and rtext is not None:
            # a list literal changed in place: its items are no longer known
            self.escape(receiver, st)
            st.bind(rtext, UNKNOWN)
            return UNKNOWN
        if method in ("zero_", "detach_") and is_grad_expr(func.value):
            owner = st.env.get(dotted(grad_owner(func.value)) or "")
            self.on_clear(node, cleared=owner.sources if isinstance(owner, Tensor)
                          and owner.sources and not owner.open else None)
            return NONTENSOR
        if method in ("clamp_", "clip_", "norm") and is_grad_expr(func.value):
            # `p.grad.data.clamp_(-1, 1)`: clipping by hand; `p.grad.norm()`: measuring
            self.on_scaled_grad_use(node, "read" if method == "norm" else "clip", st)
        if isinstance(receiver, Tensor):
            return self.tensor_method(node, func, method, receiver, pos, st)
        if isinstance(receiver, NNModule):
            if receiver.cls is not None:
                forward = method in ("forward", "__call__")
                value = self.instance_call(node, receiver, "forward" if forward else method,
                                           rtext, args, st)
                if value is not None and (not forward or isinstance(value, (Tensor, Seq))):
                    return value
            return self.module_method(node, method, receiver, pos, st)
        if type(receiver) is Instance:  # `trainer.train_step(batch)`: the class's method
            value = self.instance_call(node, receiver, method, rtext, args, st)
            return value if value is not None else self.unknown_call(node, args, st)
        if isinstance(receiver, Optimizer):
            return self.optimizer_method(node, method, receiver, pos, args, st, rtext)
        if isinstance(receiver, Scheduler):
            if method == "step":
                self.on_scheduler_step(node, receiver, st)
            return NONTENSOR
        if isinstance(receiver, Scaler) or (isinstance(receiver, Unknown) and is_scaler_name(rtext)):
            return self.scaler_method(node, method, pos, st)
        if isinstance(receiver, GradContext) and method in ("__enter__",):
            return UNKNOWN
        if isinstance(receiver, Params):
            return UNKNOWN
        # an object we do not know: recognise the training-loop idioms by shape
        last = (rtext or "").rsplit(".", 1)[-1].lower()
        if method == "backward":
            wrapper = any(w in last for w in api.BACKWARD_WRAPPERS)
            if wrapper and pos:
                self.on_backward(node, pos[0], keeps_graph(node, 99), st)
            else:
                self.on_backward(node, receiver, keeps_graph(node, 1), st)
            return NONTENSOR
        if method in api.MANUAL_BACKWARD:
            self.on_backward(node, pos[0] if pos else UNKNOWN, keeps_graph(node, 99), st)
            return NONTENSOR
        if method == "zero_grad":
            self.on_clear(node)
            return NONTENSOR
        if method == "step":
            if optimizer_like_name(rtext):
                self.on_step(node, rtext, None, pos, st)
                return NONTENSOR
            if not node.args and is_scheduler_name(rtext):
                self.on_scheduler_step(node, Scheduler(), st)
                return NONTENSOR
            return self.unknown_call(node, args, st)
        return self.unknown_call(node, args, st, receiver_text=rtext)

    def scaler_method(self, node, method, pos, st: State) -> Value:
        """A `GradScaler`'s methods (or those of an object named like one)."""
        if method == "scale" and pos:
            return pos[0]
        if method in ("update", "unscale_"):
            self.on_unscale(st)
            return NONTENSOR
        if method == "step" and pos:
            opt_value = pos[0]
            opt_text = dotted(positional(node)[0].value)
            if isinstance(opt_value, Optimizer) or optimizer_like_name(opt_text):
                self.on_step(node, opt_text or self.code(positional(node)[0].value),
                             opt_value if isinstance(opt_value, Optimizer) else None, [], st,
                             scaler_step=True)
                return NONTENSOR
        return UNKNOWN

    def tensor_method(self, node, func, method, t: Tensor, pos, st: State) -> Value:
        if method == "backward":
            if not node.args:
                self.on_implicit_grad(node, func.value, t)
            self.on_backward(node, t, keeps_graph(node, 1), st)
            return NONTENSOR
        if method == "register_post_accumulate_grad_hook" and self.recorder is not None:
            self.recorder.hooked.add(t.ident)
        if method == "retain_grad":
            st.replace_everywhere(t, evolve(t, retains_grad=True))
            if self.recorder is not None:
                self.recorder.retained.add(t.ident)  # its earlier statements' too
            return NONTENSOR
        if method == "requires_grad_":
            flag = literal_bool(node.args[0].value) if node.args else True
            self.on_requires_grad_change(node, func.value, t, st, flag)
            # `for p in m.parameters(): p.requires_grad_(False)`: `m` is (partly) frozen
            self.set_module_trainable(t.ident, None, st)
            if t.leaf is True and flag is not None:
                new = evolve(t, requires_grad=flag,
                              sources=frozenset([t.ident]) if flag else frozenset())
                st.replace_everywhere(t, new)
                return new
            return UNKNOWN
        if method in api.DETACHING:
            new = Tensor(ident=id(node), requires_grad=False, leaf=True, origin=self.stmt_id,
                         is_int=t.is_int, severed=self.sever(t, node, method))
            if method == "detach_":
                st.replace_everywhere(t, new)
            return new
        if method in api.NON_TENSOR_METHODS:
            self.on_tensor_method(node, method, t, st)
            if method in ("item", "tolist", "numpy"):
                cut = self.sever(t, node, method)
                if cut:
                    return Severed(value=NONTENSOR.value, severed=cut)
            return NONTENSOR
        if method in api.INDEX_RESULT_METHODS:
            self.note_site(id(node))
            return Tensor(ident=id(node), requires_grad=False, leaf=True, origin=self.stmt_id,
                          is_int=True, severed=self.sever(t, node, method))
        if method in api.INT_CASTS:
            return Tensor(ident=id(node), requires_grad=False, leaf=True, origin=self.stmt_id,
                          is_int=True, severed=t.severed)
        if method in api.MAYBE_SELF:
            target = dtypes.cast_target(self, node, method, pos)
            if target is not None and t.dtype is not None and t.is_int is False:
                if target == t.dtype:
                    return t  # PyTorch returns the tensor itself
                # a copy in the other dtype: a non-leaf of t when t requires grad
                return evolve(self.op_result([t], saves=False, site=id(node), st=st),
                              dtype=target, numel=t.numel)
            leaf = True if t.leaf is True and t.requires_grad is False else None
            return evolve(t, leaf=leaf)
        if method.endswith("_") and not method.endswith("__"):
            if (isinstance(func.value, cst.Attribute) and func.value.attr.value == "data"
                    and t.ident == id(func.value)):
                self.on_data_write(func.value, method)
            self.on_inplace(node, method, t, st)
            if method in ("zero_", "fill_", "normal_", "uniform_", "random_", "bernoulli_"):
                return t
            return self.output_in_place(node, self.written_into(t, pos, st), method, st)
        result = self.op_result([t] + list(pos), saves=method not in api.NON_SAVING_OPS,
                                site=id(node), st=st)
        if t.dead_terms and method in ("sum", "mean") and type(result) is Tensor:
            result = evolve(result, dead_terms=t.dead_terms)  # a sum of the terms still
        if method in api.SAVES_RESULT or method in api.SAVES_INPUT:
            self.note_saved_by(node, method, t, result)
        return with_count(result, shapes.op_count(method, node, [t] + list(pos), method=True))

    def module_method(self, node, method, m: NNModule, pos, st: State) -> Value:
        root = m.root or m.ident
        if method in ("parameters", "named_parameters"):
            # a sub-module of an instance of the file's own class: just its parameters
            own = m.ident if m.ident in self.sub_roots else root
            return Params(root=own, trainable=m.trainable, named=method == "named_parameters")
        if method == "zero_grad":
            self.on_clear(node, cleared={m.ident if m.ident in self.sub_roots else root})
            self.on_full_clear(node, root, st)
            return NONTENSOR
        if method == "requires_grad_":
            self.set_module_trainable(root, None, st)
            return m
        if method in ("train", "eval"):
            flag = literal_bool(node.args[0].value) if node.args else True
            evaluating = method == "eval" or flag is False
            if evaluating and (method == "eval" or flag is not None):
                st.eval_modules = st.eval_modules | {m.ident}
            else:
                st.eval_modules = st.eval_modules - {m.ident, root}
            return m
        if method in ("to", "cuda", "cpu", "float", "double", "half",
                      "bfloat16", "share_memory", "type"):
            return m
        if method == "forward" or method == "__call__":
            self.on_module_forward(node, m, st)
            return self.module_call(m, pos, node, st)
        if method in ("state_dict", "load_state_dict", "named_modules", "modules", "children",
                      "named_children", "buffers", "named_buffers", "register_buffer",
                      "add_module", "apply", "register_forward_hook"):
            return UNKNOWN
        self.escape(m, st)
        return UNKNOWN

    def optimizer_method(self, node, method, opt: Optimizer, pos, args, st, rtext) -> Value:
        if method == "step":
            self.on_step(node, rtext or "optimizer", opt, pos, st)
            return UNKNOWN
        if method == "zero_grad":
            cleared = opt.coverage or None
            handed = {lp for gp, lp in st.grad_alias if gp is None}
            handed |= {part for lp in handed for part in self.parts_of(lp)}
            if cleared is None and handed:
                # an optimizer over parameters we do not know, whose gradients were handed
                # over from a module we do know: its zero_grad drops the references, and
                # clears anything else, but not that module's own gradients
                cleared = (st.pending_may | st.dirty_may) - handed
            self.on_clear(node, cleared=cleared)
            self.on_full_clear(node, opt.ident, st)
            return NONTENSOR
        if method == "add_param_group":
            st.replace_everywhere(opt, evolve(opt, coverage=opt.coverage | self.coverage(node, st)))
        return UNKNOWN

    def written_into(self, t: Tensor, values, st: State) -> Tensor:
        """`t` changed in place with `values` (`t.add_(v)`, `t[i] = v`): it requires grad
        once a value that does is written with grad mode on; a value that may hide one
        leaves a tensor that did not require grad unknown."""
        rg = t.requires_grad
        tensors = [v for v in values if isinstance(v, Tensor)]
        if st.grad_mode is True and any(v.requires_grad is True for v in tensors):
            rg = True
        elif rg is False and st.grad_mode is not False and any(
                isinstance(v, Unknown) or (isinstance(v, Tensor) and v.requires_grad is None)
                for v in values):
            rg = None
        if rg == t.requires_grad:
            return t
        new = evolve(t, requires_grad=rg, leaf=False if rg else None,
                     graph=t.graph.union(*(v.graph for v in tensors)),
                     sources=t.sources.union(*(v.sources for v in tensors)))
        st.replace_everywhere(t, new)
        return new

    def set_module_trainable(self, root: int, value, st: State) -> None:
        # the callers' names too: `set_requires_grad(netD, False)` freezes the caller's netD
        for env in [st.env, *self.caller_envs]:
            for key, v in list(env.items()):
                if isinstance(v, NNModule) and ((v.root or v.ident) == root or v.ident == root):
                    env[key] = evolve(v, trainable=value)

    # -- unknown code -----------------------------------------------------------------
