"""Sweeps rebuilt from their trial records: history, parameters found in the records, importances."""

from __future__ import annotations

import pytest

from cnnbench.report import load, synthetic
from cnnbench.report.stats import objectives
from cnnbench.report.studies import studies


def test_trials_history_and_importances(write) -> None:
    records = synthetic.study_trials("lam-and-lr", trials=30)
    records[3]["status"] = "failed"
    frame = load(write(records))
    (study,) = studies(frame, objectives(frame))
    trials = study.trials
    assert study.name == "lam-and-lr" and list(trials["trial"]) == list(range(30))
    assert study.params == ["optimizer.lr", "pooling.lam"]  # the learning rate is found in the config
    assert trials.loc[3, "state"] == "failed" and trials.loc[3, "value"] != trials.loc[3, "value"]
    done = trials[trials["state"] == "completed"]
    assert trials["best"].iloc[-1] == pytest.approx(done["value"].max())
    assert trials["best"].is_monotonic_increasing
    assert list(study.importances) == ["pooling.lam", "optimizer.lr"]  # lam matters far more (see synthetic)
    assert sum(study.importances.values()) == pytest.approx(1.0)
    again = studies(frame, objectives(frame))[0].importances
    assert again == study.importances  # fANOVA is seeded: same records, same numbers


def test_trials_that_all_tie_have_no_importances_and_no_error(write) -> None:
    records = synthetic.study_trials("tied", trials=4)
    for record in records:  # digits' validation moves in steps of 1/180: short trials often tie
        record["metrics"]["validation"]["accuracy"] = 0.9
    frame = load(write(records))
    (study,) = studies(frame, objectives(frame))  # fANOVA raised "zero total variance in all trees"
    assert study.importances == {} and len(study.params) == 2


def test_trials_with_several_seeds_are_averaged(write) -> None:
    records = []
    for seed, accuracy in ((0, 0.90), (1, 0.94)):
        record = synthetic.run_record(seed, seed=seed, accuracy=accuracy, study={"name": "s", "trial": 0})
        records.append(record)
    records.append(synthetic.run_record(5, accuracy=0.80, study={"name": "s", "trial": 1}))
    frame = load(write(records))
    (study,) = studies(frame, objectives(frame))
    validation = frame.groupby("study.trial")["validation.accuracy"].mean()  # the sweep optimised validation, not test
    assert study.trials["value"].tolist() == pytest.approx(validation.tolist())
    assert study.trials["value"].tolist() == pytest.approx([0.92, 0.80], abs=0.005)
    assert study.importances == {}  # nothing varies between the trials


def test_recorded_parameters_and_objective_win_over_inference(write) -> None:
    records = synthetic.study_trials("recorded", trials=6)
    for record in records:
        lam = record["components"]["pooling.lam"]
        record["study"].update(params={"pooling.lam": lam, "optimizer.lr": record["config"]["optimizer"]["lr"]}, metric="loss", direction="minimize")
        record["config"]["results"]["dir"] = f"/machine-{record['study']['trial']}/results"  # differs, is no parameter
    frame = load(write(records))
    (study,) = studies(frame, objectives(frame))
    assert study.params == ["optimizer.lr", "pooling.lam"]
    assert (study.objective.metric, study.objective.maximize) == ("loss", False)
    assert study.trials["best"].is_monotonic_decreasing
    without_params = [dict(r, study={k: v for k, v in r["study"].items() if k != "params"}) for r in records]
    (inferred,) = studies(load(write(without_params)), objectives(frame))
    assert inferred.params == ["optimizer.lr", "pooling.lam"]  # results.dir is where it ran, not what it tried


def _two_trials(write, schema: int = 2):
    """Trial 0 best on validation (two seeds), trial 1 best on test: what validation selects is not what test would."""
    records = [
        synthetic.run_record(seed, seed=seed, accuracy=test, validation=validation, study={"name": "s", "trial": 0}, schema=schema)
        for seed, (validation, test) in enumerate(((0.95, 0.90), (0.93, 0.92)))
    ]
    records.append(synthetic.run_record(5, accuracy=0.97, validation=0.80, study={"name": "s", "trial": 1}, schema=schema))
    frame = load(write(records))
    (study,) = studies(frame, objectives(frame))
    return study


def test_each_trial_carries_its_test_value_apart_from_the_validation_objective(write) -> None:
    study = _two_trials(write)
    assert study.selected_on == "validation"
    assert study.trials["value"].tolist() == pytest.approx([0.94, 0.80])
    assert study.trials["test_value"].tolist() == pytest.approx([0.91, 0.97])
    assert study.trials["n"].tolist() == [2, 1]
    assert study.selected()["trial"] == 0  # validation selects, though trial 1 is better on test


def test_a_schema_1_study_is_selected_on_test(write) -> None:
    study = _two_trials(write, schema=1)
    assert study.selected_on == "test"
    assert study.trials["value"].tolist() == pytest.approx(study.trials["test_value"].tolist())
    assert study.selected()["trial"] == 1
