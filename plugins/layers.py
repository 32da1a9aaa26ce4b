"""Built-in layers that models build by name: fully connected, FCN's upsampling, and a dilated context block.

Each class provides ``example()``: the context to build it with and inputs to call it with, which is how
the conformance kit (:mod:`cnnbench.testing`) tests a layer whose context is its own.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnnbench import hookimpl
from cnnbench.errors import require
from cnnbench.hookspecs import Register


def _require_counts(**counts: int) -> None:
    for name, value in counts.items():
        require(isinstance(value, int) and value >= 1, f"{name} must be an integer >= 1, got {value!r}")


class Linear(nn.Linear):
    """Fully connected layer: every output feature is a weighted sum of all input features plus a bias."""

    def __init__(self, in_features: int, out_features: int) -> None:
        _require_counts(in_features=in_features, out_features=out_features)
        super().__init__(in_features, out_features)

    @classmethod
    def example(cls) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]]:
        return {"in_features": 6, "out_features": 4}, (torch.randn(2, 6),)


def bilinear_kernel(size: int, factor: int) -> torch.Tensor:
    """The (size, size) bilinear interpolation filter of FCN's upsampling (Long et al. 2015, Caffe's BilinearFiller)."""
    taps = 1 - (torch.arange(size, dtype=torch.float32) - (size - 1) / 2).abs() / factor
    return taps[:, None] * taps[None, :]


class TransposedConv2d(nn.ConvTranspose2d):
    """Transposed convolution (Long et al. 2015, FCN): learned upsampling of (N, C, H, W) to (N, C', sH, sW).

    Kernel 2s - s mod 2, stride s, padding ceil((s - 1) / 2) (kernel 2s and padding s/2 for even s), which
    makes the output exactly s times the input. With ``bilinear`` the weights start as bilinear
    interpolation of each channel onto itself and the bias at zero, as FCN initialises its upsampling
    layers before learning them; this needs in_channels == out_channels.
    """

    def __init__(self, in_channels: int, out_channels: int, scale_factor: int, bilinear: bool) -> None:
        _require_counts(in_channels=in_channels, out_channels=out_channels, scale_factor=scale_factor)
        require(isinstance(bilinear, bool), f"bilinear must be true or false, got {bilinear!r}")
        require(
            not bilinear or in_channels == out_channels,
            f"bilinear init maps each channel onto itself, so in_channels must equal out_channels "
            f"(got {in_channels} and {out_channels}); set bilinear=false",
        )
        size = 2 * scale_factor - scale_factor % 2
        super().__init__(in_channels, out_channels, size, stride=scale_factor, padding=scale_factor // 2)
        if bilinear:
            with torch.no_grad():
                self.weight.zero_()
                self.weight[range(in_channels), range(in_channels)] = bilinear_kernel(size, scale_factor)
                self.bias.zero_()

    @classmethod
    def example(cls) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]]:
        return {"in_channels": 3, "out_channels": 3}, (torch.randn(2, 3, 5, 5),)


class DilatedBlock(nn.Module):
    """Yu & Koltun's (2016) context module: 3x3 convolutions of growing dilation, each followed by ReLU.

    Dilations 1, 2, 4 grow the receptive field to 3x3, 7x7, 15x15 (1 + 2 * sum of the dilations) with no
    gaps and no loss of resolution: channels and size are kept.
    """

    def __init__(self, channels: int, dilations: list[int]) -> None:
        _require_counts(channels=channels)
        require(
            len(dilations) >= 1 and all(isinstance(d, int) and d >= 1 for d in dilations),
            f"dilations must be a non-empty list of integers >= 1, got {dilations!r}",
        )
        super().__init__()
        self.dilations = tuple(dilations)
        self.stages = nn.Sequential(
            *(nn.Sequential(nn.Conv2d(channels, channels, 3, padding=d, dilation=d), nn.ReLU()) for d in self.dilations)
        )

    @property
    def receptive_field(self) -> int:
        """Side of the square of input pixels one output pixel sees."""
        return 1 + 2 * sum(self.dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)

    @classmethod
    def example(cls) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]]:
        return {"channels": 4}, (torch.randn(2, 4, 16, 16),)


@hookimpl
def cnnbench_register_layers(register: Register) -> None:
    register("linear", Linear)
    register("transposed_conv", TransposedConv2d, scale_factor=2, bilinear=True)
    register("dilated_block", DilatedBlock, dilations=[1, 2, 4])
