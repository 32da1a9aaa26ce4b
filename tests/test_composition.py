"""Composing: every registered component is an option of its Hydra group, and each block puts back what it found."""

from __future__ import annotations

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from cnnbench.composition import compose_run_config, composing
from cnnbench.errors import CnnbenchError
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
    with pytest.raises(CnnbenchError, match="alpha"):
        compose_run_config(["activation=swish_cs", "activation.alpha=2"], registry_with_swish)


def test_options_vanish_with_their_registry(registry_with_swish) -> None:
    with composing(registry_with_swish) as session:
        assert session.compose("config", ["activation=swish_cs"]).activation.name == "swish_cs"
    with pytest.raises(CnnbenchError, match="swish_cs"):
        compose_run_config(["activation=swish_cs"])


def test_composing_puts_back_the_registry_stored_before(registry_with_swish) -> None:
    with composing(registry_with_swish):
        with composing() as session:
            with pytest.raises(CnnbenchError, match="swish_cs"):
                session.compose("config", ["activation=swish_cs"])
    with composing(registry_with_swish) as session:
        assert session.compose("config", ["activation=swish_cs"]).activation.name == "swish_cs"


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


def test_an_inner_block_gives_the_outer_registry_back(registry_with_swish) -> None:
    with composing() as outer:
        with composing(registry_with_swish) as inner:
            assert inner.compose("config", ["activation=swish_cs"]).activation.name == "swish_cs"
        with pytest.raises(CnnbenchError, match="swish_cs"):
            outer.compose("config", ["activation=swish_cs"])


def test_a_config_dir_block_inside_another_adds_its_presets_and_restores_the_outer_hydra(tmp_path) -> None:
    (tmp_path / "pooling").mkdir()
    (tmp_path / "pooling" / "mixed03.yaml").write_text("name: mixed\nlam: 0.3\n")
    with composing() as outer:
        with composing(config_dir=str(tmp_path)) as inner:
            assert inner.compose("config", ["pooling=mixed03"]).pooling.lam == 0.3
        assert GlobalHydra.instance().hydra is outer.hydra
        with pytest.raises(CnnbenchError, match="mixed03"):
            outer.compose("config", ["pooling=mixed03"])
    assert not GlobalHydra.instance().is_initialized()


def test_a_missing_config_dir_is_one_line() -> None:
    with pytest.raises(CnnbenchError, match=r"--config-dir /no/such: no such folder"):
        compose_run_config(config_dir="/no/such")
