"""CIFAR-10, binary version only: a record is a label byte, then 3x32x32 pixel bytes (red, green, blue planes).

The Python version is a pickle, and unpickling runs code from the file; the binary version is plain bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnnbench.data.files import how_to_get
from cnnbench.data.imageset import ImageSet, from_bytes
from cnnbench.errors import DataError

FOLDERS = ("cifar10", "cifar10-subset", "cifar-10-batches-bin")
SHAPE = (3, 32, 32)
RECORD = 1 + 3 * 32 * 32
STANDARD_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
EXPECTED = (
    "data_batch_*.bin and test_batch.bin of the CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar.html)"
)


def load_cifar10(root: Path, split: str, limit: int | None) -> ImageSet:
    """CIFAR-10 from the first of ``root/cifar10``, ``root/cifar10-subset``, ``root/cifar-10-batches-bin``.

    ``train`` is every ``data_batch_*.bin`` in numeric order (any number of files and records), ``test`` is
    ``test_batch.bin``; class names come from ``batches.meta.txt`` when present.
    """
    folder = next((root / name for name in FOLDERS if (root / name).is_dir()), None)
    if folder is None:
        tried = ", ".join(str(root / name) for name in FOLDERS)
        raise DataError(
            f"cifar10: none of the folders {tried} exists; expected {EXPECTED}; {how_to_get(root / FOLDERS[-1])}"
        )
    pattern = "data_batch_*.bin" if split == "train" else "test_batch.bin"
    # (length, name) orders data_batch_2 before data_batch_10
    files = sorted(folder.glob(pattern), key=lambda path: (len(path.name), path.name))
    if not files:
        raise DataError(f"cifar10: no {pattern} in {folder}; expected {EXPECTED}; {how_to_get(folder)}")
    classes = read_classes(folder / "batches.meta.txt")
    records = []
    for path in files:
        remaining = None if limit is None else limit - sum(map(len, records))
        records.append(read_records(path, remaining, len(classes)))
    data = np.concatenate(records)
    labels = torch.from_numpy(data[:, 0].astype(np.int64))
    return ImageSet(from_bytes(data[:, 1:].reshape(-1, *SHAPE)), labels, classes)


def read_classes(path: Path) -> tuple[str, ...]:
    """The non-blank lines of ``batches.meta.txt``, or the standard ten names when the file is absent."""
    if not path.is_file():
        return STANDARD_CLASSES
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def read_records(path: Path, limit: int | None, num_classes: int) -> np.ndarray:
    """The first ``limit`` records (all when None) of one batch file, as a (records, 3073) uint8 array."""
    size = path.stat().st_size
    if size % RECORD:
        raise DataError(
            f"{path}: {size} bytes is not a whole number of {RECORD}-byte records (label + 3x32x32 pixels)"
        )
    count = size // RECORD if limit is None else min(limit, size // RECORD)
    data = np.fromfile(path, np.uint8, count=count * RECORD).reshape(count, RECORD)
    if data[:, 0].max(initial=0) >= num_classes:
        raise DataError(f"{path}: label {data[:, 0].max()} but there are {num_classes} classes")
    return data
