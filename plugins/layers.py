"""Built-in layers that models build by name: fully connected, FCN's upsampling, a dilated context block,
spatial pyramid pooling (SPP-net) and RoI pooling (Fast R-CNN).

Each class provides ``example()``: the context to build it with and inputs to call it with, which is how
the conformance kit (:mod:`cnnbench.testing`) tests a layer whose context is its own. Each registration
carries the PyTorch op ``cnnbench bench`` times it against.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbench import hookimpl
from cnnbench.bench.baselines import parameter
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.spec import Baseline, Op, Spec


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


class SpatialPyramidPool(nn.Module):
    """Spatial pyramid pooling (He et al. 2014, SPP-net): a fixed-length vector from a map of any size.

    Each level l max-pools the map over an l x l grid; the levels' outputs are flattened and concatenated
    to (N, channels * sum(l^2)). Bins are those of adaptive pooling (``floor(i*H/l)`` to ``ceil((i+1)*H/l)``),
    which cover the whole map for every size, where SPP-net's ceil-window/floor-stride rule can miss edges.
    """

    def __init__(self, channels: int, levels: Sequence[int] = (1, 2, 4)) -> None:
        super().__init__()
        levels = tuple(levels)
        require(
            bool(levels) and all(isinstance(level, int) and level > 0 for level in levels),
            f"levels must be a non-empty list of positive integers, got {list(levels)}",
        )
        self.channels, self.levels = channels, levels
        self.out_features = channels * sum(level * level for level in levels)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([F.adaptive_max_pool2d(x, level).flatten(1) for level in self.levels], dim=1)

    @classmethod
    def example(cls) -> tuple[dict[str, Any], tuple[Tensor, ...]]:
        return {"channels": 3}, (torch.randn(2, 3, 13, 9),)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, levels={list(self.levels)}"


def _round_half_away(values: Tensor) -> Tensor:
    """C's ``round`` (halves away from zero), which Fast R-CNN uses; ``torch.round`` rounds halves to even."""
    return values.sign() * (values.abs() + 0.5).floor()


class RoIPool(nn.Module):
    """RoI max pooling (Girshick 2015, Fast R-CNN): each region becomes an ``output_size`` square of maxima.

    ``forward(features (N, C, H, W), rois (R, 5))`` with rows ``[batch_index, x1, y1, x2, y2]`` in image
    coordinates, which ``spatial_scale`` (the backbone's 1 / stride, a building context rather than a
    hyperparameter) maps onto the feature map, returns (R, C, output_size, output_size). As in Fast R-CNN's
    layer, corners are rounded to cells, a region spans ``x2 - x1 + 1`` cells (at least 1), bin i covers
    ``floor(i*L/P)`` to ``ceil((i+1)*L/P)`` of it clipped to the map, and a bin outside the map gives 0.
    """

    def __init__(self, output_size: int = 7, spatial_scale: float = 1.0) -> None:
        super().__init__()
        _require_counts(output_size=output_size)
        require(spatial_scale > 0, f"spatial_scale must be > 0, got {spatial_scale}")
        self.output_size, self.spatial_scale = output_size, float(spatial_scale)

    def forward(self, features: Tensor, rois: Tensor) -> Tensor:
        _, _, height, width = features.shape
        corners = _round_half_away(rois[:, 1:] * self.spatial_scale).long()
        rows, empty_rows = self._bins(corners[:, 1], corners[:, 3], height)
        cols, empty_cols = self._bins(corners[:, 0], corners[:, 2], width)
        batch = rois[:, 0].long()
        # Every bin gathered as a fixed-size patch (short bins repeat an index, which leaves a max unchanged).
        patches = features.permute(0, 2, 3, 1)[batch[:, None, None], rows[:, :, None], cols[:, None, :]]
        size = self.output_size
        pooled = patches.unflatten(2, (size, -1)).unflatten(1, (size, -1)).amax(dim=(2, 4))
        empty = empty_rows[:, :, None] | empty_cols[:, None, :]
        return pooled.masked_fill(empty[..., None], 0).permute(0, 3, 1, 2)

    def _bins(self, start: Tensor, end: Tensor, extent: int) -> tuple[Tensor, Tensor]:
        """Along one axis, each RoI's bin indices (R, P * K), K the longest bin, and which bins are empty (R, P)."""
        size = self.output_size
        length = (end - start + 1).clamp_min(1)[:, None]
        bin_index = torch.arange(size, device=start.device)
        low = (bin_index * length // size + start[:, None]).clamp(0, extent)
        high = ((bin_index + 1) * length + size - 1) // size + start[:, None]
        high = high.clamp(0, extent)
        longest = max(1, int((high - low).max())) if high.numel() else 1
        offsets = torch.arange(longest, device=start.device)
        index = torch.minimum(low[..., None] + offsets, high[..., None] - 1).clamp(0, extent - 1)
        return index.flatten(1), high <= low

    @classmethod
    def example(cls) -> tuple[dict[str, Any], tuple[Tensor, ...]]:
        features = torch.randn(2, 3, 12, 10)
        rois = torch.tensor([[0, 0.0, 0.0, 19.0, 23.0], [1, 4.0, 2.0, 11.0, 9.0], [1, 6.0, 6.0, 6.0, 6.0]])
        return {"spatial_scale": 0.5}, (features, rois)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


def _linear(case: Any, hp: Mapping[str, Any]) -> Op:
    x, context = case.inputs[0], case.context
    weight = parameter(context["out_features"], context["in_features"], like=x)
    bias = parameter(context["out_features"], like=x)
    return Op(lambda x: F.linear(x, weight, bias), (weight, bias))


def _conv_transpose(case: Any, hp: Mapping[str, Any]) -> Op:
    x, context = case.inputs[0], case.context
    scale = int(hp["scale_factor"])
    size = 2 * scale - scale % 2
    weight = parameter(context["in_channels"], context["out_channels"], size, size, like=x)
    bias = parameter(context["out_channels"], like=x)
    return Op(lambda x: F.conv_transpose2d(x, weight, bias, stride=scale, padding=scale // 2), (weight, bias))


def _conv_relu_chain(case: Any, hp: Mapping[str, Any]) -> Op:
    x, channels = case.inputs[0], case.context["channels"]
    dilations = [int(d) for d in hp["dilations"]]
    weights = [parameter(channels, channels, 3, 3, like=x) for _ in dilations]
    biases = [parameter(channels, like=x) for _ in dilations]

    def chain(x: Tensor) -> Tensor:
        for weight, bias, d in zip(weights, biases, dilations, strict=True):
            x = F.relu(F.conv2d(x, weight, bias, padding=d, dilation=d))
        return x

    return Op(chain, (*weights, *biases))


def _adaptive_max_pyramid(case: Any, hp: Mapping[str, Any]) -> Op:
    levels = [int(level) for level in hp["levels"]]
    return Op(lambda x: torch.cat([F.adaptive_max_pool2d(x, level).flatten(1) for level in levels], dim=1))


def _torchvision_roi_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    from torchvision.ops import roi_pool

    size, scale = int(hp["output_size"]), float(case.context["spatial_scale"])
    return Op(lambda features, rois: roi_pool(features, rois, size, scale))


def _roi_pool_spec() -> Spec:
    """RoI pooling is compared with torchvision's where torchvision is installed, with nothing otherwise."""
    if importlib.util.find_spec("torchvision") is None:
        return Spec(RoIPool, {"output_size": 7}, comparable=False)
    return Spec(RoIPool, {"output_size": 7}, baseline=Baseline("torchvision roi_pool", _torchvision_roi_pool))


@hookimpl
def cnnbench_register_layers(register: Register) -> None:
    register("linear", Spec(Linear, baseline=Baseline("linear", _linear)))
    register(
        "transposed_conv",
        Spec(TransposedConv2d, {"scale_factor": 2, "bilinear": True}, baseline=Baseline("conv_transpose2d", _conv_transpose)),
    )
    register("dilated_block", Spec(DilatedBlock, {"dilations": [1, 2, 4]}, baseline=Baseline("(conv2d+relu)xN", _conv_relu_chain)))
    register("spp", Spec(SpatialPyramidPool, {"levels": [1, 2, 4]}, baseline=Baseline("adaptive_max_pool2d+cat", _adaptive_max_pyramid)))
    register("roi_pool", _roi_pool_spec())
