"""Feed the registry to Hydra: every component becomes an option of its config group, no yaml needed.

A component ``swish`` of kind ``activation`` with defaults ``{"beta": 1.0}`` becomes the group option
``activation=swish`` whose node is ``{"name": "swish", "beta": 1.0}``, so ``activation.beta=2`` works as
for any Hydra config. The groups' default options come from :mod:`cnnbench.kinds` through the stored
config ``cnnbench_components``, which ``conf/config.yaml`` lists first in its defaults; it also holds
``data.<dataset>``, the options of each dataset that has any (``data.imagefolder.max_size=128``). The
stored config ``cnnbench_sweep_args``, which ``conf/sweep_config.yaml`` lists, opens the sweep's
``sampler_args`` and ``pruner_args`` to new keys.

Callers do not store by hand: :func:`cnnbench.composition.composing` stores a registry, composes, and
puts back the registry stored before when it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from cnnbench.kinds import GROUPS, KINDS
from cnnbench.registry import Registry

PROVIDER = "cnnbench"
CONFIG_MODULE = "cnnbench_conf"
#: the stored config whose defaults list picks each group's default option
COMPONENTS_CONFIG = "cnnbench_components"
#: the stored config that opens the sweep's keyword-argument mappings; ``conf/sweep_config.yaml`` lists it
SWEEP_ARGS_CONFIG = "cnnbench_sweep_args"
#: sweep settings that hold the keyword arguments of an Optuna sampler or pruner: their keys are the user's
SWEEP_KEYWORD_ARGUMENTS = ("sampler_args", "pruner_args")


def _plain(value: Any) -> Any:
    """OmegaConf holds lists, not tuples."""
    return list(value) if isinstance(value, tuple) else value


def _open_mappings(node: dict[str, Any]) -> DictConfig:
    """``node`` as a config whose mapping values take new keys.

    Hydra closes the composed config (struct mode) before it applies overrides, so the documented
    ``'model.args={width: 16}'`` could not add ``width`` to the default ``args: {}``. A hyperparameter whose
    default is a mapping holds the factory's free keyword arguments (as ``sweep.sampler_args`` holds the
    sampler's): its keys are the user's to choose.
    """
    config = OmegaConf.create(node)
    for key, value in node.items():
        if isinstance(value, Mapping):
            OmegaConf.set_struct(config[key], False)
    return config


def component_node(name: str, defaults: dict[str, Any]) -> DictConfig:
    """The config node of one component: its name and its tunable defaults (mappings open to new keys)."""
    return _open_mappings({"name": name, **{key: _plain(value) for key, value in defaults.items()}})


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
    defaults = [{KINDS[group].group: KINDS[group].default} for group in GROUPS]
    store.store(name=COMPONENTS_CONFIG, node={"defaults": defaults, "data": dataset_options(registry)}, provider=PROVIDER)
    # empty and open: merged over the yaml's defaults, this only lets 'sweep.sampler_args={n_startup_trials: 5}' add keys
    store.store(name=SWEEP_ARGS_CONFIG, node={"sweep": _open_mappings({key: {} for key in SWEEP_KEYWORD_ARGUMENTS})}, provider=PROVIDER)


def dataset_options(registry: Registry) -> dict[str, DictConfig]:
    """``data.<dataset>``: the options of each dataset that has any (``data.imagefolder.max_size=128``)."""
    return {c.name: _open_mappings({key: _plain(value) for key, value in c.defaults.items()}) for c in registry.components("dataset") if c.defaults}
