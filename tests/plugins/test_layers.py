"""Built-in layers: fully connected, FCN's transposed convolution, and the dilated context block."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from cnnbench.errors import InvalidHyperparameterError
from cnnbench.registry import Registry


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
