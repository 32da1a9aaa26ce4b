"""The statistical tests of a report: bootstrap intervals over seeds, paired sign-flip and Welch tests,
the probability of improvement, multiple-comparison corrections and the seeds that would decide.

Everything is vectorised over comparisons: a report of 10,000 runs makes a few hundred comparisons,
so samples of equal size are stacked into one array and tested in one call. Randomness (bootstrap
resamples, Monte Carlo sign flips) comes from fixed seeds, so the same records give the same report.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

# scipy.stats (0.6 s of imports) is imported by the functions that need it: a report whose samples are all
# large (normal intervals, paired tests, Holm) never loads it

#: fewer seeds than this: no interval, no test, no verdict (an interval from two values is not one)
MIN_SEEDS = 3
#: bootstrap resamples per interval; percentile intervals at 95% are stable to ~0.1 of a std at 2000
BOOTSTRAP_RESAMPLES = 2000
#: above this many values a side, the percentile bootstrap of a mean is the normal interval to within
#: its own Monte Carlo error (central limit theorem), so the normal interval is used, clipped to the data
LARGE_SAMPLE = 100
#: the sign-flip test is exact (all 2^n sign patterns) up to this many pairs, Monte Carlo above
EXACT_SIGN_FLIP_MAX_N = 13
MONTE_CARLO_FLIPS = 9999
CORRECTIONS = ("holm", "bh", "none")
#: how each correction is named in a report
CORRECTION_NAMES = {"holm": "Holm (1979)", "bh": "Benjamini-Hochberg (1995)", "none": "none (uncorrected)"}


def mean_intervals(samples: Sequence[np.ndarray], confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap intervals of each sample's mean (NaN below :data:`MIN_SEEDS` values).

    Percentile intervals are quantiles of resampled means, so they never leave the range of the data
    (an accuracy interval stays inside [0, 1]), unlike a t interval. Samples of one size share one
    vectorised :func:`scipy.stats.bootstrap` call.
    """
    low, high = np.full(len(samples), np.nan), np.full(len(samples), np.nan)
    for size, rows in _by_shape([(len(s),) for s in samples]).items():
        if size[0] < MIN_SEEDS:
            continue
        stacked = np.vstack([samples[i] for i in rows])
        interval = _bootstrap((stacked,), confidence)
        low[rows], high[rows] = interval
    return low, high


def _bootstrap(data: tuple[np.ndarray, ...], confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of the mean (one sample) or of the difference of means (two), per row;
    for samples above :data:`LARGE_SAMPLE`, the normal interval clipped to what resampling can reach."""
    if min(array.shape[1] for array in data) > LARGE_SAMPLE:
        return _normal_interval(data, confidence)

    def statistic(*arrays: np.ndarray, axis: int = -1) -> np.ndarray:
        return arrays[0].mean(axis=axis) - (arrays[1].mean(axis=axis) if len(arrays) > 1 else 0.0)

    from scipy import stats

    with np.errstate(invalid="ignore"):
        result = stats.bootstrap(
            data, statistic, vectorized=True, axis=-1, method="percentile", confidence_level=confidence,
            n_resamples=BOOTSTRAP_RESAMPLES, batch=250, random_state=np.random.default_rng(0),
        )
    interval = result.confidence_interval
    return np.asarray(interval.low, dtype=float), np.asarray(interval.high, dtype=float)


def _normal_interval(data: tuple[np.ndarray, ...], confidence: float) -> tuple[np.ndarray, np.ndarray]:
    centre = data[0].mean(axis=1) - (data[1].mean(axis=1) if len(data) > 1 else 0.0)
    error = np.sqrt(sum(array.var(axis=1, ddof=1) / array.shape[1] for array in data))
    half = special.ndtri((1 + confidence) / 2) * error  # the normal quantile
    lowest = data[0].min(axis=1) - (data[1].max(axis=1) if len(data) > 1 else 0.0)
    highest = data[0].max(axis=1) - (data[1].min(axis=1) if len(data) > 1 else 0.0)
    return np.maximum(centre - half, lowest), np.minimum(centre + half, highest)


def _by_shape(shapes: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], list[int]]:
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for index, shape in enumerate(shapes):
        groups[shape].append(index)
    return groups


@functools.lru_cache(maxsize=16)
def _sign_patterns(n: int) -> np.ndarray:
    """The sign patterns of n pairs: all 2^n up to :data:`EXACT_SIGN_FLIP_MAX_N`, else 9999 drawn with seed 0
    (the same for every call, so drawn once: at 1,000 seeds drawing them costs more than the test)."""
    if n <= EXACT_SIGN_FLIP_MAX_N:
        bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    else:
        bits = np.random.default_rng(0).integers(0, 2, size=(MONTE_CARLO_FLIPS, n), dtype=np.int8)  # 4x faster than choice
    signs = np.multiply(bits, -2.0, out=np.empty(bits.shape))  # into a float array: 20x faster than 1.0 - 2.0 * bits
    signs += 1.0
    signs.flags.writeable = False
    return signs


def sign_flip_p(differences: np.ndarray) -> np.ndarray:
    """Two-sided p-values of the paired sign-flip (permutation) test of mean difference 0, per row.

    Under the null each seed's difference is as likely positive as negative, so the observed mean is
    compared with the means of every sign pattern: all 2^n patterns up to 13 pairs (3 pairs that all
    favour one side give p = 2/8 = 0.25 however small their spread), 9999 random ones above, with
    p = (k + 1) / (9999 + 1). These are the p-values of :func:`scipy.stats.permutation_test` with
    ``permutation_type="samples"`` and its float tolerance (the tests compare them); computing the null
    means of every row as one matrix product is what makes a thousand comparisons take milliseconds
    rather than the seconds scipy's general resampling loop needs.
    """
    differences = np.atleast_2d(np.asarray(differences, dtype=float))
    n = differences.shape[1]
    exact = n <= EXACT_SIGN_FLIP_MAX_N
    signs = _sign_patterns(n)
    null = differences @ signs.T / n
    observed = differences.mean(axis=1, keepdims=True)
    tolerance = np.abs(np.finfo(float).eps * 100 * observed)
    extra = 0 if exact else 1  # a random null counts the observed pattern once more
    below = ((null <= observed + tolerance).sum(axis=1) + extra) / (len(signs) + extra)
    above = ((null >= observed - tolerance).sum(axis=1) + extra) / (len(signs) + extra)
    return np.minimum(2 * np.minimum(below, above), 1.0)


def welch_p(choice: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Two-sided p-values of Welch's t-test per row: ``scipy.stats.ttest_ind(equal_var=False)`` in
    closed form (the tests compare them), zero spread giving p = 0 or NaN as scipy does."""
    n_x, n_y = choice.shape[1], baseline.shape[1]
    var_x, var_y = choice.var(axis=1, ddof=1) / n_x, baseline.var(axis=1, ddof=1) / n_y
    spread = var_x**2 / (n_x - 1) + var_y**2 / (n_y - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(spread > 0, (var_x + var_y) ** 2 / spread, 1.0)
        t = (choice.mean(axis=1) - baseline.mean(axis=1)) / np.sqrt(var_x + var_y)
    return 2 * special.stdtr(df, -np.abs(t))


def adjust(p_values: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """p-values adjusted for the comparisons of one family (NaN entries are not comparisons).

    ``holm``: Holm's step-down, which controls the family-wise error rate (the chance of any false
    verdict) under any dependence; ``bh``: Benjamini-Hochberg's false discovery rate
    (:func:`scipy.stats.false_discovery_control`); ``none``: unchanged.
    """
    p = np.asarray(p_values, dtype=float)
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; choose from {', '.join(CORRECTIONS)}")
    tested = ~np.isnan(p)
    if method == "none" or not tested.any():
        return p.copy()
    adjusted = np.full_like(p, np.nan)
    if method == "bh":
        from scipy import stats

        adjusted[tested] = stats.false_discovery_control(p[tested], method="bh")
        return adjusted
    m = int(tested.sum())
    order = np.argsort(p[tested], kind="stable")
    stepped = np.minimum(np.maximum.accumulate((m - np.arange(m)) * p[tested][order]), 1.0)
    values = np.empty(m)
    values[order] = stepped
    adjusted[tested] = values
    return adjusted


#: more seeds than any budget would give: reported as "> MAX_SEEDS"
MAX_SEEDS = 10_000


def seeds_to_decide(effect: float, spread: float, alpha: float, power: float = 0.8, paired: bool = True) -> float:
    """Seeds per side that would make a test at level ``alpha`` detect ``effect`` with ``power``.

    A planning estimate from the observed effect and spread (standard deviation of the paired
    differences, or of one side's values, pooled, when unpaired), taken as the truth: the closed-form
    normal approximation n = ((z(1 - alpha/2) + z(power)) * s / d)^2 (times 2 when unpaired), refined
    with Student's t quantiles at the implied degrees of freedom (statsmodels' power solvers do the
    same iteration; it is not a dependency). A paired sign-flip test can never go below p = 2 / 2^n, so
    n is at least the smallest n with 2 / 2^n < alpha. NaN when no effect was observed; infinite above
    :data:`MAX_SEEDS` (an effect that small is no difference to plan for, whatever float noise says).
    """
    if not math.isfinite(effect) or effect == 0:
        return math.nan
    floor = math.floor(1 - math.log2(alpha)) + 1 if paired else MIN_SEEDS
    if not math.isfinite(spread) or spread == 0:
        return float(max(floor, MIN_SEEDS))
    scale = (1.0 if paired else 2.0) * (spread / abs(effect)) ** 2
    n = scale * (special.ndtri(1 - alpha / 2) + special.ndtri(power)) ** 2
    for _ in range(50):
        df = max(n - 1 if paired else 2 * n - 2, 1.0)
        previous, n = n, scale * (special.stdtrit(df, 1 - alpha / 2) + special.stdtrit(df, power)) ** 2
        if abs(n - previous) < 1e-6 * n:
            break
    return math.inf if n > MAX_SEEDS else float(max(math.ceil(n), floor, MIN_SEEDS))


@dataclass(frozen=True)
class Sample:
    """One side of a comparison: its values by seed (seeds as text, "" when unknown)."""

    seeds: tuple[str, ...]
    values: np.ndarray


def is_paired(choice: Sample, baseline: Sample) -> bool:
    """Paired when both sides ran exactly the same seeds, once each: run i of one side shares data
    order and initialisation with run i of the other."""
    seeds = set(choice.seeds)
    return len(seeds) == len(choice.seeds) == len(baseline.seeds) and "" not in seeds and seeds == set(baseline.seeds)


def compare_all(
    choices: Sequence[Sample], baselines: Sequence[Sample], maximize: Sequence[bool], confidence: float = 0.95, intervals: bool = True
) -> pd.DataFrame:
    """Each choice against its baseline: effect (choice - baseline), its bootstrap interval, the
    two-sided p-value, P(choice better) and the spread the seed planning needs.

    Paired by seed (:func:`is_paired`): the sign-flip test on the per-seed differences, the interval
    resampling seeds, and P(better) = the share of seeds on which the choice wins (ties half).
    Unpaired: Welch's t-test, the interval resampling each side, and P(better) = P(X > Y) over all
    pairs of runs (Mann-Whitney U / (n_x n_y), rliable's probability of improvement). Fewer than
    :data:`MIN_SEEDS` runs a side: ``test`` is ``none`` and only the effect is given. ``intervals=False``
    leaves the intervals out, for callers that only need the tests.
    """
    count = len(choices)
    out = {name: np.full(count, np.nan) for name in ("diff", "ci_low", "ci_high", "p_value", "p_better", "spread")}
    tests = np.array(["none"] * count, dtype=object)
    paired_rows: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
    unpaired_rows: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (choice, baseline) in enumerate(zip(choices, baselines)):
        if len(choice.values) and len(baseline.values):
            out["diff"][i] = choice.values.mean() - baseline.values.mean()
        if is_paired(choice, baseline):
            order = {seed: k for k, seed in enumerate(baseline.seeds)}
            differences = choice.values - baseline.values[[order[s] for s in choice.seeds]]
            if len(differences) >= MIN_SEEDS:
                paired_rows[len(differences)].append((i, differences))
        elif len(choice.values) >= MIN_SEEDS and len(baseline.values) >= MIN_SEEDS:
            unpaired_rows[(len(choice.values), len(baseline.values))].append(i)
    sign = np.where(np.asarray(maximize, dtype=bool), 1.0, -1.0)
    for rows in paired_rows.values():
        index = np.array([i for i, _ in rows])
        differences = np.vstack([d for _, d in rows])
        tests[index] = "sign-flip"
        out["p_value"][index] = sign_flip_p(differences)
        if intervals:
            out["ci_low"][index], out["ci_high"][index] = _bootstrap((differences,), confidence)
        wins = np.sign(differences * sign[index, None])
        out["p_better"][index] = (wins.mean(axis=1) + 1) / 2
        out["spread"][index] = differences.std(axis=1, ddof=1)
    for rows in unpaired_rows.values():
        index = np.array(rows)
        x = np.vstack([choices[i].values for i in rows])
        y = np.vstack([baselines[i].values for i in rows])
        tests[index] = "welch"
        out["p_value"][index] = welch_p(x, y)
        if intervals:
            out["ci_low"][index], out["ci_high"][index] = _bootstrap((x, y), confidence)
        out["p_better"][index] = _share_of_pairs_won(x * sign[index, None], y * sign[index, None])
        out["spread"][index] = np.sqrt((x.var(axis=1, ddof=1) + y.var(axis=1, ddof=1)) / 2)
    frame = pd.DataFrame(out)
    frame.insert(0, "test", tests)
    frame.insert(0, "n_baseline", [len(b.values) for b in baselines])
    frame.insert(0, "n_choice", [len(c.values) for c in choices])
    return frame


def _share_of_pairs_won(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) + P(X = Y) / 2 over all pairs, per row: the Mann-Whitney U / (n_x n_y), counted by
    searching each x in the sorted y (the U of ``scipy.stats.rankdata``'s mid-ranks, which the tests
    compare, without the 0.6 s import of scipy.stats that each of a report's processes would pay)."""
    won = np.empty(len(x))
    for row, (values, sorted_baseline) in enumerate(zip(x, np.sort(y, axis=1))):
        below = np.searchsorted(sorted_baseline, values, "left")
        not_above = np.searchsorted(sorted_baseline, values, "right")
        won[row] = (below + not_above).sum() / 2  # a tie counts half
    return won / (x.shape[1] * y.shape[1])


def verdicts(table: pd.DataFrame, alpha: float, maximize: Sequence[bool]) -> list[str]:
    """``better`` / ``worse`` when the corrected p-value is below ``alpha``, else ``inconclusive``;
    ``too few seeds`` when there was no test."""
    out = []
    for test, diff, p, higher in zip(table["test"], table["diff"], table["p_adjusted"], maximize):
        if test == "none":
            out.append("too few seeds")
        elif p < alpha:
            out.append("better" if (diff > 0) == bool(higher) else "worse")
        else:
            out.append("inconclusive")
    return out


def family_level(alpha: float, tested: int, correction: str) -> float:
    """The level one comparison must reach to be decided in a family of ``tested`` comparisons: the
    first step of Holm (and of Benjamini-Hochberg, for a single discovery) is alpha / m."""
    return alpha if correction == "none" else alpha / max(tested, 1)
