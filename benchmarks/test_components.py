"""pytest-benchmark suite: forward+backward of every registered component and of its PyTorch built-in.

    pytest benchmarks/test_components.py --benchmark-enable --benchmark-json results/benchmarks/components.json
    pytest benchmarks/test_components.py --benchmark-enable --bench-shape 128,64,32,32 --bench-device cuda
    pytest benchmarks/test_components.py --benchmark-enable --bench-threads 4 -k pooling

Each component and its baseline are one benchmark group, so pytest-benchmark's table compares them, and
the JSON file (``extra_info`` holds kind, component, role, baseline, device, dtype, shape, threads) is read
by ``cnnbench report``, which shows each component's median over its baseline's, per thread count.
pytest-benchmark times each benchmark on its own; for ratios timed interleaved, use ``cnnbench bench``.
Without ``--benchmark-enable`` (the project's default) every benchmark runs once, as a smoke test: the
project's test run includes this file (``testpaths``), so the suite cannot rot. Installed third-party
components are included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from cnnbench.bench import KINDS
from cnnbench.bench.baselines import baseline_for
from cnnbench.bench.inputs import make_case, parse_shape
from cnnbench.bench.runner import Settings, baseline_subject, component_subject
from cnnbench.bench.timing import forward_backward
from cnnbench.plugins import default_registry
from cnnbench.training.device import select_device

COMPONENTS = [component for kind in KINDS for component in default_registry().components(kind)]
ROLES = ("component", "baseline")


def synchronised(run: Callable[[], None], device: torch.device) -> Callable[[], None]:
    """pytest-benchmark reads a wall clock: wait for CUDA's queued kernels before it does."""
    if device.type != "cuda":
        return run

    def run_and_wait() -> None:
        run()
        torch.cuda.synchronize(device)

    return run_and_wait


@pytest.fixture
def threads(request: pytest.FixtureRequest) -> Iterator[int]:
    """``--bench-threads`` for the test, and torch's own setting back afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.config.getoption("--bench-threads"))
    yield torch.get_num_threads()
    torch.set_num_threads(before)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("component", COMPONENTS, ids=[f"{c.kind}-{c.name}" for c in COMPONENTS])
def test_forward_backward(benchmark, request: pytest.FixtureRequest, threads: int, component, role: str) -> None:
    shape = parse_shape(request.config.getoption("--bench-shape"))
    device = select_device(request.config.getoption("--bench-device"))
    dtype = getattr(torch, request.config.getoption("--bench-dtype"))
    baseline = baseline_for(component)
    if role == "baseline" and baseline is None:
        pytest.skip(f"{component.kind} {component.name} has no baseline")
    torch.manual_seed(0)
    case = make_case(component, shape, dtype, device)
    settings = Settings(device, dtype)
    subject = component_subject(component, case, settings) if role == "component" else baseline_subject(baseline, component, case)
    benchmark.group = f"{component.kind} {component.name} {','.join(map(str, case.shape))}"
    benchmark.extra_info.update(
        kind=component.kind,
        component=component.name,  # not "name": the report keeps pytest-benchmark's test name there
        role=role,
        baseline=baseline.name if baseline else None,
        device=device.type,
        dtype=str(dtype).removeprefix("torch."),
        shape=",".join(map(str, case.shape)),
        threads=threads,
    )
    benchmark(synchronised(forward_backward(subject), device))
