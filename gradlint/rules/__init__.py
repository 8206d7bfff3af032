"""The rule registry, built from the rule modules."""

from __future__ import annotations

from typing import Dict, Optional

from gradlint.rules import (
    gl000_syntax_error,
    gl001_missing_zero_grad,
    gl002_non_leaf_grad,
    gl003_backward_twice,
    gl004_no_grad_cuts_graph,
    gl005_zero_grad_before_step,
    gl006_loss_kept_with_graph,
    gl007_inplace_on_leaf,
    gl008_int_requires_grad,
    gl009_grad_mode_not_entered,
    gl010_numpy_on_grad_tensor,
    gl011_requires_grad_on_non_leaf,
    gl012_variable_cuts_graph,
    gl013_backward_non_scalar,
    gl014_stale_grad_read,
    gl015_optimizer_in_loop,
    gl016_tensor_from_tensor,
    gl017_step_invalidates_graph,
    gl018_inplace_on_saved_tensor,
    gl019_clip_before_unscale,
    gl020_scheduler_before_step,
    gl021_clip_outside_window,
    gl022_loss_without_graph,
    gl023_fake_not_detached,
    gl101_eval_without_no_grad,
    gl102_data_bypass,
    gl103_accumulation_not_scaled,
    gl104_variable_wrapper,
    gl900_unused_noqa,
    gl999_internal_error,
)
from gradlint.rules.base import Rule

_MODULES = (
    gl000_syntax_error, gl001_missing_zero_grad, gl002_non_leaf_grad, gl003_backward_twice,
    gl004_no_grad_cuts_graph, gl005_zero_grad_before_step, gl006_loss_kept_with_graph,
    gl007_inplace_on_leaf,
    gl008_int_requires_grad, gl009_grad_mode_not_entered, gl010_numpy_on_grad_tensor,
    gl011_requires_grad_on_non_leaf, gl012_variable_cuts_graph, gl013_backward_non_scalar,
    gl014_stale_grad_read, gl015_optimizer_in_loop, gl016_tensor_from_tensor,
    gl017_step_invalidates_graph, gl018_inplace_on_saved_tensor, gl019_clip_before_unscale,
    gl020_scheduler_before_step, gl021_clip_outside_window, gl022_loss_without_graph,
    gl023_fake_not_detached,
    gl101_eval_without_no_grad, gl102_data_bypass, gl103_accumulation_not_scaled,
    gl104_variable_wrapper, gl900_unused_noqa, gl999_internal_error,
)
REGISTRY: Dict[str, Rule] = {m.RULE.code: m.RULE for m in _MODULES}
BY_NAME: Dict[str, Rule] = {r.name: r for r in REGISTRY.values()}


def find_rule(code_or_name: str) -> Optional[Rule]:
    key = code_or_name.strip()
    return REGISTRY.get(key.upper()) or BY_NAME.get(key.lower())


def closest(code_or_name: str) -> Optional[str]:
    candidates = list(REGISTRY) + list(BY_NAME)
    import difflib

    match = difflib.get_close_matches(code_or_name.upper(), [c.upper() for c in candidates], n=1,
                                      cutoff=0.5)
    if not match:
        return None
    for c in candidates:
        if c.upper() == match[0]:
            return c
    return None
