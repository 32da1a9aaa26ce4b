"""The statistics against hand-computed numbers and scipy's own tests."""

from __future__ import annotations

import math
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
    bench_table,
    check_baseline,
    default_keys,
    leaderboard,
    objectives,
    pareto_front,
    parse_baseline,
    scored_runs,
    sections,
    seed_ranges,
)


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
    scored = scored_runs(frame, objectives(runs, metric, maximize))
    return scored, default_keys(scored)


GRID = {
    ("relu", "max", "cpu"): [0.90, 0.92, 0.94],
    ("elu", "max", "cpu"): [0.91, 0.91, 0.93],
    ("prelu", "max", "cpu"): [0.80, 0.81, 0.82],
    ("relu", "max", "cuda"): [0.50, 0.52, 0.54],
}


def test_leaderboard_mean_std_bootstrap_interval_validation_and_rank(write) -> None:
    runs, keys = scored(write(runs_of(GRID)))
    board = leaderboard(runs, keys).set_index(["device", "activation"])
    relu = board.loc[("cpu", "relu")]
    assert (relu["n"], relu["seeds"], relu["rank"], relu["versus_leader"]) == (3, "0-2", 1, "leader")
    assert relu["mean"] == pytest.approx(0.92) and relu["std"] == pytest.approx(0.02)
    assert 0.90 <= relu["ci_low"] < 0.92 < relu["ci_high"] <= 0.94  # resampled means stay within the data
    assert len(relu["config_id"]) == 16 and not relu["selected_on_test"]
    expected = runs[(runs["device"] == "cpu") & (runs["activation"] == "relu")]
    assert relu["validation"] == pytest.approx(expected["validation.accuracy"].mean())
    assert relu["gap"] == pytest.approx((expected["train.accuracy"] - expected["validation.accuracy"]).mean())
    elu, prelu = board.loc[("cpu", "elu")], board.loc[("cpu", "prelu")]
    assert (elu["rank"], prelu["rank"]) == (2, 3)
    # 0.1 below the leader on each of 3 seeds: the sign-flip test cannot go below 2/8, so it is no verdict
    assert prelu["versus_leader"] == "tie" and prelu["p_leader"] == pytest.approx(0.5)  # 0.25, Holm over 2
    cuda = board.loc[("cuda", "relu")]
    assert (cuda["rank"], cuda["n"]) == (1, 3) and cuda["mean"] == pytest.approx(0.52)  # never averaged with the CPU
    assert "devices" not in board.columns


def test_the_leader_is_selected_on_validation_and_its_test_reported_beside_the_others(write) -> None:
    # elu is best on test, relu on validation: selecting on test would crown elu with a biased estimate
    values = {"relu": ([0.895, 0.90, 0.91, 0.92, 0.93, 0.945], 0.99), "elu": ([0.95, 0.96, 0.97, 0.98, 0.99, 0.995], 0.95), "prelu": ([0.795, 0.80, 0.81, 0.82, 0.83, 0.845], 0.90)}
    records = [
        synthetic.run_record(10 * i + seed, activation=name, seed=seed, accuracy=test, validation=validation)
        for i, (name, (tests, validation)) in enumerate(values.items())
        for seed, test in enumerate(tests)
    ]
    runs, keys = scored(write(records))
    board = leaderboard(runs, keys, correction="none")
    assert list(board["activation"]) == ["relu", "elu", "prelu"] and set(board["ranked_by"]) == {"validation"}
    rows = board.set_index("activation")
    assert (rows.loc["relu", "rank"], rows.loc["relu", "versus_leader"]) == (1, "leader")
    assert rows.loc["relu", "mean"] == pytest.approx(0.9167, abs=1e-4)  # the leader's test mean, not its validation
    # better on test than the selected leader on all 6 seeds (p = 2/64): not "behind"
    assert (rows.loc["elu", "versus_leader"], rows.loc["elu", "p_leader"]) == ("ahead", pytest.approx(2 / 64))
    assert rows.loc["prelu", "versus_leader"] == "behind"


def test_a_section_without_validation_is_ranked_by_test(write) -> None:
    old = [synthetic.run_record(i, activation=name, seed=i % 3, accuracy=value, schema=1) for i, (name, value) in enumerate([("relu", 0.9)] * 3 + [("elu", 0.95)] * 3)]
    new = [synthetic.run_record(10 + i, device="cuda", activation=name, seed=i % 3, accuracy=value, validation=1.0 - value) for i, (name, value) in enumerate([("relu", 0.9)] * 3 + [("elu", 0.95)] * 3)]
    runs, keys = scored(write(old + new))
    board = leaderboard(runs, keys)
    leaders = board[board["rank"] == 1].set_index("device")
    assert (leaders.loc["cpu", "activation"], leaders.loc["cpu", "ranked_by"]) == ("elu", "test")  # schema 1: no validation
    assert (leaders.loc["cuda", "activation"], leaders.loc["cuda", "ranked_by"]) == ("relu", "validation")


def test_tie_with_the_leader_is_decided_by_the_corrected_test_not_by_overlapping_intervals(write) -> None:
    seeds = np.array([0.90, 0.95, 0.92, 0.97, 0.91, 0.96, 0.93, 0.94])  # a large seed effect
    grid = {("relu", "max", "cpu"): seeds + 0.002, ("elu", "max", "cpu"): seeds, ("prelu", "max", "cpu"): seeds + 0.0019}
    runs, keys = scored(write(runs_of(grid)))
    board = leaderboard(runs, keys).set_index("activation")
    assert board.loc["elu", "ci_high"] > board.loc["relu", "ci_low"]  # the intervals overlap almost entirely
    assert board.loc["elu", "versus_leader"] == "behind"  # behind on all 8 seeds: p = 2/256, Holm over 2: 0.0156
    assert board.loc["elu", "p_leader"] == pytest.approx(2 * 2 / 256)
    assert board.loc["prelu", "versus_leader"] == "behind"
    none = leaderboard(runs, keys, correction="none").set_index("activation")
    assert none.loc["elu", "p_leader"] == pytest.approx(2 / 256)


def test_accuracy_intervals_never_leave_0_1(write) -> None:
    runs, keys = scored(write(runs_of({("relu", "max", "cpu"): [0.99, 1.0, 1.0, 0.98, 1.0]})))
    row = leaderboard(runs, keys).iloc[0]
    assert scipy_stats.t.interval(0.95, 4, loc=row["mean"], scale=row["std"] / math.sqrt(5))[1] > 1  # the t interval did
    assert 0.98 <= row["ci_low"] <= row["ci_high"] <= 1.0


def test_fewer_than_three_seeds_have_no_interval_and_no_verdict(write) -> None:
    runs, keys = scored(write(runs_of({("relu", "max", "cpu"): [0.90, 0.92, 0.94], ("elu", "max", "cpu"): [0.95, 0.96]})))
    board = leaderboard(runs, keys).set_index("activation")
    assert board.loc["elu", "rank"] == 1 and math.isnan(board.loc["elu", "ci_low"])
    assert board.loc["relu", "versus_leader"] == "too few seeds"
    row = ablation(runs, keys).iloc[0]
    assert (row["test"], row["verdict"]) == ("none", "too few seeds") and math.isnan(row["p_value"])


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
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-12) == row["p_adjusted"]  # the only comparison
    assert min(elu) - max(relu) <= row["ci_low"] <= row["diff"] <= row["ci_high"] <= max(elu) - min(relu)
    assert row["p_better"] == pytest.approx(1.0) and row["verdict"] == ("better" if expected.pvalue < 0.05 else "inconclusive")


def test_paired_when_seeds_match_one_to_one_is_the_sign_flip_test(write) -> None:
    relu = [0.90, 0.92, 0.94, 0.91, 0.93, 0.92]
    elu = [0.91, 0.94, 0.95, 0.90, 0.95, 0.93]
    runs, keys = scored(write(runs_of({("relu", "max", "cpu"): relu, ("elu", "max", "cpu"): elu})))
    row = ablation(runs, keys).iloc[0]
    expected = scipy_stats.permutation_test((elu, relu), lambda x, y: np.mean(x - y), permutation_type="samples", n_resamples=np.inf)
    assert (row["slot"], row["choice"], row["baseline"], row["test"]) == ("activation", "elu(alpha=1)", "activation=relu", "sign-flip")
    assert row["diff"] == pytest.approx(np.mean(np.subtract(elu, relu)))
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert row["p_better"] == pytest.approx(5 / 6)  # elu wins on 5 of the 6 seeds


def test_one_test_image_on_three_seeds_is_inconclusive_not_p_8e_11(write) -> None:
    relu = np.array([431, 428, 433]) / 450
    grid = {("relu", "max", "cpu"): np.float32(relu).tolist(), ("maxout", "max", "cpu"): np.float32(relu + 1 / 450).tolist()}
    runs, keys = scored(write(runs_of(grid)))
    row = ablation(runs, keys).iloc[0]
    assert (row["choice"], row["test"]) == ("maxout(pieces=2)", "sign-flip")
    assert row["p_value"] == pytest.approx(0.25) and row["verdict"] == "inconclusive"
    assert row["seeds_to_decide"] == 6  # the fewest seeds whose sign-flip p can reach below 0.05


def test_every_comparison_of_a_section_is_corrected_together(write) -> None:
    base = np.array([0.90, 0.95, 0.92, 0.97, 0.91, 0.96, 0.93, 0.94])
    grid = {("relu", "max", "cpu"): base, ("elu", "max", "cpu"): base + 0.002, ("prelu", "max", "cpu"): base + [0.01, -0.01] * 4}
    grid[("relu", "avg", "cpu")] = base - 0.003
    frame = load(write(runs_of(grid)))
    holm = build_report(frame).ablation.set_index("choice")
    assert holm.loc["elu(alpha=1)", "p_value"] == pytest.approx(2 / 256)
    assert holm.loc["elu(alpha=1)", "p_adjusted"] == pytest.approx(3 * 2 / 256)  # three comparisons, the smallest p
    assert holm.loc["elu(alpha=1)", "verdict"] == "better" and holm.loc["avg", "verdict"] == "worse"
    assert holm.loc["prelu", "verdict"] == "inconclusive" and holm.loc["prelu", "p_adjusted"] == pytest.approx(1.0)
    none = build_report(frame, correction="none").ablation
    assert none["p_adjusted"].tolist() == pytest.approx(none["p_value"].tolist())
    bh = build_report(frame, correction="bh").ablation
    assert bh["p_adjusted"].tolist() == pytest.approx(scipy_stats.false_discovery_control(bh["p_value"], method="bh").tolist())
    with pytest.raises(ReportInputError, match="unknown --correction 'bonferroni'"):
        build_report(frame, correction="bonferroni")


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
    assert set(table["test"]) == {"sign-flip"} and set(table["verdict"]) == {"inconclusive"}  # 3 seeds decide nothing


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
    with pytest.raises(ReportInputError, match="--baseline pins normalization, which is not among the keys"):  # was skipped silently
        check_baseline(parse_baseline("normalization=batch"), keys, "normalization=batch", runs)


def test_a_baseline_open_in_a_hyperparameter_is_one_baseline_per_setting(write) -> None:
    settings = {("leaky_relu", 0.01): 0.90, ("leaky_relu", 0.3): 0.92, ("elu", 1.0): 0.95}
    records = [
        synthetic.run_record(10 * i + seed, activation=name, seed=seed, accuracy=value + seed / 1000,
                             hyperparameters={"activation": {"negative_slope" if name == "leaky_relu" else "alpha": hp}})
        for i, ((name, hp), value) in enumerate(settings.items())
        for seed in range(3)
    ]
    runs, keys = scored(write(records))
    table = ablation(runs, keys, parse_baseline("activation=leaky_relu")).set_index("baseline")
    elu = table[table["choice"] == "elu(alpha=1)"]
    # each leaky_relu setting its own baseline, paired on its 3 seeds: never 3 against 6 pooled runs
    assert sorted(elu.index) == ["activation=leaky_relu(negative_slope=0.01)", "activation=leaky_relu(negative_slope=0.3)"]
    assert set(elu["n_baseline"]) == {3} and set(elu["test"]) == {"sign-flip"}
    assert elu.loc["activation=leaky_relu(negative_slope=0.3)", "diff"] == pytest.approx(0.03)
    with pytest.raises(ReportInputError, match=r"--baseline activation=elu, activation.negative_slope=0.3 matches no run: each value is found, never together; "
                       r"activation in these runs: elu\(alpha=1\), leaky_relu\(negative_slope=0.01\), leaky_relu\(negative_slope=0.3\)"):
        check_baseline(parse_baseline("activation=elu,activation.negative_slope=0.3"), keys, "activation=elu,activation.negative_slope=0.3", runs)


def test_an_open_baseline_is_compared_only_where_the_hyperparameters_agree_and_always_named(write) -> None:
    """Mixed and mixed_learned at two lambdas each, baseline pooling=mixed: each mixed_learned setting
    against the mixed setting of its own lambda only (never 0.7 against 0.3, which would confound the
    choice with lambda). A context holding one baseline setting still names it, as the others do."""
    records = [
        synthetic.run_record(100 * i + 10 * j + seed, pooling=name, seed=seed, hyperparameters={"pooling": {"lam": lam}})
        for i, name in enumerate(("mixed", "mixed_learned")) for j, lam in enumerate((0.3, 0.7)) for seed in range(3)
    ]
    runs, keys = scored(write(records))
    table = ablation(runs, keys, parse_baseline("pooling=mixed"))
    pooling = table[table["slot"] == "pooling"]
    assert sorted(zip(pooling["choice"], pooling["baseline"])) == [
        ("mixed_learned(lam=0.3)", "pooling=mixed(lam=0.3)"),
        ("mixed_learned(lam=0.7)", "pooling=mixed(lam=0.7)"),
    ]
    slopes = [(3, "leaky_relu", 0.01), (3, "leaky_relu", 0.3), (3, "elu", None), (10, "leaky_relu", 0.3), (10, "elu", None)]
    records = [
        synthetic.run_record(100 * i + seed, activation=name, seed=seed, epochs=epochs, hyperparameters={"activation": {"negative_slope": slope}} if slope else None)
        for i, (epochs, name, slope) in enumerate(slopes) for seed in range(3)
    ]
    runs, keys = scored(write(records))
    table = ablation(runs, keys, parse_baseline("activation=leaky_relu"))
    named = set(table.loc[table["slot"] == "activation", "baseline"])
    assert named == {"activation=leaky_relu(negative_slope=0.01)", "activation=leaky_relu(negative_slope=0.3)"}  # epochs 10's too


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


def test_training_budget_and_optimizer_settings_are_part_of_the_configuration(write) -> None:
    records = runs_of({("relu", "max", "cpu"): [0.90, 0.92, 0.94]})
    records.append(synthetic.run_record(10, epochs=1, accuracy=0.70))
    records += [synthetic.run_record(20 + seed, seed=seed, lr=0.01, accuracy=0.8) for seed in range(3)]
    records += synthetic.study_trials(trials=2)  # two trials: same components, other learning rates and lambdas
    runs, keys = scored(write(records))
    assert {"trainer.epochs", "optimizer.lr", "pooling.lam"} <= set(keys) and not {"trainer.seed", "seed", "study.trial"} & set(keys)
    board = leaderboard(runs, keys)
    plain = board[(board["pooling"] == "max") & (board["optimizer.lr"] == "0.001")].set_index("trainer.epochs")
    assert plain.loc["3", "n"] == 3 and plain.loc["1", "n"] == 1 and plain.loc["1", "mean"] == pytest.approx(0.70)
    assert board.loc[board["optimizer.lr"] == "0.01", "n"].tolist() == [3]
    assert len(board[board["pooling"] == "mixed"]) == 2 and board["config_id"].is_unique


def test_a_repeated_configuration_and_seed_is_one_sample(write) -> None:
    relu, elu = [0.90, 0.92, 0.94, 0.91, 0.93, 0.92], [0.91, 0.94, 0.95, 0.92, 0.95, 0.93]
    records = runs_of({("relu", "max", "cpu"): relu, ("elu", "max", "cpu"): elu})
    once = build_report(load(write(records)))
    rerun = synthetic.run_record(99, activation="relu", seed=0, accuracy=0.80)  # the same seed-0 run, later
    twice = build_report(load(write(records + [rerun])))
    relu_row = twice.leaderboard.set_index("activation").loc["relu"]
    assert relu_row["n"] == 6 and relu_row["seeds"] == "0-5"
    assert relu_row["mean"] == pytest.approx(np.mean([0.80, *relu[1:]]))  # the latest finished run counts
    assert twice.repeats[["config_id", "seed", "runs", "kept"]].values.tolist() == [[relu_row["config_id"], "0", 2, rerun["run_id"]]]
    assert twice.repeats["left_out"].tolist() == [records[0]["run_id"]]
    assert twice.ablation.iloc[0]["test"] == once.ablation.iloc[0]["test"] == "sign-flip"
    assert any("1 repeated runs" in note for note in twice.notes)


def test_two_folders_of_the_same_format_are_two_datasets(write) -> None:
    records = [
        synthetic.run_record(i, seed=i % 3, dataset="idx", fingerprint=fingerprint, accuracy=accuracy)
        for i, (fingerprint, accuracy) in enumerate([("blake2b:" + "a" * 64, 0.5)] * 3 + [("blake2b:" + "b" * 64, 0.99)] * 3)
    ]
    report = build_report(load(write(records)))
    assert report.leaderboard["n"].tolist() == [3, 3] and sorted(report.leaderboard["mean"]) == pytest.approx([0.5, 0.99])
    titles = [title for title, _ in sections(report.leaderboard)]
    assert titles == ["classification / idx (data aaaaaaaa) / cpu: accuracy", "classification / idx (data bbbbbbbb) / cpu: accuracy"]
    assert (report.leaderboard["ci_high"] <= 1.0).all()


def test_schema_1_records_are_flagged_selected_on_test(write) -> None:
    old = [synthetic.run_record(i, seed=i, schema=1) for i in range(3)]
    report = build_report(load(write(old)))
    row = report.leaderboard.iloc[0]
    assert bool(row["selected_on_test"]) and math.isnan(row["validation"]) and row["n"] == 3
    assert any("3 runs are older records (schema 1) selected on the test split" in note for note in report.notes)
    assert len(row["config_id"]) == 16


def test_a_completed_run_without_a_finite_test_value_is_named_not_dropped_silently(write) -> None:
    records = [synthetic.run_record(i, seed=i, accuracy=0.9 + i / 100) for i in range(4)]
    records[1]["metrics"]["test"]["accuracy"] = None  # a diverged run: NaN is written as null
    report = build_report(load(write(records)))
    assert report.leaderboard.iloc[0]["n"] == 3
    (note,) = [note for note in report.notes if "no finite test value" in note]
    assert note.startswith("1 completed runs") and records[1]["run_id"] in note and records[0]["run_id"] not in note
    assert "means are over the other seeds:" in note  # the configuration is still on the board


def test_runs_of_a_task_without_the_chosen_metric_are_not_called_diverged(write) -> None:
    """--metric recall_at_1 leaves the classification runs out because their task has no such metric,
    not because they diverged; a configuration whose every run lost its value is said to be absent."""
    records = synthetic.survey_records(seeds=range(3))
    report = build_report(load(write(records)), metric="recall_at_1")
    (note,) = report.notes[:1]
    assert note.startswith("24 completed runs of classification are left out: none of them has a finite test value of recall_at_1")
    assert not [note for note in report.notes if "diverged" in note]
    runs = [synthetic.run_record(i, seed=i) for i in range(3)] + [synthetic.run_record(3 + i, seed=i, activation="elu") for i in range(3)]
    for record in runs[3:]:
        record["metrics"]["test"]["accuracy"] = None
    (note,) = [note for note in build_report(load(write(runs))).notes if "diverged" in note]
    assert "and 1 configurations with no scored run are absent" in note


def test_a_configuration_run_by_several_code_versions_is_said(write) -> None:
    records = [synthetic.run_record(i, seed=i) for i in range(3)]
    assert not [note for note in build_report(load(write(records))).notes if "code versions" in note]
    records[2]["versions"]["torch"] = "2.1.0+cpu"
    report = build_report(load(write(records)))
    assert report.leaderboard.iloc[0]["n"] == 3  # still one configuration
    (note,) = [note for note in report.notes if "code versions" in note]
    assert note.startswith("1 leaderboard rows pool runs of several code versions (versions.torch differ)")  # not the columns that agree
    assert "--by +versions.torch" in note
    apart = build_report(load(write(records)), keys=["+versions.torch"])
    assert len(apart.leaderboard) == 2 and not [note for note in apart.notes if "code versions" in note]  # as advised: the note goes


def test_a_seed_rerun_under_new_code_is_no_repeat_when_versions_are_kept_apart(write) -> None:
    """The same seeds run again under another torch: pooled, they are repeats (the note says code versions
    were pooled); kept apart with --by +versions.torch, each version's runs count, none is dropped."""
    old = [synthetic.run_record(i, seed=i) for i in range(3)]
    new = [synthetic.run_record(10 + i, seed=i) for i in range(3)]
    for record in new:
        record["versions"]["torch"] = "2.14.0+cpu"
    pooled = build_report(load(write(old + new)))
    assert pooled.leaderboard.iloc[0]["n"] == 3 and len(pooled.repeats) == 3
    assert [note for note in pooled.notes if "code versions" in note]  # said although the repeats took one version's runs out
    apart = build_report(load(write(old + new)), keys=["+versions.torch"])
    assert apart.leaderboard["n"].tolist() == [3, 3] and apart.repeats.empty


def test_by_either_lists_keys_or_adds_to_the_defaults(write) -> None:
    records = write([synthetic.run_record(i, seed=i) for i in range(3)])
    with pytest.raises(ReportInputError, match=r"either list the keys .* or add to the default ones"):
        build_report(load(records), keys=["task", "+versions.torch"])
    with pytest.raises(ReportInputError, match="--by names unknown columns nope"):
        build_report(load(records), keys=["+nope"])


def test_identity_of_old_records_ignores_where_and_how_they_ran(write) -> None:
    first, second, third = (synthetic.run_record(i, seed=i, schema=1) for i in range(3))
    second["config"]["trainer"]["threads"] = 8
    second["config"]["results"]["dir"] = "elsewhere"
    third["config"]["optimizer"]["lr"] = 0.1
    frame = load(write([first, second, third]))
    assert frame.loc[0, "config_id"] == frame.loc[1, "config_id"] != frame.loc[2, "config_id"]
    assert sorted(build_report(frame).leaderboard["n"]) == [1, 2]


def test_pooling_configurations_with_by_is_said(write) -> None:
    records = runs_of(GRID) + [synthetic.run_record(50 + seed, seed=seed, lr=0.01) for seed in range(3)]
    report = build_report(load(write(records)), keys=["task", "dataset", "device", "activation"])
    assert any("rows pool several configurations" in note for note in report.notes)


