"""``cnnbench bench`` as a user runs it: the table, the records, a third-party component, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnbench.cli import main
from cnnbench.plugins import default_registry
from cnnbench.registry import Component

FAST = ["--shape", "2,4,6,6", "--repeats", "1", "--min-time", "0.001", "--threads", "1"]


def records(results: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((results / "runs").glob("*.json"))]


def test_bench_prints_ratios_and_targets_and_writes_one_record_per_component(tmp_path: Path, capsys) -> None:
    status = main(["bench", "pooling", "activation", "--names", "mixed,relu", *FAST, "--clock", "cpu", "--results", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    written = records(tmp_path)
    assert sorted((r["kind"], r["name"]) for r in written) == [("activation", "relu"), ("pooling", "mixed")]
    mixed = next(line for line in out.splitlines() if " mixed " in line)
    assert "max_pool2d+avg_pool2d" in mixed and "<= 1.05x" in mixed
    assert ("PASS" in mixed) == next(r for r in written if r["name"] == "mixed")["meets_target"]
    assert "cpu float32, 1 threads, cpu clock" in out and "2 records written" in out



def test_training_shapes_time_each_loss_on_the_batches_its_tasks_train_with(tmp_path: Path) -> None:
    fast = ["--repeats", "1", "--min-time", "0.001", "--threads", "1", "--results", str(tmp_path)]
    assert main(["bench", "loss", "--names", "hinge,triplet", "--training-shapes", *fast]) == 0
    shapes = {(r["name"], r["shape"]) for r in records(tmp_path)}
    assert ("hinge", "16,10,1,1") in shapes and ("hinge", "128,10,1,1") in shapes
    assert ("triplet", "128,128,1,1") in shapes and len(shapes) == 6

class Swish(nn.Module):
    """x * sigmoid(beta x), as a third-party plugin would ship it."""

    def __init__(self, channels: int, beta: float) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)


def test_a_third_party_component_is_timed_like_a_built_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    registry = default_registry().copy()
    registry.add(Component("activation", "swish", Swish, {"beta": 1.0}, "swish", "cnnbench-swish", "0.1.0"))
    monkeypatch.setattr("cnnbench.plugins.default_registry", lambda: registry)
    assert main(["bench", "activation", "--names", "swish", *FAST, "--results", str(tmp_path)]) == 0
    [record] = records(tmp_path)
    assert (record["name"], record["distribution"], record["plugin_version"], record["baseline"]) == ("swish", "cnnbench-swish", "0.1.0", "relu")
    assert record["hyperparameters"] == {"beta": 1.0} and record["ratio_forward_backward"] > 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["bench", "--shape", "1,2,3"], "--shape must be four positive integers"),
        (["bench", "poolings"], "unknown kind 'poolings'; kinds: convolution, pooling, activation"),
        (["bench", "--names", "no_such_thing*", *FAST], "no convolution/pooling/activation/normalization/loss/layer component matches"),
        (["bench", "--device", "tpu"], "--device='tpu'"),
        (["bench", "--training-shapes", "--shape", "2,4,6,6"], "--training-shapes replaces --shape"),
    ],
)
def test_bad_input_is_one_line_and_no_record(arguments: list[str], message: str, tmp_path: Path, capsys) -> None:
    assert main([*arguments, "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cnnbench: error:") and message in err and "\n" not in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_cuda_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["bench", "--device", "cuda", *FAST, "--results", str(tmp_path)]) == 2
    assert "CUDA is not available here" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bench_on_cuda_records_the_gpu(tmp_path: Path) -> None:
    assert main(["bench", "pooling", "loss", "--names", "mixed,hinge", "--device", "cuda", "--dtype", "bfloat16", *FAST, "--results", str(tmp_path)]) == 0
    written = records(tmp_path)
    assert {r["device"] for r in written} == {"cuda"} and all(r["dtype"] == "bfloat16" for r in written)
    assert all(r["status"] == "completed" and r["ratio_forward_backward"] > 0 for r in written)
    assert torch.cuda.get_device_name() in {r["device_name"] for r in written}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_clock_is_refused_on_cuda(tmp_path: Path, capsys) -> None:
    assert main(["bench", "--device", "cuda", "--clock", "cpu", *FAST, "--results", str(tmp_path)]) == 2
    assert "--clock cpu times CPU work only" in capsys.readouterr().err
