"""`__init__`s written for dataclasses whose generated one is slow for how often it runs:
the same parameters and defaults (default factories called per call), each field
stored by a statement of the caller's choosing. Used for the analysis's frozen values
(`analysis/values.py`)."""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List


def init_like(cls, store: Callable[[int, str], str], names: Dict[str, object],
              label: str, prelude: List[str] = ()):
    """An `__init__` with the signature of `cls`'s dataclass one whose body runs
    `prelude`, then `store(i, name)` for field i; `names` are the globals those use."""
    names = {"MISSING": dataclasses.MISSING, **names}
    params, body = [], list(prelude)
    for i, f in enumerate(dataclasses.fields(cls)):
        if f.default is not dataclasses.MISSING:
            names[f"default{i}"] = f.default
            params.append(f"{f.name}=default{i}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"factory{i}"] = f.default_factory
            params.append(f"{f.name}=MISSING")
            body.append(f"if {f.name} is MISSING: {f.name} = factory{i}()")
        else:
            params.append(f.name)
        body.append(store(i, f.name))
    text = "def __init__(self{}):\n    {}\n".format(
        "".join(", " + p for p in params), "\n    ".join(body or ["pass"]))
    exec(compile(text, f"<{label} {cls.__name__}>", "exec"), names)
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init
