"""Labelled image datasets made ready for a task: train, validation and test, resized and standardized.

Classification and metric learning train on the same labelled images; this is the one place that turns a
dataset's splits into the protocol's three (validation carved from training when the dataset has none).
Prepared splits are kept per process (:class:`cnnbench.data.dataset.ProcessCache`), keyed by the dataset,
root, image size, split settings and limit: the trials of a sweep and the jobs of a multirun in one
process prepare them once. Every call returns new dicts over the shared tensors, which nobody modifies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import torch

from cnnbench.data.dataset import ProcessCache, frozen, load_dataset
from cnnbench.data.imageset import channel_statistics, resized_rows
from cnnbench.data.splits import SplitSettings, carve_validation, training_sample


@dataclass
class LabelledSplits:
    """``{"images", "labels"}`` for each split, and the facts a model and a record need (``info``)."""

    train: dict[str, torch.Tensor]
    validation: dict[str, torch.Tensor]
    test: dict[str, torch.Tensor]
    train_sample: dict[str, torch.Tensor]
    info: dict[str, Any]


#: prepared datasets kept at once (MNIST's take about 0.3 GB)
_prepared = ProcessCache(2)


def labelled_splits(
    dataset: str, root: Path, image_size: int | None, split: SplitSettings, limit: int | None = None, options: Mapping[str, Any] | None = None
) -> LabelledSplits:
    """The three splits of ``dataset``, standardized with the training split's statistics.

    Validation is the dataset's own split where it has one (an image folder's ``val/``), else carved from
    the training split. ``options`` are the dataset's own (``data.imagefolder.max_size``).
    """
    options = dict(options or {})
    key = (dataset, str(Path(root).expanduser().resolve()), image_size, astuple(split), limit, frozen(options))
    shared = _prepared.get(key, lambda: _prepare(dataset, root, image_size, split, limit, options))
    return LabelledSplits(
        dict(shared.train), dict(shared.validation), dict(shared.test), dict(shared.train_sample), dict(shared.info)
    )


def _prepare(dataset: str, root: Path, image_size: int | None, split: SplitSettings, limit: int | None, options: dict[str, Any]) -> LabelledSplits:
    """Resize, carve and standardize with one copy of each split alive at a time (issue 14.4).

    Each prepared tensor is allocated once and filled in chunks (:func:`resized_rows`), standardized in
    place, and the loaded images of a split are released as soon as its prepared copy exists: at the
    peak a process holds the loaded images and the prepared training split, never two copies of one
    split beside intermediate ones. Every value is the one the whole-split formulas give.
    """
    loaded = load_dataset(dataset, root, limit=limit, options=options, keep=False)  # the prepared splits are kept instead: memory once
    train, own_validation, test = loaded.train, loaded.validation, loaded.test
    size = image_size or train.images.shape[-1]
    info = {
        "dataset": dataset,
        "in_channels": train.images.shape[1],
        "num_classes": len(train.classes),
        "image_size": size,
        "classes": list(train.classes),
        "validation": "carved" if own_validation is None else "dataset",
        "fingerprint": loaded.fingerprint,  # hashes the loaded tensors, so before they are released
    }
    del loaded
    if own_validation is None:
        train_index, val_index = carve_validation(train.labels, split)
        fit, fit_labels = resized_rows(train.images, size, train_index), train.labels[train_index]
        validation, val_labels = resized_rows(train.images, size, val_index), train.labels[val_index]
    else:
        fit, fit_labels = resized_rows(train.images, size), train.labels
        validation, val_labels = resized_rows(own_validation.images, size), own_validation.labels
    del train, own_validation  # the loaded training (and validation) images, unless a caller keeps them too
    mean, std = channel_statistics(fit)
    for images in (fit, validation):
        images.sub_(mean).div_(std)
    test_images, test_labels = resized_rows(test.images, size), test.labels
    del test
    test_images.sub_(mean).div_(std)
    sample = training_sample(len(fit_labels), len(val_labels), split)
    return LabelledSplits(
        train={"images": fit, "labels": fit_labels},
        validation={"images": validation, "labels": val_labels},
        test={"images": test_images, "labels": test_labels},
        train_sample={"images": fit[sample], "labels": fit_labels[sample]},
        info=info,
    )
