"""What a task plugin provides: its data, its model family, its default loss, and its metrics.

The training loop (:mod:`cnnbench.training`) is shared: it shuffles the task's in-memory training
tensors, batches them, calls :meth:`Task.training_loss`, after each epoch :meth:`Task.evaluate` on the
validation split, and once at the end on the test split (and on a training sample, for the overfitting gap).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from cnnbench.data.splits import SplitSettings

Split = Literal["train", "validation", "test"]


@dataclass
class TaskData:
    """A task's data, in memory.

    ``train`` holds tensors with the same first dimension (the loop batches them together).
    ``validation``, ``test`` and ``train_sample`` (a fixed sample of the training split, the size of
    validation) are whatever :meth:`Task.evaluate` needs. ``info`` carries the facts models are built from
    (``in_channels``, ``num_classes``, ``image_size``, ...) and the data's identity (``dataset``,
    ``validation``: how the validation split was made).
    """

    train: dict[str, torch.Tensor]
    validation: Any
    test: Any
    train_sample: Any
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def train_size(self) -> int:
        return len(next(iter(self.train.values())))

    def split(self, name: Split) -> Any:
        """The evaluation set of ``name`` ("train" is the training sample)."""
        return {"train": self.train_sample, "validation": self.validation, "test": self.test}[name]


class Task(ABC):
    """A benchmark task. Subclasses set the class attributes and implement the three methods."""

    #: registry names of the models this task can train; the first is the default
    models: ClassVar[tuple[str, ...]]
    #: registry name of the default loss
    default_loss: ClassVar[str]
    #: loss ``input_kind`` values this task can feed ("logits", "pairs", "embeddings")
    loss_inputs: ClassVar[tuple[str, ...]]
    #: dataset names this task accepts (the ``dataset`` hyperparameter); shell wildcards: ``('*',)`` is any registered dataset
    datasets: ClassVar[tuple[str, ...]]
    #: the metric sweeps optimise (on validation) and leaderboards rank by (on test), and whether higher is better
    primary_metric: ClassVar[str]
    maximize: ClassVar[bool] = True
    #: the scalar metrics :meth:`evaluate` returns: a sweep's objective is checked against them before trial 0
    #: (empty: not declared, checked on the first record instead)
    metrics: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def load_data(self, root: Path, image_size: int | None, seed: int, split: SplitSettings, dataset_options: Mapping[str, Any] | None = None) -> TaskData:
        """Load (or generate) train, validation and test; raise :class:`cnnbench.errors.DataError` when missing.

        Where the dataset has no validation split, carve one from training with
        :func:`cnnbench.data.splits.carve_validation` and ``split`` (never with ``seed``, the run's seed).
        ``dataset_options`` are the config's ``data.<dataset>`` options of the chosen dataset, for
        :func:`cnnbench.data.load_dataset` (empty for a dataset without options, or a generated one).
        """

    @abstractmethod
    def training_loss(self, model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The scalar loss of one training batch."""

    @abstractmethod
    @torch.no_grad()
    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device, split: Split) -> dict[str, Any]:
        """Metrics on ``data.split(split)``: scalars, plus lists (per-class accuracy) where useful.

        Anything fitted for scoring (a verification threshold) is fitted on training or validation data,
        never on the split being scored when that is ``test``.
        """
