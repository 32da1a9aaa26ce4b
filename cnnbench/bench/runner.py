"""Time one registered component on one shape beside its baseline; shrink the batch when memory runs out.

As in timm's ``benchmark.py``, running out of memory halves the batch and tries again, and the result
keeps an ``error`` saying so; any other failure (a kernel missing for the dtype, a broken plugin) is
recorded as the result's error instead of stopping the whole bench.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Any

import torch

from cnnbench.bench.baselines import Baseline, baseline_for
from cnnbench.bench.inputs import Case, Shape, make_case
from cnnbench.bench.timing import Clock, Samples, Subject, forward, forward_backward, paired
from cnnbench.records import utc_now
from cnnbench.registry import Component

#: "wall" is the default of torch.utils.benchmark (synchronised); "cpu" counts only this process's CPU
#: seconds (all threads), which other processes on a shared machine barely disturb
CLOCKS: dict[str, Clock | None] = {"wall": None, "cpu": time.process_time}


@dataclass(frozen=True)
class Settings:
    """How to time: where, in which dtype, how many repeats of how long, on how many CPU threads."""

    device: torch.device
    dtype: torch.dtype = torch.float32
    repeats: int = 5
    min_run_time: float = 0.05
    threads: int = 1
    clock: str = "wall"
    compile: bool = False  # torch.compile the component (the baseline stays eager): what trainer.compile buys
    seed: int = 0

    @property
    def timer(self) -> Clock | None:
        """``None``: torch.utils.benchmark's wall clock, which synchronises CUDA; ``cpu``: this process's CPU time."""
        return CLOCKS[self.clock]


@dataclass
class Result:
    """A component's timings on one shape (``shape`` is what ran; its batch may be smaller than asked)."""

    component: Component
    requested: Shape
    baseline: Baseline | None
    started_at: str
    finished_at: str = ""
    shape: Shape | None = None
    forward: Samples | None = None
    forward_backward: Samples | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        return "completed" if self.forward_backward is not None else "failed"

    @property
    def meets_target(self) -> bool | None:
        """Whether the forward+backward ratio is within the target; ``None`` without a target or a ratio."""
        target = self.baseline.target if self.baseline else None
        ratio = self.forward_backward.ratio if self.forward_backward else None
        return None if target is None or ratio is None else ratio <= target


def describe(error: BaseException) -> str:
    """One line: the exception's type and the first line of its message."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0] if message else ''}".rstrip(": ")


def out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in text or "can't allocate memory" in text


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def bench_component(component: Component, shape: Shape, settings: Settings) -> Result:
    """Time ``component`` (forward, forward+backward) on ``shape`` beside its baseline (:func:`baseline_for`)."""
    result = Result(component, shape, baseline_for(component), utc_now())
    notes: list[str] = []
    batch = shape[0]
    while True:
        attempt = (batch, shape[1], shape[2], shape[3])
        try:
            result.forward, result.forward_backward = _measure(component, attempt, result.baseline, settings, notes)
            result.shape = attempt
            break
        except Exception as error:  # recorded, never fatal: one component must not stop the bench
            if out_of_memory(error) and batch > 1:
                notes.append(f"out of memory at N={batch}")
                _release(settings.device)
                batch //= 2
                continue
            notes.append(describe(error))
            break
    if result.shape is not None and result.shape != shape:
        notes.append(f"measured at N={result.shape[0]}")
    _release(settings.device)
    result.error = "; ".join(dict.fromkeys(notes)) or None  # a retried attempt repeats its notes
    result.finished_at = utc_now()
    return result


def component_subject(component: Component, case: Case, settings: Settings) -> Subject:
    """The component built for ``case`` in training mode, and the leaves its backward must reach."""
    module = component.build(**case.context).to(device=settings.device, dtype=settings.dtype).train()
    call = torch.compile(module) if settings.compile else module
    return Subject(call, case.inputs, case.leaves() + tuple(p for p in module.parameters() if p.requires_grad))


def baseline_subject(baseline: Baseline, component: Component, case: Case) -> Subject:
    """The baseline built for ``case`` with the component's hyperparameters."""
    op = baseline.make(case, dict(component.defaults))
    return Subject(op.call, case.inputs, case.leaves() + op.parameters)


def _measure(
    component: Component,
    shape: Shape,
    baseline: Baseline | None,
    settings: Settings,
    notes: list[str],
) -> tuple[Samples, Samples]:
    torch.manual_seed(settings.seed)
    case = make_case(component, shape, settings.dtype, settings.device, settings.seed)
    subject = component_subject(component, case, settings)
    runs = (forward(subject), forward_backward(subject))
    baseline_runs: tuple[Any, Any] = (None, None)
    if baseline is not None:
        try:
            reference = baseline_subject(baseline, component, case)
            baseline_runs = (forward(reference), forward_backward(reference))
        except Exception as error:  # e.g. no kernel for this dtype: time the component alone, say why
            if out_of_memory(error):
                raise
            notes.append(f"baseline {baseline.name} failed: {describe(error)}")
    timing = (settings.repeats, settings.min_run_time, settings.threads, settings.timer)
    return paired(runs[0], baseline_runs[0], *timing), paired(runs[1], baseline_runs[1], *timing)
