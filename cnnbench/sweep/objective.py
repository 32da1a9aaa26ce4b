"""One trial: the run ``cnnbench run`` would do with the trial's parameters, once per seed.

Each seed's run writes its own run record, tagged with the study, the trial, its parameters and the
study's (first) objective. The trial's value, and what the pruner sees, is the objective on the validation
split; the test value of the same metric is kept as the ``test_values`` user attribute, for the summary
only, never for choosing. With several seeds the trial's
value is the mean over seeds (the spread is kept as the ``spread`` user attribute), and the pruner sees the
running mean: at epoch ``e`` of seed ``i`` it gets the mean epoch-``e`` metric of seeds ``0..i``, reported
as step ``i * epochs + e``, so every trial is compared at the same point of the same schedule.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import optuna

from cnnbench.records import as_dict
from cnnbench.sweep.accounting import ERROR, requeue
from cnnbench.sweep.setup import Sweep
from cnnbench.sweep.space import SweepConfigError, record_value
from cnnbench.training.execute import execute
from cnnbench.training.loop import RunPruned

#: the trial's user attribute listing its run records (one per seed)
RECORDS = "records"


class TrialFailed(Exception):
    """The trial failed (training raised, diverged, or gave a non-finite value); the sweep goes on."""


def one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class TrialRunner:
    """The objective function of the study."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self.pruning = sweep.settings.pruner != "none"

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        if trial.user_attrs.get(ERROR) is not None:  # a retry inherits the attributes of the failed attempt
            trial.set_user_attr(ERROR, None)
        try:
            return self._run(trial)
        except KeyboardInterrupt:  # Ctrl-C: the trial fails, and a copy waits for the next run of the sweep
            this = next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
            requeue(trial.study, this, self.sweep.settings.max_retry)
            trial.set_user_attr(ERROR, "interrupted")
            raise
        except RunPruned:
            raise optuna.TrialPruned() from None
        except SweepConfigError as error:  # the same in every trial: stop the sweep
            trial.set_user_attr(ERROR, one_line(error))
            raise
        except Exception as error:  # noqa: BLE001 (whatever a trial raises is recorded with its reason; the sweep goes on)
            trial.set_user_attr(ERROR, one_line(error))
            raise TrialFailed(one_line(error)) from None

    def _run(self, trial: optuna.Trial) -> float | list[float]:
        sweep = self.sweep
        params = sweep.space.suggest(trial)
        cfg = sweep.configs.trial(params, sweep.groups)
        cfg.trainer.progress = False  # the sweep draws its own progress line
        objective = sweep.objectives[0]  # what `cnnbench report` ranks the study's trials by
        tag = {"name": sweep.study_name, "trial": trial.number, "params": params, "metric": objective.metric, "direction": objective.direction}
        seeds = sweep.settings.seeds or (int(cfg.trainer.seed),)
        epochs = int(cfg.trainer.epochs)
        curves: list[list[float]] = []
        values: list[list[float]] = []
        tests: list[list[float]] = []
        paths: list[str] = []
        for index, seed in enumerate(seeds):
            cfg.trainer.seed = seed
            curves.append([])
            reporter = Reporter(trial, sweep.objectives[0].metric, curves, index * epochs) if self.pruning else None
            record, path = execute(cfg, sweep.registry, on_epoch=reporter, study=tag)
            paths.append(str(path))
            trial.set_user_attr(RECORDS, paths)  # each trial's record files, shown by optuna-dashboard
            if reporter is not None and reporter.missing is not None:
                raise SweepConfigError(reporter.missing)
            document = as_dict(record)
            values.append([record_value(document, o.metric) for o in sweep.objectives])
            tests.append([record_value(document, o.metric, "test") for o in sweep.objectives])
        means = [statistics.fmean(column) for column in zip(*values, strict=True)]
        trial.set_user_attr("test_values", [statistics.fmean(column) for column in zip(*tests, strict=True)])
        if len(seeds) > 1:
            trial.set_user_attr("spread", [statistics.stdev(column) for column in zip(*values, strict=True)])
            trial.set_user_attr("seed_values", values)
        for objective, mean in zip(sweep.objectives, means, strict=True):
            if not math.isfinite(mean):
                raise TrialFailed(f"objective {objective.metric} is {mean}")
        return means[0] if len(means) == 1 else means


class Reporter:
    """The epoch callback: reports the running mean over seeds and stops the run when the pruner says so."""

    def __init__(self, trial: optuna.Trial, metric: str, curves: list[list[float]], offset: int) -> None:
        self.trial, self.metric, self.curves, self.offset = trial, metric, curves, offset
        self.missing: str | None = None  # set when the metric is not an epoch metric (a mistake in the sweep)

    def __call__(self, epoch: int, metrics: dict[str, Any]) -> None:
        if self.metric not in metrics:
            scalars = sorted(k for k, v in metrics.items() if isinstance(v, int | float))
            self.missing = f"pruning needs objective {self.metric!r} after every epoch; epoch metrics: {', '.join(scalars)} (or sweep.pruner=none)"
            return
        self.curves[-1].append(float(metrics[self.metric]))
        running_mean = statistics.fmean(curve[epoch - 1] for curve in self.curves)
        if math.isfinite(running_mean):
            self.trial.report(running_mean, self.offset + epoch)
            if self.trial.should_prune():
                raise RunPruned(f"pruned at step {self.offset + epoch}")
