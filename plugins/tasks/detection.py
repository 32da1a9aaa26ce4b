"""Object detection with the R-CNN pipeline (Girshick et al. 2014), the survey's detection application, on shapes.

Region proposals from the image (:mod:`._proposals`) -> each warped to the network's fixed input size ->
CNN features -> class scores over background + 3 shapes and class-specific box regression -> per-class
NMS -> detections, scored by VOC mAP at IoU 0.5 (:mod:`._average_precision`).

R-CNN trained in three stages on fixed features: CNN fine-tuning with a softmax, then one linear SVM per
class, then ridge box regressors. The shared training loop trains one objective, so both heads are trained
jointly as in Fast R-CNN (Girshick 2015): the configured loss on the class scores (softmax by default;
``loss=hinge`` is the closest analogue of R-CNN's SVMs) plus a smooth L1 loss on the box regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from cnnbench_plugins.tasks._average_precision import Boxes, mean_average_precision
from cnnbench_plugins.tasks._boxes import box_iou, clip, decode, encode, nms, pad_groups, warp
from cnnbench_plugins.tasks._proposals import Proposals, propose
from torch import nn

from cnnbench import hookimpl
from cnnbench.data import shapes
from cnnbench.data.fingerprint import fingerprint
from cnnbench.data.splits import SplitSettings, training_sample, validation_seed
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.tasks import Split, Task, TaskData
from cnnbench_plugins.models.rcnn import RCNN, RCNNOutput

#: R-CNN's fine-tuning labels: a proposal is an object at IoU >= 0.5 with a ground-truth box, else background
#: (its SVM stage instead took only IoU < 0.3 as negatives; the joint training here follows fine-tuning); it
#: gets a box-regression target at IoU >= 0.6 (Girshick et al. 2014, Sec. 2.3 and appendix C)
FOREGROUND_IOU = 0.5
REGRESSION_IOU = 0.6
#: detections scoring less are dropped before NMS (py-faster-rcnn's VOC test threshold)
SCORE_THRESHOLD = 0.05
#: Fast R-CNN's smooth L1 transition point (torchvision uses 1/9 for box regression)
SMOOTH_L1_BETA = 1 / 9


@dataclass
class DetectionTestSet:
    """The held-out scenes: their proposals already warped, their ground truth, and scores fixed at load time."""

    crops: torch.Tensor  # (N, P, C, s, s)
    proposals: Proposals
    truth: Boxes
    labels: torch.Tensor  # (N, P) each proposal's class by R-CNN's labelling, for the test loss
    targets: torch.Tensor  # (N, P, 4)
    has_target: torch.Tensor  # (N, P)
    proposal_recall: float
    baseline_map50: float


def assign(proposals: Proposals, truth: Boxes) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """R-CNN's labelling of proposals (N, P) by their best-overlapping ground-truth box.

    Returns the class (0 = background below :data:`FOREGROUND_IOU`), the regression target towards that
    box, and whether the target counts (IoU >= :data:`REGRESSION_IOU`).
    """
    n = len(proposals.boxes)
    boxes, present = pad_groups(truth.boxes, truth.images, n)
    classes, _ = pad_groups(truth.labels, truth.images, n)
    best, index = box_iou(proposals.boxes, boxes).masked_fill(~present[:, None], 0.0).max(dim=-1)
    image = torch.arange(n)[:, None]
    labels = torch.where((best >= FOREGROUND_IOU) & proposals.valid, classes[image, index], 0)
    targets = torch.where(proposals.valid[..., None], encode(proposals.boxes, boxes[image, index]), 0.0)
    return labels, targets, (best >= REGRESSION_IOU) & proposals.valid


def sample(
    labels: torch.Tensor, valid: torch.Tensor, count: int, fg_fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``count`` of each image's P proposals at random, up to ``fg_fraction`` of them objects.

    R-CNN fine-tuning drew 25% positives per mini-batch because positives are rare; here each image
    contributes ``count`` samples (Fast R-CNN's per-image sampling). Background fills what objects do not,
    and objects fill what background cannot. Returns (N, count) indices and whether each is a real proposal.
    """
    noise = torch.rand(labels.shape, generator=generator)
    foreground, background = valid & (labels > 0), valid & (labels == 0)
    foreground_rank = torch.where(foreground, noise, 2.0).argsort(dim=1).argsort(dim=1)
    wanted = foreground & (foreground_rank < round(fg_fraction * count))
    priority = 3.0 * wanted + 2.0 * background + 1.0 * foreground + noise
    index = priority.topk(count, dim=1).indices
    return index, valid.gather(1, index)


def objective(
    output: RCNNOutput, loss: nn.Module, labels: torch.Tensor, targets: torch.Tensor, has_target: torch.Tensor
) -> torch.Tensor:
    """The configured loss on the class scores plus smooth L1 on the true class's box regression.

    The regression sum is divided by the number of samples, background included (Fast R-CNN, torchvision).
    """
    deltas = output.deltas[torch.arange(len(labels), device=labels.device), labels]
    regression = F.smooth_l1_loss(deltas[has_target].float(), targets[has_target], beta=SMOOTH_L1_BETA, reduction="sum")
    return loss(output.logits, labels) + regression / max(len(labels), 1)


def detect(boxes: torch.Tensor, scores: torch.Tensor, valid: torch.Tensor, labels: torch.Tensor, nms_iou: float) -> Boxes:
    """Per-class NMS on each image, then the survivors as flat detections.

    Args:
        boxes: (N, K, P, 4) each proposal's box for each of K classes; scores, valid: (N, K, P).
        labels: (K,) the class label of each of the K groups.
    """
    keep = nms(boxes, scores, nms_iou, valid)
    image, group, _ = keep.nonzero(as_tuple=True)
    return Boxes(boxes[keep], labels[group], image, scores[keep])


class Detection(Task):
    """R-CNN object detection on generated shapes scenes; primary metric VOC mAP at IoU 0.5 ("map50").

    ``image_size`` is the scene size; proposals are warped to ``crop_size``, by default the model's input
    size (the ``image_size`` that :meth:`load_data` receives).
    """

    models = ("rcnn",)
    default_loss = "softmax"
    loss_inputs = ("logits",)
    datasets = ("shapes",)
    primary_metric = "map50"
    metrics = ("map50", "loss", "proposal_recall", "baseline_map50")

    def __init__(
        self,
        dataset: str = "shapes",
        n_train: int = 400,
        n_test: int = 200,
        image_size: int = 64,
        crop_size: int | None = None,
        context_pad: int = 2,
        proposals: int = 32,
        samples_per_image: int = 16,
        fg_fraction: float = 0.25,
        nms_iou: float = 0.3,
        data_seed: int = 0,
        eval_batch_size: int = 1024,
    ) -> None:
        if dataset not in self.datasets:
            raise ValueError(f"dataset must be one of {', '.join(self.datasets)}, got {dataset!r}")
        require(n_train >= 1 and n_test >= 1, f"n_train and n_test must be >= 1, got {n_train} and {n_test}")
        require(image_size >= shapes.MIN_SIZE, f"image_size must be >= {shapes.MIN_SIZE}, got {image_size}")
        require(crop_size is None or crop_size >= 8, f"crop_size must be >= 8 or null (the model's input size), got {crop_size}")
        require(context_pad >= 0, f"context_pad must be >= 0, got {context_pad}")
        require(
            1 <= samples_per_image <= proposals,
            f"samples_per_image must be in [1, proposals={proposals}], got {samples_per_image}",
        )
        require(0.0 <= fg_fraction <= 1.0, f"fg_fraction must be in [0, 1], got {fg_fraction}")
        require(0.0 < nms_iou <= 1.0, f"nms_iou must be in (0, 1], got {nms_iou}")
        require(eval_batch_size >= 1, f"eval_batch_size must be >= 1, got {eval_batch_size}")
        self.dataset, self.n_train, self.n_test, self.image_size = dataset, n_train, n_test, image_size
        self.crop_size, self.context_pad, self.proposals = crop_size, context_pad, proposals
        self.samples_per_image, self.fg_fraction, self.nms_iou = samples_per_image, fg_fraction, nms_iou
        self.data_seed, self.eval_batch_size = data_seed, eval_batch_size

    def load_data(self, root: Path, image_size: int | None, seed: int, split: SplitSettings) -> TaskData:
        """Train and test scenes from ``data_seed`` (the same for every run; disjoint), validation scenes
        (``val_fraction`` of ``n_train``) from their own seed stream; proposals, crops.

        The run's ``seed`` draws the training samples among the proposals.
        """
        crop = self.crop_size or image_size or RCNN.input_size
        require(2 * self.context_pad < crop, f"context_pad must be < half the crop size {crop}, got {self.context_pad}")
        scenes = shapes.detection(self.n_train + self.n_test, self.image_size, self.data_seed)
        val_scenes = shapes.detection(split.count(self.n_train), self.image_size, validation_seed(self.data_seed, split))
        train_scenes = tuple(part[: self.n_train] for part in scenes)
        train_images, train_truth, train_proposals = self._prepare(*train_scenes)
        mean = train_images.mean(dim=(0, 2, 3), keepdim=True)
        std = train_images.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

        labels, targets, has_target = assign(train_proposals, train_truth)
        index, real = sample(
            labels, train_proposals.valid, self.samples_per_image, self.fg_fraction, torch.Generator().manual_seed(seed)
        )
        image = torch.arange(self.n_train)[:, None]
        train = {
            "crops": warp((train_images - mean) / std, train_proposals.boxes[image, index], crop, self.context_pad)[real],
            "labels": labels[image, index][real],
            "targets": targets[image, index][real],
            "has_target": has_target[image, index][real],
        }
        frequent = torch.bincount(train_truth.labels).argmax()

        def evaluation_set(parts: tuple[Any, ...]) -> DetectionTestSet:
            images, truth, proposals = self._prepare(*parts)
            return DetectionTestSet(
                warp((images - mean) / std, proposals.boxes, crop, self.context_pad),
                proposals,
                truth,
                *assign(proposals, truth),
                proposal_recall=self._recall(proposals, truth),
                baseline_map50=self._baseline(proposals, truth, frequent),
            )

        picked = training_sample(self.n_train, len(val_scenes[0]), split).tolist()
        return TaskData(
            train=train,
            validation=evaluation_set(val_scenes),
            test=evaluation_set(tuple(part[self.n_train :] for part in scenes)),
            train_sample=evaluation_set((train_scenes[0][picked], *([part[i] for i in picked] for part in train_scenes[1:]))),
            info={
                "dataset": self.dataset,
                "in_channels": train_images.shape[1],
                "num_classes": len(shapes.CLASSES),
                "image_size": crop,
                "classes": list(shapes.CLASSES),
                "validation": "generated",
                "fingerprint": fingerprint(scenes, val_scenes),
            },
        )

    def _prepare(
        self, images: torch.Tensor, boxes: list[torch.Tensor], labels: list[torch.Tensor]
    ) -> tuple[torch.Tensor, Boxes, Proposals]:
        """Scenes with their ground truth made flat, and their proposals."""
        counts = torch.tensor([len(b) for b in boxes])
        truth = Boxes(torch.cat(boxes), torch.cat(labels), torch.arange(len(images)).repeat_interleave(counts))
        return images, truth, propose(images, self.proposals)

    @staticmethod
    def _recall(proposals: Proposals, truth: Boxes) -> float:
        """Fraction of ground-truth boxes that some proposal of their image overlaps by IoU >= 0.5."""
        overlap = box_iou(truth.boxes[:, None], proposals.boxes[truth.images])[:, 0]
        return ((overlap * proposals.valid[truth.images]).amax(dim=1) >= FOREGROUND_IOU).float().mean().item()

    def _baseline(self, proposals: Proposals, truth: Boxes, frequent: torch.Tensor) -> float:
        """mAP of a detector without a CNN: every proposal, scored by its objectness, labelled the most frequent class."""
        detections = detect(
            proposals.boxes[:, None], proposals.scores[:, None], proposals.valid[:, None], frequent[None], self.nms_iou
        )
        return mean_average_precision(detections, truth, len(shapes.CLASSES), FOREGROUND_IOU)[0]

    def training_loss(self, model: nn.Module, loss: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return objective(model(batch["crops"]), loss, batch["labels"], batch["targets"], batch["has_target"])

    def evaluate(self, model: nn.Module, loss: nn.Module, data: TaskData, device: torch.device, split: Split) -> dict[str, Any]:
        test: DetectionTestSet = data.split(split)
        n, count = test.labels.shape
        outputs = [model(chunk.to(device)) for chunk in test.crops.flatten(0, 1).split(self.eval_batch_size)]
        logits = torch.cat([o.logits for o in outputs]).float()
        deltas = torch.cat([o.deltas for o in outputs]).float()
        valid = test.proposals.valid.flatten().to(device)
        test_loss = objective(
            RCNNOutput(logits[valid], deltas[valid]),
            loss,
            *(t.flatten(0, 1).to(device)[valid] for t in (test.labels, test.targets, test.has_target)),
        )

        classes = logits.shape[1]
        scores = logits.cpu().softmax(dim=1).view(n, count, classes)[..., 1:].transpose(1, 2)  # (N, K, P), objects only
        deltas = deltas.cpu().view(n, count, classes, 4)[:, :, 1:]
        boxes = decode(test.proposals.boxes[:, :, None], deltas).transpose(1, 2)  # (N, K, P, 4)
        detections = detect(
            clip(boxes, self.image_size, self.image_size),
            scores,
            test.proposals.valid[:, None] & (scores >= SCORE_THRESHOLD),
            torch.arange(1, classes),
            self.nms_iou,
        )
        map50, ap50 = mean_average_precision(detections, test.truth, classes, FOREGROUND_IOU)
        return {
            "map50": map50,
            "ap50": ap50,
            "loss": test_loss.item(),
            "proposal_recall": test.proposal_recall,
            "baseline_map50": test.baseline_map50,
        }


@hookimpl
def cnnbench_register_tasks(register: Register) -> None:
    register(
        "detection",
        Detection,
        dataset="shapes",
        n_train=400,
        n_test=200,
        image_size=64,
        crop_size=None,
        context_pad=2,
        proposals=32,
        samples_per_image=16,
        fg_fraction=0.25,
        nms_iou=0.3,
        data_seed=0,
        eval_batch_size=1024,
    )
