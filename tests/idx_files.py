"""IDX files written independently of the loader, for tests that need a dataset on disk."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file holding ``array``."""
    return struct.pack(f">I{array.ndim}i", 0x0800 | array.ndim, *array.shape) + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, images: dict[str, np.ndarray], labels: dict[str, np.ndarray], gz: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, (image_name, label_name) in NAMES.items():
        for name, array in ((image_name, images[split]), (label_name, labels[split])):
            data = idx_bytes(array)
            (folder / (name + ".gz")).write_bytes(gzip.compress(data)) if gz else (folder / name).write_bytes(data)
