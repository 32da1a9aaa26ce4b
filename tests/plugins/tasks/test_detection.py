"""The R-CNN detection task: labelling and sampling of proposals, the objective, evaluation, and runs."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from cnnbench_plugins.tasks._average_precision import Boxes
from cnnbench_plugins.tasks._boxes import encode
from cnnbench_plugins.tasks._proposals import Proposals
from cnnbench_plugins.tasks.detection import RCNNOutput, assign, detect, objective, sample
from torch import nn

from cnnbench.composition import compose_run_config
from cnnbench.data.splits import SplitSettings
from cnnbench.errors import IncompatibleConfigError, InvalidHyperparameterError
from cnnbench.parts import Parts
from cnnbench.plugins import default_registry
from cnnbench.training.execute import execute

SMALL = ["task.n_train=40", "task.n_test=20"]


def config(*overrides: str):
    return compose_run_config(["trainer.progress=false", *overrides])


def rcnn(registry, **parts):
    return registry.create("model", "rcnn", parts=Parts(registry, **parts), in_channels=3, num_classes=4, image_size=32)


# --- labelling, sampling, objective -------------------------------------------------------------------


def test_assign_follows_rcnn_overlap_rules() -> None:
    truth = Boxes(torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]]), torch.tensor([2, 3]), torch.tensor([0, 0]))
    boxes = torch.tensor(
        [
            [
                [0.0, 0.0, 10.0, 10.0],
                [0.0, 0.0, 10.0, 6.0],
                [0.0, 0.0, 10.0, 5.0],
                [0.0, 0.0, 10.0, 4.0],
                [21.0, 20.0, 31.0, 30.0],
                [0.0, 0.0, 10.0, 10.0],
            ]
        ]
    )
    proposals = Proposals(boxes, torch.zeros(1, 6), torch.tensor([[True] * 5 + [False]]))
    labels, targets, has_target = assign(proposals, truth)
    # IoU 1, 0.6, 0.5, 0.4 with the class-2 box; 9/11 with the class-3 box; padding is never an object
    assert labels.tolist() == [[2, 2, 2, 0, 3, 0]]
    assert has_target.tolist() == [[True, True, False, False, True, False]]
    torch.testing.assert_close(targets[0, 4], encode(boxes[0, 4], truth.boxes[1]))
    torch.testing.assert_close(targets[0, 0], torch.zeros(4))


def test_sample_draws_the_foreground_fraction_and_fills_from_what_is_left() -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.tensor([[1] * 10 + [0] * 20, [2] * 26 + [0] * 4, [0] * 30])
    valid = torch.ones_like(labels, dtype=torch.bool)
    valid[2, 5:] = False  # an image with only 5 real proposals
    index, real = sample(labels, valid, 8, 0.25, generator)
    chosen = labels.gather(1, index)
    assert index.shape == (3, 8) and all(len(set(row)) == 8 for row in index.tolist())
    assert ((chosen > 0) & real).sum(1).tolist() == [2, 4, 0]  # 25% of 8; too little background: objects fill
    assert real.sum(1).tolist() == [8, 8, 5]
    assert valid.gather(1, index)[real].all()
    again, _ = sample(labels, valid, 8, 0.25, torch.Generator().manual_seed(0))
    assert torch.equal(index, again)


def test_objective_regresses_only_the_true_class_of_objects_with_a_target() -> None:
    logits = torch.randn(4, 4)
    deltas = torch.randn(4, 4, 4)
    labels, has_target = torch.tensor([2, 0, 1, 3]), torch.tensor([True, False, True, False])
    targets = torch.randn(4, 4)
    loss = nn.CrossEntropyLoss()
    total = objective(RCNNOutput(logits, deltas), loss, labels, targets, has_target)
    rows = torch.tensor([0, 2])
    expected = (
        F.cross_entropy(logits, labels)
        + F.smooth_l1_loss(deltas[rows, labels[rows]], targets[rows], beta=1 / 9, reduction="sum") / 4
    )
    torch.testing.assert_close(total, expected)
    untouched = deltas.clone()
    untouched[0, 1] += 5.0  # another class's regression
    untouched[1, 0] += 5.0  # a background sample
    untouched[3, 3] += 5.0  # an object without a target
    torch.testing.assert_close(objective(RCNNOutput(logits, untouched), loss, labels, targets, has_target), total)


def test_detect_suppresses_within_a_class_never_across_classes() -> None:
    box = torch.tensor([0.0, 0.0, 10.0, 10.0])
    boxes = torch.stack([box, box + 1, box + 20]).expand(1, 2, 3, 4)  # two classes, same three boxes
    scores = torch.tensor([[[0.9, 0.8, 0.7], [0.2, 0.6, 0.1]]])
    found = detect(boxes, scores, torch.ones(1, 2, 3, dtype=torch.bool), torch.tensor([1, 3]), nms_iou=0.3)
    # box 1 overlaps box 0 (IoU 81/119): suppressed by class 1's box 0, but it is class 3's best box
    assert found.labels.tolist() == [1, 1, 3, 3] and found.images.tolist() == [0, 0, 0, 0]
    assert found.scores.tolist() == pytest.approx([0.9, 0.7, 0.6, 0.1])
    assert torch.equal(found.boxes, boxes[0, 0, [0, 2, 1, 2]])


# --- model --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parts",
    [{}, {"activation": {"name": "maxout", "pieces": 2}, "pooling": {"name": "avg"}}, {"pooling": {"name": "mixed", "lam": 0.3}}],
)
def test_rcnn_scores_classes_and_regresses_a_box_per_class(registry, parts) -> None:
    model = rcnn(registry, **parts)
    output = model(torch.randn(5, 3, 32, 32))
    assert output.logits.shape == (5, 4) and output.deltas.shape == (5, 4, 4)
    (output.logits.sum() + output.deltas.sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.double()(torch.randn(2, 3, 32, 32, dtype=torch.float64)).deltas.dtype == torch.float64


def test_rcnn_starts_by_keeping_the_proposals(registry) -> None:
    assert rcnn(registry).eval()(torch.randn(8, 3, 32, 32)).deltas.abs().max() < 0.1


# --- task ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task_and_data():
    task = default_registry().create("task", {"name": "detection", "n_train": 24, "n_test": 12})
    return task, task.load_data(None, 32, seed=0, split=SplitSettings())


def test_load_data_precomputes_labelled_training_crops(task_and_data) -> None:
    task, data = task_and_data
    train = data.train
    assert train["crops"].shape[1:] == (3, 32, 32) and data.info["image_size"] == 32 and data.info["num_classes"] == 4
    assert len({len(v) for v in train.values()}) == 1 and data.train_size <= 24 * task.samples_per_image
    assert set(train["labels"].unique().tolist()) == {0, 1, 2, 3}
    assert not train["has_target"][train["labels"] == 0].any()
    assert data.test.crops.shape == (12, task.proposals, 3, 32, 32)
    assert data.test.proposal_recall >= 0.95


def test_training_samples_follow_the_seed_but_the_scenes_do_not(task_and_data) -> None:
    task, data = task_and_data
    same, other = (task.load_data(None, 32, seed=seed, split=SplitSettings()) for seed in (0, 1))
    assert all(torch.equal(data.train[k], same.train[k]) for k in data.train)
    assert not torch.equal(data.train["crops"][:20], other.train["crops"][:20])
    assert torch.equal(data.test.crops, other.test.crops) and torch.equal(data.test.truth.boxes, other.test.truth.boxes)
    assert torch.equal(data.validation.crops, other.validation.crops)


def test_validation_scenes_are_their_own_and_follow_the_split_seed(task_and_data) -> None:
    task, data = task_and_data
    assert len(data.validation.crops) == SplitSettings().count(24) == 2 and len(data.train_sample.crops) == 2
    assert not torch.equal(data.validation.crops, data.test.crops[:2])
    reseeded = task.load_data(None, 32, seed=0, split=SplitSettings(split_seed=1))
    assert not torch.equal(reseeded.validation.crops, data.validation.crops) and torch.equal(reseeded.test.crops, data.test.crops)


class Oracle(nn.Module):
    """Answers each test crop with its true class and regression target, or (``shift``) with a wrong class."""

    def __init__(self, crops: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, shift: int) -> None:
        super().__init__()
        self.crops, self.labels, self.targets, self.shift = crops.flatten(1), labels, targets, shift

    def forward(self, crops: torch.Tensor) -> RCNNOutput:
        index = torch.cdist(crops.flatten(1), self.crops).argmin(dim=1)
        labels = torch.where(self.labels[index] > 0, (self.labels[index] - 1 + self.shift) % 3 + 1, 0)
        return RCNNOutput(10.0 * F.one_hot(labels, 4).float(), self.targets[index, None].expand(-1, 4, -1))


@pytest.mark.parametrize("shift, expected", [(0, 1.0), (1, 0.0)])
def test_evaluate_scores_an_oracle_perfectly_and_a_confused_one_at_zero(task_and_data, shift: int, expected: float) -> None:
    task, data = task_and_data
    test = data.test
    valid = test.proposals.valid.flatten()
    oracle = Oracle(test.crops.flatten(0, 1)[valid], test.labels.flatten()[valid], test.targets.flatten(0, 1)[valid], shift)
    metrics = task.evaluate(oracle, nn.CrossEntropyLoss(), data, torch.device("cpu"), "test")
    assert test.proposal_recall == 1.0
    assert metrics["map50"] == pytest.approx(expected) and metrics["ap50"] == pytest.approx([expected] * 3)
    assert metrics["baseline_map50"] < 0.5 and metrics["proposal_recall"] == test.proposal_recall


# --- runs through Hydra -------------------------------------------------------------------------------


def test_experiment_runs_and_records_map(registry, tmp_path) -> None:
    record, path = execute(config("experiment=detection", "trainer.epochs=1", *SMALL, f"results.dir={tmp_path}"), registry)
    assert record.status == "completed" and record.task == "detection" and record.model == "rcnn"
    stored = json.loads(path.read_text())["metrics"]
    for split in ("train", "validation", "test"):
        assert 0.0 <= stored[split]["map50"] <= 1.0 and len(stored[split]["ap50"]) == 3
        assert {"loss", "proposal_recall", "baseline_map50"} <= set(stored[split])


def test_the_same_config_and_seed_give_identical_metrics(registry, tmp_path) -> None:
    overrides = ("experiment=detection", "trainer.epochs=1", *SMALL, f"results.dir={tmp_path}")
    first, second = (execute(config(*overrides), registry)[0].metrics for _ in range(2))
    assert first == second


@pytest.mark.parametrize(
    "overrides, error",
    [
        (["experiment=detection", *SMALL, "task.dataset=digits"], InvalidHyperparameterError),
        (["experiment=detection", *SMALL, "task.samples_per_image=64"], InvalidHyperparameterError),
        (["experiment=detection", *SMALL, "task.context_pad=16"], InvalidHyperparameterError),
        (["task=classification", "model=rcnn"], IncompatibleConfigError),
        (["task=detection", *SMALL, "model=lenet5"], IncompatibleConfigError),
        (["experiment=detection", *SMALL, "loss=triplet"], IncompatibleConfigError),
    ],
)
def test_combinations_that_cannot_work_are_refused_before_training(registry, tmp_path, overrides, error) -> None:
    with pytest.raises(error) as refused:
        execute(config(*overrides, f"results.dir={tmp_path}"), registry)
    assert "\n" not in str(refused.value)
    assert not any(tmp_path.rglob("*.json"))
