"""IDX files: MNIST and the datasets that copy its format (Fashion-MNIST, KMNIST, ...), any image size.

IDX is a big-endian header (magic ``0x0000 08 nd``: unsigned bytes, ``nd`` dimensions; then ``nd``
int32 sizes) followed by the raw bytes. Files may be raw or ``.gz``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from cnnbench.data.files import find_file, open_data
from cnnbench.data.imageset import ImageSet, from_bytes
from cnnbench.errors import DataError

#: the standard file names of each split, images first
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
UNSIGNED_BYTE = 0x08
MNIST_CLASSES = tuple(str(digit) for digit in range(10))


def read_idx(path: Path, ndim: int, limit: int | None = None) -> tuple[np.ndarray, int]:
    """The first ``limit`` items (all when None) of an unsigned-byte IDX file, and the count it declares.

    Only the requested bytes are decompressed, so a small ``limit`` is fast; without one, a file that
    holds more or fewer bytes than its header declares is rejected.
    """
    magic = UNSIGNED_BYTE << 8 | ndim  # 2051 for images, 2049 for labels
    with open_data(path) as stream:
        header = stream.read(4 + 4 * ndim)
        if len(header) < 4 + 4 * ndim:
            raise DataError(f"{path}: {len(header)} bytes, too short for an IDX header of {4 + 4 * ndim} bytes")
        found = int.from_bytes(header[:4], "big")
        if found != magic:
            raise DataError(
                f"{path}: IDX magic number {found}, expected {magic} (unsigned bytes in {ndim} dimension(s))"
            )
        dims = [int(size) for size in np.frombuffer(header, ">i4", offset=4)]
        if min(dims) < 0:
            raise DataError(f"{path}: negative size in IDX header {dims}")
        declared, item = dims[0], math.prod(dims[1:])
        count = declared if limit is None else min(limit, declared)
        payload = stream.read(count * item)
        if len(payload) < count * item:
            holds = len(payload) // item
            raise DataError(f"{path}: truncated: header declares {declared} items but the file holds {holds}")
        if limit is None and stream.read(1):
            raise DataError(f"{path}: holds more data than the {declared} items its header declares")
    return np.frombuffer(payload, np.uint8).reshape(count, *dims[1:]), declared


def read_split(
    dataset: str, directory: Path, split: str, limit: int | None, expected: str
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Images (N, 1, H, W) in [0, 1], their labels, and the largest label of the whole split.

    The label file is always read in full (one byte an image), so the classes never depend on ``limit``.
    """
    image_path, label_path = (find_file(dataset, directory, name, expected) for name in FILES[split])
    images, image_count = read_idx(image_path, 3, limit)
    labels, label_count = read_idx(label_path, 1)
    if image_count != label_count:
        raise DataError(f"{label_path}: {label_count} labels for the {image_count} images of {image_path.name}")
    head = torch.from_numpy(labels[: len(images)].astype(np.int64))
    return from_bytes(images[:, None]), head, int(labels.max(initial=0))


def load_mnist(root: Path, split: str, limit: int | None) -> ImageSet:
    """MNIST from ``root/mnist``: 60,000 training and 10,000 test digits of 28x28."""
    directory = root / "mnist"
    images, labels, largest = read_split(
        "mnist", directory, split, limit, "the four IDX files of MNIST (http://yann.lecun.com/exdb/mnist/)"
    )
    if largest >= len(MNIST_CLASSES):
        raise DataError(f"mnist: label {largest} in the {split} labels in {directory}; MNIST labels are digits 0-9")
    return ImageSet(images, labels, MNIST_CLASSES)


def load_idx(root: Path, split: str, limit: int | None) -> ImageSet:
    """Any IDX dataset in ``root`` itself; classes are "0" up to the largest label of the split."""
    names = ", ".join(FILES["train"] + FILES["test"])
    images, labels, largest = read_split("idx", root, split, limit, f"the four standard IDX files ({names}), raw or .gz")
    return ImageSet(images, labels, tuple(str(label) for label in range(largest + 1)))
