"""Built-in losses: the survey's classification and metric-learning objectives (Gu et al., Sec. 3.5).

``input_kind`` says what a loss consumes: "logits" (N, K[, H, W]) with int64 targets (N[, H, W]),
"pairs" of embeddings with a same/different flag, or a batch of "embeddings" with labels, mined here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from cnnbench_plugins._autograd import once_differentiable
from cnnbench_plugins._mining import MINING, PairNorm, mined_triplet_loss
from torch import nn

from cnnbench import hookimpl
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.spec import Baseline, Op, Range, Spec


def _per_position(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K, H, W) logits and (N, H, W) targets as (N·H·W, K) and (N·H·W,): each pixel is one sample.

    (N, K) logits pass as they are: a view would add an autograd node, a few microseconds of a
    classifier's loss.
    """
    if logits.dim() == 2:
        return logits, target
    return logits.movedim(1, -1).reshape(-1, logits.shape[1]), target.reshape(-1)


class SoftmaxLoss(nn.CrossEntropyLoss):
    """Softmax loss (survey Sec. 3.5.2): −log softmax(z)_y, mean over samples (and pixels for segmentation)."""

    input_kind: ClassVar[str] = "logits"


class _OneVsAllHinge(torch.autograd.Function):
    """The mean one-vs-all L-p hinge of (N, K) scores, its gradient formed in the forward's own few ops.

    At classifier shapes (16-128 x 10) the cost is the number of ops (about a microsecond each), not the
    arithmetic. With s = N^(-1/p), one scatter builds ``slope = p·s·(−δ)`` (δ = +1 for the true class, −1
    otherwise) and one ``addcmul`` + ``relu_`` gives ``h = max(0, m·s + slope·z / p) = s·max(0, m − δz)``,
    so the mean is ``sum(h)`` (p = 1) or ``h·h`` (p = 2) with no division, and dL/dz is ``slope·[h > 0]``
    or ``slope·h``, made in place of h. Scores below float32 are scored in float32 (a float32 loss).
    """

    @staticmethod
    def forward(ctx: Any, scores: torch.Tensor, target: torch.Tensor, p: int, margin: float) -> torch.Tensor:
        scale = max(len(scores), 1) ** (-1 / p)  # an empty batch gives 0, not a ZeroDivisionError
        dtype = torch.promote_types(scores.dtype, torch.float32)
        slope = torch.full_like(scores, p * scale, dtype=dtype).scatter_(1, target.unsqueeze(1), -p * scale)
        h = torch.addcmul(scores.new_full((), margin * scale, dtype=dtype), slope, scores, value=1 / p).relu_()
        if p == 2:
            flat = h.view(-1)
            loss = torch.dot(flat, flat)
            grad = h.mul_(slope)
        else:
            loss = h.sum()
            grad = h.sign_().mul_(slope)
        ctx.save_for_backward(grad)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_loss: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (grad,) = ctx.saved_tensors
        return grad * grad_loss, None, None, None


class HingeLoss(nn.Module):
    """The survey's L-p hinge loss (Gu et al. Sec. 3.5.1; Tang 2013; Caffe's HingeLossLayer): one-vs-all.

    L = (1/N) Σ_i Σ_j max(0, margin − δ(y_i, j)·z_ij)^p with δ = +1 for the true class and −1 for the
    others: each class score is its own binary SVM, so the true score is pushed above +margin and every
    other score below −margin. The sum runs over all K classes and is not divided by K. This is NOT
    PyTorch's ``multi_margin_loss`` (the Weston–Watkins form), which penalises only score
    differences, max(0, margin − z_iy + z_ij) for j ≠ y, and divides by K. Pixels of (N, K, H, W) logits
    count as samples, so N is N·H·W there. Half-precision scores give a float32 loss.
    """

    input_kind: ClassVar[str] = "logits"

    def __init__(self, p: int, margin: float) -> None:
        require(p in (1, 2), f"p must be 1 (L1-hinge) or 2 (L2-hinge), got {p!r}")
        require(margin > 0, f"margin must be > 0, got {margin}")
        super().__init__()
        self.p, self.margin = p, margin

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        scores, target = _per_position(logits, target)
        return _OneVsAllHinge.apply(scores, target, self.p, self.margin)

    def extra_repr(self) -> str:
        return f"p={self.p}, margin={self.margin}"


class ContrastiveLoss(nn.Module):
    """Contrastive loss (Hadsell, Chopra & LeCun 2006; survey Sec. 3.5.3) on Euclidean distances d.

    L = (1/2N) Σ [same·d² + (1 − same)·max(0, margin − d)²]: the 1/2 factor of both Hadsell et al. and the
    survey is kept, and the mean is over pairs. d is unsquared inside the hinge, so dissimilar pairs stop
    contributing once they are ``margin`` apart. ``F.pairwise_distance`` adds eps=1e-6 to the difference,
    which keeps the gradient finite for identical embeddings.
    """

    input_kind: ClassVar[str] = "pairs"

    def __init__(self, margin: float) -> None:
        require(margin > 0, f"margin must be > 0, got {margin}")
        super().__init__()
        self.margin = margin

    def forward(self, emb_a: torch.Tensor, emb_b: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        distance = F.pairwise_distance(emb_a, emb_b)
        losses = torch.where(same, distance.square(), (self.margin - distance).clamp_min(0).square())
        return losses.mean() / 2

    def extra_repr(self) -> str:
        return f"margin={self.margin}"


class _MinedTripletLoss(nn.Module):
    """A triplet loss over the triplets mined in a labelled batch; subclasses choose the distance (a ``Metric``)."""

    input_kind: ClassVar[str] = "embeddings"

    def __init__(self, margin: float, mining: str) -> None:
        require(mining in MINING, f"mining must be one of {', '.join(MINING)}, got {mining!r}")
        super().__init__()
        self.margin, self.mining = margin, mining

    def distances(self, emb: torch.Tensor) -> torch.Tensor:
        """The (B, B) matrix of distances between the rows of ``emb``."""
        raise NotImplementedError

    def hardness(self, emb: torch.Tensor) -> torch.Tensor:
        """What batch-hard mining ranks each row by (called without autograd): the distances unless cheaper."""
        return self.distances(emb)

    def pair_distances(self, emb: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The distances from each row ``i`` to rows ``index[0, i]`` and ``index[1, i]``, as a (2, B) tensor."""
        return self.distances(emb).gather(1, index.T).T

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return mined_triplet_loss(self, emb, labels, self.margin, self.mining)


def _at_least_float32(emb: torch.Tensor) -> torch.Tensor:
    # cdist has no half-precision CPU kernel, and nearby points need the precision anyway.
    return emb.to(torch.promote_types(emb.dtype, torch.float32))


class TripletLoss(_MinedTripletLoss):
    """Triplet loss, PyTorch's convention: max(0, d(a,p) − d(a,n) + margin) with unsquared p-norm distances.

    This is ``nn.TripletMarginLoss`` applied to the triplets mined in the batch (Hermans et al. 2017,
    ``batch_hard`` or ``batch_all``; see :func:`mined_triplet_loss` for the averaging). Half-precision
    embeddings give a float32 loss.
    """

    def __init__(self, margin: float, p: float, mining: str) -> None:
        require(margin > 0, f"margin must be > 0, got {margin}")
        require(p >= 1, f"p must be >= 1 (a norm), got {p}")
        super().__init__(margin, mining)
        self.p = p

    def distances(self, emb: torch.Tensor) -> torch.Tensor:
        # For p=2 and more than 25 rows cdist takes the matmul form |a|^2 + |b|^2 - 2ab: 2-3x faster at
        # 128-1024 x 64-128 than the direct kernel, equal to it within 1e-5 off the diagonal (the diagonal is
        # never mined), with finite gradients at zero distance; below 25 rows the direct kernel is faster.
        emb = _at_least_float32(emb)
        return torch.cdist(emb, emb, p=self.p, compute_mode="use_mm_for_euclid_dist_if_necessary")

    def hardness(self, emb: torch.Tensor) -> torch.Tensor:
        if self.p != 2:
            return self.distances(emb)
        # Row a of |b|^2 - 2ab is d(a, b)^2 - |a|^2: ordered as the distances, in one matmul.
        emb = _at_least_float32(emb)
        return torch.addmm(emb.square().sum(dim=1), emb, emb.T, alpha=-2)

    def pair_distances(self, emb: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return PairNorm.apply(_at_least_float32(emb), index, self.p)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, p={self.p}, mining={self.mining!r}"


class FaceNetTripletLoss(_MinedTripletLoss):
    """FaceNet's triplet loss (Schroff et al. 2015): max(0, ‖a − p‖² − ‖a − n‖² + alpha) on L2-normalised embeddings.

    The distances are squared Euclidean on the unit sphere, ‖a − b‖² = 2 − 2·a·b, so alpha (0.2 in the
    paper) is on a fixed scale in [0, 4]. FaceNet sums over its triplets; here the mined triplets are
    averaged as in :func:`mined_triplet_loss`, so the loss does not grow with the batch size. Half-precision
    embeddings give a float32 loss.
    """

    def __init__(self, alpha: float, mining: str) -> None:
        require(alpha > 0, f"alpha must be > 0, got {alpha}")
        super().__init__(alpha, mining)

    def distances(self, emb: torch.Tensor) -> torch.Tensor:
        unit = F.normalize(_at_least_float32(emb), dim=1)
        return (2 - 2 * unit @ unit.T).clamp_min(0)

    def hardness(self, emb: torch.Tensor) -> torch.Tensor:
        unit = F.normalize(_at_least_float32(emb), dim=1)
        return -(unit @ unit.T)

    def pair_distances(self, emb: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        unit = F.normalize(_at_least_float32(emb), dim=1)
        return (2 - 2 * (unit * unit[index]).sum(dim=2)).clamp_min(0)

    def extra_repr(self) -> str:
        return f"alpha={self.margin}, mining={self.mining!r}"


class KLDivLoss(nn.Module):
    """KL(q ‖ softmax(z)) to the label-smoothed target q = (1 − ε)·onehot(y) + ε/K (Szegedy et al. 2016).

    KL(q ‖ p) = H(q, p) − H(q): ``F.cross_entropy(label_smoothing=ε)`` is H(q, p), and H(q) depends only on
    ε and K, so it is subtracted as a constant. Mean over samples (and pixels); ε = 0 is cross-entropy.
    """

    input_kind: ClassVar[str] = "logits"

    def __init__(self, smoothing: float) -> None:
        require(0 <= smoothing < 1, f"smoothing must be in [0, 1), got {smoothing}")
        super().__init__()
        self.smoothing = smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        cross_entropy = F.cross_entropy(logits, target, label_smoothing=self.smoothing)
        return cross_entropy - smoothed_target_entropy(self.smoothing, logits.shape[1])

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}"


def smoothed_target_entropy(smoothing: float, classes: int) -> float:
    """H(q) of the label-smoothed one-hot q: one entry 1 − ε + ε/K, K − 1 entries ε/K (0·log 0 = 0)."""
    other = smoothing / classes
    entries = ((1, 1 - smoothing + other), (classes - 1, other))
    return -sum(count * q * math.log(q) for count, q in entries if q > 0)


def _cross_entropy(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(F.cross_entropy)


def _multi_margin(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda z, y: F.multi_margin_loss(z, y, p=int(hp["p"]), margin=float(hp["margin"])))


def _kl_div(case: Any, hp: Mapping[str, Any]) -> Op:
    logits, labels = case.inputs
    smoothing, classes = float(hp["smoothing"]), logits.shape[1]
    target = F.one_hot(labels, classes).to(logits.dtype) * (1 - smoothing) + smoothing / classes
    return Op(lambda z, y: F.kl_div(F.log_softmax(z, dim=1), target, reduction="batchmean"))


def _cosine_embedding(case: Any, hp: Mapping[str, Any]) -> Op:
    flags = case.inputs[2].to(case.inputs[0].dtype) * 2 - 1
    return Op(lambda a, b, same: F.cosine_embedding_loss(a, b, flags))


def _triplet_margin(case: Any, hp: Mapping[str, Any]) -> Op:
    """One fixed triplet per anchor (a positive and a negative of its P x K batch): the loss without mining."""
    labels = case.inputs[1]
    count = len(labels)
    index = torch.arange(count, device=labels.device)
    positive = torch.where(labels.roll(-1) == labels, index.roll(-1), index.roll(1))
    negative = (index + count // 2) % count
    margin, p = float(hp.get("margin", hp.get("alpha", 1.0))), float(hp.get("p", 2))
    return Op(lambda emb, y: F.triplet_margin_loss(emb, emb[positive], emb[negative], margin=margin, p=p))


@hookimpl
def cnnbench_register_losses(register: Register) -> None:
    mining = Range(choices=tuple(MINING))
    register("softmax", Spec(SoftmaxLoss, baseline=Baseline("cross_entropy", _cross_entropy)))
    register(
        "hinge",
        Spec(HingeLoss, {"p": 2, "margin": 1.0}, {"p": Range(choices=(1, 2)), "margin": Range(0.0)}, baseline=Baseline("multi_margin_loss", _multi_margin, 1.2)),
    )
    register("contrastive", Spec(ContrastiveLoss, {"margin": 1.0}, {"margin": Range(0.0)}, baseline=Baseline("cosine_embedding_loss", _cosine_embedding)))
    triplet = Baseline("triplet_margin_loss", _triplet_margin)
    register("triplet", Spec(TripletLoss, {"margin": 1.0, "p": 2, "mining": "batch_hard"}, {"margin": Range(0.0), "mining": mining}, baseline=triplet))
    register("triplet_facenet", Spec(FaceNetTripletLoss, {"alpha": 0.2, "mining": "batch_hard"}, {"alpha": Range(0.0), "mining": mining}, baseline=triplet))
    register("kl_div", Spec(KLDivLoss, {"smoothing": 0.1}, {"smoothing": Range(0.0, 1.0)}, baseline=Baseline("kl_div(log_softmax)", _kl_div)))
