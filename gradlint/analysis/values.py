"""Abstract values of the autograd model and the flow state that carries them.

Tri-state facts use True / False / None, where None means *unknown*: the analysis
never reports on an unknown fact.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields
from typing import Dict, FrozenSet, Optional, Tuple

from gradlint.fastinit import init_like

Tri = Optional[bool]
_FIELD_NAMES: Dict[type, frozenset] = {}


def evolve(value, /, **changes):
    """`dataclasses.replace` for the analysis's own dataclasses (none has `__post_init__`
    or slots), at a fraction of its cost: it runs for most tensor operations."""
    kind = type(value)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = frozenset(f.name for f in fields(kind))
    if not names.issuperset(changes):
        raise TypeError(f"{kind.__name__} has no field {sorted(set(changes) - names)}")
    new = object.__new__(kind)
    state = new.__dict__
    state.update(value.__dict__)
    state.update(changes)
    return new


def frozen_value(cls):
    """`@dataclass(frozen=True)` with an `__init__` that fills the instance's dict
    directly. The one `dataclasses` writes for a frozen class stores each field through
    `object.__setattr__` (plain stores are forbidden), three times the cost: a training
    script makes about twelve tensors. Same signature, same defaults, the same dict;
    a class it does not fit (slots, `__post_init__`, fields left out of `__init__` or
    keyword-only) keeps the dataclass one."""
    cls = dataclass(frozen=True)(cls)
    fit = ("__post_init__" not in dir(cls) and "__slots__" not in cls.__dict__
           and all(f.init and not getattr(f, "kw_only", False) for f in fields(cls)))
    if not fit:
        return cls
    init = init_like(cls, lambda i, name: f"state[{name!r}] = {name}", {}, "frozen value",
                     prelude=["state = self.__dict__"])
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init
    return cls


def join_tri(a: Tri, b: Tri) -> Tri:
    return a if a == b else None


class Value:
    __slots__ = ()


@frozen_value
class Unknown(Value):
    pass


UNKNOWN = Unknown()


@frozen_value
class Const(Value):
    """A plain Python value that is known not to be a tensor (number, string, None)."""

    value: object = None


NONTENSOR = Const("<non-tensor>")  # a value known not to be a tensor


@frozen_value
class Severed(Const):
    """A number or array taken out of a tensor that required grad (`.item()`,
    `.numpy()`, `.tolist()`): no gradient flows back through it."""

    severed: FrozenSet[Tuple[int, str]] = frozenset()


@frozen_value
class Ref(Value):
    """A reference to an imported API object, by qualified name (`torch.no_grad`)."""

    qualname: str


@frozen_value
class Cut:
    """A value computed with grad mode off from inputs that required grad."""

    site: int  # id of the statement inside the no_grad block
    lost: FrozenSet[int]  # sources whose gradient path was cut there
    var: str


@frozen_value
class Tensor(Value):
    ident: int  # allocation site
    requires_grad: Tri
    leaf: Tri
    retains_grad: bool = False
    graph: FrozenSet[Tuple[int, int]] = frozenset()  # nodes that saved tensors (must)
    sources: FrozenSet[int] = frozenset()  # leaves / modules whose gradient flows through it
    open: bool = False  # values we do not know also flowed in (they carry escaped sources)
    cuts: FrozenSet[Cut] = frozenset()
    origin: int = 0  # id of the node that computed it
    numel: Optional[int] = None  # known element count (literal shapes)
    is_int: Tri = False
    dtype: Optional[str] = None  # a floating dtype, where known (analysis/dtypes.py)
    # where a value that required grad was cut out of autograd on its way here: (the
    # `.detach()` / `.data` / `.item()`... node, how) (GL022)
    severed: FrozenSet[Tuple[int, str]] = frozenset()
    # cuts of terms added to this value after they were cut, while the value itself
    # requires grad: kept only through sums and scaling, so that a loss that holds them
    # is known to get no gradient from them (GL022)
    dead_terms: FrozenSet[Tuple[int, str]] = frozenset()


@frozen_value
class Seq(Value):
    """A tuple or list literal, element by element."""

    items: Tuple[Value, ...] = ()


@frozen_value
class NNModule(Value):
    ident: int
    trainable: Tri = True  # its parameters require grad
    saves: bool = True  # its forward saves tensors for backward (layers with weights)
    root: Optional[int] = None  # for a sub-module: the module it belongs to
    origin: int = 0
    cls: Optional[int] = None  # an instance of the file's own class (its ClassDef's id)
    # its forward saves its own weights whatever the input (a second layer with weights
    # gets an input that requires grad): `nn.Sequential` of two or more such layers
    deep: bool = False
    inplace: Optional[str] = None  # made with `inplace=True`: the function it runs in place
    saves_result: bool = False  # its forward saves its result (nn.Sigmoid, nn.ReLU...)
    # an `nn.ModuleList` / `nn.ModuleDict` of known layers: each element (`blocks[i]`,
    # `for blk in blocks`) is taken as the container itself, one module like all of them
    container: bool = False


@frozen_value
class Params(Value):
    """`module.parameters()` and friends."""

    root: int
    trainable: Tri = True
    more: FrozenSet[int] = frozenset()  # the other modules of a union (`list(a...) + list(b...)`)
    named: bool = False  # `named_parameters()`: it yields (name, parameter) pairs

    @property
    def roots(self) -> FrozenSet[int]:
        return self.more | {self.root}


def union_params(values) -> "Optional[Params]":
    """Parameters of several modules given as one iterable, or None if one is not known."""
    if not values or not all(isinstance(v, Params) for v in values):
        return None
    first = values[0]
    roots = frozenset().union(*(v.roots for v in values))
    trainable = first.trainable
    for v in values[1:]:
        trainable = join_tri(trainable, v.trainable)
    return Params(root=first.root, trainable=trainable, more=roots - {first.root},
                  named=all(v.named for v in values))


@frozen_value
class Optimizer(Value):
    ident: int
    coverage: FrozenSet[int] = frozenset()  # modules / leaves known to be in it
    origin: int = 0
    stateful: bool = False  # keeps per-parameter state between steps (moments, momentum)


@frozen_value
class Scheduler(Value):
    ident: int = 0
    optimizer: Optional[int] = None  # the ident of the optimizer it was made for
    plateau: bool = False  # ReduceLROnPlateau: PyTorch does not check its order


@frozen_value
class Scaler(Value):
    """A `GradScaler`; `enabled` False when made with `enabled=False`."""
    enabled: Tri = True


@frozen_value
class Function(Value):
    node_id: int
    grad_mode: Tri = True  # None: not decorated; False: no_grad decorated


@frozen_value
class ModuleClass(Value):
    node_id: int
    has_params: Tri = None


@frozen_value
class PlainClass(Value):
    """A class of the file that is no torch module and has no base class (a Trainer, an
    Agent): calling it makes an `Instance`."""
    node_id: int


@frozen_value
class Instance(Value):
    """An instance of a `PlainClass`: its methods run with its attributes, as a module's
    do (`instances.py`), but it is no module: no parameters, no `forward`, and nn.Module's
    method names mean the class's own methods."""
    ident: int
    cls: int
    origin: int = 0
    root: Optional[int] = None  # (never set: the fields instances.py reads of a module)
    trainable: Tri = True


@frozen_value
class GradContext(Value):
    """A grad-mode context manager object (`torch.no_grad()`).

    `applies_now`: `torch.set_grad_enabled(flag)` also switches the mode when it is
    called as a plain statement; `torch.no_grad()` does not.
    """

    enabled: Tri
    applies_now: bool = False


def join_values(a: Value, b: Value) -> Value:
    # (`is` first: most bindings are the same object on both paths, and a dataclass's
    # `==` compares field by field even then)
    if a is b or (type(a) is type(b) and a == b):  # (values of two classes never compare equal)
        return a
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return Tensor(
            ident=a.ident if a.ident == b.ident else min(a.ident, b.ident),
            requires_grad=join_tri(a.requires_grad, b.requires_grad),
            leaf=join_tri(a.leaf, b.leaf),
            retains_grad=a.retains_grad and b.retains_grad,
            graph=a.graph & b.graph,
            sources=a.sources | b.sources,
            open=a.open or b.open,
            cuts=a.cuts | b.cuts,
            origin=a.origin if a.origin == b.origin else 0,
            numel=a.numel if a.numel == b.numel else None,
            is_int=join_tri(a.is_int, b.is_int),
            dtype=a.dtype if a.dtype == b.dtype else None,
        )
    if isinstance(a, Seq) and isinstance(b, Seq) and len(a.items) == len(b.items):
        return Seq(tuple(join_values(x, y) for x, y in zip(a.items, b.items)))
    if isinstance(a, NNModule) and isinstance(b, NNModule) and a.ident == b.ident:
        return evolve(a, trainable=join_tri(a.trainable, b.trainable), saves=a.saves and b.saves)
    if isinstance(a, Optimizer) and isinstance(b, Optimizer) and a.ident == b.ident:
        return evolve(a, coverage=a.coverage & b.coverage)
    if type(a) is Const and type(b) is Const:
        return NONTENSOR  # two plain values (an int on one path, a float on the other)
    return UNKNOWN


@dataclass
class State:
    """Facts that hold at one program point of one flow path."""

    env: Dict[str, Value] = field(default_factory=dict)
    grad_mode: Tri = True
    freed: Dict[Tuple[int, int], int] = field(default_factory=dict)  # node -> backward site
    # GL017 / GL018: graph nodes whose saved tensors were changed in place since, by an
    # optimizer step or an in-place operation: node -> (that step or statement, the
    # operation that saved them, "step" | "inplace") (must)
    modified: Dict[Tuple[int, int], Tuple[int, int, str]] = field(default_factory=dict)
    reached: FrozenSet[int] = frozenset()  # sources some backward reached (may)
    reached_open: bool = False  # a backward of unknown provenance ran
    escaped: FrozenSet[int] = frozenset()  # sources handed to code we do not follow
    bw_cuts: FrozenSet[Cut] = frozenset()  # cuts on the paths of backwards so far
    backward_sites: FrozenSet[int] = frozenset()
    sc_sources: FrozenSet[int] = frozenset()  # reached since gradients were last cleared
    sc_open: bool = False
    sc_cuts: FrozenSet[Cut] = frozenset()
    sc_backwards: FrozenSet[int] = frozenset()
    # GL005: a backward ran since the last clear / step (must), and a whole-model clear
    # that came after it: (clear call, backward call, optimizer or module ident)
    bw_pending: Optional[int] = None
    cleared_after_bw: Optional[Tuple[int, int, int]] = None
    # GL014: (leaf, read) .grad reads after a backward reached the leaf, and
    # (leaf, read, backward) for those a later backward added to, no clearing between (must)
    grad_reads: FrozenSet[Tuple[int, int]] = frozenset()
    stale_reads: FrozenSet[Tuple[int, int, int]] = frozenset()
    eval_modules: FrozenSet[int] = frozenset()  # modules switched to eval() (must; GL101)
    # GL001: parameters (optimizer coverage) stepped and not cleared since (pending), and
    # those of them a backward has added to since (dirty), on some path / on every path
    pending_may: FrozenSet[int] = frozenset()
    pending_must: FrozenSet[int] = frozenset()
    dirty_may: FrozenSet[int] = frozenset()
    dirty_must: FrozenSet[int] = frozenset()
    # GL019: (scaled backward, scaler text) whose gradients are not unscaled yet (must)
    scaled: Optional[Tuple[int, str]] = None
    # GL020: optimizers that may have stepped (any: one we cannot name), and the first
    # `scheduler.step()`s waiting for a step of their optimizer: (call, optimizer or None)
    stepped: FrozenSet[int] = frozenset()
    stepped_any: bool = False
    sched_waiting: FrozenSet[Tuple[int, Optional[int]]] = frozenset()
    # GL021 (must): clips since the last backward: (clip, parameter roots or None); clips
    # a backward came after, no clip of theirs since: (clip, backward, roots); a backward
    # ran and no clip since; steps of gradients no clip saw, no backward since: (step,
    # coverage)
    clip_last: FrozenSet[tuple] = frozenset()
    clip_then_bw: FrozenSet[tuple] = frozenset()
    bw_unclipped: bool = False
    step_unclipped: FrozenSet[tuple] = frozenset()
    # GL023 (must): (backward, source) for the sources each backward since the last step
    # reached; sources a step did not cover though the backward before it reached them:
    # (source, that backward, the step, its coverage, whether a later backward through
    # both reached them again)
    bw_reach: FrozenSet[tuple] = frozenset()
    foreign: FrozenSet[tuple] = frozenset()
    # GL001: `gp._grad = lp.grad`: the gradients of `gp`'s module are `lp`'s tensors
    # (module or leaf ident pairs, may): a step over gp applies lp's gradients
    grad_alias: FrozenSet[Tuple[int, int]] = frozenset()
    dead: bool = False

    def copy(self) -> "State":
        # (`evolve` without its checks: this runs at every branch and loop pass)
        new = object.__new__(type(self))
        facts = new.__dict__
        facts.update(self.__dict__)
        facts["env"] = dict(self.env)
        facts["freed"] = dict(self.freed)
        facts["modified"] = dict(self.modified)
        return new

    def get(self, key: str) -> Value:
        return self.env.get(key, UNKNOWN)

    def bind(self, key: str, value: Value) -> None:
        prefix = key + "."
        n = len(prefix)  # (a slice compare is cheaper than str.startswith: runs per key)
        for other in [k for k in self.env if k[:n] == prefix]:
            del self.env[other]
        self.env[key] = value

    def replace_everywhere(self, old: Value, new: Value) -> None:
        """An object changed in place: every name bound to it sees the change."""
        for k, v in self.env.items():
            if v is old or v == old:
                self.env[k] = new

    def flow_facts(self) -> dict:
        return {f: getattr(self, f) for f in _FLOW_FIELDS}


_FLOW_FIELDS = ("grad_mode", "freed", "modified", "reached", "reached_open", "escaped", "bw_cuts",
                "backward_sites", "sc_sources", "sc_open", "sc_cuts", "sc_backwards",
                "bw_pending", "cleared_after_bw", "grad_reads", "stale_reads", "eval_modules",
                "pending_may", "pending_must", "dirty_may", "dirty_must", "scaled", "stepped",
                "stepped_any", "sched_waiting", "clip_last", "clip_then_bw", "bw_unclipped",
                "step_unclipped", "bw_reach", "foreign", "grad_alias")


def join_states(a: State, b: State) -> State:
    if a.dead:
        return b.copy()
    if b.dead:
        return a.copy()
    # (one pass over each side, without building the union of the keys: this runs at
    # every branch and loop pass, and most bindings are the same object on both paths)
    a_env, b_env = a.env, b.env
    env = {}
    for key, left in a_env.items():
        right = b_env.get(key, _ABSENT)
        if right is _ABSENT:
            # a plain name bound on one path only: on the other path it is unbound, and
            # any later use that does not raise NameError sees the bound value
            if "." not in key:
                env[key] = left
            # an attribute path set on one path only is unknown afterwards: dropped
        else:
            env[key] = left if left is right else join_values(left, right)
    for key, right in b_env.items():
        if key not in a_env and "." not in key:
            env[key] = right
    b_freed = b.freed
    # (the State built without the dataclass's __init__, as in `copy`)
    new = object.__new__(State)
    new.__dict__.update(
        env=env,
        grad_mode=join_tri(a.grad_mode, b.grad_mode),
        freed={n: s for n, s in a.freed.items() if n in b_freed},
        modified={n: s for n, s in a.modified.items() if b.modified.get(n) == s},
        reached=a.reached | b.reached,
        reached_open=a.reached_open or b.reached_open,
        escaped=a.escaped | b.escaped,
        bw_cuts=a.bw_cuts | b.bw_cuts,
        backward_sites=a.backward_sites | b.backward_sites,
        sc_sources=a.sc_sources | b.sc_sources,
        sc_open=a.sc_open or b.sc_open,
        sc_cuts=a.sc_cuts | b.sc_cuts,
        sc_backwards=a.sc_backwards | b.sc_backwards,
        bw_pending=a.bw_pending if a.bw_pending == b.bw_pending else None,
        cleared_after_bw=a.cleared_after_bw if a.cleared_after_bw == b.cleared_after_bw else None,
        grad_reads=a.grad_reads & b.grad_reads,
        stale_reads=a.stale_reads & b.stale_reads,
        eval_modules=a.eval_modules & b.eval_modules,
        pending_may=a.pending_may | b.pending_may,
        pending_must=a.pending_must & b.pending_must,
        dirty_may=a.dirty_may | b.dirty_may,
        dirty_must=a.dirty_must & b.dirty_must,
        scaled=_same(a.scaled, b.scaled),
        stepped=a.stepped | b.stepped,
        stepped_any=a.stepped_any or b.stepped_any,
        sched_waiting=a.sched_waiting | b.sched_waiting,
        clip_last=a.clip_last & b.clip_last,
        clip_then_bw=a.clip_then_bw & b.clip_then_bw,
        bw_unclipped=a.bw_unclipped and b.bw_unclipped,
        step_unclipped=a.step_unclipped & b.step_unclipped,
        bw_reach=a.bw_reach & b.bw_reach,
        foreign=a.foreign & b.foreign,
        grad_alias=a.grad_alias | b.grad_alias,
        dead=False,
    )
    return new


_ABSENT = object()


def _same(a, b):
    """A must-fact that is a single value: kept where both paths agree."""
    return a if a == b else None


def join_all(states) -> State:
    live = [s for s in states if s is not None]
    if not live:
        return State(dead=True)
    out = live[0].copy()
    for s in live[1:]:
        out = join_states(out, s)
    return out


_flow_values = operator.attrgetter(*_FLOW_FIELDS)


def same_state(a: State, b: State) -> bool:
    return a.dead == b.dead and a.env == b.env and _flow_values(a) == _flow_values(b)
