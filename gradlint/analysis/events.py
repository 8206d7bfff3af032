"""What the walk reports: training-loop events, backward passes, grad reads, and the
hooks the rules' observations come from. A mixin of the interpreter."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from gradlint.analysis import torchapi as api
from gradlint.analysis.exprs import dotted, plain_number
from gradlint.analysis.instances import instance_ident
from gradlint.analysis.walk import iter_children
from gradlint.analysis.observations import CutHit, DoubleBackward, NonLeafGradRead
from gradlint.analysis.values import (
    Const, Function, GradContext, NNModule, Optimizer, Params, Seq, State, Tensor,
)


def _backward_subject(interp, node: cst.Call) -> str:
    func = node.func
    if isinstance(func, cst.Attribute) and func.attr.value == "backward":
        inner = func.value
        if isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.args:
            if inner.func.attr.value == "scale":
                return interp.code(inner.args[0].value)
        if not (isinstance(inner, cst.Name) and inner.value in ("accelerator", "fabric")):
            if node.args and dotted(inner) and any(
                    w in (dotted(inner) or "").lower() for w in api.BACKWARD_WRAPPERS):
                return interp.code(node.args[0].value)
            return interp.code(inner)
    if node.args:
        return interp.code(node.args[0].value)
    return "the loss"


class EventMixin:
    # -- events ---------------------------------------------------------------------------
    def record(self, kind: str, node: cst.CSTNode, text: str = "", opt=None) -> None:
        nid = self.register(node)
        for events, calls in self.loop_stack:
            if kind == "step" and isinstance(opt, Optimizer) and self.fresh_in_loop(opt, events.loop):
                continue
            # an event inside a called function is attributed to the call made in the loop
            site = nid if calls >= len(self.call_chain) else self.register(self.call_chain[calls])
            if kind == "backward":
                events.backwards.setdefault(site, nid)
            elif kind == "step":
                events.steps.setdefault(site, (text, nid))
            elif kind == "clear":
                events.clears.add(site)
            elif kind == "maybe_clear":
                events.maybe_clears.add(site)

    def fresh_in_loop(self, opt: Optimizer, loop: int) -> bool:
        """The optimizer and every parameter it is known to hold are made in the loop body:
        each iteration steps new tensors, so nothing can accumulate across iterations."""
        inside = self.site_loops
        return loop in inside.get(opt.origin, ()) and all(
            loop in inside.get(self.sub_roots.get(source, source), ()) for source in opt.coverage)

    def overlaps(self, ident: int, idents) -> bool:
        """Parameters of module (or leaf) `ident` are among those of `idents`: the same,
        or one is an instance of the file's own class and the other its sub-module."""
        subs = self.sub_roots
        return ident in idents or subs.get(ident) in idents or any(
            subs.get(other) == ident for other in idents)

    def on_clear(self, node, st: Optional[State] = None, cleared=None) -> None:
        """Gradients cleared: of the modules / leaves `cleared`, or of anything (None)."""
        st = st or self.cur
        self.record("clear", node)
        self.order_at_clear(st)
        self.reach_at_clear(st, cleared)
        self.forget_stepped(st, cleared)
        st.sc_sources = frozenset()
        st.sc_open = False
        st.sc_cuts = frozenset()
        st.sc_backwards = frozenset()
        st.grad_reads = st.stale_reads = frozenset()

    def on_full_clear(self, node, ident: int, st: State) -> None:
        """`opt.zero_grad()` / `model.zero_grad()`: every gradient of that object is gone."""
        if st.bw_pending is not None:
            st.cleared_after_bw = (self.register(node), st.bw_pending, ident)
            st.bw_pending = None

    def on_maybe_clear(self, node) -> None:
        self.record("maybe_clear", node)
        self.forget_stepped(self.cur, None)

    def forget_stepped(self, st: State, cleared) -> None:
        """The gradients of `cleared` (None: of anything) are cleared."""
        for name in ("pending_may", "pending_must", "dirty_may", "dirty_must"):
            facts = getattr(st, name)
            if facts:
                setattr(st, name, frozenset() if cleared is None else self.left_dirty(facts, cleared))

    def left_dirty(self, dirty, cleared):
        """What stays stepped-and-not-cleared after the gradients of `cleared` are: a
        module whose sub-modules are each cleared counts as cleared."""
        subs = self.sub_roots
        left = {d for d in dirty if d not in cleared and subs.get(d) not in cleared}
        for d in list(left):
            parts = self.parts_of(d)
            if parts and not any(p in left for p in parts) and any(p in dirty for p in parts):
                left.discard(d)
        return frozenset(left)

    def parts_of(self, root: int):
        """The sub-modules of the instance `root` (of the file's own module class)."""
        return [s for s, r in self.sub_roots.items() if r == root]

    def on_manual_step(self, node, name: str, leaf: Tensor, update, st: State) -> None:
        """`w -= lr * w.grad`: a step of `w` by hand, when it applies w's own gradient."""
        if (not self.loop_stack or leaf.leaf is not True or leaf.requires_grad is not True
                or not leaf.sources or leaf.open or not _reads_grad_of(update, name)):
            return
        ctx = self.loop_ctx[-1] if self.loop_ctx else None
        if self.check_cleared(node, name, leaf.sources, st, manual=True,
                              before=ctx.entry if ctx is not None else None):
            # the stale `w.grad` read here is this update's (GL001 reports it, not GL014)
            self.obs.manual_update_reads.update(_grad_reads_of(update, name))

    def check_cleared(self, node, text: str, coverage, st: State, manual: bool = False,
                      before: Optional[State] = None) -> bool:
        """GL001 beyond "nothing clears": this step applies parameters whose gradients
        were not cleared since their previous step (on every path, or on some path when
        the step runs in every iteration). `before`: the state whose facts decide."""
        # (a loop over parameters is not the loop that repeats the update)
        loop = self.loop_stack[-2 if before is not None and len(self.loop_stack) > 1 else -1][0].loop
        was = before or st
        stale = [c for c in coverage if c in was.dirty_must or (
            self.cond_depth == 0 and c in was.dirty_may)]
        if stale:
            names = tuple(sorted({self.source_name(c, st) for c in stale}))
            backwards = st.sc_backwards or st.backward_sites
            backward = max(backwards, key=lambda b: self.bw_seq.get(b, 0)) if backwards else None
            self.obs.uncleared_steps.setdefault(id(node), (
                self.register(node), text, loop, names, backward, manual))
        added = set(coverage)
        for c in coverage:
            added.update(self.parts_of(c))
        # applied: stale again only once a backward adds to them (no clear between)
        st.pending_may, st.pending_must = st.pending_may | added, st.pending_must | added
        st.dirty_may, st.dirty_must = st.dirty_may - added, st.dirty_must - added
        return bool(stale)

    def escape(self, value, st: State) -> None:
        if isinstance(value, Seq):
            for item in value.items:
                self.escape(item, st)
        elif isinstance(value, Tensor):
            if value.sources:
                st.escaped |= value.sources
        elif isinstance(value, NNModule):
            st.escaped |= {value.root or value.ident}
        elif isinstance(value, Params):
            st.escaped |= value.roots
        elif isinstance(value, Optimizer):
            st.escaped |= value.coverage

    def on_backward(self, node: cst.Call, target, retain, st: State) -> None:
        self.record("backward", node)
        self.order_at_backward(node, st)
        nid = id(node)
        self.bw_seq.setdefault(nid, len(self.bw_seq))
        st.bw_pending, st.cleared_after_bw = nid, None
        if self.stmt_small is not None:
            self.backward_stmts.setdefault(nid, (self.register(self.stmt_small),
                                                 tuple(map(id, self.call_chain))))
        if isinstance(target, Tensor) and st.grad_reads:
            added = {(leaf, read, nid) for leaf, read in st.grad_reads if leaf in target.sources}
            st.stale_reads = st.stale_reads | added
            st.grad_reads = frozenset(r for r in st.grad_reads if r[0] not in target.sources)
        if isinstance(target, Tensor):
            self.check_invalidated(node, target, st)
            self.check_severed(node, target, st)
            self.reach_at_backward(node, target, st)
            hit = sorted(n for n in target.graph if n in st.freed)
            if hit:
                earlier = st.freed[hit[0]]
                self.obs.double_backwards.setdefault(nid, DoubleBackward(
                    later=nid, earlier=earlier, var=_backward_subject(self, node),
                    in_loop=earlier == nid,
                    loop=self.loop_stack[-1][0].loop if self.loop_stack else None))
            if target.requires_grad is False and target.cuts:
                for cut in target.cuts:
                    self.add_cut_hit("no-grad-backward", cut, nid, (), cut.var)
            if target.open:
                st.reached_open = st.sc_open = True
            st.reached |= target.sources
            st.sc_sources |= target.sources
            st.bw_cuts |= target.cuts
            st.sc_cuts |= target.cuts
            if retain is False:
                for n in target.graph:
                    st.freed[n] = nid
            if self.recorder is not None:
                self.recorder.backward(nid, target, retain)
        else:
            st.reached_open = st.sc_open = True
            if self.recorder is not None:
                self.recorder.backward(nid, None, retain)
        st.backward_sites |= {nid}
        st.sc_backwards |= {nid}
        st.dirty_may, st.dirty_must = st.dirty_may | st.pending_may, st.dirty_must | st.pending_must

    def on_autograd_grad(self, node: cst.Call, target, retain, st: State) -> None:
        self.register(node)
        for events, _ in self.loop_stack:
            self.obs.grad_loops.add(events.loop)
        if isinstance(target, Tensor):
            hit = sorted(n for n in target.graph if n in st.freed)
            if hit:
                self.obs.double_backwards.setdefault(id(node), DoubleBackward(
                    later=id(node), earlier=st.freed[hit[0]], var=_backward_subject(self, node),
                    in_loop=st.freed[hit[0]] == id(node)))
            if retain is False:
                for n in target.graph:
                    st.freed[n] = id(node)
            if self.recorder is not None:
                self.recorder.backward(id(node), target, retain, populates=False)

    def on_step(self, node: cst.Call, text: str, opt, pos, st: State,
                scaler_step: bool = False) -> None:
        if pos and isinstance(pos[0], Function):
            self.call_local(pos[0], node, [], st, None)
        self.record("step", node, text or "optimizer", opt)
        self.order_at_step(node, text, opt, st, scaler_step)
        cleared, st.cleared_after_bw, st.bw_pending = st.cleared_after_bw, None, None
        if not isinstance(opt, Optimizer):
            return
        # a step given a closure re-evaluates the loss and its gradients itself
        closure = any(not isinstance(v, Optimizer) for v in pos) or any(
            a.keyword is not None and a.keyword.value == "closure" for a in node.args)
        if cleared is not None and not closure and (
                cleared[2] == opt.ident or self.overlaps(cleared[2], opt.coverage)):
            loop = self.loop_stack[-1][0].loop if self.loop_stack else None
            self.obs.zero_before_step.setdefault(
                cleared[0], (cleared[0], cleared[1], self.register(node), text or "optimizer", loop))
        # (gradients aliased from another module's tensors are that module's: only a
        # clear of that module clears them)
        aliased = {lp for gp, lp in st.grad_alias if (
            self.overlaps(gp, opt.coverage) if gp is not None else not opt.coverage)}
        if self.loop_stack and (opt.coverage or aliased) and not closure and \
                not self.fresh_in_loop(opt, self.loop_stack[-1][0].loop):
            if self.check_cleared(node, text or "optimizer", opt.coverage | aliased, st) and \
                    aliased:
                site = min((self.alias_sites[a] for a in aliased if a in self.alias_sites),
                           key=lambda n: self.order_of(n), default=None)
                self.obs.alias_steps.setdefault(id(node), site)
        if opt.stateful and self.loop_stack:
            loop = self.loop_stack[-1][0].loop
            made_in = self.site_loops.get(opt.origin, ())
            if loop in made_in and opt.coverage and not self.fresh_in_loop(opt, loop):
                self.obs.optimizer_in_loop.setdefault(opt.origin, (opt.origin, self.register(node), loop))
        for cut in st.sc_cuts:
            for source in cut.lost:
                if not self.overlaps(source, opt.coverage):
                    continue
                if source in st.sc_sources or (st.sc_open and (
                        source in st.escaped or self.sub_roots.get(source) in st.escaped)):
                    continue
                backward = (max(st.sc_backwards, key=lambda b: self.bw_seq.get(b, 0))
                            if st.sc_backwards else None)
                self.add_cut_hit("optimizer-param", cut, backward,
                                 ((self.register(node), f"`{text}` steps here"),),
                                 self.source_name(source, st))

    def note_grad_alias(self, target, value_expr, st: State) -> None:
        """`gp._grad = lp.grad` (or `gp.grad = lp.grad`): gp's gradient is lp's tensor."""
        if not (type(target) is cst.Attribute and target.attr.value in ("grad", "_grad")
                and type(value_expr) is cst.Attribute and value_expr.attr.value == "grad"):
            return
        gp = st.env.get(dotted(target.value) or "")
        lp = st.env.get(dotted(value_expr.value) or "")
        if not (isinstance(lp, Tensor) and lp.sources and lp.leaf is True):
            return
        if isinstance(gp, Tensor) and gp.sources and not gp.sources & lp.sources:
            st.grad_alias = st.grad_alias | {(g, l) for g in gp.sources for l in lp.sources}
        elif not isinstance(gp, Tensor):
            # a parameter of a model we do not know (a shared model handed to a worker):
            # the step over it is one of an optimizer whose parameters we do not know
            st.grad_alias = st.grad_alias | {(None, l) for l in lp.sources}
        else:
            return
        site = self.register(self.stmt_small if self.stmt_small is not None else target)
        self.note_order(site)
        for l in lp.sources:
            self.alias_sites.setdefault(l, site)

    def on_grad_read(self, node: cst.Attribute, base: Tensor, st: State) -> None:
        plain = type(node.value) is cst.Name
        # `net.activations.grad`: an attribute of an object the analysis follows; only
        # its leaf-ness is claimed (a parameter reached by attributes has no own ident)
        name = node.value.value if plain else dotted(node.value)
        if name is None or not (plain or name.split(".")[0] in st.env):
            return
        if plain and base.requires_grad is True and base.leaf is True and not self.clearing_grad:
            self.track_grad_read(node, name, base.ident, st)
        if base.requires_grad is True and base.leaf is False and not base.retains_grad:
            self.obs.nonleaf_reads.setdefault(id(node), NonLeafGradRead(
                read=self.register(node), var=name, origin=base.origin))
            return
        if not plain:
            return
        if base.requires_grad is True and base.leaf is True and st.backward_sites:
            leaf = base.ident
            if leaf in st.reached or (st.reached_open and leaf in st.escaped):
                return
            for cut in st.bw_cuts:
                if leaf in cut.lost:
                    backward = max(st.backward_sites, key=lambda b: self.bw_seq.get(b, 0))
                    self.add_cut_hit("grad-read", cut, backward,
                                     ((self.register(node), f"`{name}.grad` is read here"),), name)

    def track_grad_read(self, node, name: str, leaf: int, st: State) -> None:
        stale = sorted((s for s in st.stale_reads if s[0] == leaf), key=lambda s: s[1])
        nid = self.register(node)
        if stale:
            backward = stale[0][2]
            # a fix only where the backward runs in the same function call as this read
            stmt, chain = self.backward_stmts.get(backward, (None, None))
            same = chain == tuple(map(id, self.call_chain))
            self.obs.stale_grad_reads.setdefault(nid, (
                nid, name, stale[0][1], backward, stmt if same else None))
        if leaf in st.sc_sources:
            st.grad_reads = frozenset(r for r in st.grad_reads if r[0] != leaf) | {(leaf, nid)}
            st.stale_reads = frozenset(s for s in st.stale_reads if s[0] != leaf)

    def add_cut_hit(self, kind, cut, backward, related, subject) -> None:
        key = (kind, cut.site, subject)
        if key not in self.obs.cut_hits:
            self.obs.cut_hits[key] = CutHit(kind=kind, cut_site=cut.site, cut_var=cut.var,
                                            backward=backward, related=tuple(related),
                                            subject=subject)

    def source_name(self, source: int, st: State) -> str:
        for key, value in st.env.items():
            if isinstance(value, NNModule) and value.ident == source and (
                    value.root is None or source in self.sub_roots):
                return key
            if isinstance(value, Tensor) and value.ident == source and value.leaf:
                return key
        root = self.sub_roots.get(source)
        for key, value in st.env.items():
            # a layer of the file's own class held in an nn.ModuleList: `net.blocks[i].fc`
            if type(value) is NNModule and value.container and value.cls and root in (
                    value.ident, value.root):
                for attr, v in self.class_attrs.get(value.cls, {}).items():
                    if isinstance(v, NNModule) and instance_ident(root, v.ident) == source:
                        return f"{key}[i]{attr[4:]}"
        return "the module"

    # -- hooks for the later rules (in-place ops, numpy, requires_grad flags) -------------
    def on_inplace(self, node, method, tensor, st) -> None:
        if method in ("share_memory_", "requires_grad_", "detach_"):
            return
        self.on_inplace_saved(self.stmt_small if self.stmt_small is not None else node, tensor, st)
        if tensor.ident in self.module_roots:
            return  # a module's parameter (layer.weight): not followed by this rule
        if tensor.leaf is True and tensor.requires_grad is True and st.grad_mode is True:
            stmt = self.stmt_small if self.stmt_small is not None else node
            self.obs.inplace_on_leaf.setdefault(
                id(stmt), (self.register(stmt), self.register(node), method, tensor.origin))

    def on_accumulate(self, node, name: str, value, expr, st: State) -> None:
        """`name += value` / `name.append(value)` in a loop, with a value that has a graph."""
        graph_free = isinstance(value, Const) or (
            isinstance(value, Tensor) and value.requires_grad is False) or plain_number(expr)
        if not graph_free:
            # what the loop keeps may be backward'd later: not an evaluation loop (GL101)
            nid = self.register(node)
            for events, _ in self.loop_stack:
                self.obs.collecting_loops.setdefault(events.loop, set()).add(nid)
        if (isinstance(value, Tensor) and value.requires_grad is True and value.leaf is False
                and st.grad_mode is True and self.loop_stack):
            if "." not in name:
                self.obs.accumulations.setdefault(id(node), (self.register(node), name,
                                                             self.register(expr)))
            else:  # an attribute of the object whose method runs in the loop
                self.obs.attr_accumulations.setdefault(id(node), (
                    self.register(node), name, self.register(expr), self.loop_stack[-1][0].loop))

    def on_module_forward(self, node, module: NNModule, st: State) -> None:
        """A forward pass of a module in eval() mode, with grad mode on, inside loops."""
        in_eval = module.ident in st.eval_modules or module.root in st.eval_modules
        if in_eval and st.grad_mode is True and module.trainable is True and self.loop_stack:
            nid = self.register(node)
            for events, _ in self.loop_stack:
                self.obs.eval_forwards.setdefault(events.loop, []).append(nid)

    def on_data_write(self, attr: cst.Attribute, how: str) -> None:
        """A write through `x.data` of a tensor `x` (`how`: assign / augassign / setitem /
        the in-place method's name)."""
        stmt = self.stmt_small if self.stmt_small is not None else attr
        base = self.cur.env.get(dotted(attr.value) or "")
        saver = self.live_saver(base, self.cur) if isinstance(base, Tensor) else None
        self.obs.data_writes.setdefault(
            id(stmt), (self.register(stmt), self.register(attr), self.code(attr.value), how,
                       saver))

    def on_implicit_grad(self, node, target_expr, tensor: Tensor) -> None:
        """A backward without `gradient=` on a tensor known to hold several elements."""
        if tensor.requires_grad is True and tensor.numel is not None and tensor.numel > 1:
            self.obs.backward_non_scalar.setdefault(
                id(node), (self.register(node), self.code(target_expr), tensor.numel, tensor.origin))

    def on_tensor_method(self, node, method, tensor, st) -> None:
        # PyTorch refuses only with grad mode on (under no_grad the array is allowed)
        if method == "numpy" and tensor.requires_grad is True and st.grad_mode is True:
            self.obs.numpy_on_grad.setdefault(id(node), (self.register(node), tensor.origin))

    def on_requires_grad_change(self, node, base_expr, base, st, flag=None) -> None:
        """`x.requires_grad = flag` or `x.requires_grad_(flag)` (flag None: not a literal)."""
        if isinstance(base, Tensor) and self.recorder is not None:
            self.recorder.flagged.add(base.ident)  # what `explain` said of it before changes
            if flag is not True:
                self.recorder.turned_off.add(base.ident)
        if not isinstance(base, Tensor) or base.leaf is not False:
            return
        if isinstance(node, cst.Call) and flag is not False:
            return  # requires_grad_(True) on a tensor that already requires grad is allowed
        self.obs.requires_grad_on_non_leaf.setdefault(
            id(node), (self.register(node), self.code(base_expr), base.origin))

    def on_grad_context_not_called(self, item, value, st) -> None:
        # `with torch.no_grad:` (the class itself, not an instance)
        self.obs.grad_mode_not_entered.setdefault(
            id(item.item), ("uncalled", self.register(item.item), value.qualname))

    def on_expression_statement(self, small, value, st) -> None:
        # `torch.no_grad()` alone on a line: a context manager made and thrown away
        if isinstance(value, GradContext) and not value.applies_now and isinstance(
                small.value, cst.Call):
            self.obs.grad_mode_not_entered.setdefault(
                id(small), ("bare", self.register(small), self.code(small.value.func)))


def _grad_reads_of(expr, name: str):
    """The ids of the `name.grad` reads in `expr` (`name.grad.data` too)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if type(node) is cst.Attribute and node.attr.value == "grad" and dotted(node.value) == name:
            yield id(node)
        else:
            stack.extend(iter_children(node))


def _reads_grad_of(expr, name: str) -> bool:
    return next(_grad_reads_of(expr, name), None) is not None
