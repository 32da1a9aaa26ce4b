"""``load_images``: one entry point for every dataset on disk (or bundled), by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from cnnbench.data.cifar10 import load_cifar10
from cnnbench.data.digits import load_digits
from cnnbench.data.idx import load_idx, load_mnist
from cnnbench.data.imageset import ImageSet
from cnnbench.data.usps import load_usps
from cnnbench.errors import InvalidHyperparameterError, UnknownComponentError

Loader = Callable[[Path, str, int | None], ImageSet]
LOADERS: dict[str, Loader] = {
    "digits": load_digits,
    "mnist": load_mnist,
    "idx": load_idx,
    "usps": load_usps,
    "cifar10": load_cifar10,
}
DATASETS = tuple(LOADERS)
SPLITS = ("train", "test")


def load_images(
    dataset: str, root: Path, split: Literal["train", "test"], *, limit: int | None = None
) -> ImageSet:
    """The ``split`` of ``dataset`` (one of :data:`DATASETS`) found under ``root``; the first ``limit`` samples if given.

    Missing or corrupt files raise :class:`cnnbench.errors.DataError`; nothing is ever downloaded.

    >>> load_images("digits", Path("."), "test", limit=5).images.shape
    torch.Size([5, 1, 8, 8])
    """
    if dataset not in LOADERS:
        raise UnknownComponentError("dataset", dataset, DATASETS)
    if split not in SPLITS:
        raise UnknownComponentError("split", split, SPLITS)
    if limit is not None and limit < 1:
        raise InvalidHyperparameterError(f"limit must be >= 1 or None, got {limit}")
    return LOADERS[dataset](Path(root), split, limit)
