"""The statistical tests against scipy, hand-computed values and the failures they replace."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from cnnbench.report import inference
from cnnbench.report.inference import (
    MAX_SEEDS,
    Sample,
    adjust,
    compare_all,
    mean_intervals,
    seeds_to_decide,
    sign_flip_p,
    welch_p,
)

RNG = np.random.default_rng(20260312)


def one_image_apart(test_images: int = 450) -> tuple[np.ndarray, np.ndarray]:
    """Maxout beats ReLU by exactly one test image on each of 3 seeds, accuracies stored as float32."""
    relu = np.array([431, 428, 433]) / test_images
    return relu.astype(np.float32).astype(float) + 0, (relu + 1 / test_images).astype(np.float32).astype(float)


def test_one_image_on_three_seeds_is_p_one_quarter_not_8e_11() -> None:
    relu, maxout = one_image_apart()
    assert stats.ttest_rel(maxout, relu).pvalue < 1e-6  # float32 rounding is the t-test's only variance
    assert sign_flip_p((maxout - relu)[None]) == pytest.approx([0.25])  # 2 of the 8 sign patterns are as extreme
    row = compare_all([Sample(("0", "1", "2"), maxout)], [Sample(("0", "1", "2"), relu)], [True]).iloc[0]
    assert row["test"] == "sign-flip" and row["p_value"] == pytest.approx(0.25) and row["p_better"] == 1.0
    assert row["diff"] == pytest.approx(1 / 450, rel=1e-5)


@pytest.mark.parametrize("n", [3, 4, 5, 7, 10, 13])
def test_exact_sign_flip_matches_scipy_permutation_test(n: int) -> None:
    x, y = RNG.normal(0.9, 0.01, (2, 6, n))
    ours = sign_flip_p(x - y)
    for row in range(6):
        expected = stats.permutation_test(
            (x[row], y[row]), lambda a, b: np.mean(a - b), permutation_type="samples", n_resamples=np.inf
        ).pvalue
        assert ours[row] == pytest.approx(expected, rel=1e-12)


def test_monte_carlo_sign_flip_agrees_with_the_exact_test_within_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    differences = RNG.normal(0.0005, 0.002, (4, 14))
    monkeypatch.setattr(inference, "EXACT_SIGN_FLIP_MAX_N", 10)  # 14 pairs: Monte Carlo
    ours = sign_flip_p(differences)
    for row, p in enumerate(ours):
        exact = stats.permutation_test(
            (differences[row], np.zeros(14)), lambda a, b: np.mean(a - b), permutation_type="samples", n_resamples=np.inf
        ).pvalue
        one_sided = exact / 2  # two-sided p is twice a tail share estimated from 9999 flips
        assert p == pytest.approx(exact, abs=4 * 2 * math.sqrt(one_sided * (1 - one_sided) / 9999))


@pytest.mark.parametrize(
    ("choice", "baseline"),
    [
        ([0.91, 0.95, 0.99, 0.90, 0.93], [0.90, 0.92, 0.94]),
        ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0]),  # zero spread on both sides: p = 0
        ([1.0, 1.0, 1.0], [0.0, 1.0, 2.0]),
        ([0.5, 0.6, 0.7], [0.5, 0.6, 0.7]),
    ],
)
def test_welch_matches_scipy(choice: list[float], baseline: list[float]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = stats.ttest_ind(choice, baseline, equal_var=False).pvalue
    assert welch_p(np.array([choice]), np.array([baseline]))[0] == pytest.approx(expected, rel=1e-12, nan_ok=True)


def test_bootstrap_interval_stays_inside_the_metric_range() -> None:
    near_one = np.array([0.99, 1.0, 1.0, 0.98, 1.0])
    t_high = stats.t.interval(0.95, 4, loc=near_one.mean(), scale=stats.sem(near_one))[1]
    low, high = mean_intervals([near_one, np.array([0.0, 0.0, 0.02])])
    assert t_high > 1.0  # what a t interval says about an accuracy
    assert near_one.min() <= low[0] <= near_one.mean() <= high[0] <= 1.0
    assert 0.0 <= low[1] and high[1] <= 0.02


def test_bootstrap_interval_is_the_percentile_interval_of_resampled_means() -> None:
    sample = RNG.normal(0.9, 0.02, 8)
    low, high = mean_intervals([sample], 0.9)
    means = RNG.choice(sample, size=(100_000, 8)).mean(axis=1)  # an independent hand-rolled percentile bootstrap
    # 2000 resamples put the report's quantiles within ~0.05 standard errors of the mean; 0.25 is 5 of those
    assert (low[0], high[0]) == pytest.approx(tuple(np.percentile(means, [5, 95])), abs=0.25 * sample.std() / math.sqrt(8))


def test_fewer_than_three_seeds_get_no_interval_and_no_test() -> None:
    low, high = mean_intervals([np.array([0.9, 0.91]), np.array([0.9])])
    assert np.isnan(low).all() and np.isnan(high).all()
    row = compare_all([Sample(("0", "1"), np.array([0.9, 0.92]))], [Sample(("0", "1"), np.array([0.8, 0.81]))], [True]).iloc[0]
    assert row["test"] == "none" and math.isnan(row["p_value"]) and math.isnan(row["ci_low"]) and row["diff"] == pytest.approx(0.105)


def test_probability_of_improvement() -> None:
    x, y = np.array([0.91, 0.95, 0.99, 0.90]), np.array([0.90, 0.92, 0.95])
    unpaired = compare_all([Sample(("0", "1", "2", "3"), x)], [Sample(("5", "6", "7"), y)], [True]).iloc[0]
    u = stats.mannwhitneyu(x, y, alternative="greater").statistic
    assert unpaired["test"] == "welch" and unpaired["p_better"] == pytest.approx(u / (len(x) * len(y)))
    lower = compare_all([Sample(("0", "1", "2", "3"), x)], [Sample(("5", "6", "7"), y)], [False]).iloc[0]
    assert lower["p_better"] == pytest.approx(1 - u / (len(x) * len(y)))  # for a loss, lower wins
    rows = np.random.default_rng(3).integers(0, 4, size=(5, 2, 6)) / 4  # many ties, several rows of one size
    many = compare_all([Sample(tuple("abcdef"), r[0]) for r in rows], [Sample(tuple("ghijkl"), r[1]) for r in rows], [True] * 5)
    expected = [stats.mannwhitneyu(r[0], r[1], alternative="greater").statistic / 36 for r in rows]
    assert many["p_better"].to_numpy() == pytest.approx(expected)
    seeds = ("0", "1", "2", "3")
    paired = compare_all([Sample(seeds, np.array([0.9, 0.8, 0.7, 0.7]))], [Sample(seeds[::-1], np.array([0.6, 0.7, 0.9, 0.85]))], [True]).iloc[0]
    # by seed: 0.9-0.85, 0.8-0.9, 0.7-0.7, 0.7-0.6: one win, one loss, one tie, one win
    assert paired["test"] == "sign-flip" and paired["p_better"] == pytest.approx(2.5 / 4)
    assert paired["diff"] == pytest.approx(np.mean([0.05, -0.1, 0.0, 0.1]))


def test_holm_by_hand_bh_as_scipy_none_unchanged() -> None:
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running maximum
    np.testing.assert_allclose(adjust(p, "holm"), [0.03, 0.06, np.nan, 0.06, 0.02])
    expected = stats.false_discovery_control([0.01, 0.04, 0.03, 0.005], method="bh")
    np.testing.assert_allclose(adjust(p, "bh")[[0, 1, 3, 4]], expected)
    assert np.isnan(adjust(p, "bh")[2])
    np.testing.assert_array_equal(adjust(p, "none"), p)
    assert adjust([0.5, 0.9], "holm").tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="unknown correction 'bonferoni'"):
        adjust(p, "bonferoni")


def test_seeds_to_decide_matches_the_power_tables() -> None:
    # statsmodels' TTestPower / TTestIndPower.solve_power(effect_size=1, alpha=0.05, power=0.8): 9.94 and 16.71
    assert seeds_to_decide(0.01, 0.01, 0.05, 0.8, paired=True) == 10
    assert seeds_to_decide(0.01, 0.01, 0.05, 0.8, paired=False) == 17
    # effect 0.5 sd: 33.37 paired
    assert seeds_to_decide(0.005, 0.01, 0.05, 0.8, paired=True) == 34
    # no spread at all (one image on every seed): as many seeds as the sign-flip test needs to get below alpha
    assert seeds_to_decide(1 / 450, 0.0, 0.05) == 6  # 2/2^6 = 0.031 < 0.05 <= 2/2^5
    assert seeds_to_decide(1 / 450, 0.0, 0.05 / 20) == 10  # Holm's first step over 20: 2/2^10 < 0.0025 <= 2/2^9
    assert math.isnan(seeds_to_decide(0.0, 0.01, 0.05))


def null_sections(sections: int, choices: int, seeds: int, paired: bool, correction: str) -> float:
    """The share of null sections (no choice differs from the baseline) with at least one verdict."""
    seed_effect = RNG.normal(0, 0.01, (sections, 1 if paired else choices + 1, seeds))  # shared only by paired runs
    values = 0.9 + seed_effect + RNG.normal(0, 0.003, (sections, choices + 1, seeds))
    baseline_seeds = tuple(map(str, range(seeds) if paired else range(seeds, 2 * seeds)))
    choice_seeds = tuple(map(str, range(seeds)))
    rows = [(s, c) for s in range(sections) for c in range(1, choices + 1)]
    table = compare_all(
        [Sample(choice_seeds, values[s, c]) for s, c in rows], [Sample(baseline_seeds, values[s, 0]) for s, _ in rows], [True] * len(rows)
    )
    p = table["p_value"].to_numpy().reshape(sections, choices)
    false_verdicts = [bool((adjust(section, correction) < 0.05).any()) for section in p]
    return float(np.mean(false_verdicts))


@pytest.mark.parametrize(("seeds", "paired"), [(5, True), (10, True), (5, False)])
def test_null_ablations_of_20_choices_keep_the_family_wise_error_at_5_percent(seeds: int, paired: bool) -> None:
    """The fast version of benchmarks/null_ablation.py (1,000 sections through the whole report).

    Over 200 sections the observed rate of a true 5% has a standard error of 1.5 points, so the bound
    allows two of them; without a correction the same sections give a false verdict most of the time.
    """
    sections = 200
    assert null_sections(sections, 20, seeds, paired, "holm") <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / sections)
    if seeds == 10 or not paired:  # 5 paired seeds can never go below p = 2/32: nothing to correct
        assert null_sections(sections, 20, seeds, paired, "none") > 0.3


def test_large_samples_get_the_normal_interval_the_bootstrap_converges_to() -> None:
    sample = RNG.normal(0.9, 0.02, 400)
    low, high = mean_intervals([sample])
    half = stats.norm.ppf(0.975) * sample.std(ddof=1) / math.sqrt(400)
    assert (low[0], high[0]) == pytest.approx((sample.mean() - half, sample.mean() + half))
    means = RNG.choice(sample, size=(20_000, 400)).mean(axis=1)
    assert (low[0], high[0]) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])), abs=0.1 * half)
    saturated = np.r_[np.ones(399), 0.9]  # one miss in 400: the normal interval would pass 1
    assert mean_intervals([saturated])[1][0] <= 1.0


def test_a_vanishing_effect_needs_more_seeds_than_any_budget() -> None:
    assert seeds_to_decide(1e-12, 0.01, 0.05) == math.inf and seeds_to_decide(0.01, 0.01, 0.05) < MAX_SEEDS
