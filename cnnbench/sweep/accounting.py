"""Exact trial accounting across workers and machines that share one study.

A study of ``n`` trials has ``n`` *slots*. A trial Optuna creates fresh opens a slot; a re-queued copy of a
trial (Optuna's retry callback marks it with the ``failed_trial`` system attribute) re-runs the slot of
the trial it copies, so a crash never costs a slot and a slot is never run twice.

Workers cannot reserve a slot before they ask Optuna for a trial, so two workers may both see ``n - 1``
slots and both ask. Storage gives every trial a unique, ordered number (a row lock in an RDB, the log order
in a journal), so the rule "a fresh trial is surplus when ``n`` slots have smaller numbers" gives every
worker the same answer without any further locking. A surplus trial is closed at once without training,
tagged with the ``surplus`` user attribute and left out of every count; only a race makes one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

RETRY_OF = "failed_trial"  # set by optuna.storages.RetryHeartbeatStaleTrialCallback
SURPLUS = "surplus"
ERROR = "error"


def requeue(study: optuna.Study, trial: FrozenTrial, max_retry: int | None = None) -> None:
    """Queue a copy of ``trial`` with its parameters for its slot, as Optuna's heartbeat does for a dead
    worker's trial (at most ``max_retry`` copies of one slot; ``None``: no limit)."""
    RetryHeartbeatStaleTrialCallback(max_retry=max_retry)(study, trial)


def is_surplus(trial: FrozenTrial) -> bool:
    return bool(trial.user_attrs.get(SURPLUS))


def origin(trial: FrozenTrial) -> int:
    """The number of the trial whose slot ``trial`` runs: its own, or the one it retries."""
    return int(trial.system_attrs.get(RETRY_OF, trial.number))


def slots_before(trials: Iterable[FrozenTrial], number: int) -> int:
    """How many slots trials numbered below ``number`` opened."""
    return sum(1 for t in trials if t.number < number and RETRY_OF not in t.system_attrs and not is_surplus(t))


def latest_attempts(trials: Iterable[FrozenTrial]) -> dict[int, FrozenTrial]:
    """Slot -> its latest attempt (the original trial, or its newest retry)."""
    latest: dict[int, FrozenTrial] = {}
    for trial in sorted(trials, key=lambda t: t.number):
        if not is_surplus(trial):
            latest[origin(trial)] = trial
    return latest


@dataclass(frozen=True)
class Tally:
    """The study's slots by the state of their latest attempt."""

    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0

    @classmethod
    def of(cls, trials: Iterable[FrozenTrial]) -> Tally:
        states = [t.state for t in latest_attempts(trials).values()]
        return cls(*(states.count(s) for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING)))

    @property
    def slots(self) -> int:
        return self.complete + self.pruned + self.failed + self.running + self.waiting

    @property
    def done(self) -> int:
        return self.complete + self.pruned + self.failed
