"""Run one program under real PyTorch and record the autograd symptoms gradlint predicts.

    python tests/runtime_monitor.py PROGRAM.py OUT.json

Each symptom is recorded with the lines of PROGRAM.py that were on the stack when it
happened (innermost first), so that a test can check that a finding's line (or one of
its related lines) is where PyTorch misbehaved. Kinds:

- accumulated:       an optimizer step uses a .grad to which a backward added while it
                     still held the gradient of the previous step (nothing cleared it);
                     the lines are those of that backward
- nonleaf-grad:      PyTorch's "not a leaf Tensor" warning on a .grad read
- backward-twice:    RuntimeError "Trying to backward through the graph a second time"
- no-grad-backward:  RuntimeError "element 0 of tensors does not require grad"
- grad-none:         .grad of a leaf that requires grad read as None after a backward,
                     although nothing set it to None
- param-no-grad:     an optimizer steps after a backward while one of its parameters got
                     no gradient since it was last cleared (it silently does not train)
- grad-mode-not-entered: a torch.no_grad() / enable_grad() / inference_mode() object made
                     by the program and never entered nor used as a decorator, or the
                     TypeError of `with torch.no_grad:`
- inplace-on-leaf:   RuntimeError "a (view of a) leaf Variable that requires grad is being
                     used in an in-place operation"
- requires-grad-on-non-leaf: RuntimeError "you can only change requires_grad flags of leaf
                     variables"
- variable-call:     the program called the deprecated torch.autograd.Variable on a tensor
                     that does not require grad
- variable-cut:      ... on a tensor that requires grad (the result is a new leaf: the
                     argument's graph is cut off)
- optimizer-recreated: a parameter is stepped by a new optimizer object made at the same
                     line as the one that stepped it before (its state starts over)
- tensor-from-tensor: PyTorch's "To copy construct from a tensor" UserWarning
- int-requires-grad: RuntimeError "Only Tensors of floating point and complex dtype can
                     require gradients"
- backward-non-scalar: RuntimeError "grad can be implicitly created only for scalar outputs"
- numpy-on-grad:     RuntimeError "Can't call numpy() on Tensor that requires grad"
- cleared-before-step: an optimizer steps after a backward, but every one of its
                     parameters was cleared (set to None or zeroed) after that backward and
                     no backward ran since; the lines are those of the clearing call
- stale-grad-read:   a leaf's .grad read by the program holds the value of the previous
                     read plus what later backwards added (nothing cleared it between)
- data-write:        the program changed a tensor through `.data` (assigned `x.data`, or
                     modified in place the tensor that `x.data` returned); not a
                     gradient's (`p.grad.data.clamp_(...)`)
- eval-graph:        one line of the program ran a model in eval() mode with gradient
                     tracking on at least twice, and no backward ever went through any of
                     those outputs (graphs recorded for nothing)
- graph-kept:        when a function of the program returns (and at the end, for module
                     variables), a variable that the program grows with `name += ...` or
                     `name.append(...)` holds autograd graphs of several iterations (a chain
                     of additions, or several list items with graphs) that no single
                     backward went through; the lines are those growing lines
- inplace-modified:  RuntimeError "one of the variables needed for gradient computation has
                     been modified by an inplace operation"
- scheduler-before-step: PyTorch's warning "Detected call of `lr_scheduler.step()` before
                     `optimizer.step()`" (the first learning rate is skipped)
- clip-scaled, unclipped-step, foreign-grad, no-grad-reached, unscaled-accumulation: see
                     `monitor_steps.py`
- dead-term:         see `monitor_terms.py`
- error:             any other exception that ended the program
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
import warnings

import torch
import torch.optim.optimizer as _optim_module

import monitor_steps
import monitor_terms

PROGRAM = os.path.realpath(sys.argv[1]) if __name__ == "__main__" else None
symptoms = []
_state = {"backwards": 0}
# keyed by id(); the tensors are kept alive so that an id is never reused (short runs)
_cleared = {}  # tensors whose .grad the program (or zero_grad) set to None
_snapshots = {}  # id(param) -> (param, the gradient the last step used)
_hooked = {}


def _program_lines(stack=None):
    frames = stack if stack is not None else traceback.extract_stack()
    lines = [f.lineno for f in frames if os.path.realpath(f.filename) == PROGRAM]
    return list(reversed(lines))


def record(kind, lines=None, detail=""):
    symptoms.append({"kind": kind, "lines": lines if lines is not None else _program_lines(),
                     "detail": detail[:300]})


# -- .grad reads and writes -------------------------------------------------------------
_base_grad = torch._C.TensorBase.grad


def _get_grad(self):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = _base_grad.__get__(self)
    for w in caught:
        if "is not a leaf Tensor" in str(w.message):
            record("nonleaf-grad", detail=str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if value is not None and self.is_leaf and self.requires_grad \
            and sys._getframe(1).f_code.co_filename == PROGRAM:
        _check_stale_read(self, value)
        _grad_owners[id(value)] = (self, value)  # (kept alive: ids stay unique)
    if (value is None and self.is_leaf and self.requires_grad and _state["backwards"]
            and id(self) not in _cleared and _program_lines()[:1]
            and sys._getframe(1).f_code.co_filename == PROGRAM):
        record("grad-none")
    return value


_reads = {}  # id(leaf) -> [leaf, value at the last read, sum of gradients added since]
# id(gradient tensor) -> (the leaf whose .grad the program read it as, the tensor): a
# gradient handed to another parameter (`gp._grad = lp.grad`) is still lp's
_grad_owners = {}


def _check_stale_read(leaf, value):
    entry = _reads.get(id(leaf))
    if entry is not None and entry[2] is not None and entry[1].abs().sum() > 0:
        before, added = entry[1], entry[2]
        if torch.allclose(value, before + added) and not torch.allclose(value, added):
            record("stale-grad-read", detail="the .grad read includes the gradient read before")
    if entry is None:
        entry = _reads[id(leaf)] = [leaf, None, None]

        def added(grad, key=id(leaf)):
            current = _reads[key]
            current[2] = grad.detach().clone() if current[2] is None else current[2] + grad
            return grad

        leaf.register_hook(added)
    entry[1], entry[2] = value.detach().clone(), None


def _mark_cleared(tensor):
    _cleared_at[id(tensor)] = (tensor, _state["backwards"], _program_lines())


_cleared_at = {}  # id(param) -> (param, backward count when cleared, program lines)


def _set_grad(self, value):
    if value is None:
        _mark_cleared(self)
        _cleared[id(self)] = self
        _pending.pop(id(self), None)
    _base_grad.__set__(self, value)


def _del_grad(self):
    _cleared[id(self)] = self
    _base_grad.__delete__(self)


torch.Tensor.grad = property(_get_grad, _set_grad, _del_grad)


# -- writes through .data ----------------------------------------------------------------
_base_data = torch._C.TensorBase.data
_data_reads = []  # (the tensor .data returned, its version then, program lines)


def _get_data(self):
    value = _base_data.__get__(self)
    owner = _grad_owners.get(id(self))
    if owner is not None and owner[1] is self:
        return value  # `p.grad.data`: a gradient, which autograd does not track anyway
    if sys._getframe(1).f_code.co_filename == PROGRAM:
        _data_reads.append((value, value._version, _program_lines()))
    return value


def _set_data(self, value):
    if sys._getframe(1).f_code.co_filename == PROGRAM:
        record("data-write", detail="x.data = ...")
    _base_data.__set__(self, value)


torch.Tensor.data = property(_get_data, _set_data)


def _data_written():
    for value, version, lines in _data_reads:
        if value._version > version:
            record("data-write", lines, "in place through x.data")


# -- accumulators that keep the graphs of several iterations ---------------------------------
_kept = set()


def _growing_lines(name):
    import re
    pattern = re.compile(rf"(^|[^\w.]){re.escape(name)}(\[[^\]]*\])?\s*(\+=|\.append\()")
    with open(PROGRAM) as handle:
        return [n for n, text in enumerate(handle, start=1) if pattern.search(text)]


def _iterations_kept(value):
    """The graph nodes by which `value` holds several iterations' graphs, or None."""
    if isinstance(value, torch.Tensor) and value.grad_fn is not None:
        top, node, depth = value.grad_fn, value.grad_fn, 0
        while node is not None and type(node) is type(top) and top.name().startswith("AddBackward"):
            depth += 1
            node = node.next_functions[0][0] if node.next_functions else None
        return ("chain", {id(top): top}) if depth >= 2 else None
    if isinstance(value, dict):
        for item in value.values():
            found = _iterations_kept(item) if isinstance(item, torch.Tensor) else None
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        nodes = {id(v.grad_fn): v.grad_fn for v in value
                 if isinstance(v, torch.Tensor) and v.grad_fn is not None}
        return ("items", nodes) if len(nodes) >= 2 else None
    return None


_kept_candidates = []  # (name, how, nodes), decided at the end: a later backward may use them


def _scan_variables(variables):
    for name, value in list(variables.items()):
        if isinstance(value, (torch.Tensor, list, tuple, dict)):
            found = _iterations_kept(value)
            if found:
                _kept_candidates.append((name, found[0], found[1]))
        elif _made_by_program(value):
            # an object of the program's own class: what its methods keep on `self`
            for attr, held in list(vars(value).items()):
                if isinstance(held, (torch.Tensor, list, tuple, dict)):
                    found = _iterations_kept(held)
                    if found:
                        _kept_candidates.append((f"self.{attr}", found[0], found[1]))


def _made_by_program(value) -> bool:
    kind = type(value)
    return getattr(kind, "__module__", None) == "__main__" and hasattr(value, "__dict__") \
        and not isinstance(value, type)


def _graphs_kept():
    for name, how, nodes in _kept_candidates:
        need = 1 if how == "chain" else 2  # a backward through the sum, or through 2+ items
        if any(len(nodes.keys() & seen.keys()) >= need for seen in _backward_sets):
            continue
        lines = _growing_lines(name)
        if lines and (name, tuple(lines)) not in _kept:
            _kept.add((name, tuple(lines)))
            record("graph-kept", lines, f"`{name}` holds graphs of several iterations")


def _on_return(frame, event, arg):
    if event == "return" and frame.f_code.co_filename == PROGRAM and frame.f_code.co_name != "<module>":
        _scan_variables(frame.f_locals)


# -- forward passes of models in eval() mode with grad mode on --------------------------------
_eval_calls = {}  # innermost program line -> [program lines, outputs, did a backward reach one]
_module_call = torch.nn.Module.__call__


def _watched_call(self, *args, **kwargs):
    out = _module_call(self, *args, **kwargs)
    if (not self.training and torch.is_grad_enabled() and isinstance(out, torch.Tensor)
            and out.requires_grad and sys._getframe(1).f_code.co_filename == PROGRAM):
        lines = _program_lines()
        entry = _eval_calls.setdefault(lines[0], [lines, 0, False])
        entry[1] += 1

        def reached(grad, entry=entry):
            entry[2] = True
            return grad

        out.register_hook(reached)
    return out


torch.nn.Module.__call__ = _watched_call


def _eval_graphs():
    for lines, count, reached in _eval_calls.values():
        if count >= 2 and not reached:
            record("eval-graph", lines, f"{count} forward passes in eval() mode recorded graphs")


# -- backward and autograd.grad -----------------------------------------------------------
def _classify(err):
    text = str(err)
    if "backward through the graph a second time" in text:
        return "backward-twice"
    if "does not require grad and does not have a grad_fn" in text:
        return "no-grad-backward"
    if "Only Tensors of floating point and complex dtype can require gradients" in text:
        return "int-requires-grad"
    if "grad can be implicitly created only for scalar outputs" in text:
        return "backward-non-scalar"
    if "Can't call numpy() on Tensor that requires grad" in text:
        return "numpy-on-grad"
    if "Variable that requires grad is being used in an in-place operation" in text:
        return "inplace-on-leaf"
    if "you can only change requires_grad flags of leaf variables" in text:
        return "requires-grad-on-non-leaf"
    if "does not support the context manager protocol" in text:
        return "grad-mode-not-entered"
    if "modified by an inplace operation" in text:
        return "inplace-modified"
    return None


_backward_sets = []  # per backward: the graph nodes it went through (kept alive: ids stay unique)


def _graph_nodes(roots):
    seen, stack = {}, [r for r in roots if r is not None]
    while stack and len(seen) < 200000:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return seen


def _divisors(tensor):
    """What the loss was divided by on its way out (`loss / N`, `loss * (1 / N)`; under
    AMP's scale too): the scalar divisors of the Div / Mul nodes at the top of its graph."""
    found, node = set(), getattr(tensor, "grad_fn", None)
    for _ in range(4):
        name = type(node).__name__ if node is not None else ""
        other = getattr(node, "_saved_other", None) if name in ("DivBackward0", "MulBackward0") else None
        if not isinstance(other, torch.Tensor) or other.numel() != 1:
            break
        value = float(other)
        if name == "DivBackward0":
            found.add(value)
        elif 0 < value < 1:
            found.add(1 / value)
        node = node.next_functions[0][0] if node.next_functions else None
    return found


def _note_backward(args, kwargs):
    _state["backward_lines"] = _program_lines()
    first = args[0] if args else kwargs.get("tensors", kwargs.get("outputs"))
    tensors = [first] if isinstance(first, torch.Tensor) else list(first or ())
    if tensors and isinstance(tensors[0], torch.Tensor):
        _state.setdefault("divisors", {})[_state["backwards"]] = _divisors(tensors[0])
    _backward_sets.append(_graph_nodes([t.grad_fn for t in tensors
                                        if isinstance(t, torch.Tensor)]))
    monitor_terms.check_backward(tensors)


def _wrap(fn):
    def wrapper(*args, **kwargs):
        _state["backwards"] += 1
        _note_backward(args, kwargs)
        try:
            return fn(*args, **kwargs)
        except RuntimeError as err:
            kind = _classify(err)
            if kind:
                record(kind, detail=str(err))
                err._gradlint_recorded = True
            raise

    wrapper.__wrapped__ = fn
    return wrapper


torch.autograd.backward = _wrap(torch.autograd.backward)
torch.autograd.grad = _wrap(torch.autograd.grad)


# -- optimizer steps ------------------------------------------------------------------------
_pending = {}  # id(param) -> (stack lines, grad object id, grad version) of a stale add


def _make_param_hook(param):
    def hook(grad):
        before = _snapshots.get(id(param), (None, None))[1]
        current = _base_grad.__get__(param)
        pending = _pending.get(id(param))
        if pending and current is not None and id(current) == pending[1] \
                and current._version == pending[2] + 1:
            # one more backward added onto the same stale gradient, nothing else touched it
            _pending[id(param)] = (pending[0], id(current), current._version)
        elif before is not None and current is not None and current.abs().sum() > 0 \
                and torch.equal(current, before):
            _pending[id(param)] = (_program_lines(), id(current), current._version)
        else:
            _pending.pop(id(param), None)
        return grad

    return hook


def _pre_step(optimizer, args, kwargs):
    # (args holds the optimizer itself first)
    _check_cleared_before_step(optimizer, len(args) > 1 or kwargs.get("closure") is not None)
    if not _state["backwards"]:
        return
    for group in optimizer.param_groups:
        for p in group["params"]:
            grad = _base_grad.__get__(p)
            owner = _grad_owners.get(id(grad)) if grad is not None else None
            if owner is not None and owner[0] is not p and owner[1] is grad:
                p = owner[0]  # an aliased gradient: its backwards add to its owner
            stale = _pending.pop(id(p), None)
            # the gradient this step uses still holds the previous step's: it was added
            # to (version + 1) and never cleared or zeroed since
            if stale and grad is not None and id(grad) == stale[1] and grad._version == stale[2] + 1:
                record("accumulated", stale[0], "the step uses gradients of earlier steps too")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    got = [p for p in params if _base_grad.__get__(p) is not None]
    missing = [p for p in params if _base_grad.__get__(p) is None and id(p) not in _cleared]
    if got and missing:
        record("param-no-grad", detail=f"{len(missing)} of {len(params)} parameters")


_stepped_by = {}  # id(param) -> (optimizer, the program line that made it)
_made_at = {}  # id(optimizer) -> program lines at construction


_optimizer_init = torch.optim.Optimizer.__init__


def _recording_init(self, *args, **kwargs):
    _optimizer_init(self, *args, **kwargs)
    lines = _program_lines()
    if lines:
        _made_at[id(self)] = (self, lines)


torch.optim.Optimizer.__init__ = _recording_init


def _check_recreated(optimizer):
    """A parameter stepped by a new optimizer object made at the same line as the one that
    stepped it before: the optimizer state starts over."""
    here = _made_at.get(id(optimizer))
    # only optimizers that keep state (SGD without momentum stores None buffers)
    stateful = any(v is not None for s in optimizer.state.values() for v in s.values())
    if here is None or not stateful:
        return
    for group in optimizer.param_groups:
        for p in group["params"]:
            before = _stepped_by.get(id(p))
            if before is not None and before[0] is not optimizer and before[1] == here[1][0]:
                record("optimizer-recreated", here[1], "a new optimizer object took over a "
                       "parameter from one made at the same line")
                return


def _post_step(optimizer, args, kwargs):
    _check_recreated(optimizer)
    here = _made_at.get(id(optimizer))
    if here is not None:
        for group in optimizer.param_groups:
            for p in group["params"]:
                _stepped_by[id(p)] = (optimizer, here[1][0], p)
    for group in optimizer.param_groups:
        for p in group["params"]:
            grad = _base_grad.__get__(p)
            _cleared.pop(id(p), None)
            if grad is None:
                continue
            owner = _grad_owners.get(id(grad))
            if owner is not None and owner[0] is not p and owner[1] is grad:
                p = owner[0]  # the backwards that add to this gradient are its owner's
            _snapshots[id(p)] = (p, grad.detach().clone())
            if id(p) not in _hooked and p.requires_grad:
                p.register_hook(_make_param_hook(p))
                _hooked[id(p)] = p


def _wrap_zero_grad(cls, params_of):
    original = cls.zero_grad

    def zero_grad(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        for p in params_of(self):
            _mark_cleared(p)
        return result

    cls.zero_grad = zero_grad


_wrap_zero_grad(torch.optim.Optimizer, lambda o: [p for g in o.param_groups for p in g["params"]])
_wrap_zero_grad(torch.nn.Module, lambda m: list(m.parameters()))
_last_step = {}  # id(optimizer) -> (optimizer, backward count at its last step)


def _check_cleared_before_step(optimizer, closure):
    count = _state["backwards"]
    params = [p for g in optimizer.param_groups for p in g["params"]]
    previous = _last_step.get(id(optimizer), (None, 0))[1]
    marks = [_cleared_at.get(id(p)) for p in params]
    # a step given a closure computes fresh gradients itself before using them
    if params and not closure and count > previous and all(
            m is not None and m[1] == count for m in marks):
        record("cleared-before-step", marks[0][2], "every gradient was cleared after the "
               "last backward, before this step")
    _last_step[id(optimizer)] = (optimizer, count)


_optim_module.register_optimizer_step_pre_hook(_pre_step)
_optim_module.register_optimizer_step_post_hook(_post_step)


# -- warnings PyTorch gives about autograd ---------------------------------------------------------
_show = warnings.showwarning


def _showwarning(message, category, filename, lineno, file=None, line=None):
    where = os.path.realpath(filename)
    if where == os.path.realpath(monitor_terms.__file__):
        # warned one frame up from the program: the torch function mode stands between
        where, lineno = PROGRAM, (_program_lines() or [lineno])[0]
    if "To copy construct from a tensor" in str(message) and where == PROGRAM:
        record("tensor-from-tensor", [lineno], str(message))
    if "Detected call of `lr_scheduler.step()` before `optimizer.step()`" in str(message):
        record("scheduler-before-step", detail=str(message))
    return _show(message, category, filename, lineno, file, line)


warnings.showwarning = _showwarning
warnings.simplefilter("always", UserWarning)


# -- grad-mode context managers that are made and never used ----------------------------------
_made = {}  # id -> (object, program lines where it was made, used?)


def _watch(cls):
    init, enter, call = cls.__init__, cls.__enter__, cls.__call__

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        lines = _program_lines()
        if lines:
            _made[id(self)] = [self, lines, False]

    def __enter__(self):
        if id(self) in _made:
            _made[id(self)][2] = True
        return enter(self)

    def __call__(self, *args, **kwargs):
        if id(self) in _made:
            _made[id(self)][2] = True
        return call(self, *args, **kwargs)

    cls.__init__, cls.__enter__, cls.__call__ = __init__, __enter__, __call__


for _cls in (torch.no_grad, torch.enable_grad, torch.inference_mode):
    _watch(_cls)

# -- the deprecated Variable constructor: record each call the program makes
_variable_meta = type(torch.autograd.Variable)
_variable_call = _variable_meta.__call__


def _recording_call(cls, *args, **kwargs):
    lines = _program_lines()
    result = _variable_call(cls, *args, **kwargs)
    if lines:
        source = args[0] if args else None
        cut = isinstance(source, torch.Tensor) and source.requires_grad
        record("variable-cut" if cut else "variable-call", lines, f"Variable(...) returned a new leaf: {result.is_leaf}, "
               f"shares data: {getattr(source, 'data_ptr', lambda: None)() == result.data_ptr()}")
    return result


_variable_meta.__call__ = _recording_call


def _never_entered():
    for _, lines, used in _made.values():
        if not used:
            record("grad-mode-not-entered", lines, "made and thrown away: grad mode unchanged")


monitor_steps.install(record, _program_lines, lambda: _state["backwards"], _cleared_at,
                      lambda: _state.get("backward_lines", []),
                      lambda count: _state.get("divisors", {}).get(count, set()), PROGRAM)
monitor_terms.install(record, _program_lines)


def main(out_path):
    status = "ok"
    try:
        sys.setprofile(_on_return)
        try:
            module_vars = runpy.run_path(PROGRAM, run_name="__main__")
        finally:
            sys.setprofile(None)
        _scan_variables(module_vars)
    except SystemExit:
        pass
    except BaseException as err:  # the program's own failure is data, not a crash here
        status = "raised"
        if not getattr(err, "_gradlint_recorded", False):
            kind = _classify(err) if isinstance(err, (RuntimeError, TypeError)) else None
            lines = _program_lines(traceback.extract_tb(err.__traceback__))
            record(kind or "error", lines, f"{type(err).__name__}: {err}")
    _never_entered()
    _data_written()
    _eval_graphs()
    _graphs_kept()
    with open(out_path, "w") as handle:
        json.dump({"status": status, "symptoms": symptoms}, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv[2])
