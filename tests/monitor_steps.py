"""The runtime monitor's checks of the order inside a training step (GL019, GL021):
AMP-scaled gradients that are clipped, and steps that apply gradients no clip saw.
Installed by `runtime_monitor.py` before the program runs. Kinds:

- clip-scaled:     clip_grad_norm_ / clip_grad_value_, or a `.grad.clamp_` by hand, ran
                   on gradients that a GradScaler had scaled (scale() since its last
                   update(), and no unscale_() of an optimizer holding those
                   parameters); the lines are the clip's
- scaled-grad-read: a norm of such gradients (`p.grad.norm()`, `torch.norm(p.grad)`)
                   computed by the program; the lines are the norm's
- unclipped-step:  an optimizer step applied a gradient that no clip saw (a backward
                   changed it since the last clip), although the parameter was clipped
                   since that optimizer's previous step (or before its first); the lines
                   are the step's and that clip's
- foreign-grad:    an optimizer step applies, to a parameter, gradients of two or more
                   backwards since its last step or clear, and the earlier backward also
                   reached the parameters of another optimizer that stepped after it and
                   does not hold this one (a GAN's discriminator loss left gradients in
                   the generator); the lines are the step's and the earlier backward's
- unscaled-accumulation: an optimizer step applies, to a parameter, gradients that one
                   backward call (one program line) added k >= 2 times since the
                   parameter's last step or clear, and that loss was not divided by k;
                   the lines are the step's and that backward's
- no-grad-reached: an optimizer steps after a backward, and none of its parameters has a
                   gradient, though none was cleared since that backward: the backward
                   reached none of them; the lines are the step's and that backward's
"""

from __future__ import annotations

import math
import sys

import torch
import torch.optim.optimizer as _optim_module

_scalers = {}  # id(scaler) -> [scaler, scaled since update?, ids of params unscaled since]
_clipped = {}  # id(param) -> (param, id(grad), grad version right after the clip)
_last_clip = {}  # id(param) -> (event count, the clip's innermost program line)
_last_step = {}  # id(optimizer) -> (optimizer, event count)
_events = [0]
_hooks = {}


def _params_of(optimizer):
    return [p for g in optimizer.param_groups for p in g["params"]]


def _wrap_scaler():
    cls = torch.amp.GradScaler
    scale, unscale, update = cls.scale, cls.unscale_, cls.update

    def scaled(self, outputs):
        if self.is_enabled():
            _scalers.setdefault(id(self), [self, False, set()])[1] = True
        return scale(self, outputs)

    def unscale_(self, optimizer):
        entry = _scalers.get(id(self))
        params = _params_of(optimizer)
        if entry is not None:
            entry[2].update(id(p) for p in params)
        current = [p for p in params if _is_current(p)]
        result = unscale(self, optimizer)
        for p in current:  # dividing clipped gradients by the scale keeps them clipped
            _clipped[id(p)] = (p, id(p.grad), p.grad._version)
        return result

    def updated(self, *args, **kwargs):
        entry = _scalers.get(id(self))
        if entry is not None:
            entry[1], entry[2] = False, set()
        return update(self, *args, **kwargs)

    cls.scale, cls.unscale_, cls.update = scaled, unscale_, updated


def _is_current(p):
    entry = _clipped.get(id(p))
    grad = p.grad
    return entry is not None and grad is not None and entry[1] == id(grad) and \
        entry[2] == grad._version


def _wrap_clip(name, limit_name):
    original = getattr(torch.nn.utils.clip_grad, name)

    def clip(parameters, *args, **kwargs):
        params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
        lines = _hooks["lines"]()
        limit = args[0] if args else kwargs.get(limit_name)
        measuring = isinstance(limit, (int, float)) and math.isinf(limit)
        with_grad = [p for p in params if p.grad is not None]
        for _, scaled, unscaled in _scalers.values():
            if scaled and any(id(p) not in unscaled for p in with_grad):
                _hooks["record"]("clip-scaled", lines, "clipped gradients still multiplied "
                                 "by the loss scale")
                break
        result = original(params, *args, **kwargs)
        if not measuring:
            _events[0] += 1
            for p in params:  # (one with no gradient yet is clipped too: nothing to clip)
                if p.grad is not None:
                    _clipped[id(p)] = (p, id(p.grad), p.grad._version)
                _last_clip[id(p)] = (_events[0], lines[:1])
        return result

    clip.__wrapped__ = original
    for where in (torch.nn.utils, torch.nn.utils.clip_grad):
        if getattr(where, name, None) is original:
            setattr(where, name, clip)


def _scaled_grad(tensor):
    """The parameter whose gradient `tensor` is (`.data` is another tensor object over the
    same memory: compared by address), when a GradScaler holds that gradient scaled."""
    owner = next((entry[0] for entry in _contributions.values()
                  if entry[0].grad is not None and tensor.numel()
                  and entry[0].grad.data_ptr() == tensor.data_ptr()), None)
    if owner is not None and any(scaled and id(owner) not in unscaled
                                 for _, scaled, unscaled in _scalers.values()):
        return owner
    return None


def _wrap_grad_uses():
    """`p.grad.clamp_(-c, c)`: a clip by value written by hand (clip-scaled);
    `p.grad.norm()`, `torch.norm(p.grad)`: a measure of the gradient (scaled-grad-read)."""
    def watch(where, name, kind, detail):
        original = getattr(where, name)

        def use(tensor, *args, **kwargs):
            if (isinstance(tensor, torch.Tensor) and sys._getframe(1).f_code.co_filename
                    == _hooks["program"] and _scaled_grad(tensor) is not None):
                _hooks["record"](kind, _hooks["lines"](), detail)
            return original(tensor, *args, **kwargs)

        setattr(where, name, use)

    for name in ("clamp_", "clip_"):
        watch(torch.Tensor, name, "clip-scaled",
              "gradients clamped while still multiplied by the loss scale")
    watch(torch.Tensor, "norm", "scaled-grad-read",
          "a norm of gradients still multiplied by the loss scale")
    for where, name in ((torch, "norm"), (torch.linalg, "norm"), (torch.linalg, "vector_norm")):
        watch(where, name, "scaled-grad-read",
              "a norm of gradients still multiplied by the loss scale")


def _pre_step(optimizer, args, kwargs):
    _watch_params(optimizer)
    _check_foreign(optimizer)
    _check_accumulation(optimizer)
    _check_reached(optimizer)
    _step_log.append((_hooks["backwards"](), optimizer, {id(p) for p in _params_of(optimizer)}))
    _events[0] += 1
    previous = _last_step.get(id(optimizer), (None, 0))[1]
    _last_step[id(optimizer)] = (optimizer, _events[0])
    for p in _params_of(optimizer):
        clip = _last_clip.get(id(p))
        if p.grad is not None and clip is not None and clip[0] > previous and not _is_current(p):
            _hooks["record"]("unclipped-step", _hooks["lines"]() + clip[1],
                             "the step applied a gradient that no clip saw")
            return


_stepped_at = {}  # id(optimizer) -> (optimizer, backward count at its last step)
_contributions = {}  # id(param) -> [param, [(backward count, that backward's lines)]]
_step_log = []  # (backward count, optimizer, ids of its parameters) of every step
_reached = {}  # backward count -> ids of the watched parameters it gave a gradient


def _watch_params(optimizer):
    for p in _params_of(optimizer):
        if p.requires_grad and id(p) not in _contributions:
            entry = _contributions[id(p)] = [p, []]

            def hook(grad, entry=entry, key=id(p)):
                count = _hooks["backwards"]()
                entry[1].append((count, _hooks["backward_lines"]()))
                _reached.setdefault(count, set()).add(key)
                return grad

            p.register_hook(hook)


def _check_foreign(optimizer):
    count = _hooks["backwards"]()
    previous = _stepped_at.get(id(optimizer), (None, 0))[1]
    cleared = _hooks["cleared_at"]
    for p in _params_of(optimizer):
        entry = _contributions.get(id(p))
        if entry is None:
            continue
        since = max(previous, cleared[id(p)][1] if id(p) in cleared else 0)
        added = [c for c in entry[1] if c[0] > since]
        if len(added) < 2:
            continue
        first = added[0]
        # that earlier loss was another optimizer's: it reached parameters of an optimizer
        # that stepped since, and does not hold this one (a GAN's discriminator loss)
        meant = _reached.get(first[0], set())
        if any(other is not optimizer and first[0] <= at < count and id(p) not in ids
               and ids & meant for at, other, ids in _step_log):
            _hooks["record"]("foreign-grad", _hooks["lines"]() + first[1],
                             "the step applied gradients a loss left before another optimizer's step")
            return


def _check_reached(optimizer):
    count = _hooks["backwards"]()
    previous = _stepped_at.get(id(optimizer), (None, 0))[1]
    _stepped_at[id(optimizer)] = (optimizer, count)
    params = _params_of(optimizer)
    cleared = _hooks["cleared_at"]
    if count > previous and params and all(p.grad is None for p in params) and not any(
            id(p) in cleared and cleared[id(p)][1] == count for p in params):
        _hooks["record"]("no-grad-reached", _hooks["lines"]() + _hooks["backward_lines"](),
                         "the step found no gradient: the backward reached none of its parameters")


def _check_accumulation(optimizer):
    previous = _stepped_at.get(id(optimizer), (None, 0))[1]
    cleared = _hooks["cleared_at"]
    for p in _params_of(optimizer):
        entry = _contributions.get(id(p))
        if entry is None:
            continue
        since = max(previous, cleared[id(p)][1] if id(p) in cleared else 0)
        added = {}
        for count, lines in entry[1]:
            if count > since:
                added.setdefault(count, lines)
        k = len(added)
        where = {tuple(lines[:1]) for lines in added.values()}
        if k >= 2 and len(where) == 1 and not all(
                any(abs(d - k) < 1e-6 for d in _hooks["divisors"](c)) for c in added):
            _hooks["record"]("unscaled-accumulation",
                             _hooks["lines"]() + next(iter(added.values())),
                             f"the step applies the sum of {k} backwards of one loss, not divided by {k}")
            return


def install(record, program_lines, backwards, cleared_at, backward_lines, divisors, program):
    """`backwards`: the number of backward calls so far; `cleared_at`: id(param) ->
    (param, backward count when its gradient was cleared, lines); `backward_lines`: the
    program lines of the latest backward; `divisors`: what the loss of backward number n
    was divided by; `program`: the program's file name (its own calls are watched, not
    those PyTorch makes inside `clip_grad_norm_`)."""
    _hooks.update(program=program, record=record, lines=program_lines, backwards=backwards, cleared_at=cleared_at,
                  backward_lines=backward_lines, divisors=divisors)
    _wrap_scaler()
    _wrap_clip("clip_grad_norm_", "max_norm")
    _wrap_clip("clip_grad_value_", "clip_value")
    if hasattr(torch.nn.utils.clip_grad, "clip_grad_norm"):
        _wrap_clip("clip_grad_norm", "max_norm")
    _wrap_grad_uses()
    _optim_module.register_optimizer_step_pre_hook(_pre_step)
    init = torch.optim.Optimizer.__init__

    def watched_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        _watch_params(self)

    torch.optim.Optimizer.__init__ = watched_init
