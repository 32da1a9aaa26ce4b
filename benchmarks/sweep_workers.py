"""Quality bar of `cnnbench sweep` workers: a 40-trial sweep with 4 worker processes against 1.

    python benchmarks/sweep_workers.py [--trials 40] [--workers 1,2,4] [--epochs 10] [--repeats 1]

Runs the same sweep (mixed-pooling lambda, LeNet-5 on digits, TPE, no pruning so every run does the same
work, `trainer.threads=1` per worker) as a whole `cnnbench sweep` command, start-up included, with each
`sweep.workers` value (alternating when repeated; each run a fresh study), and prints the wall times and
their ratio to 1 worker. Target on the 2-core machine: 4 workers <= 0.6x.

Beside it, the machine's own ceiling: k processes that train the same run in a loop with no sweep at all
(spawned, `execute` only); the time per run with k of them running, over k, against one alone, is the best
ratio any k-worker sweep could reach here.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

from sweep_pruning import run_sweep  # benchmarks/ is on the path when a script in it runs


def sweep(workers: int, args: argparse.Namespace, results: Path) -> float:
    overrides = ["sweep=mixed_lambda", "sweep.pruner=none", f"sweep.trials={args.trials}", f"sweep.workers={workers}"]
    summary, _, wall = run_sweep([*overrides, f"trainer.epochs={args.epochs}"], results)
    if summary["trials"]["complete"] != args.trials:
        raise SystemExit(f"workers={workers}: {summary['trials']['complete']} trials complete, not {args.trials}")
    return wall


def train_loop(epochs: int, runs: int, results: str) -> float:
    """Median seconds of one run of the sweep's trial config, trained ``runs`` times after a warm-up."""
    import torch

    from cnnbench.composition import composing
    from cnnbench.plugins import default_registry
    from cnnbench.sweep.compose import RUN_CONFIG, compose_config, run_config
    from cnnbench.training.execute import execute

    torch.set_num_threads(1)
    registry = default_registry()
    with composing(registry):
        overrides = ["pooling=mixed", f"trainer.epochs={epochs}", "trainer.threads=1", "trainer.progress=false", f"results.dir={results}"]
        cfg = run_config(compose_config(RUN_CONFIG, overrides))
    execute(cfg, registry)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        execute(cfg, registry)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ceiling(processes: int, epochs: int, tmp: str) -> float:
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return statistics.median(pool.starmap(train_loop, [(epochs, 4, tmp)] * processes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    counts = sorted({1, *map(int, args.workers.split(","))})
    walls: dict[int, list[float]] = {k: [] for k in counts}
    with tempfile.TemporaryDirectory() as tmp:
        per_run = {k: ceiling(k, args.epochs, tmp) for k in counts}
        for repeat in range(args.repeats):
            for workers in counts if repeat % 2 == 0 else reversed(counts):
                walls[workers].append(sweep(workers, args, Path(tmp) / f"{workers}-{repeat}"))
                print(f"workers={workers}: {walls[workers][-1]:.1f} s", flush=True)
    one = statistics.median(walls[1])
    print(f"{args.trials} trials of {args.epochs} digits epochs, threads=1 per process, {multiprocessing.cpu_count()} cores")
    print(f"{'workers':>7} {'wall s':>7} {'ratio':>6} {'ceiling':>8} {'s/run with k running':>21}")
    for k in counts:
        wall = statistics.median(walls[k])
        print(f"{k:7d} {wall:7.1f} {wall / one:5.2f}x {per_run[k] / k / per_run[1]:7.2f}x {per_run[k]:21.2f}")
    print("target: 4 workers <= 0.60x; ceiling: k independent training processes, no sweep")


if __name__ == "__main__":
    main()
