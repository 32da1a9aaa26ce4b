"""The swappable parts a model is built from: one chosen component of each slot kind (:data:`cnnbench.kinds.SLOTS`).

A model factory receives a :class:`Parts` and asks it for blocks, so the same LeNet-5 is built with
any registered convolution, pooling, activation or normalization, third-party ones included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from cnnbench.errors import UnknownComponentError
from cnnbench.kinds import KINDS, SLOTS
from cnnbench.registry import Registry


class Parts:
    """Builds blocks from the components chosen in the config (each a ``{"name": ..., **hp}`` node).

    A slot left out is its kind's default (``conv``, ``max``, ``relu``, ``none``).

    >>> from cnnbench.plugins import default_registry
    >>> Parts(default_registry(), pooling={"name": "avg"}).pool(6)  # doctest: +SKIP
    AvgPool2d(kernel_size=2, stride=2)
    """

    def __init__(self, registry: Registry, **choices: Mapping[str, Any] | str) -> None:
        unknown = set(choices) - set(SLOTS)
        if unknown:
            raise UnknownComponentError("slot", sorted(unknown)[0], SLOTS)
        self.registry = registry
        self.choices = {
            slot: {"name": choice} if isinstance(choice, str) else dict(choice)
            for slot, choice in {**{slot: KINDS[slot].default for slot in SLOTS}, **choices}.items()
        }

    def build(self, kind: str, /, **context: Any) -> nn.Module:
        """The chosen component of slot ``kind``, built with ``context`` (its kind's, see ``docs/plugins.md``)."""
        if kind not in self.choices:
            raise UnknownComponentError("slot", kind, SLOTS)
        return self.registry.create(kind, self.choices[kind], **context)

    def conv(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0) -> nn.Module:
        return self.build(
            "convolution",
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
        )

    def pool(self, channels: int, kernel_size: int = 2, stride: int | None = None) -> nn.Module:
        return self.build("pooling", channels=channels, kernel_size=kernel_size, stride=stride or kernel_size)

    def act(self, channels: int) -> nn.Module:
        return self.build("activation", channels=channels)

    def conv_block(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0
    ) -> nn.Sequential:
        """Convolution then activation; the convolution widens when the activation needs it (maxout)."""
        act = self.act(out_channels)
        width = getattr(act, "in_channels", out_channels)
        return nn.Sequential(self.conv(in_channels, width, kernel_size, stride, padding), act)

    def dense_block(self, in_features: int, out_features: int) -> nn.Sequential:
        """Fully connected layer then activation, widened the same way as :meth:`conv_block`."""
        act = self.act(out_features)
        width = getattr(act, "in_channels", out_features)
        return nn.Sequential(self.registry.create("layer", "linear", in_features=in_features, out_features=width), act)


def flat_features(features: nn.Module, in_channels: int, image_size: int) -> int:
    """The flattened size of ``features`` for one image, found by a dry run (any conv/pooling choice fits)."""
    with torch.no_grad():
        was_training = features.training
        features.eval()
        size = features(torch.zeros(1, in_channels, image_size, image_size)).numel()
        features.train(was_training)
    return size
