"""Sweeps seen through their trial records: the trial table, the parameter importances, an Optuna study.

The report needs no Optuna storage: each study is rebuilt in memory from its trial records
(``optuna.trial.create_trial``: completed trials with their value, pruned ones with the last value they
reported), so Optuna's own fANOVA evaluator ranks the parameters and Optuna's own figures draw it
(:mod:`cnnbench.report.study_figures`), and a report built on another machine from copied records shows
the same numbers. A trial's value is its *validation* objective, the number the sweep optimised; its test
value is carried beside it, for the report to state once, for the trial that validation selects.
Optuna (and scikit-learn, which its fANOVA needs: 0.5 s of imports together) is imported only when there
is a sweep to rebuild, so a report of runs alone never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cnnbench.report.index import whole
from cnnbench.report.stats import COMPONENT_ROOTS, METRIC_PREFIX, Objective, component_columns, numeric_column, text, texts

if TYPE_CHECKING:
    import optuna

#: where a sweep may record its trial's parameters: ``study: {"name", "trial", "params": {key: value}}``
PARAMS_PREFIX = "study.params."
#: config settings that are where and how a trial ran, not what it tried
#: a positive float parameter spans at least this ratio to be taken as log-scaled
LOG_SPAN = 10
NOT_PARAMETERS = ("results.", "data.", "hydra.", "sweep.", "trainer.device", "trainer.threads", "trainer.progress")


@dataclass
class Study:
    """One study's trials (``trial``, ``state``, ``n``: its runs with a value, ``value``, ``best``, one column
    per parameter, ``reached``: a pruned trial's last reported value, ``test_value``, ``run_id`` and
    ``records``: the trial's first run and its record files) and, with two parameters or more, their
    importances. ``selected_on`` is the split of the values: validation, or test for schema-1 trials, which
    had no validation split."""

    name: str
    objective: Objective
    trials: pd.DataFrame
    params: list[str]
    importances: dict[str, float] = field(default_factory=dict)
    selected_on: str = "validation"

    def selected(self) -> pd.Series | None:
        """The completed trial with the best value, the one the sweep selects (the first of ties, as Optuna's
        ``best_trial``); None before a trial completes."""
        done = self.trials[self.trials["state"] == "completed"]
        if done.empty:
            return None
        return done.loc[done["value"].idxmax() if self.objective.maximize else done["value"].idxmin()]


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
    config = pd.DataFrame([_config_leaves(whole(c)) for c in records["config"]], index=records.index) if "config" in records else None
    return pd.concat([records[component_columns(records)], config], axis=1)


def _value_column(records: pd.DataFrame, metric: str) -> str:
    """The validation objective's column (schema 2), else the metric a schema-1 trial reported."""
    validation = f"validation.{metric}"
    return validation if validation in records and records[validation].notna().any() else METRIC_PREFIX + metric


def _last_reported(curve: object, metric: str) -> float:
    """The last validation value of ``metric`` in a run's curve: what a pruned trial reached (a schema-1
    record's curve has test values only, which its sweep pruned on)."""
    for epoch in reversed(curve if isinstance(curve, list) else []):
        scores = (epoch.get("validation") or epoch.get("test") or {}) if isinstance(epoch, dict) else {}  # test: a schema-1 sweep's
        value = scores.get(metric)
        if isinstance(value, int | float) and np.isfinite(value):
            return float(value)
    return np.nan


def _trial_table(records: pd.DataFrame, objective: Objective, column: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per trial (its seeds averaged): ``column``'s value, the objective the sweep optimised, the
    test value apart from it, and the parameters that vary across the study."""
    completed = records["status"] == "completed"
    reached = [_last_reported(whole(curve), objective.metric) for curve in records["curve"]] if "curve" in records else np.nan
    tests = numeric_column(records, METRIC_PREFIX + objective.metric)
    records = records.assign(value=numeric_column(records, column).where(completed), test_value=tests.where(completed), reached=reached)
    candidates = _candidates(records)
    params = sorted(c for c in candidates if texts(candidates[c]).nunique() > 1)
    columns = ["study.trial", "status", "value", "test_value", "reached", "run_id", "source"]
    grouped = pd.concat([records[columns], candidates[params]], axis=1).groupby("study.trial", sort=True)
    trials = grouped[params].first() if params else pd.DataFrame(index=grouped.size().index)
    trials["value"] = grouped["value"].mean()
    trials["n"] = grouped["value"].count()
    trials["test_value"] = grouped["test_value"].mean()
    status = grouped["status"].first()
    trials["state"] = np.where(trials["value"].notna(), "completed", status.where(status != "completed", "no value"))
    trials["reached"] = grouped["reached"].mean().where(trials["state"] == "pruned")
    trials["run_id"] = grouped["run_id"].first()
    trials["records"] = grouped["source"].agg(list)
    best = trials["value"].cummax() if objective.maximize else trials["value"].cummin()
    trials["best"] = best.ffill()
    trials = trials.reset_index().rename(columns={"study.trial": "trial"})
    return trials[["trial", "state", "n", "value", "best", *params, "reached", "test_value", "run_id", "records"]], params


def _distribution(values: pd.Series) -> optuna.distributions.BaseDistribution:
    """The narrowest distribution that holds the values the trials took; a float searched on a log scale
    (a learning rate) is drawn on one."""
    import optuna

    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return optuna.distributions.CategoricalDistribution(sorted(texts(values).unique()))
    if pd.api.types.is_integer_dtype(values):
        return optuna.distributions.IntDistribution(int(values.min()), int(values.max()))
    low, high = float(values.min()), float(values.max())
    return optuna.distributions.FloatDistribution(low, high, log=_log_scaled(values.astype(float), low, high))


def _log_scaled(values: pd.Series, low: float, high: float) -> bool:
    """Whether the values look drawn on a log scale: positive, spanning a decade or more, and bunched at
    the low end on a linear scale (the median in the lowest quarter of the range), as a log-uniform
    search leaves them; the records do not keep the search space itself."""
    return low > 0 and high >= LOG_SPAN * low and (float(values.median()) - low) < 0.25 * (high - low)


def _param_value(value: object, distribution: optuna.distributions.BaseDistribution) -> object:
    import optuna

    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return text(value)
    return int(value) if isinstance(distribution, optuna.distributions.IntDistribution) else float(value)


def optuna_study(study: Study) -> optuna.Study:
    """The study in memory: completed trials with their value, pruned ones with the value they last
    reported (as an intermediate value), failed ones as failed; parameters a trial lacks are left out."""
    import optuna

    trials = study.trials
    distributions = {p: _distribution(trials[p].dropna()) for p in study.params if trials[p].notna().any()}
    states = {"completed": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # an in-memory study is no news to the user
    try:
        rebuilt = optuna.create_study(study_name=study.name, direction="maximize" if study.objective.maximize else "minimize")
        for row in trials.to_dict("records"):
            given = {p: d for p, d in distributions.items() if not pd.isna(row[p])}
            state = states.get(row["state"], optuna.trial.TrialState.FAIL)
            reached = {} if pd.isna(row["reached"]) else {0: float(row["reached"])}
            rebuilt.add_trial(
                optuna.trial.create_trial(
                    state=state,
                    value=float(row["value"]) if state == optuna.trial.TrialState.COMPLETE else None,
                    params={p: _param_value(row[p], d) for p, d in given.items()},
                    distributions=given,
                    intermediate_values=reached,
                    user_attrs={"records": list(row["records"])},
                )
            )
    finally:
        optuna.logging.set_verbosity(verbosity)
    return rebuilt


def importances(study: Study) -> dict[str, float]:
    """fANOVA importances (seeded, so the same trials give the same numbers) of the completed trials;
    none for fewer than two parameters, where the one parameter would always score 1.0, nor when every
    completed trial has the same value (nothing to attribute: fANOVA raises on zero variance)."""
    done = study.trials[study.trials["state"] == "completed"]
    params = [p for p in study.params if done[p].notna().all() and texts(done[p]).nunique() > 1]
    if len(done) < 2 or len(params) < 2 or done["value"].nunique() < 2:
        return {}
    import optuna.importance

    found = optuna.importance.get_param_importances(optuna_study(study), evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0), params=params)
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
        column = _value_column(group, objective.metric)
        trials, params = _trial_table(group, objective, column)
        study = Study(str(name), objective, trials, params, selected_on="test" if column.startswith(METRIC_PREFIX) else "validation")
        study.importances = importances(study)
        found.append(study)
    return found
