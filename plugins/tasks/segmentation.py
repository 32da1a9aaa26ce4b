"""Semantic segmentation: an FCN labels every pixel of generated shapes scenes (background, circle, square,
triangle); scored by pixel accuracy and mean IoU."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from cnnbench import hookimpl
from cnnbench.data import shapes, standardize
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.parts import Parts
from cnnbench.tasks import Task, TaskData


class FCN(nn.Module):
    """A fully convolutional network (Long et al. 2015) scaled to small images.

    ``depth`` stages of two 3x3 convolution blocks and a 2x2 pooling (output stride 2^depth); a 1x1 score
    layer gives coarse class scores, and the registry's ``transposed_conv`` (bilinear-initialised, learned)
    upsamples them. With ``skips`` = s, the scores are upsampled x2 and added to 1x1 scores of the s
    shallower pooling outputs in turn before the final upsampling by 2^(depth − s): depth 3 with s = 0, 1, 2
    is the analogue of FCN-32s, -16s, -8s. The paper starts its score layers at zero on top of pretrained
    VGG features; here everything trains from scratch and they keep PyTorch's default init, which learned
    a little faster than zeros on the shapes scenes (mean IoU 0.63 vs 0.61 after 8 epochs, one trial).
    """

    tasks: ClassVar[tuple[str, ...]] = ("segmentation",)

    def __init__(self, parts: Parts, in_channels: int, num_classes: int, image_size: int, width: int = 16, depth: int = 3, skips: int = 1) -> None:
        require(isinstance(width, int) and width >= 1, f"width must be an integer >= 1, got {width!r}")
        require(isinstance(depth, int) and depth >= 1, f"depth must be an integer >= 1, got {depth!r}")
        require(isinstance(skips, int) and 0 <= skips < depth, f"skips must be an integer in [0, depth - 1] = [0, {depth - 1}], got {skips!r}")
        require(image_size % 2**depth == 0, f"image_size must be a multiple of 2^depth = {2**depth}, got {image_size}")
        super().__init__()
        widths = [in_channels] + [width * 2**stage for stage in range(depth)]
        self.stages = nn.ModuleList(
            nn.Sequential(parts.conv_block(c_in, c_out, 3, padding=1), parts.conv_block(c_out, c_out, 3, padding=1), parts.pool(c_out))
            for c_in, c_out in zip(widths, widths[1:])
        )
        # deepest stage first, then the skipped ones from deep to shallow
        self.scores = nn.ModuleList(nn.Conv2d(channels, num_classes, 1) for channels in widths[:0:-1][: skips + 1])

        def upsample(factor: int) -> nn.Module:
            node = {"name": "transposed_conv", "scale_factor": factor, "bilinear": True}
            return parts.registry.create("layer", node, in_channels=num_classes, out_channels=num_classes)

        self.fuse = nn.ModuleList(upsample(2) for _ in range(skips))
        self.upsample = upsample(2 ** (depth - skips))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled, x = [], images
        for stage in self.stages:
            x = stage(x)
            pooled.append(x)
        scores = self.scores[0](pooled[-1])
        for up, score, features in zip(self.fuse, self.scores[1:], reversed(pooled[:-1])):
            scores = up(scores) + score(features)
        return self.upsample(scores)

    @classmethod
    def example(cls) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]]:
        return {"in_channels": 3, "num_classes": 4, "image_size": 16}, (torch.randn(2, 3, 16, 16),)


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

    def load_data(self, root: Path, image_size: int | None, seed: int) -> TaskData:
        size = image_size or self.image_size
        images, masks = shapes.segmentation(self.n_train + self.n_test, size, self.data_seed)
        train_images, test_images = standardize(images[: self.n_train], images[self.n_train :])
        test_masks = masks[self.n_train :]
        background = confusion_matrix(test_masks, torch.zeros_like(test_masks), len(shapes.CLASSES))
        return TaskData(
            train={"images": train_images, "masks": masks[: self.n_train]},
            test={
                "images": test_images,
                "masks": test_masks,
                "baseline": {f"baseline_{k}": v for k, v in segmentation_scores(background).items() if k != "per_class_iou"},
            },
            info={
                "dataset": self.dataset,
                "in_channels": train_images.shape[1],
                "num_classes": len(shapes.CLASSES),
                "image_size": size,
                "classes": list(shapes.CLASSES),
            },
        )

    def training_loss(self, model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss(model(batch["images"]), batch["masks"])

    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device) -> dict[str, Any]:
        test = data.test
        masks = test["masks"].to(device)
        logits = torch.cat([model(chunk.to(device)).float() for chunk in test["images"].split(self.eval_batch_size)])
        confusion = confusion_matrix(masks, logits.argmax(dim=1), data.info["num_classes"])
        return {**segmentation_scores(confusion), "loss": loss(logits, masks).item(), **test["baseline"]}


@hookimpl
def cnnbench_register_models(register: Register) -> None:
    register("fcn", FCN, width=16, depth=3, skips=1)


@hookimpl
def cnnbench_register_tasks(register: Register) -> None:
    register("segmentation", Segmentation, dataset="shapes", n_train=1000, n_test=200, image_size=32, data_seed=0, eval_batch_size=100)
