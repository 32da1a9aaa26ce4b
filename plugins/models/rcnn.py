"""R-CNN's region network (Girshick et al. 2014), the detection model: a class head and a box head per region."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from cnnbench import hookimpl
from cnnbench.hookspecs import Register
from cnnbench.parts import Parts, flat_features
from cnnbench.spec import Range, Spec


class RCNNOutput(NamedTuple):
    logits: torch.Tensor  # (N, num_classes), class 0 is background
    deltas: torch.Tensor  # (N, num_classes, 4), the box regression of each class (see _boxes.encode)


class RCNN(nn.Module):
    """R-CNN's network for warped regions: conv-pool x3, a fully connected layer, a class head and a box head.

    A small stand-in for R-CNN's AlexNet (227x227 warps; here 32x32); convolution, pooling and activation
    come from the config. The box head is class-specific, as R-CNN's regressors, and starts near zero
    (Fast R-CNN's N(0, 0.001) initialisation), so early training leaves the proposals as they are.
    """

    tasks: ClassVar[tuple[str, ...]] = ("detection",)
    input_size: ClassVar[int] = 32
    stochastic: ClassVar[bool] = True  # dropout

    def __init__(
        self,
        parts: Parts,
        in_channels: int,
        num_classes: int,
        image_size: int,
        width: int = 16,
        hidden: int = 128,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        if width < 1 or hidden < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"width and hidden must be >= 1 and dropout in [0, 1), got width={width}, hidden={hidden}, dropout={dropout}"
            )
        if image_size < 8:
            raise ValueError(f"the warped region size must be >= 8 (three 2x2 poolings), got {image_size}")
        w = width
        self.features = nn.Sequential(
            parts.conv_block(in_channels, w, 3, padding=1),
            parts.pool(w),
            parts.conv_block(w, 2 * w, 3, padding=1),
            parts.pool(2 * w),
            parts.conv_block(2 * w, 4 * w, 3, padding=1),
            parts.pool(4 * w),
            nn.Flatten(),
        )
        self.fc = nn.Sequential(
            nn.Dropout(dropout), parts.dense_block(flat_features(self.features, in_channels, image_size), hidden)
        )
        self.classify = nn.Linear(hidden, num_classes)
        self.regress = nn.Linear(hidden, 4 * num_classes)
        nn.init.normal_(self.regress.weight, std=0.001)
        nn.init.zeros_(self.regress.bias)

    def forward(self, crops: torch.Tensor) -> RCNNOutput:
        features = self.fc(self.features(crops))
        return RCNNOutput(self.classify(features), self.regress(features).unflatten(1, (-1, 4)))

    @classmethod
    def example(cls) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]]:
        return {"in_channels": 3, "num_classes": 4, "image_size": cls.input_size}, (torch.randn(2, 3, 32, 32),)


@hookimpl
def cnnbench_register_models(register: Register) -> None:
    ranges = {"width": Range(1, integer=True), "hidden": Range(1, integer=True), "dropout": Range(0.0, 1.0)}
    register("rcnn", Spec(RCNN, {"width": 16, "hidden": 128, "dropout": 0.25}, ranges))
