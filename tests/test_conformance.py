"""The conformance kit: every installed component passes it, and it catches each kind of broken promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from cnnbench.kinds import MODULE_KINDS
from cnnbench.plugins import default_registry
from cnnbench.registry import Component, Registry
from cnnbench.tasks import Task, TaskData
from cnnbench.testing import MODULE_CHECKS, TASK_CHECKS, NotApplicable, check_component, checks, conformance_params, run_check


# One test per check of every component the installed plugins register: a new component is tested the
# moment it is registered.
@pytest.mark.parametrize(("component", "check"), conformance_params(default_registry()))
def test_component_conforms(component: Component, check: str, cnnbench_check) -> None:
    cnnbench_check(component, check)


def test_params_cover_every_component_and_check(registry: Registry) -> None:
    ids = [param.id for param in conformance_params(registry)]
    expected = [
        f"{c.kind}-{c.name}-{check}"
        for c in registry.components()
        for check in (TASK_CHECKS if c.kind == "task" else MODULE_CHECKS if c.kind in MODULE_KINDS else ())
    ]
    assert not [p for p in conformance_params(registry) if p.values[0].kind == "dataset"]  # files, not modules
    assert ids == expected
    assert {p.values[0].kind for p in conformance_params(registry, kinds=["pooling", "loss"])} <= {"pooling", "loss"}
    assert {p.values[0].distribution for p in conformance_params(registry, distribution="cnnbench")} == {"cnnbench"}
    # a plugin that did not load would otherwise be a suite of zero tests, and pass
    with pytest.raises(LookupError, match="no component of distribution 'no-such-distribution' is loaded; distributions with components: cnnbench"):
        conformance_params(registry, distribution="no-such-distribution")


def test_params_that_would_make_no_test_say_why(registry: Registry) -> None:
    swish = registry.copy()
    swish.add(Component("activation", "swish_only", nn.SiLU, {}, "swish", "cnnbench-swish", "0.1"))
    with pytest.raises(LookupError, match=r"^distribution 'cnnbench-swish' has no component of kinds pooling, .*kinds of its components: activation$"):
        conformance_params(swish, kinds=["pooling"], distribution="cnnbench-swish")
    # datasets are files, not modules: no check applies, and a suite of their params would pass with zero tests
    with pytest.raises(LookupError, match=r"^distribution 'cnnbench' has components of kinds dataset but no conformance check applies to them"):
        conformance_params(registry, kinds=["dataset"], distribution="cnnbench")


# --- broken components: each breaks one promise, and the kit names it -----------------------------------


class Stub(nn.Module):
    """An activation-shaped module whose forward each broken example overrides."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels


class Detached(Stub):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x.detach())


class UnusedParameter(Stub):
    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.unused = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


class UndeclaredNoise(Stub):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, 0.5, self.training)


class DeclaredButDeterministic(Stub):
    stochastic: ClassVar[bool] = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


class NoisyInEval(Stub):
    stochastic: ClassVar[bool] = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, 0.5, training=True)


class HiddenState(Stub):
    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.scale = torch.rand(1).item() + 1  # a plain attribute: not in the state_dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class Float32Only(Stub):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x.float())


class Cancelling(Stub):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1000.0 - 1000.0  # exact in float32; in bfloat16 rounds x to a multiple of 4


def padded_max(channels: int, kernel_size: int, stride: int) -> nn.Module:
    return nn.MaxPool2d(kernel_size, stride, padding=1)


class NoInputKind(nn.Module):
    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target)


class NoExample(nn.Identity):
    pass


@pytest.mark.parametrize(
    ("kind", "factory", "check", "message"),
    [
        ("pooling", padded_max, "forward", r"gave output \(2, 4, 5, 5\) in train mode; the contract says \(2, 4, 4, 4\)"),
        ("activation", Detached, "gradients", "output is not differentiable"),
        ("activation", UnusedParameter, "gradients", "parameter 'unused' gets no gradient"),
        ("activation", UndeclaredNoise, "modes", "does not declare stochastic = True"),
        ("activation", DeclaredButDeterministic, "modes", "declares stochastic = True, but two calls in training mode gave the same"),
        ("activation", NoisyInEval, "modes", "eval must be deterministic"),
        ("activation", HiddenState, "state_dict", "some state is not in the state_dict"),
        ("activation", Float32Only, "float64", r"float64 inputs gave \['torch.float32'\] outputs"),
        ("activation", Cancelling, "bfloat16", "the bfloat16 output differs from float32"),
        ("loss", NoInputKind, "forward", "input_kind must be one of logits, pairs, embeddings, got None"),
        ("layer", NoExample, "forward", r"must provide classmethod example\(\)"),
    ],
)
def test_kit_names_the_broken_promise(registry: Registry, kind: str, factory: Any, check: str, message: str) -> None:
    broken = Component(kind, "broken", factory, {}, "broken_plugin", "broken-dist")
    with pytest.raises(AssertionError, match=rf"^{kind} 'broken' \(broken-dist\): {check}: .*{message}"):
        run_check(broken, check, registry)


def test_unbuildable_defaults_are_reported(registry: Registry) -> None:
    def strict_pool(channels: int, kernel_size: int, stride: int, p: float) -> nn.Module:
        raise ValueError(f"p must be >= 1, got {p}")

    broken = Component("pooling", "strict", strict_pool, {"p": 0.5})
    with pytest.raises(AssertionError, match=r"cannot be built from its defaults and context .*: pooling 'strict': p must be >= 1, got 0.5"):
        run_check(broken, "forward", registry)


def test_a_working_component_passes_everything_but_cuda_on_a_cpu(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert check_component(registry.get("convolution", "conv"), registry) == ["cuda: CUDA is not available"]


def test_the_cuda_check_moves_forward_and_backward(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its code path, on the CPU standing in for the GPU where there is none (the real run is on a CUDA machine)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(checks, "GPU", "cpu" if torch.cuda.device_count() == 0 else "cuda")
    run_check(registry.get("activation", "prelu"), "cuda", registry)
    with pytest.raises(AssertionError, match="parameter 'unused' gets no gradient"):
        run_check(Component("activation", "broken", UnusedParameter, {}), "cuda", registry)


def test_a_model_the_kit_cannot_feed_is_not_applicable(registry: Registry) -> None:
    class SegmentOnly(nn.Module):
        tasks: ClassVar[tuple[str, ...]] = ("segmentation",)

    with pytest.raises(NotApplicable, match="serves segmentation, not classification, and has no example"):
        run_check(Component("model", "segment_only", SegmentOnly, {}), "forward", registry)


# --- tasks ----------------------------------------------------------------------------------------------


class DigitsTask(Task):
    """A task double: the checks read its class attributes only."""

    models: ClassVar[tuple[str, ...]] = ("lenet5",)
    default_loss: ClassVar[str] = "softmax"
    loss_inputs: ClassVar[tuple[str, ...]] = ("logits",)
    datasets: ClassVar[tuple[str, ...]] = ("digits",)
    primary_metric: ClassVar[str] = "accuracy"

    def __init__(self, dataset: str = "digits") -> None:
        self.dataset = dataset

    def load_data(self, root: Path, image_size: int | None, seed: int) -> TaskData:
        raise NotImplementedError

    def training_loss(self, model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device) -> dict[str, Any]:
        raise NotImplementedError


class NoMetricTask(DigitsTask):
    primary_metric = None  # type: ignore[assignment]


class PairsOnlyTask(DigitsTask):
    loss_inputs = ("pairs",)


class UnknownModelTask(DigitsTask):
    models = ("lenet5", "resnet9000")


@pytest.mark.parametrize(
    ("name", "factory", "defaults", "check", "message"),
    [
        ("classification", NoMetricTask, {}, "attributes", "class attribute primary_metric must be a metric name, got None"),
        ("classification", DigitsTask, {"dataset": "cifar"}, "attributes", "default dataset 'cifar' is not in datasets"),
        ("classification", UnknownModelTask, {}, "references", "names model 'resnet9000', which is not registered"),
        ("classification", PairsOnlyTask, {}, "references", "default loss 'softmax' takes 'logits' inputs"),
        ("digits", DigitsTask, {}, "references", r"names model 'lenet5', whose tasks \('classification',\) do not include 'digits'"),
    ],
)
def test_kit_checks_tasks(registry: Registry, name: str, factory: type, defaults: dict, check: str, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        run_check(Component("task", name, factory, defaults), check, registry)


def test_a_consistent_task_passes(registry: Registry) -> None:
    assert check_component(Component("task", "classification", DigitsTask, {"dataset": "digits"}), registry) == []
