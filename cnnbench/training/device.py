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


class TrainingMemory:
    """The peak memory of the training phase alone, started where training starts; ``measured`` says what it is.

    Data preparation can peak far above training (decoding, copying), so a process-lifetime peak would
    report that transient. CUDA: ``max_memory_allocated`` after a reset of the peak statistics. CPU on
    Linux: the growth of the resident set over its size at the start, the peak ("VmHWM") reset through
    ``/proc/self/clear_refs``; where that reset is not possible, the process's lifetime peak RSS.
    The reset is the kernel's peak for the whole process: ``getrusage``'s ``ru_maxrss`` may then report
    the training phase alone, so a tool that wants the process's lifetime peak reads ``VmHWM`` from outside
    while it runs (``benchmarks/memory.py`` does both).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._base = 0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            self.measured = "cuda-max-allocated"
        elif _reset_peak_rss():
            self._base = status_kib("VmRSS") * 1024
            self.measured = "cpu-rss-growth-during-training"
        else:
            self.measured = "cpu-peak-rss-of-process"

    def peak_bytes(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        if self.measured == "cpu-rss-growth-during-training":
            return max(0, status_kib("VmHWM") * 1024 - self._base)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs`` value 5); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as control:
            control.write("5")
        status_kib("VmHWM")  # the peak it resets must also be readable
        return True
    except (OSError, ValueError):
        return False


def status_kib(field: str, pid: int | str = "self") -> int:
    """A ``kB`` field of ``/proc/PID/status`` (VmRSS: resident now, VmHWM: peak since the last reset).

    Raises ``OSError`` where there is no such file (not Linux, or the process is gone), ``ValueError``
    where it lacks ``field`` (a zombie has no memory fields).
    """
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise ValueError(f"/proc/self/status has no {field}")


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so a wall-clock reading covers the work (CUDA is asynchronous)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
