"""LeNet-5 (LeCun et al. 1998), the classification model of the survey's ablations."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from cnnbench import hookimpl
from cnnbench.hookspecs import Register
from cnnbench.parts import Parts, flat_features
from cnnbench.spec import Spec


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998): conv 5x5 - pool - conv 5x5 - pool - fc 120 - fc 84 - fc classes, on 32x32.

    C3's partial connection table of the paper is replaced by a full connection, as in every modern
    re-implementation; pooling and activation come from the config (the paper's were subsampling and tanh),
    and so does the normalization after each convolution stage (none by default, as in the paper).
    """

    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    input_size: ClassVar[int] = 32

    def __init__(self, parts: Parts, in_channels: int, num_classes: int, image_size: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            parts.conv_block(in_channels, 6, 5),
            parts.build("normalization", channels=6),
            parts.pool(6),
            parts.conv_block(6, 16, 5),
            parts.build("normalization", channels=16),
            parts.pool(16),
            nn.Flatten(),
        )
        width = flat_features(self.features, in_channels, image_size)
        self.classifier = nn.Sequential(parts.dense_block(width, 120), parts.dense_block(120, 84), nn.Linear(84, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


@hookimpl
def cnnbench_register_models(register: Register) -> None:
    register("lenet5", Spec(LeNet5))
