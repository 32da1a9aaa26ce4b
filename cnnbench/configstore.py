"""Feed the registry to Hydra: every component becomes an option of its config group, no yaml needed.

A component ``swish`` of kind ``activation`` with defaults ``{"beta": 1.0}`` becomes the group option
``activation=swish`` whose node is ``{"name": "swish", "beta": 1.0}``, so ``activation.beta=2`` works as
for any Hydra config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from cnnbench.registry import Registry

#: The kinds that are Hydra config groups.
GROUPS = ("convolution", "pooling", "activation", "loss", "model", "task")
PROVIDER = "cnnbench"
CONFIG_MODULE = "cnnbench_conf"


def _plain(value: Any) -> Any:
    """OmegaConf holds lists, not tuples."""
    return list(value) if isinstance(value, tuple) else value


def component_node(name: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The config node of one component: its name and its tunable defaults."""
    return {"name": name, **{key: _plain(value) for key, value in defaults.items()}}


def store_components(registry: Registry) -> None:
    """Make every component of ``registry`` an option of its Hydra group, replacing earlier ones."""
    store = ConfigStore.instance()
    for group in GROUPS:
        store.repo.pop(group, None)  # a previous registry's options must not linger
        for component in registry.components(group):
            store.store(
                group=group,
                name=component.name,
                node=component_node(component.name, dict(component.defaults)),
                provider=f"{PROVIDER}:{component.distribution}",
            )


def compose_run_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The config ``cnnbench run <overrides>`` would run, for notebooks, tests and benchmarks.

    Components are the options :func:`store_components` stored last.
    """
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))
