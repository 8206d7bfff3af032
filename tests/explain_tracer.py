"""Run one program under real PyTorch and record, at the lines `gradlint explain`
annotates, what its tensors really are.

    python tests/explain_tracer.py PROGRAM.py WANTED.json OUT.json

WANTED.json maps a line number to the names explain annotates there (`x`, `self.h`).
Each time that line has run in a frame of PROGRAM.py (at the frame's next line event,
or when it returns), every wanted name that is a tensor is recorded (the name `return`:
the value the frame returns, when that line returned it; at a `for` header, the loop
variables only when the body runs next, since the loop's last test rebinds nothing): requires_grad,
is_leaf, and whether grad mode was on. Each recorded tensor's last value says whether
its .grad is populated right after the last backward that ran while it existed (or at
the end, if none did): `torch.autograd.backward`, which `Tensor.backward` calls, is
wrapped in this traced process for that. OUT.json holds
{"status": "ok" | "error", "lines": {line: {name: [facts of each visit]}},
 "grad": {line: {name: true | false}}, "grad_mode": {line: [bool of each visit]}}.
"""

from __future__ import annotations

import ast
import json
import os
import runpy
import sys
import warnings


_NOTHING = object()


def _lookup(frame, name):
    first, *rest = name.split(".")
    if first in frame.f_locals:
        value = frame.f_locals[first]
    elif first in frame.f_globals:
        value = frame.f_globals[first]
    else:
        raise KeyError(name)
    for attr in rest:
        value = getattr(value, attr)
    return value


def main() -> int:
    program, wanted_path, out_path = sys.argv[1:4]
    import torch

    program = os.path.abspath(program)
    wanted = {int(k): v for k, v in json.load(open(wanted_path)).items()}
    lines, grad_mode, last = {}, {}, {}
    pending = {}  # frame -> the wanted line it ran last
    with open(program, "rb") as f:
        bodies = {n.lineno: (n.body[0].lineno, n.body[-1].end_lineno)
                  for n in ast.walk(ast.parse(f.read())) if isinstance(n, (ast.For, ast.AsyncFor))}

    def record(frame, line, returned=_NOTHING):
        mode = torch.is_grad_enabled()
        grad_mode.setdefault(line, []).append(mode)
        body = bodies.get(line)
        if body is not None and not (returned is _NOTHING and body[0] <= frame.f_lineno <= body[1]):
            return  # the loop ended: its variables still hold the last pass's values
        for name in wanted[line]:
            if name == "return":  # a `return` statement's value, seen at its return event
                if returned is _NOTHING:
                    continue
                value = returned
            else:
                try:
                    value = _lookup(frame, name)
                except (KeyError, AttributeError):
                    continue
            if isinstance(value, torch.Tensor):
                lines.setdefault(line, {}).setdefault(name, []).append(
                    {"requires_grad": value.requires_grad, "is_leaf": value.is_leaf})
                last[(line, name)] = value

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != program:
            return None

        def local(frame, event, arg):
            previous = pending.pop(frame, None)
            if previous is not None:
                record(frame, previous, arg if event == "return" else _NOTHING)
            if event == "line" and frame.f_lineno in wanted:
                pending[frame] = frame.f_lineno
            return local

        return local(frame, event, arg)

    # "after the file's backwards": each tracked tensor's .grad right after the last
    # backward that ran while it existed (a later clear does not count)
    after_backward = {}
    real_backward = torch.autograd.backward

    def backward(*args, **kwargs):
        try:
            return real_backward(*args, **kwargs)
        finally:
            for key, value in last.items():
                after_backward[key] = value.grad is not None

    torch.autograd.backward = backward
    status = "ok"
    sys.argv = [program]
    sys.path.insert(0, os.path.dirname(program))
    warnings.simplefilter("ignore")
    sys.settrace(tracer)
    try:
        runpy.run_path(program, run_name="__main__")
    except BaseException:  # the program's own error: what ran before it still counts
        status = "error"
    finally:
        sys.settrace(None)
    grads = {}
    for (line, name), value in last.items():
        grads.setdefault(line, {})[name] = after_backward.get((line, name), value.grad is not None)
    with open(out_path, "w") as f:
        json.dump({"status": status, "lines": lines, "grad": grads, "grad_mode": grad_mode}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
