"""`cnnbench report` end to end through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cnnbench.cli import main
from cnnbench.report import synthetic


def test_report_writes_every_output(shared_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["report", "--results", str(shared_results), "--out", str(out)]) == 0
    written = {p.name for p in out.iterdir()}
    assert {"report.md", "report.html", "leaderboard.csv", "ablation.csv", "records.parquet", "leaderboard.parquet", "plots"} <= written
    assert len(list((out / "plots").glob("*.png"))) == 10  # 5 figures of the runs, 5 of the sweep
    printed = capsys.readouterr().out
    assert "36 scored runs, 12 configurations" in printed and f"wrote {out / 'report.md'}" in printed  # the 10 sweep trials: their own section


def test_the_default_folders_follow_cnnbench_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # where `cnnbench run` wrote, not ./results (which here holds other records)
    synthetic.write_all([synthetic.run_record(i, seed=i, activation="elu") for i in range(3)], tmp_path / "results" / "runs")
    synthetic.write_all([synthetic.run_record(i, seed=i) for i in range(2)], tmp_path / "elsewhere" / "runs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNNBENCH_RESULTS", str(tmp_path / "elsewhere"))
    assert main(["report", "--format", "csv"]) == 0
    assert "2 scored runs" in capsys.readouterr().out
    assert (tmp_path / "elsewhere" / "report" / "leaderboard.csv").exists() and not (tmp_path / "results" / "report").exists()


def test_the_summary_line_counts_configurations_a_by_pools(write, tmp_path: Path, capsys) -> None:
    records = synthetic.grid(activations=("relu", "elu"), poolings=("max", "avg"), seeds=range(3), devices=("cpu",), datasets=("digits",))
    argv = ["report", "--results", str(write(records)), "--out", str(tmp_path / "report"), "--format", "csv"]
    assert main(argv) == 0 and "12 scored runs, 4 configurations," in capsys.readouterr().out
    assert main([*argv, "--by", "task,dataset,device,activation"]) == 0
    assert "12 scored runs, 4 configurations in 2 leaderboard rows (--by pools some)," in capsys.readouterr().out
    for record in records[::2]:  # half the seeds of each configuration run by another torch: rows split, configurations as many
        record["versions"]["torch"] = "2.14.0+cpu"
    assert main([*argv[:2], str(write(records)), *argv[3:], "--by", "+versions.torch"]) == 0
    assert "12 scored runs, 4 configurations in 8 leaderboard rows (--by splits some)," in capsys.readouterr().out


def test_filters_metric_keys_and_formats(shared_results: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    argv = ["report", "--results", str(shared_results), "--out", str(out), "--format", "csv", "--device", "cuda"]
    argv += ["--where", "activation != 'prelu' and `study.name`.isna()", "--metric", "loss", "--by", "task,dataset,device,activation,pooling"]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ablation.csv", "bench.csv", "claims.csv", "leaderboard.csv", "runs.csv"]  # ELU vs ReLU tests a claim
    assert set(pd.read_csv(out / "runs.csv")["device"]) == {"cuda"}  # the runs the filters kept
    board = pd.read_csv(out / "leaderboard.csv")
    assert set(board["device"]) == {"cuda"} and set(board["activation"]) == {"relu", "elu"} and set(board["metric"]) == {"loss"}
    assert list(board.columns[:5]) == ["task", "dataset", "device", "activation", "pooling"] and not board["maximize"].any()
    assert len(board) == 4 and list(board["rank"]) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--results", "{empty}"], "no run records in {empty}: no *.json files"),
        (["--results", "{missing}"], "results folder '{missing}' does not exist"),
        (["--where", "task =="], "invalid --where filter 'task =='"),
        (["--where", "colour == 'red'"], "name 'colour' is not defined"),
        (["--task", "segmentation"], "no records match the filters (task=segmentation)"),
        (["--metric", "top5"], "no metric 'top5' in the run records; available: accuracy, loss"),
        (["--by", "task,colour"], "--by names unknown columns colour"),
        (["--baseline", "norm=batch"], "bad --baseline item 'norm=batch'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, shared_results, tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    where = {"empty": tmp_path / "empty", "missing": tmp_path / "missing"}
    argv = [arg.format(**where) for arg in argv]
    base = [] if "--results" in argv else ["--results", str(shared_results)]
    assert main(["report", *base, *argv, "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("cnnbench: error: ") and error.count("\n") == 1
    assert message.format(**where) in error


def test_skipped_files_are_reported_and_the_rest_is_used(results: Path, tmp_path: Path, capsys) -> None:
    (results / "runs" / "half.json").write_text('{"run_id": "20250301T0000')
    assert main(["report", "--results", str(results), "--out", str(tmp_path / "out"), "--format", "markdown"]) == 0
    assert f"cnnbench: warning: skipped {results / 'runs' / 'half.json'}: not valid JSON" in capsys.readouterr().err
    assert "| Skipped file | " in (tmp_path / "out" / "report.md").read_text()


def test_configure_imports_nothing_heavy() -> None:
    code = "import sys, cnnbench.report.cli; print(sorted({'pandas', 'matplotlib', 'scipy', 'optuna'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_failed_runs_are_counted_not_ranked_and_timings_alone_make_a_report(write, tmp_path: Path) -> None:
    from cnnbench.report import synthetic

    failed = synthetic.run_record(50, activation="elu")
    failed.update(status="failed", error="FloatingPointError: loss is NaN", metrics={})
    pruned = dict(synthetic.run_record(51, activation="prelu"), status="pruned")
    folder = write([synthetic.run_record(0), failed, pruned])
    assert main(["report", "--results", str(folder), "--out", str(tmp_path / "a"), "--format", "markdown,csv"]) == 0
    assert list(pd.read_csv(tmp_path / "a" / "leaderboard.csv")["activation"]) == ["relu"]
    assert "| Records | 3 runs (1 completed, 1 failed, 1 pruned)" in (tmp_path / "a" / "report.md").read_text()
    timings = write(synthetic.bench_records())
    assert main(["report", "--results", str(timings), "--out", str(tmp_path / "b"), "--format", "markdown"]) == 0
    text = (tmp_path / "b" / "report.md").read_text()
    assert "No completed run has a value of its metric." in text and "| pooling | mixed | max_pool2d | 1.05 | cuda | float32 | 128,64,32,32 | False | 1 |" in text


@pytest.mark.parametrize(
    ("sweep", "seeds", "formats", "loaded"),
    [
        (False, 3, "markdown,csv", ["matplotlib", "scipy.stats"]),
        (True, 3, "markdown,csv", ["matplotlib", "optuna", "scipy.stats", "sklearn"]),  # studies: here, before the figures fork
        (False, 3, "csv", ["scipy.stats"]),
        (False, 101, "csv", []),  # large paired samples: normal intervals and sign-flip tests, no scipy.stats
    ],
)
def test_heavy_modules_load_only_when_needed(tmp_path: Path, sweep: bool, seeds: int, formats: str, loaded: list[str]) -> None:
    records = [synthetic.run_record(i, activation=activation, seed=i % seeds) for i, activation in enumerate(["relu"] * seeds + ["elu"] * seeds)]
    records += synthetic.study_trials("lr", trials=4) if sweep else []  # two parameters: fANOVA importances
    synthetic.write_all(records, tmp_path / "results")
    script = (
        "import json, sys\nfrom cnnbench.cli import main\nassert main(sys.argv[1:]) == 0\n"
        "import pyarrow\nprint(pyarrow.default_memory_pool().backend_name)\n"  # the report's allocator (docs/report.md#speed)
        "print(json.dumps(sorted({name for name in sys.modules if name in ('scipy.stats', 'matplotlib', 'optuna', 'sklearn')})))"
    )
    argv = ["report", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "report"), "--format", formats]
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=300, check=True)
    *_, pool, modules = done.stdout.strip().splitlines()
    assert json.loads(modules) == loaded and pool == "system"  # a forked worker's imports are its own
