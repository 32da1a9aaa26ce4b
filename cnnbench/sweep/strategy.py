"""The Optuna sampler and pruner named by ``sweep.sampler`` / ``sweep.pruner``, checked against the space.

Combinations that cannot work are refused with one line before any trial: CMA-ES on a categorical
parameter, a grid over a continuous float, pruning a multi-objective study.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution

from cnnbench.sweep.space import SearchSpace, SweepConfigError

SAMPLERS = ("tpe", "random", "grid", "bruteforce", "cmaes", "nsga2")
PRUNERS = ("none", "median", "successive_halving", "hyperband")
FINITE = ("grid", "bruteforce")


def grid_size(space: SearchSpace) -> int:
    return math.prod(len(values) for values in space.grid().values())


def check_strategy(sampler: str, pruner: str, space: SearchSpace, objectives: int) -> None:
    """Refuse a sampler or pruner that does not exist or does not fit the space and objectives."""
    if sampler not in SAMPLERS:
        raise SweepConfigError(f"unknown sweep.sampler {sampler!r}; samplers: {', '.join(SAMPLERS)}")
    if pruner not in PRUNERS:
        raise SweepConfigError(f"unknown sweep.pruner {pruner!r}; pruners: {', '.join(PRUNERS)}")
    if sampler in FINITE:
        grid_size(space)  # raises for a float without step
    if sampler == "cmaes":
        if objectives > 1:
            raise SweepConfigError("sweep.sampler=cmaes optimises one objective; use tpe or nsga2 for several")
        categorical = [p.key for p in space.params if isinstance(p.distribution, CategoricalDistribution)]
        if categorical:
            raise SweepConfigError(f"sweep.sampler=cmaes searches float and int parameters only; {categorical[0]} is categorical")
        if len(space.params) < 2:
            raise SweepConfigError("sweep.sampler=cmaes needs at least two parameters; use tpe for one")
    if pruner != "none" and objectives > 1:
        raise SweepConfigError("Optuna cannot prune a multi-objective study; add sweep.pruner=none")


def _build(factory: Callable[..., Any], defaults: Mapping[str, Any], args: Mapping[str, Any], setting: str) -> Any:
    try:
        return factory(**{**defaults, **args})
    except (TypeError, ValueError) as error:
        raise SweepConfigError(f"{setting}: {factory.__name__}: {error}") from None


def make_sampler(name: str, args: Mapping[str, Any], space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    """The sampler; TPE lies about running trials (constant liar) so parallel workers spread out."""
    samplers: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "tpe": (optuna.samplers.TPESampler, {"seed": seed, "multivariate": True, "constant_liar": True}),
        "random": (optuna.samplers.RandomSampler, {"seed": seed}),
        "grid": (optuna.samplers.GridSampler, {"search_space": space.grid() if name == "grid" else {}, "seed": seed}),
        "bruteforce": (optuna.samplers.BruteForceSampler, {"seed": seed}),
        "cmaes": (optuna.samplers.CmaEsSampler, {"seed": seed}),
        "nsga2": (optuna.samplers.NSGAIISampler, {"seed": seed}),
    }
    factory, defaults = samplers[name]
    return _build(factory, defaults, args, "sweep.sampler_args")


def make_pruner(name: str, args: Mapping[str, Any], steps: int) -> optuna.pruners.BasePruner:
    """The pruner; one step is one epoch of one seed, so a trial has ``steps`` = epochs x seeds."""
    pruners: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "none": (optuna.pruners.NopPruner, {}),
        "median": (optuna.pruners.MedianPruner, {"n_startup_trials": 5, "n_warmup_steps": 0}),
        "successive_halving": (optuna.pruners.SuccessiveHalvingPruner, {"min_resource": 1}),
        "hyperband": (optuna.pruners.HyperbandPruner, {"min_resource": 1, "max_resource": steps}),
    }
    factory, defaults = pruners[name]
    return _build(factory, defaults, args, "sweep.pruner_args")
