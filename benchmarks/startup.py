"""Start-up of the printing commands against ``python -c "import torch"``, interleaved (issue 13 item 4).

Each repeat runs the baseline and every command once, in alternating order, and counts each child's CPU
seconds (user + system, from ``wait4``): on a shared machine the time spent waiting for a core is not
counted, which wall time would. Prints medians and the median of the per-repeat ratios.

    python benchmarks/startup.py --repeats 7
    python -X importtime -c "from cnnbench.cli import main; main(['list'])" 2> importtime.txt   # what remains
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys

BASELINE = "import torch"


def cpu_seconds(argv: list[str]) -> float:
    """The CPU time (user + system) of one run of ``argv``, its output discarded."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"startup.py: {' '.join(argv)} failed")
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    cli = shutil.which("cnnbench") or "cnnbench"
    subjects = {
        f'python -c "{BASELINE}"': [sys.executable, "-c", BASELINE],
        "cnnbench list": [cli, "list"],
        "cnnbench --help": [cli, "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in subjects}
    for repeat in range(args.repeats):
        order = list(subjects.items())
        for name, argv in order if repeat % 2 == 0 else reversed(order):
            times[name].append(cpu_seconds(argv))
    baseline = next(iter(times.values()))
    print(f"CPU seconds, median of {args.repeats} interleaved repeats (user + system of the child)")
    for name, samples in times.items():
        ratio = statistics.median(s / b for s, b in zip(samples, baseline))
        print(f"{name:32} {statistics.median(samples):6.2f} s  {ratio:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
