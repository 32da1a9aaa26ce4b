"""Triplet mining inside a batch (Hermans, Beyer & Leibe 2017, "In Defense of the Triplet Loss").

Both triplet losses share it: they differ only in their distance (a :class:`Metric`). Which triplets
count is a choice, not a function to differentiate, so the mining runs without autograd on the (B, B)
matrix, and autograd (or :class:`PairNorm`'s own backward) sees only what the chosen triplets need:
``batch_hard`` 2B distances, ``batch_all`` one weighted sum of the distance matrix. Both are masked
tensor ops, with no loop over anchors.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from cnnbench_plugins._autograd import once_differentiable
from torch import Tensor

MINING = ("batch_all", "batch_hard")


class Metric(Protocol):
    """The distance a triplet loss mines with."""

    def distances(self, emb: Tensor) -> Tensor:
        """The (B, B) matrix of distances between the rows of ``emb``, differentiable."""

    def hardness(self, emb: Tensor) -> Tensor:
        """A (B, B) matrix, no gradient, whose every row is ordered as that row of ``distances``."""

    def pair_distances(self, emb: Tensor, index: Tensor) -> Tensor:
        """``d(emb[i], emb[index[k, i]])`` for a (2, B) ``index``, differentiable."""


def mined_triplet_loss(metric: Metric, emb: Tensor, labels: Tensor, margin: float, mining: str) -> Tensor:
    """The hinge ``max(0, d(a,p) − d(a,n) + margin)`` over the triplets ``mining`` picks in the batch.

    - ``batch_hard``: per anchor, the farthest positive and the nearest negative (O(B²) memory);
      mean over the anchors that have both.
    - ``batch_all``: every valid triplet (a ≠ p same label, n other label), found in a (B, B, B) tensor
      (O(B³) memory); mean over the triplets whose loss is positive, Hermans et al.'s "BA≠0", because the
      many already-satisfied triplets would otherwise dilute the gradient towards zero.

    A batch with no valid anchor (or no violated triplet) gives a zero that still backpropagates.
    """
    same = labels[:, None] == labels[None, :]
    if mining == "batch_hard":
        with torch.no_grad():
            index, valid = _hardest(metric.hardness(emb), same)
        return MeanHinge.apply(metric.pair_distances(emb, index), valid, margin)
    if mining == "batch_all":
        distances = metric.distances(emb)
        with torch.no_grad():
            weight, sloped, violated = _violated_triplet_weights(distances, same, margin)
        # Σ over violated (a, p, n) of d(a,p) − d(a,n) + margin, each distance counted as often as it occurs.
        return (torch.dot(distances.reshape(-1), weight.view(-1)) + margin * sloped) / violated.clamp_min(1)
    raise ValueError(f"mining must be one of {', '.join(MINING)}, got {mining!r}")


def _hardest(hardness: Tensor, same: Tensor) -> tuple[Tensor, Tensor]:
    """(2, B) indices of each anchor's farthest positive and nearest negative, and which anchors have both."""
    positive = torch.where(same, hardness, -torch.inf)
    positive.diagonal().fill_(-torch.inf)  # an anchor is not its own positive
    farthest, farthest_index = positive.max(dim=1)
    nearest, nearest_index = torch.where(same, torch.inf, hardness).min(dim=1)
    return torch.stack((farthest_index, nearest_index)), farthest - nearest > -torch.inf  # both found


def _violated_triplet_weights(distances: Tensor, same: Tensor, margin: float) -> tuple[Tensor, Tensor, Tensor]:
    """Per (a, b): how often d(a, b) enters the violated triplets as d(a,p) minus as d(a,n); how many are
    summed (those at the hinge too) and how many are violated (the mean's count)."""
    valid = (same & ~torch.eye(len(same), dtype=torch.bool, device=same.device))[:, :, None] & ~same[:, None, :]
    excess = distances[:, :, None] - distances[:, None, :] + margin  # [anchor, positive, negative]
    # A triplet exactly at the hinge adds 0 to the sum and nothing to the count, but (clamp_min's gradient)
    # its slope: it is summed as d(a,p) - d(a,n) + margin = 0 with the others.
    sloped = (excess >= 0) & valid
    count = ((excess > 0) & valid).sum().to(distances.dtype)
    return (sloped.sum(dim=2) - sloped.sum(dim=1)).to(distances.dtype), sloped.sum().to(distances.dtype), count


class PairNorm(torch.autograd.Function):
    """``‖emb[i] − emb[index[k, i]]‖_p`` for a (2, B) index, with the norm's gradient formed in a few ops.

    Autograd's graph (index, subtract, ``vector_norm``) took about as long as ``F.triplet_margin_loss`` on
    the whole batch; the gradient of each distance is ``g·sign(x)·|x|^(p−1) / d^(p−1)`` of its difference x
    (``g·x / d`` for p = 2), zero at zero distance as ``vector_norm``'s, added to the row and subtracted
    from the rows it was paired with.
    """

    @staticmethod
    def forward(ctx: Any, emb: Tensor, index: Tensor, p: float) -> Tensor:
        difference = emb - emb.index_select(0, index.reshape(-1)).view(*index.shape, -1)
        distance = torch.linalg.vector_norm(difference, ord=p, dim=2)
        ctx.save_for_backward(index, difference, distance)
        ctx.p = p
        return distance

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        index, difference, distance = ctx.saved_tensors
        p = ctx.p
        if p == 2:
            scale, direction = grad / distance, difference
        else:
            scale, direction = grad / distance.pow(p - 1), difference.abs().pow_(p - 1).mul_(difference.sign())
        grad_difference = direction * scale.masked_fill_(distance == 0, 0).unsqueeze(2)
        grad_emb = grad_difference.sum(dim=0)
        return grad_emb.index_add_(0, index.reshape(-1), grad_difference.view(-1, grad_emb.shape[1]), alpha=-1), None, None


class MeanHinge(torch.autograd.Function):
    """``mean over valid anchors of max(0, d[0] − d[1] + margin)`` for (2, B) distances, as one autograd node.

    Its gradient is ``±[d[0] − d[1] + margin >= 0] / count`` per distance: a single node instead of the dozen small ones of
    the composed ops, each of which costs as much as the arithmetic on B = 16-128 anchors.
    """

    @staticmethod
    def forward(ctx: Any, distance: Tensor, valid: Tensor, margin: float) -> Tensor:
        weight = valid.to(distance.dtype)
        weight.div_(weight.sum().clamp_min_(1))
        excess = torch.sub(distance[0], distance[1]).add_(margin)
        ctx.save_for_backward(weight * (excess >= 0))  # dL/dd[0] (clamp_min's convention at 0); dL/dd[1] = −dL/dd[0]
        return torch.dot(excess.clamp_min_(0), weight)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (slope,) = ctx.saved_tensors
        slope = slope * grad
        return torch.stack((slope, slope.neg())), None, None
