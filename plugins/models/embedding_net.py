"""The embedding network of the metric-learning task: siamese (one module on both images) or triplet."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from cnnbench import hookimpl
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.parts import Parts, flat_features
from cnnbench.spec import Range, Spec


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


@hookimpl
def cnnbench_register_models(register: Register) -> None:
    register("embedding_net", Spec(EmbeddingNet, {"embedding_dim": 32, "normalize": True}, {"embedding_dim": Range(1, integer=True)}))
