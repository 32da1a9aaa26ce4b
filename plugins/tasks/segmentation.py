"""Semantic segmentation: an FCN labels every pixel of generated shapes scenes (background, circle, square,
triangle); scored by pixel accuracy and mean IoU."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnbench import hookimpl
from cnnbench.data import shapes, standardize
from cnnbench.data.fingerprint import fingerprint
from cnnbench.data.splits import SplitSettings, training_sample, validation_seed
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.tasks import Split, Task, TaskData


def confusion_matrix(target: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) pixel counts, row = true class, column = predicted class, from one ``bincount``."""
    pairs = target.flatten() * num_classes + predicted.flatten()
    return torch.bincount(pairs, minlength=num_classes**2).view(num_classes, num_classes)


def segmentation_scores(confusion: torch.Tensor) -> dict[str, Any]:
    """Pixel accuracy = Σ TP / all pixels; IoU_c = TP / (TP + FP + FN) per class; mean IoU over the classes
    with a non-zero union (present in the truth or the prediction); absent classes have IoU NaN."""
    confusion = confusion.double()
    true_positive = confusion.diagonal()
    union = confusion.sum(dim=0) + confusion.sum(dim=1) - true_positive
    iou = torch.where(union > 0, true_positive / union, torch.nan)
    return {
        "pixel_accuracy": (true_positive.sum() / confusion.sum()).item(),
        "mean_iou": iou.nanmean().item(),
        "per_class_iou": iou.tolist(),
    }


class Segmentation(Task):
    """Per-pixel classification of generated shapes scenes; metrics: pixel accuracy, mean IoU, per-class IoU,
    loss. ``baseline_*`` are the same metrics for predicting background everywhere.

    The scenes come from ``data_seed``, not the run's seed: like a dataset on disk they stay the same for
    every run, so runs with different seeds differ only in training. Train and test are disjoint draws.
    """

    models = ("fcn",)
    default_loss = "softmax"
    loss_inputs = ("logits",)
    datasets = ("shapes",)
    primary_metric = "mean_iou"
    metrics = ("pixel_accuracy", "mean_iou", "loss", "baseline_pixel_accuracy", "baseline_mean_iou")

    def __init__(
        self, dataset: str = "shapes", n_train: int = 1000, n_test: int = 200, image_size: int = 32, data_seed: int = 0, eval_batch_size: int = 100
    ) -> None:
        require(dataset in self.datasets, f"dataset must be one of {', '.join(self.datasets)}, got {dataset!r}")
        for name, count in {"n_train": n_train, "n_test": n_test, "eval_batch_size": eval_batch_size}.items():
            require(isinstance(count, int) and count >= 1, f"{name} must be an integer >= 1, got {count!r}")
        self.dataset, self.n_train, self.n_test, self.image_size = dataset, n_train, n_test, image_size
        self.data_seed, self.eval_batch_size = data_seed, eval_batch_size

    def load_data(self, root: Path, image_size: int | None, seed: int, split: SplitSettings, dataset_options: Mapping[str, Any] | None = None) -> TaskData:
        """Train and test scenes from ``data_seed``; validation scenes (``val_fraction`` of ``n_train``) from
        their own seed stream, so train and test stay what they were without a validation split."""
        size = image_size or self.image_size
        images, masks = shapes.segmentation(self.n_train + self.n_test, size, self.data_seed)
        val_images, val_masks = shapes.segmentation(split.count(self.n_train), size, validation_seed(self.data_seed, split))
        train_images, val_images, test_images = standardize(images[: self.n_train], val_images, images[self.n_train :])
        train_masks = masks[: self.n_train]
        sample = training_sample(self.n_train, len(val_masks), split)

        def evaluation_set(images: torch.Tensor, masks: torch.Tensor) -> dict[str, Any]:
            background = confusion_matrix(masks, torch.zeros_like(masks), len(shapes.CLASSES))
            baseline = {f"baseline_{k}": v for k, v in segmentation_scores(background).items() if k != "per_class_iou"}
            return {"images": images, "masks": masks, "baseline": baseline}

        return TaskData(
            train={"images": train_images, "masks": train_masks},
            validation=evaluation_set(val_images, val_masks),
            test=evaluation_set(test_images, masks[self.n_train :]),
            train_sample=evaluation_set(train_images[sample], train_masks[sample]),
            info={
                "dataset": self.dataset,
                "in_channels": train_images.shape[1],
                "num_classes": len(shapes.CLASSES),
                "image_size": size,
                "classes": list(shapes.CLASSES),
                "validation": "generated",
                "fingerprint": fingerprint(images, masks, val_images, val_masks),
            },
        )

    def training_loss(self, model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss(model(batch["images"]), batch["masks"])

    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device, split: Split) -> dict[str, Any]:
        test = data.split(split)
        masks = test["masks"].to(device)
        logits = torch.cat([model(chunk.to(device)).float() for chunk in test["images"].split(self.eval_batch_size)])
        confusion = confusion_matrix(masks, logits.argmax(dim=1), data.info["num_classes"])
        return {**segmentation_scores(confusion), "loss": loss(logits, masks).item(), **test["baseline"]}


@hookimpl
def cnnbench_register_tasks(register: Register) -> None:
    register("segmentation", Segmentation, dataset="shapes", n_train=1000, n_test=200, image_size=32, data_seed=0, eval_batch_size=100)
