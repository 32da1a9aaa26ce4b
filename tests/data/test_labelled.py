"""Prepared splits: the values of the whole-split formulas, with one copy of each split alive at a time (issue 14.4)."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from idx_files import write_idx_set

from cnnbench.data import imageset, labelled, load_dataset, resize, standardize
from cnnbench.data.labelled import labelled_splits
from cnnbench.data.splits import SplitSettings, carve_validation, training_sample


def reference(root: Path, image_size: int | None, split: SplitSettings) -> dict[str, dict[str, torch.Tensor]]:
    """The preparation as it was written before issue 14.4: whole-split resize, indexing, then standardize."""
    loaded = load_dataset("idx", root, keep=False)
    train, test = loaded.train, loaded.test
    size = image_size or train.images.shape[-1]
    images = resize(train.images, size)
    train_index, val_index = carve_validation(train.labels, split)
    fit, validation, test_images = standardize(images[train_index], images[val_index], resize(test.images, size))
    fit_labels, val_labels = train.labels[train_index], train.labels[val_index]
    sample = training_sample(len(fit_labels), len(val_labels), split)
    return {
        "train": {"images": fit, "labels": fit_labels},
        "validation": {"images": validation, "labels": val_labels},
        "test": {"images": test_images, "labels": test.labels},
        "train_sample": {"images": fit[sample], "labels": fit_labels[sample]},
    }


@pytest.fixture
def idx_set(tmp_path: Path) -> Path:
    """47 training and 11 test images of 20x12 (not square, so resizing also pads), over 4 classes."""
    rng = np.random.default_rng(1)
    images = {"train": rng.integers(0, 256, (47, 20, 12)), "test": rng.integers(0, 256, (11, 20, 12))}
    labels = {"train": np.arange(47) % 4, "test": np.arange(11) % 4}
    write_idx_set(tmp_path, images, labels)
    return tmp_path


@pytest.mark.parametrize("image_size", [32, 8, None], ids=["scaled up", "scaled down", "own size"])
def test_prepared_tensors_are_bit_identical_to_the_whole_split_formulas(
    idx_set: Path, image_size: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = image_size or 20
    monkeypatch.setattr(imageset, "CHUNK_BYTES", 3 * size * size * 4)  # chunks of 3 images, and a shorter last one
    split = SplitSettings(val_fraction=0.2, split_seed=3)
    prepared = labelled_splits("idx", idx_set, image_size, split)
    expected = reference(idx_set, image_size, split)
    for name, tensors in expected.items():
        got = getattr(prepared, name)
        for key, tensor in tensors.items():
            assert got[key].dtype == tensor.dtype and got[key].shape == tensor.shape and got[key].stride() == tensor.stride()
            assert torch.equal(got[key], tensor), f"{name} {key}"  # bit for bit: no tolerance
    assert prepared.info["fingerprint"] == load_dataset("idx", idx_set).fingerprint  # of the loaded data, as before


def test_each_split_is_released_once_prepared_and_none_is_kept_twice(idx_set: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: dict[str, weakref.ref[torch.Tensor]] = {}
    alive_when_test_is_resized: list[bool] = []

    def load(*args, **kwargs):
        splits = load_dataset(*args, **kwargs)
        loaded.update({split: weakref.ref(images.images) for split, images in splits.items()})
        return splits

    def resized_rows(images: torch.Tensor, size: int, index: torch.Tensor | None = None) -> torch.Tensor:
        if images is loaded["test"]():
            alive_when_test_is_resized.append(loaded["train"]() is not None)
        return imageset.resized_rows(images, size, index)

    monkeypatch.setattr(labelled, "load_dataset", load)
    monkeypatch.setattr(labelled, "resized_rows", resized_rows)
    prepared = labelled_splits("idx", idx_set, 32, SplitSettings())
    assert alive_when_test_is_resized == [False]  # the loaded training images went once train and validation were made
    assert loaded["test"]() is None and loaded["train"]() is None  # the cache keeps the prepared splits only
    assert prepared.train["images"].shape == (43, 1, 32, 32)


def test_standardizing_in_place_leaves_a_cached_loaded_dataset_alone(idx_set: Path) -> None:
    kept = load_dataset("idx", idx_set)  # a caller that keeps the loaded images: preparation must not write into them
    before = kept.train.images.clone()
    labelled_splits("idx", idx_set, None, SplitSettings())
    assert torch.equal(kept.train.images, before) and kept.train.images.min() == 0
