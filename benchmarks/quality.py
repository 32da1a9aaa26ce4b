"""The quality bars of `cnnbench run` (issue 3): accuracy reached and wall time, beside each target.

    python benchmarks/quality.py [--data-root ../shared/data] [--only digits,mnist,...] [--skip-ablation]

Each case is a real `cnnbench run` in a subprocess (start-up included in the wall time); the metrics come
from the record it writes. Tasks with a trivial baseline print the baseline the task computes beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: name -> (overrides, metric, target value, target seconds or None, baseline metric or None)
CASES = {
    "digits": ([], "accuracy", 0.97, 30, None),
    "mnist": (["experiment=lenet_mnist"], "accuracy", 0.99, 120, None),
    "usps": (["experiment=lenet_usps"], "accuracy", 0.95, None, None),
    "siamese": (["experiment=siamese"], "verification_accuracy", None, None, "baseline_verification_accuracy"),
    "triplet": (["experiment=triplet"], "recall_at_1", None, None, "baseline_recall_at_1"),
    "segmentation": (["experiment=segmentation"], "mean_iou", None, None, "baseline_mean_iou"),
    "detection": (["experiment=detection"], "map50", None, None, "baseline_map50"),
}


def run(overrides: list[str], data_root: str, results: Path) -> tuple[dict, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cnnbench.cli", "run", *overrides, f"data.root={data_root}", f"results.dir={results}", "trainer.progress=false"],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{overrides} failed:\n{done.stderr[-2000:]}")
    records = sorted((results / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(records[-1].read_text()), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--only", default=",".join(CASES))
    parser.add_argument("--skip-ablation", action="store_true")
    args = parser.parse_args()
    print("| case | metric | value | target | trivial baseline | wall s (target) |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            overrides, metric, target, seconds, baseline = CASES[name]
            record, wall = run(overrides, args.data_root, Path(tmp) / name)
            value = record["metrics"][metric]
            base = f"{record['metrics'][baseline]:.4f}" if baseline else ""
            goal = f">= {target}" if target else "beat baseline"
            ok = value >= target if target else value > record["metrics"][baseline]
            limit = f" (<= {seconds})" if seconds else ""
            print(f"| {name} | {metric} | {value:.4f} {'PASS' if ok else 'MISS'} | {goal} | {base} | {wall:.0f}{limit} |", flush=True)
        if not args.skip_ablation:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "cnnbench.cli", "run", "experiment=ablation_lenet", f"results.dir={Path(tmp) / 'ablation'}", "trainer.progress=false"],
                check=True, capture_output=True,
            )
            runs = len(list((Path(tmp) / "ablation" / "runs").glob("*.json")))
            print(f"| ablation_lenet | {runs} runs | | | | {time.perf_counter() - start:.0f} (<= 600) |")


if __name__ == "__main__":
    main()
