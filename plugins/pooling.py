"""Built-in poolings: max, average, Lp, mixed (fixed, random, learned) and stochastic.

Every pooling keeps the pooling contract, ``factory(channels, kernel_size, stride, **hp)``: a square
window without padding maps (N, C, H, W) to (N, C, o, o') with ``o = floor((H - kernel_size) / stride) + 1``.
The formulas follow the survey (Gu et al., arXiv 1512.07108, section 3.2) and the papers cited per class.
Each registration carries its bench baseline and the speed target of issue 6 (forward+backward ratio).
SPP and RoI pooling are layers (``layers.py``): they do not keep this contract.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbench import hookimpl
from cnnbench.bench.baselines import window
from cnnbench.errors import require
from cnnbench.hookspecs import Register
from cnnbench.spec import Baseline, Op, Range, Spec


def _require_positive_int(name: str, value: Any) -> None:
    require(isinstance(value, int) and value > 0, f"{name} must be a positive integer, got {value!r}")


def _require_unit_interval(name: str, value: float) -> None:
    require(0.0 <= value <= 1.0, f"{name} must be in [0, 1], got {value}")


class _Pool2d(nn.Module):
    """A square, unpadded pooling window; subclasses say what is computed over it."""

    def __init__(self, channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        _require_positive_int("kernel_size", kernel_size)
        _require_positive_int("stride", stride)
        self.channels, self.kernel_size, self.stride = channels, kernel_size, stride

    def max(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def avg(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class MaxPool2d(_Pool2d):
    """Max pooling: the strongest response of each window."""

    def forward(self, x: Tensor) -> Tensor:
        return self.max(x)


class AvgPool2d(_Pool2d):
    """Average pooling: the mean response of each window."""

    def forward(self, x: Tensor) -> Tensor:
        return self.avg(x)


class LpPool2d(_Pool2d):
    """Lp pooling ``y = (sum over the window of |x|^p)^(1/p)``: p = 1 sums, p -> infinity tends to max.

    The survey's formula (after Sermanet et al. 2012) takes the SUM over the window, as ``F.lp_pool2d``
    does, and this is ``F.lp_pool2d`` of ``|x|``: on non-negative inputs (after ReLU) the two are equal, and
    on signed inputs this stays the Lp norm of the window where ``F.lp_pool2d`` of ``x`` is NaN for odd or
    fractional p. ``|x|^p`` is formed before the root, so a very large p overflows as in ``F.lp_pool2d``.
    """

    def __init__(self, channels: int, kernel_size: int, stride: int, p: float = 2.0) -> None:
        super().__init__(channels, kernel_size, stride)
        require(math.isfinite(p) and p >= 1, f"p must be a finite number >= 1, got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        # |x|^p = x^p for even p: skipping abs there saves a pass over the input, forward and backward.
        magnitude = x if self.p % 2 == 0 else x.abs()
        return F.lp_pool2d(magnitude, self.p, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"p={self.p}, {super().extra_repr()}"


class MixedPool2d(_Pool2d):
    """Mixed pooling with a fixed proportion: ``y = lam * max + (1 - lam) * avg``.

    The deterministic form of Yu et al. 2014 ("Mixed pooling for CNNs") and of Lee, Gallagher & Tu 2016's
    mixed max-average pooling, with the proportion ``lam`` chosen by hand (lam = 1: max, lam = 0: average).
    """

    def __init__(self, channels: int, kernel_size: int, stride: int, lam: float = 0.5) -> None:
        super().__init__(channels, kernel_size, stride)
        _require_unit_interval("lam", lam)
        self.lam = float(lam)

    def forward(self, x: Tensor) -> Tensor:
        return torch.lerp(self.avg(x), self.max(x), self.lam)

    def extra_repr(self) -> str:
        return f"lam={self.lam}, {super().extra_repr()}"


class MixedRandomPool2d(_Pool2d):
    """Mixed pooling of Yu et al. 2014: each window takes its max with probability ``p_max``, else its mean.

    Training draws lambda in {0, 1} independently per output element. Eval is deterministic and returns the
    expectation of the training output, ``p_max * max + (1 - p_max) * avg`` (the averaging rule dropout uses
    at test time), so a network sees, on average, the same scale in both modes.
    """

    stochastic: ClassVar[bool] = True

    def __init__(self, channels: int, kernel_size: int, stride: int, p_max: float = 0.5) -> None:
        super().__init__(channels, kernel_size, stride)
        _require_unit_interval("p_max", p_max)
        self.p_max = float(p_max)

    def forward(self, x: Tensor) -> Tensor:
        maximum, mean = self.max(x), self.avg(x)
        if not self.training:
            return torch.lerp(mean, maximum, self.p_max)
        take_max = torch.rand(maximum.shape, device=x.device) < self.p_max
        # lerp with a 0/1 weight picks exactly one of the two, several times faster than where on CPU.
        return torch.lerp(mean, maximum, take_max.to(x.dtype))

    def extra_repr(self) -> str:
        return f"p_max={self.p_max}, {super().extra_repr()}"


class MixedLearnedPool2d(_Pool2d):
    """Mixed max-average pooling of Lee, Gallagher & Tu 2016 with one learned proportion per layer.

    ``y = a * max + (1 - a) * avg`` with ``a = sigmoid(logit)`` kept in (0, 1); ``lam`` is the initial ``a``.
    One scalar per layer is the paper's equation (their "per layer" option): it adds a single parameter
    and lets the layer drift between max and average pooling as training prefers.
    """

    def __init__(self, channels: int, kernel_size: int, stride: int, lam: float = 0.5) -> None:
        super().__init__(channels, kernel_size, stride)
        require(0.0 < lam < 1.0, f"lam must be in (0, 1) (it is a sigmoid's value), got {lam}")
        self.logit = nn.Parameter(torch.logit(torch.tensor(float(lam))))

    @property
    def lam(self) -> Tensor:
        """The current mixing proportion a in (0, 1)."""
        return torch.sigmoid(self.logit)

    def forward(self, x: Tensor) -> Tensor:
        return torch.lerp(self.avg(x), self.max(x), self.lam.to(x.dtype))

    def extra_repr(self) -> str:
        return f"lam={self.lam.item():.4g}, {super().extra_repr()}"


class StochasticPool2d(_Pool2d):
    """Stochastic pooling of Zeiler & Fergus 2013: pick one activation per window, in proportion to its size.

    With ``a = max(x, 0)`` (the paper pools ReLU outputs) and ``p_i = a_i / sum_j a_j`` over the window,
    training returns ``a_l`` with ``l ~ Multinomial(p)`` drawn independently per window (an all-zero window
    gives 0), and the gradient flows to the picked activation only. Eval returns the probability-weighted
    average ``sum_i p_i a_i = sum a^2 / sum a``, the paper's test-time rule.
    """

    stochastic: ClassVar[bool] = True

    def forward(self, x: Tensor) -> Tensor:
        return self._sample(x) if self.training else self._expectation(x.clamp_min(0))

    def _expectation(self, a: Tensor) -> Tensor:
        total = self.avg(a)
        # An all-zero window has sum a^2 = 0 too: dividing it by 1 gives 0 (and is cheaper than where).
        return self.avg(a * a) / (total + (total == 0))

    def _sample(self, x: Tensor) -> Tensor:
        k, s = self.kernel_size, self.stride
        with torch.no_grad():
            # (k*k, N, C, o, o'): the window position leads, so cumsum and compare run over whole slabs.
            windows = x.clamp_min(0).unfold(2, k, s).unfold(3, k, s).permute(4, 5, 0, 1, 2, 3).flatten(0, 1)
            cumulative = windows.cumsum(0)
            # Inverse-CDF draw: the first position whose running sum exceeds u * total (the last if none).
            threshold = torch.rand_like(cumulative[-1]) * cumulative[-1]
            position = (cumulative[:-1] <= threshold).sum(0, dtype=torch.int32)
            index = self._flat_index(position, x.shape[-1])
        # Gathering from x itself keeps the backward a scatter into x, as in max pooling.
        picked = x.flatten(2).gather(2, index.flatten(2)).view_as(threshold)
        return picked.clamp_min(0)

    def _flat_index(self, position: Tensor, width: int) -> Tensor:
        """The index into a flattened (H * W) map of the picked ``position`` (0 to k*k - 1) of each window."""
        k, s = self.kernel_size, self.stride
        rows, cols = (torch.arange(size, device=position.device) for size in position.shape[-2:])
        within = torch.arange(k, device=position.device)
        within_window = (within[:, None] * width + within).flatten()
        window_origin = (rows[:, None] * width + cols) * s
        return within_window[position] + window_origin


def _max_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.max_pool2d(x, *window(case)))


def _avg_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.avg_pool2d(x, *window(case)))


def _lp_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.lp_pool2d(x, float(hp["p"]), *window(case)))


def _max_plus_avg_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.max_pool2d(x, *window(case)) + F.avg_pool2d(x, *window(case)))


MAX_PLUS_AVG = "max_pool2d+avg_pool2d"
UNIT = Range(0.0, 1.0)


@hookimpl
def cnnbench_register_poolings(register: Register) -> None:
    register("max", Spec(MaxPool2d, baseline=Baseline("max_pool2d", _max_pool)))
    register("avg", Spec(AvgPool2d, baseline=Baseline("avg_pool2d", _avg_pool)))
    register("lp", Spec(LpPool2d, {"p": 2.0}, {"p": Range(1.0)}, baseline=Baseline("lp_pool2d", _lp_pool, 1.2)))
    register("mixed", Spec(MixedPool2d, {"lam": 0.5}, {"lam": UNIT}, baseline=Baseline(MAX_PLUS_AVG, _max_plus_avg_pool, 1.05)))
    register(
        "mixed_random",
        Spec(MixedRandomPool2d, {"p_max": 0.5}, {"p_max": UNIT}, baseline=Baseline(MAX_PLUS_AVG, _max_plus_avg_pool, 1.3)),
    )
    register(
        "mixed_learned",
        Spec(MixedLearnedPool2d, {"lam": 0.5}, {"lam": UNIT}, baseline=Baseline(MAX_PLUS_AVG, _max_plus_avg_pool, 1.05)),
    )
    register("stochastic", Spec(StochasticPool2d, baseline=Baseline("max_pool2d", _max_pool, 4.0)))
