"""Hydra's joblib multirun against a plain process pool running the same jobs (issue 14.2: at most 5% apart).

Both start from a shell, as a user would: (a) ``cnnbench run experiment=ablation_lenet`` (Hydra composes
each job, writes its run folder and ``.hydra/`` files, and cnnbench checks every job before it trains);
(b) one Python process that composes the same jobs through :func:`cnnbench.composition.compose_run_config`
and maps :func:`cnnbench.training.execute.execute` over a ``multiprocessing`` pool of as many processes,
each with the same share of the cores, reusing its workers and their data as joblib's loky does. Both
write the same records; wall time is the figure (the two runs alternate ``--repeats`` times, medians).

    python benchmarks/multirun_overhead.py [--experiment ablation_lenet] [--repeats 1] [--extra trainer.epochs=2]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def jobs(experiment: str, extra: list[str], results: Path) -> list[list[str]]:
    """The overrides of every job of the experiment's multirun, as Hydra's basic sweeper expands them."""
    from cnnbench.composition import composing
    from cnnbench.hydra_app import sweep_values
    from cnnbench.sweep.compose import override_value

    with composing() as session:
        params = session.compose("config", [f"experiment={experiment}", *extra]).hydra.sweeper.params
    swept = sweep_values([f"{key}={value}" for key, value in params.items()])
    fixed = [f"experiment={experiment}", *extra, f"results.dir={results}"]
    return [[*fixed, *(f"{key}={override_value(v)}" for (key, _), v in zip(swept, values))] for values in itertools.product(*(v for _, v in swept))]


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _run_job(overrides: list[str]) -> str:
    from cnnbench.composition import compose_run_config
    from cnnbench.plugins import default_registry
    from cnnbench.training.execute import execute

    record, _ = execute(compose_run_config(overrides), default_registry())
    return record.status


def plain_pool(experiment: str, extra: list[str], results: Path, processes: int) -> None:
    """(b): the same jobs over a plain process pool (this function runs in a fresh interpreter)."""
    overrides = jobs(experiment, extra, results)
    threads = max(1, (os.cpu_count() or 1) // processes)
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_init_worker, initargs=(threads,)) as pool:
        statuses = pool.map(_run_job, overrides, chunksize=1)
    assert statuses.count("completed") == len(overrides), statuses


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="ablation_lenet")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--processes", type=int, default=2, help="the pool's size: the joblib launcher's n_jobs (default: 2 on this machine)")
    parser.add_argument("--extra", nargs="*", default=[], help="overrides for both, e.g. trainer.epochs=2")
    parser.add_argument("--plain-pool", type=Path, help=argparse.SUPPRESS)  # (b), in its own process
    args = parser.parse_args()
    if args.plain_pool:
        plain_pool(args.experiment, args.extra, args.plain_pool, args.processes)
        return
    count = len(jobs(args.experiment, args.extra, Path("unused")))
    times: dict[str, list[float]] = {"hydra": [], "pool": []}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            hydra_dir, pool_dir = Path(scratch) / f"hydra{repeat}", Path(scratch) / f"pool{repeat}"
            hydra = [sys.executable, "-m", "cnnbench.cli", "run", f"experiment={args.experiment}", *args.extra, f"results.dir={hydra_dir}"]
            pool = [sys.executable, __file__, "--experiment", args.experiment, "--processes", str(args.processes), "--plain-pool", str(pool_dir)]
            times["hydra"].append(timed(hydra))
            times["pool"].append(timed([*pool, "--extra", *args.extra] if args.extra else pool))
            records = [len(list((folder / "runs").glob("*.json"))) for folder in (hydra_dir, pool_dir)]
            assert records == [count, count], records
    hydra_s, pool_s = statistics.median(times["hydra"]), statistics.median(times["pool"])
    print(f"| {args.experiment} ({count} runs{', ' + ' '.join(args.extra) if args.extra else ''}) | Hydra joblib | plain pool | gap |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| wall s (median of {args.repeats}) | {hydra_s:.1f} | {pool_s:.1f} | {hydra_s / pool_s - 1:+.1%} |")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
