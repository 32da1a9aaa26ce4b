"""Typed component specs: validated at registration (a bad one skips its plugin), ranges enforced at build."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from cnnbench import hookimpl
from cnnbench.errors import InvalidHyperparameterError, PluginError
from cnnbench.plugins import PluginSource, load_registry
from cnnbench.registry import Component
from cnnbench.spec import Range, Spec, SpecError, is_config_value


def plugin(register_activations) -> SimpleNamespace:
    return SimpleNamespace(cnnbench_register_activations=hookimpl(register_activations))


def load(*plugins: tuple[str, SimpleNamespace], strict: bool = False):
    return load_registry(allow=[], extra=[(PluginSource(name, f"dist-{name}", "0.1"), module) for name, module in plugins], strict=strict)


class Scaled(nn.Module):
    def __init__(self, channels: int, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


@pytest.mark.parametrize(
    ("default", "shown"), [(torch.relu, "<built-in method relu"), (torch.ones(2), "tensor(["), ({1: 2}, "{1: 2}")], ids=["function", "tensor", "int keys"]
)
def test_a_default_that_is_not_a_config_value_skips_the_plugin_with_one_line(default, shown: str) -> None:
    bad = plugin(lambda register: register("bad_default", Scaled, factor=default))
    good = plugin(lambda register: register("scaled", Scaled, factor=2.0))
    registry = load(("bad", bad), ("good", good))
    assert "bad_default" not in registry.names("activation") and "scaled" in registry.names("activation")
    [failure] = registry.failures
    assert failure.startswith("plugin 'bad' (dist-bad) failed to load: SpecError: activation 'bad_default': default factor=")
    assert shown in failure and "is not a config value" in failure and "\n" not in failure
    with pytest.raises(PluginError, match="activation 'bad_default': default factor="):
        load(("bad", bad), strict=True)


def test_a_default_outside_its_declared_range_is_refused_at_registration() -> None:
    bad = plugin(lambda register: register("scaled", Spec(Scaled, {"factor": 5.0}, {"factor": Range(0.0, 1.0)})))
    [failure] = load(("bad", bad)).failures
    assert "activation 'scaled': default factor=5.0 is outside its range (a number >= 0.0 and <= 1.0)" in failure


def test_a_range_for_an_unknown_hyperparameter_and_defaults_given_twice_are_refused() -> None:
    unknown = plugin(lambda register: register("scaled", Spec(Scaled, {"factor": 1.0}, {"gain": Range(0.0)})))
    twice = plugin(lambda register: register("scaled", Spec(Scaled, {"factor": 1.0}), factor=2.0))
    assert "range for 'gain', which is not a hyperparameter (factor)" in load(("unknown", unknown)).failures[0]
    assert "pass the defaults in the Spec, not also as keywords (factor)" in load(("twice", twice)).failures[0]


def test_a_value_outside_the_range_is_refused_when_the_factory_accepts_it() -> None:
    component = Component.from_spec("activation", "scaled", Spec(Scaled, {"factor": 0.5}, {"factor": Range(0.0, 1.0)}))
    assert component.build({"factor": 1.0}, channels=3).factor == 1.0
    with pytest.raises(InvalidHyperparameterError, match=r"^activation 'scaled': factor must be a number >= 0.0 and <= 1.0, got 2.0$"):
        component.build({"factor": 2.0}, channels=3)


def test_the_factorys_own_message_speaks_first(registry) -> None:
    with pytest.raises(InvalidHyperparameterError, match=r"^activation 'leaky_relu': negative_slope must be in \(0, 1\), got 1.5$"):
        registry.create("activation", {"name": "leaky_relu", "negative_slope": 1.5}, channels=3)


def test_register_with_keywords_reads_the_class_attributes() -> None:
    class Noisy(nn.Dropout):
        stochastic = True

    class Pairwise(nn.Module):
        input_kind = "pairs"

    assert Spec(Noisy).stochastic is True and Spec(Scaled).stochastic is False
    assert Spec(Pairwise).input_kind == "pairs" and Spec(Pairwise, input_kind="logits").input_kind == "logits"
    assert Component("activation", "scaled", Scaled, {"factor": 1.0}).spec.defaults == {"factor": 1.0}


def test_an_unknown_input_kind_is_refused() -> None:
    with pytest.raises(SpecError, match="loss 'odd': input_kind must be one of logits, pairs, embeddings, got 'images'"):
        Spec(Scaled, input_kind="images").validate("loss 'odd'")


def test_built_ins_declare_their_ranges_and_baselines(registry) -> None:
    lp = registry.get("pooling", "lp").spec
    assert lp.ranges["p"].contains(2.0) and not lp.ranges["p"].contains(0.5)
    assert lp.baseline.name == "lp_pool2d" and 1.0 < lp.baseline.target <= 1.2
    assert registry.get("model", "alexnet").spec.stochastic and registry.get("model", "lenet5").spec.input_size == 32
    assert registry.get("loss", "triplet").spec.input_kind == "embeddings"


@pytest.mark.parametrize(
    ("value", "ok"), [(1, True), (0.5, True), ("x", True), (None, True), ([1, [2, "a"]], True), ({"a": [1]}, True), ((1, 2), True), (object(), False), ({2: 1}, False)]
)
def test_config_values(value, ok: bool) -> None:
    assert is_config_value(value) is ok


def test_a_plugins_own_check_sees_every_hyperparameter_and_speaks_with_its_label() -> None:
    seen = []

    def check(hyperparameters):
        seen.append(dict(hyperparameters))
        if hyperparameters["width"] > 8:
            raise InvalidHyperparameterError("width must fit the image")

    spec = Spec(lambda width, depth: None, {"width": 4, "depth": 2}, check=check)
    spec.check_values("model 'tiny'", {"depth": 3})
    assert seen == [{"width": 4, "depth": 3}]  # the defaults with the config's over them
    with pytest.raises(InvalidHyperparameterError, match="^model 'tiny': width must fit the image$"):
        spec.check_values("model 'tiny'", {"width": 9})
