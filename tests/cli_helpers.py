"""Run the ``cnnbench`` command in a subprocess, as a user would, and read what it recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

FAST = ("task.limit=240", "trainer.epochs=1", "trainer.progress=false")


def cnnbench(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CNNBENCH_RESULTS": str(cwd / "results"), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cnnbench.cli", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def records(results: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((results / "runs").glob("*.json"))]


def assert_clean_error(status: int, stderr: str, *fragments: str) -> None:
    """A non-zero exit, one ``cnnbench: error:`` line naming the problem, and no traceback."""
    assert status != 0, stderr
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("cnnbench: error:")]
    assert len(errors) == 1, stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
