"""Region proposals come from the image: saliency, connected components, contrast scores, recall."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cnnbench_plugins.tasks._boxes import box_iou
from cnnbench_plugins.tasks._proposals import JITTER, box_means, component_boxes, contrast, jitter, propose, saliency
from scipy import ndimage

from cnnbench.data import shapes


def backgrounds(n: int, size: int = 48, seed: int = 0) -> torch.Tensor:
    """Scenes without objects, drawn like the shapes' backgrounds: a colour, a smooth texture and noise."""
    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, 1, 1, generator=generator)
    texture = F.interpolate(
        torch.rand(n, 3, 4, 4, generator=generator) * 2 - 1, size=(size, size), mode="bicubic", align_corners=False
    )
    noise = shapes.NOISE_STD * torch.randn(n, 3, size, size, generator=generator)
    return (base + shapes.TEXTURE_AMPLITUDE * texture.clamp(-1, 1) + noise).clamp(0, 1)


def with_square(images: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    x1, y1, x2, y2 = box
    painted = images.clone()
    painted[:, :, y1:y2, x1:x2] = (images.mean(dim=(2, 3), keepdim=True) + 0.5) % 1
    return painted


def test_saliency_is_high_on_an_object_and_low_on_its_background() -> None:
    salient = saliency(with_square(backgrounds(2), (10, 20, 30, 34)))
    assert salient[:, 22:32, 12:28].min() > 0.35 and salient[:, :, 34:].max() < 0.25


def test_component_boxes_match_scipy_find_objects() -> None:
    generator = torch.Generator().manual_seed(0)
    masks = torch.rand(2, 3, 20, 20, generator=generator) > 0.7
    boxes, plane = component_boxes(masks, min_area=3)
    expected = []
    eight = np.ones((3, 3), dtype=bool)
    for index, mask in enumerate(masks.flatten(0, 1).numpy()):
        labels, _ = ndimage.label(mask, structure=eight)
        areas = np.bincount(labels.ravel())
        for label, (rows, columns) in enumerate(ndimage.find_objects(labels), start=1):
            if areas[label] >= 3:
                expected.append((index, columns.start, rows.start, columns.stop, rows.stop))
    assert len(expected) > 10
    found = [(p, *map(int, b)) for p, b in zip(plane.tolist(), boxes.tolist(), strict=True)]
    assert sorted(found) == sorted(expected)


def test_jitter_keeps_the_box_and_varies_scale_and_position() -> None:
    variants = jitter(torch.tensor([[10.0, 10.0, 30.0, 20.0]]))[0]
    assert variants.shape == (len(JITTER), 4)
    assert [10.0, 10.0, 30.0, 20.0] in variants.tolist()
    centres = (variants[:, :2] + variants[:, 2:]) / 2
    assert (
        len({tuple(c) for c in centres.tolist()}) == 5
        and len({tuple(s) for s in (variants[:, 2:] - variants[:, :2]).tolist()}) == 9
    )


def test_box_means_sum_the_pixels_inside_each_box() -> None:
    values = torch.rand(2, 12, 16)
    boxes = torch.tensor([[[0.0, 0.0, 16.0, 12.0], [3.0, 2.0, 9.0, 7.0]], [[5.0, 5.0, 6.0, 6.0], [-4.0, 10.0, 30.0, 20.0]]])
    sums, areas = box_means(values, boxes)
    expected = [[values[0].sum(), values[0, 2:7, 3:9].sum()], [values[1, 5, 5], values[1, 10:, :].sum()]]
    torch.testing.assert_close(sums, torch.tensor(expected), rtol=1e-5, atol=1e-5)
    assert areas.tolist() == [[192, 30], [1, 32]]


def test_contrast_prefers_the_tight_box_to_larger_smaller_or_shifted_ones() -> None:
    images = with_square(backgrounds(1), (12, 12, 28, 28))
    candidates = torch.tensor(
        [[[12.0, 12.0, 28.0, 28.0], [6.0, 6.0, 34.0, 34.0], [16.0, 16.0, 24.0, 24.0], [18.0, 12.0, 34.0, 28.0]]]
    )
    scores = contrast(saliency(images), candidates)[0]
    assert scores.argmax() == 0 and (scores[1:] < scores[0] - 0.05).all()


@pytest.mark.parametrize("box", [(4, 6, 20, 22), (26, 20, 44, 40)])
def test_the_best_proposal_follows_the_object_in_the_image(box: tuple[int, int, int, int]) -> None:
    proposals = propose(with_square(backgrounds(3, seed=1), box), count=8)
    overlap = box_iou(proposals.boxes[:, :1], torch.tensor([box], dtype=torch.float32))
    assert (overlap > 0.9).all()


def test_scenes_without_objects_give_few_weak_proposals() -> None:
    empty = propose(backgrounds(20), count=16)
    scenes = propose(shapes.detection(20, 48, seed=3)[0], count=16)
    assert empty.valid.sum(1).float().mean() < 3 < scenes.valid.sum(1).float().mean()
    strongest_empty = empty.scores[empty.valid].max() if empty.valid.any() else 0.0
    assert strongest_empty < 0.5 * scenes.scores[:, 0].min()


def test_proposals_recall_the_generated_objects() -> None:
    images, boxes, _ = shapes.detection(60, 64, seed=7)
    proposals = propose(images, count=32)
    best = [box_iou(truth, proposals.boxes[i][proposals.valid[i]]).amax(dim=1) for i, truth in enumerate(boxes)]
    recall = (torch.cat(best) >= 0.5).float().mean().item()
    assert recall >= 0.97
    assert proposals.boxes.shape == (60, 32, 4) and proposals.scores.shape == (60, 32)
    ranked = proposals.scores.masked_fill(~proposals.valid, -torch.inf)
    assert (ranked[:, :-1] >= ranked[:, 1:]).all(), "best first, padding last"
