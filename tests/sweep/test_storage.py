"""Storage: credentials stay out of every message, and the journal file gets Optuna's heartbeat semantics."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.trial import TrialState

from cnnbench.credentials import mask_url, scrub
from cnnbench.sweep.accounting import RETRY_OF
from cnnbench.sweep.storage import HEARTBEAT_ATTR, HeartbeatJournalStorage, StorageError, open_storage
from cnnbench.sweep.study import quiet_optuna

URL = "postgresql+psycopg2://alice:s3cr3t-pw@db.example:5432/optuna"


def test_mask_url_hides_user_and_password_and_leaves_paths_alone():
    assert mask_url(URL) == "postgresql+psycopg2://***@db.example:5432/optuna"
    assert mask_url("postgresql://db.example/optuna") == "postgresql://db.example/optuna"
    assert mask_url("results/sweeps/s/optuna.journal") == "results/sweeps/s/optuna.journal"
    assert "s3cr3t-pw" not in scrub(f"could not connect to {URL}; password s3cr3t-pw rejected", URL)


def test_unreachable_database_error_is_one_line_without_the_password():
    with pytest.raises(StorageError) as refused:
        open_storage("postgresql+psycopg2://alice:s3cr3t-pw@127.0.0.1:1/optuna", heartbeat_s=1, max_retry=1)
    message = str(refused.value)
    assert message.startswith("cannot open sweep storage postgresql+psycopg2://***@127.0.0.1:1/optuna")
    assert "s3cr3t-pw" not in message and "\n" not in message


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_journal_storage_fails_silent_trials_and_requeues_them_with_their_parameters(tmp_path):
    quiet_optuna()
    storage = open_storage(str(tmp_path / "s" / "optuna.journal"), heartbeat_s=1, max_retry=1)
    assert isinstance(storage, HeartbeatJournalStorage)
    study = optuna.create_study(storage=storage, study_name="s")
    alive, dead = study.ask(), study.ask()
    for trial in (alive, dead):
        trial.suggest_float("x", 0.0, 1.0)
        storage.record_heartbeat(trial._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == []
    time.sleep(2.2)  # past the grace period (twice the 1 s heartbeat); only one worker still beats
    storage.record_heartbeat(alive._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == [dead._trial_id]

    optuna.storages.fail_stale_trials(study)

    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.RUNNING, TrialState.FAIL, TrialState.WAITING]
    assert trials[2].params == trials[1].params and trials[2].system_attrs[RETRY_OF] == dead.number


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_requeued_copy_is_judged_by_its_own_start_not_the_heartbeat_it_inherits(tmp_path):
    quiet_optuna()
    storage = open_storage(str(tmp_path / "optuna.journal"), heartbeat_s=1, max_retry=0)
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    storage.set_trial_system_attr(trial._trial_id, HEARTBEAT_ATTR, time.time() - 60)  # copied from a dead attempt
    assert storage._get_stale_trial_ids(study._study_id) == []


def test_mask_url_hides_credentials_in_every_part_of_the_url():
    url = "postgresql://bob:s3cr%40t@db:5432/optuna?sslmode=require&password=hunter2&pwd=x1&token=abc&passwd=y2"
    masked = mask_url(url)
    assert masked == "postgresql://***@db:5432/optuna?sslmode=require&password=***&pwd=***&token=***&passwd=***"
    scrubbed = scrub(f"cannot connect to {url}: password hunter2 or s3cr@t refused (token abc)", url)
    assert not any(secret in scrubbed for secret in ("hunter2", "s3cr", "abc", "x1", "bob"))
    assert mask_url("sqlite:///results/sweeps/s.db") == "sqlite:///results/sweeps/s.db"
    assert mask_url("mysql://db/optuna?password=") == "mysql://db/optuna?password=***"
