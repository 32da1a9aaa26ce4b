"""The search space and the objectives of a sweep, read from ``sweep.params`` / ``sweep.objectives``.

A parameter sits in ``sweep.params`` at the config path it sets::

    sweep:
      params:
        pooling:
          lam: {type: float, low: 0.0, high: 1.0}               # pooling.lam
        optimizer:
          lr: {type: float, low: 1.0e-4, high: 0.1, log: true}   # optimizer.lr
        activation: {type: categorical, choices: registry:activation}   # a config-group choice

Everything is checked against the composed config and the registry before any trial runs; a mistake
raises :class:`SweepConfigError` with one line naming the parameter.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from cnnbench.errors import CnnbenchError
from cnnbench.registry import KINDS, Registry

TYPES = ("float", "int", "categorical")
FIELDS = {"float": {"low", "high", "log", "step"}, "int": {"low", "high", "log", "step"}, "categorical": {"choices"}}
REGISTRY_PREFIX = "registry:"
DIRECTIONS = ("maximize", "minimize")
#: the most points grid and brute-force search take: beyond it a grid is a mistake (a step too small)
MAX_GRID_POINTS = 100_000


class SweepConfigError(CnnbenchError):
    """A search space, objective or sweep setting that cannot work; refused before any trial."""


@dataclass(frozen=True)
class Param:
    """One searched config key: its Optuna distribution, and whether it picks a config-group option."""

    key: str
    distribution: BaseDistribution
    group: bool = False

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "group": self.group, "distribution": optuna.distributions.distribution_to_json(self.distribution)}


@dataclass(frozen=True)
class Objective:
    """A record value to optimise: a metric name (``accuracy``) or a path into the record (``timing.train_s``)."""

    metric: str
    direction: str

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """The trial's value for every parameter (a re-queued trial gets back the values it had)."""
        return {p.key: _suggest(trial, p) for p in self.params}

    def grid(self) -> dict[str, list[Any]]:
        """Every value of every parameter, for grid and brute-force search; continuous floats are refused."""
        self.grid_size()
        return {p.key: _values(p) for p in self.params}

    def grid_size(self) -> int:
        """The number of grid points, counted without listing them; above :data:`MAX_GRID_POINTS` refused."""
        size = math.prod(_count(p) for p in self.params)
        if size > MAX_GRID_POINTS:
            raise SweepConfigError(
                f"the grid has {size:.3g} points, more than the {MAX_GRID_POINTS} grid and brute-force search enumerate; "
                "raise a step, narrow a range, or use sweep.sampler=tpe or random"
            )
        return size

    def fingerprint(self, objectives: Sequence[Objective]) -> str:
        """A canonical text of the space and objectives: a resumed study must have been created with the same."""
        return json.dumps(
            {"params": [p.describe() for p in self.params], "objectives": [[o.metric, o.direction] for o in objectives]},
            sort_keys=True,
        )


def _suggest(trial: optuna.Trial, param: Param) -> Any:
    dist = param.distribution
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(param.key, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(param.key, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(param.key, dist.low, dist.high, step=dist.step, log=dist.log)


def _count(param: Param) -> int:
    dist = param.distribution
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices)
    if dist.step is None:
        raise SweepConfigError(f"sweep.params.{param.key}: grid and brute-force search need a step for a float parameter")
    return math.floor((dist.high - dist.low) / dist.step + 1e-9) + 1


def _values(param: Param) -> list[Any]:
    dist = param.distribution
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    count = _count(param)
    if isinstance(dist, IntDistribution):
        return [dist.low + i * dist.step for i in range(count)]
    return [round(dist.low + i * dist.step, 12) for i in range(count)]  # 0.3, not 0.30000000000000004


def _leaves(node: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(config path, spec) pairs: a spec is a mapping whose ``type`` is a string."""
    found = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(value.get("type"), str):
            found.append((path, value))
        elif isinstance(value, Mapping) and value:
            found.extend(_leaves(value, f"{path}."))
        else:
            raise SweepConfigError(f"sweep.params.{path}: expected {{type: float|int|categorical, ...}}, got {value!r}")
    return found


def _number(key: str, spec: Mapping[str, Any], field: str, kind: type) -> Any:
    value = spec.get(field)
    ok = isinstance(value, int) if kind is int else isinstance(value, int | float)
    if isinstance(value, bool) or not ok:
        raise SweepConfigError(f"sweep.params.{key}: {field} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    return kind(value)


def _numeric(key: str, kind: str, spec: Mapping[str, Any]) -> BaseDistribution:
    number = int if kind == "int" else float
    low, high = _number(key, spec, "low", number), _number(key, spec, "high", number)
    log = spec.get("log", False)
    step = spec.get("step", 1 if kind == "int" else None)
    if not isinstance(log, bool):
        raise SweepConfigError(f"sweep.params.{key}: log must be true or false, got {log!r}")
    if low > high:
        raise SweepConfigError(f"sweep.params.{key}: low {low} > high {high}; low must not exceed high")
    if log and low <= 0:
        raise SweepConfigError(f"sweep.params.{key}: a log scale needs low > 0, got low {low}")
    if step is not None:
        step = _number(key, {"step": step}, "step", number)
        if step <= 0:
            raise SweepConfigError(f"sweep.params.{key}: step must be > 0, got {step}")
        if log and step != 1:
            raise SweepConfigError(f"sweep.params.{key}: log scale and step cannot be combined (step {step})")
    if kind == "int":
        return IntDistribution(low, high, log=log, step=1 if log else step)
    return FloatDistribution(low, high, log=log, step=None if log else step)


def _choices(key: str, spec: Mapping[str, Any], registry: Registry) -> list[Any]:
    choices = spec.get("choices")
    if isinstance(choices, str) and choices.startswith(REGISTRY_PREFIX):
        kind = choices[len(REGISTRY_PREFIX) :]
        if kind not in KINDS:
            raise SweepConfigError(f"sweep.params.{key}: unknown registry kind {kind!r} in choices; kinds: {', '.join(KINDS)}")
        choices = registry.names(kind)
    if not isinstance(choices, Sequence) or isinstance(choices, str):
        raise SweepConfigError(f"sweep.params.{key}: choices must be a list or registry:<kind>, got {choices!r}")
    if not choices:
        raise SweepConfigError(f"sweep.params.{key}: choices is empty; give at least one value")
    bad = [c for c in choices if c is not None and not isinstance(c, bool | int | float | str)]
    if bad:
        raise SweepConfigError(f"sweep.params.{key}: choices must be strings, numbers, booleans or null, got {bad[0]!r}")
    if len(set(map(repr, choices))) != len(choices):
        raise SweepConfigError(f"sweep.params.{key}: choices has duplicates: {list(choices)}")
    return list(choices)


def parse_space(
    params: Mapping[str, Any],
    registry: Registry,
    *,
    groups: Mapping[str, Sequence[str]],
    has_key: Callable[[str], bool],
) -> SearchSpace:
    """Read and check ``sweep.params``.

    Args:
        params: the ``sweep.params`` node as plain containers.
        registry: resolves ``choices: registry:<kind>``.
        groups: config group -> its options; a parameter on a group picks one of them.
        has_key: whether a dotted path is a value of the composed config.
    """
    parsed = []
    for key, spec in _leaves(params):
        kind = spec["type"]
        if kind not in TYPES:
            raise SweepConfigError(f"sweep.params.{key}: type must be one of {', '.join(TYPES)}, got {kind!r}")
        extra = set(spec) - FIELDS[kind] - {"type"}
        if extra:
            raise SweepConfigError(f"sweep.params.{key}: {kind} takes {', '.join(sorted(FIELDS[kind]))}; unknown {', '.join(sorted(extra))}")
        if key in groups:
            if kind != "categorical":
                raise SweepConfigError(f"sweep.params.{key}: {key} is a config group; search it with type: categorical")
            choices = _choices(key, spec, registry)
            unknown = [c for c in choices if c not in groups[key]]
            if unknown:
                raise SweepConfigError(f"sweep.params.{key}: no option {unknown[0]!r} in group {key}; options: {', '.join(groups[key])}")
            parsed.append(Param(key, CategoricalDistribution(choices), group=True))
            continue
        if not has_key(key):
            raise SweepConfigError(f"sweep.params.{key}: {key!r} is not a value of the composed config (check the spelling and the chosen components)")
        dist = CategoricalDistribution(_choices(key, spec, registry)) if kind == "categorical" else _numeric(key, kind, spec)
        parsed.append(Param(key, dist))
    if not parsed:
        raise SweepConfigError("sweep.params is empty: choose a preset (sweep=mixed_lambda, ...) or add parameters")
    return SearchSpace(tuple(sorted(parsed, key=lambda p: (not p.group, p.key))))


def parse_objectives(objectives: Any, metric: str, maximize: bool) -> tuple[Objective, ...]:
    """``sweep.objectives``, or the task's primary metric when it is null."""
    if objectives is None:
        return (Objective(metric, "maximize" if maximize else "minimize"),)
    if not isinstance(objectives, Sequence) or isinstance(objectives, str) or not objectives:
        raise SweepConfigError(f"sweep.objectives must be a non-empty list of {{metric: ..., direction: maximize|minimize}}, got {objectives!r}")
    parsed = []
    for item in objectives:
        if not isinstance(item, Mapping) or set(item) != {"metric", "direction"}:
            raise SweepConfigError(f"sweep.objectives: each entry is {{metric: ..., direction: maximize|minimize}}, got {item!r}")
        if not isinstance(item["metric"], str) or not re.fullmatch(r"[\w.]+", item["metric"]):
            raise SweepConfigError(f"sweep.objectives: metric must be a name such as accuracy or timing.train_s, got {item['metric']!r}")
        if item["direction"] not in DIRECTIONS:
            raise SweepConfigError(f"sweep.objectives: direction of {item['metric']} must be maximize or minimize, got {item['direction']!r}")
        parsed.append(Objective(item["metric"], item["direction"]))
    return tuple(parsed)


def record_value(record: Mapping[str, Any], metric: str, split: str = "validation") -> float:
    """The objective's value in a run record: ``metrics[split][metric]``, else the dotted path from the record's top.

    Sweeps optimise and prune on ``validation``; the test value of the same metric is only reported.
    """
    metrics = record["metrics"][split]
    path = [metric] if metric in metrics else metric.split(".")
    node: Any = metrics if metric in metrics else record
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            scalars = sorted(k for k, v in metrics.items() if isinstance(v, int | float))
            raise SweepConfigError(f"objective {metric!r} is not in the run record; metrics: {', '.join(scalars)}, or a path such as timing.train_s")
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise SweepConfigError(f"objective {metric!r} is {node!r}, not a number")
    return float(node)
