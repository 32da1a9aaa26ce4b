"""How often does the report's ablation call a choice better or worse when no choice differs?

Simulates null ablation sections, each 20 choices of one slot against its baseline, every run's
accuracy drawn from the same distribution (a seed effect shared by the runs of one seed, plus noise),
and puts them through the report's own ablation table (:func:`cnnbench.report.stats.ablation`), one
section per simulated dataset. The family-wise false-verdict rate is the share of sections with at
least one "better" or "worse"; with the Holm correction it must stay at or below 5%.

    python benchmarks/null_ablation.py [--sections 1000] [--choices 20]

Three designs: 5 seeds paired (the sign-flip test cannot reach p < 0.0625, so nothing is ever
called), 10 seeds paired, and 5 seeds a side unpaired (Welch). Prints each rate with its 95% binomial
interval, for Holm, Benjamini-Hochberg and no correction.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import stats

from cnnbench.report.stats import SECTION_KEYS, ablation

CHOICE_NAMES = ("relu",) + tuple(f"choice_{i:02d}" for i in range(1, 100))


def null_runs(sections: int, choices: int, seeds: int, paired: bool, rng: np.random.Generator) -> pd.DataFrame:
    """One run per (section, choice, seed); the baseline's seeds are the choices' when ``paired``."""
    arms = CHOICE_NAMES[: choices + 1]
    rows = []
    for section in range(sections):
        shared = rng.normal(0, 0.01, seeds)
        for arm in arms:
            own = shared if paired else rng.normal(0, 0.01, seeds)
            values = 0.9 + own + rng.normal(0, 0.003, seeds)
            offset = seeds if (arm == "relu" and not paired) else 0
            rows += [(f"null-{section:04d}", arm, str(offset + seed), value) for seed, value in enumerate(values)]
    frame = pd.DataFrame(rows, columns=["dataset", "activation", "seed", "value"])
    return frame.assign(task="classification", device="cpu", **{"data.fingerprint": ""}, metric="accuracy", maximize=True)


def false_verdict_rate(table: pd.DataFrame) -> float:
    called = table["verdict"].isin(["better", "worse"]).groupby(table["dataset"]).any()
    return float(called.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", type=int, default=1000)
    parser.add_argument("--choices", type=int, default=20)
    args = parser.parse_args()
    keys = [*SECTION_KEYS, "activation"]
    print(f"{args.sections} null sections of {args.choices} choices against a baseline; false-verdict rate per section [95% CI]")
    for seeds, paired in ((5, True), (10, True), (5, False)):
        runs = null_runs(args.sections, args.choices, seeds, paired, np.random.default_rng(seeds + paired))
        line = []
        for correction in ("holm", "bh", "none"):
            start = time.perf_counter()
            rate = false_verdict_rate(ablation(runs, keys, correction=correction))
            interval = stats.binomtest(round(rate * args.sections), args.sections).proportion_ci(0.95)
            line.append(f"{correction} {rate:6.1%} [{interval.low:.1%}, {interval.high:.1%}] ({time.perf_counter() - start:.1f} s)")
        print(f"{seeds:2d} seeds {'paired  ' if paired else 'unpaired'}: " + "   ".join(line))


if __name__ == "__main__":
    main()
