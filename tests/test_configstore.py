"""Every registered component is an option of its Hydra group, with no yaml file of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from cnnbench.configstore import compose_run_config, store_components
from cnnbench.plugins import default_registry
from cnnbench.registry import Component


class Swish:
    def __init__(self, channels: int, beta: float = 1.0) -> None:
        self.beta = beta


@pytest.fixture
def registry_with_swish() -> Iterator:
    registry = default_registry().copy()
    registry.add(Component("activation", "swish_cs", Swish, {"beta": 1.0}, "swish", "cnnbench-swish-test"))
    store_components(registry)
    try:
        yield registry
    finally:
        store_components(default_registry())


def composed(*overrides: str):
    return compose_run_config(overrides)


def test_component_override_and_hyperparameter(registry_with_swish) -> None:
    cfg = composed("activation=swish_cs", "activation.beta=2")
    assert OmegaConf.to_container(cfg.activation) == {"name": "swish_cs", "beta": 2}
    assert registry_with_swish.create("activation", cfg.activation, channels=4).beta == 2


def test_a_hyperparameter_the_component_lacks_is_refused(registry_with_swish) -> None:
    with pytest.raises(ConfigCompositionException, match="alpha"):
        composed("activation=swish_cs", "activation.alpha=2")


def test_options_vanish_with_their_registry(registry_with_swish) -> None:
    store_components(default_registry())
    with pytest.raises(ConfigCompositionException, match="swish_cs"):
        composed("activation=swish_cs")


def test_every_builtin_of_every_group_composes(registry) -> None:
    for group in ("convolution", "pooling", "activation", "loss", "task"):
        for name in registry.names(group):
            cfg = composed(f"{group}={name}")
            assert cfg[group].name == name
            assert set(cfg[group]) == {"name", *registry.get(group, name).defaults}
