"""The validation/test protocol: nothing is chosen on test, test is evaluated once, on the selected weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from idx_files import write_idx_set
from torch import nn

from cnnbench.cli import main
from cnnbench.composition import compose_run_config
from cnnbench.data import load_images
from cnnbench.plugins import default_registry
from cnnbench.registry import Component
from cnnbench.training.execute import RunFailed, execute, plan

FAST = ["task.limit=300", "trainer.batch_size=32", "trainer.progress=false"]


def config(*overrides: str, registry=None):
    return compose_run_config([*FAST, *overrides], registry)


@pytest.fixture(scope="module")
def shuffled_test_labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits as an IDX folder whose test labels are a random permutation: test accuracy can only be chance."""
    folder = tmp_path_factory.mktemp("shuffled")
    splits = {split: load_images("digits", Path("."), split) for split in ("train", "test")}
    images = {split: (data.images[:, 0] * 255).round().numpy() for split, data in splits.items()}
    labels = {split: data.labels.numpy() for split, data in splits.items()}
    labels["test"] = np.random.default_rng(0).permutation(labels["test"])
    write_idx_set(folder, images, labels)
    return folder


@pytest.mark.slow
def test_a_sweep_on_shuffled_test_labels_selects_on_validation_and_reports_chance_on_test(
    shuffled_test_labels: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    code = main([
        "sweep", "sweep=learning_rate", "sweep.trials=3", "sweep.pruner=none", "task.dataset=idx", f"data.root={shuffled_test_labels}",
        "trainer.epochs=4", "trainer.batch_size=32", f"results.dir={results}",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    records = [json.loads(p.read_text()) for p in results.glob("runs/*.json")]
    summary = json.loads(next(results.glob("sweeps/*/summary.json")).read_text())
    validation = {r["study"]["trial"]: r["metrics"]["validation"]["accuracy"] for r in records}
    best = summary["best"][0]
    assert best["values"] == [max(validation.values())]  # the best trial is the best on validation
    assert max(validation.values()) > 0.8  # validation comes from the (intact) training labels
    assert all(r["metrics"]["test"]["accuracy"] < 0.25 for r in records)  # ten classes: chance is 0.1
    assert best["test_values"][0] < 0.25
    for record in records:  # no epoch ever looked at test
        assert all(set(point) == {"epoch", "train_loss", "epoch_s", "lr", "validation"} for point in record["curve"])


def test_best_val_evaluates_test_on_the_best_validation_epoch(registry, tmp_path: Path) -> None:
    record, _ = execute(config("trainer.epochs=4", "trainer.select=best_val", "optimizer.lr=0.02", f"results.dir={tmp_path}"), registry)
    curve = [point["validation"]["accuracy"] for point in record.curve]
    best = max(range(len(curve)), key=lambda i: (curve[i], -i))
    assert record.selection.rule == "best_val" and record.selection.epoch == best + 1
    assert record.metrics["validation"]["accuracy"] == curve[best]
    final, _ = execute(config("trainer.epochs=4", "optimizer.lr=0.02", f"results.dir={tmp_path}"), registry)
    assert final.selection.epoch == 4 and final.metrics["validation"]["accuracy"] == curve[-1]
    if best != 3:  # different weights, so (almost surely) a different test loss
        assert final.metrics["test"]["loss"] != record.metrics["test"]["loss"]


def test_early_stopping_watches_validation(registry, tmp_path: Path) -> None:
    full, _ = execute(config("trainer.epochs=12", "trainer.select=best_val", "optimizer.lr=0.01", f"results.dir={tmp_path}"), registry)
    curve = [point["validation"]["accuracy"] for point in full.curve]
    best = max(range(len(curve)), key=lambda i: (curve[i], -i)) + 1
    stopped, _ = execute(config("trainer.epochs=12", "trainer.select=best_val", "trainer.patience=2", "optimizer.lr=0.01", f"results.dir={tmp_path}"), registry)
    first_stall = next((e for e in range(1, 13) if e - max(range(1, e + 1), key=lambda i: (curve[i - 1], -i)) >= 2), 12)
    assert len(stopped.curve) == first_stall and [p["validation"] for p in stopped.curve] == [p["validation"] for p in full.curve[:first_stall]]
    assert first_stall < 12 and stopped.selection.epoch == max(range(1, first_stall + 1), key=lambda i: (curve[i - 1], -i))
    assert stopped.metrics["validation"]["accuracy"] == curve[stopped.selection.epoch - 1] <= curve[best - 1]


def test_the_split_follows_split_seed_not_the_run_seed(registry, tmp_path: Path) -> None:
    records, validation = {}, {}
    for name, overrides in {"a": ["trainer.seed=0"], "b": ["trainer.seed=1"], "c": ["data.split_seed=1"]}.items():
        cfg = config("trainer.epochs=1", f"results.dir={tmp_path}", *overrides)
        plan_ = plan(cfg, registry)
        validation[name] = plan_.load_data().validation["images"]
        records[name] = execute(cfg, registry)[0]
    assert torch.equal(validation["a"], validation["b"]) and not torch.equal(validation["a"], validation["c"])
    assert records["a"].config_id == records["b"].config_id != records["c"].config_id
    assert records["a"].data.sizes == {"train": 270, "validation": 30, "test": 300} and records["a"].data.validation == "carved"


class NanWhenEvaluating(nn.Module):
    """An activation that trains fine and answers NaN in eval mode: the evaluation is not finite."""

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.relu() if self.training else x * torch.nan


def test_a_non_finite_evaluation_is_a_failed_run_with_its_reason(tmp_path: Path) -> None:
    registry = default_registry().copy()
    registry.add(Component("activation", "nan_eval", NanWhenEvaluating, {}, "test", "test-dist"))
    with pytest.raises(RunFailed, match="validation evaluation is not finite: loss nan"):
        execute(config("trainer.epochs=1", "activation=nan_eval", f"results.dir={tmp_path}", registry=registry), registry)
    [path] = (tmp_path / "runs").glob("*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "failed" and "TrainingDiverged" in record["error"] and record["metrics"]["test"] == {}
