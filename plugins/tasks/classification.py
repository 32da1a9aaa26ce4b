"""Image classification: LeNet-5 and a small AlexNet on digits, MNIST/IDX, USPS and CIFAR-10."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cnnbench import hookimpl
from cnnbench.data import DATASETS, load_images, resize, standardize
from cnnbench.tasks import Task, TaskData


class Classification(Task):
    """Top-1 classification; metrics: accuracy, loss, per-class accuracy."""

    models = ("lenet5", "alexnet")
    default_loss = "softmax"
    loss_inputs = ("logits",)
    datasets = DATASETS
    primary_metric = "accuracy"

    def __init__(self, dataset: str = "digits", limit: int | None = None, eval_batch_size: int = 1000) -> None:
        if dataset not in self.datasets:
            raise ValueError(f"dataset must be one of {', '.join(self.datasets)}, got {dataset!r}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1 or null, got {limit}")
        self.dataset, self.limit, self.eval_batch_size = dataset, limit, eval_batch_size

    def load_data(self, root: Path, image_size: int | None, seed: int) -> TaskData:
        train, test = (load_images(self.dataset, root, split, limit=self.limit) for split in ("train", "test"))
        size = image_size or train.images.shape[-1]
        train_images, test_images = standardize(resize(train.images, size), resize(test.images, size))
        return TaskData(
            train={"images": train_images, "labels": train.labels},
            test={"images": test_images, "labels": test.labels},
            info={
                "dataset": self.dataset,
                "in_channels": train_images.shape[1],
                "num_classes": len(train.classes),
                "image_size": size,
                "classes": list(train.classes),
            },
        )

    def training_loss(self, model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss(model(batch["images"]), batch["labels"])

    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device) -> dict[str, Any]:
        images, labels = data.test["images"], data.test["labels"].to(device)
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
