"""The timing core: paired, interleaved medians and ratios, and a backward that leaves ``.grad`` alone."""

from __future__ import annotations

import pytest
import torch

from cnnbench.bench.timing import Samples, Subject, forward, forward_backward, paired


class FakeClock:
    """A clock that only the timed callables advance, so every reading is exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[str] = []

    def __call__(self) -> float:
        return self.now

    def work(self, name: str, seconds: float):
        def run() -> None:
            self.now += seconds
            self.calls.append(name)

        return run


def test_ratio_is_the_median_of_paired_ratios_and_times_are_medians_in_ms() -> None:
    clock = FakeClock()
    samples = paired(clock.work("slow", 0.003), clock.work("base", 0.001), repeats=3, min_run_time=0.01, threads=1, clock=clock)
    assert samples.median_ms == pytest.approx(3.0)
    assert samples.baseline_median_ms == pytest.approx(1.0)
    assert samples.ratio == pytest.approx(3.0)


def test_repeats_alternate_which_callable_goes_first() -> None:
    clock = FakeClock()
    paired(clock.work("slow", 0.01), clock.work("base", 0.01), repeats=2, min_run_time=0.005, threads=1, clock=clock)
    # a call outlasts min_run_time, so each repeat of a callable is two calls: one sizes the block, one is timed
    assert clock.calls == ["slow"] * 2 + ["base"] * 4 + ["slow"] * 2


def test_ratio_pairs_each_repeat_with_its_own_baseline() -> None:
    samples = Samples(subject_ms=[2.0, 9.0, 3.0], baseline_ms=[1.0, 3.0, 3.0])
    assert samples.ratio == 2.0  # per-repeat ratios 2, 3, 1; the ratio of the medians would be 3 / 3 = 1
    assert (samples.median_ms, samples.baseline_median_ms) == (3.0, 3.0)


def test_without_a_baseline_only_the_subject_is_timed() -> None:
    clock = FakeClock()
    samples = paired(clock.work("slow", 0.002), None, repeats=2, min_run_time=0.01, threads=1, clock=clock)
    assert samples.median_ms == pytest.approx(2.0)
    assert samples.ratio is None and samples.baseline_median_ms is None
    assert set(clock.calls) == {"slow"}


def test_forward_backward_reaches_inputs_and_parameters_without_accumulating_grad() -> None:
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3, requires_grad=True)
    seen: list[torch.Tensor] = []
    x.register_hook(lambda grad: seen.append(grad))
    layer.weight.register_hook(lambda grad: seen.append(grad))
    run = forward_backward(Subject(layer, (x,), (x, layer.weight)))
    seen.clear()  # building the step runs the forward once to shape the output gradient
    run()
    assert len(seen) == 2
    assert x.grad is None and layer.weight.grad is None


def test_forward_records_no_graph() -> None:
    outputs = []
    x = torch.randn(2, 2, requires_grad=True)
    forward(Subject(lambda t: outputs.append(t * 2), (x,), (x,)))()
    assert not outputs[0].requires_grad
