"""Feed the registry to Hydra and compose: every component becomes an option of its config group, no yaml needed.

A component ``swish`` of kind ``activation`` with defaults ``{"beta": 1.0}`` becomes the group option
``activation=swish`` whose node is ``{"name": "swish", "beta": 1.0}``, so ``activation.beta=2`` works as
for any Hydra config. The groups' default options come from :mod:`cnnbench.kinds` through the stored
config ``cnnbench_components``, which ``conf/config.yaml`` lists first in its defaults.

:func:`composing` is the one way to compose: it stores a registry, opens Hydra's config module, and puts
back what was stored before when it ends, so no caller has to remember "store the registry first".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from cnnbench.kinds import GROUPS, KINDS
from cnnbench.registry import Registry

PROVIDER = "cnnbench"
CONFIG_MODULE = "cnnbench_conf"
#: the stored config whose defaults list picks each group's default option
COMPONENTS_CONFIG = "cnnbench_components"

Compose = Callable[..., DictConfig]
_stored: dict[str, Registry] = {}  # "last": the registry store_components stored last


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
    defaults = [{KINDS[group].group: KINDS[group].default} for group in GROUPS]
    store.store(name=COMPONENTS_CONFIG, node={"defaults": defaults}, provider=PROVIDER)
    _stored["last"] = registry


@contextmanager
def composing(registry: Registry | None = None, config_module: str = CONFIG_MODULE) -> Iterator[Compose]:
    """Store ``registry`` (the installed plugins' by default) and yield Hydra's ``compose`` over cnnbench's configs.

    On exit the registry stored before is stored again, so a test or notebook can compose with a registry
    of its own and leave the installed plugins' options behind it.

    >>> with composing() as compose:  # doctest: +SKIP
    ...     cfg = compose("config", overrides=["pooling=avg"])
    """
    if registry is None:
        from cnnbench.plugins import default_registry

        registry = default_registry()
    previous = _stored.get("last")
    store_components(registry)
    try:
        if GlobalHydra.instance().is_initialized():  # nested: the outer block opened the config module
            yield compose
        else:
            with initialize_config_module(config_module=config_module, version_base="1.3"):
                yield compose
    finally:
        if previous is not None and previous is not registry:
            store_components(previous)


def compose_run_config(overrides: Sequence[str] = (), registry: Registry | None = None) -> DictConfig:
    """The config ``cnnbench run <overrides>`` would run, for notebooks, tests and benchmarks.

    >>> compose_run_config(["pooling=avg"]).pooling.name  # doctest: +SKIP
    'avg'
    """
    with composing(registry) as compose_:
        return compose_(config_name="config", overrides=list(overrides))
