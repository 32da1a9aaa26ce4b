"""Records are written whole or not at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cnnbench.atomic import write_text
from cnnbench.records import (
    SCHEMA_FILE,
    RunRecord,
    config_identity,
    flatten_components,
    json_schema,
    new_run_id,
    upgrade,
    validate,
    write_record,
)


def test_record_round_trips_with_schema_version(tmp_path: Path) -> None:
    path = write_record({"run_id": "r1", "metrics": {"accuracy": 0.5}}, tmp_path)
    assert path == tmp_path / "runs" / "r1.json"
    assert json.loads(path.read_text()) == {"schema": 2, "run_id": "r1", "metrics": {"accuracy": 0.5}}


def test_a_failed_write_leaves_neither_a_file_nor_a_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_text(tmp_path / "r.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_version(tmp_path: Path) -> None:
    path = write_text(tmp_path / "r.json", "old")
    with pytest.raises(TypeError):
        write_text(path, None)  # type: ignore[arg-type]
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_run_ids_are_unique_and_sort_by_time() -> None:
    ids = [new_run_id() for _ in range(200)]
    times = [run_id.split("-")[0] for run_id in ids]
    assert len(set(ids)) == 200 and times == sorted(times)


def test_flatten_components() -> None:
    assert flatten_components({"pooling": {"name": "mixed", "lam": 0.5}, "loss": {"name": "softmax"}}) == {
        "pooling": "mixed",
        "pooling.lam": 0.5,
        "loss": "softmax",
    }


def test_a_run_killed_midway_leaves_no_record(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "cnnbench.cli", "run", "trainer.epochs=500", "trainer.progress=false", f"results.dir={tmp_path}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if "epoch 2/500" in line:
                break
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


# --- configuration identity ---------------------------------------------------------------------------

NODES = {"pooling": {"name": "mixed", "lam": 0.5}, "model": {"name": "lenet5"}}
CONFIG = {
    "optimizer": {"_target_": "torch.optim.Adam", "lr": 0.001},
    "trainer": {"seed": 0, "threads": 1, "progress": "auto", "device": "cuda:1", "epochs": 20},
    "data": {"root": "/a/path", "val_fraction": 0.1, "split_seed": 0},
    "results": {"dir": "results"},
    "pooling": {"name": "mixed", "lam": 0.5},
    "model": None,
}


def identity(config: dict = CONFIG, nodes: dict = NODES, fingerprint: str = "f", device: str = "cuda") -> tuple[str, dict]:
    return config_identity(config, nodes, fingerprint, device)


def test_the_identity_holds_what_changes_a_result_and_nothing_else() -> None:
    config_id, settings = identity()
    assert len(config_id) == 16 and settings == {
        "data.fingerprint": "f", "data.split_seed": 0, "data.val_fraction": 0.1, "device": "cuda", "model": "lenet5",
        "optimizer._target_": "torch.optim.Adam", "optimizer.lr": 0.001, "pooling": "mixed", "pooling.lam": 0.5, "trainer.epochs": 20,
    }  # fmt: skip
    unchanged = {**CONFIG, "trainer": {**CONFIG["trainer"], "seed": 7, "threads": 2, "device": "cuda:0"}, "data": {**CONFIG["data"], "root": "b"}}
    assert identity(unchanged)[0] == config_id
    assert identity(nodes={**NODES, "pooling": {"name": "mixed", "lam": 0.5000}})[0] == config_id
    assert identity({**CONFIG, "optimizer": {**CONFIG["optimizer"], "lr": 0.01}})[0] != config_id
    assert identity(nodes={**NODES, "pooling": {"name": "mixed", "lam": 0.3}})[0] != config_id
    assert identity(fingerprint="other data")[0] != config_id and identity(device="cpu")[0] != config_id
    assert identity({**CONFIG, "data": {**CONFIG["data"], "split_seed": 1}})[0] != config_id


def test_one_and_one_point_zero_are_the_same_hyperparameter() -> None:
    assert identity(nodes={**NODES, "pooling": {"name": "mixed", "lam": 1}})[0] == identity(nodes={**NODES, "pooling": {"name": "mixed", "lam": 1.0}})[0]


# --- older records and the JSON Schema ----------------------------------------------------------------


def test_a_schema_1_record_is_upgraded_and_flagged_as_selected_on_test() -> None:
    old = {"schema": 1, "record_type": "run", "metrics": {"accuracy": 0.9}, "curve": [{"epoch": 1, "train_loss": 0.5, "epoch_s": 1.0, "accuracy": 0.8}]}
    new = upgrade(old)
    assert new["schema"] == old["schema"] == 1 and len(new["config_id"]) == 16 and new["identity"]["data.fingerprint"] == "unrecorded:None"
    assert new["metrics"] == {"train": {}, "validation": {}, "test": {"accuracy": 0.9}}
    assert new["selection"] == {"rule": "final", "epoch": 1, "split": "test"}
    assert new["curve"] == [{"epoch": 1, "train_loss": 0.5, "epoch_s": 1.0, "test": {"accuracy": 0.8}}]
    current = {"schema": 2, "metrics": {"test": {}}}
    assert upgrade(current) == current


def test_the_json_schema_in_docs_is_the_one_the_dataclasses_generate() -> None:
    stored = json.loads((Path(__file__).resolve().parents[1] / SCHEMA_FILE).read_text())
    assert stored == json_schema(), f"regenerate it: python -m cnnbench.records > {SCHEMA_FILE}"


def test_a_real_run_record_validates_and_a_wrong_field_is_named(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from cnnbench.composition import compose_run_config
    from cnnbench.plugins import default_registry
    from cnnbench.training.execute import execute

    _, path = execute(compose_run_config(["task.limit=100", "trainer.epochs=1", f"results.dir={tmp_path}"]), default_registry())
    document = json.loads(path.read_text())
    assert isinstance(validate(document), RunRecord)
    with pytest.raises(ValidationError, match="params"):
        validate({**document, "params": "many"})
