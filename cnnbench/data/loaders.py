"""``load_images``: one split of a registered dataset, by name (see :func:`cnnbench.data.load_dataset`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cnnbench.data.dataset import load_dataset
from cnnbench.data.imageset import ImageSet
from cnnbench.errors import DataError, UnknownComponentError

SPLITS = ("train", "validation", "test")


def load_images(
    dataset: str, root: Path, split: Literal["train", "validation", "test"], *, limit: int | None = None
) -> ImageSet:
    """The ``split`` of the registered ``dataset`` found under ``root``; the first ``limit`` samples if given.

    Missing or corrupt files raise :class:`cnnbench.errors.DataError`; nothing is ever downloaded.

    >>> load_images("digits", Path("."), "test", limit=5).images.shape
    torch.Size([5, 1, 8, 8])
    """
    if split not in SPLITS:
        raise UnknownComponentError("split", split, SPLITS)
    images = getattr(load_dataset(dataset, root, limit=limit), split)
    if images is None:
        raise DataError(f"dataset {dataset!r} has no validation split of its own under {root}")
    return images
