"""The hand-written gradients' ``once_differentiable``: torch's semantics, minus a no-op block."""

from __future__ import annotations

import pytest
import torch
from cnnbench_plugins._autograd import once_differentiable


class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        assert not torch.is_grad_enabled()  # torch's wrapper turns it off under create_graph=True too
        return 2 * grad


def test_first_order_gradient_is_the_backward():
    x = torch.randn(3, requires_grad=True)
    assert torch.equal(torch.autograd.grad(Double.apply(x).sum(), x)[0], torch.full((3,), 2.0))


def test_differentiating_the_gradient_again_fails_as_with_torchs_wrapper():
    x = torch.randn(3, requires_grad=True)
    upstream = torch.ones(3, requires_grad=True)
    (grad,) = torch.autograd.grad(Double.apply(x), x, upstream, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad.sum().backward()
