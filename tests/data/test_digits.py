"""scikit-learn's bundled digits: a fixed, stratified, disjoint 75/25 split scaled to [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from cnnbench.data import load_images


def test_split_is_a_stratified_partition_of_all_1797_digits_scaled_to_unit_range() -> None:
    train = load_images("digits", Path("/nowhere"), "train")  # root is not used
    test = load_images("digits", Path("/nowhere"), "test")
    assert train.images.shape == (1347, 1, 8, 8) and test.images.shape == (450, 1, 8, 8)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert train.images.min() == 0 and train.images.max() == 1 and train.classes == tuple("0123456789")

    bunch = load_digits()
    rows = np.concatenate([train.images.flatten(1).numpy(), test.images.flatten(1).numpy()]) * 16
    labels = np.concatenate([train.labels.numpy(), test.labels.numpy()])
    # the two splits together hold every (image, label) pair exactly once
    ours = sorted(map(tuple, np.column_stack([rows, labels]).tolist()))
    theirs = sorted(map(tuple, np.column_stack([bunch.data, bunch.target]).tolist()))
    assert ours == theirs
    # stratified: every class is within one image of a quarter in the test split
    per_class = np.bincount(bunch.target)
    assert np.all(np.abs(np.bincount(test.labels.numpy()) - per_class * 0.25) <= 1)


def test_split_is_the_same_every_time_and_limit_takes_its_head() -> None:
    first, again = load_images("digits", Path("."), "test"), load_images("digits", Path("."), "test", limit=20)
    assert torch.equal(first.images[:20], again.images) and torch.equal(first.labels[:20], again.labels)
