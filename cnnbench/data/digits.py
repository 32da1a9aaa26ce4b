"""scikit-learn's bundled 8x8 digits (1,797 images): a real dataset that needs no files at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnnbench.data.imageset import ImageSet

TEST_FRACTION = 0.25
SPLIT_SEED = 0
CLASSES = tuple(str(digit) for digit in range(10))


def load_digits(root: Path, split: str, limit: int | None) -> ImageSet:
    """A fixed stratified split (25% test, ``random_state=0``): 1,347 training, 450 test images; ``root`` is unused."""
    # imported here: scikit-learn takes a second to import, and only this dataset needs it
    from sklearn.datasets import load_digits as bundled_digits
    from sklearn.model_selection import train_test_split

    bunch = bundled_digits()
    train_images, test_images, train_labels, test_labels = train_test_split(
        bunch.images, bunch.target, test_size=TEST_FRACTION, stratify=bunch.target, random_state=SPLIT_SEED
    )
    images, labels = (train_images, train_labels) if split == "train" else (test_images, test_labels)
    images, labels = images[:limit], labels[:limit]
    # pixel values are counts of set bits in 4x4 blocks of a 32x32 bitmap: 0..16
    return ImageSet(
        torch.from_numpy(images[:, None].astype(np.float32) / 16), torch.from_numpy(labels.astype(np.int64)), CLASSES
    )
