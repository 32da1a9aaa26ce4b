"""Interleaved, synchronised timing of a component beside its baseline (``torch.utils.benchmark``).

Every repeat times each callable with ``blocked_autorange``, back to back, the order alternating
between repeats, so drift on a shared machine hits a component and its baseline alike. A time is the
median over the repeats, and a ratio is the median of the per-repeat ratios. The timer of
``torch.utils.benchmark`` synchronises CUDA before it reads the clock, so asynchronous kernels are
timed to their end.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.benchmark import Timer

Clock = Callable[[], float]


@dataclass(frozen=True)
class Subject:
    """A callable, the inputs it is timed on, and the leaves (inputs, parameters) its backward reaches."""

    call: Callable[..., Any]
    inputs: tuple[Tensor, ...]
    wrt: tuple[Tensor, ...]


def forward(subject: Subject) -> Callable[[], None]:
    """The forward pass alone, without recording a graph (in whatever mode the subject is in)."""

    def run() -> None:
        with torch.no_grad():
            subject.call(*subject.inputs)

    return run


def forward_backward(subject: Subject) -> Callable[[], None]:
    """Forward, then the gradients of every leaf in ``subject.wrt``; ``autograd.grad`` leaves ``.grad`` alone."""
    output = subject.call(*subject.inputs)
    grad_output = None if output.dim() == 0 else torch.ones_like(output)

    def run() -> None:
        torch.autograd.grad(subject.call(*subject.inputs), subject.wrt, grad_output, allow_unused=True)

    return run


@dataclass(frozen=True)
class Samples:
    """Per-repeat times in ms of a subject and, when there is one, of its baseline (same repeats, paired)."""

    subject_ms: list[float]
    baseline_ms: list[float] | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.subject_ms)

    @property
    def baseline_median_ms(self) -> float | None:
        return statistics.median(self.baseline_ms) if self.baseline_ms else None

    @property
    def ratio(self) -> float | None:
        """Median of the paired per-repeat ratios subject / baseline."""
        if not self.baseline_ms:
            return None
        return statistics.median(s / b for s, b in zip(self.subject_ms, self.baseline_ms, strict=True))


def _timer(run: Callable[[], None], threads: int, clock: Clock | None) -> Timer:
    return Timer(stmt="run()", globals={"run": run}, num_threads=threads, **({"timer": clock} if clock else {}))


def interleaved(
    runs: Sequence[Callable[[], None]], repeats: int, min_run_time: float, threads: int, clock: Clock | None = None
) -> list[list[float]]:
    """Per-repeat time (ms) of each callable, the callables taken in turn, their order alternating per repeat.

    Each repeat is one ``blocked_autorange``: it warms the callable up while it sizes the blocks, then
    times blocks for ``min_run_time`` and gives their median time per call.
    """
    timers = [_timer(run, threads, clock) for run in runs]
    samples: list[list[float]] = [[] for _ in runs]
    for repeat in range(repeats):
        order = range(len(runs)) if repeat % 2 == 0 else reversed(range(len(runs)))
        for index in order:
            samples[index].append(timers[index].blocked_autorange(min_run_time=min_run_time).median * 1e3)
    return samples


def paired(
    subject: Callable[[], None],
    baseline: Callable[[], None] | None,
    repeats: int,
    min_run_time: float,
    threads: int,
    clock: Clock | None = None,
) -> Samples:
    """Time ``subject`` and ``baseline`` interleaved; without a baseline, time the subject alone."""
    runs = [subject] if baseline is None else [subject, baseline]
    times = interleaved(runs, repeats, min_run_time, threads, clock)
    return Samples(times[0], times[1] if baseline is not None else None)
