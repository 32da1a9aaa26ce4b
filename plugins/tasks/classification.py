"""Image classification: LeNet-5 and a small AlexNet on digits, MNIST/IDX, USPS and CIFAR-10."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from cnnbench import hookimpl
from cnnbench.data import DATASETS, load_images, resize, standardize
from cnnbench.parts import Parts, flat_features
from cnnbench.tasks import Task, TaskData


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998): conv 5x5 - pool - conv 5x5 - pool - fc 120 - fc 84 - fc classes, on 32x32.

    C3's partial connection table of the paper is replaced by a full connection, as in every modern
    re-implementation; pooling and activation come from the config (the paper's were subsampling and tanh).
    """

    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    input_size: ClassVar[int] = 32

    def __init__(self, parts: Parts, in_channels: int, num_classes: int, image_size: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            parts.conv_block(in_channels, 6, 5),
            parts.pool(6),
            parts.conv_block(6, 16, 5),
            parts.pool(16),
            nn.Flatten(),
        )
        width = flat_features(self.features, in_channels, image_size)
        self.classifier = nn.Sequential(parts.dense_block(width, 120), parts.dense_block(120, 84), nn.Linear(84, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


class AlexNetSmall(nn.Module):
    """An AlexNet-style network (Krizhevsky et al. 2012) for 32x32 inputs: five convolutions, overlapping
    3x3/2 pooling, dropout in two hidden fully connected layers."""

    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    stochastic: ClassVar[bool] = True  # dropout
    input_size: ClassVar[int] = 32

    def __init__(self, parts: Parts, in_channels: int, num_classes: int, image_size: int, width: int = 64, dropout: float = 0.5) -> None:
        super().__init__()
        if width < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"width must be >= 1 and dropout in [0, 1), got width={width}, dropout={dropout}")
        w = width
        self.features = nn.Sequential(
            parts.conv_block(in_channels, w, 5, padding=2),
            parts.pool(w, 3, 2),
            parts.conv_block(w, 2 * w, 5, padding=2),
            parts.pool(2 * w, 3, 2),
            parts.conv_block(2 * w, 3 * w, 3, padding=1),
            parts.conv_block(3 * w, 3 * w, 3, padding=1),
            parts.conv_block(3 * w, 2 * w, 3, padding=1),
            parts.pool(2 * w, 3, 2),
            nn.Flatten(),
        )
        flat = flat_features(self.features, in_channels, image_size)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            parts.dense_block(flat, 4 * w),
            nn.Dropout(dropout),
            parts.dense_block(4 * w, 4 * w),
            nn.Linear(4 * w, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


class Classification(Task):
    """Top-1 classification; metrics: accuracy, loss, per-class accuracy."""

    models = ("lenet5", "alexnet")
    default_loss = "softmax"
    loss_inputs = ("logits",)
    datasets = DATASETS
    primary_metric = "accuracy"
    metrics = ("accuracy", "loss")

    def __init__(self, dataset: str = "digits", limit: int | None = None, eval_batch_size: int = 1000) -> None:
        if dataset not in self.datasets:
            raise ValueError(f"dataset must be one of {', '.join(self.datasets)}, got {dataset!r}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1 or null, got {limit}")
        if eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1, got {eval_batch_size}")
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
def cnnbench_register_models(register) -> None:
    register("lenet5", LeNet5)
    register("alexnet", AlexNetSmall, width=64, dropout=0.5)


@hookimpl
def cnnbench_register_tasks(register) -> None:
    register("classification", Classification, dataset="digits", limit=None, eval_batch_size=1000)
