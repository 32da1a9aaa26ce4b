from __future__ import annotations

import pytest
from torch import nn

from cnnbench.errors import DuplicateComponentError, InvalidHyperparameterError, UnknownComponentError, require
from cnnbench.registry import Component, Registry


class Scaled(nn.Module):
    """Multiply by a factor."""

    def __init__(self, channels: int, factor: float = 1.0) -> None:
        super().__init__()
        require(factor > 0, f"factor must be > 0, got {factor}")
        self.channels, self.factor = channels, factor


def registry_with(*components: Component) -> Registry:
    registry = Registry()
    for component in components:
        registry.add(component)
    return registry


def scaled(name: str = "scaled", plugin: str = "one") -> Component:
    return Component("activation", name, Scaled, {"factor": 2.0}, plugin, f"dist-{plugin}", "1.0")


def test_create_applies_defaults_then_overrides_and_context() -> None:
    registry = registry_with(scaled())
    assert registry.create("activation", "scaled", channels=3).factor == 2.0
    built = registry.create("activation", {"name": "scaled", "factor": 5.0}, channels=3)
    assert (built.channels, built.factor) == (3, 5.0)


def test_duplicate_name_names_both_plugins() -> None:
    registry = registry_with(scaled(plugin="first"))
    with pytest.raises(DuplicateComponentError, match=r"'first' \(dist-first\).*'second' \(dist-second\)"):
        registry.add(scaled(plugin="second"))


def test_same_name_in_another_kind_is_allowed() -> None:
    registry = registry_with(scaled("max"), Component("pooling", "max", nn.MaxPool2d, {}))
    assert registry.get("pooling", "max").factory is nn.MaxPool2d


def test_unknown_name_suggests_closest() -> None:
    registry = registry_with(scaled("leaky_relu"), scaled("relu"), scaled("elu"))
    with pytest.raises(UnknownComponentError) as error:
        registry.get("activation", "leaky_rel")
    message = str(error.value)
    assert "unknown activation 'leaky_rel'" in message and "did you mean leaky_relu" in message
    assert "\n" not in message


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(UnknownComponentError, match="unknown kind 'poolings'.*pooling"):
        Registry().names("poolings")


def test_unknown_hyperparameter_lists_the_allowed_ones() -> None:
    registry = registry_with(scaled())
    with pytest.raises(InvalidHyperparameterError, match="activation 'scaled' has no hyperparameter 'beta'; it has: factor"):
        registry.create("activation", {"name": "scaled", "beta": 1}, channels=1)


def test_factory_value_error_is_prefixed_with_the_component() -> None:
    registry = registry_with(scaled())
    with pytest.raises(InvalidHyperparameterError, match=r"^activation 'scaled': factor must be > 0, got -1$"):
        registry.create("activation", {"name": "scaled", "factor": -1}, channels=1)


def test_names_filter_with_wildcards_and_summary() -> None:
    registry = registry_with(scaled("mixed"), scaled("mixed_random"), scaled("max"))
    assert registry.names("activation", "mixed*") == ["mixed", "mixed_random"]
    assert registry.get("activation", "max").summary == "Multiply by a factor."


def test_copy_is_independent() -> None:
    registry = registry_with(scaled())
    copied = registry.copy()
    copied.add(scaled("other"))
    assert registry.names("activation") == ["scaled"]
