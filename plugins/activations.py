"""Built-in activations: the survey's ReLU family (Gu et al., Sec. 3.3), maxout, and the classic squashers.

Every factory takes the ``channels`` of its input (only PReLU and maxout need it) and returns a module
that acts along dim 1 of (N, C) and (N, C, H, W) tensors. Each one is PyTorch's own op; this module
only validates the hyperparameters against the papers' ranges and adds what the contract asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from cnnbench import hookimpl
from cnnbench.bench.baselines import parameter
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.spec import Baseline, Op, Range, Spec

PRELU_INIT = 0.25  # He et al. 2015, Sec. 2.1


def relu(channels: int) -> nn.Module:
    """ReLU (Nair & Hinton 2010): max(z, 0)."""
    return nn.ReLU()


def leaky_relu(channels: int, negative_slope: float) -> nn.Module:
    """Leaky ReLU (Maas et al. 2013): max(z, 0) + λ·min(z, 0), the survey's λ in (0, 1)."""
    require(0 < negative_slope < 1, f"negative_slope must be in (0, 1), got {negative_slope}")
    return nn.LeakyReLU(negative_slope)


def prelu(channels: int) -> nn.Module:
    """PReLU (He et al. 2015): max(z, 0) + a_k·min(z, 0) with one learned a_k per channel k, a_k = 0.25 at start."""
    require(channels >= 1, f"channels must be >= 1, got {channels}")
    return nn.PReLU(num_parameters=channels, init=PRELU_INIT)


class RReLU(nn.RReLU):
    """RReLU (Xu et al. 2015): a leaky slope drawn from U(lower, upper) per element in training, (lower+upper)/2 in eval.

    The slope multiplies the negative part, as in ``F.rrelu``. Xu et al. (and the survey) write the divisor
    form z/a with a ~ U(3, 8); its slopes span [1/8, 1/3], hence the defaults lower=1/8, upper=1/3. (Their
    test-time divisor (3+8)/2 is a slope of 2/11, not PyTorch's mean slope (1/8+1/3)/2 = 11/48.)
    """

    stochastic: ClassVar[bool] = True

    def __init__(self, channels: int, lower: float, upper: float) -> None:
        require(0 <= lower <= upper < 1, f"need 0 <= lower <= upper < 1, got lower={lower}, upper={upper}")
        super().__init__(lower, upper)


def elu(channels: int, alpha: float) -> nn.Module:
    """ELU (Clevert et al. 2016): z for z > 0, alpha·(exp(z) − 1) otherwise; alpha > 0 sets the negative saturation."""
    require(alpha > 0, f"alpha must be > 0, got {alpha}")
    return nn.ELU(alpha)


class Maxout(nn.Module):
    """Maxout (Goodfellow et al. 2013): each output channel is the max of ``pieces`` consecutive input channels.

    The input therefore has ``in_channels = channels * pieces`` channels (input channels c·k .. c·k+k−1
    feed output channel c), which tells the layer before it how wide to be.
    """

    def __init__(self, channels: int, pieces: int) -> None:
        require(isinstance(pieces, int) and pieces >= 2, f"pieces must be an integer >= 2, got {pieces!r}")
        require(channels >= 1, f"channels must be >= 1, got {channels}")
        super().__init__()
        self.channels, self.pieces = channels, pieces
        self.in_channels = channels * pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(1, (self.channels, self.pieces)).amax(dim=2)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, pieces={self.pieces}"


def tanh(channels: int) -> nn.Module:
    """Hyperbolic tangent: the zero-centred squashing nonlinearity of early CNNs (LeCun et al. 1998)."""
    return nn.Tanh()


def sigmoid(channels: int) -> nn.Module:
    """Logistic sigmoid 1/(1 + exp(−z)): the saturating baseline the ReLU family replaced."""
    return nn.Sigmoid()


def identity(channels: int) -> nn.Module:
    """No nonlinearity: the ablation baseline that shows what an activation buys."""
    return nn.Identity()


def _same_op(name: str, function: Callable[..., torch.Tensor], *names: str) -> Baseline:
    """The baseline ``function(x, *hyperparameters named in names)``."""
    return Baseline(name, lambda case, hp: Op(lambda x: function(x, *(hp[key] for key in names))))


def _prelu(case: Any, hp: Mapping[str, Any]) -> Op:
    weight = parameter(case.context["channels"], fill=PRELU_INIT, like=case.inputs[0])
    return Op(lambda x: F.prelu(x, weight), (weight,))


def _reshape_amax(case: Any, hp: Mapping[str, Any]) -> Op:
    channels = case.context["channels"]
    return Op(lambda x: x.reshape(x.shape[0], channels, -1, *x.shape[2:]).amax(dim=2))


def _rrelu(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.rrelu(x, hp["lower"], hp["upper"], training=True))


@hookimpl
def cnnbench_register_activations(register: Register) -> None:
    register("relu", Spec(relu, baseline=_same_op("relu", F.relu)))
    register(
        "leaky_relu",
        Spec(leaky_relu, {"negative_slope": 0.01}, {"negative_slope": Range(0.0, 1.0)}, baseline=_same_op("leaky_relu", F.leaky_relu, "negative_slope")),
    )
    register("prelu", Spec(prelu, baseline=Baseline("prelu", _prelu)))
    register(
        "rrelu",
        Spec(RReLU, {"lower": 1 / 8, "upper": 1 / 3}, {"lower": Range(0.0, 1.0), "upper": Range(0.0, 1.0)}, baseline=Baseline("rrelu", _rrelu)),
    )
    register("elu", Spec(elu, {"alpha": 1.0}, {"alpha": Range(0.0)}, baseline=_same_op("elu", F.elu, "alpha")))
    register("maxout", Spec(Maxout, {"pieces": 2}, {"pieces": Range(2, integer=True)}, baseline=Baseline("reshape+amax", _reshape_amax, 1.2)))
    register("tanh", Spec(tanh, baseline=_same_op("tanh", torch.tanh)))
    register("sigmoid", Spec(sigmoid, baseline=_same_op("sigmoid", torch.sigmoid)))
    register("identity", Spec(identity, comparable=False))
