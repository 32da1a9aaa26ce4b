"""Triplet mining inside a batch (Hermans, Beyer & Leibe 2017, "In Defense of the Triplet Loss").

Both triplet losses share it: they differ only in the distance matrix they pass. Everything is a masked
tensor op over the (B, B) distance matrix, so there is no loop over anchors.
"""

from __future__ import annotations

import torch

MINING = ("batch_all", "batch_hard")


def mined_triplet_loss(distances: torch.Tensor, labels: torch.Tensor, margin: float, mining: str) -> torch.Tensor:
    """The hinge ``max(0, d(a,p) − d(a,n) + margin)`` over the triplets ``mining`` picks from a (B, B) matrix.

    - ``batch_hard``: per anchor, the farthest positive and the nearest negative (O(B²) memory);
      mean over the anchors that have both.
    - ``batch_all``: every valid triplet (a ≠ p same label, n other label) as a (B, B, B) tensor (O(B³)
      memory); mean over the triplets whose loss is positive, Hermans et al.'s "BA≠0", because the many
      already-satisfied triplets would otherwise dilute the gradient towards zero.

    A batch with no valid anchor (or no violated triplet) gives a zero that still backpropagates.
    """
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    negative = ~same
    if mining == "batch_hard":
        hardest_positive = distances.masked_fill(~positive, -torch.inf).amax(dim=1)
        hardest_negative = distances.masked_fill(~negative, torch.inf).amin(dim=1)
        has_both = positive.any(dim=1) & negative.any(dim=1)
        losses = (hardest_positive - hardest_negative + margin).clamp_min(0)[has_both]
        return losses.sum() / has_both.sum().clamp_min(1)
    if mining == "batch_all":
        valid = positive[:, :, None] & negative[:, None, :]  # [anchor, positive, negative]
        losses = (distances[:, :, None] - distances[:, None, :] + margin).clamp_min(0) * valid
        return losses.sum() / (losses > 0).sum().clamp_min(1)
    raise ValueError(f"mining must be one of {', '.join(MINING)}, got {mining!r}")
