"""``cnnbench sweep`` end to end on tiny digits runs: records, resume, reproduction, seeds, failures, Pareto."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

import pytest
import torch
from optuna.trial import TrialState
from torch import nn

from cnnbench import hookimpl
from cnnbench.plugins import PluginSource, load_registry
from cnnbench.sweep.accounting import ERROR, RETRY_OF


def trial_records(run) -> list[dict]:
    """The records the sweep's trials wrote (a reproduction run writes an untagged one)."""
    return [r for r in run.records() if r.get("study")]


def test_each_trial_is_a_tagged_run_and_the_best_trial_reruns_identically(sweep):
    run = sweep("sweep=mixed_lambda", "sweep.trials=3", "sweep.pruner=none", "trainer.epochs=2")
    assert run.code == 0, run.err
    study, records = run.study(), run.records()
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert sorted(r["study"]["trial"] for r in records) == [0, 1, 2]
    for record in records:
        trial = trials[record["study"]["trial"]]
        assert record["study"] == {
            "name": study.study_name, "trial": trial.number, "params": trial.params, "metric": "accuracy", "direction": "maximize"
        }  # fmt: skip
        assert record["status"] == "completed"
        assert record["components"]["pooling"] == "mixed" and record["components"]["pooling.lam"] == trial.params["pooling.lam"]
        assert record["metrics"]["validation"]["accuracy"] == trial.value  # chosen on validation, never on test
        assert trial.user_attrs["test_values"] == [record["metrics"]["test"]["accuracy"]]
        assert "sweep" not in record["config"]
    best = run.summary["best"][0]
    assert best["number"] == study.best_trial.number and best["values"] == [study.best_value]
    assert best["test_values"] == study.best_trial.user_attrs["test_values"]
    assert f"best trial {best['number']}: validation accuracy {study.best_value:.4f} (test {best['test_values'][0]:.4f})" in run.out
    for number in range(3):
        assert f"trial {number} complete  validation accuracy {trials[number].value:.4f}" in run.err

    overrides = (run.folder / "best_overrides.txt").read_text().split()
    assert overrides == best["overrides"]
    assert "pooling=mixed" in overrides and f"pooling.lam={study.best_params['pooling.lam']!r}" in overrides
    rerun = subprocess.run(
        [sys.executable, "-m", "cnnbench.cli", "run", f"--config-dir={run.folder}", "experiment=best"], capture_output=True, text=True, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"validation accuracy {study.best_value:.4f}" in rerun.stdout  # the same deterministic run

    again = sweep("sweep=mixed_lambda", "sweep.trials=3", "sweep.pruner=none", "trainer.epochs=2")
    assert again.code == 0 and len(trial_records(again)) == 3  # the same command: the same study, already full
    more = sweep("sweep=mixed_lambda", "sweep.trials=4", "sweep.pruner=none", "trainer.epochs=2")
    assert more.summary["study"] == study.study_name
    assert len(more.study().get_trials()) == 4 and len(trial_records(more)) == 4


def test_seeds_train_each_trial_per_seed_and_prune_on_the_running_mean(sweep):
    run = sweep("sweep=learning_rate", "sweep.trials=2", "sweep.seeds=[0,1]", "trainer.epochs=2")
    assert run.code == 0, run.err
    runs = {(r["study"]["trial"], r["seed"]): r for r in run.records()}
    assert sorted(runs) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for trial in run.study().get_trials():
        seed0, seed1 = (runs[trial.number, seed] for seed in (0, 1))
        accuracies = [seed0["metrics"]["validation"]["accuracy"], seed1["metrics"]["validation"]["accuracy"]]
        assert trial.value == pytest.approx(statistics.fmean(accuracies))
        assert trial.user_attrs["spread"] == [pytest.approx(statistics.stdev(accuracies))]
        # steps 1-2: seed 0 alone; steps 3-4: the mean of both seeds at epochs 1-2
        expected = {e: seed0["curve"][e - 1]["validation"]["accuracy"] for e in (1, 2)}
        expected.update({2 + e: (seed0["curve"][e - 1]["validation"]["accuracy"] + seed1["curve"][e - 1]["validation"]["accuracy"]) / 2 for e in (1, 2)})
        assert trial.intermediate_values == pytest.approx(expected)
    assert "±" in run.out


class Poison(nn.Module):
    """ReLU, or NaN everywhere while ``FAIL`` is set: training then diverges."""

    FAIL = True

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan") if Poison.FAIL else torch.relu(x)


class PoisonPlugin:
    @staticmethod
    @hookimpl
    def cnnbench_register_activations(register):
        register("poison_test", Poison)


@pytest.fixture
def poisoned_registry(monkeypatch):
    registry = load_registry(extra=[(PluginSource("poison_test", "third-party"), PoisonPlugin)])
    monkeypatch.setattr("cnnbench.plugins.default_registry", lambda: registry)
    monkeypatch.setattr(Poison, "FAIL", True)
    return registry


def test_a_failing_trial_is_recorded_the_sweep_goes_on_and_retry_failed_reruns_only_it(sweep, poisoned_registry):
    command = ("sweep=component_choice", "~sweep.params.pooling", "sweep.params.activation.choices=[relu,poison_test]", "sweep.sampler=grid")
    run = sweep(*command)
    assert run.code == 0, run.err
    trials = {t.params["activation"]: t for t in run.study().get_trials()}
    assert trials["relu"].state == TrialState.COMPLETE and trials["poison_test"].state == TrialState.FAIL
    assert "TrainingDiverged" in trials["poison_test"].user_attrs[ERROR]
    assert f"trial {trials['poison_test'].number} failed: run " in run.err
    assert {r["status"] for r in run.records()} == {"completed", "failed"}
    assert run.summary["trials"] == {"budget": 2, "done": 2, "complete": 1, "pruned": 0, "failed": 1}
    assert "sweep.retry_failed=true" in run.out

    Poison.FAIL = False  # the bug is fixed
    retried = sweep(*command, "sweep.retry_failed=true")
    assert retried.code == 0, retried.err
    after = retried.study().get_trials()
    assert len(after) == 3 and after[2].system_attrs[RETRY_OF] == trials["poison_test"].number
    assert after[2].state == TrialState.COMPLETE and after[2].params == {"activation": "poison_test"}
    assert after[2].user_attrs.get(ERROR) is None
    assert [r["study"]["trial"] for r in retried.records()].count(trials["relu"].number) == 1  # never run again
    assert retried.summary["trials"]["failed"] == 0 and retried.summary["trials"]["complete"] == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("sweep=mixed_lambda", "sweep.params.pooling.lam.low=2.0"), "sweep.params.pooling.lam: low 2.0 > high 1.0"),
        (("sweep=learning_rate", "sweep.params.optimizer.lr.low=0"), "sweep.params.optimizer.lr: a log scale needs low > 0"),
        (("sweep=mixed_lambda", "+sweep.params.pooling.nope={type:float,low:0,high:1}"), "'pooling.nope' is not a value of the composed config"),
        (("sweep=component_choice", "sweep.params.activation.choices=[]"), "sweep.params.activation: choices is empty"),
        (("sweep=pooling_pareto", "sweep.pruner=median"), "Optuna cannot prune a multi-objective study"),
        (("sweep=mixed_lambda", "sweep.sampler=cmaes"), "cmaes needs at least two parameters"),
        (("sweep=mixed_lambda", "sweep.sampler=anneal"), "unknown sweep.sampler 'anneal'"),
    ],
)
def test_an_invalid_sweep_is_refused_before_any_trial(sweep, overrides, message):
    run = sweep(*overrides)
    assert run.code == 2
    assert run.err.strip().splitlines() == [f"cnnbench: error: {run.err.strip().removeprefix('cnnbench: error: ')}"]
    assert message in run.err
    assert not run.results.exists()  # no study, no record


def no_channels(beta: float = 1.0) -> nn.Module:
    """An activation whose factory forgot its kind's ``channels``."""
    return nn.Identity()


class NoChannelsPlugin:
    @staticmethod
    @hookimpl
    def cnnbench_register_activations(register):
        register("nochan_test", no_channels, beta=1.0)


def test_a_component_choice_whose_factory_cannot_be_called_is_refused_before_any_trial(sweep, monkeypatch):
    registry = load_registry(extra=[(PluginSource("nochan_test", "third-party"), NoChannelsPlugin)])
    monkeypatch.setattr("cnnbench.plugins.default_registry", lambda: registry)
    run = sweep("sweep=component_choice", "~sweep.params.pooling", "sweep.params.activation.choices=[relu,nochan_test]")
    assert run.code == 2, run.err
    [line] = run.err.strip().splitlines()
    assert line.startswith("cnnbench: error: sweep.params.activation=nochan_test: activation 'nochan_test'") and "channels" in line
    assert not run.results.exists()  # no study, no record: trial 0 never started


def test_pareto_front_is_reported_and_each_member_is_reproducible(sweep):
    run = sweep("sweep=pooling_pareto", "sweep.trials=4", "sweep.sampler=random")
    assert run.code == 0, run.err
    study = run.study()
    front = {t.number for t in study.best_trials}
    assert {b["number"] for b in run.summary["best"]} == front
    assert f"pareto front: {len(front)} trial(s)" in run.out
    for number in front:
        assert (run.folder / "experiment" / f"pareto_{number}.yaml").is_file()
        assert (run.folder / f"pareto_{number}_overrides.txt").read_text().split()[0].startswith("pooling=")


def test_bruteforce_runs_the_whole_grid_once(sweep):
    run = sweep(
        "sweep=component_choice",
        "sweep.params.activation.choices=[relu,elu]",
        "sweep.params.pooling.choices=[max,avg]",
        "sweep.sampler=bruteforce",
        "sweep.trials=10",
    )
    assert run.code == 0, run.err
    combos = [(t.params["activation"], t.params["pooling"]) for t in run.study().get_trials()]
    assert sorted(combos) == sorted({("relu", "max"), ("relu", "avg"), ("elu", "max"), ("elu", "avg")})
    assert json.loads((run.folder / "summary.json").read_text())["trials"]["budget"] == 4
