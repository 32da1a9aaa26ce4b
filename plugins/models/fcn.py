"""FCN (Long et al. 2015), the segmentation model: class scores upsampled by learned transposed convolutions."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from cnnbench import hookimpl
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.parts import Parts
from cnnbench.spec import Range, Spec


class FCN(nn.Module):
    """A fully convolutional network (Long et al. 2015) scaled to small images.

    ``depth`` stages of two 3x3 convolution blocks and a 2x2 pooling (output stride 2^depth); a 1x1 score
    layer gives coarse class scores, and the registry's ``transposed_conv`` (bilinear-initialised, learned)
    upsamples them. With ``skips`` = s, the scores are upsampled x2 and added to 1x1 scores of the s
    shallower pooling outputs in turn before the final upsampling by 2^(depth − s): depth 3 with s = 0, 1, 2
    is the analogue of FCN-32s, -16s, -8s. The paper starts its score layers at zero on top of pretrained
    VGG features; here everything trains from scratch and they keep PyTorch's default init, which learned
    a little faster than zeros on the shapes scenes (mean IoU 0.63 vs 0.61 after 8 epochs, one trial).
    """

    tasks: ClassVar[tuple[str, ...]] = ("segmentation",)

    def __init__(self, parts: Parts, in_channels: int, num_classes: int, image_size: int, width: int = 16, depth: int = 3, skips: int = 1) -> None:
        require(isinstance(width, int) and width >= 1, f"width must be an integer >= 1, got {width!r}")
        require(isinstance(depth, int) and depth >= 1, f"depth must be an integer >= 1, got {depth!r}")
        require(isinstance(skips, int) and 0 <= skips < depth, f"skips must be an integer in [0, depth - 1] = [0, {depth - 1}], got {skips!r}")
        require(image_size % 2**depth == 0, f"image_size must be a multiple of 2^depth = {2**depth}, got {image_size}")
        super().__init__()
        widths = [in_channels] + [width * 2**stage for stage in range(depth)]
        self.stages = nn.ModuleList(
            nn.Sequential(parts.conv_block(c_in, c_out, 3, padding=1), parts.conv_block(c_out, c_out, 3, padding=1), parts.pool(c_out))
            for c_in, c_out in zip(widths, widths[1:])
        )
        # deepest stage first, then the skipped ones from deep to shallow
        self.scores = nn.ModuleList(nn.Conv2d(channels, num_classes, 1) for channels in widths[:0:-1][: skips + 1])

        def upsample(factor: int) -> nn.Module:
            node = {"name": "transposed_conv", "scale_factor": factor, "bilinear": True}
            return parts.registry.create("layer", node, in_channels=num_classes, out_channels=num_classes)

        self.fuse = nn.ModuleList(upsample(2) for _ in range(skips))
        self.upsample = upsample(2 ** (depth - skips))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled, x = [], images
        for stage in self.stages:
            x = stage(x)
            pooled.append(x)
        scores = self.scores[0](pooled[-1])
        for up, score, features in zip(self.fuse, self.scores[1:], reversed(pooled[:-1])):
            scores = up(scores) + score(features)
        return self.upsample(scores)

    @classmethod
    def example(cls) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]]:
        return {"in_channels": 3, "num_classes": 4, "image_size": 16}, (torch.randn(2, 3, 16, 16),)


@hookimpl
def cnnbench_register_models(register: Register) -> None:
    register(
        "fcn",
        Spec(FCN, {"width": 16, "depth": 3, "skips": 1}, {"width": Range(1, integer=True), "depth": Range(1, integer=True), "skips": Range(0, integer=True)}),
    )
