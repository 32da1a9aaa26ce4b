"""The end of a sweep: counts, the best trial (or the Pareto front), and how to reproduce it.

Besides printing, it writes ``<results>/sweeps/<study>/summary.json`` and, per best trial, the Hydra
override list and the experiment yaml of :mod:`cnnbench.sweep.reproduce`.
"""

from __future__ import annotations

import json
from typing import Any

import optuna

from cnnbench.atomic import clean_stale, write_text
from cnnbench.credentials import mask_url
from cnnbench.sweep.accounting import Tally
from cnnbench.sweep.progress import best_trials, params_text, value_text
from cnnbench.sweep.reproduce import EXPERIMENT_GROUP, write_reproduction
from cnnbench.sweep.setup import Sweep

SUMMARY = "summary.json"


def report(sweep: Sweep, study: optuna.Study, budget: int) -> int:
    """Print and write the outcome; 0 when at least one trial completed, 1 otherwise."""
    trials = study.get_trials(deepcopy=False)
    tally = Tally.of(trials)
    for folder in (sweep.folder, sweep.folder / EXPERIMENT_GROUP):
        clean_stale(folder)
    storage = mask_url(sweep.storage)
    print(
        f"study {sweep.study_name}: {tally.done}/{budget} trials done ({tally.complete} complete, {tally.pruned} pruned, "
        f"{tally.failed} failed)  storage: {storage}"
    )
    best = best_trials(study)
    summary: dict[str, Any] = {
        "study": sweep.study_name,
        "storage": storage,
        "objectives": [{"metric": o.metric, "direction": o.direction} for o in sweep.objectives],
        "trials": {"budget": budget, "done": tally.done, "complete": tally.complete, "pruned": tally.pruned, "failed": tally.failed},
        "best": [],
    }
    if len(sweep.objectives) > 1 and best:
        print(f"pareto front: {len(best)} trial(s)")
    single = len(sweep.objectives) == 1
    for trial in best:
        name = "best" if single else f"pareto_{trial.number}"
        title = f"trial {trial.number} of sweep study {sweep.study_name}: {value_text(trial, sweep.objectives)}"
        overrides, path, command = write_reproduction(sweep, trial.params, name, title)
        print(f"{'best trial' if single else 'trial'} {trial.number}: {value_text(trial, sweep.objectives)}")
        print(f"  {params_text(trial.params)}")
        print(f"  reproduce: {command}")
        print(f"         or: cnnbench run {' '.join(overrides)}")
        summary["best"].append(
            {
                "number": trial.number,
                "values": trial.values,
                "validation_values": trial.values,
                "test_values": trial.user_attrs.get("test_values"),
                "spread": trial.user_attrs.get("spread"),
                "params": trial.params,
                "overrides": overrides,
                "experiment": str(path),
            }
        )
    write_text(sweep.folder / SUMMARY, json.dumps(summary, indent=1, default=str) + "\n")
    if tally.failed:
        print(f"{tally.failed} trial(s) failed; rerun them with the same command plus sweep.retry_failed=true")
    if not best:
        print("no trial completed")
        return 1
    return 0
