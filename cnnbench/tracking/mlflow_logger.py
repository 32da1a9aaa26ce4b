"""``logger=mlflow``: one MLflow run per cnnbench run; a sweep's trials nested under one run per study.

Written through :class:`mlflow.MlflowClient` with explicit run ids, never the fluent API's global
"active run", so several runs in one process (a sweep worker) cannot cross. The tracking URI is
``logger.mlflow.tracking_uri`` (by default ``$MLFLOW_TRACKING_URI``, else a SQLite file beside the
records). Params are the configuration identity, metrics the per-epoch series (step = epoch) and the test
metrics, tags the run and config ids, task, dataset, model, and a trial's ``study`` and ``trial``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnnbench.hookspecs import hookimpl
from cnnbench.records import RunRecord
from cnnbench.tracking.series import epoch_scalars, final_scalars, hyperparameters, require, run_name, settings, tags

NAME = "mlflow"
#: the tag that marks a study's parent run, and names its study
STUDY_TAG = "cnnbench.study_run"
#: MLflow's own status for each cnnbench status
STATUS = {"completed": "FINISHED", "pruned": "KILLED", "failed": "FAILED"}
#: MLflow caps a param value's length
PARAM_CHARS = 6000


class MlflowLogger:
    """Open MLflow runs by cnnbench run id."""

    def __init__(self) -> None:
        self._runs: dict[str, tuple[Any, str]] = {}

    @hookimpl
    def cnnbench_run_start(self, record: RunRecord) -> None:
        chosen = settings(record, NAME)
        if chosen is None:
            return
        mlflow = require("mlflow", NAME, NAME)
        client = mlflow.MlflowClient(tracking_uri=str(chosen["tracking_uri"]))
        experiment = _experiment_id(client, str(chosen["experiment"]))
        labels = {f"cnnbench.{k}": v for k, v in tags(record).items()} | {"mlflow.runName": run_name(record).replace("/", " ")}
        if record.study:
            labels |= {"study": str(record.study["name"]), "trial": str(record.study["trial"])}
            labels["mlflow.parentRunId"] = _study_run(client, experiment, str(record.study["name"]))
        run = client.create_run(experiment, tags=labels)
        params = [mlflow.entities.Param(k, str(v)[:PARAM_CHARS]) for k, v in hyperparameters(record).items()]
        client.log_batch(run.info.run_id, params=params)
        self._runs[record.run_id] = (client, run.info.run_id)

    @hookimpl
    def cnnbench_epoch_end(self, record: RunRecord, epoch: Mapping[str, Any]) -> None:
        if record.run_id in self._runs:
            self._metrics(record.run_id, epoch_scalars(epoch), int(epoch["epoch"]))

    @hookimpl
    def cnnbench_run_end(self, record: RunRecord, path: Path) -> None:
        if record.run_id not in self._runs:
            return
        step = int(record.curve[-1]["epoch"]) if record.curve else 0
        self._metrics(record.run_id, final_scalars(record), step)
        client, run_id = self._runs.pop(record.run_id)
        client.set_tag(run_id, "cnnbench.record", str(path))
        if record.error:
            client.set_tag(run_id, "cnnbench.error", record.error[:PARAM_CHARS])
        client.set_terminated(run_id, STATUS.get(record.status, "FAILED"))

    def _metrics(self, run_id: str, scalars: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        client, mlflow_run = self._runs[run_id]
        now = int(time.time() * 1000)
        client.log_batch(mlflow_run, metrics=[Metric(name, value, now, step) for name, value in scalars.items()])


def _experiment_id(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found is not None else client.create_experiment(name)


def _study_run(client: Any, experiment: str, study: str) -> str:
    """The study's parent run, made by the first trial that finds none (trials of one study share it).

    Two workers may both find none and both make one: each then takes the earliest, and a worker whose
    own is not the earliest deletes it, so the study keeps one parent run."""
    quoted = study.replace("'", "\\'")

    def earliest() -> str | None:
        found = client.search_runs([experiment], filter_string=f"tags.`{STUDY_TAG}` = '{quoted}'", max_results=1, order_by=["attributes.start_time ASC"])
        return found[0].info.run_id if found else None

    parent = earliest()
    if parent is None:
        own = client.create_run(experiment, tags={STUDY_TAG: study, "study": study, "mlflow.runName": f"study {study}"}).info.run_id
        parent = earliest() or own
        if parent != own:
            client.delete_run(own)
    return parent


plugin = MlflowLogger()
