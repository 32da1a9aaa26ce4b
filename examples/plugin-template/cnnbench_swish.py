"""cnnbench-swish: the Swish activation as a cnnbench plugin, and the template for writing your own.

Swish (Ramachandran et al. 2017, "Searching for Activation Functions") is x * sigmoid(beta * x): beta = 1
is the SiLU, beta -> 0 tends to x / 2 and beta -> infinity to the ReLU.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cnnbench import hookimpl
from cnnbench.errors import require
from cnnbench.hookspecs import Register


class Swish(nn.Module):
    """Swish (Ramachandran et al. 2017): x * sigmoid(beta * x), smooth and non-monotonic below zero."""

    def __init__(self, channels: int, beta: float) -> None:
        # ``channels`` is the context every activation receives; Swish has no per-channel state.
        require(
            isinstance(beta, int | float) and not isinstance(beta, bool) and math.isfinite(beta) and beta > 0,
            f"beta must be a finite number > 0, got {beta!r}",
        )
        super().__init__()
        self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


@hookimpl
def cnnbench_register_activations(register: Register) -> None:
    register("swish", Swish, beta=1.0)
