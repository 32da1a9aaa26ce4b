"""Bench results as records (``record_type: "bench"``) that ``cnnbench report`` reads beside the runs.

One record per component, shape, device and dtype, written with the same atomic
:func:`cnnbench.records.write_record` as a training run. ``docs/report.md`` lists the fields the report
groups by (kind, name, baseline, target, device, dtype, shape, compile) and summarises (the ``*_ms`` times,
the ``ratio_*`` ratios); the rest (per-repeat samples, threads, clock, hyperparameters, provenance) say
how the figures were taken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnbench.bench.inputs import shape_text
from cnnbench.bench.runner import Result, Settings
from cnnbench.bench.timing import Samples
from cnnbench.plugins import LoadedRegistry
from cnnbench.records import BenchRecord, new_run_id, write_record
from cnnbench.training.device import device_name
from cnnbench.training.provenance import git_commit, host, versions


def _times(prefix: str, samples: Samples | None) -> dict[str, Any]:
    return {
        f"{prefix}_ms": samples.median_ms if samples else None,
        f"baseline_{prefix}_ms": samples.baseline_median_ms if samples else None,
        f"ratio_{prefix}": samples.ratio if samples else None,
    }


def _samples(result: Result) -> dict[str, list[float] | None]:
    pairs = {"forward": result.forward, "forward_backward": result.forward_backward}
    samples: dict[str, list[float] | None] = {}
    for name, measured in pairs.items():
        samples[name] = measured.subject_ms if measured else None
        samples[f"baseline_{name}"] = measured.baseline_ms if measured else None
    return samples


def bench_record(result: Result, settings: Settings, registry: LoadedRegistry) -> BenchRecord:
    """The record of one result: what was timed, how, where, and with which versions."""
    component, shape = result.component, result.shape or result.requested
    return BenchRecord(
        run_id=new_run_id(),
        status=result.status,
        error=result.error,
        started_at=result.started_at,
        finished_at=result.finished_at,
        kind=component.kind,
        name=component.name,
        hyperparameters=dict(component.defaults),
        plugin=component.plugin,
        distribution=component.distribution,
        plugin_version=component.version,
        baseline=result.baseline.name if result.baseline else None,
        target=result.baseline.target if result.baseline else None,
        meets_target=result.meets_target,
        device=settings.device.type,
        device_name=device_name(settings.device),
        dtype=str(settings.dtype).removeprefix("torch."),
        shape=shape_text(shape),
        requested_shape=shape_text(result.requested),
        batch_size=shape[0],
        **_times("forward", result.forward),
        **_times("forward_backward", result.forward_backward),
        samples_ms=_samples(result),
        repeats=settings.repeats,
        min_run_time_s=settings.min_run_time,
        threads=settings.threads,
        clock=settings.clock,
        compile=settings.compile,
        seed=settings.seed,
        versions=versions(registry),
        git_commit=git_commit(),
        host=host(),
    )


def write_bench_record(result: Result, settings: Settings, registry: LoadedRegistry, results_dir: Path | str) -> Path:
    return write_record(bench_record(result, settings, registry), results_dir)
