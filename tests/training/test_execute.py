"""Run execution: failures are recorded, pruning is recorded, checkpoints load safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnbench.composition import compose_run_config
from cnnbench.plugins import default_registry
from cnnbench.registry import Component
from cnnbench.training.execute import RunFailed, build_model, execute, load_checkpoint, plan
from cnnbench.training.loop import RunPruned

FAST = ["task.limit=200", "trainer.epochs=2", "trainer.batch_size=32", "trainer.progress=false"]


class ExplodingActivation(nn.Module):
    """Fails in the second epoch, as a buggy plugin would."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += self.training
        if self.calls > 7:  # 200 training images in batches of 32: the first batch of epoch 2
            raise RuntimeError("plugin bug")
        return x.relu()


@pytest.fixture
def registry_with_exploding():
    registry = default_registry().copy()
    registry.add(Component("activation", "exploding", ExplodingActivation, {}, "test", "test-dist"))
    return registry


def config(*overrides: str, registry=None):
    return compose_run_config([*FAST, *overrides], registry)


def only_record(results: Path) -> dict:
    [path] = (results / "runs").glob("*.json")
    return json.loads(path.read_text())


def test_a_plugin_exception_is_recorded_as_failed_with_the_epochs_done(registry_with_exploding, tmp_path: Path) -> None:
    cfg = config("activation=exploding", f"results.dir={tmp_path}", registry=registry_with_exploding)
    with pytest.raises(RunFailed, match="RuntimeError: plugin bug"):
        execute(cfg, registry_with_exploding)
    record = only_record(tmp_path)
    assert record["status"] == "failed" and record["error"] == "RuntimeError: plugin bug"
    assert [p["epoch"] for p in record["curve"]] == [1]


def test_a_diverging_run_is_recorded_as_failed(registry, tmp_path: Path) -> None:
    cfg = config("optimizer=sgd", "optimizer.lr=1e12", f"results.dir={tmp_path}")
    with pytest.raises(RunFailed, match="TrainingDiverged"):
        execute(cfg, registry)
    assert only_record(tmp_path)["status"] == "failed"


def test_pruning_stops_the_run_and_records_it(registry, tmp_path: Path) -> None:
    seen: list[int] = []

    def prune_after_first(epoch: int, metrics: dict) -> None:
        seen.append(epoch)
        raise RunPruned

    with pytest.raises(RunPruned):
        execute(config(f"results.dir={tmp_path}"), registry, on_epoch=prune_after_first, study={"name": "s", "trial": 3})
    record = only_record(tmp_path)
    assert seen == [1] and record["status"] == "pruned" and record["study"] == {"name": "s", "trial": 3}


def test_checkpoint_round_trip_uses_weights_only(registry, tmp_path: Path) -> None:
    cfg = config(f"results.dir={tmp_path}", "results.checkpoint=true")
    record, _ = execute(cfg, registry)
    checkpoint = tmp_path / "checkpoints" / f"{record.run_id}.pt"
    plan_ = plan(cfg, registry)
    data = plan_.load_data()
    model = load_checkpoint(build_model(registry, plan_, data), checkpoint)
    assert sum(p.numel() for p in model.parameters()) == record.params
