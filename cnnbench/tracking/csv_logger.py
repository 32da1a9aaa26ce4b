"""``logger=csv``: per run, ``metrics.csv`` (long form: ``epoch,name,value``) and ``run.json``.

The CSV grows by one flushed block per epoch, so a run still training (or one that was killed) can be
read with ``pandas.read_csv`` at any time; the test metrics follow as the last rows, at the last epoch.
``run.json`` holds the hyperparameters and tags, and at the end the status and the record's path.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from cnnbench.atomic import write_text
from cnnbench.hookspecs import hookimpl
from cnnbench.records import RunRecord
from cnnbench.tracking.series import epoch_scalars, final_scalars, hyperparameters, run_name, settings, tags

NAME = "csv"
HEADER = ("epoch", "name", "value")


class CsvLogger:
    """Open files by run id (a sweep worker may hold several runs over its life, one at a time)."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[Path, TextIO]] = {}

    @hookimpl
    def cnnbench_run_start(self, record: RunRecord) -> None:
        chosen = settings(record, NAME)
        if chosen is None:
            return
        folder = Path(str(chosen["dir"])) / run_name(record)
        folder.mkdir(parents=True, exist_ok=True)
        _write_run(folder, {"run_id": record.run_id, "tags": tags(record), "hyperparameters": hyperparameters(record)})
        handle = (folder / "metrics.csv").open("w", newline="", encoding="utf-8")
        csv.writer(handle).writerow(HEADER)
        self._open[record.run_id] = (folder, handle)

    @hookimpl
    def cnnbench_epoch_end(self, record: RunRecord, epoch: Mapping[str, Any]) -> None:
        if record.run_id in self._open:
            self._rows(record.run_id, int(epoch["epoch"]), epoch_scalars(epoch))

    @hookimpl
    def cnnbench_run_end(self, record: RunRecord, path: Path) -> None:
        if record.run_id not in self._open:
            return
        last = record.curve[-1]["epoch"] if record.curve else 0
        self._rows(record.run_id, int(last), final_scalars(record))
        folder, handle = self._open.pop(record.run_id)
        handle.close()
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        _write_run(folder, {**run, "status": record.status, "error": record.error, "record": str(path)})

    def _rows(self, run_id: str, epoch: int, scalars: Mapping[str, float]) -> None:
        _, handle = self._open[run_id]
        csv.writer(handle).writerows((epoch, name, repr(value)) for name, value in scalars.items())
        handle.flush()


def _write_run(folder: Path, content: Mapping[str, Any]) -> None:
    write_text(folder / "run.json", json.dumps(content, indent=1, sort_keys=True) + "\n")


plugin = CsvLogger()
