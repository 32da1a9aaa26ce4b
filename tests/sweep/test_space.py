"""Search spaces and objectives: what is accepted, what each value becomes, what is refused and how."""

from __future__ import annotations

from typing import Any

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from cnnbench.sweep.space import Objective, SweepConfigError, parse_objectives, parse_space, record_value

GROUPS = {"activation": ["elu", "relu"], "pooling": ["avg", "max", "mixed"]}
VALUES = {"pooling.lam", "optimizer.lr", "trainer.batch_size", "loss.mining"}


def parse(params: dict[str, Any], registry):
    return parse_space(params, registry, groups=GROUPS, has_key=VALUES.__contains__)


def test_nested_specs_become_distributions_at_their_config_paths(registry):
    space = parse(
        {
            "pooling": {"lam": {"type": "float", "low": 0.0, "high": 1.0}},
            "optimizer": {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}},
            "trainer": {"batch_size": {"type": "int", "low": 16, "high": 128, "step": 16}},
            "activation": {"type": "categorical", "choices": ["relu", "elu"]},
        },
        registry,
    )
    by_key = {p.key: p for p in space.params}
    assert by_key["pooling.lam"].distribution == FloatDistribution(0.0, 1.0)
    assert by_key["optimizer.lr"].distribution == FloatDistribution(1e-4, 0.1, log=True)
    assert by_key["trainer.batch_size"].distribution == IntDistribution(16, 128, step=16)
    assert by_key["activation"].distribution == CategoricalDistribution(["relu", "elu"])
    assert by_key["activation"].group and not by_key["pooling.lam"].group
    assert space.params[0].key == "activation"  # group choices first: they decide which config is composed


def test_registry_choices_list_every_registered_component(registry):
    groups = {"activation": registry.names("activation")}
    space = parse_space(
        {"activation": {"type": "categorical", "choices": "registry:activation"}}, registry, groups=groups, has_key=lambda key: False
    )
    assert list(space.params[0].distribution.choices) == registry.names("activation")


def test_registry_choices_include_third_party_plugins():
    from cnnbench import hookimpl
    from cnnbench.plugins import PluginSource, load_registry

    class Swish:
        @staticmethod
        @hookimpl
        def cnnbench_register_activations(register):
            register("swish_test", lambda channels, beta=1.0: None, beta=1.0)

    registry = load_registry(extra=[(PluginSource("swish_test", "third-party"), Swish)])
    groups = {"activation": registry.names("activation")}
    space = parse_space(
        {"activation": {"type": "categorical", "choices": "registry:activation"}}, registry, groups=groups, has_key=lambda key: False
    )
    assert "swish_test" in space.params[0].distribution.choices


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pooling": {"lam": {"type": "float", "low": 0.8, "high": 0.2}}}, "sweep.params.pooling.lam: low 0.8 > high 0.2"),
        ({"optimizer": {"lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}}, "a log scale needs low > 0"),
        ({"pooling": {"nope": {"type": "float", "low": 0.0, "high": 1.0}}}, "'pooling.nope' is not a value of the composed config"),
        ({"activation": {"type": "categorical", "choices": []}}, "sweep.params.activation: choices is empty"),
        ({"loss": {"mining": {"type": "categorical", "choices": []}}}, "sweep.params.loss.mining: choices is empty"),
        ({"pooling": {"lam": {"type": "uniform", "low": 0, "high": 1}}}, "type must be one of float, int, categorical"),
        ({"pooling": {"lam": {"type": "float", "low": 0, "high": 1, "q": 2}}}, "unknown q"),
        ({"pooling": {"lam": {"type": "float", "low": 0, "high": 1, "step": 0}}}, "step must be > 0"),
        ({"trainer": {"batch_size": {"type": "int", "low": 1, "high": 64, "log": True, "step": 2}}}, "log scale and step cannot be combined"),
        ({"trainer": {"batch_size": {"type": "int", "low": 1.5, "high": 64}}}, "low must be an integer"),
        ({"pooling": {"type": "float", "low": 0, "high": 1}}, "pooling is a config group; search it with type: categorical"),
        ({"pooling": {"type": "categorical", "choices": ["max", "maxx"]}}, "no option 'maxx' in group pooling"),
        ({"activation": {"type": "categorical", "choices": "registry:nonsense"}}, "unknown registry kind 'nonsense'"),
        ({"pooling": {"lam": 0.5}}, "expected {type: float|int|categorical, ...}, got 0.5"),
        ({}, "sweep.params is empty"),
    ],
)
def test_invalid_spaces_are_refused_with_one_line(registry, params, expected):
    with pytest.raises(SweepConfigError) as refused:
        parse(params, registry)
    message = str(refused.value)
    assert expected in message
    assert "\n" not in message


def test_grid_enumerates_steps_and_refuses_continuous_floats(registry):
    space = parse(
        {
            "pooling": {"lam": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.25}},
            "trainer": {"batch_size": {"type": "int", "low": 16, "high": 64, "step": 16}},
            "activation": {"type": "categorical", "choices": ["relu", "elu"]},
        },
        registry,
    )
    assert space.grid() == {
        "activation": ["relu", "elu"],
        "pooling.lam": [0.0, 0.25, 0.5, 0.75, 1.0],
        "trainer.batch_size": [16, 32, 48, 64],
    }
    continuous = parse({"pooling": {"lam": {"type": "float", "low": 0.0, "high": 1.0}}}, registry)
    with pytest.raises(SweepConfigError, match="need a step for a float parameter"):
        continuous.grid()


def test_a_grid_too_large_to_enumerate_is_refused_without_listing_it(registry):
    huge = parse({"pooling": {"lam": {"type": "float", "low": 0.0, "high": 1.0, "step": 1e-8}}}, registry)
    with pytest.raises(SweepConfigError, match=r"the grid has 1e\+08 points, more than the 100000"):
        huge.grid()


def test_slot_grid_sampler_runs_each_point_of_the_product_once_per_round():
    import itertools

    from cnnbench.sweep.strategy import SlotGridSampler

    grid = {"a": [1, 2, 3], "b": ["x", "y"], "c": [0.5, 1.5]}
    sampler = SlotGridSampler(grid, seed=0)
    assert sorted(sampler.point(rank) for rank in range(12)) == sorted(itertools.product(*grid.values()))
    assert sampler.point(12) == sampler.point(0)


def test_fingerprint_changes_with_the_space_and_the_objectives(registry):
    narrow = parse({"pooling": {"lam": {"type": "float", "low": 0.0, "high": 0.5}}}, registry)
    wide = parse({"pooling": {"lam": {"type": "float", "low": 0.0, "high": 1.0}}}, registry)
    up, down = (Objective("accuracy", "maximize"),), (Objective("accuracy", "minimize"),)
    assert narrow.fingerprint(up) == parse({"pooling": {"lam": {"type": "float", "low": 0.0, "high": 0.5}}}, registry).fingerprint(up)
    assert len({narrow.fingerprint(up), wide.fingerprint(up), narrow.fingerprint(down)}) == 3


def test_objectives_default_to_the_task_primary_metric_and_read_record_paths():
    assert parse_objectives(None, "accuracy", True) == (Objective("accuracy", "maximize"),)
    assert parse_objectives(None, "loss", False) == (Objective("loss", "minimize"),)
    two = parse_objectives([{"metric": "accuracy", "direction": "maximize"}, {"metric": "timing.train_s", "direction": "minimize"}], "x", True)
    record = {"metrics": {"validation": {"accuracy": 0.9, "per_class": [1.0]}, "test": {"accuracy": 0.7}}, "timing": {"train_s": 12.5}, "params": 61706}
    assert [record_value(record, o.metric) for o in two] == [0.9, 12.5]  # validation: what sweeps optimise
    assert record_value(record, "accuracy", "test") == 0.7
    assert record_value(record, "params") == 61706.0
    with pytest.raises(SweepConfigError, match="objective 'recall' is not in the run record; metrics: accuracy"):
        record_value(record, "recall")
    with pytest.raises(SweepConfigError, match="direction of accuracy must be maximize or minimize"):
        parse_objectives([{"metric": "accuracy", "direction": "up"}], "x", True)
