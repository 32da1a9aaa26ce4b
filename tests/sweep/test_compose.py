"""Trial configs and reproduction: a trial's values, written as overrides, read back as the same values."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from cnnbench.composition import composing
from cnnbench.sweep.compose import TrialConfigs, override_value


@pytest.mark.parametrize(
    "value", [0.18426234927955876, 1e-05, 3, -2, True, False, None, "relu", "batch_hard", "true", "two words", "it's", "1.5", [1, 2], "/tmp/x"]
)
def test_override_values_parse_back_unchanged(value):
    (override,) = OverridesParser.create().parse_overrides([f"key={override_value(value)}"])
    assert override.value() == value and type(override.value()) is type(value)


def test_trial_config_sets_values_and_picks_groups_without_touching_the_base(registry):
    with composing(registry):
        configs = TrialConfigs(["sweep=mixed_lambda", "task.limit=200"])
        trial = configs.trial({"activation": "elu", "pooling.lam": 0.25}, groups=("activation",))
        again = configs.trial({"pooling.lam": 0.75})
    assert dict(trial.activation) == {"name": "elu", "alpha": 1.0}
    assert trial.pooling.lam == 0.25 and again.pooling.lam == 0.75 and configs.base.pooling.lam == 0.5
    assert again.activation.name == "relu" and trial.task.limit == 200
    assert "sweep" not in trial and "hydra" not in trial
    assert configs.has_value("pooling.lam") and not configs.has_value("pooling") and not configs.has_value("pooling.p")
