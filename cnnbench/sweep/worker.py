"""A sweep worker: fills the study's slots until there are ``budget``, then waits for the other workers.

The same loop runs in the ``cnnbench sweep`` process, in the ``sweep.workers - 1`` processes it starts
beside itself, and on every machine that runs the same command against a shared database. Optuna's
``study.optimize`` runs each trial: it marks dead workers' trials failed (heartbeat), re-queues them
through the storage's retry callback, beats the heartbeat while a trial runs and records the outcome.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing.process import BaseProcess

import optuna
import torch
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import fail_stale_trials

from cnnbench.composition import composing
from cnnbench.errors import CnnbenchError
from cnnbench.plugins import default_registry
from cnnbench.sweep.accounting import RETRY_OF, SURPLUS, Tally, slots_before
from cnnbench.sweep.objective import TrialFailed, TrialRunner
from cnnbench.sweep.setup import Sweep, prepare
from cnnbench.sweep.study import open_study, quiet_optuna

POLL_S = 1.0


class SurplusTrial(Exception):
    """Another worker filled the last slot first; this trial closes without training."""


class SlotGuard:
    """Runs a trial only if it fills one of the first ``budget`` slots (see :mod:`cnnbench.sweep.accounting`)."""

    def __init__(self, runner: TrialRunner, budget: int) -> None:
        self.runner, self.budget = runner, budget

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        trials = trial.study.get_trials(deepcopy=False)
        this = next(t for t in trials if t.number == trial.number)
        if RETRY_OF not in this.system_attrs and slots_before(trials, trial.number) >= self.budget:
            trial.set_user_attr(SURPLUS, True)
            raise SurplusTrial(f"trial {trial.number}: all {self.budget} slots are taken")
        return self.runner(trial)


def work(study: optuna.Study, runner: TrialRunner, budget: int) -> None:
    """Run trials until the study has ``budget`` slots and none is waiting or running anywhere."""
    objective = SlotGuard(runner, budget)
    while True:
        tally = Tally.of(study.get_trials(deepcopy=False))
        if tally.waiting or tally.slots < budget:
            try:  # optimize first fails the trials of dead workers, whose copies then wait in the queue
                study.optimize(objective, n_trials=1, catch=(TrialFailed, SurplusTrial))
            except UpdateFinishedTrialError:
                pass  # this worker stalled past the grace period; another one took its trial for dead and re-queued it
        elif tally.running:
            time.sleep(POLL_S)  # another worker's trial may still die and come back
            fail_stale_trials(study)
        else:
            return


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """End this worker when the ``cnnbench sweep`` process that started it dies, even by SIGKILL.

    Linux delivers SIGTERM on the parent's death (``prctl(PR_SET_PDEATHSIG)``); elsewhere a thread watches
    for this process being handed to another parent. The trial it was running stays RUNNING, and the
    heartbeat hands it to the next worker, as for a killed machine.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    else:
        threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True, name="cnnbench-parent-watch").start()
    if os.getppid() != parent.pid:  # the parent died before the signal was armed
        os._exit(1)


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_S)
    os._exit(1)


def worker_threads(trainer_threads: int | None, workers: int) -> int:
    """Torch threads per worker process: the configured number, else this machine's cores shared out."""
    return int(trainer_threads) if trainer_threads else max(1, (os.cpu_count() or 1) // workers)


def worker_process(
    overrides: Sequence[str], config_dir: str | None, study_name: str, storage: str, budget: int, index: int, threads: int
) -> None:
    """Entry point of a spawned worker process: rebuild the sweep from the command's overrides and work."""
    die_with_parent()
    logging.basicConfig(level=logging.WARNING, format="cnnbench: %(message)s")
    quiet_optuna()
    torch.set_num_threads(threads)
    registry = default_registry()
    try:
        with composing(registry, config_dir=config_dir, task_name="sweep"):
            sweep = replace(prepare(overrides, registry, config_dir), study_name=study_name, storage=storage)
            work(open_study(sweep, index), TrialRunner(sweep), budget)
    except CnnbenchError as error:
        print(f"cnnbench: error: worker {index}: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


@contextmanager
def helper_processes(sweep: Sweep, budget: int) -> Iterator[list[BaseProcess]]:
    """Start ``sweep.workers - 1`` worker processes beside this one, which is worker 0, and wait for them
    on leaving. They are spawned, not forked: no torch threads or storage connections are inherited. Each
    process, this one included, gets its share of the cores unless ``trainer.threads`` says otherwise."""
    context = multiprocessing.get_context("spawn")
    threads = worker_threads(sweep.configs.base.trainer.threads, sweep.settings.workers)
    if sweep.settings.workers > 1:
        torch.set_num_threads(threads)
    processes = [
        context.Process(
            target=worker_process,
            args=(sweep.overrides, sweep.config_dir, sweep.study_name, sweep.storage, budget, index, threads),
            name=f"cnnbench-sweep-{index}",
        )
        for index in range(1, sweep.settings.workers)
    ]
    for process in processes:
        process.start()
    try:
        yield processes
    finally:  # on Ctrl-C too: the workers got the same signal and close their trials
        for process in processes:
            process.join()
