"""The loader: every kind of record into one frame, bad files skipped by name, old records with defaults."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pandas as pd
import pytest

from cnnbench.atomic import write_text
from cnnbench.report import load, synthetic
from cnnbench.report.loader import NoRecordsError, SkippedRecordWarning, curves, read_records


def test_runs_flatten_into_documented_columns(results: Path) -> None:
    frame = load(results)
    runs = frame[(frame["record_type"] == "run") & frame["study.name"].isna()]
    assert len(runs) == 3 * 2 * 3 * 2
    first = runs[(runs["activation"] == "elu") & (runs["pooling"] == "max")].iloc[0]
    assert first["activation.alpha"] == 1.0 and first["convolution"] == "conv" and first["loss"] == "softmax"
    assert pd.isna(runs.loc[runs["activation"] == "relu", "activation.alpha"]).all()
    assert {"metric.accuracy", "metric.loss", "timing.train_s", "timing.throughput", "versions.torch", "trainer.epochs"} <= set(frame)
    assert first["metric.per_class_accuracy"] == [first["metric.accuracy"]] * 10  # lists stay whole
    assert first["config"]["task"]["name"] == "classification"
    assert frame["started_at"].dt.tz is not None and str(frame["seed"].dtype) == "Int64"
    assert frame["run_id"].is_monotonic_increasing


def test_sweep_trials_get_study_columns(results: Path) -> None:
    trials = load(results).dropna(subset=["study.name"])
    assert set(trials["study.name"]) == {"mixed-lam"}
    assert sorted(trials["study.trial"]) == list(range(10))


def test_bench_records_and_pytest_benchmark_files_are_recognised_by_content(results: Path) -> None:
    frame = load(results)
    bench = frame[frame["record_type"] == "bench"]
    assert len(bench) == 6
    mixed_cpu = bench[(bench["name"] == "mixed") & (bench["device"] == "cpu")].iloc[0]
    assert mixed_cpu["kind"] == "pooling" and mixed_cpu["baseline"] == "max_pool2d"
    assert mixed_cpu["ratio_forward_backward"] == pytest.approx(0.31 / 0.3)
    pytest_rows = frame[frame["record_type"] == "pytest_benchmark"]
    assert list(pytest_rows["name"]) == ["test_pool[max]", "test_pool[mixed]"]
    assert list(pytest_rows["stats.median"]) == [0.0011, 0.00115]
    assert set(pytest_rows["device"]) == {"cpu"}  # from extra_info
    assert set(pytest_rows["param.name"]) == {"max", "mixed"}


def test_corrupt_and_truncated_files_are_skipped_with_a_warning_naming_them(results: Path) -> None:
    truncated = results / "runs" / "truncated.json"
    truncated.write_text(json.dumps(synthetic.run_record(7))[:200])
    garbage = results / "copied" / "garbage.json"
    garbage.parent.mkdir()
    garbage.write_bytes(b"\xff\xfe\x00binary")
    foreign = results / "copied" / "settings.json"
    foreign.write_text('{"theme": "dark"}')
    malformed = results / "copied" / "malformed.json"
    malformed.write_text(json.dumps({**synthetic.run_record(8), "metrics": ["accuracy", 0.9]}))
    with pytest.warns(SkippedRecordWarning) as caught:
        frame = load(results)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 4
    assert any(str(malformed) in m and "malformed record (AttributeError" in m for m in messages)
    assert any(str(truncated) in m and "not valid JSON" in m for m in messages)
    assert any(str(garbage) in m for m in messages)
    assert any(str(foreign) in m and "neither a cnnbench record" in m for m in messages)
    assert len(frame[frame["record_type"] == "run"]) == 36 + 10  # the rest still loads
    assert sorted(source for source, _ in frame.attrs["skipped"]) == sorted(map(str, (truncated, garbage, foreign, malformed)))


def test_a_pickle_is_never_unpickled(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    synthetic.write_all([synthetic.run_record(0)], folder)
    (folder / "runs" / "evil.json").write_bytes(pickle.dumps({"run_id": "x"}))
    with pytest.warns(SkippedRecordWarning, match="evil.json: not valid JSON"):
        frame = load(folder)
    assert list(frame["run_id"]) == [synthetic.run_record(0)["run_id"]]


def test_schema_0_records_load_with_defaults(tmp_path: Path) -> None:
    """An early record: no schema, record_type, status, device or curve, components as nested nodes; it
    is upgraded to schema 2, selected on test, with a configuration derived from what it has."""
    old = {
        "run_id": "20240101T000000000000Z-old-1",
        "task": "classification",
        "dataset": "digits",
        "components": {"pooling": {"name": "mixed", "lam": 0.25}, "activation": {"name": "relu"}},
        "seed": 3,
        "metrics": {"accuracy": 0.95},
    }
    write_text(tmp_path / "old" / "run.json", json.dumps(old))
    row = load(tmp_path / "old").iloc[0]
    assert row["schema"] == 0 and row["record_type"] == "run" and row["status"] == "completed"
    assert row["selected_on_test"] and len(row["config_id"]) == 16 and row["identity"]["pooling.lam"] == 0.25
    assert row["device"] == "unknown"
    assert row["pooling"] == "mixed" and row["pooling.lam"] == 0.25 and row["activation"] == "relu"
    assert row["metric.accuracy"] == 0.95 and row["seed"] == 3
    assert pd.isna(row["started_at"]) and pd.isna(row["study.name"])


def test_a_run_copied_into_two_folders_counts_once(tmp_path: Path, write) -> None:
    record = synthetic.run_record(0)
    first, second = write([record]), write([record, synthetic.run_record(1)])
    with pytest.warns(SkippedRecordWarning, match="duplicate of run") as caught:
        frame = load([first, second])
    assert sorted(frame["run_id"]) == sorted({record["run_id"], synthetic.run_record(1)["run_id"]})
    assert not [w for w in caught if "different contents" in str(w.message)]  # a true copy


@pytest.mark.parametrize("index", [False, True])
def test_a_copy_of_a_run_that_says_something_else_is_named_a_conflict(tmp_path: Path, write, index: bool) -> None:
    record = synthetic.run_record(0)
    edited = {**record, "metrics": {**record["metrics"], "test": {**record["metrics"]["test"], "accuracy": 0.99}}}
    first, second = write([record]), write([edited])
    if index:
        read_records([first, second], index=True).save_indexes()  # the second read takes both from the indexes
    loaded = read_records([first, second], index=index)
    ((source, reason),) = loaded.skipped
    assert source.startswith(str(second)) and f"duplicate of run {record['run_id']} already read from {first}" in reason
    assert "with different contents" in reason


def test_empty_and_missing_folders_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoRecordsError, match=r"no run records in .*empty: no \*\.json files"):
        load(tmp_path / "empty")
    with pytest.raises(NoRecordsError, match="does not exist"):
        load(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.json").write_text("{")
    with pytest.raises(NoRecordsError, match=r"1 JSON file, none of them a readable record \(.*x\.json: not valid JSON"):
        load(tmp_path / "bad")


def test_curves_come_out_in_long_form(write) -> None:
    frame = load(write([synthetic.run_record(0, epochs=4)]))
    long = curves(frame)
    assert sorted(set(long["key"])) == ["epoch_s", "lr", "train_loss", "validation.accuracy"]
    loss = long[long["key"] == "train_loss"].sort_values("epoch")
    assert list(loss["epoch"]) == [1, 2, 3, 4]
    assert loss["value"].is_monotonic_decreasing
