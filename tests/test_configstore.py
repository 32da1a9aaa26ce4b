"""Every registered component is an option of its Hydra group, with no yaml file of its own."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from cnnbench.configstore import compose_run_config, composing
from cnnbench.kinds import GROUPS, KINDS
from cnnbench.plugins import default_registry
from cnnbench.registry import Component, Registry


class Swish:
    def __init__(self, channels: int, beta: float = 1.0) -> None:
        self.beta = beta


@pytest.fixture
def registry_with_swish() -> Registry:
    registry = default_registry().copy()
    registry.add(Component("activation", "swish_cs", Swish, {"beta": 1.0}, "swish", "cnnbench-swish-test"))
    return registry


def test_component_override_and_hyperparameter(registry_with_swish) -> None:
    cfg = compose_run_config(["activation=swish_cs", "activation.beta=2"], registry_with_swish)
    assert OmegaConf.to_container(cfg.activation) == {"name": "swish_cs", "beta": 2}
    assert registry_with_swish.create("activation", cfg.activation, channels=4).beta == 2


def test_a_hyperparameter_the_component_lacks_is_refused(registry_with_swish) -> None:
    with pytest.raises(ConfigCompositionException, match="alpha"):
        compose_run_config(["activation=swish_cs", "activation.alpha=2"], registry_with_swish)


def test_options_vanish_with_their_registry(registry_with_swish) -> None:
    with composing(registry_with_swish) as compose:
        assert compose("config", overrides=["activation=swish_cs"]).activation.name == "swish_cs"
    with pytest.raises(ConfigCompositionException, match="swish_cs"):
        compose_run_config(["activation=swish_cs"])


def test_composing_puts_back_the_registry_stored_before(registry_with_swish) -> None:
    with composing(registry_with_swish):
        with composing() as compose:
            with pytest.raises(ConfigCompositionException, match="swish_cs"):
                compose("config", overrides=["activation=swish_cs"])
    with composing(registry_with_swish) as compose:
        assert compose("config", overrides=["activation=swish_cs"]).activation.name == "swish_cs"


def test_each_group_defaults_to_its_kinds_default(registry) -> None:
    cfg = compose_run_config()
    for group in GROUPS:
        default = KINDS[group].default
        assert (cfg.get(group) or {}).get("name") == default, group


def test_every_builtin_of_every_group_composes(registry) -> None:
    for group in GROUPS:
        for name in registry.names(group):
            cfg = compose_run_config([f"{group}={name}"])
            assert cfg[group].name == name
            assert set(cfg[group]) == {"name", *registry.get(group, name).defaults}
