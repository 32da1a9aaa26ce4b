"""The benchmark scripts keep working as the code under them changes: each parses its options, and the
loop benchmark runs end to end on a few hundred images (its figures are in the README)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(path for path in BENCHMARKS.glob("*.py") if path.name not in ("conftest.py", "test_components.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.stem for path in SCRIPTS])
def test_the_script_imports_and_parses_its_options(script: Path) -> None:
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr


def test_the_loop_benchmark_runs_and_both_loops_end_with_the_same_weights(shared_data: Path) -> None:
    command = [sys.executable, str(BENCHMARKS / "overhead.py"), "--data-root", str(shared_data), "--limit", "256", "--repeats", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "identical final weights: True" in result.stdout
