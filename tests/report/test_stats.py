"""The statistics against hand-computed numbers and scipy's own tests."""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from cnnbench.report import load, synthetic
from cnnbench.report.build import build_report
from cnnbench.report.stats import (
    ReportInputError,
    ablation,
    compare,
    bench_table,
    default_keys,
    leaderboard,
    objectives,
    pareto_front,
    parse_baseline,
    scored_runs,
    seed_ranges,
)

T_975_DF2 = 4.302652729911275  # scipy.stats.t.ppf(0.975, 2), as printed in any t table (4.303)


def runs_of(accuracies: dict[tuple[str, str, str], Sequence[float]], seeds: dict | None = None) -> list[dict]:
    """Records with given accuracies per (activation, pooling, device); seeds 0.. unless given."""
    records, index = [], 0
    for (activation, pooling, device), values in accuracies.items():
        for seed, value in zip((seeds or {}).get((activation, pooling, device), range(len(values))), values):
            records.append(synthetic.run_record(index, activation=activation, pooling=pooling, device=device, seed=seed, accuracy=value))
            index += 1
    return records


def scored(folder, metric=None, maximize=None) -> tuple[pd.DataFrame, list[str]]:
    frame = load(folder)
    runs = frame[frame["record_type"] == "run"]
    return scored_runs(frame, objectives(runs, metric, maximize)), default_keys(runs)


GRID = {
    ("relu", "max", "cpu"): [0.90, 0.92, 0.94],
    ("elu", "max", "cpu"): [0.91, 0.91, 0.93],
    ("prelu", "max", "cpu"): [0.80, 0.81, 0.82],
    ("relu", "max", "cuda"): [0.50, 0.52, 0.54],
}


def test_leaderboard_mean_std_interval_rank_and_tie(write) -> None:
    runs, keys = scored(write(runs_of(GRID)))
    board = leaderboard(runs, keys).set_index(["device", "activation"])
    relu = board.loc[("cpu", "relu")]
    assert (relu["n"], relu["seeds"], relu["rank"], relu["tie"]) == (3, "0-2", 1, False)
    assert relu["mean"] == pytest.approx(0.92) and relu["std"] == pytest.approx(0.02)
    half = T_975_DF2 * 0.02 / math.sqrt(3)
    assert (relu["ci_low"], relu["ci_high"]) == pytest.approx((0.92 - half, 0.92 + half))
    low, high = scipy_stats.t.interval(0.95, 2, loc=0.92, scale=statistics.stdev([0.90, 0.92, 0.94]) / math.sqrt(3))
    assert (relu["ci_low"], relu["ci_high"]) == pytest.approx((low, high))
    elu, prelu = board.loc[("cpu", "elu")], board.loc[("cpu", "prelu")]
    assert (elu["rank"], elu["tie"]) == (2, True)  # [0.888, 0.945] overlaps the leader's [0.870, 0.970]
    assert (prelu["rank"], prelu["tie"]) == (3, False)  # [0.785, 0.835] does not
    cuda = board.loc[("cuda", "relu")]
    assert (cuda["rank"], cuda["n"]) == (1, 3) and cuda["mean"] == pytest.approx(0.52)  # never averaged with the CPU
    assert "devices" not in board.columns


def test_a_single_seed_has_no_interval_and_ties_by_its_mean(write) -> None:
    runs, keys = scored(write(runs_of({("relu", "max", "cpu"): [0.90, 0.92, 0.94], ("elu", "max", "cpu"): [0.95]})))
    board = leaderboard(runs, keys).set_index("activation")
    assert board.loc["elu", "rank"] == 1 and math.isnan(board.loc["elu", "ci_low"]) and math.isnan(board.loc["elu", "std"])
    assert board.loc["relu", "tie"]  # relu's interval reaches 0.95


def test_loss_like_metrics_rank_lowest_first(write) -> None:
    runs, keys = scored(write(runs_of(GRID)), metric="loss")
    board = leaderboard(runs, keys)
    cpu = board[board["device"] == "cpu"].set_index("activation")
    assert not cpu["maximize"].any()
    assert list(cpu.sort_values("rank").index) == ["relu", "elu", "prelu"]  # loss = 2.5 (1 - accuracy)
    runs, keys = scored(write(runs_of(GRID)), metric="loss", maximize=True)
    assert leaderboard(runs, keys).set_index(["device", "activation"]).loc[("cpu", "prelu"), "rank"] == 1


def test_dropping_device_from_the_keys_pools_devices_and_says_so(write) -> None:
    frame = load(write(runs_of(GRID)))
    report = build_report(frame, keys=["task", "dataset", "activation", "pooling"])
    relu = report.leaderboard.set_index("activation").loc["relu"]
    assert relu["devices"] == "cpu,cuda" and relu["n"] == 6 and relu["mean"] == pytest.approx(0.72)
    assert any("pooled" in note for note in report.notes)


def test_objective_comes_from_the_records_then_from_the_metric_name(write) -> None:
    records = runs_of({("relu", "max", "cpu"): [0.9, 0.8]})
    frame = load(write(records))
    runs = frame[frame["record_type"] == "run"]
    assert objectives(runs)["classification"].metric == "accuracy"
    assert objectives(runs)["classification"].maximize
    for record in records:
        record["objective"] = {"metric": "loss", "maximize": False}
    goal = objectives(load(write(records)))["classification"]
    assert (goal.metric, goal.maximize) == ("loss", False)
    with pytest.raises(ReportInputError, match="no metric 'top5' in the run records; available: accuracy, loss"):
        objectives(runs, "top5")


def test_welch_when_seeds_differ_matches_scipy(write) -> None:
    relu, elu = [0.90, 0.92, 0.94], [0.95, 0.97, 0.96, 0.99]
    grid = {("relu", "max", "cpu"): relu, ("elu", "max", "cpu"): elu}
    runs, keys = scored(write(runs_of(grid, seeds={("elu", "max", "cpu"): [10, 11, 12, 13]})))
    row = ablation(runs, keys).set_index("choice").loc["elu(alpha=1)"]
    expected = scipy_stats.ttest_ind(elu, relu, equal_var=False)
    assert row["test"] == "welch" and (row["n_choice"], row["n_baseline"]) == (4, 3)
    assert row["diff"] == pytest.approx(np.mean(elu) - np.mean(relu))
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(expected.confidence_interval(0.95)), rel=1e-10)
    assert row["verdict"] == ("better" if expected.pvalue < 0.05 else "n.s.")


def test_paired_when_seeds_match_one_to_one_matches_scipy(write) -> None:
    relu, elu = [0.90, 0.92, 0.94], [0.91, 0.94, 0.95]
    runs, keys = scored(write(runs_of({("relu", "max", "cpu"): relu, ("elu", "max", "cpu"): elu})))
    row = ablation(runs, keys).iloc[0]
    expected = scipy_stats.ttest_rel(elu, relu)
    assert (row["slot"], row["choice"], row["baseline"], row["test"]) == ("activation", "elu(alpha=1)", "activation=relu", "paired")
    assert row["diff"] == pytest.approx(np.mean(np.subtract(elu, relu)))
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(expected.confidence_interval(0.95)), rel=1e-10)
    assert row["p_value"] < scipy_stats.ttest_ind(elu, relu, equal_var=False).pvalue  # pairing removes the seed effect


@pytest.mark.parametrize(
    ("choice", "baseline", "paired"),
    [
        ([1.0, 2.0, 3.0], [0.0, 1.0, 2.0], True),  # constant difference: t is infinite, p = 0
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], True),  # no difference at all: p undefined
        ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], False),  # zero spread on both sides
        ([1.0, 1.0, 1.0], [0.0, 1.0, 2.0], False),
        ([0.91, 0.95, 0.99, 0.90, 0.93], [0.90, 0.92], False),
    ],
)
def test_compare_agrees_with_scipy_at_the_edges(choice, baseline, paired) -> None:
    offset = 0 if paired else 100
    result = compare(pd.Series(choice, index=[str(i) for i in range(len(choice))]), pd.Series(baseline, index=[str(i + offset) for i in range(len(baseline))]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns about the identical values
        expected = scipy_stats.ttest_rel(choice, baseline) if paired else scipy_stats.ttest_ind(choice, baseline, equal_var=False)
    assert result["test"] == ("paired" if paired else "welch")
    assert result["p_value"] == pytest.approx(float(expected.pvalue), rel=1e-12, nan_ok=True)
    if np.isfinite(expected.statistic):
        assert (result["ci_low"], result["ci_high"]) == pytest.approx(tuple(expected.confidence_interval(0.95)), rel=1e-10)


def test_one_run_a_side_is_untested() -> None:
    result = compare(pd.Series([0.9], index=["0"]), pd.Series([0.8, 0.85], index=["0", "1"]))
    assert result["test"] == "none" and result["diff"] == pytest.approx(0.075) and math.isnan(result["p_value"])


def test_ablation_holds_the_other_slots_fixed(write) -> None:
    grid = {
        ("relu", "max", "cpu"): [0.90, 0.91, 0.92],
        ("elu", "max", "cpu"): [0.93, 0.94, 0.95],
        ("relu", "avg", "cpu"): [0.80, 0.81, 0.82],
        ("elu", "avg", "cpu"): [0.70, 0.71, 0.72],
        ("prelu", "avg", "cpu"): [0.85, 0.86, 0.87],  # no prelu under max pooling
    }
    runs, keys = scored(write(runs_of(grid)))
    table = ablation(runs, keys)
    activation = table[table["slot"] == "activation"].set_index(["choice", "context"])["diff"]
    assert activation.to_dict() == pytest.approx(
        {("elu(alpha=1)", "pooling=avg"): -0.10, ("elu(alpha=1)", "pooling=max"): 0.03, ("prelu", "pooling=avg"): 0.05}
    )
    pooling = table[table["slot"] == "pooling"].set_index(["choice", "context"])["diff"]
    assert pooling.to_dict() == pytest.approx({("avg", "activation=elu(alpha=1)"): -0.23, ("avg", "activation=relu"): -0.10})
    assert set(table["test"]) == {"paired"} and set(table["verdict"]) <= {"better", "worse", "n.s."}


def test_baselines_can_be_changed_and_are_checked(write) -> None:
    runs, keys = scored(write(runs_of(GRID)))
    table = ablation(runs, keys, parse_baseline("activation=elu"))
    cpu = table[(table["device"] == "cpu") & (table["slot"] == "activation")]
    assert set(cpu["choice"]) == {"relu", "prelu"} and set(cpu["baseline"]) == {"activation=elu"}
    pinned = parse_baseline("activation=leaky_relu,activation.negative_slope=0.1")
    assert pinned["activation"] == {"activation": "leaky_relu", "activation.negative_slope": "0.1"}
    with pytest.raises(ReportInputError, match="activation.negative_slope, which is not among the keys"):
        ablation(runs, keys, pinned)
    with pytest.raises(ReportInputError, match="bad --baseline item 'norm=batch'"):
        parse_baseline("norm=batch")


def test_pareto_front_by_hand() -> None:
    cost = np.array([1.0, 2.0, 3.0, 4.0, 2.0, 5.0])
    value = np.array([0.5, 0.7, 0.6, 0.9, 0.4, 0.9])
    assert pareto_front(cost, value).tolist() == [True, True, False, True, False, False]
    assert pareto_front(cost, value, maximize=False).tolist() == [True, False, False, False, True, False]


def test_seed_ranges() -> None:
    assert seed_ranges(["2", "0", "1", "7", "9", "10", ""]) == "0-2,7,9-10"
    assert seed_ranges(["5"]) == "5" and seed_ranges([]) == ""


def test_bench_table_takes_the_median_of_repeated_timings(write) -> None:
    records = synthetic.bench_records()
    again = [dict(r, run_id=r["run_id"] + "-again", forward_ms=r["forward_ms"] * 3) for r in records]
    table = bench_table(load(write(records + again))).set_index(["name", "device"])
    mixed = table.loc[("mixed", "cpu")]
    assert mixed["n"] == 2 and mixed["forward_ms"] == pytest.approx(0.31 * 2)  # median of 0.31 and 0.93
    assert mixed["ratio_forward"] == pytest.approx(0.31 / 0.3)


def test_training_budget_and_sweep_trial_are_part_of_the_configuration(write) -> None:
    records = runs_of({("relu", "max", "cpu"): [0.90, 0.92, 0.94]})
    records.append(synthetic.run_record(10, epochs=1, accuracy=0.70))
    records += synthetic.study_trials(trials=2)  # two trials: same components, other learning rates
    runs, keys = scored(write(records))
    assert {"trainer.epochs", "study.name", "study.trial"} <= set(keys) and "trainer.seed" not in keys
    board = leaderboard(runs, keys)
    plain = board[board["study.name"] == ""].set_index("trainer.epochs")
    assert plain.loc["3", "n"] == 3 and plain.loc["1", "n"] == 1 and plain.loc["1", "mean"] == pytest.approx(0.70)
    assert sorted(board.loc[board["study.name"] != "", "study.trial"]) == ["0", "1"]
