"""Box geometry of the R-CNN pipeline: IoU, R-CNN's box encoding, exact greedy NMS and region warping."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from cnnbench_plugins.tasks._boxes import TARGET_WEIGHTS, box_iou, clip, decode, encode, nms, pad_groups, warp


def random_boxes(n: int, generator: torch.Generator, size: float = 32.0) -> torch.Tensor:
    corner = torch.rand(n, 2, generator=generator) * size
    extent = 1 + torch.rand(n, 2, generator=generator) * size / 2
    return torch.cat([corner, corner + extent], dim=1)


def reference_iou(a: list[float], b: list[float]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def reference_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    """Textbook greedy NMS: take the best remaining box, drop those overlapping it by more than ``threshold``."""
    remaining = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    kept = []
    while remaining:
        best = remaining.pop(0)
        kept.append(best)
        remaining = [i for i in remaining if reference_iou(boxes[best].tolist(), boxes[i].tolist()) <= threshold]
    return sorted(kept)


def test_iou_on_hand_computed_boxes() -> None:
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    b = torch.tensor(
        [[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [5.0, 5.0, 15.0, 15.0], [10.0, 0.0, 20.0, 10.0], [2.0, 2.0, 4.0, 4.0]]
    )
    # identical 1; half overlap 50/150; quarter 25/175; touching edges 0; nested 4/100
    torch.testing.assert_close(box_iou(a, b), torch.tensor([[1.0, 1 / 3, 1 / 7, 0.0, 0.04]]))


def test_iou_matches_a_pairwise_reference_with_batch_dimensions() -> None:
    generator = torch.Generator().manual_seed(0)
    a, b = random_boxes(14, generator).view(2, 7, 4), random_boxes(10, generator).view(2, 5, 4)
    expected = torch.tensor([[[reference_iou(x, y) for y in b[g].tolist()] for x in a[g].tolist()] for g in range(2)])
    torch.testing.assert_close(box_iou(a, b), expected)


def test_encoding_follows_rcnn_appendix_c() -> None:
    proposal = torch.tensor([[10.0, 20.0, 30.0, 60.0]])  # centre (20, 40), size 20 x 40
    truth = torch.tensor([[14.0, 16.0, 54.0, 36.0]])  # centre (34, 26), size 40 x 20
    expected = torch.tensor([[(34 - 20) / 20, (26 - 40) / 40, math.log(40 / 20), math.log(20 / 40)]]) * torch.tensor(
        TARGET_WEIGHTS
    )
    torch.testing.assert_close(encode(proposal, truth), expected)


def test_decode_inverts_encode() -> None:
    generator = torch.Generator().manual_seed(1)
    proposals, truth = random_boxes(50, generator).view(5, 10, 4), random_boxes(50, generator).view(5, 10, 4)
    torch.testing.assert_close(decode(proposals, encode(proposals, truth)), truth, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(decode(proposals, torch.zeros_like(proposals)), proposals)


def test_decode_clamps_runaway_scales_and_clip_keeps_boxes_inside() -> None:
    decoded = decode(torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.tensor([[0.0, 0.0, 1e4, 1e4]]))
    assert torch.isfinite(decoded).all()
    torch.testing.assert_close(
        clip(torch.tensor([[-3.0, 2.0, 70.0, 50.0]]), height=40, width=64), torch.tensor([[0.0, 2.0, 64.0, 40.0]])
    )


@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.5, 0.7])
def test_nms_equals_textbook_greedy_nms(threshold: float) -> None:
    generator = torch.Generator().manual_seed(2)
    boxes, scores = random_boxes(6 * 40, generator).view(6, 40, 4), torch.rand(6, 40, generator=generator)
    keep = nms(boxes, scores, threshold)
    for group in range(6):  # each leading index is an independent group
        assert keep[group].nonzero().flatten().tolist() == reference_nms(boxes[group], scores[group], threshold)


def test_nms_is_not_fast_nms_a_suppressed_box_suppresses_nothing() -> None:
    # b overlaps a and c by IoU 1/3, a and c do not overlap: greedy keeps a and c, Fast NMS only a
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [10.0, 0.0, 20.0, 10.0]])
    assert nms(boxes, torch.tensor([3.0, 2.0, 1.0]), 0.3).tolist() == [True, False, True]


def test_nms_padding_neither_survives_nor_suppresses() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0]])
    valid = torch.tensor([False, True, True])  # the best-scored box is padding
    assert nms(boxes, torch.tensor([9.0, 2.0, 1.0]), 0.5, valid).tolist() == [False, True, False]


def test_warp_of_a_pixel_aligned_box_at_its_own_size_is_the_crop() -> None:
    images = torch.randn(2, 3, 32, 32)
    boxes = torch.tensor([[[8.0, 4.0, 24.0, 20.0], [0.0, 0.0, 16.0, 16.0]], [[16.0, 16.0, 32.0, 32.0], [5.0, 9.0, 21.0, 25.0]]])
    crops = warp(images, boxes, 16)
    assert crops.shape == (2, 2, 3, 16, 16)
    torch.testing.assert_close(crops[0, 0], images[0, :, 4:20, 8:24])
    torch.testing.assert_close(crops[1, 1], images[1, :, 9:25, 5:21])


def test_warp_resamples_bilinearly_and_pads_context_with_zeros() -> None:
    image = torch.randn(1, 3, 32, 32)
    halved = warp(image, torch.tensor([[[8.0, 8.0, 24.0, 24.0]]]), 8)[0, 0]  # samples fall between pixel pairs
    torch.testing.assert_close(halved, F.avg_pool2d(image[:, :, 8:24, 8:24], 2)[0])
    # context 2 of 8 widens the box 8 / (8 - 2 * 2) = 2x about its centre, to the whole image: samples at
    # pixel edges 2, 6, 10, ..., each the mean of the pixels on either side (1 and 2, 5 and 6, ...)
    widened = warp(image, torch.tensor([[[8.0, 8.0, 24.0, 24.0]]]), 8, context=2)[0, 0]
    torch.testing.assert_close(widened, F.avg_pool2d(image[:, :, 1:, 1:], 2, stride=4)[0])
    outside = warp(image, torch.tensor([[[-16.0, 0.0, 0.0, 16.0]]]), 4)[0, 0]
    assert outside.abs().max() == 0


def test_pad_groups_scatters_rows_by_group_in_order() -> None:
    padded, valid = pad_groups(torch.tensor([10, 20, 30, 40]), torch.tensor([2, 0, 2, 2]), 4)
    assert padded.tolist() == [[20, 0, 0], [0, 0, 0], [10, 30, 40], [0, 0, 0]]
    assert valid.tolist() == [[True, False, False], [False, False, False], [True, True, True], [False, False, False]]
