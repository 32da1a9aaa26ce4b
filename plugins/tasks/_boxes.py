"""Box geometry for the R-CNN pipeline: IoU, R-CNN's box-regression encoding, NMS and warping.

Boxes are ``(x1, y1, x2, y2)`` in pixel-edge coordinates (a box over the whole W x H image is
``(0, 0, W, H)``; its width is ``x2 - x1``). Every function takes leading batch dimensions, so one
call serves all images (or all image-class groups) at once; :func:`pad_groups` turns a flat list of
boxes of many images into such a batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: Fast R-CNN's scaling of the regression targets (torchvision's ``BoxCoder`` default), so that the four
#: targets have comparable spread and the smooth L1 loss weighs them alike.
TARGET_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
#: Largest log-scale a decoded box may take (torchvision's clamp): exp() of more overflows in float16.
MAX_LOG_SCALE = math.log(1000.0 / 16)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) -> (...): areas, zero for empty boxes."""
    return (boxes[..., 2:] - boxes[..., :2]).clamp_min(0).prod(-1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every pair: (..., N, 4) and (..., M, 4) -> (..., N, M); 0 for empty boxes."""
    top_left = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    bottom_right = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (bottom_right - top_left).clamp_min(0).prod(-1)
    union = box_area(a)[..., :, None] + box_area(b)[..., None, :] - inter
    return inter / union.clamp_min(torch.finfo(inter.dtype).tiny)


def _centre_size(boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    size = boxes[..., 2:] - boxes[..., :2]
    return boxes[..., :2] + 0.5 * size, size


def encode(proposals: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """R-CNN's regression targets (Girshick et al. 2014, appendix C), scaled by :data:`TARGET_WEIGHTS`.

    t_x = (G_x - P_x) / P_w, t_y = (G_y - P_y) / P_h, t_w = log(G_w / P_w), t_h = log(G_h / P_h), with
    (x, y) the box centre: scale-invariant shifts and log-space size changes.
    """
    p_centre, p_size = _centre_size(proposals)
    g_centre, g_size = _centre_size(targets)
    deltas = torch.cat([(g_centre - p_centre) / p_size, torch.log(g_size / p_size)], dim=-1)
    return deltas * deltas.new_tensor(TARGET_WEIGHTS)


def decode(proposals: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`encode`: apply predicted ``deltas`` (..., 4) to ``proposals`` (..., 4)."""
    deltas = deltas / deltas.new_tensor(TARGET_WEIGHTS)
    p_centre, p_size = _centre_size(proposals)
    centre = p_centre + deltas[..., :2] * p_size
    half = 0.5 * p_size * deltas[..., 2:].clamp(max=MAX_LOG_SCALE).exp()
    return torch.cat([centre - half, centre + half], dim=-1)


def clip(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Clip boxes to a ``height`` x ``width`` image."""
    return torch.minimum(boxes.clamp_min(0), boxes.new_tensor([width, height, width, height]))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Exact greedy non-maximum suppression, computed with matrix operations (Cluster-NMS).

    Greedy NMS keeps the best box and drops every box overlapping a kept, better-scored box by more than
    ``iou_threshold``. Sorting by score, box j is kept iff no kept box i < j has IoU(i, j) > threshold:
    iterating that rule from "all kept" (the first iteration is Fast NMS, Bolya et al. 2019, which also
    lets suppressed boxes suppress) fixes one more position per iteration and stops at greedy NMS's
    exact answer (Zheng et al. 2021, "Cluster-NMS"), usually within a few iterations.

    Args:
        boxes: (..., N, 4); each leading index is an independent group (an image, or an image and class).
        scores: (..., N).
        valid: (..., N) mask of real entries (padding neither survives nor suppresses); all when ``None``.

    Returns:
        (..., N) bool: the boxes kept, in the input order.
    """
    order = scores.argsort(dim=-1, descending=True)
    boxes = boxes.gather(-2, order[..., None].expand_as(boxes))
    alive = torch.ones_like(scores, dtype=torch.bool) if valid is None else valid.gather(-1, order)
    suppresses = (box_iou(boxes, boxes) > iou_threshold).triu(diagonal=1)  # [i, j]: better i overlaps j
    keep = alive
    while True:
        updated = alive & ~(suppresses & keep[..., :, None]).any(dim=-2)
        if torch.equal(updated, keep):
            break
        keep = updated
    return torch.empty_like(keep).scatter_(-1, order, keep)


def expand(boxes: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale boxes about their centres by ``factor``."""
    centre, size = _centre_size(boxes)
    return torch.cat([centre - 0.5 * factor * size, centre + 0.5 * factor * size], dim=-1)


def warp(images: torch.Tensor, boxes: torch.Tensor, size: int, context: int = 0) -> torch.Tensor:
    """R-CNN's region warping: each box resampled (bilinearly) to ``size`` x ``size``, whatever its aspect.

    ``context`` pixels of the output surround the box on every side (R-CNN's padding p = 16 of 227): the
    box is dilated about its centre by ``size / (size - 2 * context)`` before warping. Samples outside the
    image are zero, the mean of a standardised image, as R-CNN fills them with the image mean.

    Args:
        images: (N, C, H, W).
        boxes: (N, P, 4), P regions of each image.

    Returns:
        (N, P, C, size, size).
    """
    n, channels, height, width = images.shape
    regions = boxes.shape[1]
    boxes = expand(boxes, size / (size - 2 * context))
    steps = (torch.arange(size, dtype=images.dtype, device=images.device) + 0.5) / size  # pixel centres in [0, 1]
    xs = boxes[..., 0, None] + steps * (boxes[..., 2] - boxes[..., 0])[..., None]  # (N, P, size)
    ys = boxes[..., 1, None] + steps * (boxes[..., 3] - boxes[..., 1])[..., None]
    grid = torch.stack(torch.broadcast_tensors(xs[..., None, :] * 2 / width - 1, ys[..., :, None] * 2 / height - 1), dim=-1)
    # The P grids of an image stacked along the height: one grid_sample call per batch, no copy of an image.
    crops = F.grid_sample(images, grid.reshape(n, regions * size, size, 2), align_corners=False)
    return crops.view(n, channels, regions, size, size).transpose(1, 2)


def pad_groups(values: torch.Tensor, group: torch.Tensor, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scatter rows of ``values`` (M, ...) into (groups, most, ...) by ``group`` (M,); returns it and its valid mask."""
    counts = torch.bincount(group, minlength=groups)
    order = group.argsort(stable=True)
    rank = torch.arange(len(group), device=group.device) - (counts.cumsum(0) - counts)[group[order]]
    padded = values.new_zeros(groups, int(counts.max()) if groups else 0, *values.shape[1:])
    valid = torch.zeros(padded.shape[:2], dtype=torch.bool, device=values.device)
    padded[group[order], rank] = values[order]
    valid[group[order], rank] = True
    return padded, valid
