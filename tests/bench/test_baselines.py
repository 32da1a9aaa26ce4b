"""Each built-in's baseline is the PyTorch built-in it stands for: same output where they compute the same thing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnnbench.bench import KINDS
from cnnbench.bench.baselines import baseline_for
from cnnbench.bench.inputs import make_case
from cnnbench.registry import Component
from cnnbench.spec import Baseline, Op, Spec

CPU = torch.device("cpu")
SHAPE = (4, 6, 8, 8)
#: components whose registered defaults compute exactly their baseline's function
SAME_FUNCTION = [
    ("pooling", "max"),
    ("pooling", "avg"),
    ("pooling", "lp"),  # equal to F.lp_pool2d on the non-negative maps pooling is timed on
    ("activation", "relu"),
    ("activation", "leaky_relu"),
    ("activation", "prelu"),
    ("activation", "elu"),
    ("activation", "maxout"),
    ("activation", "tanh"),
    ("activation", "sigmoid"),
    ("loss", "softmax"),
    ("layer", "spp"),
]


def build_both(registry, kind: str, name: str):
    component = registry.get(kind, name)
    case = make_case(component, SHAPE, torch.float64, CPU)
    module = component.build(**case.context).to(torch.float64)
    op = baseline_for(component).make(case, dict(component.defaults))
    return module, op, case


@pytest.mark.parametrize(("kind", "name"), SAME_FUNCTION, ids=[f"{kind}-{name}" for kind, name in SAME_FUNCTION])
def test_baseline_computes_the_same_function(registry, kind: str, name: str) -> None:
    module, op, case = build_both(registry, kind, name)
    torch.testing.assert_close(module(*case.inputs), op.call(*case.inputs))


def test_kl_div_baseline_is_the_same_divergence(registry) -> None:
    module, op, case = build_both(registry, "loss", "kl_div")
    torch.testing.assert_close(module(*case.inputs), op.call(*case.inputs))


def test_every_built_in_has_a_baseline_of_the_same_output_shape(registry) -> None:
    for kind in KINDS:
        for component in registry.components(kind):
            baseline = baseline_for(component)
            if (kind, component.name) in {("activation", "identity"), ("layer", "roi_pool"), ("normalization", "none")} and baseline is None:
                continue  # nothing to compare with (roi_pool: torchvision's, when it is installed)
            assert baseline is not None, f"{kind} {component.name} has no baseline"
            module, op, case = build_both(registry, kind, component.name)
            ours, theirs = module(*case.inputs), op.call(*case.inputs)
            assert ours.shape == theirs.shape, f"{kind} {component.name}: {ours.shape} vs {baseline.name} {theirs.shape}"
            assert all(p.requires_grad for p in op.parameters)


def test_mixed_poolings_are_compared_with_both_poolings_together(registry) -> None:
    targets = {name: registry.get("pooling", name).spec.baseline.target for name in ("mixed", "mixed_learned", "mixed_random", "lp", "stochastic")}
    assert targets == {"mixed": 1.05, "mixed_learned": 1.05, "mixed_random": 1.15, "lp": 1.15, "stochastic": 1.3}
    assert registry.get("pooling", "mixed_learned").spec.baseline.name == "sigmoid(w)*max+(1-sigmoid(w))*avg"
    _, op, case = build_both(registry, "pooling", "mixed")
    (x,) = case.inputs
    torch.testing.assert_close(op.call(x), F.max_pool2d(x, 2) + F.avg_pool2d(x, 2))


def test_mixed_learned_is_compared_with_its_formula_composed_of_built_ins(registry) -> None:
    module, op, case = build_both(registry, "pooling", "mixed_learned")
    (x,) = case.inputs
    (logit,) = op.parameters
    torch.testing.assert_close(op.call(x), module(x))  # both start at sigmoid(0) = 0.5
    share = torch.sigmoid(logit)
    torch.testing.assert_close(op.call(x), share * F.max_pool2d(x, 2) + (1 - share) * F.avg_pool2d(x, 2))

def test_a_third_party_component_is_compared_with_its_kinds_default() -> None:
    swish = Component("activation", "swish", lambda channels, beta: torch.nn.SiLU(), {"beta": 1.0}, "swish", "cnnbench-swish")
    assert baseline_for(swish).name == "relu"

    class PairLoss(torch.nn.Module):
        input_kind = "pairs"

    assert baseline_for(Component("loss", "pairwise", PairLoss, {})).name == "cosine_embedding_loss"
    assert baseline_for(Component("layer", "mystery", PairLoss, {})) is None


def test_a_third_party_component_declares_its_own_baseline_and_target() -> None:
    own = Baseline("silu", lambda case, hp: Op(torch.nn.functional.silu), 1.1)
    swish = Component.from_spec("activation", "swish", Spec(lambda channels: torch.nn.SiLU(), baseline=own))
    assert baseline_for(swish) is own
    alone = Component.from_spec("activation", "alone", Spec(lambda channels: torch.nn.SiLU(), comparable=False))
    assert baseline_for(alone) is None


def test_triplet_baseline_uses_one_valid_triplet_per_anchor(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    component = registry.get("loss", "triplet")
    case = make_case(component, (8, 4, 2, 2), torch.float64, CPU)
    embeddings, labels = case.inputs
    captured = {}
    original = F.triplet_margin_loss

    def spy(anchor, positive, negative, **kwargs):
        captured.update(anchor=anchor, positive=positive, negative=negative)
        return original(anchor, positive, negative, **kwargs)

    monkeypatch.setattr(F, "triplet_margin_loss", spy)
    baseline_for(component).make(case, dict(component.defaults)).call(embeddings, labels)
    rows = {tuple(row.tolist()): i for i, row in enumerate(embeddings)}
    positive = torch.tensor([rows[tuple(r.tolist())] for r in captured["positive"]])
    negative = torch.tensor([rows[tuple(r.tolist())] for r in captured["negative"]])
    assert (labels[positive] == labels).all() and (positive != torch.arange(8)).all()
    assert (labels[negative] != labels).all()
