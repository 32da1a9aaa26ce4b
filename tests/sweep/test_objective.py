"""The epoch reporter: the running mean over seeds goes to the pruner, whose verdict stops the run."""

from __future__ import annotations

import optuna
import pytest

from cnnbench.sweep.objective import Reporter
from cnnbench.sweep.study import quiet_optuna
from cnnbench.training.loop import RunPruned


@pytest.fixture
def study() -> optuna.Study:
    """A study whose one finished trial gives the median a new trial must beat at each step."""
    quiet_optuna()
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    done = study.ask()
    for step, value in {1: 0.5, 2: 0.6, 3: 0.7, 4: 0.99}.items():
        done.report(value, step)
    study.tell(done, 0.99)
    return study


def test_second_seed_reports_the_mean_with_the_first_seed_and_is_pruned_below_the_median(study):
    trial = study.ask()
    curves = [[0.95, 0.97], []]  # seed 0 trained its two epochs; seed 1 starts (steps 3 and 4)
    reporter = Reporter(trial, "accuracy", curves, offset=2)
    reporter(1, {"accuracy": 0.91, "loss": 0.3})  # step 3: mean (0.95 + 0.91) / 2 = 0.93 beats 0.7: goes on
    with pytest.raises(RunPruned, match="pruned at step 4"):
        reporter(2, {"accuracy": 0.77, "loss": 0.5})  # step 4: mean 0.87, best so far 0.93 < 0.99
    assert study.get_trials()[1].intermediate_values == pytest.approx({3: 0.93, 4: 0.87})
    assert curves[1] == [0.91, 0.77]


def test_an_objective_missing_from_the_epoch_metrics_is_reported_not_raised_mid_training(study):
    reporter = Reporter(study.ask(), "timing.train_s", [[]], offset=0)
    reporter(1, {"accuracy": 0.5, "loss": 1.0})
    assert reporter.missing == (
        "pruning needs objective 'timing.train_s' after every epoch; epoch metrics: accuracy, loss (or sweep.pruner=none)"
    )
    assert study.get_trials()[1].intermediate_values == {}
