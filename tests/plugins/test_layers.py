"""Built-in layers: fully connected, FCN's transposed convolution, the dilated context block, SPP and RoI pooling."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.testing import assert_close

from cnnbench.errors import InvalidHyperparameterError
from cnnbench.registry import Registry
from cnnbench_plugins.layers import RoIPool, SpatialPyramidPool


def test_registered_defaults(registry: Registry) -> None:
    defaults = {name: dict(registry.get("layer", name).defaults) for name in ("linear", "transposed_conv", "dilated_block")}
    assert defaults == {
        "linear": {},
        "transposed_conv": {"scale_factor": 2, "bilinear": True},
        "dilated_block": {"dilations": [1, 2, 4]},
    }


def test_linear_is_an_affine_map(registry: Registry) -> None:
    layer = registry.create("layer", "linear", in_features=6, out_features=4)
    x = torch.randn(3, 6)
    torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias)
    assert layer.weight.shape == (4, 6)


def test_linear_rejects_empty_layers(registry: Registry) -> None:
    with pytest.raises(InvalidHyperparameterError, match=r"^layer 'linear': out_features must be an integer >= 1, got 0$"):
        registry.create("layer", "linear", in_features=6, out_features=0)


# --- transposed convolution -----------------------------------------------------------------------------


def upsampler(registry: Registry, scale_factor: int, bilinear: bool = True, in_channels: int = 2, out_channels: int = 2):
    selection = {"name": "transposed_conv", "scale_factor": scale_factor, "bilinear": bilinear}
    return registry.create("layer", selection, in_channels=in_channels, out_channels=out_channels)


@pytest.mark.parametrize(("scale_factor", "kernel", "padding"), [(1, 1, 0), (2, 4, 1), (3, 5, 1), (4, 8, 2), (5, 9, 2)])
def test_output_is_exactly_scale_times_input(registry: Registry, scale_factor: int, kernel: int, padding: int) -> None:
    layer = upsampler(registry, scale_factor, bilinear=False, out_channels=3)
    assert (layer.kernel_size, layer.stride, layer.padding) == ((kernel,) * 2, (scale_factor,) * 2, (padding,) * 2)
    x = torch.randn(2, 2, 5, 7)
    out = layer(x)
    assert out.shape == (2, 3, 5 * scale_factor, 7 * scale_factor)
    torch.testing.assert_close(out, F.conv_transpose2d(x, layer.weight, layer.bias, scale_factor, padding))


def test_bilinear_filter_is_fcns() -> None:
    from cnnbench_plugins.layers import bilinear_kernel

    # Long et al.'s upsample_filt for factor 2: size 4, centre 1.5, taps 1 - |t - 1.5| / 2
    taps = torch.tensor([0.25, 0.75, 0.75, 0.25])
    torch.testing.assert_close(bilinear_kernel(4, 2), taps[:, None] * taps[None, :])


@pytest.mark.parametrize("scale_factor", [2, 3, 4])
def test_bilinear_init_interpolates(registry: Registry, scale_factor: int) -> None:
    layer = upsampler(registry, scale_factor)
    x = torch.randn(2, 2, 6, 6)
    out = layer(x)
    interpolated = F.interpolate(x, scale_factor=scale_factor, mode="bilinear", align_corners=False)
    inner = slice(scale_factor, -scale_factor)  # at the border the transposed convolution sees zeros, not edge pixels
    torch.testing.assert_close(out[..., inner, inner], interpolated[..., inner, inner])
    assert layer.weight.requires_grad  # FCN learns from the bilinear start


def test_bilinear_init_needs_as_many_outputs_as_inputs(registry: Registry) -> None:
    message = r"^layer 'transposed_conv': bilinear init .* in_channels must equal out_channels \(got 2 and 3\); set bilinear=false$"
    with pytest.raises(InvalidHyperparameterError, match=message):
        upsampler(registry, 2, in_channels=2, out_channels=3)


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ({"scale_factor": 0}, "scale_factor must be an integer >= 1, got 0"),
        ({"scale_factor": 1.5}, "scale_factor must be an integer >= 1, got 1.5"),
        ({"bilinear": "yes"}, "bilinear must be true or false, got 'yes'"),
    ],
)
def test_transposed_conv_rejects_bad_values(registry: Registry, selection: dict, message: str) -> None:
    with pytest.raises(InvalidHyperparameterError) as raised:
        registry.create("layer", {"name": "transposed_conv", **selection}, in_channels=2, out_channels=2)
    assert str(raised.value) == f"layer 'transposed_conv': {message}"


# --- dilated block --------------------------------------------------------------------------------------


def gradient_footprint(stages: nn.Module, channels: int, size: int = 33) -> torch.Tensor:
    """The input pixels whose gradient is non-zero when backpropagating from the centre output pixel."""
    x = torch.rand(1, channels, size, size, requires_grad=True)
    stages(x)[0, :, size // 2, size // 2].sum().backward()
    return x.grad.abs().sum(dim=(0, 1)) > 0


def centred_square(side: int, size: int = 33) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.bool)
    low = size // 2 - side // 2
    mask[low : low + side, low : low + side] = True
    return mask


def test_receptive_field_grows_3_7_15_without_gaps(registry: Registry) -> None:
    block = registry.create("layer", "dilated_block", channels=2)
    with torch.no_grad():  # positive weights and inputs keep every ReLU open, so each path shows in the gradient
        for conv in block.modules():
            if isinstance(conv, nn.Conv2d):
                conv.weight.uniform_(0.1, 1.0)
                conv.bias.zero_()
    footprints = [gradient_footprint(block.stages[:depth], channels=2) for depth in (1, 2, 3)]
    for footprint, side in zip(footprints, (3, 7, 15), strict=True):
        assert torch.equal(footprint, centred_square(side)), f"expected a dense {side}x{side} square"
    assert block.receptive_field == 15


def test_block_keeps_channels_and_size(registry: Registry) -> None:
    block = registry.create("layer", {"name": "dilated_block", "dilations": [1, 1, 2, 4, 8]}, channels=3)
    assert block(torch.randn(2, 3, 20, 20)).shape == (2, 3, 20, 20)
    assert [stage[0].dilation for stage in block.stages] == [(d, d) for d in (1, 1, 2, 4, 8)]
    assert block.receptive_field == 1 + 2 * 16


@pytest.mark.parametrize("dilations", [[], [1, 0], [2.0]])
def test_block_rejects_bad_dilations(registry: Registry, dilations: list) -> None:
    message = r"^layer 'dilated_block': dilations must be a non-empty list of integers >= 1, got "
    with pytest.raises(InvalidHyperparameterError, match=message):
        registry.create("layer", {"name": "dilated_block", "dilations": dilations}, channels=3)


# --- spatial pyramid pooling -------------------------------------------------------------------------


def spp_reference(x: Tensor, levels: list[int]) -> Tensor:
    """SPP with explicit bins floor(i*H/l) to ceil((i+1)*H/l), looped (tests only)."""
    n, c, h, w = x.shape
    parts = []
    for level in levels:
        grid = torch.empty(n, c, level, level, dtype=x.dtype)
        for i in range(level):
            for j in range(level):
                rows = slice(i * h // level, -(-(i + 1) * h // level))
                cols = slice(j * w // level, -(-(j + 1) * w // level))
                grid[:, :, i, j] = x[:, :, rows, cols].amax(dim=(2, 3))
        parts.append(grid.flatten(1))
    return torch.cat(parts, 1)


@pytest.mark.parametrize("size", [(13, 9), (4, 4), (3, 5), (32, 32)])
def test_spp_gives_a_fixed_length_vector_of_bin_maxima_for_any_size(registry, size):
    spp = registry.create("layer", "spp", channels=3)
    x = torch.randn(2, 3, *size)
    out = spp(x)
    assert out.shape == (2, 3 * (1 + 4 + 16)) and spp.out_features == 63
    assert_close(out, spp_reference(x, [1, 2, 4]))
    assert_close(out[:, :3], x.amax(dim=(2, 3)))  # level 1 is global max pooling


def test_spp_levels_are_a_hyperparameter_and_validated(registry):
    assert registry.create("layer", {"name": "spp", "levels": [3, 1]}, channels=2)(torch.randn(1, 2, 7, 7)).shape == (1, 20)
    with pytest.raises(InvalidHyperparameterError, match=r"^layer 'spp': levels must be a non-empty list of positive integers, got \[0, 2\]$"):
        registry.create("layer", {"name": "spp", "levels": [0, 2]}, channels=2)


def test_spp_example_builds_and_runs():
    context, inputs = SpatialPyramidPool.example()
    out = SpatialPyramidPool(**context)(*inputs)
    assert out.shape == (inputs[0].shape[0], context["channels"] * 21)


# --- RoI pooling -------------------------------------------------------------------------------------


def c_round(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def roi_pool_reference(features: Tensor, rois: Tensor, size: int, scale: float) -> Tensor:
    """Fast R-CNN's RoI max pooling, looped as in its Caffe layer (tests only)."""
    _, channels, height, width = features.shape
    out = features.new_zeros(len(rois), channels, size, size)
    for r, (batch, *corners) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = (c_round(v * scale) for v in corners)
        roi_h, roi_w = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
        for i in range(size):
            for j in range(size):
                top = min(max(math.floor(i * roi_h / size) + y1, 0), height)
                bottom = min(max(math.ceil((i + 1) * roi_h / size) + y1, 0), height)
                left = min(max(math.floor(j * roi_w / size) + x1, 0), width)
                right = min(max(math.ceil((j + 1) * roi_w / size) + x1, 0), width)
                if bottom > top and right > left:
                    out[r, :, i, j] = features[int(batch), :, top:bottom, left:right].amax(dim=(1, 2))
    return out


ROIS = torch.tensor(
    [
        [0, 0.0, 0.0, 22.0, 18.0],  # the whole map
        [1, 4.0, 2.0, 11.0, 9.0],
        [1, 5.0, 5.0, 5.0, 5.0],  # a single cell
        [0, 3.0, 7.0, 17.0, 9.0],  # 2 rows for 3 bins: bins overlap
        [1, -5.0, -7.0, 30.0, 50.0],  # beyond the map (halves round away from zero); outer bins are empty
        [0, 1.0, 9.0, 40.0, 13.0],
    ]
)


@pytest.mark.parametrize(("size", "scale"), [(3, 0.5), (2, 0.5), (4, 1.0)])
def test_roi_pool_matches_fast_rcnn_in_values_and_gradients(registry, size, scale):
    features = torch.randn(2, 3, 10, 12, dtype=torch.float64, requires_grad=True)
    layer = registry.create("layer", {"name": "roi_pool", "output_size": size}, spatial_scale=scale)
    out = layer(features, ROIS.double())
    expected = roi_pool_reference(features, ROIS.double(), size, scale)
    assert out.shape == (len(ROIS), 3, size, size)
    assert_close(out, expected)
    weights = torch.randn_like(out)
    (grad,) = torch.autograd.grad((out * weights).sum(), features)
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), features)
    assert_close(grad, expected_grad)


def test_roi_pool_empty_bins_are_zero_and_no_rois_give_an_empty_batch(registry):
    features = torch.randn(1, 2, 4, 4) - 10  # all negative: a 0 can only come from an empty bin
    layer = registry.create("layer", "roi_pool", spatial_scale=1.0)
    out = layer(features, torch.tensor([[0, 2.0, 2.0, 12.0, 12.0]]))
    assert (out[..., 2:, :] == 0).all() and (out[..., :, 2:] == 0).all() and (out[..., :1, :1] < 0).all()
    assert layer(features, torch.zeros(0, 5)).shape == (0, 2, 7, 7)


def test_roi_pool_validates_and_has_a_runnable_example(registry):
    with pytest.raises(InvalidHyperparameterError, match=r"^layer 'roi_pool': output_size must be an integer >= 1, got 0$"):
        registry.create("layer", {"name": "roi_pool", "output_size": 0})
    with pytest.raises(InvalidHyperparameterError, match=r"^layer 'roi_pool': spatial_scale must be > 0, got -1$"):
        registry.create("layer", "roi_pool", spatial_scale=-1)
    context, (features, rois) = RoIPool.example()
    layer = RoIPool(**context)
    assert_close(layer(features, rois), roi_pool_reference(features, rois, 7, context["spatial_scale"]))
