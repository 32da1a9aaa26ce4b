"""The built-in poolings, checked against the papers' formulas and PyTorch's own ops."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.testing import assert_close

from cnnbench.errors import InvalidHyperparameterError
from cnnbench.plugins import default_registry
from cnnbench.registry import Registry

BUILT_IN = ["avg", "lp", "max", "mixed", "mixed_learned", "mixed_random", "stochastic"]
#: every registered pooling, third-party ones included, so the shape contract covers them too
POOLINGS = sorted(set(BUILT_IN) | set(default_registry().names("pooling")))
STOCHASTIC = {"mixed_random", "stochastic"}


def pool(registry: Registry, name: str, kernel_size: int = 2, stride: int = 2, channels: int = 3, **hp: Any) -> nn.Module:
    return registry.create("pooling", {"name": name, **hp}, channels=channels, kernel_size=kernel_size, stride=stride)


def windows(x: Tensor, k: int, s: int) -> Tensor:
    """(N, C, o, o', k*k): every pooling window, for reference formulas."""
    return x.unfold(2, k, s).unfold(3, k, s).flatten(-2)


def test_the_built_in_names_are_registered(registry):
    assert set(BUILT_IN) <= set(registry.names("pooling"))
    assert dict(registry.get("pooling", "lp").defaults) == {"p": 2.0}
    assert dict(registry.get("pooling", "mixed_random").defaults) == {"p_max": 0.5}


@pytest.mark.parametrize("name", POOLINGS)
@pytest.mark.parametrize(("size", "k", "s"), [(8, 2, 2), (7, 3, 2), (9, 3, 3), (5, 5, 1)])
@pytest.mark.parametrize("training", [True, False])
def test_output_size_is_floor_of_size_minus_kernel_over_stride_plus_one(registry, name, size, k, s, training):
    module = pool(registry, name, k, s).train(training)
    out = module(torch.randn(2, 3, size, size + 3))
    assert out.shape == (2, 3, (size - k) // s + 1, (size + 3 - k) // s + 1)


@pytest.mark.parametrize("name", BUILT_IN)
def test_gradients_are_finite_even_for_all_zero_windows(registry, name):
    x = torch.randn(2, 3, 6, 6).relu()
    x[:, :, :2, :2] = 0  # an all-zero window, common after ReLU
    x.requires_grad_()
    module = pool(registry, name)
    module(x).square().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters())


@pytest.mark.parametrize("name", BUILT_IN)
def test_float64_and_bfloat16_and_state_dict_round_trip(registry, name):
    module = pool(registry, name).eval()
    x = torch.rand(2, 3, 6, 6)
    assert module.to(torch.float64)(x.double()).dtype == torch.float64
    assert module.to(torch.bfloat16)(x.bfloat16()).dtype == torch.bfloat16
    twin = pool(registry, name)
    twin.load_state_dict(module.float().state_dict())
    assert_close(twin.eval()(x), module(x))


@pytest.mark.parametrize("name", BUILT_IN)
def test_only_the_random_poolings_are_random_in_training(registry, name):
    module = pool(registry, name).train()
    x = torch.rand(4, 3, 8, 8)
    assert getattr(type(module), "stochastic", False) == (name in STOCHASTIC)
    torch.manual_seed(1)
    first = module(x)
    torch.manual_seed(2)
    assert torch.equal(first, module(x)) == (name not in STOCHASTIC)
    torch.manual_seed(1)
    assert torch.equal(first, module(x))  # same seed, same draw
    module.eval()
    assert torch.equal(module(x), module(x))


def test_max_and_avg_are_pytorchs(registry):
    x = torch.randn(2, 3, 7, 7)
    assert_close(pool(registry, "max", 3, 2)(x), F.max_pool2d(x, 3, 2))
    assert_close(pool(registry, "avg", 3, 2)(x), F.avg_pool2d(x, 3, 2))


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_lp_equals_pytorch_lp_pool_which_sums_over_the_window(registry, p):
    x = torch.rand(2, 3, 7, 7, dtype=torch.float64) + 0.1
    out = pool(registry, "lp", 3, 2, p=p)(x)
    assert_close(out, F.lp_pool2d(x, p, 3, 2))
    assert_close(out, windows(x, 3, 2).pow(p).sum(-1).pow(1 / p))  # the survey's formula


def test_lp_with_p_1_is_average_pooling_of_abs_times_the_window_size(registry):
    x = torch.randn(2, 3, 6, 6)
    assert_close(pool(registry, "lp", 3, 3, p=1)(x), F.avg_pool2d(x.abs(), 3, 3) * 9)


def test_lp_with_large_p_tends_to_max_pooling(registry):
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) + 0.5
    out, maximum = pool(registry, "lp", 2, 2, p=64)(x), F.max_pool2d(x, 2, 2)
    assert (out >= maximum).all() and (out <= maximum * 4 ** (1 / 64)).all()  # max <= Lp <= k^(2/p) max
    assert_close(out, maximum, rtol=0.03, atol=0)


def test_lp_pools_magnitudes_of_signed_inputs_where_pytorchs_lp_pool_is_nan(registry):
    x = torch.randn(2, 3, 6, 6)
    for p in (2.0, 3.0, 2.5):
        out = pool(registry, "lp", 2, 2, p=p)(x)
        assert_close(out, F.lp_pool2d(x.abs(), p, 2, 2))
    assert torch.isnan(F.lp_pool2d(x, 3.0, 2, 2)).any() and torch.isfinite(out).all()


def test_lp_all_zero_window_gives_zero_with_zero_gradient(registry):
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    out = pool(registry, "lp", 2, 2, channels=1)(x)
    out.sum().backward()
    assert out.item() == 0 and torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_mixed_is_lam_max_plus_one_minus_lam_avg(registry, lam):
    x = torch.randn(2, 3, 7, 7)
    expected = lam * F.max_pool2d(x, 3, 2) + (1 - lam) * F.avg_pool2d(x, 3, 2)
    assert_close(pool(registry, "mixed", 3, 2, lam=lam)(x), expected)


def test_mixed_random_picks_max_with_probability_p_max_per_output_element(registry):
    x = torch.randn(64, 4, 8, 8)
    maximum, mean = F.max_pool2d(x, 2, 2), F.avg_pool2d(x, 2, 2)
    out = pool(registry, "mixed_random", p_max=0.3).train()(x)
    took_max, took_mean = out == maximum, out == mean
    assert (took_max | took_mean).all()
    assert abs(took_max.double().mean().item() - 0.3) < 0.02  # 16384 draws: standard error 0.004
    assert_close(pool(registry, "mixed_random", p_max=1.0).train()(x), maximum)
    assert_close(pool(registry, "mixed_random", p_max=0.0).train()(x), mean)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize(("k", "s"), [(2, 2), (3, 2), (2, 1)])
def test_mixed_random_gradient_is_autograds_of_the_picked_poolings(registry, k, s, channels_last):
    """Its backward adds max pooling's gradient into average pooling's: it must be autograd's of where(...)."""
    x = torch.randn(4, 3, 9, 9, dtype=torch.float64)
    x = x.to(memory_format=torch.channels_last) if channels_last else x
    x.requires_grad_()
    out = pool(registry, "mixed_random", k, s, p_max=0.4).train()(x)
    maximum, mean = F.max_pool2d(x, k, s), F.avg_pool2d(x, k, s)
    took_max = out == maximum
    assert (took_max | (out == mean)).all() and 0 < took_max.double().mean() < 1
    upstream = torch.randn_like(out)
    (actual,) = torch.autograd.grad(out, x, upstream)
    (expected,) = torch.autograd.grad(torch.where(took_max, maximum, mean), x, upstream)
    assert_close(actual, expected)


def test_mixed_random_in_eval_is_the_expected_mixture(registry):
    x = torch.randn(2, 3, 8, 8)
    expected = 0.3 * F.max_pool2d(x, 2, 2) + 0.7 * F.avg_pool2d(x, 2, 2)
    assert_close(pool(registry, "mixed_random", p_max=0.3).eval()(x), expected)


def test_mixed_learned_starts_at_lam_and_learns_it_within_0_and_1(registry):
    module = pool(registry, "mixed_learned", lam=0.2)
    assert [name for name, _ in module.named_parameters()] == ["logit"]
    x = torch.randn(4, 3, 8, 8)
    maximum, mean = F.max_pool2d(x, 2, 2), F.avg_pool2d(x, 2, 2)
    assert_close(module(x), 0.2 * maximum + 0.8 * mean)
    optimizer = torch.optim.SGD(module.parameters(), lr=10.0)
    for _ in range(3):  # minimising -mean(y) pushes the proportion towards max pooling
        optimizer.zero_grad()
        (-module(x).mean()).backward()
        optimizer.step()
    lam = module.lam.item()
    assert 0.2 < lam < 1
    assert_close(module(x), lam * maximum + (1 - lam) * mean)


def test_stochastic_eval_is_the_probability_weighted_average(registry):
    x = torch.randn(2, 3, 7, 7)
    x[0, 0, :3, :3] = -1.0  # an all-negative window gives 0
    a = windows(x.relu(), 3, 2)
    probabilities = a / a.sum(-1, keepdim=True)
    expected = (probabilities * a).sum(-1).nan_to_num()
    out = pool(registry, "stochastic", 3, 2).eval()(x)
    assert_close(out, expected)
    assert out[0, 0, 0, 0] == 0


def test_stochastic_training_picks_an_activation_of_each_window(registry):
    x = torch.randn(4, 3, 9, 9)
    x[0, 0, :3, :3] = -1.0
    out = pool(registry, "stochastic", 3, 2).train()(x)
    a = windows(x.relu(), 3, 2)
    assert ((a == out[..., None]) & (a > 0)).any(-1)[a.sum(-1) > 0].all()
    assert out[0, 0, 0, 0] == 0


def test_stochastic_training_samples_in_proportion_to_the_activations(registry):
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).expand(5000, 4, 2, 2)
    out = pool(registry, "stochastic").train()(x)
    frequencies = torch.stack([(out == value).double().mean() for value in (1.0, 2.0, 3.0, 4.0)])
    assert_close(frequencies, torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64), atol=0.015, rtol=0)


def test_stochastic_training_draws_overlapping_windows_independently(registry):
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).expand(5000, 4, 2, 3)
    out = pool(registry, "stochastic", 2, 1).train()(x)  # windows: columns 0-1 and 1-2
    left_shared, right_shared = (out[..., 0] == 2) | (out[..., 0] == 5), (out[..., 1] == 2) | (out[..., 1] == 5)
    assert abs(left_shared.double().mean().item() - 7 / 12) < 0.015
    assert abs(right_shared.double().mean().item() - 7 / 16) < 0.015
    assert abs((left_shared & right_shared).double().mean().item() - 7 / 12 * 7 / 16) < 0.015


@pytest.mark.parametrize(("k", "s"), [(1, 1), (2, 2), (3, 2)])
def test_stochastic_training_leaves_its_input_untouched(registry, k, s):
    """The draw works in place on its running sums; with k = 1 the only sum is a view of the input."""
    x = torch.rand(2, 3, 7, 7)
    before = x.clone()
    out = pool(registry, "stochastic", k, s).train()(x)
    assert torch.equal(x, before)
    if k == 1:
        assert torch.equal(out, x)


def test_stochastic_training_gradient_reaches_only_the_picked_activations(registry):
    x = torch.rand(2, 3, 6, 6, requires_grad=True)
    out = pool(registry, "stochastic").train()(x)
    out.sum().backward()
    assert_close(F.max_pool2d(x.grad, 2, 2), torch.ones_like(out))  # one picked per window ...
    assert_close(x.grad.sum(), torch.tensor(float(out.numel())))  # ... and nothing else
    assert_close((x * x.grad).sum(), out.sum())  # the picked values are the outputs



def test_stochastic_training_gradient_adds_up_where_overlapping_windows_pick_the_same_activation(registry):
    x = torch.zeros(1, 1, 5, 5)
    x[..., 2, 2] = 5.0  # the one positive cell, shared by all four 3x3 windows of stride 2
    x.requires_grad_()
    out = pool(registry, "stochastic", 3, 2, channels=1).train()(x)
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    assert torch.equal(out, torch.full((1, 1, 2, 2), 5.0))
    assert_close(x.grad[0, 0, 2, 2], weights.sum())
    assert x.grad.count_nonzero() == 1


def test_stochastic_training_of_signed_inputs_sends_no_gradient_to_negative_cells(registry):
    x = torch.randn(8, 3, 6, 6)
    x[:, :, :2, :2] = -1.0  # an all-negative window: output 0, no gradient
    x.requires_grad_()
    out = pool(registry, "stochastic").train()(x)
    out.sum().backward()
    assert (x.grad[x <= 0] == 0).all() and (out[:, :, 0, 0] == 0).all()
    assert_close(x.grad.sum(), (out > 0).sum().float())


def test_stochastic_training_in_bfloat16_samples_in_proportion_too(registry):
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.bfloat16).expand(5000, 4, 2, 2)
    out = pool(registry, "stochastic").to(torch.bfloat16).train()(x)
    assert out.dtype == torch.bfloat16
    frequencies = torch.stack([(out == value).double().mean() for value in (1.0, 2.0, 3.0, 4.0)])
    assert_close(frequencies, torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64), atol=0.015, rtol=0)

@pytest.mark.parametrize(
    ("name", "hp", "message"),
    [
        ("mixed", {"lam": 1.5}, "pooling 'mixed': lam must be in [0, 1], got 1.5"),
        ("mixed", {"lam": -0.1}, "pooling 'mixed': lam must be in [0, 1], got -0.1"),
        ("mixed_random", {"p_max": 2}, "pooling 'mixed_random': p_max must be in [0, 1], got 2"),
        ("mixed_learned", {"lam": 1.0}, "pooling 'mixed_learned': lam must be in (0, 1) (it is a sigmoid's value), got 1.0"),
        ("lp", {"p": 0.5}, "pooling 'lp': p must be a finite number >= 1, got 0.5"),
        ("lp", {"p": math.inf}, "pooling 'lp': p must be a finite number >= 1, got inf"),
    ],
)
def test_hyperparameters_out_of_range_raise_one_line(registry, name, hp, message):
    with pytest.raises(InvalidHyperparameterError) as error:
        pool(registry, name, **hp)
    assert str(error.value) == message


@pytest.mark.parametrize("name", BUILT_IN)
@pytest.mark.parametrize(
    ("k", "s", "message"),
    [(0, 2, "kernel_size must be a positive integer, got 0"), (2, -1, "stride must be a positive integer, got -1")],
)
def test_bad_window_raises(registry, name, k, s, message):
    with pytest.raises(InvalidHyperparameterError, match=rf"^pooling '{name}': {re.escape(message)}$"):
        pool(registry, name, k, s)
