"""What each component is built with and called on, made from one (N, C, H, W) feature-map shape.

The shape is the map a component meets inside a network, so every kind is timed on the data it
really sees there:

* pooling: ``relu(randn(N, C, H, W))`` (pooling follows an activation in every model here), 2x2 windows,
  stride 2;
* activation: ``randn(N, C, H, W)``; a widening activation (maxout) is built so that its *input* has C
  channels;
* convolution: ``randn(N, C, H, W)``, C to C channels, 3x3, stride 1, "same" padding 1;
* a kind built with ``channels`` that keeps the map's shape (normalization): ``randn(N, C, H, W)``;
* loss: ``logits`` losses score the N·H·W positions as samples of C classes (a per-pixel classifier,
  flattened to (N·H·W, C)); ``pairs`` and ``embeddings`` losses get N embeddings of C dimensions (the
  map averaged over space), with P x K labels as in Hermans et al. (K = 4 images per class);
* layer: a built-in layer gets the context that fits the map (below); any other layer is timed on its
  own ``example()``, the only inputs its author documented.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from cnnbench.errors import CnnbenchError
from cnnbench.kinds import BENCH_KINDS, KINDS
from cnnbench.registry import Component

Shape = tuple[int, int, int, int]
POOL_WINDOW = 2
CONV_KERNEL = 3
IMAGES_PER_CLASS = 4  # the K of a P x K metric-learning batch
ROIS_PER_MAP = 1


class BenchInputError(CnnbenchError):
    """A shape, kind or dtype that ``cnnbench bench`` cannot use."""


@dataclass
class Case:
    """One component's building context and call inputs; ``grad_inputs`` are the inputs backward reaches."""

    shape: Shape
    context: dict[str, Any]
    inputs: tuple[Tensor, ...]
    grad_inputs: tuple[int, ...] = (0,)

    def leaves(self) -> tuple[Tensor, ...]:
        """The inputs backward reaches, marked as requiring gradients."""
        return tuple(self.inputs[i].requires_grad_() for i in self.grad_inputs)


def parse_shape(text: str) -> Shape:
    """``"128,64,32,32"`` -> (128, 64, 32, 32); anything else is refused in one line."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 4 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise BenchInputError(f"--shape must be four positive integers N,C,H,W (e.g. 128,64,32,32), got {text!r}")
    n, c, h, w = (int(part) for part in parts)
    return n, c, h, w


def shape_text(shape: Shape) -> str:
    return ",".join(map(str, shape))


def make_case(component: Component, shape: Shape, dtype: torch.dtype, device: torch.device, seed: int = 0) -> Case:
    """The case for ``component`` on ``shape``: random inputs (from ``seed``) in ``dtype`` on ``device``."""
    if component.kind not in BENCH_KINDS:
        raise BenchInputError(f"cannot time a {component.kind}; kinds: {', '.join(BENCH_KINDS)}")
    generator = torch.Generator().manual_seed(seed)
    case = KINDS[component.kind].bench_maker()(component, shape, generator)
    inputs = tuple(_placed(value, dtype, device) for value in case.inputs)
    return Case(case.shape, case.context, inputs, case.grad_inputs)


def _placed(value: Tensor, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Floating inputs take ``dtype``; labels, indices and flags keep theirs."""
    return value.to(device=device, dtype=dtype if value.is_floating_point() else value.dtype)


def _normal(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    return torch.randn(shape, generator=generator)


def _require_map(component: Component, shape: Shape, least: int) -> None:
    if min(shape[2:]) < least:
        raise BenchInputError(f"{component.kind} {component.name!r} needs H and W >= {least}, got {shape_text(shape)}")


def pooling_case(component: Component, shape: Shape, generator: torch.Generator) -> Case:
    _require_map(component, shape, POOL_WINDOW)
    c = shape[1]
    context = {"channels": c, "kernel_size": POOL_WINDOW, "stride": POOL_WINDOW}
    return Case(shape, context, (_normal(shape, generator).relu(),))


def activation_case(component: Component, shape: Shape, generator: torch.Generator) -> Case:
    """A widening activation (maxout: ``in_channels = channels * pieces``) is built to read the map's C channels."""
    c = shape[1]
    pieces = max(1, getattr(component.build(channels=c), "in_channels", c) // c)
    if c % pieces:
        raise BenchInputError(f"activation {component.name!r} reads {pieces} channels per output; pick C divisible by {pieces}")
    return Case(shape, {"channels": c // pieces}, (_normal(shape, generator),))


def convolution_case(component: Component, shape: Shape, generator: torch.Generator) -> Case:
    c = shape[1]
    context = {"in_channels": c, "out_channels": c, "kernel_size": CONV_KERNEL, "stride": 1, "padding": CONV_KERNEL // 2}
    return Case(shape, context, (_normal(shape, generator),))


def feature_map_case(component: Component, shape: Shape, generator: torch.Generator) -> Case:
    """A kind built with ``channels`` that maps (N, C, H, W) to the same shape."""
    return Case(shape, {"channels": shape[1]}, (_normal(shape, generator),))


def loss_case(component: Component, shape: Shape, generator: torch.Generator) -> Case:
    n, c, h, w = shape
    kind = component.spec.input_kind or "logits"
    if kind == "logits":
        if c < 2:
            raise BenchInputError(f"loss {component.name!r} needs C >= 2 classes, got C={c}")
        samples = n * h * w
        labels = torch.randint(0, c, (samples,), generator=generator)
        return Case(shape, {}, (_normal((samples, c), generator), labels))
    if kind == "pairs":
        same = torch.arange(n) % 2 == 0
        return Case(shape, {}, (_normal((n, c), generator), _normal((n, c), generator), same), grad_inputs=(0, 1))
    if kind == "embeddings":
        labels = torch.arange(n) // IMAGES_PER_CLASS
        return Case(shape, {}, (_normal((n, c), generator), labels))
    raise BenchInputError(f"loss {component.name!r} has input_kind {kind!r}; cnnbench bench knows logits, pairs, embeddings")


def _rois(shape: Shape, generator: torch.Generator) -> Tensor:
    """ROIS_PER_MAP random boxes [batch_index, x1, y1, x2, y2] per map, 2 cells to the whole map in size."""
    n, _, h, w = shape
    count = n * ROIS_PER_MAP
    batch = torch.arange(count) // ROIS_PER_MAP
    size = torch.rand(count, 2, generator=generator) * (torch.tensor([w, h]) - 2) + 2
    corner = torch.rand(count, 2, generator=generator) * (torch.tensor([w, h]) - size)
    return torch.cat([batch[:, None].float(), corner, corner + size - 1], dim=1)


def _linear(shape: Shape, generator: torch.Generator) -> Case:
    """The classifier head over the map after two 2x2 poolings, flattened: C·(H/4)·(W/4) -> C."""
    n, c, h, w = shape
    features = c * (h // 4) * (w // 4)
    return Case(shape, {"in_features": features, "out_features": c}, (_normal((n, features), generator),))


#: context and inputs of the built-in layers, from the map shape
LAYER_CASES: dict[str, Callable[[Shape, torch.Generator], Case]] = {
    "linear": _linear,
    "transposed_conv": lambda s, g: Case(s, {"in_channels": s[1], "out_channels": s[1]}, (_normal(s, g),)),
    "dilated_block": lambda s, g: Case(s, {"channels": s[1]}, (_normal(s, g),)),
    "spp": lambda s, g: Case(s, {"channels": s[1]}, (_normal(s, g),)),
    "roi_pool": lambda s, g: Case(s, {"spatial_scale": 1.0}, (_normal(s, g), _rois(s, g))),
}


def layer_case(component: Component, shape: Shape, generator: torch.Generator) -> Case:
    if component.name in LAYER_CASES:
        _require_map(component, shape, 4)  # linear reads the map after two 2x2 poolings; RoIs span 2 cells or more
        return LAYER_CASES[component.name](shape, generator)
    example = getattr(component.factory, "example", None)
    if example is None:
        raise BenchInputError(f"layer {component.name!r} has no example() to take its context and inputs from")
    context, inputs = example()
    inputs = tuple(inputs)
    floating = tuple(i for i, value in enumerate(inputs) if value.is_floating_point())
    first = tuple(inputs[0].shape) + (1,) * (4 - inputs[0].dim())
    return Case(first[:4], dict(context), inputs, grad_inputs=floating)  # type: ignore[arg-type]
#: maps met in training at the trainer's default batch of 16: LeNet-5 on 32x32 (conv1 and conv2 outputs, the
#: pooled map) and the AlexNet-style model (width 64) on CIFAR-10 (conv1, conv2 and conv5 outputs)
NETWORK_MAPS: tuple[Shape, ...] = ((16, 6, 28, 28), (16, 16, 10, 10), (16, 64, 32, 32), (16, 128, 15, 15), (16, 128, 7, 7))
#: classifier logits (batch 16 to 128, 10 classes), as (N, K, 1, 1)
CLASSIFIER_LOGITS: tuple[Shape, ...] = ((16, 10, 1, 1), (64, 10, 1, 1), (128, 10, 1, 1))
#: metric-learning batches (16 to 128 images, embeddings 64 and 128 wide), as (N, D, 1, 1)
EMBEDDING_BATCHES: tuple[Shape, ...] = ((16, 64, 1, 1), (128, 64, 1, 1), (128, 128, 1, 1))


def training_shapes(component: Component) -> tuple[Shape, ...]:
    """The shapes ``component`` meets when a task trains with it (``cnnbench bench --training-shapes``).

    The default shapes (128,64,32,32 and 128,6,28,28) say how fast a component's kernel is; these say what
    it costs a training step: a loss sees a batch of logits or embeddings, not a per-pixel map.
    """
    if component.kind != "loss":
        return NETWORK_MAPS
    if (component.spec.input_kind or "logits") == "logits":
        return CLASSIFIER_LOGITS
    return EMBEDDING_BATCHES
