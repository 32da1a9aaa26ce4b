"""Quality bar of `cnnbench sweep` pruning: epochs spent and best accuracy, median pruner against none.

    python benchmarks/sweep_pruning.py [--trials 30] [--epochs 10] [--seed 0]

Runs the same TPE sweep over the mixed-pooling lambda on digits (LeNet-5, one torch thread) twice, with
`sweep.pruner=median` and with `sweep.pruner=none`, each in a fresh results folder, and counts the training
epochs from the run records. Targets: the pruned sweep spends <= 60% of the epochs and its best accuracy
is within 0.5 points of the unpruned one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_sweep(overrides: list[str], results: Path) -> tuple[dict, list[dict], float]:
    """Run `cnnbench sweep` (one torch thread per worker) as a command; its summary, run records and wall time."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cnnbench.cli", "sweep", *overrides, "trainer.threads=1", f"results.dir={results}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"cnnbench sweep {' '.join(overrides)} failed:\n{done.stderr[-2000:]}")
    (summary,) = results.glob("sweeps/*/summary.json")
    return json.loads(summary.read_text()), [json.loads(p.read_text()) for p in results.glob("runs/*.json")], wall


def sweep(pruner: str, args: argparse.Namespace, results: Path) -> dict:
    overrides = [f"sweep.pruner={pruner}", f"sweep.trials={args.trials}", f"sweep.seed={args.seed}", f"trainer.epochs={args.epochs}"]
    summary, records, wall = run_sweep(["sweep=mixed_lambda", *overrides], results)
    return {
        "pruner": pruner,
        "epochs": sum(len(r["curve"]) for r in records),
        "pruned": summary["trials"]["pruned"],
        "best": summary["best"][0]["values"][0],
        "best_lam": summary["best"][0]["params"]["pooling.lam"],
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [sweep(pruner, args, Path(tmp) / pruner) for pruner in ("none", "median")]
    full, pruned = rows
    print(f"{'pruner':8} {'epochs':>7} {'pruned':>7} {'best acc':>9} {'best lam':>9} {'wall s':>7}")
    for row in rows:
        print(f"{row['pruner']:8} {row['epochs']:7d} {row['pruned']:7d} {row['best']:9.4f} {row['best_lam']:9.4f} {row['wall_s']:7.1f}")
    ratio, gap = pruned["epochs"] / full["epochs"], 100 * (full["best"] - pruned["best"])
    print(f"epochs: median/none = {ratio:.1%} (target <= 60%)   best accuracy gap: {gap:+.2f} points (target <= 0.5)")


if __name__ == "__main__":
    main()
