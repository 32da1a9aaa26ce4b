"""PASCAL VOC detection metric: detections matched to ground truth at IoU >= 0.5, average precision per class.

AP uses the all-point interpolation of VOC2010 and later (the area under the precision-recall curve
after making precision monotone), not VOC2007's 11-point sampling. Detections and ground truth come
flat, each row tagged with its image and class, so one call scores a whole test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from cnnbench_plugins.tasks._boxes import box_iou


@dataclass
class Boxes:
    """Boxes of many images, flat: boxes (M, 4), class labels (M,), image indices (M,), and scores (M,) of detections."""

    boxes: torch.Tensor
    labels: torch.Tensor
    images: torch.Tensor
    scores: torch.Tensor | None = None


def _score_rank(scores: torch.Tensor) -> torch.Tensor:
    """Each entry's position in descending score order (ties keep input order)."""
    return scores.argsort(descending=True, stable=True).argsort()


def match(detections: Boxes, truth: Boxes, iou_threshold: float = 0.5) -> torch.Tensor:
    """VOC matching: (D,) bool, whether each detection is a true positive.

    In descending score order, each detection takes the ground-truth box of its image and class that it
    overlaps most; it is a true positive if that overlap is >= ``iou_threshold`` (> 0) and no better-scored
    detection took the same box. A duplicate is a false positive even where it overlaps another box.
    """
    same = (detections.images[:, None] == truth.images) & (detections.labels[:, None] == truth.labels)
    overlap = box_iou(detections.boxes, truth.boxes).masked_fill(~same, 0.0)
    best_overlap, best_truth = F.pad(overlap, (0, 1)).max(dim=1)  # the zero column stands for "no box"
    hit = best_overlap >= iou_threshold
    rank = _score_rank(detections.scores)
    first = torch.full((len(truth.boxes) + 1,), len(rank), device=rank.device)
    first = first.scatter_reduce(0, best_truth[hit], rank[hit], "amin")
    return hit & (rank == first[best_truth])


def average_precision(
    scores: torch.Tensor, true_positive: torch.Tensor, labels: torch.Tensor, positives: torch.Tensor
) -> torch.Tensor:
    """All-point interpolated AP of each class: (C,), NaN for a class with no ground truth.

    Args:
        scores, true_positive, labels: (D,) per detection; ``labels`` in [0, C).
        positives: (C,) ground-truth boxes per class.

    AP = sum over true positives, in score order, of max_{r' >= r} precision(r') / positives.
    """
    order = scores.argsort(descending=True, stable=True)
    of_class = F.one_hot(labels[order], len(positives)).to(scores.dtype)  # (D, C)
    hits = of_class * true_positive[order, None]
    precision = hits.cumsum(0) / of_class.cumsum(0).clamp_min(1)
    envelope = precision.flip(0).cummax(0).values.flip(0)  # precision made monotone in recall
    area = (envelope * hits).sum(0) / positives.clamp_min(1)
    return torch.where(positives > 0, area, torch.nan)


def mean_average_precision(
    detections: Boxes, truth: Boxes, num_classes: int, iou_threshold: float = 0.5
) -> tuple[float, list[float]]:
    """VOC mAP over the object classes 1..num_classes-1 (0 is background), and the AP of each."""
    true_positive = match(detections, truth, iou_threshold)
    positives = torch.bincount(truth.labels, minlength=num_classes)
    ap = average_precision(detections.scores, true_positive, detections.labels, positives)[1:]
    return ap.nanmean().item(), ap.tolist()
