"""``benchmarks/test_components.py`` with pytest-benchmark on: its JSON reaches the report as ratios."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnbench.report.loader import load, read_records
from cnnbench.report.stats import pytest_benchmark_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def benchmark_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mixed pooling and its baseline, timed for real but briefly, on a small map and two threads."""
    out = tmp_path_factory.mktemp("results") / "benchmarks" / "components.json"
    out.parent.mkdir()
    command = [
        sys.executable, "-m", "pytest", "benchmarks/test_components.py", "-q", "-p", "no:xdist", "-k", "pooling-mixed-",
        "--benchmark-enable", "--benchmark-min-rounds=3", "--benchmark-max-time=0.001", "--benchmark-warmup=off",
        f"--benchmark-json={out}", "--bench-shape=4,3,8,8", "--bench-threads=2",
    ]  # fmt: skip
    # run under pytest-xdist, the worker's variables would make pytest-benchmark disable itself
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_XDIST")}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_suite_records_role_and_threads_in_extra_info(benchmark_json: Path) -> None:
    extra = [bench["extra_info"] for bench in json.loads(benchmark_json.read_text())["benchmarks"]]
    assert sorted(e["role"] for e in extra) == ["baseline", "component"]
    assert {e["threads"] for e in extra} == {2}
    assert {e["component"] for e in extra} == {"mixed"}


def test_the_report_shows_the_component_over_baseline_ratio_per_thread_count(benchmark_json: Path) -> None:
    table = pytest_benchmark_table(load(benchmark_json.parent))
    (row,) = table.to_dict("records")
    assert (row["kind"], row["component"], row["threads"], row["shape"]) == ("pooling", "mixed", "2", "4,3,8,8")
    assert row["baseline"] == "max_pool2d+avg_pool2d"
    assert row["ratio_forward_backward"] == pytest.approx(row["forward_backward_ms"] / row["baseline_forward_backward_ms"])
    assert 0 < row["ratio_forward_backward"] < float("inf")  # a real timing: its size is the machine's business under load


def test_ratios_are_taken_within_a_file_then_the_median_over_files(benchmark_json: Path, tmp_path: Path) -> None:
    document = json.loads(benchmark_json.read_text())
    for number, factor in enumerate((1.0, 3.0, 5.0)):  # the machine got slower; the ratio did not change
        for bench in document["benchmarks"]:
            bench["stats"]["median"] = factor * (2e-3 if bench["extra_info"]["role"] == "component" else 1e-3)
        (tmp_path / f"run{number}.json").write_text(json.dumps(document))
    (row,) = pytest_benchmark_table(load(tmp_path)).to_dict("records")
    assert row["n"] == 3
    assert row["ratio_forward_backward"] == pytest.approx(2.0)
    assert row["forward_backward_ms"] == pytest.approx(6.0)


def test_a_sweep_summary_is_passed_over_silently(benchmark_json: Path, recwarn: pytest.WarningsRecorder) -> None:
    summary = benchmark_json.parent.parent / "sweeps" / "mixed-lam" / "summary.json"
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"study": "mixed-lam", "storage": "x", "objectives": [], "trials": {}, "best": []}))
    loaded = read_records(benchmark_json.parent.parent)
    assert loaded.skipped == []
    assert len(loaded.rows) == 2
    load(benchmark_json.parent.parent)
    assert not [w for w in recwarn if "summary.json" in str(w.message)]
