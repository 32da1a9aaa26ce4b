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
    counts = [record_count(path) for path in files]  # every size checked before anything is allocated
    total = sum(counts) if limit is None else min(limit, sum(counts))
    data = np.empty((total, RECORD), np.uint8)  # one buffer for all files: no concatenated copy
    start = 0
    for path, count in zip(files, counts, strict=True):
        if start == total:  # the limit is reached
            break
        take = min(count, total - start)
        read_records(path, data[start : start + take], len(classes))
        start += take
    labels = torch.from_numpy(data[:, 0].astype(np.int64))
    return ImageSet(from_bytes(data[:, 1:]).unflatten(1, SHAPE), labels, classes)


def read_classes(path: Path) -> tuple[str, ...]:
    """The non-blank lines of ``batches.meta.txt``, or the standard ten names when the file is absent."""
    if not path.is_file():
        return STANDARD_CLASSES
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def record_count(path: Path) -> int:
    """How many records ``path`` holds; an empty file, or one that is not whole records, is a :class:`DataError`."""
    size = path.stat().st_size
    if size == 0 or size % RECORD:
        what = "empty" if size == 0 else f"{size} bytes is not a whole number of {RECORD}-byte records"
        raise DataError(f"{path}: {what}; expected {RECORD}-byte records (a label byte, then 3x32x32 pixel bytes)")
    return size // RECORD


def read_records(path: Path, into: np.ndarray, num_classes: int) -> None:
    """Fill ``into`` (records, 3073) with the first records of one batch file, checking their labels."""
    try:
        with path.open("rb") as stream:
            read = stream.readinto(memoryview(into).cast("B"))
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error}") from error
    if read != into.nbytes:  # the file shrank since its size was checked
        raise DataError(f"{path}: truncated: {read} bytes read, {into.nbytes} expected")
    if into[:, 0].max(initial=0) >= num_classes:
        raise DataError(f"{path}: label {into[:, 0].max()} but there are {num_classes} classes")
