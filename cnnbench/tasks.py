"""What a task plugin provides: its data, its model family, its default loss, and its metrics.

The training loop (:mod:`cnnbench.training`) is shared: it shuffles the task's in-memory training
tensors, batches them, calls :meth:`Task.training_loss` and, after each epoch, :meth:`Task.evaluate`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn


@dataclass
class TaskData:
    """A task's data, in memory.

    ``train`` holds tensors with the same first dimension (the loop batches them together);
    ``test`` is whatever :meth:`Task.evaluate` needs; ``info`` carries the facts models are built from
    (``in_channels``, ``num_classes``, ``image_size``, ...).
    """

    train: dict[str, torch.Tensor]
    test: Any
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def train_size(self) -> int:
        return len(next(iter(self.train.values())))


class Task(ABC):
    """A benchmark task. Subclasses set the class attributes and implement the three methods."""

    #: registry names of the models this task can train; the first is the default
    models: ClassVar[tuple[str, ...]]
    #: registry name of the default loss
    default_loss: ClassVar[str]
    #: loss ``input_kind`` values this task can feed ("logits", "pairs", "embeddings")
    loss_inputs: ClassVar[tuple[str, ...]]
    #: dataset names this task accepts (the ``dataset`` hyperparameter)
    datasets: ClassVar[tuple[str, ...]]
    #: the metric sweeps optimise and leaderboards rank by, and whether higher is better
    primary_metric: ClassVar[str]
    maximize: ClassVar[bool] = True
    #: the scalar metrics :meth:`evaluate` returns: a sweep's objective is checked against them before trial 0
    #: (empty: not declared, checked on the first record instead)
    metrics: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def load_data(self, root: Path, image_size: int | None, seed: int) -> TaskData:
        """Load (or generate from ``seed``) the data; raise :class:`cnnbench.errors.DataError` when it is missing."""

    @abstractmethod
    def training_loss(self, model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The scalar loss of one training batch."""

    @abstractmethod
    @torch.no_grad()
    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device) -> dict[str, Any]:
        """Metrics on the held-out data: scalars, plus lists (per-class accuracy) where useful."""
