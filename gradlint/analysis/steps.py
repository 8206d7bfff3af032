"""The order of a training step beyond what GL001-GL005 follow: a graph kept across a
step (GL017), AMP loss scaling, clipping and schedulers (GL019-GL021), a loss cut from
its model (GL022), a step applying gradients another optimizer's loss left (GL023). A
mixin of the interpreter.

Each fact is a must-fact on the flow state (kept where every path agrees), except which
optimizers may have stepped: a scheduler's first step is early only if no path stepped
its optimizer before. A clip's parameters and a step's are compared where both are
known; where either is not, they are taken to be the same.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from gradlint.analysis import torchapi as api
from gradlint.analysis.exprs import dotted, is_grad_expr, kwarg, positional
from gradlint.analysis.walk import iter_tree
from gradlint.analysis.values import Optimizer, Params, Scaler, Scheduler, State, Tensor

CLIPS = frozenset(
    f"torch.nn.utils.{where}{name}" for where in ("", "clip_grad.")
    for name in ("clip_grad_norm_", "clip_grad_value_", "clip_grad_norm"))
SCALERS = frozenset((
    "torch.amp.GradScaler", "torch.GradScaler", "torch.cuda.amp.GradScaler",
    "torch.cpu.amp.GradScaler", "torch.amp.grad_scaler.GradScaler",
    "torch.cuda.amp.grad_scaler.GradScaler"))
_INFINITE = frozenset(("math.inf", "np.inf", "numpy.inf", "torch.inf", "inf"))


def is_scaler_name(text: Optional[str]) -> bool:
    return "scaler" in (text or "").rsplit(".", 1)[-1].lower()


def is_scheduler_name(text: Optional[str]) -> bool:
    last = (text or "").rsplit(".", 1)[-1].lower()
    return last in ("scheduler", "sched", "lr_scheduler", "lr_sched") or (
        "sched" in last and "lr" in last)


def _infinite(node) -> bool:
    """`float("inf")`, `math.inf`...: a clip that only measures the norm."""
    if isinstance(node, cst.Call) and dotted(node.func) == "float" and node.args:
        arg = node.args[0].value
        return isinstance(arg, cst.SimpleString) and arg.evaluated_value.strip().lower() in (
            "inf", "+inf", "infinity")
    return dotted(node) in _INFINITE


class StepOrderMixin:
    def make_scaler(self, node: cst.Call) -> Scaler:
        arg = kwarg(node, "enabled")
        pos = positional(node)
        if arg is None and len(pos) > 4:  # GradScaler(device, init_scale, ..., enabled)
            arg = pos[4]
        enabled = True
        if arg is not None:
            value = arg.value
            enabled = (False if isinstance(value, cst.Name) and value.value == "False"
                       else True if isinstance(value, cst.Name) and value.value == "True" else None)
        return Scaler(enabled=enabled)

    def make_scheduler(self, node: cst.Call, qualname: str, pos, st: State) -> Scheduler:
        opt = pos[0] if pos else None
        if isinstance(opt, Optimizer):
            # PyTorch counts the optimizer's steps from the scheduler's construction on
            st.stepped = st.stepped - {opt.ident}
        return Scheduler(ident=id(node), optimizer=opt.ident if isinstance(opt, Optimizer) else None,
                         plateau=qualname.endswith("ReduceLROnPlateau"))

    # -- events ----------------------------------------------------------------------------
    def order_at_backward(self, node: cst.Call, st: State) -> None:
        scaler = _scaled_by(node)
        if scaler is not None:
            value = st.env.get(dotted(scaler) or "")
            if (isinstance(value, Scaler) or is_scaler_name(dotted(scaler))) and not (
                    isinstance(value, Scaler) and value.enabled is False):
                st.scaled = (self.register(node), self.code(scaler))
        nid = self.register(node)
        st.clip_then_bw = st.clip_then_bw | {(clip, nid, roots) for clip, roots in st.clip_last}
        st.clip_last, st.step_unclipped, st.bw_unclipped = frozenset(), frozenset(), True

    def order_at_step(self, node: cst.Call, text: str, opt, st: State,
                      scaler_step: bool = False) -> None:
        nid = self.register(node)
        coverage = opt.coverage if isinstance(opt, Optimizer) else frozenset()
        if coverage:
            self.invalidate_saved(nid, coverage, st)
        self.note_order(nid)
        self.reach_at_step(nid, coverage, st)
        if isinstance(opt, Optimizer):
            st.stepped = st.stepped | {opt.ident}
        else:
            st.stepped_any = True
        for waiting in st.sched_waiting:
            if waiting[1] is None or not isinstance(opt, Optimizer) or waiting[1] == opt.ident:
                self.obs.scheduler_before_step.setdefault(waiting[0], (waiting[0], nid))
        st.sched_waiting = frozenset()
        for clip, backward, roots in sorted(st.clip_then_bw, key=lambda c: self.order_of(c[0])):
            if self._same_params(roots, coverage):
                self.obs.clip_outside.setdefault(clip, ("before-backward", clip, backward, nid))
        if st.bw_unclipped and not st.clip_then_bw:
            st.step_unclipped = st.step_unclipped | {(nid, coverage)}
        st.clip_last = st.clip_then_bw = frozenset()
        if scaler_step and st.scaled is not None:
            self.obs.scaler_steps.setdefault(st.scaled[0], {}).setdefault(text, nid)
            st.scaled = None

    def invalidate_saved(self, step: int, coverage, st: State) -> None:
        """The step changes its parameters in place: every graph still held (not freed by
        a backward) that saved one of them can no longer be backwarded (GL017)."""
        saves = self.site_saves
        self.mark_modified(st, step, "step", lambda site: any(
            self.overlaps(r, coverage) for r in saves.get(site, ())))

    def on_inplace_saved(self, node, tensor: Tensor, st: State) -> None:
        """`t.add_(...)`, `t += ...`, `t[i] = ...`: graphs that saved `t` can no longer be
        backwarded (GL018)."""
        saved = self.site_saved_values
        ident = tensor.ident
        self.mark_modified(st, self.register(node), "inplace",
                           lambda site: ident in saved.get(site, ()))

    def mark_modified(self, st: State, event: int, kind: str, saved_here) -> None:
        for env in (st.env, *self.caller_envs):
            for value in env.values():
                if type(value) is not Tensor or not value.graph:
                    continue
                for n in value.graph:
                    if n not in st.freed and n not in st.modified and saved_here(n[0]):
                        st.modified[n] = (event, n[0], kind)

    def live_saver(self, tensor: Tensor, st: State):
        """An operation of a graph still waiting for backward (held, not freed) that saved
        `tensor` (as a value, or as a module's weight), or None."""
        ident = tensor.ident
        for env in (st.env, *self.caller_envs):
            for value in env.values():
                if type(value) is not Tensor or not value.graph:
                    continue
                for n in value.graph:
                    if n not in st.freed and (ident in self.site_saved_values.get(n[0], ())
                                              or ident in self.site_saves.get(n[0], ())):
                        return n[0]
        return None

    def note_saved(self, site: int, values, node=None) -> None:
        """The operation at `site` (`node`) saved these tensors for its backward (GL018)."""
        idents = frozenset(v.ident for v in values if isinstance(v, Tensor))
        if idents:
            if node is not None:
                self.register(node)
            self.site_saved_values[site] = self.site_saved_values.get(site, frozenset()) | idents

    def note_saved_by(self, node, name: str, first, result) -> None:
        """`x.sigmoid()` saves its result, `x.log()` its input (the table in torchapi)."""
        if isinstance(result, Tensor) and result.requires_grad is True:
            self.note_saved(id(node), [result] if name in api.SAVES_RESULT else [first], node)

    def check_invalidated(self, node: cst.Call, target: Tensor, st: State) -> None:
        """A backward through a graph whose saved tensors were changed in place since."""
        hits = sorted((st.modified[n] for n in target.graph
                       if n in st.modified and n not in st.freed),
                      key=lambda hit: self.order_of(hit[0]))
        if hits:
            nid = self.register(node)
            event, site, kind = hits[0]
            found = self.obs.step_invalidates if kind == "step" else self.obs.inplace_on_saved
            found.setdefault(nid, (nid, event, site))

    # -- GL023: a step that applies gradients another optimizer's loss left ---------------
    def reach_at_backward(self, node: cst.Call, target: Tensor, st: State) -> None:
        if target.requires_grad is not True or not target.sources:
            return  # (unknown values in it may reach more: the known sources are reached)
        nid = self.register(node)
        self.note_order(nid)
        sources = target.sources
        st.bw_reach = st.bw_reach | {(nid, s) for s in sources}
        if st.foreign:
            # a later loss through both the stepped module and the other one (a GAN's
            # generator loss goes through the discriminator again)
            st.foreign = frozenset(
                (s, bw, step, cov, later or (s in sources and any(
                    self.overlaps(x, cov) for x in sources)))
                for s, bw, step, cov, later in st.foreign)

    def reach_at_step(self, nid: int, coverage, st: State) -> None:
        if not coverage:
            st.bw_reach = frozenset()
            return
        left = set()
        # (in a fixed order, the module itself before its sub-modules: sets of node ids
        # iterate in no fixed order, and the first entry names the finding)
        for s, bw, step, cov, later in sorted(st.foreign, key=lambda f: (
                f[0] in self.sub_roots, self.order_of(f[1]))):
            if self.overlaps(s, coverage):
                if later:
                    name = self.source_name(s, st)
                    self.obs.fake_not_detached.setdefault(bw, (bw, step, nid, name))
            else:
                left.add((s, bw, step, cov, later))
        reached = {(bw, s) for bw, s in st.bw_reach if s not in coverage}
        for bw, s in sorted(reached, key=lambda r: self.order_of(r[0])):
            if not self.overlaps(s, coverage) and (s in self.module_roots or s in self.sub_roots):
                left.add((s, bw, nid, coverage, False))
        st.foreign = frozenset(left)
        st.bw_reach = frozenset()

    def reach_at_clear(self, st: State, cleared) -> None:
        if st.foreign:
            st.foreign = frozenset() if cleared is None else frozenset(
                f for f in st.foreign if not self.overlaps(f[0], cleared))

    def check_severed(self, node: cst.Call, target: Tensor, st: State) -> None:
        """A backward of a loss that lost its graph to `.detach()`, `.item()`...: with
        no graph left PyTorch raises; made into a new leaf, it trains nothing (GL022)."""
        if target.dead_terms and target.requires_grad is True and not target.cuts:
            nid = self.register(node)
            self.obs.loss_without_graph.setdefault(nid, (nid, "term", target.dead_terms))
            return
        if not target.severed or target.cuts:
            return  # (a cut by no_grad is GL004's)
        if target.requires_grad is False:
            kind = "crash"
        elif (target.requires_grad is True and target.sources and not target.open
              and target.sources <= self.severed_leaves and not self.trained(target.sources, st)):
            kind = "leaf"  # it requires grad only through new leaves made from cut values
        else:
            return
        nid = self.register(node)
        self.obs.loss_without_graph.setdefault(nid, (nid, kind, target.severed))

    def trained(self, leaves, st: State) -> bool:
        """Is one of these leaves trained itself: held by an optimizer, or handed to code
        we do not follow (a copy of weights optimized on its own is not a cut loss)?"""
        if leaves & st.escaped:
            return True
        return any(isinstance(v, Optimizer) and leaves & v.coverage
                   for env in (st.env, *self.caller_envs) for v in env.values())

    def order_at_clear(self, st: State) -> None:
        st.scaled = None
        st.clip_last = st.clip_then_bw = st.step_unclipped = frozenset()
        st.bw_unclipped = False

    def on_clip(self, node: cst.Call, pos, st: State) -> None:
        nid = self.register(node)
        params = pos[0] if pos else None
        roots = params.roots if isinstance(params, Params) else None
        limit = kwarg(node, "max_norm") or kwarg(node, "clip_value")
        if limit is None and len(node.args) > 1 and node.args[1].keyword is None:
            limit = node.args[1]
        measuring = limit is not None and _infinite(limit.value)
        if st.scaled is not None:
            self.obs.clip_scaled.setdefault(nid, (nid, st.scaled[0], st.scaled[1], "clip"))
        if measuring:
            return
        for step, coverage in sorted(st.step_unclipped, key=lambda s: self.order_of(s[0]),
                                     reverse=True):
            if self._same_params(roots, coverage):  # the latest step of those parameters
                self.obs.clip_outside.setdefault(nid, ("after-step", nid, None, step))
                break
        st.clip_last = st.clip_last | {(nid, roots)}
        self.note_order(nid)
        st.clip_then_bw = frozenset(c for c in st.clip_then_bw if not self._same_params(roots, c[2]))
        st.bw_unclipped = False

    def on_scaled_grad_use(self, node: cst.Call, kind: str, st: State) -> None:
        """`p.grad.clamp_(-c, c)` (a clip by value written by hand: "clip"), `p.grad.norm()`
        (a norm of gradients: "read"), while a GradScaler may hold them scaled (GL019)."""
        if st.scaled is not None:
            nid = self.register(node)
            self.obs.clip_scaled.setdefault(nid, (nid, st.scaled[0], st.scaled[1], kind))

    def scaled_grads_in(self, node: cst.CSTNode, st: State) -> None:
        """`[p.grad.norm() for p in params]`: a comprehension, which the analysis does not
        follow, runs here; its `.grad` norms and clamps see the gradients as they are now."""
        for sub in iter_tree(node):
            if (type(sub) is cst.Call and type(sub.func) is cst.Attribute
                    and sub.func.attr.value in ("norm", "clamp_", "clip_")
                    and is_grad_expr(sub.func.value)):
                self.on_scaled_grad_use(sub, "read" if sub.func.attr.value == "norm" else "clip",
                                        st)

    def on_unscale(self, st: State) -> None:
        """`scaler.unscale_(opt)` / `scaler.update()`: no scaled gradient left."""
        st.scaled = None

    def on_scheduler_step(self, node: cst.Call, sched: Scheduler, st: State) -> None:
        # (only the first call of a scheduler is checked by PyTorch: the first pass of the
        # loop is its first iteration, and later passes see the optimizer stepped)
        if sched.plateau or not self.loop_stack or self.cond_depth:
            return
        opt = sched.optimizer
        if st.stepped_any or (st.stepped if opt is None else opt in st.stepped):
            return
        st.sched_waiting = st.sched_waiting | {(self.register(node), opt)}

    def note_order(self, nid: int) -> None:
        """Remember where a clip, step, backward or hand-over was first seen."""
        self.event_order.setdefault(nid, len(self.event_order))

    def order_of(self, nid: int) -> int:
        """Where a clip or step was first seen: sets of node ids iterate in no fixed order."""
        return self.event_order.get(nid, 0)

    def maybe_stepped(self, st: State) -> None:
        """Code we do not follow got an optimizer: it may have stepped it."""
        st.stepped_any = True

    def _same_params(self, roots, coverage) -> bool:
        """May the clipped parameters be those of the step? Unknown on either side: yes."""
        if not roots or not coverage:
            return True
        return any(self.overlaps(r, coverage) for r in roots)


def _scaled_by(node: cst.Call):
    """The scaler of `scaler.scale(loss).backward()`, else None."""
    func = node.func
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call)):
        return None
    inner = func.value.func
    if isinstance(inner, cst.Attribute) and inner.attr.value == "scale" and func.value.args:
        return inner.value
    return None


__all__ = ["CLIPS", "SCALERS", "StepOrderMixin", "is_scaler_name", "is_scheduler_name"]
