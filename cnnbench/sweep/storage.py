"""Where a study lives: a journal file on this host, or any database URL Optuna takes, crash-safe either way.

A worker killed in the middle of a trial leaves that trial RUNNING. Each running trial beats a heartbeat;
a trial silent for twice the interval is marked failed and re-queued with its parameters by Optuna's
:class:`~optuna.storages.RetryHeartbeatStaleTrialCallback`. Optuna's RDB storage has the heartbeat built in;
its journal storage does not, so :class:`HeartbeatJournalStorage` adds it as a trial system attribute. A
trial's start counts as its first beat, so a RUNNING trial silent for the grace period since its start or
its last beat is dead.
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import BaseStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import BaseHeartbeat  # the interface optuna.storages.fail_stale_trials checks
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from cnnbench.credentials import is_url, mask_url, scrub
from cnnbench.errors import CnnbenchError

HEARTBEAT_ATTR = "heartbeat"
JOURNAL_NAME = "optuna.journal"
SCHEMA_ATTEMPTS = 4
SQLITE = "sqlite:///"

StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


class StorageError(CnnbenchError):
    """The study storage cannot be opened."""


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """A journal storage whose running trials beat a heartbeat, as Optuna's RDB storage does."""

    def __init__(self, path: Path, heartbeat_interval: int, stale_callback: StaleCallback | None = None) -> None:
        super().__init__(JournalFileBackend(str(path)))
        self._heartbeat_interval = heartbeat_interval
        self._stale_callback = stale_callback

    def record_heartbeat(self, trial_id: int) -> None:
        # A trial's start is its first sign of life: beating starts one interval later, which spares every
        # trial shorter than the interval a journal write (an fsync).
        trial = self.get_trial(trial_id)
        if time.time() - _last_sign_of_life(trial) < self._heartbeat_interval:
            return
        try:
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
        except UpdateFinishedTrialError:  # another worker already took this trial for dead
            pass

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        grace = 2 * self._heartbeat_interval
        now = time.time()
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        return [trial._trial_id for trial in running if now - _last_sign_of_life(trial) > grace]

    def get_heartbeat_interval(self) -> int:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self._stale_callback


def _last_sign_of_life(trial: FrozenTrial) -> float:
    # A re-queued trial carries the heartbeat of the attempt it copies; its own start is newer.
    started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
    return max(float(trial.system_attrs.get(HEARTBEAT_ATTR, 0.0)), started)


def open_storage(storage: str, heartbeat_s: int, max_retry: int) -> BaseStorage:
    """Open a database URL (``postgresql://``, ``mysql://``, ``sqlite:///``) or a journal file path."""
    with warnings.catch_warnings():  # heartbeat and retry are "experimental" in Optuna 5, and what we rely on
        warnings.simplefilter("ignore", ExperimentalWarning)
        return _open(storage, heartbeat_s, RetryHeartbeatStaleTrialCallback(max_retry=max_retry))


def _rdb(url: str, heartbeat_s: int, retry: StaleCallback) -> RDBStorage:
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    def connect() -> RDBStorage:
        engine = {} if url.startswith(SQLITE) else {"pool_pre_ping": True}
        return RDBStorage(url, engine_kwargs=engine, heartbeat_interval=heartbeat_s, grace_period=2 * heartbeat_s, heartbeat_stale_trial_callback=retry)

    for _ in range(SCHEMA_ATTEMPTS - 1):
        try:
            return connect()
        except (IntegrityError, ProgrammingError):  # machines starting together on a new database race to create Optuna's tables
            time.sleep(0.2 + random.random())
    return connect()


def _open(storage: str, heartbeat_s: int, retry: StaleCallback) -> BaseStorage:
    try:
        if storage.startswith(SQLITE):  # SQLite creates its file, but not the folder
            Path(storage.removeprefix(SQLITE).split("?")[0]).parent.mkdir(parents=True, exist_ok=True)
        if is_url(storage):
            return _rdb(storage, heartbeat_s, retry)
        path = Path(storage)
        path.parent.mkdir(parents=True, exist_ok=True)
        return HeartbeatJournalStorage(path, heartbeat_s, retry)
    except Exception as error:  # noqa: BLE001 (driver, network, permission: one line, credentials removed)
        text = str(error).strip()
        reason = scrub(text.splitlines()[0] if text else type(error).__name__, storage)
        allowed = "a journal file path (the default), sqlite:///PATH or a database URL such as postgresql://HOST/DB"
        raise StorageError(f"cannot open sweep storage {mask_url(storage)}: {reason}; sweep.storage takes {allowed}") from None
