"""Quality bar of `cnnbench sweep` workers: a 40-trial sweep with 4 worker processes against 1.

    python benchmarks/sweep_workers.py [--trials 40] [--workers 4] [--epochs 10] [--repeats 1]

Runs the same sweep (mixed-pooling lambda, LeNet-5 on digits, TPE, no pruning so both do the same work,
`trainer.threads=1` per worker) as a whole `cnnbench sweep` command, start-up included, with
`sweep.workers=1` and with `sweep.workers=4`, alternating when repeated, and prints the wall times and
their ratio. Target on the 2-core machine: <= 0.6x. Each run gets its own results folder (a fresh study).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from sweep_pruning import run_sweep  # benchmarks/ is on the path when a script in it runs


def sweep(workers: int, args: argparse.Namespace, results: Path) -> float:
    overrides = ["sweep=mixed_lambda", "sweep.pruner=none", f"sweep.trials={args.trials}", f"sweep.workers={workers}"]
    summary, _, wall = run_sweep([*overrides, f"trainer.epochs={args.epochs}"], results)
    if summary["trials"]["complete"] != args.trials:
        raise SystemExit(f"workers={workers}: {summary['trials']['complete']} trials complete, not {args.trials}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    walls: dict[int, list[float]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for workers, times in walls.items():
                times.append(sweep(workers, args, Path(tmp) / f"{workers}-{repeat}"))
                print(f"workers={workers}: {times[-1]:.1f} s", flush=True)
    one, many = (statistics.median(times) for times in walls.values())
    print(f"{os.cpu_count()} cores, {args.trials} trials of {args.epochs} digits epochs, threads=1 per worker")
    print(f"1 worker {one:.1f} s   {args.workers} workers {many:.1f} s   ratio {many / one:.2f}x (target <= 0.6x)")


if __name__ == "__main__":
    main()
