"""trainer.precision, trainer.channels_last and trainer.compile on the CPU: each trains, records itself, and
lands near fp32 (issue 13 item 2; fp16 with the gradient scaler needs CUDA: benchmarks/gpu_check.sh).

A short LeNet-5 run on 400 digits (3 epochs) reaches about 0.7 test accuracy in fp32. bf16 autocast and the
channels_last layout change rounding only, so they must land within 0.05 of it; torch.compile's fused kernels
round differently too, and after one epoch (the compile run is kept to one, since compiling costs most of it)
it must be within 0.05 of fp32's one-epoch run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cnnbench.composition import compose_run_config
from cnnbench.training.execute import execute

SHORT = ["task.limit=400", "trainer.epochs=3", "trainer.batch_size=32", "trainer.progress=false"]
ONE_EPOCH = ["task.limit=256", "trainer.epochs=1", "trainer.batch_size=32", "trainer.progress=false"]
DISTANCE = 0.05  # accuracy, absolute


def train(registry, results: Path, *overrides: str) -> dict:
    execute(compose_run_config([*overrides, f"results.dir={results}"]), registry)
    [path] = (results / "runs").glob("*.json")
    return json.loads(path.read_text())


def accuracy_of(record: dict) -> float:
    """The test accuracy, from a schema-2 record (metrics by split) or a schema-1 one."""
    return record["metrics"]["test"]["accuracy"] if "test" in record["metrics"] else record["metrics"]["accuracy"]


@pytest.fixture(scope="module")
def fp32(registry, tmp_path_factory) -> dict:
    return train(registry, tmp_path_factory.mktemp("fp32"), *SHORT)


@pytest.mark.parametrize(("override", "setting", "value"), [
    ("trainer.precision=bf16", "precision", "bf16"),
    ("trainer.channels_last=true", "channels_last", True),
])
def test_setting_trains_finite_near_fp32_and_is_recorded(registry, fp32, tmp_path, override, setting, value):
    record = train(registry, tmp_path, *SHORT, override)
    assert record["status"] == "completed" and record["trainer"][setting] == value
    assert all(math.isfinite(point["train_loss"]) for point in record["curve"])
    assert record["curve"][-1]["train_loss"] < record["curve"][0]["train_loss"]  # it learns
    assert accuracy_of(fp32) > 0.5
    assert abs(accuracy_of(record) - accuracy_of(fp32)) <= DISTANCE


@pytest.mark.slow
def test_compile_trains_finite_near_fp32_and_is_recorded(registry, tmp_path):
    eager = train(registry, tmp_path / "eager", *ONE_EPOCH)
    compiled = train(registry, tmp_path / "compiled", *ONE_EPOCH, "trainer.compile=true")
    assert compiled["status"] == "completed" and compiled["trainer"]["compile"] is True
    assert math.isfinite(compiled["curve"][0]["train_loss"])
    assert compiled["curve"][0]["train_loss"] == pytest.approx(eager["curve"][0]["train_loss"], rel=1e-3)
    assert abs(accuracy_of(compiled) - accuracy_of(eager)) <= DISTANCE
