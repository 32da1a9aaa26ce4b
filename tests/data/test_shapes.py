"""Generated shapes: deterministic scenes whose masks, boxes and labels agree with what is drawn."""

from __future__ import annotations

import math

import pytest
import torch

from cnnbench.data import shapes
from cnnbench.errors import InvalidHyperparameterError

N, SIZE, SEED = 48, 64, 7


@pytest.fixture(scope="module")
def scene() -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    images, masks = shapes.segmentation(N, SIZE, SEED)
    same_images, boxes, labels = shapes.detection(N, SIZE, SEED)
    assert torch.equal(images, same_images)  # both views draw the same scenes
    return images, masks, boxes, labels


def test_same_seed_same_scenes_other_seed_other_scenes() -> None:
    first, again, other = (shapes.segmentation(4, 32, seed) for seed in (1, 1, 2))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[1], other[1]) and (first[0] - other[0]).abs().mean() > 0.1


def test_shapes_types_and_ranges(scene) -> None:
    images, masks, boxes, labels = scene
    assert images.shape == (N, 3, SIZE, SIZE) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert masks.shape == (N, SIZE, SIZE) and masks.dtype == torch.int64
    assert shapes.CLASSES == ("background", "circle", "square", "triangle")
    assert set(masks.unique().tolist()) == {0, 1, 2, 3}
    assert len(boxes) == len(labels) == N
    assert all(b.dtype == torch.float32 and b.shape == (len(l), 4) and l.dtype == torch.int64 for b, l in zip(boxes, labels))
    assert {len(l) for l in labels} == {1, 2, 3, 4}  # 1-4 objects, every count occurs in 48 scenes
    assert torch.cat(labels).unique().tolist() == [1, 2, 3]


def test_boxes_bound_each_object_tightly_and_never_overlap(scene) -> None:
    _, masks, boxes, labels = scene
    for mask, image_boxes, image_labels in zip(masks, boxes, labels):
        covered = torch.zeros_like(mask)
        for (x1, y1, x2, y2), label in zip(image_boxes.long().tolist(), image_labels.tolist()):
            inside = mask[y1:y2, x1:x2] == label
            assert (inside | (mask[y1:y2, x1:x2] == 0)).all()  # no other object reaches into the box
            # tight: the first and last row and column of the box each hold a pixel of the object
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            covered[y1:y2, x1:x2] += 1
        assert covered.max() == 1  # boxes are disjoint
        assert (mask[covered == 0] == 0).all()  # no object pixel outside every box


def test_objects_stand_out_from_the_background(scene) -> None:
    images, masks, _, _ = scene
    for image, mask in zip(images, masks):
        background = image[:, mask == 0].mean(1)
        for kind in mask.unique()[1:]:
            assert (image[:, mask == kind].mean(1) - background).abs().max() > 0.2


def test_each_class_has_the_geometry_of_its_shape(scene) -> None:
    # share of its box an object fills: a circle pi/4; any triangle at most 1/2; a square at least 1/2,
    # and a rotated square still has a square box
    _, masks, boxes, labels = scene
    for mask, image_boxes, image_labels in zip(masks, boxes, labels):
        for (x1, y1, x2, y2), label in zip(image_boxes.long().tolist(), image_labels.tolist()):
            fill = (mask[y1:y2, x1:x2] == label).float().mean().item()
            name = shapes.CLASSES[label]
            if name == "circle":
                assert abs(fill - math.pi / 4) < 0.08 and abs((x2 - x1) - (y2 - y1)) <= 1
            elif name == "square":
                assert fill > 0.45 and abs((x2 - x1) - (y2 - y1)) <= 1
            else:
                assert fill < 0.6


@pytest.mark.parametrize("size", [16, 17, 33])
def test_small_and_odd_sizes_keep_every_object_inside_the_image(size: int) -> None:
    _, masks = shapes.segmentation(64, size, 0)
    _, boxes, labels = shapes.detection(64, size, 0)
    all_boxes = torch.cat(boxes)
    assert all_boxes.min() >= 0 and all_boxes.max() <= size
    assert (all_boxes[:, 2:] > all_boxes[:, :2]).all()  # no object vanishes, even at 16 px
    assert masks.shape == (64, size, size)


@pytest.mark.parametrize(("n", "size"), [(0, 32), (4, 15)])
def test_too_few_images_or_too_small_a_size_is_refused(n: int, size: int) -> None:
    with pytest.raises(InvalidHyperparameterError, match=r"must be >= (1|16), got") as error:
        shapes.segmentation(n, size, 0)
    assert "\n" not in str(error.value)
