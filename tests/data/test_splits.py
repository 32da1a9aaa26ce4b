"""Validation carved from training: stratified, deterministic in split_seed, disjoint, never empty."""

from __future__ import annotations

import pytest
import torch

from cnnbench.data.splits import SplitSettings, carve_validation, training_sample
from cnnbench.errors import DataError, InvalidHyperparameterError


def test_each_class_gives_its_share_and_the_parts_are_disjoint() -> None:
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    train, validation = carve_validation(labels, SplitSettings(0.2, 0))
    assert torch.bincount(labels[validation]).tolist() == [10, 6, 4]
    assert sorted(torch.cat([train, validation]).tolist()) == list(range(100))


def test_the_split_depends_on_split_seed_only() -> None:
    labels = torch.arange(10).repeat(20)
    first, again, other = (carve_validation(labels, SplitSettings(0.1, seed))[1] for seed in (0, 0, 1))
    assert torch.equal(first, again) and not torch.equal(first, other)
    torch.manual_seed(123)  # the global RNG (trainer.seed) has no say
    assert torch.equal(carve_validation(labels, SplitSettings(0.1, 0))[1], first)


def test_a_class_of_two_keeps_one_for_training_and_singletons_stay_in_training() -> None:
    train, validation = carve_validation(torch.tensor([0, 0, 1, 2, 2, 2]), SplitSettings(0.9, 0))
    assert sorted(torch.tensor([0, 0, 1, 2, 2, 2])[train].tolist()) == [0, 1, 2]
    assert len(validation) == 3


def test_too_little_data_and_bad_settings_are_refused() -> None:
    with pytest.raises(DataError, match="cannot carve a validation split from 2 training samples"):
        carve_validation(torch.tensor([0, 1]), SplitSettings(0.5, 0))
    with pytest.raises(InvalidHyperparameterError, match=r"data.val_fraction must be in \(0, 1\)"):
        SplitSettings(1.0, 0)
    with pytest.raises(InvalidHyperparameterError, match="data.split_seed must be >= 0"):
        SplitSettings(0.1, -1)


def test_the_training_sample_is_fixed_and_as_large_as_asked() -> None:
    sample = training_sample(100, 10, SplitSettings())
    assert len(sample) == 10 and len(set(sample.tolist())) == 10 and torch.equal(sample, training_sample(100, 10, SplitSettings()))
