"""Triplet mining's own gradients (``PairNorm``, ``MeanHinge``, batch-all weights) against plain autograd."""

from __future__ import annotations

import pytest
import torch
from cnnbench_plugins._mining import MeanHinge, PairNorm, mined_triplet_loss


def batch_all_by_autograd(distances: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """The batch-all mean written as its formula over the (B, B, B) tensor, for autograd to differentiate."""
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool)
    valid = positive[:, :, None] & ~same[:, None, :]
    losses = (distances[:, :, None] - distances[:, None, :] + margin).clamp_min(0) * valid
    return losses.sum() / (losses > 0).sum().clamp_min(1)


class Euclidean:
    """A plain Metric: every method from the full distance matrix."""

    def distances(self, emb: torch.Tensor) -> torch.Tensor:
        return torch.cdist(emb, emb)

    def hardness(self, emb: torch.Tensor) -> torch.Tensor:
        return self.distances(emb)

    def pair_distances(self, emb: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return self.distances(emb).gather(1, index.T).T


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_pair_norm_is_vector_norm_with_its_gradient_even_at_zero_distance(p):
    emb = torch.randn(6, 5, dtype=torch.float64)
    emb[3] = emb[0]
    emb.requires_grad_()
    index = torch.tensor([[3, 2, 0, 0, 5, 1], [1, 1, 4, 5, 4, 3]])  # (0, 3) and (3, 0) at zero distance
    upstream = torch.randn(2, 6, dtype=torch.float64)
    plain = torch.linalg.vector_norm(emb - emb[index], ord=p, dim=2)
    fast = PairNorm.apply(emb, index, p)
    torch.testing.assert_close(fast, plain)
    expected, actual = (torch.autograd.grad(d, emb, upstream)[0] for d in (plain, fast))
    torch.testing.assert_close(actual, expected)
    assert torch.isfinite(actual).all()
    away_from_zero = torch.tensor([[1, 2, 3, 4, 5, 0], [2, 3, 4, 5, 0, 1]])
    assert torch.autograd.gradcheck(lambda e: PairNorm.apply(e, away_from_zero, p), (emb,))


def test_mean_hinge_is_the_composed_mean_with_clamp_mins_gradient_at_the_hinge():
    distance = torch.tensor([[3.0, 1.0, 2.0, 5.0], [1.0, 2.0, 4.0, 0.5]], dtype=torch.float64, requires_grad=True)
    valid = torch.tensor([True, True, True, False])  # anchor 1 sits exactly at the hinge (1 - 2 + 1 = 0)
    upstream = torch.tensor(1.5, dtype=torch.float64)
    composed = ((distance[0] - distance[1] + 1.0).clamp_min(0) * valid).sum() / valid.sum()
    fast = MeanHinge.apply(distance, valid, 1.0)
    torch.testing.assert_close(fast, composed)
    expected, actual = (torch.autograd.grad(loss, distance, upstream)[0] for loss in (composed, fast))
    torch.testing.assert_close(actual, expected)
    assert actual[0, 1] != 0  # the hinge's kink takes clamp_min's slope, as nn.TripletMarginLoss's does


@pytest.mark.parametrize("margin", [0.5, 3.0])
def test_batch_all_weights_give_the_formulas_value_and_gradient(margin):
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 3])
    emb = torch.randn(len(labels), 4, dtype=torch.float64, requires_grad=True)
    metric = Euclidean()
    fast = mined_triplet_loss(metric, emb, labels, margin, "batch_all")
    plain = batch_all_by_autograd(metric.distances(emb), labels, margin)
    torch.testing.assert_close(fast, plain)
    torch.testing.assert_close(torch.autograd.grad(fast, emb)[0], torch.autograd.grad(plain, emb)[0])


def test_batch_all_counts_a_triplet_at_the_hinge_in_the_slope_not_in_the_mean():
    line = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1])  # anchor 0: d(0,1) - d(0,2) + 2 = 0; anchor 1: 1 - 2 + 2 = 1
    fast = mined_triplet_loss(Euclidean(), line, labels, 2.0, "batch_all")
    plain = batch_all_by_autograd(torch.cdist(line, line), labels, 2.0)
    torch.testing.assert_close(fast, plain)
    torch.testing.assert_close(torch.autograd.grad(fast, line)[0], torch.autograd.grad(plain, line)[0])


def test_batch_hard_through_the_generic_metric_matches_the_masked_reduction():
    labels = torch.arange(12) // 3
    emb = torch.randn(12, 4, dtype=torch.float64, requires_grad=True)
    distances = torch.cdist(emb, emb)
    same = labels[:, None] == labels[None, :]
    farthest = distances.masked_fill(~same | torch.eye(12, dtype=torch.bool), -torch.inf).amax(dim=1)
    nearest = distances.masked_fill(same, torch.inf).amin(dim=1)
    plain = (farthest - nearest + 1.0).clamp_min(0).mean()
    fast = mined_triplet_loss(Euclidean(), emb, labels, 1.0, "batch_hard")
    torch.testing.assert_close(fast, plain)
    torch.testing.assert_close(torch.autograd.grad(fast, emb)[0], torch.autograd.grad(plain, emb)[0])
