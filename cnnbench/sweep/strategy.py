"""The Optuna sampler and pruner named by ``sweep.sampler`` / ``sweep.pruner``, checked against the space.

Combinations that cannot work are refused with one line before any trial: CMA-ES on a categorical
parameter, a grid over a continuous float, pruning a multi-objective study. ``grid`` is
:class:`SlotGridSampler`, a grid that several workers split exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial

from cnnbench.sweep.accounting import slots_before
from cnnbench.sweep.space import SearchSpace, SweepConfigError

SAMPLERS = ("tpe", "random", "grid", "bruteforce", "cmaes", "nsga2")
PRUNERS = ("none", "median", "successive_halving", "hyperband")
FINITE = ("grid", "bruteforce")


class SlotGridSampler(optuna.samplers.BaseSampler):
    """Grid search that splits exactly across workers and machines: the trial filling slot ``r`` runs point ``r``.

    Slot ranks are unique and every worker agrees on them (see :mod:`cnnbench.sweep.accounting`), so no point
    runs twice and none is skipped, with no lock. (Optuna's ``GridSampler`` picks a random unvisited point,
    which two workers can pick at the same moment.) The points come in an order shuffled by ``seed``, so a
    study smaller than the grid runs a random part of it.
    """

    def __init__(self, grid: Mapping[str, list[Any]], seed: int) -> None:
        self._names, self._axes = list(grid), list(grid.values())
        self._order = np.random.default_rng(seed).permutation(math.prod(len(axis) for axis in self._axes))

    def point(self, rank: int) -> tuple[Any, ...]:
        """The grid point the trial filling slot ``rank`` runs (after the last point, the first again)."""
        return self._decode(int(self._order[rank % len(self._order)]))

    def _decode(self, index: int) -> tuple[Any, ...]:
        """Point ``index`` of the product of the axes, decoded digit by digit: the grid is never listed."""
        values = []
        for axis in reversed(self._axes):
            index, digit = divmod(index, len(axis))
            values.append(axis[digit])
        return tuple(reversed(values))

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution) -> Any:
        rank = slots_before(study.get_trials(deepcopy=False), trial.number)
        return self.point(rank)[self._names.index(param_name)]


def check_strategy(sampler: str, pruner: str, space: SearchSpace, objectives: int) -> None:
    """Refuse a sampler or pruner that does not exist or does not fit the space and objectives."""
    if sampler not in SAMPLERS:
        raise SweepConfigError(f"unknown sweep.sampler {sampler!r}; samplers: {', '.join(SAMPLERS)}")
    if pruner not in PRUNERS:
        raise SweepConfigError(f"unknown sweep.pruner {pruner!r}; pruners: {', '.join(PRUNERS)}")
    if sampler in FINITE:
        space.grid_size()  # raises for a float without step, and for a grid too large to enumerate
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


def make_sampler(name: str, args: Mapping[str, Any], space: SearchSpace, seed: int, shared_seed: int) -> optuna.samplers.BaseSampler:
    """The sampler; TPE lies about running trials (constant liar) so parallel workers spread out.

    ``seed`` differs between workers and runs; ``shared_seed`` (the grid's order) is the same for all.
    """
    samplers: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "tpe": (optuna.samplers.TPESampler, {"seed": seed, "multivariate": True, "constant_liar": True}),
        "random": (optuna.samplers.RandomSampler, {"seed": seed}),
        "grid": (SlotGridSampler, {"grid": space.grid() if name == "grid" else {}, "seed": shared_seed}),
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
