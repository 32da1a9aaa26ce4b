"""Run and bench records: typed, one JSON file per run, written atomically, read by ``cnnbench report``.

A record is plain JSON (never pickle). :class:`RunRecord` and :class:`BenchRecord` are the schema (version
:data:`SCHEMA_VERSION`); ``docs/record.schema.json`` is generated from them (``python -m cnnbench.records``)
and a test keeps the two in step. Older records are brought to this schema by :func:`upgrade`, which the
report's loader applies to every file it reads.

The protocol a run record documents: model selection and every per-epoch number use the *validation* split;
``metrics["test"]`` is evaluated once, at the end, on the selected weights (``selection``). ``config_id`` names
the configuration (everything that can change a result, see :func:`config_identity`), so repeats of one
configuration are recognised and different configurations are never pooled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from cnnbench.atomic import write_text

SCHEMA_VERSION = 2
RUNS_DIR = "runs"
#: the splits a run record holds metrics for
SPLITS = ("train", "validation", "test")

Status = Literal["completed", "failed", "pruned"]



def results_dir() -> Path:
    """Where records go and reports look unless a command is told: ``$CNNBENCH_RESULTS``, else ``results``
    (the same variable as ``results.dir`` in ``conf/config.yaml``)."""
    return Path(os.environ.get("CNNBENCH_RESULTS", "results"))

@dataclass(frozen=True)
class Objective:
    """The metric a task is ranked by, and whether higher is better."""

    metric: str
    maximize: bool = True

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        return "maximize" if self.maximize else "minimize"

    def better(self, value: float, than: float) -> bool:
        return value > than if self.maximize else value < than


@dataclass(frozen=True)
class Selection:
    """Which epoch's weights the test split was evaluated on, and on which split that choice was made.

    ``rule`` is ``final`` (the last epoch) or ``best_val`` (the epoch with the best validation objective).
    ``split`` is ``validation`` for every schema-2 record; ``test`` marks a migrated schema-1 record, whose
    numbers were chosen and reported on the test split.
    """

    rule: Literal["final", "best_val"]
    epoch: int
    split: Literal["validation", "test"] = "validation"


@dataclass(frozen=True)
class DataIdentity:
    """What data a run saw: the dataset, a fingerprint of its content, and how validation was made.

    ``validation`` is ``carved`` (``val_fraction`` of the training split, stratified, drawn with
    ``split_seed``), ``dataset`` (the dataset's own validation split) or ``generated`` (extra scenes from a
    generated dataset's own seed stream).
    """

    dataset: str
    fingerprint: str
    val_fraction: float | None
    split_seed: int
    validation: Literal["carved", "dataset", "generated"]
    sizes: dict[str, int] = field(default_factory=dict)


@dataclass
class RunRecord:
    """One training run or sweep trial (``record_type: "run"``).

    ``metrics`` maps each split of :data:`SPLITS` to the task's metrics (scalars, and lists such as
    ``per_class_accuracy``): ``test`` once on the selected weights, ``validation`` at the selected epoch,
    ``train`` on a fixed sample of the training split the size of validation (the overfitting gap is
    train − validation). ``curve`` has one entry per epoch: ``epoch``, ``train_loss``, ``epoch_s``, ``lr``
    and ``validation`` (its scalar metrics). ``identity`` is the flat configuration ``config_id`` hashes.
    """

    run_id: str
    status: Status
    started_at: str
    finished_at: str | None
    task: str
    dataset: str
    model: str
    components: dict[str, Any]
    seed: int
    config_id: str
    identity: dict[str, Any]
    data: DataIdentity
    objective: Objective
    selection: Selection | None
    metrics: dict[str, dict[str, Any]]
    curve: list[dict[str, Any]]
    timing: dict[str, float | None]
    params: int
    peak_memory_bytes: int | None
    memory_measured: str
    device: str
    device_name: str
    trainer: dict[str, Any]
    versions: dict[str, Any]
    git_commit: str | None
    host: str
    config: dict[str, Any]
    error: str | None = None
    study: dict[str, Any] | None = None
    schema: int = SCHEMA_VERSION
    record_type: Literal["run"] = "run"

    kind: ClassVar[str] = "run"


@dataclass
class BenchRecord:
    """One component timing of ``cnnbench bench`` (``record_type: "bench"``), beside its built-in baseline.

    ``*_ms`` are medians over ``repeats``; ``ratio_*`` divide the component's time by the baseline's, both
    timed in the same process. ``samples_ms`` keeps every repeat.
    """

    run_id: str
    status: str
    started_at: str
    finished_at: str | None
    kind: str
    name: str
    hyperparameters: dict[str, Any]
    plugin: str
    distribution: str
    plugin_version: str
    baseline: str | None
    target: float | None
    meets_target: bool | None
    device: str
    device_name: str
    dtype: str
    shape: str
    requested_shape: str
    batch_size: int
    forward_ms: float | None
    baseline_forward_ms: float | None
    ratio_forward: float | None
    forward_backward_ms: float | None
    baseline_forward_backward_ms: float | None
    ratio_forward_backward: float | None
    samples_ms: dict[str, list[float] | None]
    repeats: int
    min_run_time_s: float
    threads: int | None
    clock: str
    compile: bool
    seed: int
    versions: dict[str, Any]
    git_commit: str | None
    host: str
    error: str | None = None
    schema: int = SCHEMA_VERSION
    record_type: Literal["bench"] = "bench"


Record = RunRecord | BenchRecord


def new_run_id(now: datetime | None = None) -> str:
    """A unique, time-sortable id; parallel runs on one or many hosts never collide."""
    now = now or datetime.now(UTC)
    host = socket.gethostname().split(".")[0][:16] or "host"
    return f"{now:%Y%m%dT%H%M%S%fZ}-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def as_dict(record: Record | Mapping[str, Any]) -> dict[str, Any]:
    """A record as the JSON object it is written as (a mapping is taken as already such an object)."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    return {"schema": SCHEMA_VERSION, **record}


def write_record(record: Record | Mapping[str, Any], results_dir: Path | str) -> Path:
    """Save ``record`` as ``<results_dir>/runs/<run_id>.json`` atomically and return the path."""
    document = as_dict(record)
    path = Path(results_dir) / RUNS_DIR / f"{document['run_id']}.json"
    return write_text(path, json.dumps(document, indent=1, sort_keys=True, default=str, allow_nan=True) + "\n")


def flatten_components(choices: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{"pooling": {"name": "mixed", "lam": 0.5}}`` -> ``{"pooling": "mixed", "pooling.lam": 0.5}``."""
    flat: dict[str, Any] = {}
    for slot, node in choices.items():
        flat[slot] = node["name"]
        flat.update({f"{slot}.{key}": value for key, value in node.items() if key != "name"})
    return flat


# --- configuration identity ---------------------------------------------------------------------------

#: config keys that cannot change a result: left out of a configuration's identity
NOT_IDENTITY = frozenset(
    ["trainer.seed", "trainer.threads", "trainer.progress", "trainer.device", "task.eval_batch_size"]
    + ["data.root", "results", "hydra", "logger", "sweep"]
)


def _canonical(value: Any) -> Any:
    """One spelling per value: ``1.0`` and ``1`` are the same hyperparameter; tuples are lists."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return str(value)


def _flat(prefix: str, node: Any, into: dict[str, Any]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), value, into)
    elif not any(prefix == skip or prefix.startswith(f"{skip}.") for skip in NOT_IDENTITY):
        into[prefix] = _canonical(node)


def config_identity(
    config: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]], fingerprint: str, device_type: str
) -> tuple[str, dict[str, Any]]:
    """The configuration's id and the flat settings it hashes.

    ``config`` is the resolved run config; ``nodes`` the resolved component choices (so ``model: null``
    and the task's default model are one configuration), named as in ``components`` (``pooling``,
    ``pooling.lam``), which are the report's columns. The identity is every setting that can change a
    result, the data's ``fingerprint`` and the device type; it leaves out :data:`NOT_IDENTITY` (the seed,
    threads, progress, folders, the data's path and the device index).
    """
    identity: dict[str, Any] = {}
    data, chosen = config.get("data"), (config.get("task") or {}).get("dataset")
    if isinstance(data, Mapping):  # data.<dataset>: only the chosen dataset's options can change a result
        config = {**config, "data": {key: value for key, value in data.items() if not isinstance(value, Mapping) or key == chosen}}
    _flat("", {key: value for key, value in config.items() if key not in nodes}, identity)
    identity.update({key: _canonical(value) for key, value in flatten_components(nodes).items()})
    identity.update({"data.fingerprint": fingerprint, "device": device_type})
    return identity_hash(identity), dict(sorted(identity.items()))


def identity_hash(identity: Mapping[str, Any]) -> str:
    """16 hex characters of the sha256 of the identity's canonical JSON: the ``config_id``."""
    canonical = json.dumps(dict(identity), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --- older schemas ---------------------------------------------------------------------------------------


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def upgrade(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Any record in the shape of schema :data:`SCHEMA_VERSION` (its ``schema`` still says what was written);
    the input is left unchanged.

    Schema 1 (and unversioned) run records evaluated every epoch, and reported, on the test split: their
    metrics become ``metrics["test"]``, their selection is marked ``split: "test"`` and validation stays
    empty, so a report can say which numbers were chosen on test. Their identity is derived from the
    resolved config they kept (else their components, task and trainer) as :func:`config_identity` does for
    a new run; the data, which they did not fingerprint, is identified by its name alone.
    """
    record = dict(raw)
    schema = int(record.get("schema") or 1)
    if schema >= SCHEMA_VERSION or record.get("record_type", "run") != "run":
        return record  # bench records kept their shape
    metrics = record.get("metrics") or {}
    curve = record.get("curve") or []
    record["metrics"] = {"train": {}, "validation": {}, "test": dict(metrics)}
    record["selection"] = {"rule": "final", "epoch": curve[-1].get("epoch", len(curve)) if curve else 0, "split": "test"}
    record["curve"] = [
        {
            **{k: v for k, v in entry.items() if k in ("epoch", "train_loss", "epoch_s")},
            "test": {k: v for k, v in entry.items() if k not in ("epoch", "train_loss", "epoch_s") and _finite(v)},
        }
        for entry in curve
    ]
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    if not config:
        config = {"task": {"name": record.get("task"), "dataset": record.get("dataset")}, "trainer": record.get("trainer") or {}}
    record["config_id"], record["identity"] = config_identity(
        config, _nodes(record.get("components") or {}), f"unrecorded:{record.get('dataset')}", str(record.get("device", "unknown"))
    )
    record.setdefault("data", {"dataset": record.get("dataset"), "fingerprint": None})
    record.setdefault("memory_measured", "cpu-process-max-rss")
    return record  # "schema" still says what was written


def _nodes(components: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Flat components (``{"pooling": "mixed", "pooling.lam": 0.5}``, or older nested nodes) as config nodes."""
    nodes: dict[str, dict[str, Any]] = {}
    for key, value in components.items():
        slot, _, hyperparameter = key.partition(".")
        if isinstance(value, Mapping):
            nodes[slot] = dict(value)
        elif hyperparameter:
            nodes.setdefault(slot, {})[hyperparameter] = value
        else:
            nodes.setdefault(slot, {})["name"] = value
    return nodes


# --- JSON Schema -----------------------------------------------------------------------------------------

SCHEMA_FILE = "docs/record.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a record (run or bench), generated from the dataclasses by pydantic."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(RunRecord | BenchRecord).json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"cnnbench record, schema {SCHEMA_VERSION}", **schema}


def validate(document: Mapping[str, Any]) -> Record:
    """Check a record's JSON object against the schema; raises ``pydantic.ValidationError`` naming the field."""
    from pydantic import TypeAdapter

    return TypeAdapter(RunRecord | BenchRecord).validate_python(dict(document))


if __name__ == "__main__":  # python -m cnnbench.records > docs/record.schema.json
    print(json.dumps(json_schema(), indent=1, sort_keys=True))
