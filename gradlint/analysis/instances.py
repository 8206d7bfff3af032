"""Instances of the file's own `nn.Module` classes: `model(x)` runs that class's
`forward`, and `model.encode(x)` its method, with the instance's attributes.

An instance's attributes live in the caller's bindings under the name it is called by
(`model.hidden`, `self.encoder.cache`), so what `forward` stores on `self` is there at
the next call, in the next loop pass too. Attributes that `__init__` makes are the
starting point, rebased onto the instance: its sub-modules and parameters belong to
it, so that `model.parameters()` covers what `self.fc(x)` used inside `forward`.
"""

from __future__ import annotations

from typing import Dict, Optional

import libcst as cst

from gradlint.analysis.frames import _method
from gradlint.analysis.scopes import self_attrs_assigned
from gradlint.analysis.values import Instance, NNModule, State, Tensor, Value, evolve

# nn.Module's own API: a class that defines one of these still means PyTorch's when
# the analysis models it (`zero_grad`, `parameters`, `train`, ...)
_MODULE_API = frozenset((
    "parameters", "named_parameters", "zero_grad", "requires_grad_", "train", "eval", "to",
    "cuda", "cpu", "float", "double", "half", "bfloat16", "share_memory", "type",
    "state_dict", "load_state_dict", "named_modules", "modules", "children",
    "named_children", "buffers", "named_buffers", "register_buffer", "add_module", "apply",
    "register_forward_hook", "__init__",
))


class InstanceMixin:
    def instance_method(self, m: NNModule, method: str):
        """The file's own method `method` of `m`'s class, or None."""
        if m.cls is None or (method in _MODULE_API and type(m) is NNModule):
            return None
        cls = self.classes.get(m.cls)
        return _method(cls, method) if cls is not None else None

    def instance_call(self, node: cst.Call, m: NNModule, method: str, receiver: Optional[str],
                      args, st: State) -> Optional[Value]:
        """Run `method` of `m`'s class for this call; None when it cannot be followed
        (the instance's attributes are then unknown: the method may have set any)."""
        fn = self.instance_method(m, method)
        if fn is None:
            return None
        info = self.inlinable(id(fn))
        bound = self.bind_arguments(info, node, args, st) if info is not None else None
        if bound is None:
            self.forget_attributes(receiver, st)
            return None
        start = State(**{**st.flow_facts(), "env": self.instance_attrs(m, receiver, st)})
        value = self.inline(info, node, bound, m, start, st, receiver)
        if value is None:
            self.forget_attributes(receiver, st)
        return value

    def construct(self, node: cst.Call, m: Instance, args, st: State) -> bool:
        """`Trainer(model, opt)`: run the class's `__init__` for this call, with these
        arguments; what it stores on `self` is kept for `bind_instance`. False when it
        cannot be followed."""
        fn = _method(self.classes[m.cls], "__init__")
        if fn is None:
            self.constructed[m.ident] = {}
            return True
        info = self.inlinable(id(fn))
        bound = self.bind_arguments(info, node, args, st) if info is not None else None
        if bound is None:
            return False
        start = State(**{**st.flow_facts(), "env": {}})
        scratch = f"<new {m.ident}>"  # (a name no code can spell, removed right after)
        if self.inline(info, node, bound, m, start, st, scratch) is None:
            return False
        n = len(scratch)
        made = {k: v for k, v in st.env.items() if k[:n + 1] == scratch + "."}
        for key in made:
            del st.env[key]
        self.constructed[m.ident] = {"self" + k[n:]: v for k, v in made.items()}
        return True

    def bind_instance(self, path: str, m: NNModule, st: State) -> None:
        """`model = Net()`: the new instance has what `__init__` gave it, every attribute
        (those that other methods change too: no method has run on it yet)."""
        if m.cls is None or m.root is not None or m.origin != self.stmt_id:
            return  # not made by this statement: an alias, whose attributes are unknown
        made = self.constructed.get(m.ident) if type(m) is Instance else None
        for key, v in (made if made is not None else self.init_attrs(m, changing=())).items():
            st.env[path + key[4:]] = v

    def forget_attributes(self, receiver: Optional[str], st: State) -> None:
        if receiver is not None and receiver in st.env:
            st.bind(receiver, st.env[receiver])

    def instance_attrs(self, m: NNModule, receiver: Optional[str], st: State) -> Dict[str, Value]:
        """`self.*` for a call on `m`: what the caller knows of the instance, else what
        `__init__` made, for attributes no other method assigns."""
        changing = self_attrs_assigned(self.classes[m.cls], None, self.self_attrs_cache)
        env = self.init_attrs(m, changing)
        if receiver is not None:
            n = len(receiver)
            for key, v in st.env.items():
                if key[:n + 1] == receiver + ".":
                    env["self" + key[n:]] = v
        return env


    def init_attrs(self, m: NNModule, changing) -> Dict[str, Value]:
        """`self.*` as `__init__` made them, rebased onto the instance `m`, except the
        attributes named in `changing`."""
        root = m.root or m.ident
        # (an `Instance` of a plain class keeps them as made: a Trainer's model is the one
        # its optimizer's parameter set names, with no module of its own to rebase onto)
        rebase = type(m) is NNModule
        env: Dict[str, Value] = {}
        for key, v in self.class_attrs.get(m.cls, {}).items():
            if key.split(".")[1] in changing:
                continue
            env[key] = v = _rebased(v, root, m.trainable) if rebase else v
            if rebase and isinstance(v, NNModule):
                self.sub_roots[v.ident] = root
        return env


def instance_ident(root: int, ident: int) -> int:
    """The ident of the sub-module `ident` (as `__init__` made it) on the instance `root`."""
    return hash((root, ident))


def _rebased(v: Value, root: int, trainable) -> Value:
    """A value `__init__` stored, as it is on the instance `root`."""
    if isinstance(v, NNModule):
        # its own ident on this instance: a gradient cut off from one sub-module is
        # told apart from the ones that reach its siblings
        return evolve(v, ident=instance_ident(root, v.ident), root=root,
                      trainable=v.trainable if trainable is True else trainable)
    if isinstance(v, Tensor) and v.requires_grad is True:
        # (a tensor computed in `__init__`, `nn.Parameter(...).view(n)`, has its graph
        # already: freezing the module's parameters later does not change it)
        if trainable is not True and v.leaf is not False:
            return evolve(v, requires_grad=trainable, sources=v.sources | {root}
                          if trainable is None else frozenset())
        return evolve(v, sources=v.sources | {root})
    return v
