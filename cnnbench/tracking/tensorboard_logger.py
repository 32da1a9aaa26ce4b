"""``logger=tensorboard``: one event-file folder per run, ``tensorboard --logdir <dir>`` to browse.

Scalars per epoch (``train/loss``, ``validation/<metric>``, ``lr``, ``time/epoch_s``) at step = epoch;
at the end ``test/<metric>`` and the hyperparameters in the HParams dashboard, written into the run's
own folder (``SummaryWriter.add_hparams`` would open a second run for them). A sweep trial's folder
sits under its study's, and its study and trial are hyperparameters, so trials compare side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnnbench.hookspecs import hookimpl
from cnnbench.records import RunRecord
from cnnbench.tracking.series import epoch_scalars, final_scalars, hyperparameters, require, run_name, settings, tags

NAME = "tensorboard"


class TensorBoardLogger:
    """Open writers by run id."""

    def __init__(self) -> None:
        self._writers: dict[str, Any] = {}

    @hookimpl
    def cnnbench_run_start(self, record: RunRecord) -> None:
        chosen = settings(record, NAME)
        if chosen is None:
            return
        tensorboard = require("torch.utils.tensorboard", NAME, NAME)
        self._writers[record.run_id] = tensorboard.SummaryWriter(log_dir=str(Path(str(chosen["dir"])) / run_name(record)))

    @hookimpl
    def cnnbench_epoch_end(self, record: RunRecord, epoch: Mapping[str, Any]) -> None:
        writer = self._writers.get(record.run_id)
        if writer is not None:
            for name, value in epoch_scalars(epoch).items():
                writer.add_scalar(name, value, int(epoch["epoch"]))
            writer.flush()

    @hookimpl
    def cnnbench_run_end(self, record: RunRecord) -> None:
        writer = self._writers.pop(record.run_id, None)
        if writer is None:
            return
        from torch.utils.tensorboard.summary import hparams

        step = int(record.curve[-1]["epoch"]) if record.curve else 0
        final = final_scalars(record)
        for name, value in final.items():
            writer.add_scalar(name, value, step)
        given = {**hyperparameters(record), **{k: v for k, v in tags(record).items() if k in ("study", "trial")}}
        for summary in hparams(given, final):  # experiment, session start, session end: the HParams plugin's three
            writer.file_writer.add_summary(summary)
        writer.close()


plugin = TensorBoardLogger()
