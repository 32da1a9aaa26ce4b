"""Everything a sweep needs, prepared and checked from the command's overrides before any trial runs.

The parent process and every worker process build the same :class:`Sweep` from the same overrides, so a
worker on another machine needs nothing but the command line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution

from cnnbench.composition import check_groups, current
from cnnbench.config_schema import ConfigError, validate
from cnnbench.errors import CnnbenchError
from cnnbench.kinds import GROUPS
from cnnbench.overrides import parse_overrides
from cnnbench.plugins import LoadedRegistry
from cnnbench.preflight import check_factory, check_run, check_writable, other_groups, plain
from cnnbench.sweep.compose import TrialConfigs
from cnnbench.sweep.space import Objective, Param, SearchSpace, SweepConfigError, parse_objectives, parse_space
from cnnbench.sweep.storage import JOURNAL_NAME
from cnnbench.sweep.strategy import FINITE, check_strategy, make_pruner, make_sampler

#: sweep settings that steer a run of the study but do not define it: changing them continues the same study
RUN_CONTROL = frozenset(
    {"study", "storage", "trials", "workers", "retry_failed", "max_retry", "heartbeat_s", "sampler", "sampler_args", "pruner", "pruner_args", "seed"}
)
_STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
#: numbers of a run record a sweep may optimise besides the task's metrics
RECORD_NUMBERS = ("timing.train_s", "timing.eval_s", "timing.throughput", "params", "peak_memory_bytes")


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SweepConfigError(f"sweep.{name} must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class SweepSettings:
    """The ``sweep`` node of the config, checked (see ``conf/sweep_config.yaml`` for each setting)."""

    params: Mapping[str, Any]
    study: str | None = None
    storage: str | None = None
    trials: int = 20
    workers: int = 1
    sampler: str = "tpe"
    sampler_args: Mapping[str, Any] = field(default_factory=dict)
    pruner: str = "median"
    pruner_args: Mapping[str, Any] = field(default_factory=dict)
    objectives: Any = None
    seeds: tuple[int, ...] | None = None
    retry_failed: bool = False
    max_retry: int = 2
    heartbeat_s: int = 10
    seed: int = 0

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> SweepSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(node) - known)
        if unknown:
            raise SweepConfigError(f"unknown sweep setting {', '.join(unknown)}; settings: {', '.join(sorted(known))}")
        settings = cls(**node)
        _int("trials", settings.trials, 1)
        _int("workers", settings.workers, 1)
        _int("max_retry", settings.max_retry, 0)
        _int("heartbeat_s", settings.heartbeat_s, 1)
        _int("seed", settings.seed, 0)
        if settings.study is not None and not (isinstance(settings.study, str) and _STUDY_NAME.fullmatch(settings.study)):
            raise SweepConfigError(
                f"sweep.study must be a folder name of up to 100 ASCII letters, digits, '_', '-' and '.' that starts with a letter or digit, got {settings.study!r}"
            )
        if settings.storage is not None and not (isinstance(settings.storage, str) and settings.storage):
            raise SweepConfigError("sweep.storage must be a database URL or a journal file path")
        if not isinstance(settings.retry_failed, bool):
            raise SweepConfigError(f"sweep.retry_failed must be true or false, got {settings.retry_failed!r}")
        for name in ("sampler_args", "pruner_args"):
            if not isinstance(getattr(settings, name), Mapping):
                raise SweepConfigError(f"sweep.{name} must be a mapping of keyword arguments, got {getattr(settings, name)!r}")
        if settings.seeds is not None:
            seeds = settings.seeds
            if not isinstance(seeds, Sequence) or not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
                raise SweepConfigError(f"sweep.seeds must be null or a non-empty list of integers, got {seeds!r}")
            if len(set(seeds)) != len(seeds):
                raise SweepConfigError(f"sweep.seeds has duplicates: {list(seeds)}")
            settings = cls(**{**node, "seeds": tuple(seeds)})
        return settings


def study_name(preset: str | None, overrides: Sequence[str]) -> str:
    """The preset's name, plus a hash of the overrides that define the study: the same command, the same study."""
    parsed = parse_overrides(overrides)
    defining = sorted(
        o.input_line
        for o in parsed
        if o.key_or_group != "sweep" and not (o.key_or_group.startswith("sweep.") and o.key_or_group.split(".")[1] in RUN_CONTROL)
    )
    base = preset or "sweep"
    return f"{base}-{hashlib.sha1(json.dumps(defining).encode()).hexdigest()[:8]}" if defining else base


@dataclass
class Sweep:
    """A checked sweep: its configs, search space, objectives, strategy, study and storage."""

    overrides: list[str]
    registry: LoadedRegistry
    configs: TrialConfigs
    settings: SweepSettings
    space: SearchSpace
    objectives: tuple[Objective, ...]
    study_name: str
    storage: str
    folder: Path  # results/sweeps/<study>: the best trial's overrides and yaml go here
    config_dir: str | None = None  # --config-dir: the user's presets, which every worker needs too

    @property
    def epochs(self) -> int:
        return int(self.configs.base.trainer.epochs)

    @property
    def steps(self) -> int:
        """Pruning steps of one trial: each epoch of each seed."""
        return self.epochs * len(self.settings.seeds or (0,))

    @property
    def trials(self) -> int:
        """The study's size: ``sweep.trials``, capped at the grid for grid and brute-force search."""
        if self.settings.sampler in FINITE:
            return min(self.settings.trials, self.space.grid_size())
        return self.settings.trials

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.space.params if p.group)


def prepare(overrides: Sequence[str], registry: LoadedRegistry, config_dir: str | None = None) -> Sweep:
    """Compose, read and check the sweep; raise a one-line :class:`CnnbenchError` for anything wrong.

    Must run inside :func:`cnnbench.composition.composing` (with the same ``config_dir``).
    """
    check_groups(current().hydra, overrides)
    configs = TrialConfigs(overrides)
    node = OmegaConf.to_container(configs.base.sweep, resolve=True)
    settings = SweepSettings.from_node(node)
    space = parse_space(settings.params, registry, groups=configs.groups(), has_key=configs.has_value)
    base_run = configs.trial({})
    check_run(base_run, registry, extra_sections=other_groups(configs.base), defer_folder=True)
    check_space_values(space, configs, registry)
    task = registry.create("task", OmegaConf.to_container(base_run.task, resolve=True))
    objectives = parse_objectives(settings.objectives, task.primary_metric, task.maximize)
    check_objective_metrics(objectives, task, str(base_run.task.name))
    check_strategy(settings.sampler, settings.pruner, space, len(objectives))
    name = settings.study or study_name(configs.base.hydra.runtime.choices.get("sweep"), overrides)
    folder = Path(str(base_run.results.dir)) / "sweeps" / name
    check_writable(base_run.results.dir, "results.dir", create=False)  # the storage may still refuse the sweep (open_study)
    storage = settings.storage or str(folder / JOURNAL_NAME)  # safe for several processes on this host
    sweep = Sweep(list(overrides), registry, configs, settings, space, objectives, name, storage, folder, config_dir)
    # built once now, so that sweep.sampler_args and sweep.pruner_args are refused before the storage exists
    make_sampler(settings.sampler, settings.sampler_args, space, settings.seed, settings.seed)
    make_pruner(settings.pruner, settings.pruner_args, sweep.steps)
    return sweep


def check_space_values(space: SearchSpace, configs: TrialConfigs, registry: LoadedRegistry) -> None:
    """Every bound and choice of the search space is a value the schema allows at its key, and every
    component a choice picks has a factory its trial can call (:func:`check_component_choices`)."""
    for param in space.params:
        if param.group:
            check_component_choices(param, configs, registry)
            continue
        dist = param.distribution
        values = list(dist.choices) if isinstance(dist, CategoricalDistribution) else [dist.low, dist.high]
        for value in values:
            try:
                validate(plain(configs.trial({param.key: value})), registry, extra_sections=other_groups(configs.base))
            except ConfigError as error:
                raise SweepConfigError(f"sweep.params.{param.key}: {error}") from None


def check_component_choices(param: Param, configs: TrialConfigs, registry: LoadedRegistry) -> None:
    """Each component a config-group parameter picks has a factory that takes its kind's context and passes
    its plugin's own check (``Spec.check``): what ``cnnbench run`` checks before work, here before trial 0.

    A choice that is a registered name is that component with its defaults; only another option (a preset
    file of ``--config-dir``) is composed, checked by the schema, and read for the component it names.
    """
    if param.key not in GROUPS:
        return  # a group of another part (logger): its owner checks it
    for choice in param.distribution.choices:
        try:
            if choice in registry.names(param.key):
                component, node = registry.get(param.key, choice), None
                component.spec.check_values(component.label, {})  # the plugin's own check, of its defaults
            else:  # the schema checks the preset's values, the plugin's own check among them
                trial = plain(configs.trial({param.key: choice}, groups=(param.key,)))
                validate(trial, registry, extra_sections=other_groups(configs.base))
                node = trial[param.key]
                component = registry.get(param.key, str(node["name"]))
            check_factory(component, node)
        except CnnbenchError as error:
            raise SweepConfigError(f"sweep.params.{param.key}={choice}: {error}") from None


def check_objective_metrics(objectives: Sequence[Objective], task: Any, task_name: str) -> None:
    """An objective is one of the task's declared metrics or a number in the record (``timing.train_s``)."""
    declared = tuple(getattr(task, "metrics", ()) or ())
    if not declared:
        return  # a task that declares none is checked on its first record (record_value)
    for objective in objectives:
        if objective.metric not in declared and objective.metric not in RECORD_NUMBERS:
            raise SweepConfigError(
                f"sweep.objectives: {objective.metric!r} is not a metric of task {task_name}; "
                f"metrics: {', '.join(declared)}; or one of {', '.join(RECORD_NUMBERS)}"
            )
