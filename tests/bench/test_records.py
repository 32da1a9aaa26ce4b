"""Bench records: written like run records, loaded by ``cnnbench report`` with the fields it summarises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cnnbench.bench.records import bench_record, write_bench_record
from cnnbench.bench.runner import Settings, bench_component
from cnnbench.records import as_dict
from cnnbench.report import load
from cnnbench.report.stats import BENCH_KEYS, BENCH_VALUES, bench_table

TINY = Settings(torch.device("cpu"), repeats=2, min_run_time=0.001, clock="cpu")


@pytest.fixture(scope="module")
def mixed_result(registry):
    return bench_component(registry.get("pooling", "mixed"), (2, 4, 6, 6), TINY)


def test_a_record_has_what_the_report_groups_and_summarises(mixed_result, registry) -> None:
    record = as_dict(bench_record(mixed_result, TINY, registry))
    assert set(BENCH_KEYS + BENCH_VALUES) <= set(record)
    assert record["record_type"] == "bench" and record["status"] == "completed"
    assert (record["kind"], record["name"], record["baseline"]) == ("pooling", "mixed", "max_pool2d+avg_pool2d")
    assert (record["device"], record["dtype"], record["shape"], record["threads"], record["clock"]) == ("cpu", "float32", "2,4,6,6", 1, "cpu")
    assert record["ratio_forward_backward"] == mixed_result.forward_backward.ratio
    assert record["target"] == 1.05 and record["meets_target"] == (record["ratio_forward_backward"] <= 1.05)
    assert len(record["samples_ms"]["forward_backward"]) == len(record["samples_ms"]["baseline_forward_backward"]) == 2
    assert record["versions"]["torch"] == torch.__version__ and record["distribution"] == "cnnbench"
    assert record["hyperparameters"] == {"lam": 0.5}


def test_written_records_load_into_the_report(mixed_result, registry, tmp_path: Path) -> None:
    paths = [write_bench_record(mixed_result, TINY, registry, tmp_path) for _ in range(2)]
    assert all(path.parent == tmp_path / "runs" for path in paths)
    json.loads(paths[0].read_text())  # plain JSON

    frame = load(tmp_path)
    assert len(frame) == 2 and (frame["record_type"] == "bench").all()
    table = bench_table(frame)
    assert len(table) == 1 and table.loc[0, "n"] == 2
    assert table.loc[0, "shape"] == "2,4,6,6" and table.loc[0, "baseline"] == "max_pool2d+avg_pool2d"
    assert table.loc[0, "ratio_forward_backward"] == pytest.approx(mixed_result.forward_backward.ratio)


def test_a_failed_result_is_recorded_with_its_error(registry) -> None:
    maxout = registry.get("activation", "maxout")
    result = bench_component(maxout, (2, 5, 4, 4), TINY)  # 5 channels cannot feed 2 pieces
    record = as_dict(bench_record(result, TINY, registry))
    assert record["status"] == "failed" and "divisible by 2" in record["error"]
    assert record["forward_ms"] is None and record["ratio_forward_backward"] is None and record["meets_target"] is None
