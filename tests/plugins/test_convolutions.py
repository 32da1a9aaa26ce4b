"""Built-in convolutions: the dilated one against the paper's definition and PyTorch's op, shapes, errors."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from cnnbench.errors import InvalidHyperparameterError
from cnnbench.registry import Registry


def build(registry: Registry, selection: str | dict, kernel_size: int = 3, stride: int = 1, padding: int = 1):
    return registry.create(
        "convolution", selection, in_channels=2, out_channels=3, kernel_size=kernel_size, stride=stride, padding=padding
    )


def spread(kernel: torch.Tensor, dilation: int) -> torch.Tensor:
    """The dense kernel of a dilated one: Yu & Koltun's (F *_l k)(p) = sum_{s + l t = p} F(s) k(t) puts tap t at l*t."""
    k = kernel.shape[-1]
    dense = kernel.new_zeros(*kernel.shape[:2], dilation * (k - 1) + 1, dilation * (k - 1) + 1)
    dense[..., ::dilation, ::dilation] = kernel
    return dense


def test_registered_defaults(registry: Registry) -> None:
    assert dict(registry.get("convolution", "conv").defaults) == {}
    assert dict(registry.get("convolution", "dilated").defaults) == {"dilation": 2}


@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize(("kernel_size", "stride"), [(3, 1), (3, 2), (5, 1)])
def test_dilated_matches_the_definition_and_pytorch(registry: Registry, dilation: int, kernel_size: int, stride: int) -> None:
    padding = (kernel_size - 1) // 2
    conv = build(registry, {"name": "dilated", "dilation": dilation}, kernel_size, stride, padding)
    x = torch.randn(2, 2, 11, 11)
    out = conv(x)
    reference = F.conv2d(x, conv.weight, conv.bias, stride, padding * dilation, dilation)
    by_definition = F.conv2d(x, spread(conv.weight, dilation), conv.bias, stride, padding * dilation)
    torch.testing.assert_close(out, reference)
    torch.testing.assert_close(out, by_definition)
    side = (11 + 2 * padding - kernel_size) // stride + 1  # "same" padding keeps the plain convolution's size
    assert out.shape == (2, 3, side, side)


def test_dilation_one_is_the_plain_convolution(registry: Registry) -> None:
    torch.manual_seed(1)
    plain = build(registry, "conv")
    torch.manual_seed(1)
    dilated = build(registry, {"name": "dilated", "dilation": 1})
    x = torch.randn(1, 2, 7, 7)
    torch.testing.assert_close(dilated(x), plain(x))
    torch.testing.assert_close(plain(x), F.conv2d(x, plain.weight, plain.bias, 1, 1))


def test_padding_scales_with_dilation_beyond_same(registry: Registry) -> None:
    conv = build(registry, {"name": "dilated", "dilation": 3}, kernel_size=3, padding=2)
    assert (conv.padding, conv.dilation) == ((6, 6), (3, 3))
    side = 9 + 2 * 6 - 3 * (3 - 1) - 1 + 1  # i + 2p - l(k - 1) - 1, over stride 1, plus 1
    assert conv(torch.randn(1, 2, 9, 9)).shape == (1, 3, side, side)


@pytest.mark.parametrize(
    ("selection", "context", "message"),
    [
        ({"name": "dilated", "dilation": 0}, {}, "convolution 'dilated': dilation must be an integer >= 1, got 0"),
        ({"name": "dilated", "dilation": -2}, {}, "convolution 'dilated': dilation must be an integer >= 1, got -2"),
        ({"name": "dilated", "dilation": 1.5}, {}, "convolution 'dilated': dilation must be an integer >= 1, got 1.5"),
        ("dilated", {"kernel_size": 0}, "convolution 'dilated': kernel_size must be an integer >= 1, got 0"),
        ("conv", {"kernel_size": -1}, "convolution 'conv': kernel_size must be an integer >= 1, got -1"),
        ("conv", {"stride": 0}, "convolution 'conv': stride must be an integer >= 1, got 0"),
        ("conv", {"padding": -1}, "convolution 'conv': padding must be an integer >= 0, got -1"),
    ],
)
def test_bad_values_are_one_line_errors(registry: Registry, selection, context, message: str) -> None:
    with pytest.raises(InvalidHyperparameterError) as raised:
        build(registry, selection, **context)
    assert str(raised.value) == message
