"""Metric learning: embed images so that same-class images lie close (a siamese network with the contrastive
loss, or a triplet network with mining in the batch); scored by verification on held-out pairs and retrieval."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from cnnbench import hookimpl
from cnnbench.data import DATASETS
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.parts import Parts, flat_features
from cnnbench.tasks import Task, TaskData
from cnnbench_plugins.tasks.classification import Classification

#: (first, second, same): indices of the two images of each pair, and whether they share a label
Pairs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class EmbeddingNet(nn.Module):
    """conv 3x3 (32) - pool - conv 3x3 (64) - pool - fc 128 - fc D: an image to a D-dimensional embedding.

    With ``normalize`` (the default) the embedding is L2-normalised, as in FaceNet: every image lies on the
    unit sphere, distances are in [0, 2], and a loss margin has a fixed scale. A siamese network is this one
    module applied to both images of a pair, so its two branches share their weights by construction.
    ``num_classes`` is unused: the embedding size does not depend on the number of classes.
    """

    tasks: ClassVar[tuple[str, ...]] = ("metric_learning",)
    input_size: ClassVar[int] = 28

    def __init__(
        self, parts: Parts, in_channels: int, num_classes: int, image_size: int, embedding_dim: int = 32, normalize: bool = True
    ) -> None:
        require(isinstance(embedding_dim, int) and embedding_dim >= 1, f"embedding_dim must be an integer >= 1, got {embedding_dim!r}")
        super().__init__()
        self.normalize = normalize
        self.features = nn.Sequential(
            parts.conv_block(in_channels, 32, 3, padding=1),
            parts.pool(32),
            parts.conv_block(32, 64, 3, padding=1),
            parts.pool(64),
            nn.Flatten(),
        )
        width = flat_features(self.features, in_channels, image_size)
        self.head = nn.Sequential(parts.dense_block(width, 128), nn.Linear(128, embedding_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        embeddings = self.head(self.features(images))
        return F.normalize(embeddings, dim=1) if self.normalize else embeddings

    @classmethod
    def example(cls) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]]:
        return {"in_channels": 1, "num_classes": 10, "image_size": 28}, (torch.randn(2, 1, 28, 28),)


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


def verification(distances: torch.Tensor, same: torch.Tensor) -> dict[str, float]:
    """ROC AUC of "same" scored by −distance, and the accuracy of the best distance threshold on these pairs.

    The accuracy at each ROC point is (TPR·P + (1 − FPR)·N) / (P + N); every threshold is a point of the
    (non-thinned) ROC curve, so the maximum over its points is the best threshold's accuracy.
    """
    from sklearn.metrics import roc_auc_score, roc_curve  # ~1 s to import: only evaluation needs it

    score, truth = (-distances).double().cpu().numpy(), same.cpu().numpy()
    false_positive_rate, true_positive_rate, _ = roc_curve(truth, score, drop_intermediate=False)
    positives = int(truth.sum())
    negatives = len(truth) - positives
    accuracy = (true_positive_rate * positives + (1 - false_positive_rate) * negatives) / len(truth)
    return {"verification_accuracy": float(accuracy.max()), "roc_auc": float(roc_auc_score(truth, score))}


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


def embedding_metrics(embeddings: torch.Tensor, labels: torch.Tensor, pairs: Pairs) -> dict[str, float]:
    """Verification on ``pairs`` and retrieval recall@1 over all of ``embeddings``."""
    first, second, same = pairs
    distances = F.pairwise_distance(embeddings[first], embeddings[second], eps=0.0)
    return {**verification(distances, same), "recall_at_1": recall_at_1(embeddings, labels)}


class MetricLearning(Task):
    """Learn an embedding; metrics on the test split: verification accuracy and ROC AUC on a fixed set of
    balanced pairs, and leave-one-out recall@1. The same metrics with standardized pixels as the embedding
    are reported as ``baseline_*``: what the network adds over raw pixel distances.

    recall@1 is the primary metric: it uses every test image rather than a sample of pairs, needs no
    threshold, and still separates good embeddings where ROC AUC on random pairs (mostly easy negatives)
    is already close to 1.
    """

    models = ("embedding_net",)
    default_loss = "contrastive"
    loss_inputs = ("pairs", "embeddings")
    datasets = DATASETS
    primary_metric = "recall_at_1"
    metrics = ("verification_accuracy", "roc_auc", "recall_at_1", "baseline_verification_accuracy", "baseline_roc_auc", "baseline_recall_at_1")

    def __init__(
        self, dataset: str = "digits", limit: int | None = None, test_pairs: int = 2000, pair_seed: int = 0, eval_batch_size: int = 1000
    ) -> None:
        require(isinstance(test_pairs, int) and test_pairs >= 2, f"test_pairs must be an integer >= 2, got {test_pairs!r}")
        self.images = Classification(dataset, limit, eval_batch_size)  # same labelled images, same checks
        self.test_pairs, self.pair_seed, self.eval_batch_size = test_pairs, pair_seed, eval_batch_size

    def load_data(self, root: Path, image_size: int | None, seed: int) -> TaskData:
        """The labelled images, plus held-out pairs fixed by ``pair_seed`` (not the run's seed), so every run
        is scored on the same pairs."""
        data = self.images.load_data(root, image_size, seed)
        images, labels = data.test["images"], data.test["labels"]
        generator = torch.Generator().manual_seed(self.pair_seed)
        anchors = torch.randperm(len(labels), generator=generator)[: self.test_pairs // 2]
        pairs = balanced_pairs(labels, anchors, generator)
        baseline = embedding_metrics(images.flatten(1), labels, pairs)
        data.test.update(pairs=pairs, baseline={f"baseline_{name}": value for name, value in baseline.items()})
        return data

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

    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device) -> dict[str, Any]:
        test = data.test
        embeddings = torch.cat([model(chunk.to(device)).float().cpu() for chunk in test["images"].split(self.eval_batch_size)])
        return {**embedding_metrics(embeddings, test["labels"], test["pairs"]), **test["baseline"]}


@hookimpl
def cnnbench_register_models(register: Register) -> None:
    register("embedding_net", EmbeddingNet, embedding_dim=32, normalize=True)


@hookimpl
def cnnbench_register_tasks(register: Register) -> None:
    register("metric_learning", MetricLearning, dataset="digits", limit=None, test_pairs=2000, pair_seed=0, eval_batch_size=1000)
