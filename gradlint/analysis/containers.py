"""`nn.ModuleList` / `nn.ModuleDict`: the sub-modules a model holds in containers.

A container whose elements are all layers gradlint knows, or all instances of one class
of the file, is one value: indexing or iterating it gives one layer that stands for all
of them. A `ModuleDict` written with its keys (`nn.ModuleDict(dict(wte=..., h=...))`, as
GPT models are) also binds each key under the name it is stored by, so
`self.transformer.h` is the `ModuleList` it holds, whatever the other keys hold.

Element expressions were evaluated already, as the call's argument: what is looked at
again here is only what a layer's constructor makes, never other code, which could have
effects.
"""

from __future__ import annotations

from typing import Dict, Optional

import libcst as cst

from gradlint.analysis import torchapi as api
from gradlint.analysis.exprs import dotted, positional
from gradlint.analysis.values import (
    Instance, ModuleClass, NNModule, State, UNKNOWN, Value,
)


class ContainerMixin:
    def module_container(self, node: cst.Call, items: cst.BaseExpression, st: State) -> Value:
        """`nn.ModuleList([...])` / `nn.ModuleDict({...})`: known when every element is a
        layer gradlint knows, or every one an instance of the same class of the file
        (a comprehension's element stands for all of them)."""
        kind = type(items)
        if kind is cst.List or kind is cst.Tuple:
            exprs = [e.value for e in items.elements if type(e) is cst.Element]
            if len(exprs) != len(items.elements):
                return UNKNOWN
        elif kind is cst.Dict:
            exprs = [e.value for e in items.elements if type(e) is cst.DictElement]
            if len(exprs) != len(items.elements):
                return UNKNOWN
        elif kind is cst.ListComp or kind is cst.GeneratorExp:
            exprs = [items.elt]
        elif kind is cst.DictComp:
            exprs = [items.value]
        else:
            return UNKNOWN
        parts, own = [], set()
        for e in exprs:
            if type(e) is not cst.Call:
                return UNKNOWN
            callee = self.lookup(st, e.func.value) if type(e.func) is cst.Name else None
            if isinstance(callee, ModuleClass):  # `Block(config)`: one class of the file
                own.add(callee.node_id)
                parts.append(NNModule(ident=id(e), trainable=callee.has_params, saves=True))
                continue
            cls = api.nn_class(self.qualify(dotted(e.func) or ""))
            if not cls or cls in api.CONTAINER_MODULES:
                return UNKNOWN
            parts.append(self.nn_module(e, cls, [], st))
        mixed = own and (len(own) > 1 or len(parts) > 1)
        if not parts or not all(isinstance(p, NNModule) for p in parts) or mixed:
            return UNKNOWN  # (instances of two classes, or a class and layers: not one module)
        return NNModule(ident=id(node), trainable=_any_trainable(parts), saves=any(p.saves for p in parts),
                        origin=self.stmt_id, deep=any(p.deep for p in parts),
                        saves_result=any(p.saves_result for p in parts), container=True,
                        cls=next(iter(own)) if own else None)

    def module_dict(self, node: cst.Call, items: cst.BaseExpression, st: State) -> Value:
        """`nn.ModuleDict(...)`: a container as above; with its keys written out, each
        member is kept for `bind_members`, and the dict is known even when its members
        are of different kinds."""
        whole = self.module_container(node, items, st)
        members = self.keyed_members(items, st)
        if members is None:
            return whole
        self.dict_members[id(node)] = members
        if whole is not UNKNOWN:
            return whole
        return NNModule(ident=id(node), trainable=_any_trainable(members.values()), saves=True,
                        origin=self.stmt_id)

    def keyed_members(self, items: cst.BaseExpression, st: State) -> Optional[Dict[str, Value]]:
        """{key: module} of `{"enc": nn.Linear(...), ...}` or `dict(enc=nn.Linear(...))`,
        or None when a key is not written out."""
        kind = type(items)
        pairs = []
        if kind is cst.Dict:
            for e in items.elements:
                if type(e) is not cst.DictElement or type(e.key) is not cst.SimpleString \
                        or e.key.prefix.lower() not in ("", "r", "u"):
                    return None
                pairs.append((e.key.evaluated_value, e.value))
        elif kind is cst.Call and type(items.func) is cst.Name and items.func.value == "dict" \
                and "dict" not in st.env:
            for arg in items.args:
                if arg.keyword is None or arg.star:
                    return None
                pairs.append((arg.keyword.value, arg.value))
        else:
            return None
        return {key: self.member_module(e, st) for key, e in pairs} or None

    def member_module(self, e: cst.BaseExpression, st: State) -> Value:
        """What a container's element expression made, when it is a module's constructor."""
        if type(e) is not cst.Call:
            return UNKNOWN
        callee = self.lookup(st, e.func.value) if type(e.func) is cst.Name else None
        if isinstance(callee, ModuleClass):
            return NNModule(ident=id(e), trainable=callee.has_params, saves=True,
                            origin=self.stmt_id, cls=callee.node_id)
        cls = api.nn_class(self.qualify(dotted(e.func) or ""))
        if not cls:
            return UNKNOWN
        parts = [self.member_module(a.value, st) for a in positional(e)] \
            if cls == "Sequential" else []
        return self.nn_module(e, cls, parts, st)

    def bind_members(self, path: str, value: NNModule, st: State) -> None:
        """`self.transformer = nn.ModuleDict(dict(h=...))`: `self.transformer.h` is bound
        to what the dict holds under "h" (only where the dict was made)."""
        members = self.dict_members.get(value.ident)
        if members is None or value.origin != self.stmt_id or value.root is not None:
            return
        for key, member in members.items():
            self.bind_path(f"{path}.{key}", member, st)

    def bind_path(self, path: str, value: Value, st: State) -> None:
        """Bind a name or dotted path, with what an instance or a dict made brings along."""
        st.bind(path, value)
        kind = type(value)
        if kind is NNModule:
            if value.cls is not None:
                self.bind_instance(path, value, st)
            self.bind_members(path, value, st)
        elif kind is Instance:
            self.bind_instance(path, value, st)


def _any_trainable(parts) -> object:
    """Do the parameters of a module made of `parts` require grad? (Yes when one part's
    do: a part with none, `nn.Dropout`, adds nothing.)"""
    flags = [p.trainable if isinstance(p, NNModule) else None for p in parts]
    return True if True in flags else (False if all(f is False for f in flags) else None)
