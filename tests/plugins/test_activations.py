"""The built-in activations: each against its paper's formula and PyTorch's op, plus the contract."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from cnnbench.errors import InvalidHyperparameterError

NAMES = ["relu", "leaky_relu", "prelu", "rrelu", "elu", "maxout", "tanh", "sigmoid", "identity"]
SHAPES = [(6, 4), (2, 4, 5, 3)]


def build(registry, name: str, channels: int = 4, **hp):
    return registry.create("activation", {"name": name, **hp}, channels=channels)


def sample(module, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An input for ``module`` whose output has ``shape``: maxout's input is ``pieces`` times wider."""
    wide = (shape[0], getattr(module, "in_channels", shape[1]), *shape[2:])
    return torch.randn(wide, dtype=dtype)


def test_builtin_names_and_defaults(registry):
    assert set(NAMES) <= set(registry.names("activation"))
    defaults = {name: dict(registry.get("activation", name).defaults) for name in NAMES}
    assert defaults["leaky_relu"] == {"negative_slope": 0.01}
    assert defaults["rrelu"] == {"lower": 1 / 8, "upper": 1 / 3}
    assert defaults["elu"] == {"alpha": 1.0}
    assert defaults["maxout"] == {"pieces": 2}
    assert all(not defaults[name] for name in ("relu", "prelu", "tanh", "sigmoid", "identity"))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("name", "hp", "formula", "reference"),
    [
        ("relu", {}, lambda z: torch.where(z > 0, z, 0.0), F.relu),
        ("leaky_relu", {"negative_slope": 0.2}, lambda z: torch.where(z > 0, z, 0.2 * z), lambda z: F.leaky_relu(z, 0.2)),
        ("elu", {"alpha": 0.7}, lambda z: torch.where(z > 0, z, 0.7 * (z.exp() - 1)), lambda z: F.elu(z, 0.7)),
        ("tanh", {}, lambda z: (z.exp() - (-z).exp()) / (z.exp() + (-z).exp()), torch.tanh),
        ("sigmoid", {}, lambda z: 1 / (1 + (-z).exp()), torch.sigmoid),
        ("identity", {}, lambda z: z, lambda z: z.clone()),
    ],
)
def test_elementwise_matches_formula_and_torch(registry, name, hp, formula, reference, shape):
    z = torch.randn(shape)
    out = build(registry, name, shape[1], **hp)(z)
    torch.testing.assert_close(out, formula(z))
    torch.testing.assert_close(out, reference(z))


@pytest.mark.parametrize("shape", SHAPES)
def test_prelu_learns_one_slope_per_channel(registry, shape):
    prelu = build(registry, "prelu", shape[1])
    (slopes,) = prelu.parameters()
    assert slopes.numel() == shape[1]
    torch.testing.assert_close(slopes.detach(), torch.full((shape[1],), 0.25))
    with torch.no_grad():
        slopes.copy_(torch.linspace(0.1, 0.4, shape[1]))
    z = torch.randn(shape)
    per_channel = slopes.detach().view(1, -1, *[1] * (len(shape) - 2))  # a_k broadcast along dim 1
    out = prelu(z)
    torch.testing.assert_close(out, torch.where(z > 0, z, per_channel * z))
    torch.testing.assert_close(out, F.prelu(z, slopes))
    out.sum().backward()
    torch.testing.assert_close(slopes.grad, torch.where(z > 0, 0.0, z).movedim(1, 0).reshape(shape[1], -1).sum(1))


@pytest.mark.parametrize("shape", SHAPES)
def test_rrelu_eval_uses_the_mean_slope(registry, shape):
    rrelu = build(registry, "rrelu", shape[1], lower=0.1, upper=0.3).eval()
    z = torch.randn(shape)
    torch.testing.assert_close(rrelu(z), torch.where(z > 0, z, 0.2 * z))
    torch.testing.assert_close(rrelu(z), F.rrelu(z, 0.1, 0.3, training=False))


def test_rrelu_training_draws_slopes_from_the_interval(registry):
    rrelu = build(registry, "rrelu", 4).train()
    assert type(rrelu).stochastic is True
    z = torch.cat([torch.linspace(-3, -0.1, 2000), torch.linspace(0.1, 3, 100)]).view(-1, 4)
    out = rrelu(z)
    negative = z < 0
    torch.testing.assert_close(out[~negative], z[~negative])
    slopes = out[negative] / z[negative]
    assert slopes.min() >= 1 / 8 - 1e-6 and slopes.max() <= 1 / 3 + 1e-6
    assert slopes.std() > 0.05  # drawn per element, roughly uniform: std of U(1/8, 1/3) is 0.06
    assert not torch.equal(rrelu(z), out)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "rrelu"])
def test_deterministic_activations_are_not_stochastic(registry, name):
    module = build(registry, name).train()
    assert not getattr(type(module), "stochastic", False)
    z = sample(module, (5, 4))
    torch.testing.assert_close(module(z), module(z))


@pytest.mark.parametrize("pieces", [2, 3])
@pytest.mark.parametrize("shape", SHAPES)
def test_maxout_is_max_over_consecutive_channels(registry, shape, pieces):
    maxout = build(registry, "maxout", shape[1], pieces=pieces)
    assert maxout.in_channels == shape[1] * pieces
    z = torch.randn(shape[0], shape[1] * pieces, *shape[2:])
    out = maxout(z)
    assert out.shape == shape
    torch.testing.assert_close(out, z.reshape(shape[0], shape[1], pieces, *shape[2:]).amax(2))
    by_loop = torch.stack([z[:, c * pieces : (c + 1) * pieces].max(1).values for c in range(shape[1])], 1)
    torch.testing.assert_close(out, by_loop)


def test_maxout_hand_example_and_gradient_goes_to_the_winner(registry):
    z = torch.tensor([[1.0, 5.0, 3.0, 2.0, -1.0, -4.0]], requires_grad=True)
    out = build(registry, "maxout", 3, pieces=2)(z)
    torch.testing.assert_close(out, torch.tensor([[5.0, 3.0, -1.0]]))
    out.sum().backward()
    torch.testing.assert_close(z.grad, torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]]))


@pytest.mark.parametrize(
    ("name", "hp", "message"),
    [
        ("leaky_relu", {"negative_slope": 0.0}, "negative_slope must be in (0, 1)"),
        ("leaky_relu", {"negative_slope": 1.0}, "negative_slope must be in (0, 1)"),
        ("leaky_relu", {"negative_slope": -0.1}, "negative_slope must be in (0, 1)"),
        ("rrelu", {"lower": 0.3, "upper": 0.1}, "need 0 <= lower <= upper < 1"),
        ("rrelu", {"lower": -0.1}, "need 0 <= lower <= upper < 1"),
        ("rrelu", {"upper": 1.0}, "need 0 <= lower <= upper < 1"),
        ("elu", {"alpha": 0.0}, "alpha must be > 0"),
        ("elu", {"alpha": -1.0}, "alpha must be > 0"),
        ("maxout", {"pieces": 1}, "pieces must be an integer >= 2"),
        ("maxout", {"pieces": 2.5}, "pieces must be an integer >= 2"),
    ],
)
def test_out_of_range_hyperparameters_raise_one_line(registry, name, hp, message):
    with pytest.raises(InvalidHyperparameterError) as error:
        build(registry, name, **hp)
    text = str(error.value)
    assert message in text and f"activation {name!r}" in text and "\n" not in text


@pytest.mark.parametrize("name", NAMES)
def test_contract_gradients_state_dict_and_dtypes(registry, name):
    module = build(registry, name).eval()
    for shape in SHAPES:
        z = sample(module, shape).requires_grad_()
        out = module(z)
        assert out.shape == shape
        out.square().sum().backward()
        assert torch.isfinite(z.grad).all() and all(torch.isfinite(p.grad).all() for p in module.parameters())

    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    buffer.seek(0)
    clone = build(registry, name).eval()
    clone.load_state_dict(torch.load(buffer))
    z = sample(module, (3, 4, 2, 2))
    torch.testing.assert_close(clone(z), module(z))

    for dtype in (torch.float64, torch.bfloat16):
        z = sample(module, (3, 4, 2, 2), dtype)
        out = module.to(dtype)(z)
        assert out.dtype == dtype
        torch.testing.assert_close(out, module.float()(z.float()).to(dtype), atol=1e-2, rtol=1e-2)
