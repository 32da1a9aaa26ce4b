"""Run ``cnnbench sweep`` in this process on tiny settings, and read what it left behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from cnnbench.cli import main
from cnnbench.sweep.storage import JOURNAL_NAME

#: a few seconds per trial at most: 200 digits, one thread
TINY = ("task.limit=200", "trainer.epochs=1", "trainer.threads=1", "trainer.batch_size=50")


class SweepRun:
    def __init__(self, code: int, out: str, err: str, results: Path) -> None:
        self.code, self.out, self.err, self.results = code, out, err, results

    @property
    def summary(self) -> dict[str, Any]:
        (path,) = self.results.glob("sweeps/*/summary.json")
        return json.loads(path.read_text())

    @property
    def folder(self) -> Path:
        return self.results / "sweeps" / self.summary["study"]

    def study(self) -> optuna.Study:
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(self.folder / JOURNAL_NAME)))
        return optuna.load_study(study_name=self.summary["study"], storage=storage)

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.results.glob("runs/*.json"))]


@pytest.fixture
def sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., SweepRun]:
    """``sweep(*overrides)`` runs ``cnnbench sweep`` with :data:`TINY` settings and results under tmp_path."""
    results = tmp_path / "results"

    def run(*overrides: str) -> SweepRun:
        code = main(["sweep", *TINY, f"results.dir={results}", *overrides])
        captured = capsys.readouterr()
        return SweepRun(code, captured.out, captured.err, results)

    return run
