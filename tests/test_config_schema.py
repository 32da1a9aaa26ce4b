"""The schema accepts every config cnnbench ships, so a new key without a schema entry fails here, not for users."""

from __future__ import annotations

import pytest

from cnnbench.composition import composing
from cnnbench.config_schema import ConfigError, validate
from cnnbench.plugins import default_registry
from cnnbench.preflight import other_groups, plain


@pytest.fixture(scope="module")
def session():
    with composing(task_name="test") as opened:
        yield opened


def _presets(session, group: str) -> list[str]:
    return session.hydra.config_loader.get_group_options(group)


def _check(session, config_name: str, overrides: list[str]) -> None:
    cfg = session.compose(config_name, overrides)
    validate(plain(cfg), default_registry(), extra_sections=other_groups(cfg))


def test_every_shipped_preset_and_experiment_passes_the_schema(session) -> None:
    checked = [["experiment=" + name] for name in _presets(session, "experiment")]
    checked += [[f"{group}={name}"] for group in ("optimizer", "schedule", "logger") for name in _presets(session, group)]
    checked += [["+survey=" + name] for name in _presets(session, "survey")]
    assert len(checked) > 20
    for overrides in checked:
        _check(session, "config", overrides)
    for name in _presets(session, "sweep"):
        _check(session, "sweep_config", [f"sweep={name}"])


def test_every_registered_component_passes_with_its_defaults(session) -> None:
    registry = default_registry()
    for group in ("pooling", "activation", "convolution"):
        for name in registry.names(group):
            _check(session, "config", [f"{group}={name}"])


def test_a_key_the_schema_does_not_know_is_refused_with_the_known_ones(session) -> None:
    cfg = session.compose("config", ["+trainer.epoch=3"])
    with pytest.raises(ConfigError, match=r"unknown config key trainer.epoch: did you mean trainer.epochs[^?]*\? known keys: .*trainer.threads"):
        validate(plain(cfg), default_registry(), extra_sections=other_groups(cfg))
