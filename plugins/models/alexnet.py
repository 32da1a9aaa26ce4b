"""A small AlexNet (Krizhevsky et al. 2012) for 32x32 images."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from cnnbench import hookimpl
from cnnbench.hookspecs import Register
from cnnbench.parts import Parts, flat_features
from cnnbench.spec import Range, Spec


class AlexNetSmall(nn.Module):
    """An AlexNet-style network (Krizhevsky et al. 2012) for 32x32 inputs: five convolutions, overlapping
    3x3/2 pooling, dropout in two hidden fully connected layers.

    The configured normalization follows the first two convolution stages, where AlexNet had its local
    response normalization (``normalization=lrn`` restores it; the default is none).
    """

    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    stochastic: ClassVar[bool] = True  # dropout
    input_size: ClassVar[int] = 32

    def __init__(self, parts: Parts, in_channels: int, num_classes: int, image_size: int, width: int = 64, dropout: float = 0.5) -> None:
        super().__init__()
        if width < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"width must be >= 1 and dropout in [0, 1), got width={width}, dropout={dropout}")
        w = width
        self.features = nn.Sequential(
            parts.conv_block(in_channels, w, 5, padding=2),
            parts.build("normalization", channels=w),
            parts.pool(w, 3, 2),
            parts.conv_block(w, 2 * w, 5, padding=2),
            parts.build("normalization", channels=2 * w),
            parts.pool(2 * w, 3, 2),
            parts.conv_block(2 * w, 3 * w, 3, padding=1),
            parts.conv_block(3 * w, 3 * w, 3, padding=1),
            parts.conv_block(3 * w, 2 * w, 3, padding=1),
            parts.pool(2 * w, 3, 2),
            nn.Flatten(),
        )
        flat = flat_features(self.features, in_channels, image_size)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            parts.dense_block(flat, 4 * w),
            nn.Dropout(dropout),
            parts.dense_block(4 * w, 4 * w),
            nn.Linear(4 * w, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


@hookimpl
def cnnbench_register_models(register: Register) -> None:
    register("alexnet", Spec(AlexNetSmall, {"width": 64, "dropout": 0.5}, {"width": Range(1, integer=True), "dropout": Range(0.0, 1.0)}))
