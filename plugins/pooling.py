"""Built-in poolings: max, average, Lp, mixed (fixed, random, learned) and stochastic.

Every pooling keeps the pooling contract, ``factory(channels, kernel_size, stride, **hp)``: a square
window without padding maps (N, C, H, W) to (N, C, o, o') with ``o = floor((H - kernel_size) / stride) + 1``.
The formulas follow the survey (Gu et al., arXiv 1512.07108, section 3.2) and the papers cited per class.
Each registration carries its bench baseline and the speed target of issue 6 (forward+backward ratio).
SPP and RoI pooling are layers (``layers.py``): they do not keep this contract.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from cnnbench_plugins._autograd import once_differentiable
from torch import Tensor, nn

from cnnbench import hookimpl
from cnnbench.bench.baselines import parameter, window
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
        if not self.training:
            return torch.lerp(self.avg(x), self.max(x), self.p_max)
        return _MaxOrMean.apply(x, self.kernel_size, self.stride, self.p_max)

    def extra_repr(self) -> str:
        return f"p_max={self.p_max}, {super().extra_repr()}"


class _MaxOrMean(torch.autograd.Function):
    """Per output element, the window's max with probability ``p_max``, else its mean; gradient in one map.

    Autograd would give each pooling its own input-sized gradient (max pooling's a zero-filled one) and then
    add the two; here the mean's gradient is the one map and the max's is added into it at its indices with
    ``scatter_add_``, which saves two input-sized passes and their allocations.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, k: int, s: int, p_max: float) -> Tensor:
        maximum, indices = F.max_pool2d(x, k, s, return_indices=True)
        mean = F.avg_pool2d(x, k, s)
        # lerp with a 0/1 weight picks exactly one of the two, several times faster than where on CPU; the
        # in-place comparison makes the weight in the uniforms' own float32 buffer, where a bool would
        # need a conversion that costs as much as drawing them.
        weight = torch.rand(maximum.shape, device=x.device).lt_(p_max).to(x.dtype)
        ctx.save_for_backward(x, indices, weight)
        ctx.window = (k, s)
        return torch.lerp(mean, maximum, weight)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        x, indices, weight = ctx.saved_tensors
        k, s = ctx.window
        to_max = grad * weight
        grad_x = torch.ops.aten.avg_pool2d_backward(grad - to_max, x, [k, k], [s, s], [0, 0], False, True, None)
        grad_x.flatten(2).scatter_add_(2, indices.flatten(2), to_max.flatten(2))
        return grad_x, None, None, None


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


class _StochasticPick(torch.autograd.Function):
    """One activation per window, drawn by inverse CDF with one uniform per window; backward as max pooling's.

    The window's positions are walked in raster order with a running sum ``c_p`` of ``a = max(x, 0)``: the
    pick is the first position whose ``c_p`` exceeds ``u * c_last`` (u ~ U[0, 1)), i.e. position ``l`` with
    probability ``a_l / sum a``. Each step is a whole-tensor op on the (N, C, o, o') strided slice of one
    window position, so nothing of size k*k*N*C*o*o' is copied, sorted or cumsum-ed, and the picked flat
    indices drive ``max_pool2d``'s own backward kernel (which adds where windows overlap).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, k: int, s: int) -> Tensor:
        windows = x.unfold(2, k, s).unfold(3, k, s)
        # Running sums in float32 at least, so that bfloat16's 8-bit mantissa does not bias the draw.
        dtype = torch.promote_types(x.dtype, torch.float32)
        # After a ReLU (the paper's setting) nothing needs clamping: one min on the CPU is cheaper than k*k
        # clamps of strided slices (on CUDA the clamps are cheaper than the host sync that min would need).
        signed = x.is_cuda or bool(x.min() < 0)
        a = [windows[..., i // k, i % k] for i in range(k * k)]
        a = [(slice_.clamp_min(0) if signed else slice_).to(dtype) for slice_ in a]
        running = list(itertools.accumulate(a))
        # The uniforms are drawn into the comparisons' buffer, and u * total takes the total's place (only the
        # sums before it are compared): two output-sized allocations fewer, each a run of page faults as
        # often as not on the CPU. With k = 1 the total is a view of x and stays untouched.
        passed = torch.empty(running[-1].shape, dtype=dtype, device=x.device).uniform_()
        threshold = running[-1].mul_(passed) if k > 1 else passed.mul_(running[-1])
        width = x.shape[-1]
        offsets = [(i // k) * width + i % k for i in range(k * k)]
        # Flat index into the (H * W) plane: the window's origin, moved one position on per running sum
        # still <= threshold (they are non-decreasing). Float is exact for indices below 2**24 and is the
        # fastest accumulator on CPU; each comparison writes its 0/1 into one reused float buffer (adding
        # a bool instead takes the scalar casting loop, 1.8x longer).
        rows, cols = (torch.arange(size, device=x.device) for size in threshold.shape[-2:])
        origin = ((rows[:, None] * width + cols) * s).to(torch.float32)
        index = origin.expand(threshold.shape)
        for p in range(k * k - 1):
            # The first step allocates the (N, C, o, o') index, the others add into it.
            torch.le(running[p], threshold, out=passed)
            index = torch.add(index, passed, alpha=offsets[p + 1] - offsets[p], out=index if p else None)
        index = index.long()
        # An all-zero window picks its last position, which may be negative: clamping gives the paper's 0.
        picked = x.flatten(2).gather(2, index.flatten(2)).view(index.shape)
        picked = picked.clamp_min(0) if signed else picked
        ctx.save_for_backward(x, index, picked)
        ctx.window, ctx.signed = (k, s), signed
        return picked

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        x, index, picked = ctx.saved_tensors
        k, s = ctx.window
        if ctx.signed:  # d max(x, 0)/dx is 0 where a negative x was picked (an all-non-positive window)
            grad = grad * (picked > 0)
        return torch.ops.aten.max_pool2d_with_indices_backward(grad, x, [k, k], [s, s], [0, 0], [1, 1], False, index), None, None


class StochasticPool2d(_Pool2d):
    """Stochastic pooling of Zeiler & Fergus 2013: pick one activation per window, in proportion to its size.

    With ``a = max(x, 0)`` (the paper pools ReLU outputs) and ``p_i = a_i / sum_j a_j`` over the window,
    training returns ``a_l`` with ``l ~ Multinomial(p)`` drawn independently per window (an all-zero window
    gives 0), and the gradient flows to the picked activation only. Eval returns the probability-weighted
    average ``sum_i p_i a_i = sum a^2 / sum a``, the paper's test-time rule.
    """

    stochastic: ClassVar[bool] = True

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            return _StochasticPick.apply(x, self.kernel_size, self.stride)
        return self._expectation(x.clamp_min(0))

    def _expectation(self, a: Tensor) -> Tensor:
        total = self.avg(a)
        # An all-zero window has sum a^2 = 0 too: dividing it by 1 gives 0 (and is cheaper than where).
        return self.avg(a * a) / (total + (total == 0))


def _max_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.max_pool2d(x, *window(case)))


def _avg_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.avg_pool2d(x, *window(case)))


def _lp_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.lp_pool2d(x, float(hp["p"]), *window(case)))


def _max_plus_avg_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    return Op(lambda x: F.max_pool2d(x, *window(case)) + F.avg_pool2d(x, *window(case)))


def _learned_mix_pool(case: Any, hp: Mapping[str, Any]) -> Op:
    """``sigmoid(w) * max + (1 - sigmoid(w)) * avg`` with its own scalar w: the layer's formula, composed plainly."""
    logit = parameter(1, fill=0.0, like=case.inputs[0])

    def mix(x: Tensor) -> Tensor:
        share = torch.sigmoid(logit)
        return share * F.max_pool2d(x, *window(case)) + (1 - share) * F.avg_pool2d(x, *window(case))

    return Op(mix, (logit,))


MAX_PLUS_AVG = "max_pool2d+avg_pool2d"
UNIT = Range(0.0, 1.0)


@hookimpl
def cnnbench_register_poolings(register: Register) -> None:
    register("max", Spec(MaxPool2d, baseline=Baseline("max_pool2d", _max_pool)))
    register("avg", Spec(AvgPool2d, baseline=Baseline("avg_pool2d", _avg_pool)))
    register("lp", Spec(LpPool2d, {"p": 2.0}, {"p": Range(1.0)}, baseline=Baseline("lp_pool2d", _lp_pool, 1.15)))
    register("mixed", Spec(MixedPool2d, {"lam": 0.5}, {"lam": UNIT}, baseline=Baseline(MAX_PLUS_AVG, _max_plus_avg_pool, 1.05)))
    register(
        "mixed_random",
        Spec(MixedRandomPool2d, {"p_max": 0.5}, {"p_max": UNIT}, baseline=Baseline(MAX_PLUS_AVG, _max_plus_avg_pool, 1.15)),
    )
    register(
        "mixed_learned",
        Spec(
            MixedLearnedPool2d,
            {"lam": 0.5},
            {"lam": UNIT},
            # against max+avg it also times the sigmoid and the parameter's gradient (1.05-1.14x under load);
            # against its own formula composed of built-ins, what its implementation adds (0.95-0.99x)
            baseline=Baseline("sigmoid(w)*max+(1-sigmoid(w))*avg", _learned_mix_pool, 1.05),
        ),
    )
    register("stochastic", Spec(StochasticPool2d, baseline=Baseline("max_pool2d", _max_pool, 1.3)))
