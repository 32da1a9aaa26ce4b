"""A sweep killed with SIGKILL in the middle of a trial loses that trial only, and the rerun finishes the study."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from cnnbench.sweep.accounting import RETRY_OF, Tally
from cnnbench.sweep.storage import JOURNAL_NAME


def load(journal: Path) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    return optuna.load_study(study_name="crash", storage=storage).get_trials()


def test_sigkill_mid_trial_loses_only_that_trial_and_the_rerun_retries_it(tmp_path):
    results = tmp_path / "results"
    command = [
        sys.executable, "-m", "cnnbench.cli", "sweep", "sweep=mixed_lambda", "sweep.study=crash", "sweep.trials=3",
        "sweep.heartbeat_s=1", "task.limit=200", "trainer.epochs=10", "trainer.threads=1", f"results.dir={results}",
    ]  # fmt: skip
    journal = results / "sweeps" / "crash" / JOURNAL_NAME
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            trials = load(journal) if journal.exists() and journal.stat().st_size else []
            if len(trials) == 2 and trials[1].state == TrialState.RUNNING and trials[1].intermediate_values:
                break  # trial 0 is done, trial 1 is past its first epoch
            time.sleep(0.05)
        else:
            raise AssertionError("the sweep never reached the middle of its second trial")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    killed = load(journal)
    assert [t.state for t in killed] == [TrialState.COMPLETE, TrialState.RUNNING]

    second = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr

    trials = load(journal)
    assert trials[1].state == TrialState.FAIL  # taken for dead once its heartbeat went silent
    retries = [t for t in trials if RETRY_OF in t.system_attrs]
    assert len(retries) == 1 and retries[0].system_attrs[RETRY_OF] == 1
    assert retries[0].state == TrialState.COMPLETE and retries[0].params == trials[1].params
    assert Tally.of(trials) == Tally(complete=3)
    records = [json.loads(p.read_text()) for p in results.glob("runs/*.json")]
    # trial 0 once (it completed: never run again), nothing for the killed trial 1, then a new trial and the retry
    assert sorted(r["study"]["trial"] for r in records) == [0, 2, 3]


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _command_line(pid: int) -> str:
    """The command line of ``pid``, "" once it has exited (a short-lived child, between listing and reading)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_the_parent_ends_its_worker_processes(tmp_path):
    command = [
        sys.executable, "-m", "cnnbench.cli", "sweep", "sweep=mixed_lambda", "sweep.study=orphans", "sweep.trials=6",
        "sweep.workers=2", "task.limit=200", "trainer.epochs=20", "trainer.threads=1", f"results.dir={tmp_path}",
    ]  # fmt: skip
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (workers := [c for c in _children(parent.pid) if "spawn_main" in _command_line(c)]):
            assert time.monotonic() < deadline and parent.poll() is None, "the sweep never started its worker"
            time.sleep(0.1)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "a worker outlived its parent"
    finally:
        parent.kill()
        for pid in _children(parent.pid) + locals().get("workers", []):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
