"""Labelled image datasets made ready for a task: train, validation and test, resized and standardized.

Classification and metric learning train on the same labelled images; this is the one place that turns a
dataset's splits into the protocol's three (validation carved from training when the dataset has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnnbench.data.fingerprint import fingerprint
from cnnbench.data.imageset import resize, standardize
from cnnbench.data.loaders import load_images
from cnnbench.data.splits import SplitSettings, carve_validation, training_sample


@dataclass
class LabelledSplits:
    """``{"images", "labels"}`` for each split, and the facts a model and a record need (``info``)."""

    train: dict[str, torch.Tensor]
    validation: dict[str, torch.Tensor]
    test: dict[str, torch.Tensor]
    train_sample: dict[str, torch.Tensor]
    info: dict[str, Any]


def labelled_splits(dataset: str, root: Path, image_size: int | None, split: SplitSettings, limit: int | None = None) -> LabelledSplits:
    """The three splits of ``dataset``, standardized with the training split's statistics."""
    train, test = (load_images(dataset, root, name, limit=limit) for name in ("train", "test"))
    train_index, val_index = carve_validation(train.labels, split)
    size = image_size or train.images.shape[-1]
    images = resize(train.images, size)
    fit, validation, test_images = standardize(images[train_index], images[val_index], resize(test.images, size))
    fit_labels = train.labels[train_index]
    sample = training_sample(len(train_index), len(val_index), split)
    return LabelledSplits(
        train={"images": fit, "labels": fit_labels},
        validation={"images": validation, "labels": train.labels[val_index]},
        test={"images": test_images, "labels": test.labels},
        train_sample={"images": fit[sample], "labels": fit_labels[sample]},
        info={
            "dataset": dataset,
            "in_channels": fit.shape[1],
            "num_classes": len(train.classes),
            "image_size": size,
            "classes": list(train.classes),
            "validation": "carved",
            "fingerprint": fingerprint(train.images, train.labels, test.images, test.labels),
        },
    )
