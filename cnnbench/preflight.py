"""Everything a run is checked for before any work: the typed schema, what fits together, and where it writes.

``cnnbench run`` calls :func:`check_run` on the composed config before Hydra creates its run folder, and
``cnnbench sweep`` on the trial config before trial 0; both stop at the first problem with one line.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cnnbench.atomic import clean_stale, probe_writable
from cnnbench.config_schema import ConfigError, missing_sections, validate
from cnnbench.configstore import GROUPS
from cnnbench.errors import CnnbenchError, IncompatibleConfigError
from cnnbench.kinds import KINDS
from cnnbench.plugins import LoadedRegistry
from cnnbench.registry import Component

if TYPE_CHECKING:
    from cnnbench.training.execute import Plan

#: folders under ``results.dir`` that runs write files into
OUTPUT_FOLDERS = ("runs", "checkpoints")


def plain(cfg: DictConfig) -> dict[str, Any]:
    """``cfg`` resolved into plain containers, Hydra's own node left out; a broken interpolation is one line."""
    node = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]) if "hydra" in cfg else cfg
    missing_sections(node)
    try:
        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or "?"
        reason = str(error).strip().splitlines()[0]
        raise ConfigError(f"cannot resolve config key {key}: {reason}") from None


def other_groups(cfg: DictConfig) -> list[str]:
    """Config groups beyond cnnbench's own (``logger``, ``survey``): their owners check them.

    Hydra's config loader knows every group, a list choice such as ``logger=[csv,tensorboard]`` included
    (``hydra.runtime.choices`` leaves list choices out).
    """
    from hydra.core.global_hydra import GlobalHydra

    groups = set(OmegaConf.to_container(cfg.hydra.runtime.choices)) if "hydra" in cfg else set()
    if GlobalHydra.instance().is_initialized():
        groups |= set(GlobalHydra.instance().config_loader().list_groups(""))
    own = {*GROUPS, "optimizer", "schedule", "trainer", "experiment", "sweep", "hydra"}
    return sorted(group for group in groups if not group.startswith("hydra/") and group not in own)


def check_writable(folder: Any, key: str, *, create: bool = True) -> Path:
    """Create ``folder`` and prove it writable now, not after training; one line naming ``key`` otherwise.

    Without ``create`` nothing is left on disk: for a caller that still has a check to make which may
    refuse the command (a sweep's storage opens after this). The temporary files that killed writers left
    in its record and checkpoint folders are removed.
    """
    try:
        found = probe_writable(Path(str(folder)), key, create=create)
    except OSError as error:
        reason = error.strerror or str(error)
        raise CnnbenchError(f"{key} {folder} cannot hold results: {reason}; give a folder you can write to") from None
    for part in OUTPUT_FOLDERS:
        clean_stale(found / part)
    return found


def check_factory(component: Component, node: Mapping[str, Any] | None = None) -> None:
    """``component``'s factory takes what cnnbench will pass it: its kind's context and its hyperparameters.

    Binds the factory's signature to those names (no value is needed to bind), so a factory that forgot a
    parameter of its kind (an activation without ``channels``) is one line before any data loads, not a
    ``TypeError`` from deep inside the model once the run has started. A factory without a readable
    signature (some builtins) is left to its first call.
    """
    try:
        signature = inspect.signature(component.factory)
    except (TypeError, ValueError):
        return
    context = KINDS[component.kind].context
    hyperparameters = {**component.defaults, **{k: v for k, v in (node or {}).items() if k != "name"}}
    try:
        signature.bind(**dict.fromkeys(context), **hyperparameters)
    except TypeError as error:
        factory = getattr(component.factory, "__qualname__", repr(component.factory))
        passed = [f"{', '.join(context)} (every {component.kind}'s)"] if context else []
        passed += [f"{', '.join(hyperparameters)} (its hyperparameters)"] if hyperparameters else []
        raise IncompatibleConfigError(
            f"{component.label} ({component.distribution}): its factory {factory}({', '.join(signature.parameters)}) {error}; "
            f"cnnbench calls it with {' and '.join(passed) or 'no arguments'} (docs/plugins.md, section 2)"
        ) from None


def check_training_objects(cfg: DictConfig) -> None:
    """Build the optimizer and schedule on one dummy parameter: torch's own checks, before any data loads."""
    import torch
    from hydra.utils import instantiate

    try:
        optimizer = instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
        if cfg.get("schedule"):
            instantiate(cfg.schedule)(optimizer)
    except Exception as error:  # noqa: BLE001 (torch's ValueError/TypeError, Hydra's InstantiationException)
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise ConfigError(f"optimizer or schedule refused by torch: {reason}") from None


def check_data(plan_: Plan, registry: LoadedRegistry) -> None:
    """The task's dataset is there and usable (no split empty): loaded now, as the run will load it.

    Tasks that read a registered dataset keep what they prepare for the process (``labelled_splits``), so
    with the data cache on (the default) the run reuses this load; generated data (segmentation,
    detection) needs no check.
    """
    registered = registry.names("dataset")
    if "dataset" not in plan_.nodes["task"] or not any(fnmatch.filter(registered, pattern) for pattern in plan_.task.datasets):
        return  # generated data: nothing to find (an unknown name is the task's own error, raised in plan)
    plan_.load_data()


def check_run(cfg: DictConfig, registry: LoadedRegistry, *, extra_sections: Iterable[str] = (), defer_folder: bool = False) -> None:
    """The whole run, checked: types and ranges, optimizer and schedule, task / model / loss fit, the data,
    and last (it creates the folder) the results folder, unless the caller has more to check first
    (``defer_folder``)."""
    from cnnbench.training.execute import plan

    resolved = plain(cfg)
    validate(resolved, registry, extra_sections=[*other_groups(cfg), *extra_sections])
    check_training_objects(cfg)
    plan_ = plan(cfg, registry)
    check_data(plan_, registry)
    if not defer_folder:
        check_writable(resolved["results"]["dir"], "results.dir")
