"""The ``logger`` group: CSV, TensorBoard and MLflow files read back with their own readers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest

from cli_helpers import FAST, assert_clean_error, cnnbench, records
from cnnbench.cli import main
from cnnbench.sweep.storage import JOURNAL_NAME
from cnnbench.tracking import mlflow_logger

TWO_EPOCHS = ("task.limit=240", "trainer.epochs=2", "trainer.progress=false", "trainer.threads=1")


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One two-epoch run with the CSV and TensorBoard loggers at once."""
    cwd = tmp_path_factory.mktemp("run")
    done = cnnbench("run", "logger=[csv,tensorboard]", *TWO_EPOCHS, cwd=cwd)
    assert done.returncode == 0, done.stderr
    (record,) = records(cwd / "results")
    return cwd / "results", record


def _expected(record: dict) -> dict[tuple[int, str], float]:
    """What every tracker must hold: the record's curve and its test metrics, by (step, name)."""
    found = {}
    for entry in record["curve"]:
        found[(entry["epoch"], "train/loss")] = entry["train_loss"]
        found[(entry["epoch"], "lr")] = entry["lr"]
        found[(entry["epoch"], "time/epoch_s")] = entry["epoch_s"]
        found |= {(entry["epoch"], f"validation/{k}"): v for k, v in entry["validation"].items()}
    last = record["curve"][-1]["epoch"]
    found |= {(last, f"test/{k}"): v for k, v in record["metrics"]["test"].items() if isinstance(v, float)}
    return found


def test_csv_holds_each_epoch_then_the_test_metrics(logged: tuple[Path, dict]) -> None:
    results, record = logged
    (folder,) = (results / "logs" / "csv").iterdir()
    with (folder / "metrics.csv").open() as handle:
        rows = {(int(r["epoch"]), r["name"]): float(r["value"]) for r in csv.DictReader(handle)}
    expected = _expected(record)
    assert {key: rows[key] for key in expected} == pytest.approx(expected)
    assert record["curve"][0]["lr"] > record["curve"][1]["lr"]  # the cosine schedule: lr is per epoch, not a constant
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "completed" and Path(run["record"]).name == f"{record['run_id']}.json"
    assert run["hyperparameters"]["optimizer.lr"] == record["identity"]["optimizer.lr"]
    assert run["tags"]["config_id"] == record["config_id"]


def test_tensorboard_scalars_and_hparams_read_back_with_tensorboards_reader(logged: tuple[Path, dict]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    results, record = logged
    (folder,) = (results / "logs" / "tensorboard").iterdir()
    events = EventAccumulator(str(folder))
    events.Reload()
    scalars = {(e.step, tag): e.value for tag in events.Tags()["scalars"] for e in events.Scalars(tag)}
    expected = _expected(record)
    assert {key: scalars[key] for key in expected} == pytest.approx(expected, rel=1e-6)
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["optimizer.lr"].number_value == pytest.approx(record["identity"]["optimizer.lr"])
    assert start.hparams["pooling"].string_value == record["components"]["pooling"]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert "test/accuracy" in {info.name.tag for info in experiment.metric_infos}


def test_no_logger_by_default_writes_no_log_folder(tmp_path: Path) -> None:
    done = cnnbench("run", *FAST, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "results" / "logs").exists()


def test_a_sweep_nests_its_trials_under_one_mlflow_run_per_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import mlflow

    results = tmp_path / "results"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tiny = ("task.limit=200", "trainer.epochs=2", "trainer.threads=1", "trainer.batch_size=50", "sweep.pruner=none")
    code = main(["sweep", "sweep=learning_rate", "sweep.trials=2", "sweep.study=lr-mlflow", "logger=mlflow", f"logger.mlflow.tracking_uri={uri}", *tiny, f"results.dir={results}"])
    assert code == 0, capsys.readouterr().err
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("cnnbench").experiment_id
    runs = client.search_runs([experiment])
    (parent,) = [r for r in runs if mlflow_logger.STUDY_TAG in r.data.tags]
    children = sorted((r for r in runs if r is not parent), key=lambda r: int(r.data.tags["trial"]))
    assert [r.data.tags["trial"] for r in children] == ["0", "1"]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert {r.data.tags["study"] for r in children} == {"lr-mlflow"}
    by_id = {json.loads(p.read_text())["run_id"]: json.loads(p.read_text()) for p in (results / "runs").glob("*.json")}
    for child in children:
        record = by_id[child.data.tags["cnnbench.run_id"]]
        assert child.info.status == "FINISHED"
        assert float(child.data.params["optimizer.lr"]) == pytest.approx(record["identity"]["optimizer.lr"])
        assert child.data.metrics["test/accuracy"] == pytest.approx(record["metrics"]["test"]["accuracy"])
        history = client.get_metric_history(child.info.run_id, "validation/accuracy")
        assert [m.step for m in history] == [e["epoch"] for e in record["curve"]]
        assert [m.value for m in history] == pytest.approx([e["validation"]["accuracy"] for e in record["curve"]])
        assert child.data.tags["cnnbench.record"].endswith(f"{record['run_id']}.json")
    # optuna-dashboard's view of the same study: the metric's name, and each trial's record files
    journal = optuna.storages.journal.JournalFileBackend(str(results / "sweeps" / "lr-mlflow" / JOURNAL_NAME))
    study = optuna.load_study(study_name="lr-mlflow", storage=optuna.storages.JournalStorage(journal))
    assert study.metric_names == ["accuracy (validation)"]
    for trial in study.trials:
        (path,) = trial.user_attrs["records"]
        assert by_id[Path(path).stem]["study"]["trial"] == trial.number


def test_a_logger_without_its_package_says_which_extra_installs_it(tmp_path: Path) -> None:
    hidden = tmp_path / "site" / "mlflow"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('not installed')\n")  # as if mlflow were missing
    done = cnnbench("run", "logger=mlflow", *FAST, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert_clean_error(done.returncode, done.stderr, "logger=mlflow needs mlflow: pip install 'cnnbench[mlflow]'")
    assert done.returncode == 2
    assert not (tmp_path / "results" / "runs").exists()  # refused before training: no record
