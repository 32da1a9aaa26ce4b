"""The validation protocol's splits: validation carved from training data, and a training sample to score.

Both are drawn from ``split_seed`` alone (not the run's seed), so every run of a comparison trains and
selects on the same images. Written with torch rather than scikit-learn's ``train_test_split``: importing
scikit-learn costs about a second per process (every sweep worker and multirun job would pay it), and a
per-class permutation is all a stratified split needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cnnbench.errors import DataError, require


@dataclass(frozen=True)
class SplitSettings:
    """``data.val_fraction`` and ``data.split_seed``: how validation is made where a dataset has none."""

    val_fraction: float = 0.1
    split_seed: int = 0

    def __post_init__(self) -> None:
        require(0.0 < self.val_fraction < 1.0, f"data.val_fraction must be in (0, 1), got {self.val_fraction}")
        require(self.split_seed >= 0, f"data.split_seed must be >= 0, got {self.split_seed}")

    def generator(self, stream: int = 0) -> torch.Generator:
        """A generator for one use of the split seed (``stream`` keeps different uses independent)."""
        return torch.Generator().manual_seed(self.split_seed * 1_000_003 + stream)

    def count(self, n_train: int) -> int:
        """How many validation samples ``val_fraction`` of ``n_train`` is (at least one)."""
        return max(1, round(self.val_fraction * n_train))


def carve_validation(labels: torch.Tensor, settings: SplitSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, validation) of a split stratified by class: each class gives ``val_fraction`` of its
    samples (rounded, at least one from a class with two or more), so rare classes are not left out.

    >>> train, val = carve_validation(torch.tensor([0] * 90 + [1] * 10), SplitSettings(0.1, 0))
    >>> len(train), len(val), int((torch.tensor([0] * 90 + [1] * 10)[val] == 1).sum())
    (90, 10, 1)
    """
    generator = settings.generator()
    validation = []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        take = min(len(members) - 1, max(1, round(settings.val_fraction * len(members)))) if len(members) > 1 else 0
        validation.append(members[:take])
    val_index = torch.cat(validation).sort().values
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[val_index] = False
    train_index = torch.nonzero(keep).flatten()
    if not len(val_index) or not len(train_index):
        raise DataError(f"cannot carve a validation split from {len(labels)} training samples with data.val_fraction={settings.val_fraction}")
    return train_index, val_index


def training_sample(n_train: int, size: int, settings: SplitSettings) -> torch.Tensor:
    """Indices of a fixed sample of ``size`` training samples (the overfitting gap compares it with validation)."""
    return torch.randperm(n_train, generator=settings.generator(stream=1))[: min(size, n_train)].sort().values


def validation_seed(data_seed: int, settings: SplitSettings) -> int:
    """The seed of a generated dataset's validation scenes: a stream of its own, apart from ``data_seed``'s."""
    return int(torch.randint(2**62, (1,), generator=settings.generator(stream=2 + data_seed)).item())
