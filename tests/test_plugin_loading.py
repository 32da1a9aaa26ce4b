"""Discovery, isolation of broken plugins, strict mode, allow-list and hook validation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cnnbench import hookimpl
from cnnbench.errors import CnnbenchError, PluginError
from cnnbench.plugins import PluginSource, load_registry


def plugin(**hooks) -> SimpleNamespace:
    return SimpleNamespace(**{name: hookimpl(function) for name, function in hooks.items()})


def swish_plugin() -> SimpleNamespace:
    def cnnbench_register_activations(register):
        register("swish_test", dict, beta=1.0)

    return plugin(cnnbench_register_activations=cnnbench_register_activations)


def source(name: str) -> PluginSource:
    return PluginSource(name, f"dist-{name}", "0.1")


def test_builtins_come_through_the_entry_point_group() -> None:
    registry = load_registry(strict=True)
    assert {"convolutions", "pooling", "activations", "losses", "classification"} <= {p.name for p in registry.plugins}
    relu = registry.get("activation", "relu")
    assert (relu.plugin, relu.distribution) == ("activations", "cnnbench")


def test_extra_plugin_is_registered_with_its_source() -> None:
    registry = load_registry(allow=[], extra=[(source("swish"), swish_plugin())])
    component = registry.get("activation", "swish_test")
    assert (component.plugin, component.distribution, component.defaults) == ("swish", "dist-swish", {"beta": 1.0})


def test_a_plugin_that_raises_is_skipped_with_nothing_half_registered() -> None:
    def cnnbench_register_activations(register):
        register("half_registered", dict)
        raise RuntimeError("boom")

    broken = plugin(cnnbench_register_activations=cnnbench_register_activations)
    registry = load_registry(allow=[], extra=[(source("broken"), broken), (source("swish"), swish_plugin())])
    assert "half_registered" not in registry.names("activation")
    assert "swish_test" in registry.names("activation")
    assert registry.failures == ["plugin 'broken' (dist-broken) failed to load: RuntimeError: boom"]


def test_an_unknown_component_names_the_plugins_that_failed_to_load() -> None:
    from cnnbench.composition import composing

    def cnnbench_register_activations(register):
        raise RuntimeError("boom")

    broken = load_registry(extra=[(source("broken"), plugin(cnnbench_register_activations=cnnbench_register_activations))])
    with composing(broken) as session, pytest.raises(CnnbenchError, match=r"unknown activation 'ranged'.*\(not loaded, see the warnings above: plugin 'broken' \(dist-broken\)\)"):
        session.compose("config", ["activation=ranged"])
    with composing(load_registry()) as session, pytest.raises(CnnbenchError) as plain:
        session.compose("config", ["activation=ranged"])
    assert "not loaded" not in str(plain.value)


@pytest.mark.parametrize(
    ("config", "override"),
    [("config", "activation=reluu"), ("config", "pooling=maxx"), ("config", "optimizer=adamm"), ("config", "trainer=fastt"), ("sweep_config", "sweep=nope")],
)
def test_a_typo_or_another_group_is_not_blamed_on_a_failed_plugin(config: str, override: str) -> None:
    """The note is for a component no close name explains: a plugin's kind, not an optimizer or a sweep preset."""
    from cnnbench.composition import composing

    def cnnbench_register_activations(register):
        raise RuntimeError("boom")

    broken = load_registry(extra=[(source("broken"), plugin(cnnbench_register_activations=cnnbench_register_activations))])
    with composing(broken) as session, pytest.raises(CnnbenchError, match=f"unknown {override.split('=')[0]} ") as refused:
        session.compose(config, [override])
    assert "not loaded" not in str(refused.value) and "broken" not in str(refused.value)


def test_strict_mode_makes_a_failure_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def cnnbench_register_losses(register):
        raise ImportError("needs a missing package")

    monkeypatch.setenv("CNNBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="plugin 'broken' .*ImportError: needs a missing package"):
        load_registry(allow=[], extra=[(source("broken"), plugin(cnnbench_register_losses=cnnbench_register_losses))])


def test_a_misspelt_hook_is_an_error() -> None:
    def cnnbench_register_activation(register):  # missing the final "s"
        register("never", dict)

    registry = load_registry(allow=[], extra=[(source("typo"), plugin(cnnbench_register_activation=cnnbench_register_activation))])
    assert "never" not in registry.names("activation")
    assert "unknown hook 'cnnbench_register_activation'" in registry.failures[0]


def test_duplicate_across_plugins_names_both_and_keeps_the_first() -> None:
    registry = load_registry(allow=[], extra=[(source("a"), swish_plugin()), (source("b"), swish_plugin())])
    assert registry.get("activation", "swish_test").plugin == "a"
    assert "by plugin 'a' (dist-a) and by plugin 'b' (dist-b)" in registry.failures[0]


def test_allow_list_limits_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNBENCH_PLUGINS", "activations, pooling")
    registry = load_registry()
    assert {p.name for p in registry.plugins} == {"activations", "pooling"}
    assert registry.names("loss") == []
