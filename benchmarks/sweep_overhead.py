"""Quality bar of `cnnbench sweep` bookkeeping: what a sweep adds to each trial, against the trial itself.

    python benchmarks/sweep_overhead.py [--trials 20] [--storages journal,sqlite,postgres]

In one process (one torch thread): times a one-epoch LeNet-5 / digits run called directly (`execute`, the
run `cnnbench run` does) as the baseline; then runs a `cnnbench sweep` of the same one-epoch trials (TPE,
median pruner) on each storage, timing the whole worker loop and, inside it, `execute`. Bookkeeping per
trial = (worker loop - execute + the epoch reports made inside execute) / trials: asking, sampling,
composing the trial config, the heartbeat, reporting to the pruner, telling, the slot accounting and the
progress thread. The run record's write (inside
`execute`, the same as for `cnnbench run`) is timed on its own. Target: bookkeeping + record <= 5% of the
one-epoch trial. PostgreSQL is skipped when 127.0.0.1:5432 does not answer.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import torch

import cnnbench.sweep.objective
import cnnbench.sweep.worker
import cnnbench.training.execute
from cnnbench.cli import main as cli
from cnnbench.composition import composing
from cnnbench.plugins import default_registry
from cnnbench.sweep.compose import RUN_CONFIG, compose_config, run_config

TRIAL = ["trainer.epochs=1", "trainer.threads=1"]
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
spent: dict[str, list[float]] = defaultdict(list)


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name].append(time.perf_counter() - start)

    return wrapper


def baseline(trials: int, results: Path) -> float:
    registry = default_registry()
    with composing(registry):
        cfg = run_config(compose_config(RUN_CONFIG, [*TRIAL, f"results.dir={results}", "trainer.progress=false"]))
    cnnbench.training.execute.execute(cfg, registry)  # warm-up: data, first allocations
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        cnnbench.training.execute.execute(cfg, registry)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def storage_url(name: str, results: Path) -> str | None:
    if name == "journal":
        return None  # the default: a journal file under results/
    if name == "sqlite":
        return f"sqlite:///{results / 'optuna.db'}"
    try:
        import psycopg2

        psycopg2.connect(POSTGRES.replace("+psycopg2", ""), connect_timeout=2).close()
    except Exception:  # noqa: BLE001 (any failure to connect means: skip PostgreSQL)
        return ""
    return POSTGRES


def sweep(trials: int, storage: str | None, results: Path) -> tuple[float, float, float]:
    spent.clear()
    study = f"overhead-{uuid.uuid4().hex[:8]}"
    overrides = ["sweep", "sweep=mixed_lambda", f"sweep.trials={trials}", f"sweep.study={study}", *TRIAL]
    overrides += [f"results.dir={results}"] + ([f"sweep.storage={storage}"] if storage else [])
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if cli(overrides) != 0:
            raise SystemExit(f"the sweep on {storage or 'journal'} failed")
    if storage == POSTGRES:
        optuna.delete_study(study_name=study, storage=storage)  # leave the shared database as it was
    loop, inside, reports = sum(spent["work"]), sum(spent["execute"]), sum(spent["report"])
    return (loop - inside + reports) / trials, statistics.median(spent["record"]), statistics.median(spent["execute"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--storages", default="journal,sqlite,postgres")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cnnbench.sweep.worker.work = timed("work", cnnbench.sweep.worker.work)
    cnnbench.sweep.objective.execute = timed("execute", cnnbench.sweep.objective.execute)
    cnnbench.training.execute.write_record = timed("record", cnnbench.training.execute.write_record)
    cnnbench.sweep.objective.Reporter.__call__ = timed("report", cnnbench.sweep.objective.Reporter.__call__)
    with tempfile.TemporaryDirectory() as tmp:
        trial = baseline(args.trials, Path(tmp) / "baseline")
        print(f"one-epoch digits run (execute, median of {args.trials}): {1000 * trial:.0f} ms")
        print(f"{'storage':9} {'bookkeeping ms':>15} {'record ms':>10} {'trial ms':>9} {'share':>7}")
        for name in args.storages.split(","):
            url = storage_url(name, Path(tmp))
            if url == "":
                print(f"{name:9} skipped: PostgreSQL does not answer on 127.0.0.1:5432")
                continue
            bookkeeping, record, inside = sweep(args.trials, url, Path(tmp) / name)
            share = (bookkeeping + record) / trial
            print(f"{name:9} {1000 * bookkeeping:15.1f} {1000 * record:10.1f} {1000 * inside:9.0f} {share:7.1%}  (target <= 5%)")


if __name__ == "__main__":
    main()
