"""Segmentation: the confusion matrix, pixel accuracy and mean IoU, the FCN, the baseline, and runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cnnbench_plugins.tasks.segmentation import confusion_matrix, segmentation_scores
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix
from sklearn.metrics import jaccard_score

from cnnbench.composition import compose_run_config
from cnnbench.data import shapes
from cnnbench.data.splits import SplitSettings
from cnnbench.errors import IncompatibleConfigError, InvalidHyperparameterError
from cnnbench.parts import Parts
from cnnbench.training.execute import execute

METRICS = {"pixel_accuracy", "mean_iou", "per_class_iou", "loss", "baseline_pixel_accuracy", "baseline_mean_iou"}


def config(*overrides: str):
    return compose_run_config(["trainer.progress=false", *overrides])


def fcn(registry, image_size: int = 16, **hp):
    context = {"parts": Parts(registry), "in_channels": 3, "num_classes": 4, "image_size": image_size}
    return registry.create("model", {"name": "fcn", **hp}, **context)


# --- metrics ------------------------------------------------------------------------------------------


def test_confusion_and_scores_on_a_hand_computed_example() -> None:
    target = torch.tensor([[0, 0, 1], [1, 2, 2]])
    predicted = torch.tensor([[0, 1, 1], [1, 0, 2]])
    confusion = confusion_matrix(target, predicted, 4)
    assert confusion.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    scores = segmentation_scores(confusion)
    # IoU = TP / (TP + FP + FN): 1/3, 2/3, 1/2; class 3 is in neither truth nor prediction: NaN, not averaged
    assert scores["pixel_accuracy"] == pytest.approx(4 / 6)
    assert scores["per_class_iou"][:3] == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert scores["per_class_iou"][3] != scores["per_class_iou"][3]
    assert scores["mean_iou"] == pytest.approx(1 / 2)


def test_a_class_only_predicted_counts_in_the_mean_with_iou_zero() -> None:
    scores = segmentation_scores(confusion_matrix(torch.tensor([0, 0, 0, 0]), torch.tensor([0, 0, 0, 3]), 4))
    assert scores["mean_iou"] == pytest.approx((3 / 4 + 0) / 2)


def test_scores_match_scikit_learn() -> None:
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (5, 9, 9), generator=generator)
    predicted = torch.where(torch.rand(target.shape, generator=generator) < 0.6, target, torch.randint(0, 3, target.shape, generator=generator))
    confusion = confusion_matrix(target, predicted, 4)
    truth, guess = target.flatten().numpy(), predicted.flatten().numpy()
    assert confusion.tolist() == sklearn_confusion_matrix(truth, guess, labels=range(4)).tolist()
    scores = segmentation_scores(confusion)
    assert scores["per_class_iou"] == pytest.approx(list(jaccard_score(truth, guess, average=None, labels=range(4))))
    assert scores["mean_iou"] == pytest.approx(jaccard_score(truth, guess, average="macro"))


# --- model --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth, skips", [(3, 0), (3, 1), (3, 2), (2, 1)])
def test_fcn_scores_every_pixel(registry, depth: int, skips: int) -> None:
    model = fcn(registry, 16, depth=depth, skips=skips)
    upsampling = registry.get("layer", "transposed_conv").factory
    assert sum(isinstance(m, upsampling) for m in model.modules()) == skips + 1
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 4, 16, 16)


def test_the_skip_connection_carries_gradient_to_its_score_layer(registry) -> None:
    model = fcn(registry, skips=2)
    model(torch.randn(2, 3, 16, 16)).square().mean().backward()
    assert all(score.weight.grad.abs().sum() > 0 for score in model.scores)


@pytest.mark.parametrize(
    "hp, message",
    [
        ({"skips": 3}, "skips must be an integer in \\[0, depth - 1\\]"),
        ({"depth": 0}, "depth must be an integer >= 1"),
        ({"image_size": 20}, "image_size must be a multiple of 2\\^depth = 8, got 20"),
    ],
)
def test_fcn_refuses_bad_settings(registry, hp: dict, message: str) -> None:
    size = hp.pop("image_size", 16)
    with pytest.raises(InvalidHyperparameterError, match=f"model 'fcn': {message}"):
        fcn(registry, size, **hp)


# --- task ---------------------------------------------------------------------------------------------


def test_scenes_and_the_all_background_baseline(registry) -> None:
    task = registry.create("task", {"name": "segmentation", "n_train": 8, "n_test": 6, "image_size": 16})
    data = task.load_data(Path("unused"), None, seed=0, split=SplitSettings(val_fraction=0.5))
    assert data.info["num_classes"] == 4 and data.info["image_size"] == 16
    assert data.train["images"].shape == (8, 3, 16, 16) and data.test["masks"].shape == (6, 16, 16)
    masks = data.test["masks"]
    background = (masks == 0).double().mean().item()
    assert data.test["baseline"] == pytest.approx(
        {"baseline_pixel_accuracy": background, "baseline_mean_iou": background / len(masks.unique())}
    )
    # the scenes do not follow the run's seed: every run is scored on the same images
    assert torch.equal(task.load_data(Path("unused"), None, seed=5, split=SplitSettings(val_fraction=0.5)).test["images"], data.test["images"])
    _, generated = shapes.segmentation(14, 16, 0)
    assert torch.equal(masks, generated[8:])
    # validation: val_fraction of n_train more scenes, from a stream of their own
    assert data.validation["masks"].shape == (4, 16, 16) and data.train_sample["masks"].shape == (4, 16, 16)
    assert not any(torch.equal(m, g) for m in data.validation["masks"] for g in generated)


def test_unknown_dataset_is_refused(registry) -> None:
    with pytest.raises(InvalidHyperparameterError, match="segmentation.*dataset must be one of shapes"):
        registry.create("task", {"name": "segmentation", "dataset": "digits"})


# --- runs ---------------------------------------------------------------------------------------------


def test_a_run_records_the_metrics_and_the_baseline(registry, tmp_path: Path) -> None:
    overrides = ["experiment=segmentation", "task.n_train=48", "task.n_test=8", "task.image_size=16", "trainer.epochs=2"]
    record, path = execute(config(*overrides, f"results.dir={tmp_path}"), registry)
    assert record.status == "completed" and record.model == "fcn" and record.components["loss"] == "softmax"
    assert all(set(record.metrics[split]) == METRICS and len(record.metrics[split]["per_class_iou"]) == 4 for split in record.metrics)
    assert record.data.validation == "generated" and record.data.sizes == {"train": 48, "validation": 5, "test": 8}
    assert [row["epoch"] for row in json.loads(path.read_text())["curve"]] == [1, 2]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["task=classification", "model=fcn"], "model 'fcn' serves segmentation, not task 'classification'"),
        (["task=segmentation", "model=lenet5"], "model 'lenet5' serves classification, not task 'segmentation'"),
        (["task=segmentation", "loss=contrastive"], "loss 'contrastive' takes pairs, but task 'segmentation' feeds logits"),
    ],
)
def test_incompatible_combinations_are_refused_before_training(registry, tmp_path: Path, overrides: list[str], message: str) -> None:
    with pytest.raises(IncompatibleConfigError, match=message):
        execute(config(*overrides, f"results.dir={tmp_path}"), registry)
    assert not (tmp_path / "runs").exists()
