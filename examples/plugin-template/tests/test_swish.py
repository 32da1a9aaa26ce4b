"""The plugin's own tests: the formula, the validation, and cnnbench's conformance kit."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from cnnbench.errors import InvalidHyperparameterError
from cnnbench.plugins import load_registry
from cnnbench.testing import conformance_params

REGISTRY = load_registry()


def test_swish_is_discovered() -> None:
    component = REGISTRY.get("activation", "swish")
    assert (component.distribution, dict(component.defaults)) == ("cnnbench-swish", {"beta": 1.0})


def test_swish_with_beta_one_is_silu() -> None:
    swish = REGISTRY.create("activation", "swish", channels=3)
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(swish(x), F.silu(x))


def test_beta_scales_the_gate() -> None:
    swish = REGISTRY.create("activation", {"name": "swish", "beta": 2.0}, channels=3)
    x = torch.randn(5, 3)
    torch.testing.assert_close(swish(x), x * torch.sigmoid(2.0 * x))


@pytest.mark.parametrize("beta", [0, -1.0, float("nan"), "one"])
def test_bad_beta_is_rejected(beta: object) -> None:
    with pytest.raises(InvalidHyperparameterError, match=r"activation 'swish': beta must be a finite number > 0"):
        REGISTRY.create("activation", {"name": "swish", "beta": beta}, channels=3)


# cnnbench's conformance kit: one test per check (shapes, gradients, modes, state_dict, dtypes, CUDA).
@pytest.mark.parametrize(("component", "check"), conformance_params(REGISTRY, distribution="cnnbench-swish"))
def test_conformance(component, check, cnnbench_check) -> None:
    cnnbench_check(component, check)
