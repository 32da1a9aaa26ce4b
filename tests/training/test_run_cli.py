"""``cnnbench run`` end to end: records, reproducibility, multiruns, and refusals before training."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_helpers import FAST, assert_clean_error, cnnbench, records

from cnnbench.cli import main


def test_run_writes_one_complete_record_and_keeps_hydra_output_under_results(tmp_path: Path) -> None:
    result = cnnbench("run", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [record] = records(tmp_path / "results")
    assert record["status"] == "completed" and record["task"] == "classification" and record["dataset"] == "digits"
    assert record["components"] == {"convolution": "conv", "pooling": "max", "activation": "relu", "normalization": "none", "loss": "softmax", "model": "lenet5"}
    for split in ("train", "validation", "test"):
        assert 0.0 <= record["metrics"][split]["accuracy"] <= 1.0 and len(record["metrics"][split]["per_class_accuracy"]) == 10
    assert [point["epoch"] for point in record["curve"]] == [1] and record["selection"] == {"rule": "final", "epoch": 1, "split": "validation"}
    assert record["curve"][0]["validation"]["accuracy"] == record["metrics"]["validation"]["accuracy"]
    assert record["data"]["sizes"] == {"train": 217, "validation": 23, "test": 240} and record["schema"] == 2
    assert "validation accuracy" in result.stdout and "test accuracy" in result.stdout
    assert record["params"] > 0 and record["timing"]["throughput"] > 0 and record["peak_memory_bytes"] > 0
    assert record["config"]["trainer"]["epochs"] == 1 and record["versions"]["torch"]
    assert f"record: {tmp_path / 'results' / 'runs'}" in result.stdout or "record: " in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # nothing else in the working folder


def test_same_seed_same_metrics_other_seed_other_metrics(tmp_path: Path) -> None:
    for seed in (0, 0, 1):
        assert cnnbench("run", *FAST, f"trainer.seed={seed}", cwd=tmp_path).returncode == 0
    by_seed = sorted(records(tmp_path / "results"), key=lambda r: r["seed"])
    assert by_seed[0]["metrics"] == by_seed[1]["metrics"] and by_seed[0]["curve"][0]["train_loss"] == by_seed[1]["curve"][0]["train_loss"]
    assert by_seed[2]["curve"][0]["train_loss"] != by_seed[0]["curve"][0]["train_loss"]


def test_component_hyperparameters_reach_the_record(tmp_path: Path) -> None:
    result = cnnbench("run", *FAST, "pooling=mixed", "pooling.lam=0.25", "activation=leaky_relu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [record] = records(tmp_path / "results")
    assert record["components"]["pooling"] == "mixed" and record["components"]["pooling.lam"] == 0.25
    assert record["components"]["activation.negative_slope"] == 0.01


def test_multirun_runs_the_cross_product(tmp_path: Path) -> None:
    result = cnnbench("run", "-m", *FAST, "activation=relu,elu", "pooling=max,avg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    runs = records(tmp_path / "results")
    assert sorted((r["components"]["activation"], r["components"]["pooling"]) for r in runs) == [
        ("elu", "avg"), ("elu", "max"), ("relu", "avg"), ("relu", "max")
    ]
    assert len({r["run_id"] for r in runs}) == 4


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["activation=leaky_rel"], ["unknown activation 'leaky_rel'", "did you mean leaky_relu"]),
        (["pooling=mixed", "pooling.lam=1.5"], ["pooling 'mixed'", "lam", "1.5"]),
        (["loss=triplet"], ["loss 'triplet' takes embeddings", "losses for classification"]),
        (["model=fcn"], ["model 'fcn' serves segmentation", "not task 'classification'"]),
        (["task.dataset=mnist", "data.root=/nonexistent"], ["/nonexistent/mnist"]),
        (["task.dataset=imagenet"], ["imagenet"]),
        (["trainer.device=cuda:7"], ["trainer.device"]),
    ],
)
def test_refused_before_training_with_one_line_and_no_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], overrides: list[str], fragments: list[str]
) -> None:
    status = main(["run", *FAST, f"results.dir={tmp_path}", *overrides])
    assert_clean_error(status, capsys.readouterr().err, *fragments)
    assert not (tmp_path / "runs").exists()


def test_unknown_config_key_is_hydras_error_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *FAST, f"results.dir={tmp_path}", "trainer.epoch=3"]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "trainer.epoch" in err


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_hydra_launcher_plugins_run_jobs_in_parallel_without_colliding(tmp_path: Path, launcher: str) -> None:
    result = cnnbench("run", "-m", f"hydra/launcher={launcher}", *FAST, "activation=relu,elu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    runs = records(tmp_path / "results")
    assert sorted(r["components"]["activation"] for r in runs) == ["elu", "relu"]
    assert len({r["run_id"] for r in runs}) == 2


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_job_that_fails_makes_the_multirun_exit_1_whichever_process_ran_it(tmp_path: Path, launcher: str) -> None:
    result = cnnbench("run", "-m", f"hydra/launcher={launcher}", *FAST, "optimizer.lr=1e-3,1e30", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "TrainingDiverged" in result.stderr and "cnnbench: 1 run(s) of the multirun did not complete" in result.stderr
    assert sorted(r["status"] for r in records(tmp_path / "results")) == ["completed", "failed"]


def _live_workers() -> list[str]:
    """This process's live children, from /proc, but the resource trackers (one per process, they end with it)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(parent) == os.getpid() and state != "Z" and "resource_tracker" not in command:
            found.append(command)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_joblib_multirun_ends_its_idle_workers_before_returning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "-m", "hydra/launcher=joblib", *FAST, "activation=relu,elu"]) == 0
    assert len(records(tmp_path / "results")) == 2
    assert _live_workers() == []


def test_a_removed_job_folder_takes_its_log_file_handlers_with_it(tmp_path: Path) -> None:
    import logging

    from cnnbench.app import _remove_job_folder

    job = tmp_path / "results" / "hydra" / "day" / "time"
    job.mkdir(parents=True)
    handler = logging.FileHandler(job / "run.log", delay=True)
    logging.getLogger().addHandler(handler)
    try:
        _remove_job_folder(str(job), str(tmp_path / "results"))
        assert handler not in logging.getLogger().handlers
        logging.getLogger("cnnbench.test").warning("after the folder is gone")  # would raise FileNotFoundError
        assert not (tmp_path / "results" / "hydra").exists()
    finally:
        logging.getLogger().removeHandler(handler)


def test_joblib_workers_started_during_the_checks_are_the_ones_that_run_the_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import re

    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.DEBUG, logger="cnnbench.app"):
        assert main(["run", "-m", "hydra/launcher=joblib", *FAST, "activation=relu,elu,prelu"]) == 0
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("joblib workers started")]
    warmed = {int(pid) for pid in re.findall(r"\d+", line.split(":", 1)[1])}
    ran = {int(r["run_id"].split("-")[-2]) for r in records(tmp_path / "results")}
    assert warmed and ran <= warmed


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_refused_joblib_multirun_is_one_line_and_leaves_no_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "experiment=ablation_lenet", "trainer.epochs=1", "optimizer.lr=-1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnbench: error: optimizer.lr must be a number > 0"), lines
    assert _live_workers() == [] and list(tmp_path.iterdir()) == []
