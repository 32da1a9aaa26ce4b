"""Datasets as a kind: ``load_dataset(name, root)`` finds the registered loader, checks it, and caches it per process.

A dataset plugin registers ``factory(root, limit, **hp) -> ImageSplits`` through
``cnnbench_register_datasets``; ``task.dataset=NAME`` picks it and ``data.root`` is the ``root``.
Loaded datasets are kept for the life of the process, keyed by (name, root, options, limit), so the trials
of a sweep and the jobs a launcher runs in one process read and decode the files once (issue 14).
``CNNBENCH_DATA_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import logging
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import torch

from cnnbench.data.imageset import ImageSet
from cnnbench.errors import DataError, InvalidHyperparameterError
from cnnbench.registry import Registry

CACHE_ENV = "CNNBENCH_DATA_CACHE"
#: datasets kept at once: a sweep over a few datasets reuses each, a long session does not grow without end
CACHE_SIZE = 4
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageSplits:
    """A dataset's labelled images: train and test, and validation when the dataset has a split of its own.

    All splits share ``classes`` (labels index it) and the channel count; ``validation`` is ``None`` when
    the dataset has none, and the caller carves one from ``train`` (``cnnbench.data.splits``).
    """

    train: ImageSet
    test: ImageSet
    validation: ImageSet | None = None

    def items(self) -> list[tuple[str, ImageSet]]:
        """(split name, images) for every split present, in the order train, validation, test."""
        present = {"train": self.train, "validation": self.validation, "test": self.test}
        return [(split, images) for split, images in present.items() if images is not None]

    @cached_property
    def fingerprint(self) -> str:
        """The content hash of the images and labels (:mod:`cnnbench.data.fingerprint`), computed once per load."""
        from cnnbench.data.fingerprint import fingerprint

        own = (self.validation.images, self.validation.labels) if self.validation is not None else ()
        return fingerprint(self.train.images, self.train.labels, self.test.images, self.test.labels, *own)


class ProcessCache:
    """The last ``size`` values made for their keys in this process; off when ``$CNNBENCH_DATA_CACHE`` is 0.

    A sweep over a few datasets reuses each, and a long session does not grow without end.
    """

    def __init__(self, size: int) -> None:
        self.size, self.entries = size, OrderedDict[Hashable, Any]()
        _caches.append(self)

    def get(self, key: Hashable, make: Callable[[], T], keep: bool = True) -> T:
        """The value kept for ``key``, else ``make()`` (kept only with ``keep``)."""
        if not cache_enabled():
            return make()
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        value = make()
        if not keep:
            return value
        self.entries[key] = value
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self.entries)


_caches: list[ProcessCache] = []


def frozen(value: Any) -> Hashable:
    """``value`` (nested mappings and lists) as a hashable cache key."""
    if isinstance(value, Mapping):
        return tuple(sorted((key, frozen(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return tuple(frozen(item) for item in value)
    return value


def cache_enabled() -> bool:
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def clear_cache() -> None:
    """Forget every dataset loaded and prepared so far (benchmarks, and tests that rewrite files under one root)."""
    for cache in _caches:
        cache.entries.clear()


_loaded = ProcessCache(CACHE_SIZE)


def load_dataset(
    name: str,
    root: Path | str,
    *,
    limit: int | None = None,
    options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
    keep: bool = True,
) -> ImageSplits:
    """The splits of the registered dataset ``name`` under ``root`` (the first ``limit`` images of each).

    ``options`` are the dataset's hyperparameters over its registered defaults; ``keep=False`` does not add
    the dataset to the process cache (a caller that keeps what it makes of it). An unknown name raises
    :class:`~cnnbench.errors.UnknownComponentError` with the closest names; missing files, and a split
    without a single image, raise :class:`~cnnbench.errors.DataError`. Nothing is ever downloaded.

    >>> load_dataset("digits", ".").test.images.shape
    torch.Size([450, 1, 8, 8])
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidHyperparameterError(f"limit must be >= 1 or None, got {limit}")
    if registry is None:
        from cnnbench.plugins import default_registry

        registry = default_registry()
    component = registry.get("dataset", name)
    root = Path(root)
    key = (component.name, component.plugin, str(root.expanduser().resolve()), frozen(dict(options or {})), limit)

    def load() -> ImageSplits:
        splits = component.build(dict(options or {}), root=root, limit=limit)
        _check(name, root, splits)
        return splits

    return _loaded.get(key, load, keep)


def _check(name: str, root: Path, splits: Any) -> None:
    """Refuse what training cannot use, before it starts: a wrong return type, a split that breaks the
    :class:`ImageSet` contract, an empty split, mismatched classes; warn once of pixels outside [0, 1]."""
    if not isinstance(splits, ImageSplits):
        raise DataError(f"dataset {name!r} returned a {type(splits).__name__}, not cnnbench.data.ImageSplits")
    outside = []
    for split, images in splits.items():
        low, high = _check_split(name, root, split, images)
        if low < 0 or high > 1:
            outside.append(f"{split} [{low:.3g}, {high:.3g}]")
        if images.classes != splits.train.classes or images.images.shape[1:2] != splits.train.images.shape[1:2]:
            raise DataError(f"dataset {name!r}: the {split} split has other classes or channels than the train split")
    if outside:
        log.warning(
            "warning: dataset %r: pixel values outside [0, 1] (%s), where cnnbench.data.ImageSet expects [0, 1]; training goes on"
            " (each split is standardized with the training split's statistics), but check that the loader scales them",
            name,
            ", ".join(outside),
        )


def _check_split(name: str, root: Path, split: str, images: ImageSet) -> tuple[float, float]:
    """One split against the :class:`ImageSet` contract (vectorized: one pass over the pixels and the labels); its
    smallest and largest pixel value. The types and shapes come first: the count of images means nothing
    before them, and the value checks cannot run over an empty split."""

    def refuse(problem: str, allowed: str) -> DataError:
        return DataError(f"dataset {name!r}: the {split} split has {problem}; {allowed}")

    pixels, labels, count = images.images, images.labels, len(images.classes)
    if not isinstance(pixels, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise refuse(f"images of type {type(pixels).__name__} and labels of type {type(labels).__name__}", "both must be torch.Tensor")
    if pixels.dim() != 4:
        raise refuse(f"images of shape {tuple(pixels.shape)}", "images must be (N, C, H, W)")
    if labels.dim() != 1 or len(labels) != len(pixels):
        raise refuse(f"{len(pixels)} images but {len(labels)} labels" if labels.dim() == 1 else f"labels of shape {tuple(labels.shape)}", "one label per image")
    if min(pixels.shape[1:]) < 1:
        raise refuse(f"images of shape {tuple(pixels.shape)}", "C, H and W must be >= 1 in images of (N, C, H, W)")
    if pixels.dtype != torch.float32:
        raise refuse(f"{str(pixels.dtype).removeprefix('torch.')} images", "images must be float32 in [0, 1] (images.float() for float64, images.float() / 255 for uint8)")
    if labels.dtype != torch.int64:
        raise refuse(f"{str(labels.dtype).removeprefix('torch.')} labels", "labels must be int64 class indices")
    if len(pixels) == 0:
        raise DataError(f"dataset {name!r}: the {split} split under {root} has 0 images; every split needs at least one")
    low_label, high_label = (int(value) for value in torch.aminmax(labels))
    if low_label < 0 or high_label >= count:
        raise refuse(f"label {low_label if low_label < 0 else high_label}", f"labels must be in range({count}), one per class of {count}")
    low, high = (float(value) for value in torch.aminmax(pixels))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise refuse("non-finite pixel values (nan or inf)", "every pixel must be a finite float32, in [0, 1]")
    return low, high
