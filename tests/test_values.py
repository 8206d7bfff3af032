"""The analysis's frozen values get a faster `__init__`: the same signature, the same
instances, still frozen; a class it does not fit keeps the dataclass one."""

import dataclasses
import inspect

import pytest

from gradlint.analysis import values
from gradlint.analysis.values import frozen_value

FROZEN = [kind for kind in vars(values).values()
          if isinstance(kind, type) and dataclasses.is_dataclass(kind)
          and kind.__dataclass_params__.frozen]


def _plain(kind):
    """The same class as `dataclasses` alone would make it."""
    return dataclasses.dataclass(frozen=True)(type(kind.__name__, kind.__bases__, {
        "__annotations__": dict(kind.__annotations__),
        **{f.name: (dataclasses.field(default_factory=f.default_factory)
                    if f.default_factory is not dataclasses.MISSING else f.default)
           for f in dataclasses.fields(kind) if f.default is not dataclasses.MISSING
           or f.default_factory is not dataclasses.MISSING}}))


def test_every_frozen_value_has_the_fast_init():
    assert len(FROZEN) >= 13
    for kind in FROZEN:
        assert kind.__init__.__code__.co_filename == f"<frozen value {kind.__name__}>"


@pytest.mark.parametrize("kind", FROZEN, ids=lambda k: k.__name__)
def test_same_signature_same_instances_still_frozen(kind):
    plain = _plain(kind)
    assert inspect.signature(kind) == inspect.signature(plain)
    required = [p for p in inspect.signature(kind).parameters.values()
                if p.default is inspect.Parameter.empty]
    args = [frozenset([i]) if "FrozenSet" in str(p.annotation) else i + 1
            for i, p in enumerate(required)]
    made, expected = kind(*args), plain(*args)
    assert vars(made) == vars(expected)
    assert made == kind(*args) and hash(made) == hash(kind(*args))
    names = [f.name for f in dataclasses.fields(kind)]
    if names:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, names[0], None)
        # every field by keyword, and what `evolve` makes from it
        changed = values.evolve(made, **{names[-1]: "x"})
        assert vars(changed) == {**vars(expected), names[-1]: "x"}


def test_a_class_it_does_not_fit_keeps_the_dataclass_init():
    @frozen_value
    class Checked:
        a: int

        def __post_init__(self):
            object.__setattr__(self, "a", self.a * 2)

    @frozen_value
    class Slotted:
        __slots__ = ("a",)
        a: int

    assert Checked(2).a == 4 and "<frozen value" not in Checked.__init__.__code__.co_filename
    assert Slotted(3).a == 3 and "<frozen value" not in Slotted.__init__.__code__.co_filename


def test_default_factories_are_called_per_instance():
    @frozen_value
    class Holder:
        items: list = dataclasses.field(default_factory=list)

    first, second = Holder(), Holder()
    assert first.items == [] and first.items is not second.items
    assert "<frozen value" in Holder.__init__.__code__.co_filename


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
