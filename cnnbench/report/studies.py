"""Sweeps seen through their trial records: the optimisation history and the parameter importances.

The report needs no Optuna storage: each study is rebuilt in memory from its trial records
(``optuna.trial.create_trial``), so Optuna's own fANOVA evaluator ranks the parameters, and a report
built on another machine from copied records shows the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import optuna
import pandas as pd

from cnnbench.report.stats import COMPONENT_ROOTS, METRIC_PREFIX, Objective, component_columns, text, texts

#: where a sweep may record its trial's parameters: ``study: {"name", "trial", "params": {key: value}}``
PARAMS_PREFIX = "study.params."
#: config settings that are where and how a trial ran, not what it tried
NOT_PARAMETERS = ("results.", "data.", "hydra.", "sweep.", "trainer.device", "trainer.threads", "trainer.progress")


@dataclass
class Study:
    """One study's trials (``trial``, ``state``, ``value``, ``best`` and one column per parameter)."""

    name: str
    objective: Objective
    trials: pd.DataFrame
    params: list[str]
    importances: dict[str, float] = field(default_factory=dict)


def _is_setting(key: str) -> bool:
    """A config key a search may vary: not a component (those are columns already), not where or how the
    trial ran (paths, threads), not a seed."""
    return key.split(".")[0] not in (*COMPONENT_ROOTS, "task") and not key.startswith(NOT_PARAMETERS) and "seed" not in key.rsplit(".", 1)[-1]


def _config_leaves(config: object) -> dict[str, object]:
    """The scalar settings of a trial's config that a search may vary (learning rate, epochs, ...)."""
    leaves: dict[str, object] = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, (int, float, str, bool)) and _is_setting(prefix):
            leaves[prefix] = node

    walk("", config if isinstance(config, dict) else {})
    return leaves


def _candidates(records: pd.DataFrame) -> pd.DataFrame:
    """What each trial record says about its parameters: ``study.params`` when the sweep recorded them,
    else the component columns and the config settings (a parameter is one of these that varies)."""
    recorded = [c for c in records if c.startswith(PARAMS_PREFIX) and records[c].notna().any()]
    if recorded:
        return records[recorded].rename(columns=lambda c: c[len(PARAMS_PREFIX) :])
    config = pd.DataFrame([_config_leaves(c) for c in records["config"]], index=records.index) if "config" in records else None
    return pd.concat([records[component_columns(records)], config], axis=1)


def _trial_table(records: pd.DataFrame, objective: Objective) -> tuple[pd.DataFrame, list[str]]:
    """One row per trial (its seeds averaged), with the parameters that vary across the study."""
    metric = METRIC_PREFIX + objective.metric
    records = records.assign(value=pd.to_numeric(records[metric], errors="coerce") if metric in records else np.nan)
    records = records.assign(value=records["value"].where(records["status"] == "completed"))
    candidates = _candidates(records)
    params = sorted(c for c in candidates if texts(candidates[c]).nunique() > 1)
    grouped = pd.concat([records[["study.trial", "status", "value"]], candidates[params]], axis=1).groupby("study.trial", sort=True)
    trials = grouped[params].first() if params else pd.DataFrame(index=grouped.size().index)
    trials["value"] = grouped["value"].mean()
    trials["state"] = np.where(trials["value"].notna(), "completed", grouped["status"].first())
    best = trials["value"].cummax() if objective.maximize else trials["value"].cummin()
    trials["best"] = best.ffill()
    trials = trials.reset_index().rename(columns={"study.trial": "trial"})
    return trials[["trial", "state", "value", "best", *params]], params


def _distribution(values: pd.Series) -> optuna.distributions.BaseDistribution:
    """The narrowest distribution that holds the values the trials took."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return optuna.distributions.CategoricalDistribution(sorted(texts(values).unique()))
    if pd.api.types.is_integer_dtype(values):
        return optuna.distributions.IntDistribution(int(values.min()), int(values.max()))
    return optuna.distributions.FloatDistribution(float(values.min()), float(values.max()))


def _param_value(value: object, distribution: optuna.distributions.BaseDistribution) -> object:
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return text(value)
    return int(value) if isinstance(distribution, optuna.distributions.IntDistribution) else float(value)


def importances(trials: pd.DataFrame, params: list[str], maximize: bool) -> dict[str, float]:
    """fANOVA importances (seeded, so the same trials give the same numbers) of the completed trials."""
    done = trials[trials["state"] == "completed"]
    params = [p for p in params if done[p].notna().all() and texts(done[p]).nunique() > 1]
    if len(done) < 2 or not params:
        return {}
    distributions = {p: _distribution(done[p]) for p in params}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # an in-memory study is no news to the user
    try:
        study = optuna.create_study(direction="maximize" if maximize else "minimize")
        for row in done.to_dict("records"):
            values = {p: _param_value(row[p], distributions[p]) for p in params}
            study.add_trial(optuna.trial.create_trial(params=values, distributions=distributions, value=float(row["value"])))
        found = optuna.importance.get_param_importances(study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    finally:
        optuna.logging.set_verbosity(verbosity)
    return {name: float(found[name]) for name in sorted(found, key=lambda n: (-found[n], n))}


def _objective(records: pd.DataFrame, goals: Mapping[str, Objective]) -> Objective | None:
    """The study's own objective when its records name it (``study.metric``, ``study.direction``), else its task's."""
    metric = records["study.metric"].dropna() if "study.metric" in records else pd.Series(dtype=object)
    if not metric.empty:
        direction = records["study.direction"].dropna() if "study.direction" in records else pd.Series(["maximize"])
        return Objective(str(metric.iloc[0]), str(direction.iloc[0]) != "minimize")
    return goals.get(text(records["task"].iloc[0]))


def studies(frame: pd.DataFrame, goals: Mapping[str, Objective]) -> list[Study]:
    """Every study in ``frame``'s run records, by name."""
    records = frame[(frame["record_type"] == "run") & frame["study.name"].notna() & frame["study.trial"].notna()]
    found = []
    for name, group in records.groupby("study.name", sort=True):
        objective = _objective(group, goals)
        if objective is None:
            continue
        trials, params = _trial_table(group, objective)
        found.append(Study(str(name), objective, trials, params, importances(trials, params, objective.maximize)))
    return found
