"""bench_component: exact ratios against a fake slow component, out-of-memory retries, recorded failures."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbench.bench import runner
from cnnbench.spec import Baseline, Op, Spec
from cnnbench.bench.runner import Settings, bench_component
from cnnbench.registry import Component

SHAPE = (8, 4, 6, 6)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setitem(runner.CLOCKS, "fake", fake)
    return fake


def settings(**changes: Any) -> Settings:
    return Settings(**{"device": torch.device("cpu"), "repeats": 3, "min_run_time": 0.001, "clock": "fake", **changes})


def slow_pooling(clock: FakeClock, seconds: float) -> type[nn.Module]:
    class SlowMax(nn.Module):
        """Max pooling that costs ``seconds`` on the fake clock per forward."""

        def __init__(self, channels: int, kernel_size: int, stride: int) -> None:
            super().__init__()
            self.kernel_size, self.stride = kernel_size, stride

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            clock.now += seconds
            return F.max_pool2d(x, self.kernel_size, self.stride)

    return SlowMax


def ticking_baseline(clock: FakeClock, seconds: float, target: float | None) -> Baseline:
    def make(case, hp) -> Op:
        def call(x: torch.Tensor) -> torch.Tensor:
            clock.now += seconds
            return F.max_pool2d(x, case.context["kernel_size"], case.context["stride"])

        return Op(call)

    return Baseline("ticking max_pool2d", make, target)


def component(factory: Any, name: str = "slow", baseline: Baseline | None = None) -> Component:
    return Component.from_spec("pooling", name, Spec(factory, baseline=baseline), "test", "test-dist", "9.9")


def test_ratio_of_a_component_three_times_slower_than_its_baseline_is_three(clock: FakeClock) -> None:
    baseline = ticking_baseline(clock, 0.001, target=4.0)
    result = bench_component(component(slow_pooling(clock, 0.003), "slow", baseline), SHAPE, settings())
    assert result.status == "completed" and result.error is None and result.shape == SHAPE
    for samples in (result.forward, result.forward_backward):
        assert samples.median_ms == pytest.approx(3.0)
        assert samples.baseline_median_ms == pytest.approx(1.0)
        assert samples.ratio == pytest.approx(3.0)
    assert result.meets_target is True


def test_a_ratio_over_the_target_does_not_meet_it(clock: FakeClock) -> None:
    baseline = ticking_baseline(clock, 0.001, target=2.0)
    assert bench_component(component(slow_pooling(clock, 0.003), "slow", baseline), SHAPE, settings()).meets_target is False


def test_out_of_memory_halves_the_batch_and_says_so(clock: FakeClock) -> None:
    class Hungry(nn.Module):
        def __init__(self, channels: int, kernel_size: int, stride: int) -> None:
            super().__init__()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if len(x) > 2:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            clock.now += 0.001
            return F.max_pool2d(x, 2)

    baseline = ticking_baseline(clock, 0.001, None)
    result = bench_component(component(Hungry, "hungry", baseline), SHAPE, settings())
    assert result.status == "completed"
    assert result.shape == (2, *SHAPE[1:]) and result.requested == SHAPE
    assert result.error == "out of memory at N=8; out of memory at N=4; measured at N=2"


def test_a_failing_component_is_a_failed_result_with_a_one_line_error(clock: FakeClock) -> None:
    class Broken(nn.Module):
        def __init__(self, channels: int, kernel_size: int, stride: int) -> None:
            super().__init__()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("plugin bug\nwith a second line")

    baseline = ticking_baseline(clock, 0.001, 2.0)
    result = bench_component(component(Broken, "broken", baseline), SHAPE, settings())
    assert result.status == "failed" and result.forward_backward is None
    assert result.error == "RuntimeError: plugin bug"
    assert result.meets_target is None


def test_a_failing_baseline_still_times_the_component(clock: FakeClock) -> None:
    def make(case, hp) -> Op:
        return Op(lambda x: torch.ops.aten.not_a_real_op(x))  # fails on its first call

    baseline = Baseline("missing_op", make, 1.5)
    result = bench_component(component(slow_pooling(clock, 0.002), "slow", baseline), SHAPE, settings())
    assert result.status == "completed"
    assert result.forward_backward.median_ms == pytest.approx(2.0) and result.forward_backward.ratio is None
    assert result.error.startswith("baseline missing_op failed: AttributeError")
    assert result.meets_target is None


def test_parameters_of_the_component_get_gradients_in_forward_backward(registry) -> None:
    reached: list[str] = []
    prelu = registry.get("activation", "prelu")

    class Watched(nn.PReLU):
        def __init__(self, channels: int) -> None:
            super().__init__(channels)
            self.weight.register_hook(lambda grad: reached.append("weight"))

    watched = Component("activation", "watched", Watched, dict(prelu.defaults))
    result = bench_component(watched, SHAPE, Settings(torch.device("cpu"), repeats=1, min_run_time=0.001))
    assert result.status == "completed" and reached
    assert result.baseline.name == "relu"  # no entry of its own: compared with its kind's default
