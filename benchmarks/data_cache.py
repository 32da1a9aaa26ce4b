"""What a sweep trial or multirun job pays to get its data, with and without the process-wide dataset cache.

A trial (one ``execute`` in a worker process) calls its task's ``load_data``: the dataset's files are read
(and decoded), then resized, standardized and split. With the caches (issue 14: loaded datasets in
:func:`cnnbench.data.load_dataset`, prepared splits in :func:`cnnbench.data.labelled.labelled_splits`) a
process does this once and every later trial with the same data settings reuses the tensors; without them
(``CNNBENCH_DATA_CACHE=0``) every trial does it again. Each trial is timed in the same process,
alternating the two modes, and the medians are printed as a Markdown table. On a shared machine absolute
times are noise; the ratio is the figure.

    python benchmarks/data_cache.py [--trials 7] [--datasets digits,mnist] [--data-root ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from cnnbench.data import clear_cache
from cnnbench.data.dataset import CACHE_ENV
from cnnbench.data.splits import SplitSettings
from cnnbench.plugins import default_registry

DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"


def trial_load_s(dataset: str, root: Path, cached: bool) -> float:
    """Seconds of one trial's ``load_data`` (classification, LeNet-5's 32x32 input)."""
    os.environ[CACHE_ENV] = "1" if cached else "0"
    task = default_registry().create("task", {"name": "classification", "dataset": dataset})
    start = time.perf_counter()
    task.load_data(root, 32, 0, SplitSettings())
    return time.perf_counter() - start


def measure(dataset: str, root: Path, trials: int) -> dict[str, float]:
    clear_cache()
    first = trial_load_s(dataset, root, cached=True)  # the one read a cached process pays
    with_cache, without = [], []
    for _ in range(trials):
        without.append(trial_load_s(dataset, root, cached=False))
        with_cache.append(trial_load_s(dataset, root, cached=True))
    return {"first": first, "without": statistics.median(without), "with": statistics.median(with_cache)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--datasets", default="digits,mnist")
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    args = parser.parse_args()
    default_registry()  # plugin loading is not part of a trial
    print("| dataset | first trial ms | later trial ms, no cache | later trial ms, cache | saved per trial |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for dataset in args.datasets.split(","):
        row = measure(dataset, args.data_root, args.trials)
        saved = 1 - row["with"] / row["without"]
        print(f"| {dataset} | {row['first'] * 1e3:,.0f} | {row['without'] * 1e3:,.0f} | {row['with'] * 1e3:,.2f} | {saved:.1%} |")


if __name__ == "__main__":
    main()
