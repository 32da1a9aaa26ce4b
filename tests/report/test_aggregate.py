"""rliable's aggregates: IQM and performance profiles with stratified-bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cnnbench.report import load, synthetic
from cnnbench.report.aggregate import MIN_RESAMPLES, RESAMPLES, _iqm, _profile, _resample_counts, aggregates
from cnnbench.report.build import build_report


def test_iqm_of_counts_is_scipys_trimmed_mean_of_the_resample() -> None:
    rng = np.random.default_rng(3)
    values = np.sort(rng.normal(0.9, 0.05, 13))
    counts = rng.multinomial(13, np.full(13, 1 / 13), size=50)
    expected = [stats.trim_mean(np.repeat(values, row), 0.25) for row in counts]
    np.testing.assert_allclose(_iqm(counts, values), expected, rtol=1e-12)
    assert _iqm(np.ones((1, 13)), values)[0] == pytest.approx(stats.trim_mean(values, 0.25))


def test_profile_counts_runs_beating_each_threshold() -> None:
    values = np.array([0.1, 0.5, 0.5, 0.9])
    taus = np.array([0.0, 0.5, 0.95])
    assert _profile(np.ones((1, 4)), values, taus, True).tolist() == [[1.0, 0.25, 0.0]]
    assert _profile(np.ones((1, 4)), values, taus, False).tolist() == [[0.0, 0.25, 1.0]]  # a loss beats tau below it


def test_the_bootstrap_resamples_within_each_section() -> None:
    counts = _resample_counts([3, 5, 2], np.random.default_rng(0))
    assert counts.shape == (RESAMPLES, 10)
    assert (counts[:, :3].sum(axis=1) == 3).all() and (counts[:, 3:8].sum(axis=1) == 5).all() and (counts[:, 8:].sum(axis=1) == 2).all()
    assert len(_resample_counts([4000], np.random.default_rng(0))) == MIN_RESAMPLES  # many runs: fewer resamples
    moved = _resample_counts([3, 5, 2], np.random.default_rng(0), columns=np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]))
    np.testing.assert_array_equal(moved, counts[:, ::-1])  # the same draws, each run's count in its given column


def test_each_choice_is_aggregated_across_datasets(write) -> None:
    records = synthetic.grid(activations=("relu", "prelu"), poolings=("max", "avg"), seeds=range(5), devices=("cpu",), datasets=("digits", "mnist"))
    report = build_report(load(write(records)))
    table = report.aggregates.set_index(["slot", "choice"])
    prelu = table.loc[("activation", "prelu")]
    runs = report.runs[report.runs["activation"] == "prelu"]["value"]
    assert (prelu["sections"], prelu["runs"]) == (2, 20)
    assert prelu["pooled"] == "pooling" and table.loc[("pooling", "avg"), "pooled"] == "activation"  # said, not hidden
    narrow = build_report(load(write(records)), keys=["task", "dataset", "data.fingerprint", "device", "activation"]).aggregates
    assert set(narrow["pooled"]) == {"pooling"}  # a setting --by leaves out is pooled all the same, and said
    assert prelu["iqm"] == pytest.approx(stats.trim_mean(runs, 0.25))
    assert prelu["iqm_low"] <= prelu["iqm"] <= prelu["iqm_high"] and 0 <= prelu["above_low"] <= prelu["above"] <= prelu["above_high"] <= 1
    assert prelu["above"] == pytest.approx((runs > prelu["tau"]).mean())
    assert set(report.profiles["choice"]) == {"relu", "prelu", "avg", "max"} and len(report.profiles) == 4 * 11
    single = build_report(load(write([r for r in records if r["dataset"] == "digits"])))
    assert single.aggregates.empty  # one section: nothing to aggregate across


def test_a_choice_missing_from_a_section_is_left_out() -> None:
    """rliable needs every algorithm's score on every task; a choice not run everywhere is not comparable."""
    records = synthetic.grid(activations=("relu", "prelu"), poolings=("max",), seeds=range(3), devices=("cpu",), datasets=("digits", "mnist"))
    records += synthetic.grid(activations=("elu",), poolings=("max",), seeds=range(3), devices=("cpu",), datasets=("digits",))
    runs = pd.DataFrame(
        {"task": "classification", "dataset": [r["dataset"] for r in records], "data.fingerprint": "", "device": "cpu", "metric": "accuracy",
         "maximize": True, "value": [r["metrics"]["test"]["accuracy"] for r in records], "activation": [r["components"]["activation"] for r in records]}
    )
    table, _ = aggregates(runs, ["task", "dataset", "data.fingerprint", "device", "activation"], ["activation"])
    assert sorted(table["choice"]) == ["prelu", "relu"]
