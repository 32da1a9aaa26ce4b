"""Run records: one JSON file per run, written atomically, read by ``cnnbench report``.

A record is plain JSON (never pickle). Its top-level keys are the schema below; ``components`` is
already flat (``"activation"``, ``"activation.negative_slope"``, ...) so a pandas frame gets one
column per choice and hyperparameter.

Schema (version :data:`SCHEMA_VERSION`)::

    schema        int     record schema version
    record_type   str     "run" (a training run or sweep trial) or "bench" (a component timing)
    run_id        str     unique, sortable: <UTC time>-<host>-<pid>-<random>
    status        str     "completed" | "failed" | "pruned"
    error         str?    the reason, for failed runs
    started_at, finished_at   ISO-8601 UTC
    task, dataset, model      str
    components    dict    {"convolution": "conv", "pooling": "mixed", "pooling.lam": 0.5, ...}
    seed          int
    metrics       dict    final metrics: scalars ("accuracy", "loss", ...) and lists ("per_class_accuracy")
    curve         list    one dict per epoch: {"epoch": 1, "train_loss": ..., <metric>: ..., "epoch_s": ...}
    timing        dict    {"train_s", "eval_s", "throughput" (training images/s)}
    params        int     trainable parameter count
    peak_memory_bytes int max resident (CPU) or max allocated (CUDA)
    device, device_name   str
    trainer       dict    {"precision", "channels_last", "compile", "batch_size", "epochs", ...}
    versions      dict    {"python", "torch", "cnnbench", "plugins": {distribution: version}}
    git_commit, host      str?
    objective     dict    {"metric": str, "maximize": bool}: the task's primary metric, which leaderboards rank by
    study         dict?   sweep trials: {"name", "trial", "params": {key: value}, "metric", "direction"}
    config        dict    the full resolved Hydra config
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
RUNS_DIR = "runs"


def new_run_id(now: datetime | None = None) -> str:
    """A unique, time-sortable id; parallel runs on one or many hosts never collide."""
    now = now or datetime.now(UTC)
    host = socket.gethostname().split(".")[0][:16] or "host"
    return f"{now:%Y%m%dT%H%M%S%fZ}-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_record(record: dict[str, Any], results_dir: Path | str) -> Path:
    """Save ``record`` as ``<results_dir>/runs/<run_id>.json`` atomically and return the path."""
    record = {"schema": SCHEMA_VERSION, **record}
    path = Path(results_dir) / RUNS_DIR / f"{record['run_id']}.json"
    return write_atomic(path, json.dumps(record, indent=1, sort_keys=True, default=str, allow_nan=True) + "\n")


def flatten_components(choices: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"pooling": {"name": "mixed", "lam": 0.5}}`` -> ``{"pooling": "mixed", "pooling.lam": 0.5}``."""
    flat: dict[str, Any] = {}
    for slot, node in choices.items():
        flat[slot] = node["name"]
        flat.update({f"{slot}.{key}": value for key, value in node.items() if key != "name"})
    return flat
