"""``load_images`` over the dataset kind: the built-in names, and one-line errors for a wrong name, split or limit."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
import torch

from cnnbench.data import load_images
from cnnbench.errors import InvalidHyperparameterError, UnknownComponentError


def test_the_documented_datasets_are_available(registry) -> None:
    assert set(registry.names("dataset")) >= {"digits", "mnist", "idx", "usps", "cifar10", "imagefolder", "npz"}


def test_unknown_dataset_suggests_the_close_name() -> None:
    with pytest.raises(UnknownComponentError) as error:
        load_images("mnsit", Path("."), "train")
    assert str(error.value).startswith("unknown dataset 'mnsit': did you mean mnist? known dataset names: cifar10, digits, idx, imagefolder, mnist")


def test_unknown_split_lists_the_splits() -> None:
    with pytest.raises(UnknownComponentError, match="unknown split 'val': .*known split names: test, train, validation"):
        load_images("digits", Path("."), "val")  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, -3])
def test_limit_must_be_positive(limit: int) -> None:
    with pytest.raises(InvalidHyperparameterError, match=f"limit must be >= 1 or None, got {limit}"):
        load_images("digits", Path("."), "train", limit=limit)


@pytest.mark.parametrize("dataset", ["digits", "mnist", "usps", "cifar10"])
def test_limit_beyond_the_set_gives_all_of_it(shared_data: Path, dataset: str) -> None:
    full = load_images(dataset, shared_data, "test")
    assert len(load_images(dataset, shared_data, "test", limit=len(full) + 100)) == len(full)
    head = load_images(dataset, shared_data, "test", limit=7)
    assert torch.equal(head.images, full.images[:7]) and head.classes == full.classes


def test_image_sets_are_immutable() -> None:
    data = load_images("digits", Path("."), "test", limit=3)
    with pytest.raises(FrozenInstanceError):
        data.labels = torch.zeros(3)  # type: ignore[misc]
