"""Reports over run records: leaderboard, ablations, Markdown/HTML/CSV/Parquet and plots.

``cnnbench.report.load(paths)`` gives every record as one pandas DataFrame (see ``docs/report.md``).
It is imported on first use, so ``import cnnbench.report`` (and the CLI) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from cnnbench.report.loader import load

        return load
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
