"""Each component's closest PyTorch built-in, and the issue's speed target for it where there is one.

A baseline is called on the same inputs as its component, with parameters of its own shaped like the
component's. A component with no entry here is timed against the default of its kind (the choice an
ablation would replace it with): max pooling, ReLU, a plain convolution, or the loss of its input kind.
Layers that are not built in have no baseline, since there is nothing to say what they stand for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbench.bench.inputs import Case
from cnnbench.registry import Component


@dataclass(frozen=True)
class Op:
    """A callable on a case's inputs, and the parameters its backward must reach."""

    call: Callable[..., Tensor]
    parameters: tuple[Tensor, ...] = ()


@dataclass(frozen=True)
class Baseline:
    """The built-in ``name`` that ``make(case, hyperparameters)`` builds, and the forward+backward ratio ceiling."""

    name: str
    make: Callable[[Case, Mapping[str, Any]], Op]
    target: float | None = None


def _parameter(*shape: int, fill: float | None = None, like: Tensor) -> Tensor:
    value = torch.full(shape, fill) if fill is not None else torch.randn(shape) * 0.05
    return nn.Parameter(value.to(like))


def _window(case: Case) -> tuple[int, int]:
    return case.context["kernel_size"], case.context["stride"]


def _max_pool(case: Case, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.max_pool2d(x, *_window(case)))


def _avg_pool(case: Case, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.avg_pool2d(x, *_window(case)))


def _lp_pool(case: Case, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.lp_pool2d(x, float(hp["p"]), *_window(case)))


def _max_plus_avg_pool(case: Case, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.max_pool2d(x, *_window(case)) + F.avg_pool2d(x, *_window(case)))


def _learned_mix_pool(case: Case, hp: Mapping[str, Any]) -> Op:
    """``sigmoid(w) * max + (1 - sigmoid(w)) * avg`` with its own scalar w: the layer's formula, composed plainly."""
    logit = _parameter(1, fill=0.0, like=case.inputs[0])

    def mix(x: Tensor) -> Tensor:
        share = torch.sigmoid(logit)
        return share * F.max_pool2d(x, *_window(case)) + (1 - share) * F.avg_pool2d(x, *_window(case))

    return Op(mix, (logit,))


def _prelu(case: Case, hp: Mapping[str, Any]) -> Op:
    weight = _parameter(case.context["channels"], fill=0.25, like=case.inputs[0])
    return Op(lambda x: F.prelu(x, weight), (weight,))


def _reshape_amax(case: Case, hp: Mapping[str, Any]) -> Op:
    channels = case.context["channels"]
    return Op(lambda x: x.reshape(x.shape[0], channels, -1, *x.shape[2:]).amax(dim=2))


def _conv(case: Case, hp: Mapping[str, Any], dilation: int = 1) -> Op:
    x, context = case.inputs[0], case.context
    k = context["kernel_size"]
    weight = _parameter(context["out_channels"], context["in_channels"], k, k, like=x)
    bias = _parameter(context["out_channels"], like=x)
    padding = context["padding"] * dilation
    return Op(lambda x: F.conv2d(x, weight, bias, context["stride"], padding, dilation), (weight, bias))


def _cross_entropy(case: Case, hp: Mapping[str, Any]) -> Op:
    return Op(F.cross_entropy)


def _multi_margin(case: Case, hp: Mapping[str, Any]) -> Op:
    return Op(lambda z, y: F.multi_margin_loss(z, y, p=int(hp["p"]), margin=float(hp["margin"])))


def _kl_div(case: Case, hp: Mapping[str, Any]) -> Op:
    logits, labels = case.inputs
    smoothing, classes = float(hp["smoothing"]), logits.shape[1]
    target = F.one_hot(labels, classes).to(logits.dtype) * (1 - smoothing) + smoothing / classes
    return Op(lambda z, y: F.kl_div(F.log_softmax(z, dim=1), target, reduction="batchmean"))


def _cosine_embedding(case: Case, hp: Mapping[str, Any]) -> Op:
    flags = case.inputs[2].to(case.inputs[0].dtype) * 2 - 1
    return Op(lambda a, b, same: F.cosine_embedding_loss(a, b, flags))


def _triplet_margin(case: Case, hp: Mapping[str, Any]) -> Op:
    """One fixed triplet per anchor (a positive and a negative of its P x K batch): the loss without mining."""
    labels = case.inputs[1]
    count = len(labels)
    index = torch.arange(count, device=labels.device)
    positive = torch.where(labels.roll(-1) == labels, index.roll(-1), index.roll(1))
    negative = (index + count // 2) % count
    margin, p = float(hp.get("margin", hp.get("alpha", 1.0))), float(hp.get("p", 2))
    return Op(lambda emb, y: F.triplet_margin_loss(emb, emb[positive], emb[negative], margin=margin, p=p))


def _linear(case: Case, hp: Mapping[str, Any]) -> Op:
    x, context = case.inputs[0], case.context
    weight = _parameter(context["out_features"], context["in_features"], like=x)
    bias = _parameter(context["out_features"], like=x)
    return Op(lambda x: F.linear(x, weight, bias), (weight, bias))


def _conv_transpose(case: Case, hp: Mapping[str, Any]) -> Op:
    x, context = case.inputs[0], case.context
    scale = int(hp["scale_factor"])
    size = 2 * scale - scale % 2
    weight = _parameter(context["in_channels"], context["out_channels"], size, size, like=x)
    bias = _parameter(context["out_channels"], like=x)
    return Op(lambda x: F.conv_transpose2d(x, weight, bias, stride=scale, padding=scale // 2), (weight, bias))


def _conv_relu_chain(case: Case, hp: Mapping[str, Any]) -> Op:
    x, channels = case.inputs[0], case.context["channels"]
    dilations = [int(d) for d in hp["dilations"]]
    weights = [_parameter(channels, channels, 3, 3, like=x) for _ in dilations]
    biases = [_parameter(channels, like=x) for _ in dilations]

    def chain(x: Tensor) -> Tensor:
        for weight, bias, d in zip(weights, biases, dilations, strict=True):
            x = F.relu(F.conv2d(x, weight, bias, padding=d, dilation=d))
        return x

    return Op(chain, (*weights, *biases))


def _adaptive_max_pyramid(case: Case, hp: Mapping[str, Any]) -> Op:
    levels = [int(level) for level in hp["levels"]]
    return Op(lambda x: torch.cat([F.adaptive_max_pool2d(x, level).flatten(1) for level in levels], dim=1))


def _torchvision_roi_pool(case: Case, hp: Mapping[str, Any]) -> Op:
    from torchvision.ops import roi_pool

    size, scale = int(hp["output_size"]), float(case.context["spatial_scale"])
    return Op(lambda features, rois: roi_pool(features, rois, size, scale))


def _has_torchvision() -> bool:
    import importlib.util

    return importlib.util.find_spec("torchvision") is not None


def _simple(function: Callable[..., Tensor], *names: str) -> Callable[[Case, Mapping[str, Any]], Op]:
    """A baseline that is ``function(x, **hyperparameters named in names)``."""
    return lambda case, hp: Op(lambda x: function(x, *(hp[name] for name in names)))


MAX_PLUS_AVG = "max_pool2d+avg_pool2d"

#: (kind, name) -> baseline; targets from issues 6 and 13 (forward+backward, median, same process)
BASELINES: dict[tuple[str, str], Baseline] = {
    ("pooling", "max"): Baseline("max_pool2d", _max_pool),
    ("pooling", "avg"): Baseline("avg_pool2d", _avg_pool),
    ("pooling", "lp"): Baseline("lp_pool2d", _lp_pool, 1.15),
    ("pooling", "mixed"): Baseline(MAX_PLUS_AVG, _max_plus_avg_pool, 1.05),
    # Against max+avg it measures the sigmoid and the parameter's gradient too (1.05-1.14x under load);
    # against its own formula composed of built-ins, what its implementation adds (0.95-0.99x).
    ("pooling", "mixed_learned"): Baseline("sigmoid(w)*max+(1-sigmoid(w))*avg", _learned_mix_pool, 1.05),
    ("pooling", "mixed_random"): Baseline(MAX_PLUS_AVG, _max_plus_avg_pool, 1.15),
    ("pooling", "stochastic"): Baseline("max_pool2d", _max_pool, 1.3),
    ("activation", "relu"): Baseline("relu", _simple(F.relu)),
    ("activation", "leaky_relu"): Baseline("leaky_relu", _simple(F.leaky_relu, "negative_slope")),
    ("activation", "prelu"): Baseline("prelu", _prelu),
    ("activation", "rrelu"): Baseline("rrelu", lambda case, hp: Op(lambda x: F.rrelu(x, hp["lower"], hp["upper"], training=True))),
    ("activation", "elu"): Baseline("elu", _simple(F.elu, "alpha")),
    ("activation", "maxout"): Baseline("reshape+amax", _reshape_amax, 1.2),
    ("activation", "tanh"): Baseline("tanh", _simple(torch.tanh)),
    ("activation", "sigmoid"): Baseline("sigmoid", _simple(torch.sigmoid)),
    ("convolution", "conv"): Baseline("conv2d", _conv),
    ("convolution", "dilated"): Baseline("conv2d(dilation)", lambda case, hp: _conv(case, hp, int(hp["dilation"]))),
    ("loss", "softmax"): Baseline("cross_entropy", _cross_entropy),
    ("loss", "hinge"): Baseline("multi_margin_loss", _multi_margin, 1.2),
    ("loss", "kl_div"): Baseline("kl_div(log_softmax)", _kl_div),
    ("loss", "contrastive"): Baseline("cosine_embedding_loss", _cosine_embedding),
    ("loss", "triplet"): Baseline("triplet_margin_loss", _triplet_margin),
    ("loss", "triplet_facenet"): Baseline("triplet_margin_loss", _triplet_margin),
    ("layer", "linear"): Baseline("linear", _linear),
    ("layer", "transposed_conv"): Baseline("conv_transpose2d", _conv_transpose),
    ("layer", "dilated_block"): Baseline("(conv2d+relu)xN", _conv_relu_chain),
    ("layer", "spp"): Baseline("adaptive_max_pool2d+cat", _adaptive_max_pyramid),
}
if _has_torchvision():
    BASELINES["layer", "roi_pool"] = Baseline("torchvision roi_pool", _torchvision_roi_pool)

#: what a component without its own entry is compared with: the default it would replace
KIND_DEFAULTS: dict[str, Baseline] = {
    "pooling": BASELINES["pooling", "max"],
    "activation": BASELINES["activation", "relu"],
    "convolution": BASELINES["convolution", "conv"],
}
LOSS_DEFAULTS: dict[str, Baseline] = {
    "logits": BASELINES["loss", "softmax"],
    "pairs": BASELINES["loss", "contrastive"],
    "embeddings": BASELINES["loss", "triplet"],
}
#: built-ins that have nothing to be compared with
NO_BASELINE = {("activation", "identity"), ("layer", "roi_pool")}


def baseline_for(component: Component, table: Mapping[tuple[str, str], Baseline] = BASELINES) -> Baseline | None:
    """The baseline of ``component``: its own entry in ``table``, else its kind's default (none for layers)."""
    key = (component.kind, component.name)
    if key in table:
        return table[key]
    if key in NO_BASELINE:
        return None
    if component.kind == "loss":
        return LOSS_DEFAULTS.get(getattr(component.factory, "input_kind", "logits"))
    return KIND_DEFAULTS.get(component.kind)
