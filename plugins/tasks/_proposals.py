"""Class-agnostic region proposals computed from the image alone: R-CNN's first stage.

R-CNN took ~2000 proposals per image from selective search (Uijlings et al. 2013), a hierarchical grouping
of over-segmented regions by colour, texture, size and fill similarity. Selective search is built for
cluttered photographs and has no PyTorch implementation; the shapes scenes are flat-coloured objects on a
smooth background, so a much simpler bottom-up grouping finds the same kind of candidates:

1. a saliency map: each pixel's colour distance (largest over channels) from the background colour,
   estimated as the median of the image border, smoothed over 3x3;
2. the map thresholded at a few levels (:data:`THRESHOLDS`); the connected components of each level
   (``scipy.ndimage.label``, all images and levels in one call) give one box each;
3. multi-scale and shifted variants of each box (:data:`JITTER`), so that some proposal fits an object
   the grouping cut too tight or too loose, box regression has something to correct, and, like selective
   search's many partial regions, there are near misses (IoU < 0.5) for the classifier to reject;
4. each box scored by centre-surround contrast of the saliency (mean inside minus mean in the ring
   around it, as the colour-contrast cue of Alexe et al.'s objectness), near-duplicates removed by NMS,
   and the best ``count`` kept per image.

Nothing here sees a ground-truth box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cnnbench_plugins.tasks._boxes import box_area, clip, expand, nms, pad_groups

#: saliency levels (colour distance, images in [0, 1]); the shapes' colours differ from the background by
#: >= 0.35 per channel, the background's texture and noise from its median by < 0.2
THRESHOLDS = (0.15, 0.25, 0.35)
#: components smaller than this (pixels) are noise, not objects
MIN_AREA = 12
#: box variants: (width scale, height scale, x shift, y shift), shifts in units of the box size
JITTER = torch.tensor(
    [(sw, sh, 0.0, 0.0) for sw in (0.6, 1.0, 1.6) for sh in (0.6, 1.0, 1.6)]
    + [(1.0, 1.0, dx, dy) for dx, dy in ((-0.35, 0), (0.35, 0), (0, -0.35), (0, 0.35))]
)
#: the surround of a box, for its contrast score: the box scaled about its centre by this
SURROUND = 1.5
#: proposals overlapping a better-scored one by more than this are duplicates
DUPLICATE_IOU = 0.8


@dataclass
class Proposals:
    """``count`` proposals per image, best first; images with fewer have padding marked invalid."""

    boxes: torch.Tensor  # (N, count, 4)
    scores: torch.Tensor  # (N, count) centre-surround contrast
    valid: torch.Tensor  # (N, count) bool


def saliency(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> (N, H, W): each pixel's largest per-channel distance from the border's median."""
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], dim=-1)
    background = border.median(dim=-1).values[..., None, None]
    distance = (images - background).abs().amax(dim=1, keepdim=True)
    return F.avg_pool2d(distance, 3, stride=1, padding=1, count_include_pad=False)[:, 0]


def component_boxes(masks: torch.Tensor, min_area: int = MIN_AREA) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes of the 8-connected components of each (H, W) plane of ``masks`` (..., H, W).

    Returns boxes (M, 4) and the flat index (M,) of the plane each came from; components under
    ``min_area`` pixels are dropped.
    """
    from scipy import ndimage  # here, not at the top: `cnnbench list` loads this module and scipy costs ~0.4 s

    height, width = masks.shape[-2:]
    planes = masks.reshape(-1, height, width)
    within_plane = np.zeros((3, 3, 3), dtype=bool)
    within_plane[1] = True  # 8-connected in a plane, never across planes
    labels, count = ndimage.label(planes.cpu().numpy(), structure=within_plane)
    labels = torch.from_numpy(labels).to(masks.device).flatten()
    plane, rows, columns = (
        index.flatten() for index in torch.meshgrid(*(torch.arange(k, device=masks.device) for k in planes.shape), indexing="ij")
    )

    def reduce(values: torch.Tensor, how: str) -> torch.Tensor:
        start = torch.full((count + 1,), height * width if how == "amin" else -1, device=masks.device)
        return start.scatter_reduce(0, labels, values, how)[1:]  # label 0 is the background

    boxes = torch.stack(
        [reduce(columns, "amin"), reduce(rows, "amin"), reduce(columns, "amax") + 1, reduce(rows, "amax") + 1], -1
    )
    keep = torch.bincount(labels, minlength=count + 1)[1:] >= min_area
    return boxes[keep].float(), reduce(plane, "amax")[keep]


def jitter(boxes: torch.Tensor) -> torch.Tensor:
    """(M, 4) -> (M, J, 4): each box rescaled and shifted by every row of :data:`JITTER`."""
    centre = 0.5 * (boxes[:, None, :2] + boxes[:, None, 2:])
    size = boxes[:, None, 2:] - boxes[:, None, :2]
    variants = JITTER.to(boxes)
    centre = centre + variants[:, 2:] * size
    size = size * variants[:, :2]
    return torch.cat([centre - 0.5 * size, centre + 0.5 * size], dim=-1)


def box_means(values: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums and areas of ``values`` (N, H, W) over ``boxes`` (N, P, 4) rounded to pixel edges, via an integral image."""
    _, height, width = values.shape
    integral = F.pad(values.cumsum(1).cumsum(2), (1, 0, 1, 0)).flatten(1)  # (N, (H+1)(W+1))
    x1, y1, x2, y2 = clip(boxes, height, width).round().long().unbind(-1)

    def at(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return integral.gather(1, (y * (width + 1) + x).flatten(1)).view_as(y)

    sums = at(y2, x2) - at(y1, x2) - at(y2, x1) + at(y1, x1)
    return sums, ((x2 - x1) * (y2 - y1)).to(values.dtype)


def contrast(salient: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Centre-surround contrast of ``boxes`` (N, P, 4) on the saliency map (N, H, W): mean inside minus mean around."""
    inner, inner_area = box_means(salient, boxes)
    outer, outer_area = box_means(salient, expand(boxes, SURROUND))
    ring_area = outer_area - inner_area
    ring_mean = torch.where(ring_area > 0, (outer - inner) / ring_area.clamp_min(1), 0.0)
    return inner / inner_area.clamp_min(1) - ring_mean


def propose(images: torch.Tensor, count: int) -> Proposals:
    """The ``count`` best proposals of each image (N, C, H, W) in [0, 1]; see the module's docstring."""
    n, _, height, width = images.shape
    salient = saliency(images)
    levels = salient[:, None] > salient.new_tensor(THRESHOLDS)[:, None, None]  # (N, T, H, W)
    boxes, plane = component_boxes(levels)
    owner = plane // len(THRESHOLDS)  # planes are (image, level) pairs
    variants = jitter(boxes)
    candidates, valid = pad_groups(variants.flatten(0, 1), owner.repeat_interleave(variants.shape[1]), n)
    candidates = clip(candidates, height, width)
    valid &= box_area(candidates) > 0
    scores = contrast(salient, candidates).masked_fill(~valid, -torch.inf)
    kept = nms(candidates, scores, DUPLICATE_IOU, valid)
    best = scores.masked_fill(~kept, -torch.inf).topk(min(count, scores.shape[1]), dim=1).indices
    image = torch.arange(n, device=images.device)[:, None]
    boxes, scores = candidates[image, best], scores[image, best]
    shortfall = count - boxes.shape[1]  # fewer candidates than asked for: pad with invalid entries
    return Proposals(
        boxes=F.pad(boxes, (0, 0, 0, shortfall)),
        scores=F.pad(scores.masked_fill(scores.isinf(), 0.0), (0, shortfall)),
        valid=F.pad(scores.isfinite(), (0, shortfall)),
    )
