"""What a report covers: how many records of each kind, which devices, versions, commits and dates.

Everything here is derived from the records (never from the clock or the machine building the
report), so the same records always give the same lines.
"""

from __future__ import annotations

import pandas as pd

from cnnbench.report.loader import PYTEST_BENCHMARK
from cnnbench.report.stats import texts


def _counts(values: pd.Series) -> list[tuple[str, int]]:
    """The distinct values with their counts, most frequent first, then by name."""
    counts = texts(values)
    return sorted(counts[counts != ""].value_counts().items(), key=lambda item: (-item[1], item[0]))


def _counted(values: pd.Series) -> str:
    """``"a (3), b (1)"``."""
    return ", ".join(f"{value} ({count})" for value, count in _counts(values)) or "unknown"


def _records(frame: pd.DataFrame) -> str:
    runs = frame[frame["record_type"] == "run"]
    trials = runs["study.name"].notna()
    parts = [f"{len(runs)} runs ({', '.join(f'{count} {status}' for status, count in _counts(runs['status']))})"]
    if trials.any():
        parts.append(f"{int(trials.sum())} of them sweep trials in {runs.loc[trials, 'study.name'].nunique()} studies")
    parts.append(f"{int((frame['record_type'] == 'bench').sum())} component timings")
    parts.append(f"{int((frame['record_type'] == PYTEST_BENCHMARK).sum())} pytest-benchmark results")
    return "; ".join(parts)


def _devices(frame: pd.DataFrame) -> str:
    named = texts(frame["device"])
    if "device_name" in frame:
        names = texts(frame["device_name"])
        named = named.where(names == "", named + " (" + names + ")")
    return _counted(named)


def _dates(frame: pd.DataFrame) -> str:
    times = pd.concat([frame["started_at"], frame["finished_at"]]).dropna()
    if times.empty:
        return "unknown"
    return f"{times.min().isoformat()} to {times.max().isoformat()}"


def provenance(frame: pd.DataFrame, skipped: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """``(label, value)`` lines describing ``frame``; ``skipped`` files are listed with their reason."""
    def column(name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series(dtype=object)

    lines = [
        ("Records", _records(frame)),
        ("Devices", _devices(frame)),
        ("Dates", _dates(frame)),
        ("torch", _counted(column("versions.torch"))),
        ("cnnbench", _counted(column("versions.cnnbench"))),
        ("Python", _counted(column("versions.python"))),
        ("Git commits", _counted(texts(column("git_commit")).str[:12])),
        ("Hosts", _counted(column("host"))),
    ]
    lines.extend(("Skipped file", f"{source}: {reason}") for source, reason in sorted(skipped or []))
    return lines
