"""How long `cnnbench report` takes over 10,000 records (target: <= 5 s on the 2-core machine).

Writes 10,000 synthetic run records (5 activations x 4 poolings x 2 devices x 2 datasets x 125 seeds,
minus room for a 40-trial sweep), 6 component timings and a pytest-benchmark file into a temporary
folder with the same `write_record` a run uses, then times, in a fresh process, the whole command:
imports, loading, statistics, the 9 plots, Markdown, HTML and CSV (and Parquet with --parquet).

    python benchmarks/report_load.py [--records 10000] [--repeat 3] [--parquet]

It prints the wall and CPU seconds of each repeat and the median; on a shared machine the CPU time
is the steadier figure.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cnnbench.report import synthetic

STUDY_TRIALS = 40


def write_records(folder: Path, count: int) -> None:
    """``count`` records: an ablation grid over seeds, plus one sweep, timings and a pytest-benchmark file."""
    combos = itertools.product(("digits", "mnist"), ("cpu", "cuda"), synthetic.ACTIVATION_EFFECT, synthetic.POOLING_EFFECT)
    cells = list(combos)
    runs = count - STUDY_TRIALS - len(synthetic.bench_records())
    records = [
        synthetic.run_record(i, dataset=d, device=v, activation=a, pooling=p, seed=i // len(cells))
        for i, (d, v, a, p) in zip(range(runs), itertools.cycle(cells))
    ]
    records += synthetic.study_trials("mixed-lam", STUDY_TRIALS) + synthetic.bench_records()
    synthetic.write_all(records, folder)
    synthetic.write_pytest_benchmark(folder)


def time_report(folder: Path, formats: str) -> tuple[float, float]:
    """Wall and CPU seconds of one `cnnbench report` in a fresh interpreter (imports included)."""
    command = [sys.executable, "-m", "cnnbench.cli", "report", "--results", str(folder), "--out", str(folder / "report"), "--format", formats]
    start = time.perf_counter()
    child = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"report failed ({child.returncode}): {child.stderr.strip()}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parquet", action="store_true", help="write Parquet too")
    args = parser.parse_args()
    formats = "markdown,html,csv" + (",parquet" if args.parquet else "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_records(folder, args.records)
        files = sum(1 for _ in folder.rglob("*.json"))
        walls, cpus, used = [], [], 0.0
        for repeat in range(args.repeat):
            wall, cpu_total = time_report(folder, formats)
            walls.append(wall)
            cpus.append(cpu_total - used)
            used = cpu_total
            print(f"repeat {repeat + 1}: {wall:.2f} s wall, {cpus[-1]:.2f} s CPU")
        plots = len(list((folder / "report" / "plots").glob("*.png")))
        print(f"{files} files ({args.records} records), formats {formats}, {plots} plots")
        print(f"median: {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU (target <= 5 s)")


if __name__ == "__main__":
    main()
