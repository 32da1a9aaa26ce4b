"""Built-in normalizations of (N, C, H, W) feature maps: none, batch, group and layer norm, and AlexNet's LRN.

Every factory takes the ``channels`` of the map and keeps its shape. LeNet-5 and the AlexNet-style model
put the chosen normalization where AlexNet put its local response normalization: after the activation of
a convolution stage, before its pooling. ``none`` (the default and the ablation baseline) leaves the
models exactly as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbench import hookimpl
from cnnbench.bench.baselines import parameter
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.spec import Baseline, Op, Range, Spec

#: AlexNet's constants (Krizhevsky et al. 2012, Sec. 3.3): k = 2, n = 5, alpha = 1e-4, beta = 0.75
LRN_DEFAULTS = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}


def none(channels: int) -> nn.Module:
    """No normalization: the ablation baseline."""
    return nn.Identity()


def batch_norm(channels: int) -> nn.Module:
    """Batch normalization (Ioffe & Szegedy 2015): each channel standardised over the batch, then scaled and shifted."""
    return nn.BatchNorm2d(channels)


def group_norm(channels: int, groups: int) -> nn.Module:
    """Group normalization (Wu & He 2018): each sample's channels standardised in ``groups`` groups; batch-size free."""
    require(channels % groups == 0, f"groups={groups} must divide the channels of every stage, got a stage of {channels}")
    return nn.GroupNorm(groups, channels)


def layer_norm(channels: int) -> nn.Module:
    """Layer normalization (Ba et al. 2016) of a map: each sample standardised over C, H and W (group norm with one group)."""
    return nn.GroupNorm(1, channels)


class LocalResponseNorm(nn.LocalResponseNorm):
    """AlexNet's local response normalization: b = a / (k + alpha * sum of a^2 over ``size`` neighbouring channels)^beta.

    ``alpha`` is the paper's, applied to the sum; PyTorch's ``LocalResponseNorm`` divides its alpha by
    ``size``, so it is given ``alpha * size``. Half-precision inputs are normalised in float32 and cast
    back: PyTorch's CPU kernel (an average pooling) has no bfloat16 version.
    """

    def __init__(self, channels: int, size: int, alpha: float, beta: float, k: float) -> None:
        super().__init__(size, alpha=alpha * size, beta=beta, k=k)

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype in (torch.float16, torch.bfloat16):
            return super().forward(x.float()).to(x.dtype)
        return super().forward(x)


def _batch_norm(case: Any, hp: Mapping[str, Any]) -> Op:
    x = case.inputs[0]
    weight, bias = parameter(x.shape[1], fill=1.0, like=x), parameter(x.shape[1], fill=0.0, like=x)
    return Op(lambda x: F.batch_norm(x, None, None, weight, bias, training=True), (weight, bias))


def _group_norm(groups: int | None) -> Any:
    def make(case: Any, hp: Mapping[str, Any]) -> Op:
        x = case.inputs[0]
        weight, bias = parameter(x.shape[1], fill=1.0, like=x), parameter(x.shape[1], fill=0.0, like=x)
        count = int(hp["groups"]) if groups is None else groups
        return Op(lambda x: F.group_norm(x, count, weight, bias), (weight, bias))

    return make


def _lrn(case: Any, hp: Mapping[str, Any]) -> Op:
    size = int(hp["size"])
    return Op(lambda x: F.local_response_norm(x, size, float(hp["alpha"]) * size, float(hp["beta"]), float(hp["k"])))


@hookimpl
def cnnbench_register_normalizations(register: Register) -> None:
    register("none", Spec(none, comparable=False))
    register("batch_norm", Spec(batch_norm, baseline=Baseline("batch_norm", _batch_norm)))
    register(
        "group_norm",
        Spec(group_norm, {"groups": 2}, {"groups": Range(1, integer=True)}, baseline=Baseline("group_norm", _group_norm(None))),
    )
    register("layer_norm", Spec(layer_norm, baseline=Baseline("group_norm(1)", _group_norm(1))))
    register(
        "lrn",
        Spec(
            LocalResponseNorm,
            LRN_DEFAULTS,
            {"size": Range(1, integer=True), "alpha": Range(0), "beta": Range(0), "k": Range(0)},
            baseline=Baseline("local_response_norm", _lrn),
        ),
    )
