"""Run one program under real PyTorch and record, at the lines `gradlint explain`
annotates, what its tensors really are.

    python tests/explain_tracer.py PROGRAM.py WANTED.json OUT.json

WANTED.json maps a line number to the names explain annotates there (`x`, `self.h`).
Each time that line has run in a frame of PROGRAM.py (at the frame's next line event,
or when it returns), every wanted name that is a tensor is recorded: requires_grad,
is_leaf, and whether grad mode was on. Each recorded tensor's last value says whether
its .grad is populated right after the last backward that ran while it existed (or at
the end, if none did): `torch.autograd.backward`, which `Tensor.backward` calls, is
wrapped in this traced process for that. OUT.json holds
{"status": "ok" | "error", "lines": {line: {name: [facts of each visit]}},
 "grad": {line: {name: true | false}}, "grad_mode": {line: [bool of each visit]}}.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import warnings


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

    def record(frame, line):
        mode = torch.is_grad_enabled()
        grad_mode.setdefault(line, []).append(mode)
        for name in wanted[line]:
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
                record(frame, previous)
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
