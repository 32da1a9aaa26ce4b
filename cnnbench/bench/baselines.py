"""What ``cnnbench bench`` times a component against: the baseline its own spec declares, else its kind's.

A baseline is the component's closest PyTorch built-in, called on the same inputs, with parameters of its
own shaped like the component's; each plugin declares it beside the component it describes
(:class:`cnnbench.spec.Spec`, ``baseline=Baseline(name, make, target)``). A component that declares none
is timed against its kind's default option (:mod:`cnnbench.kinds`: max pooling, ReLU, a plain convolution;
for a loss, the default loss of its input kind), and one marked ``comparable=False`` against nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from cnnbench.kinds import KINDS
from cnnbench.registry import Component, Registry
from cnnbench.spec import Baseline, Op

__all__ = ["LOSS_BASELINES", "Baseline", "Op", "baseline_for", "parameter", "window"]

#: the loss a loss of each input kind is compared with when it declares no baseline of its own
LOSS_BASELINES: Mapping[str, str] = {"logits": "softmax", "pairs": "contrastive", "embeddings": "triplet"}


def parameter(*shape: int, fill: float | None = None, like: Tensor) -> Tensor:
    """A trainable baseline parameter: ``fill`` everywhere, or small random values, in ``like``'s dtype and device."""
    value = torch.full(shape, fill) if fill is not None else torch.randn(shape) * 0.05
    return nn.Parameter(value.to(like))


def window(case: object) -> tuple[int, int]:
    """(kernel_size, stride) of a pooling case."""
    context = case.context  # type: ignore[attr-defined]
    return context["kernel_size"], context["stride"]


def baseline_for(component: Component, registry: Registry | None = None) -> Baseline | None:
    """The baseline of ``component``: its spec's, else that of its kind's default option (none for layers)."""
    spec = component.spec
    if not spec.comparable:
        return None
    if spec.baseline is not None:
        return spec.baseline
    if component.kind == "loss":
        default = LOSS_BASELINES.get(spec.input_kind or "logits")
    else:
        default = KINDS[component.kind].baseline
    if default is None or default == component.name:
        return None
    if registry is None:
        from cnnbench.plugins import default_registry

        registry = default_registry()
    if default not in registry.names(component.kind):
        return None
    return registry.get(component.kind, default).spec.baseline
