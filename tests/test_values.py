"""The analysis's values: frozen, and `evolve` / `join_states` fill every field."""

import dataclasses

import pytest

from gradlint.analysis import values

FROZEN = [kind for kind in vars(values).values()
          if isinstance(kind, type) and dataclasses.is_dataclass(kind)
          and kind.__dataclass_params__.frozen]


@pytest.mark.parametrize("kind", FROZEN, ids=lambda k: k.__name__)
def test_values_are_frozen_and_evolve_changes_one_field(kind):
    required = [f for f in dataclasses.fields(kind)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    args = [frozenset([i]) if "FrozenSet" in str(f.type) else i + 1
            for i, f in enumerate(required)]
    made = kind(*args)
    names = [f.name for f in dataclasses.fields(kind)]
    if names:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, names[0], None)
        changed = values.evolve(made, **{names[-1]: "x"})
        assert vars(changed) == {**vars(made), names[-1]: "x"}


def test_a_join_sets_every_field_of_the_state():
    """`join_states` builds its State without the dataclass's `__init__`: a field added to
    State must be joined there too, or the joined state would lack it."""
    from gradlint.analysis.values import State, Tensor, join_states

    a, b = State(), State()
    a.env.update({"x": Tensor(1, True, False), "only_a": values.UNKNOWN, "m.w": values.UNKNOWN})
    b.env.update({"x": Tensor(1, True, True), "only_b": values.UNKNOWN, "m.w": values.UNKNOWN,
                  "n.w": values.UNKNOWN})
    joined = join_states(a, b)
    names = {f.name for f in dataclasses.fields(State)}
    assert set(vars(joined)) == names
    assert joined == State(env=joined.env)  # the defaults joined with themselves
    # a name bound on one path is kept, an attribute path set on one path only is not
    assert joined.env == {"x": Tensor(1, True, None), "only_a": values.UNKNOWN,
                          "only_b": values.UNKNOWN, "m.w": values.UNKNOWN}
