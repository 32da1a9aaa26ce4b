"""Built-in convolutions: the plain convolution and the dilated one (survey Sec. 3.1; Yu & Koltun 2016).

Both map (N, in_channels, H, W) to (N, out_channels, o, o) with o = floor((i + 2p - k) / s) + 1 whenever
the padding is "same" (2p = k - 1): the dilated one scales its padding by the dilation, so swapping it in
for ``conv`` keeps every feature map the size the model expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.nn.functional as F
from torch import nn

from cnnbench import hookimpl
from cnnbench.bench.baselines import parameter
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.spec import Baseline, Op, Range, Spec


def _validate(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int) -> None:
    for name, value, least in (
        ("in_channels", in_channels, 1),
        ("out_channels", out_channels, 1),
        ("kernel_size", kernel_size, 1),
        ("stride", stride, 1),
        ("padding", padding, 0),
    ):
        require(isinstance(value, int) and value >= least, f"{name} must be an integer >= {least}, got {value!r}")


def conv(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int) -> nn.Module:
    """Convolution (LeCun et al. 1998): a k x k filter bank slid with stride s over a zero-padded input."""
    _validate(in_channels, out_channels, kernel_size, stride, padding)
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)


def dilated(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int, dilation: int) -> nn.Module:
    """Dilated convolution (Yu & Koltun 2016): k x k taps spaced l pixels apart span l(k-1)+1 pixels.

    The padding is multiplied by the dilation, so a "same" convolution (2p = k - 1) stays "same".
    """
    _validate(in_channels, out_channels, kernel_size, stride, padding)
    require(isinstance(dilation, int) and dilation >= 1, f"dilation must be an integer >= 1, got {dilation!r}")
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding * dilation, dilation)


def _conv2d(case: Any, hp: Mapping[str, Any]) -> Op:
    """``F.conv2d`` with the case's context, dilated as the component is (its padding scaled the same way)."""
    x, context = case.inputs[0], case.context
    k, dilation = context["kernel_size"], int(hp.get("dilation", 1))
    weight = parameter(context["out_channels"], context["in_channels"], k, k, like=x)
    bias = parameter(context["out_channels"], like=x)
    padding = context["padding"] * dilation
    return Op(lambda x: F.conv2d(x, weight, bias, context["stride"], padding, dilation), (weight, bias))


@hookimpl
def cnnbench_register_convolutions(register: Register) -> None:
    register("conv", Spec(conv, baseline=Baseline("conv2d", _conv2d)))
    register("dilated", Spec(dilated, {"dilation": 2}, {"dilation": Range(1, integer=True)}, baseline=Baseline("conv2d(dilation)", _conv2d)))
