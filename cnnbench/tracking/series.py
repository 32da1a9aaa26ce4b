"""What a tracker writes, named once for all of them: per-epoch scalars, test metrics, hyperparameters, tags."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cnnbench.errors import CnnbenchError
from cnnbench.records import RunRecord


class MissingTrackerError(CnnbenchError):
    """A ``logger`` choice whose package is not installed."""


def settings(record: RunRecord, logger: str) -> Mapping[str, Any] | None:
    """The ``logger.<logger>`` node of the run's config, or ``None`` when that tracker was not chosen."""
    chosen = record.config.get("logger") or {}
    return chosen.get(logger)


def require(module: str, logger: str, extra: str) -> Any:
    """Import ``module`` for ``logger=<logger>``, or say in one line which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingTrackerError(f"logger={logger} needs {module.split('.')[0]}: pip install 'cnnbench[{extra}]'") from None


def _numbers(prefix: str, metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite scalar metrics (lists such as per-class accuracy are left out), names prefixed."""
    return {
        f"{prefix}/{name}": float(value)
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def epoch_scalars(epoch: Mapping[str, Any]) -> dict[str, float]:
    """One curve entry as ``{"train/loss", "validation/<metric>", "lr", "time/epoch_s"}``."""
    scalars = _numbers("validation", epoch.get("validation") or {})
    for key, name in (("train_loss", "train/loss"), ("lr", "lr"), ("epoch_s", "time/epoch_s")):
        if isinstance(epoch.get(key), int | float) and math.isfinite(epoch[key]):
            scalars[name] = float(epoch[key])
    return scalars


def final_scalars(record: RunRecord) -> dict[str, float]:
    """The end of a run: ``test/<metric>`` (evaluated once, on the selected weights) and ``train_eval/<metric>``,
    the same metrics on the record's training sample (``train/loss`` is the per-epoch training loss)."""
    return {**_numbers("test", record.metrics.get("test") or {}), **_numbers("train_eval", record.metrics.get("train") or {})}


def hyperparameters(record: RunRecord) -> dict[str, str | int | float | bool]:
    """The run's configuration identity (everything that can change its result), plus its seed, as
    scalars a tracker accepts: ``None`` and lists become text."""
    flat = {**record.identity, "trainer.seed": record.seed}
    return {key: value if isinstance(value, str | int | float | bool) else str(value) for key, value in sorted(flat.items())}


def tags(record: RunRecord) -> dict[str, str]:
    """What finds the run again: its id and config id, task, dataset, model, and a sweep trial's study and trial."""
    found = {"run_id": record.run_id, "config_id": record.config_id, "task": record.task, "dataset": record.dataset, "model": record.model}
    if record.study:
        found |= {"study": str(record.study["name"]), "trial": str(record.study["trial"])}
    return found


def run_name(record: RunRecord) -> str:
    """A folder-safe run name: a sweep trial's under its study (``<study>/trial-0007-seed0``), else the run id."""
    if record.study:
        return f"{record.study['name']}/trial-{int(record.study['trial']):04d}-seed{record.seed}"
    return record.run_id
