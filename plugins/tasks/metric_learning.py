"""Metric learning: embed images so that same-class images lie close (a siamese network with the contrastive
loss, or a triplet network with mining in the batch); scored by verification on held-out pairs and retrieval."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cnnbench import hookimpl
from cnnbench.data import ANY_DATASET
from cnnbench.data.labelled import labelled_splits
from cnnbench.data.splits import SplitSettings
from cnnbench.errors import DataError, require
from cnnbench.hookspecs import Register
from cnnbench.tasks import Split, Task, TaskData

#: (first, second, same): indices of the two images of each pair, and whether they share a label
Pairs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def random_partners(labels: torch.Tensor, anchors: torch.Tensor, same: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each anchor, the index of a uniformly drawn other sample with the same label (``same``) or another
    label; -1 where there is none. One draw for all anchors: random scores, masked to the valid partners, argmax."""
    valid = (labels[anchors, None] == labels[None, :]) == same
    if same:
        valid[torch.arange(len(anchors), device=labels.device), anchors] = False
    scores = torch.rand(valid.shape, generator=generator, device=labels.device).masked_fill_(~valid, -1.0)
    return torch.where(valid.any(dim=1), scores.argmax(dim=1), -1)


def balanced_pairs(labels: torch.Tensor, anchors: torch.Tensor | None = None, generator: torch.Generator | None = None) -> Pairs:
    """Each anchor (all samples by default) paired once with a random same-class partner and once with a
    random other-class partner; anchors lacking either are left out, so exactly half the pairs match."""
    anchors = torch.arange(len(labels), device=labels.device) if anchors is None else anchors
    positive = random_partners(labels, anchors, True, generator)
    negative = random_partners(labels, anchors, False, generator)
    usable = (positive >= 0) & (negative >= 0)
    anchors, positive, negative = anchors[usable], positive[usable], negative[usable]
    same = torch.arange(2 * len(anchors), device=labels.device) < len(anchors)
    return torch.cat([anchors, anchors]), torch.cat([positive, negative]), same


def fit_threshold(distances: torch.Tensor, same: torch.Tensor) -> float:
    """The distance below which a pair is called "same" that is most accurate on these pairs.

    Every threshold is a point of the (non-thinned) ROC curve of "same" scored by −distance, whose accuracy
    is (TPR·P + (1 − FPR)·N) / (P + N); the best point's score threshold, negated, is the distance threshold.
    """
    from sklearn.metrics import roc_curve  # ~1 s to import: only evaluation needs it

    truth = same.cpu().numpy()
    false_positive_rate, true_positive_rate, thresholds = roc_curve(truth, (-distances).double().cpu().numpy(), drop_intermediate=False)
    positives = int(truth.sum())
    accuracy = (true_positive_rate * positives + (1 - false_positive_rate) * (len(truth) - positives)) / len(truth)
    return float(-thresholds[accuracy.argmax()])


def verification(distances: torch.Tensor, same: torch.Tensor, threshold: float) -> dict[str, float]:
    """Accuracy of calling pairs closer than ``threshold`` "same" (a threshold fitted on other pairs), and the
    ROC AUC of "same" scored by −distance (which needs no threshold)."""
    from sklearn.metrics import roc_auc_score

    accuracy = ((distances <= threshold) == same).double().mean().item()
    return {"verification_accuracy": accuracy, "roc_auc": float(roc_auc_score(same.cpu().numpy(), (-distances).double().cpu().numpy()))}


def recall_at_1(embeddings: torch.Tensor, labels: torch.Tensor, chunk: int = 1024) -> float:
    """Leave-one-out retrieval: the share of samples whose nearest other sample (Euclidean) has their label.

    Queries go in chunks so memory stays at ``chunk`` x N distances (N² would not fit for MNIST's test set).
    """
    hits = []
    for start in range(0, len(embeddings), chunk):
        distances = torch.cdist(embeddings[start : start + chunk], embeddings)
        rows = torch.arange(len(distances), device=distances.device)
        distances[rows, start + rows] = torch.inf  # a sample is not its own neighbour
        hits.append(labels[distances.argmin(dim=1)] == labels[start : start + chunk])
    return torch.cat(hits).float().mean().item()


def pair_distances(embeddings: torch.Tensor, pairs: Pairs) -> torch.Tensor:
    first, second, _ = pairs
    return F.pairwise_distance(embeddings[first], embeddings[second], eps=0.0)


def embedding_metrics(embeddings: torch.Tensor, labels: torch.Tensor, pairs: Pairs, threshold: float) -> dict[str, float]:
    """Verification on ``pairs`` at ``threshold`` and retrieval recall@1 over all of ``embeddings``."""
    return {**verification(pair_distances(embeddings, pairs), pairs[2], threshold), "recall_at_1": recall_at_1(embeddings, labels)}


class MetricLearning(Task):
    """Learn an embedding; metrics on each split: verification accuracy and ROC AUC on a fixed set of balanced
    pairs, and leave-one-out recall@1. The verification threshold is fitted on pairs of the training sample,
    never on the pairs it scores. The same metrics with standardized pixels as the embedding are reported as
    ``baseline_*``: what the network adds over raw pixel distances.

    recall@1 is the primary metric: it uses every image of the split rather than a sample of pairs, needs no
    threshold, and still separates good embeddings where ROC AUC on random pairs (mostly easy negatives)
    is already close to 1.
    """

    models = ("embedding_net",)
    default_loss = "contrastive"
    loss_inputs = ("pairs", "embeddings")
    datasets = ANY_DATASET
    primary_metric = "recall_at_1"
    metrics = ("verification_accuracy", "roc_auc", "recall_at_1", "baseline_verification_accuracy", "baseline_roc_auc", "baseline_recall_at_1")

    def __init__(
        self, dataset: str = "digits", limit: int | None = None, test_pairs: int = 2000, pair_seed: int = 0, eval_batch_size: int = 1000
    ) -> None:
        require(limit is None or limit >= 1, f"limit must be >= 1 or null, got {limit}")
        require(isinstance(test_pairs, int) and test_pairs >= 2, f"test_pairs must be an integer >= 2, got {test_pairs!r}")
        self.dataset, self.limit = dataset, limit
        self.test_pairs, self.pair_seed, self.eval_batch_size = test_pairs, pair_seed, eval_batch_size

    def load_data(self, root: Path, image_size: int | None, seed: int, split: SplitSettings, dataset_options: Mapping[str, Any] | None = None) -> TaskData:
        """The labelled images, plus for each evaluated split held-out pairs fixed by ``pair_seed`` (not the
        run's seed), so every run is scored on the same pairs; the raw-pixel baseline is computed here once."""
        data = labelled_splits(self.dataset, root, image_size, split, self.limit, dataset_options)
        splits = {"train": data.train_sample, "validation": data.validation, "test": data.test}
        pairs = {}
        for name, images in splits.items():
            generator = torch.Generator().manual_seed(self.pair_seed)
            anchors = torch.randperm(len(images["labels"]), generator=generator)[: self.test_pairs // 2]
            pairs[name] = balanced_pairs(images["labels"], anchors, generator)
            if not len(pairs[name][2]):
                raise DataError(self._too_few_for_pairs(name, images["labels"], data.info, split))
        pixels = {name: images["images"].flatten(1) for name, images in splits.items()}
        threshold = fit_threshold(pair_distances(pixels["train"], pairs["train"]), pairs["train"][2])
        scored = {}
        for name, images in splits.items():
            baseline = embedding_metrics(pixels[name], images["labels"], pairs[name], threshold)
            scored[name] = {**images, "pairs": pairs[name], "baseline": {f"baseline_{metric}": value for metric, value in baseline.items()}}
        return TaskData(data.train, scored["validation"], scored["test"], scored["train"], data.info)

    def _too_few_for_pairs(self, split_name: str, labels: torch.Tensor, info: Mapping[str, Any], split: SplitSettings) -> str:
        """Why ``split_name`` has no pair to score (no two images of one class), and the least that gives one."""
        shown = {"train": "training sample", "validation": "validation split", "test": "test split"}[split_name]
        problem = f"metric learning scores pairs of same-class images, and the {shown} has {len(labels)} images of {len(labels.unique())} classes"
        if self.limit is None:
            return f"{problem}; dataset {self.dataset!r} is too small for this task"
        if split_name != "test" and info["validation"] == "carved":
            # carve_validation holds out round(val_fraction * n) of a class's n images and keeps one to train on
            least = next(n for n in itertools.count(3) if min(n - 1, round(split.val_fraction * n)) >= 2)  # 0 < val_fraction < 1
            need = f"some class needs {least} images among the first task.limit training images (data.val_fraction={split.val_fraction:g})"
        else:
            need = "two of one class"
        return f"{problem}; task.limit={self.limit} is too small: {need}, so raise task.limit or set it to null"

    def training_loss(self, model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Pair losses get the balanced pairs of the batch (embedded once, indexed twice); embedding losses
        get the whole batch and mine it themselves."""
        embeddings, labels = model(batch["images"]), batch["labels"]
        if loss.input_kind == "embeddings":
            return loss(embeddings, labels)
        first, second, same = balanced_pairs(labels)
        if not len(same):  # e.g. a last batch of one image: nothing to compare, a zero that still backpropagates
            return embeddings.sum() * 0
        return loss(embeddings[first], embeddings[second], same)

    def _embed(self, model: nn.Module, images: torch.Tensor, device: torch.device) -> torch.Tensor:
        return torch.cat([model(chunk.to(device)).float().cpu() for chunk in images.split(self.eval_batch_size)])

    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device, split: Split) -> dict[str, Any]:
        reference, scored = data.split("train"), data.split(split)
        reference_pairs = reference["pairs"]
        threshold = fit_threshold(pair_distances(self._embed(model, reference["images"], device), reference_pairs), reference_pairs[2])
        embeddings = self._embed(model, scored["images"], device)
        return {**embedding_metrics(embeddings, scored["labels"], scored["pairs"], threshold), **scored["baseline"]}


@hookimpl
def cnnbench_register_tasks(register: Register) -> None:
    register("metric_learning", MetricLearning, dataset="digits", limit=None, test_pairs=2000, pair_seed=0, eval_batch_size=1000)
