"""Device choice and the facts about it a run record needs."""

from __future__ import annotations

import platform
import resource
import sys

import torch

from cnnbench.errors import IncompatibleConfigError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def select_device(name: str, option: str = "trainer.device") -> torch.device:
    """``auto`` picks CUDA when present; anything but an available CPU or CUDA device is refused in one line."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in {"cpu", "cuda"}:
        raise IncompatibleConfigError(f"{option}={name!r} is not a device here; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise IncompatibleConfigError(f"{option}={name} but CUDA is not available here; use auto or cpu")
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision``; fp16 autocast is CUDA-only in practice, so refuse it on the CPU."""
    if precision not in PRECISIONS:
        raise IncompatibleConfigError(f"trainer.precision={precision!r}; allowed: {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise IncompatibleConfigError("trainer.precision=fp16 needs CUDA; use bf16 or fp32 on the CPU")
    return PRECISIONS[precision]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


#: what :func:`peak_memory_bytes` measures on each device type (a run record says which)
MEMORY_MEASURED = {"cuda": "cuda-max-allocated", "cpu": "cpu-process-max-rss"}


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> int:
    """Peak CUDA memory allocated, or this process's peak resident set size on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so a wall-clock reading covers the work (CUDA is asynchronous)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
