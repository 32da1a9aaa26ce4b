"""Exact trial accounting: n slots, none run twice, whatever the workers race for."""

from __future__ import annotations

import threading

import optuna
from optuna.trial import TrialState

from cnnbench.sweep.accounting import RETRY_OF, SURPLUS, Tally, latest_attempts, requeue, slots_before
from cnnbench.sweep.storage import open_storage
from cnnbench.sweep.strategy import SlotGridSampler
from cnnbench.sweep.study import quiet_optuna
from cnnbench.sweep.worker import SlotGuard, SurplusTrial, work


def test_racing_asks_beyond_the_budget_are_surplus_by_trial_number():
    quiet_optuna()
    study = optuna.create_study()
    runs: list[int] = []
    guard = SlotGuard(lambda trial: runs.append(trial.number) or 1.0, budget=3)
    asked = [study.ask() for _ in range(5)]  # five workers asked before any of them looked
    outcomes = []
    for trial in reversed(asked):  # and they look in any order
        try:
            study.tell(trial, guard(trial))
            outcomes.append((trial.number, "ran"))
        except SurplusTrial:
            study.tell(trial, state=TrialState.FAIL)
            outcomes.append((trial.number, "surplus"))
    assert sorted(outcomes) == [(0, "ran"), (1, "ran"), (2, "ran"), (3, "surplus"), (4, "surplus")]
    trials = study.get_trials()
    assert [bool(t.user_attrs.get(SURPLUS)) for t in trials] == [False, False, False, True, True]
    assert Tally.of(trials) == Tally(complete=3)


def test_a_retry_reruns_its_slot_and_never_opens_a_new_one():
    quiet_optuna()
    study = optuna.create_study()
    first = study.ask()
    first.suggest_float("x", 0, 1)
    study.tell(first, state=TrialState.FAIL)
    requeue(study, study.get_trials()[0])
    fresh = study.ask()  # takes the queued copy, not a new slot
    trials = study.get_trials()
    assert fresh.number == 1 and trials[1].system_attrs[RETRY_OF] == 0 and fresh.params == first.params
    assert Tally.of(trials) == Tally(running=1)
    assert slots_before(trials, 2) == 1
    study.tell(fresh, 0.5)
    assert latest_attempts(study.get_trials())[0].state == TrialState.COMPLETE


def race(path: str, objective, budget: int, sampler=None, workers: int = 4) -> list[optuna.trial.FrozenTrial]:
    """``workers`` threads run :func:`work` on one journal file, each with its own storage object (as processes would)."""
    quiet_optuna()
    optuna.create_study(storage=open_storage(path, 1, 1), study_name="race", direction="maximize")

    def worker():
        study = optuna.load_study(study_name="race", storage=open_storage(path, 1, 1))
        if sampler is not None:
            study.sampler = sampler()
        work(study, objective, budget)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return optuna.load_study(study_name="race", storage=open_storage(path, 1, 1)).get_trials()


def test_parallel_workers_on_one_journal_fill_exactly_the_budget(tmp_path):
    ran: list[int] = []
    lock = threading.Lock()

    def objective(trial):
        with lock:
            ran.append(trial.number)
        return trial.suggest_float("x", 0, 1)

    trials = race(str(tmp_path / "optuna.journal"), objective, budget=12)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 12 and len(ran) == 12 and len(set(ran)) == 12
    assert {t.number for t in complete} == set(ran)
    assert all(t.user_attrs.get(SURPLUS) for t in trials if t.state != TrialState.COMPLETE)


def test_a_grid_split_across_racing_workers_runs_every_point_once(tmp_path):
    grid = list(range(10))
    trials = race(
        str(tmp_path / "optuna.journal"),
        lambda trial: float(trial.suggest_categorical("x", grid)),
        budget=len(grid),
        sampler=lambda: SlotGridSampler({"x": grid}, seed=0),
    )
    assert sorted(t.params["x"] for t in trials if t.state == TrialState.COMPLETE) == grid
    assert [t.params["x"] for t in sorted(trials, key=lambda t: t.number) if not t.user_attrs.get(SURPLUS)] == [
        SlotGridSampler({"x": grid}, seed=0).point(rank)[0] for rank in range(len(grid))
    ]  # slot r ran point r
