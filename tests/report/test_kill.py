"""A ``cnnbench report`` killed at any moment leaves the previous report whole (or the new one, whole)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnbench.report import synthetic

KILLS = 12


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def report(results: Path, out: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "cnnbench.cli", "report", "--results", str(results), "--out", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_a_whole_report(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert report(results, out).wait() == 0
    previous = snapshot(out)
    synthetic.write_all(synthetic.grid(activations=("tanh",), poolings=("lp",), seeds=range(3), devices=("cpu",)), results)
    started = time.monotonic()
    assert report(results, tmp_path / "new").wait() == 0
    duration, new = time.monotonic() - started, snapshot(tmp_path / "new")
    assert new != previous and {"report.md", "report.html", "leaderboard.csv", "records.parquet"} <= set(new)
    outcomes = []
    for kill in range(KILLS):
        process = report(results, out)
        time.sleep(duration * (kill + 0.5) / KILLS)
        process.send_signal(signal.SIGKILL)
        process.wait()
        left = snapshot(out)
        assert left in (previous, new), f"kill {kill} at {duration * (kill + 0.5) / KILLS:.2f} s left a mixed or damaged report"
        outcomes.append(left == new)
    assert not outcomes[0], "the first kill, early in the run, must find the previous report"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("results", "report", "new")]
    assert all(name.startswith(".report.") and name.endswith(".tmp") for name in leftovers), leftovers
    assert report(results, out).wait() == 0 and snapshot(out) == new
