"""What the flow analysis saw: the shared results every rule reads.

The analysis records raw facts (nodes, names); the rules decide what is a finding
and how to word it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple


@dataclass
class LoopEvents:
    """Training-loop events seen in one iteration of a loop (nested code included)."""

    loop: int  # node id of the For / While
    backwards: Dict[int, int] = field(default_factory=dict)  # report site -> backward call
    steps: Dict[int, tuple] = field(default_factory=dict)  # site -> (optimizer text, step call)
    clears: Set[int] = field(default_factory=set)
    maybe_clears: Set[int] = field(default_factory=set)  # unknown code given the optimizer/model
    nested: Set[int] = field(default_factory=set)  # loops directly or indirectly inside


@dataclass(frozen=True)
class NonLeafGradRead:
    read: int  # the `x.grad` attribute node
    var: str
    origin: int  # the statement that computed x


@dataclass(frozen=True)
class DoubleBackward:
    later: int  # the second backward call
    earlier: int  # the backward that freed the graph
    var: str
    in_loop: bool  # the first backward is the same call, one iteration earlier
    loop: Optional[int] = None  # the innermost loop around the later backward


@dataclass(frozen=True)
class CutHit:
    kind: str  # "no-grad-backward" | "grad-read" | "optimizer-param"
    cut_site: int  # the statement inside the no_grad block
    cut_var: str
    backward: Optional[int]  # a backward that the cut matters to
    related: Tuple[Tuple[int, str], ...]  # (node id, note)
    subject: str  # the leaf or module that gets no gradient


@dataclass
class Observations:
    loops: Dict[int, LoopEvents] = field(default_factory=dict)
    loop_order: List[int] = field(default_factory=list)
    nonleaf_reads: Dict[int, NonLeafGradRead] = field(default_factory=dict)
    double_backwards: Dict[int, DoubleBackward] = field(default_factory=dict)
    cut_hits: Dict[Tuple[str, int, str], CutHit] = field(default_factory=dict)
    int_requires_grad: Dict[int, int] = field(default_factory=dict)  # factory call ids
    grad_mode_not_entered: Dict[int, Tuple[str, int, str]] = field(default_factory=dict)
    tensor_from_tensor: Dict[int, int] = field(default_factory=dict)  # torch.tensor(t) calls
    # Variable(...) calls -> (call, whether its argument requires grad: the call cuts it off)
    deprecated_variable: Dict[int, Tuple[int, bool]] = field(default_factory=dict)
    # `x += t` / `x.append(t)` in a loop -> (statement or call, x, the t expression)
    accumulations: Dict[int, Tuple[int, str, int]] = field(default_factory=dict)
    # `self.x += t` / `self.x.append(t)` in a method run inside a loop -> (statement or
    # call, "self.x", the t expression, the innermost loop)
    attr_accumulations: Dict[int, Tuple[int, str, int, int]] = field(default_factory=dict)
    # loop -> forward calls of modules in eval() mode with grad mode on (GL101)
    eval_forwards: Dict[int, List[int]] = field(default_factory=dict)
    grad_loops: Set[int] = field(default_factory=set)  # loops that call torch.autograd.grad
    # loop -> `x += v` / `x.append(v)` inside it with a v that may carry a graph
    collecting_loops: Dict[int, Set[int]] = field(default_factory=dict)
    # statement -> (statement, the `x.data` node, `x`, how it is written)
    # (and the operation of a graph still waiting for backward that saved `x`, or None)
    data_writes: Dict[int, Tuple[int, int, str, str, Optional[int]]] = field(default_factory=dict)
    # backward call -> (call, the tensor's text, its element count, where it was computed)
    backward_non_scalar: Dict[int, Tuple[int, str, int, int]] = field(default_factory=dict)
    # clear call -> (clear call, backward before it, step after it, optimizer text, loop)
    zero_before_step: Dict[int, Tuple[int, int, int, str, Optional[int]]] = field(default_factory=dict)
    # second read -> (read, variable, earlier read, backward that added in between, the
    # statement of that backward when it is in the same function)
    stale_grad_reads: Dict[int, Tuple[int, str, int, int, Optional[int]]] = field(
        default_factory=dict)
    optimizer_in_loop: Dict[int, Tuple[int, int, int]] = field(default_factory=dict)  # made, step, loop
    # GL001: a step applying parameters not cleared since their previous step: (step,
    # optimizer text or the tensor updated by hand, loop, names of those parameters'
    # modules / tensors, last backward, whether it is a hand-written update)
    uncleared_steps: Dict[int, Tuple[int, str, int, Tuple[str, ...], Optional[int], bool]] = field(
        default_factory=dict)
    manual_update_reads: Set[int] = field(default_factory=set)  # `w.grad` in those updates
    # such a step whose gradients are another module's, handed over by `gp._grad = lp.grad`
    # -> that statement
    alias_steps: Dict[int, Optional[int]] = field(default_factory=dict)
    # statement -> (statement, operation node, method, tensor origin)
    inplace_on_leaf: Dict[int, Tuple[int, int, str, int]] = field(default_factory=dict)
    requires_grad_on_non_leaf: Dict[int, Tuple[int, str, int]] = field(default_factory=dict)
    numpy_on_grad: Dict[int, Tuple[int, int]] = field(default_factory=dict)  # call -> (call, origin)
    # GL019: clip call (or a norm of gradients) -> (it, the scaled backward, scaler text,
    # "clip" / "read")
    clip_scaled: Dict[int, Tuple[int, int, str, str]] = field(default_factory=dict)
    # scaled backward -> {optimizer text: the first `scaler.step(optimizer)` after it}
    scaler_steps: Dict[int, Dict[str, int]] = field(default_factory=dict)
    # GL020: first `scheduler.step()` -> (that call, the optimizer step after it)
    scheduler_before_step: Dict[int, Tuple[int, int]] = field(default_factory=dict)
    # GL017: backward -> (backward, the step that changed saved weights in place, the
    # forward that saved them)
    step_invalidates: Dict[int, Tuple[int, int, int]] = field(default_factory=dict)
    # GL018: backward -> (backward, the in-place statement, the operation that saved
    # the tensor it changed)
    inplace_on_saved: Dict[int, Tuple[int, int, int]] = field(default_factory=dict)
    # GL022: backward -> (backward, "crash" | "leaf", the cuts: (node, how))
    loss_without_graph: Dict[int, Tuple[int, str, frozenset]] = field(default_factory=dict)
    # GL023: discriminator backward -> (it, its step, the later step that applies its
    # gradients, the generator's name)
    fake_not_detached: Dict[int, Tuple[int, int, int, str]] = field(default_factory=dict)
    # GL021: clip call -> ("before-backward" | "after-step", clip, backward or None, step)
    clip_outside: Dict[int, Tuple[str, int, Optional[int], int]] = field(default_factory=dict)
