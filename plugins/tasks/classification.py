"""Image classification: LeNet-5 or a small AlexNet on any registered dataset (digits, MNIST, your images, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cnnbench import hookimpl
from cnnbench.data import ANY_DATASET
from cnnbench.data.labelled import labelled_splits
from cnnbench.data.splits import SplitSettings
from cnnbench.tasks import Split, Task, TaskData


class Classification(Task):
    """Top-1 classification; metrics: accuracy, loss, per-class accuracy."""

    models = ("lenet5", "alexnet")
    default_loss = "softmax"
    loss_inputs = ("logits",)
    datasets = ANY_DATASET
    primary_metric = "accuracy"
    metrics = ("accuracy", "loss")

    def __init__(self, dataset: str = "digits", limit: int | None = None, eval_batch_size: int = 1000) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1 or null, got {limit}")
        if eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1, got {eval_batch_size}")
        self.dataset, self.limit, self.eval_batch_size = dataset, limit, eval_batch_size

    def load_data(self, root: Path, image_size: int | None, seed: int, split: SplitSettings, dataset_options: Mapping[str, Any] | None = None) -> TaskData:
        data = labelled_splits(self.dataset, root, image_size, split, self.limit, dataset_options)
        return TaskData(data.train, data.validation, data.test, data.train_sample, data.info)

    def training_loss(self, model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss(model(batch["images"]), batch["labels"])

    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device, split: Split) -> dict[str, Any]:
        images, labels = data.split(split)["images"], data.split(split)["labels"].to(device)
        logits = torch.cat([model(chunk.to(device)).float() for chunk in images.split(self.eval_batch_size)])
        predicted = logits.argmax(dim=1)
        num_classes = data.info["num_classes"]
        correct = F.one_hot(labels, num_classes).T.float() @ (predicted == labels).float()
        counts = torch.bincount(labels, minlength=num_classes).float()
        return {
            "accuracy": (predicted == labels).float().mean().item(),
            "loss": loss(logits, labels).item(),
            "per_class_accuracy": (correct / counts.clamp_min(1)).tolist(),
        }


@hookimpl
def cnnbench_register_tasks(register) -> None:
    register("classification", Classification, dataset="digits", limit=None, eval_batch_size=1000)
