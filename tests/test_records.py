"""Records are written whole or not at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cnnbench.records import flatten_components, new_run_id, write_atomic, write_record


def test_record_round_trips_with_schema_version(tmp_path: Path) -> None:
    path = write_record({"run_id": "r1", "metrics": {"accuracy": 0.5}}, tmp_path)
    assert path == tmp_path / "runs" / "r1.json"
    assert json.loads(path.read_text()) == {"schema": 1, "run_id": "r1", "metrics": {"accuracy": 0.5}}


def test_a_failed_write_leaves_neither_a_file_nor_a_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(tmp_path / "r.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_version(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "r.json", "old")
    with pytest.raises(TypeError):
        write_atomic(path, None)  # type: ignore[arg-type]
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_run_ids_are_unique_and_sort_by_time() -> None:
    ids = [new_run_id() for _ in range(200)]
    times = [run_id.split("-")[0] for run_id in ids]
    assert len(set(ids)) == 200 and times == sorted(times)


def test_flatten_components() -> None:
    assert flatten_components({"pooling": {"name": "mixed", "lam": 0.5}, "loss": {"name": "softmax"}}) == {
        "pooling": "mixed",
        "pooling.lam": 0.5,
        "loss": "softmax",
    }


def test_a_run_killed_midway_leaves_no_record(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "cnnbench.cli", "run", "trainer.epochs=500", "trainer.progress=false", f"results.dir={tmp_path}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if "epoch 2/500" in line:
                break
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
