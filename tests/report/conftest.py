"""Fixtures for the report tests: results folders written with the same `write_record` a run uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnbench.report import synthetic


def write_results(folder: Path) -> Path:
    """A small ablation grid on two devices, a sweep, component timings and a pytest-benchmark file."""
    records = synthetic.grid(activations=("relu", "elu", "prelu"), poolings=("max", "avg"), seeds=range(3), devices=("cpu", "cuda"))
    synthetic.write_all(records + synthetic.study_trials(trials=10) + synthetic.bench_records(), folder)
    synthetic.write_pytest_benchmark(folder)
    return folder


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """The standard results folder, the test's own to change."""
    return write_results(tmp_path / "results")


@pytest.fixture(scope="session")
def shared_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard results folder, shared: only for tests that leave it as it is."""
    return write_results(tmp_path_factory.mktemp("shared") / "results")


@pytest.fixture
def write(tmp_path: Path):
    """``write(records)`` -> a fresh results folder holding exactly those records."""
    counter = iter(range(1_000))

    def write_records(records: list[dict]) -> Path:
        folder = tmp_path / f"results-{next(counter)}"
        synthetic.write_all(records, folder)
        return folder

    return write_records
