"""Datasets as a kind: ``load_dataset(name, root)`` finds the registered loader, checks it, and caches it per process.

A dataset plugin registers ``factory(root, limit, **hp) -> ImageSplits`` through
``cnnbench_register_datasets``; ``task.dataset=NAME`` picks it and ``data.root`` is the ``root``.
Loaded datasets are kept for the life of the process, keyed by (name, root, options, limit), so the trials
of a sweep and the jobs a launcher runs in one process read and decode the files once (issue 14).
``CNNBENCH_DATA_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cnnbench.data.imageset import ImageSet
from cnnbench.errors import DataError, InvalidHyperparameterError
from cnnbench.registry import Registry

CACHE_ENV = "CNNBENCH_DATA_CACHE"
#: datasets kept at once: a sweep over a few datasets reuses each, a long session does not grow without end
CACHE_SIZE = 4
SPLITS = ("train", "validation", "test")


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


_cache: OrderedDict[Hashable, ImageSplits] = OrderedDict()


def _frozen(value: Any) -> Hashable:
    if isinstance(value, Mapping):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


def cache_enabled() -> bool:
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def clear_cache() -> None:
    """Forget every dataset loaded so far (benchmarks, and tests that rewrite files under one root)."""
    _cache.clear()


def load_dataset(
    name: str,
    root: Path | str,
    *,
    limit: int | None = None,
    options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> ImageSplits:
    """The splits of the registered dataset ``name`` under ``root`` (the first ``limit`` images of each).

    ``options`` are the dataset's hyperparameters over its registered defaults. An unknown name raises
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
    key = (component.name, component.plugin, str(root.expanduser().resolve()), _frozen(dict(options or {})), limit)
    if cache_enabled() and key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    splits = component.build(dict(options or {}), root=root, limit=limit)
    _check(name, root, splits)
    if cache_enabled():
        _cache[key] = splits
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return splits


def _check(name: str, root: Path, splits: Any) -> None:
    """Refuse what training cannot use, before it starts: a wrong return type, an empty split, mismatched classes."""
    if not isinstance(splits, ImageSplits):
        raise DataError(f"dataset {name!r} returned a {type(splits).__name__}, not cnnbench.data.ImageSplits")
    for split, images in splits.items():
        if len(images) == 0:
            raise DataError(f"dataset {name!r}: the {split} split under {root} has 0 images; every split needs at least one")
        if images.classes != splits.train.classes or images.images.shape[1:2] != splits.train.images.shape[1:2]:
            raise DataError(f"dataset {name!r}: the {split} split has other classes or channels than the train split")
