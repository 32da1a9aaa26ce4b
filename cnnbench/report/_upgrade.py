"""Private stand-in for ``cnnbench.records.upgrade`` until the lead lands it (record schema 2).

Delete this module when ``cnnbench.records`` provides ``upgrade``; the loader imports that first.
Only run records change: schema 0/1 metrics become ``{"test": ..., "validation": {}, "train": {}}``,
the selection is ``final`` on ``test`` ("selected on test"), and the identity is derived from the
record's resolved config (or, for records without one, from its components, task and trainer).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: config subtrees and leaves that cannot change a result (where and how a run ran)
NOT_IDENTITY = ("results", "hydra", "logger", "data.root", "trainer.seed", "trainer.threads", "trainer.progress", "trainer.device", "sweep")
COMPONENT_SLOTS = ("convolution", "pooling", "activation", "loss", "model", "layer")


def config_id(identity: dict[str, Any]) -> str:
    """16 hex characters of the sha256 of the identity's canonical JSON."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _leaves(prefix: str, node: Any, into: dict[str, Any]) -> None:
    if isinstance(node, dict):
        if prefix in COMPONENT_SLOTS and "name" in node:
            into[prefix] = node["name"]
            node = {k: v for k, v in node.items() if k != "name"}
        for key, value in node.items():
            _leaves(f"{prefix}.{key}" if prefix else str(key), value, into)
    elif not prefix.startswith(NOT_IDENTITY):
        into[prefix] = node


def legacy_identity(raw: dict[str, Any]) -> dict[str, Any]:
    """What made an old run's result: its resolved config without paths, seeds and threads."""
    identity: dict[str, Any] = {}
    config = raw.get("config")
    if isinstance(config, dict):
        _leaves("", config, identity)
    else:
        trainer = raw.get("trainer") if isinstance(raw.get("trainer"), dict) else {}
        identity.update({f"trainer.{k}": v for k, v in trainer.items() if f"trainer.{k}" not in NOT_IDENTITY})
    components = raw.get("components") or {}
    for slot, node in components.items():
        if isinstance(node, dict):
            _leaves(slot, node, identity)
        else:
            identity[slot] = node
    identity.update({"task.name": raw.get("task"), "task.dataset": raw.get("dataset"), "device": raw.get("device", "unknown")})
    return identity


def upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    """Any run record -> the schema-2 shape the report reads; other records unchanged."""
    if raw.get("record_type", "run") != "run" or raw.get("schema", 0) >= 2:
        return raw
    record = dict(raw)
    metrics = raw.get("metrics") or {}
    record["metrics"] = {"train": {}, "validation": {}, "test": dict(metrics)}
    curve = raw.get("curve") if isinstance(raw.get("curve"), list) else []
    record["selection"] = {"rule": "final", "epoch": len(curve) or None, "split": "test"}
    record["identity"] = legacy_identity(raw)
    record["config_id"] = config_id(record["identity"])
    record["data"] = {"dataset": raw.get("dataset"), "fingerprint": None}
    return record
