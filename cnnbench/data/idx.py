"""IDX files: MNIST and the datasets that copy its format (Fashion-MNIST, KMNIST, ...), any image size.

IDX is a big-endian header (magic ``0x0000 08 nd``: unsigned bytes, ``nd`` dimensions; then ``nd``
int32 sizes) followed by the raw bytes. Files may be raw or ``.gz``. The header is never trusted with
memory: a raw file's size is checked against it before anything is read, and a compressed file is read
in bounded chunks, so memory follows what the file holds rather than what its header claims (issue 11).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import BinaryIO

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
#: the most bytes asked of a compressed stream at once (a read of n bytes allocates n bytes up front)
READ_CHUNK = 2**20


def read_idx(path: Path, ndim: int, limit: int | None = None) -> tuple[np.ndarray, int]:
    """The first ``limit`` items (all when None) of an unsigned-byte IDX file, and the count it declares.

    Only the requested bytes are decompressed, so a small ``limit`` is fast; without one, a file that
    holds more or fewer bytes than its header declares is rejected.
    """
    magic = UNSIGNED_BYTE << 8 | ndim  # 2051 for images, 2049 for labels
    header_size = 4 + 4 * ndim
    with open_data(path) as stream:
        header = stream.read(header_size)
        if len(header) < header_size:
            raise DataError(f"{path}: {len(header)} bytes, too short for an IDX header of {header_size} bytes")
        found = int.from_bytes(header[:4], "big")
        if found != magic:
            raise DataError(
                f"{path}: IDX magic number {found}, expected {magic} (unsigned bytes in {ndim} dimension(s))"
            )
        dims = [int(size) for size in np.frombuffer(header, ">i4", offset=4)]
        if min(dims) < 0 or 0 in dims[1:]:
            raise DataError(f"{path}: IDX header sizes {dims}; expected a count >= 0 and item sizes >= 1")
        declared, item = dims[0], math.prod(dims[1:])
        count = declared if limit is None else min(limit, declared)
        if path.suffix != ".gz":  # the size on disk bounds the data before anything is allocated
            _check_size(path, dims, count, path.stat().st_size - header_size, whole_file=limit is None)
        payload = _read_at_most(stream, count * item)
        if len(payload) < count * item:
            _check_size(path, dims, count, len(payload), whole_file=False)
        if limit is None and stream.read(1):
            raise DataError(f"{path}: holds more data than the {declared} items its header declares")
    return np.frombuffer(payload, np.uint8).reshape(count, *dims[1:]), declared


def _check_size(path: Path, dims: list[int], count: int, holds: int, *, whole_file: bool) -> None:
    """Refuse a file whose ``holds`` data bytes are fewer than ``count`` items of the header's ``dims``
    (or, for the ``whole_file``, other than the items it declares), in one line saying both sizes."""
    declared, item = dims[0], math.prod(dims[1:])
    if holds < count * item:
        found = holds // item if item else 0
        shape = "x".join(map(str, dims[1:])) or "1"
        raise DataError(
            f"{path}: truncated: header declares {declared} items but the file holds {found}"
            f" ({holds:,} data bytes; {count:,} items of {shape} bytes need {count * item:,})"
        )
    if whole_file and holds > declared * item:
        raise DataError(f"{path}: holds more data than the {declared} items its header declares")


def _read_at_most(stream: BinaryIO, size: int) -> bytearray:
    """Up to ``size`` bytes of ``stream``, in chunks: memory grows with the data found, not with ``size``."""
    payload = bytearray()
    while len(payload) < size:
        chunk = stream.read(min(READ_CHUNK, size - len(payload)))
        if not chunk:
            break
        payload += chunk
    return payload


def read_split(
    dataset: str, directory: Path, split: str, limit: int | None, expected: str
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Images (N, 1, H, W) in [0, 1], their labels, and the largest label of the whole split.

    The label file is always read in full (one byte an image), so the classes never depend on ``limit``.
    """
    image_path, label_path = (find_file(dataset, directory, name, expected) for name in FILES[split])
    pixels, image_count = read_idx(image_path, 3, limit)
    images = from_bytes(pixels[:, None])
    del pixels  # the bytes read: only the float images are kept
    labels, label_count = read_idx(label_path, 1)
    if image_count != label_count:
        raise DataError(f"{label_path}: {label_count} labels for the {image_count} images of {image_path.name}")
    head = torch.from_numpy(labels[: len(images)].astype(np.int64))
    return images, head, int(labels.max(initial=0))


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
