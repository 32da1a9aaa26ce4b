"""VOC detection metric: matching detections to ground truth, all-point average precision, mAP."""

from __future__ import annotations

import math

import pytest
import torch
from cnnbench_plugins.tasks._average_precision import Boxes, average_precision, match, mean_average_precision

SQUARE = [0.0, 0.0, 10.0, 10.0]


def boxes(rows: list[list[float]], labels: list[int], images: list[int], scores: list[float] | None = None) -> Boxes:
    return Boxes(
        torch.tensor(rows).view(-1, 4),
        torch.tensor(labels, dtype=torch.int64),
        torch.tensor(images, dtype=torch.int64),
        None if scores is None else torch.tensor(scores),
    )


def test_all_point_ap_on_a_hand_computed_curve() -> None:
    # 3 objects; in score order the detections are TP, FP, TP, FP, TP:
    # precision 1, 1/2, 2/3, 1/2, 3/5 at recall 1/3, 1/3, 2/3, 2/3, 1. The monotone envelope at the
    # three recall steps is 1, 2/3, 3/5, so AP = (1 + 2/3 + 3/5) / 3 = 34/45 (VOC2007's 11-point AP: 42/55).
    scores = torch.tensor([0.5, 0.9, 0.3, 0.7, 0.8])  # not sorted: the function sorts
    true_positive = torch.tensor([False, True, True, True, False])
    ap = average_precision(scores, true_positive, torch.zeros(5, dtype=torch.int64), torch.tensor([3]))
    assert ap.tolist() == pytest.approx([34 / 45])
    assert ap.item() != pytest.approx(42 / 55)


def test_ap_per_class_missed_objects_and_classes_without_truth() -> None:
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    true_positive = torch.tensor([True, True, True, False])
    labels = torch.tensor([0, 1, 0, 2])
    # class 0: both detections right, 4 objects -> recall 1/2 at precision 1 -> AP 1/2
    # class 1: one right of one -> 1; class 2: a false positive, no truth -> NaN (not averaged)
    ap = average_precision(scores, true_positive, labels, torch.tensor([4, 1, 0]))
    assert ap[:2].tolist() == pytest.approx([0.5, 1.0]) and math.isnan(ap[2])


def test_match_follows_the_voc_rules() -> None:
    truth = boxes([SQUARE, [20.0, 0.0, 30.0, 10.0], SQUARE], [1, 1, 1], [0, 0, 1])
    detections = boxes(
        [
            SQUARE,  # 0.9: takes object 0 of image 0
            [1.0, 0.0, 11.0, 10.0],  # 0.8: also best on object 0, already taken: duplicate, false positive
            [20.0, 0.0, 30.0, 10.0],  # 0.7: object 1
            SQUARE,  # 0.6: right box, wrong class
            [5.0, 0.0, 15.0, 10.0],  # 0.5: image 1, IoU 1/3 < 0.5
            SQUARE,  # 0.95: image 1, exact
        ],
        [1, 1, 1, 2, 1, 1],
        [0, 0, 0, 0, 1, 1],
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.95],
    )
    assert match(detections, truth).tolist() == [True, False, True, False, False, True]


def test_a_duplicate_is_false_even_when_it_overlaps_a_free_object() -> None:
    # the detection overlaps object 0 most (IoU 9/11) and object 1 enough (7/13), but object 0 is taken
    truth = boxes([SQUARE, [4.0, 0.0, 14.0, 10.0]], [1, 1], [0, 0])
    detections = boxes([SQUARE, [1.0, 0.0, 11.0, 10.0]], [1, 1], [0, 0], [0.9, 0.8])
    assert match(detections, truth).tolist() == [True, False]


def test_the_better_scored_of_two_detections_takes_the_object() -> None:
    truth = boxes([SQUARE], [3], [0])
    detections = boxes([[1.0, 0.0, 11.0, 10.0], SQUARE], [3, 3], [0, 0], [0.4, 0.6])
    assert match(detections, truth).tolist() == [False, True]


def test_map_is_one_for_perfect_detections_and_drops_with_false_positives_ranked_first() -> None:
    truth = boxes([SQUARE, [20.0, 20.0, 30.0, 30.0], SQUARE], [1, 2, 3], [0, 0, 1])
    perfect = Boxes(truth.boxes, truth.labels, truth.images, torch.tensor([0.9, 0.8, 0.7]))
    assert mean_average_precision(perfect, truth, num_classes=4) == (pytest.approx(1.0), pytest.approx([1.0, 1.0, 1.0]))
    # a class-3 false positive ranked above the class-3 hit halves that class's precision
    worse = boxes([*truth.boxes.tolist(), [40.0, 40.0, 50.0, 50.0]], [1, 2, 3, 3], [0, 0, 1, 1], [0.9, 0.8, 0.7, 0.99])
    map50, ap = mean_average_precision(worse, truth, num_classes=4)
    assert ap == pytest.approx([1.0, 1.0, 0.5]) and map50 == pytest.approx(2.5 / 3)


def test_no_detections_score_zero() -> None:
    truth = boxes([SQUARE], [2], [0])
    none = Boxes(torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64), torch.zeros(0))
    map50, ap = mean_average_precision(none, truth, num_classes=3)
    assert map50 == 0.0 and math.isnan(ap[0]) and ap[1] == 0.0
