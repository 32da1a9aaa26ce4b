"""Work handed to a forked worker: done in another process, its arguments never pickled, its result
(or its exception) back here, and the report's tables the same as when computed in this process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from cnnbench.report import aside, build, load
from cnnbench.report.build import build_report
from cnnbench.report.stats import ReportInputError

forks = pytest.mark.skipif(not aside.FORKS, reason="work is done in this process here")


@forks
def test_work_is_done_in_a_forked_process_from_arguments_that_are_not_pickled() -> None:
    unpicklable = [lambda: 1, lambda: 2]  # reaches the worker through the fork
    with aside.aside(lambda calls: (os.getpid(), sum(call() for call in calls)), unpicklable) as result:
        pid, total = result()
    assert pid != os.getpid() and total == 3


@forks
def test_an_exception_in_the_worker_is_raised_here() -> None:
    with aside.aside(divmod, 1, 0) as result, pytest.raises(ZeroDivisionError):
        result()


def test_without_fork_the_work_is_done_here_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aside, "FORKS", False)
    done = []
    with aside.aside(lambda: done.append(os.getpid()) or "ok") as result:
        assert done == []
        assert result() == "ok" and done == [os.getpid()]


@forks
def test_the_tables_computed_aside_are_those_computed_here(shared_results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = load(shared_results)
    computed_by = []
    real = build._aside_tables

    def spy(*args):
        computed_by.append(os.getpid())
        return real(*args)

    monkeypatch.setattr(build, "_aside_tables", spy)
    forked = build_report(frame)
    assert computed_by == []  # appended in the worker's memory, not in this process's
    monkeypatch.setattr(aside, "FORKS", False)
    here = build_report(frame)
    assert computed_by == [os.getpid()]
    assert not forked.aggregates.empty and not forked.claims.empty and forked.studies
    for name in ("leaderboard", "ablation", "aggregates", "profiles", "claims"):
        pd.testing.assert_frame_equal(getattr(forked, name), getattr(here, name))
    for mine, theirs in zip(forked.studies, here.studies, strict=True):
        assert (mine.name, mine.params, mine.importances) == (theirs.name, theirs.params, theirs.importances)
        pd.testing.assert_frame_equal(mine.trials, theirs.trials)


def _sleep_in_worker(seconds: float) -> None:
    print(os.getpid(), flush=True)
    time.sleep(seconds)


@forks
def test_a_killed_report_takes_its_worker_with_it(tmp_path: Path) -> None:
    script = "from tests.report.test_aside import _sleep_in_worker\nfrom cnnbench.report.aside import aside\nwith aside(_sleep_in_worker, 60) as done:\n    done()\n"
    report = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    worker = int(report.stdout.readline())
    os.kill(report.pid, signal.SIGKILL)
    report.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    """Running or sleeping: not gone and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_bad_baseline_is_refused_before_the_worker_starts(shared_results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = []
    monkeypatch.setattr(build, "aside", lambda *args: started.append(args))
    with pytest.raises(ReportInputError, match="--baseline pins activation.negative_slope"):
        build_report(load(shared_results), baseline="activation=leaky_relu,activation.negative_slope=0.1")
    assert started == []
