"""Trial configs: the composed benchmark of ``cnnbench run`` with one trial's parameters set.

Hydra composes once per combination of config-group choices (composing costs a few hundred ms, more than
the bookkeeping budget of a one-epoch trial); a trial copies that config and sets its values in place,
which is what the same ``key=value`` overrides would do.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from cnnbench.composition import current

SWEEP_CONFIG = "sweep_config"
RUN_CONFIG = "config"
_SAFE = re.compile(r"[A-Za-z_/][\w./-]*")
_KEYWORDS = {"true", "false", "null", "nan", "inf"}
_ABSENT = object()


def compose_config(name: str, overrides: Sequence[str]) -> DictConfig:
    """Compose ``name`` with ``overrides`` (its ``hydra`` node kept) in the open :func:`cnnbench.composition.composing` block."""
    return current().compose(name, overrides)


def override_value(value: Any) -> str:
    """``value`` written so that a Hydra override reads it back unchanged."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if _SAFE.fullmatch(value) and value.lower() not in _KEYWORDS:
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, Sequence):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{override_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as a Hydra override")


def choices(cfg: DictConfig) -> dict[str, str | None]:
    """The config-group choices of a composed config, Hydra's own groups and ``sweep`` left out."""
    return {
        group: choice
        for group, choice in OmegaConf.to_container(cfg.hydra.runtime.choices).items()
        if not group.startswith("hydra/") and group != "sweep"
    }


def run_config(cfg: DictConfig) -> DictConfig:
    """``cfg`` without its ``hydra`` and ``sweep`` nodes: the config ``cnnbench run`` would have composed."""
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.pop("hydra", None)
        cfg.pop("sweep", None)
    return cfg


class TrialConfigs:
    """The sweep's composed config, and each trial's run config built from it."""

    def __init__(self, overrides: Sequence[str]) -> None:
        self.overrides = list(overrides)
        self._composed: dict[tuple[str, ...], DictConfig] = {}
        self._run_configs: dict[tuple[str, ...], DictConfig] = {}
        self.base = self.composed(())

    def composed(self, group_overrides: tuple[str, ...]) -> DictConfig:
        if group_overrides not in self._composed:
            self._composed[group_overrides] = compose_config(SWEEP_CONFIG, [*self.overrides, *group_overrides])
        return self._composed[group_overrides]

    def _run_config(self, group_overrides: tuple[str, ...]) -> DictConfig:
        if group_overrides not in self._run_configs:
            self._run_configs[group_overrides] = run_config(self.composed(group_overrides))
        return self._run_configs[group_overrides]

    def has_value(self, key: str) -> bool:
        """Whether ``key`` names a value (not a section) of the composed benchmark config."""
        node = OmegaConf.select(self._run_config(()), key, default=_ABSENT)
        return node is not _ABSENT and not isinstance(node, DictConfig)

    def groups(self) -> dict[str, list[str]]:
        """Each config group of the benchmark and its options (registered components, yaml files)."""
        loader = current().hydra.config_loader
        return {group: loader.get_group_options(group) for group in choices(self.base)}

    def trial(self, values: Mapping[str, Any], groups: Sequence[str] = ()) -> DictConfig:
        """The run config with ``values`` set; keys in ``groups`` pick config-group options."""
        picked = tuple(f"{key}={override_value(values[key])}" for key in groups)
        cfg = copy.deepcopy(self._run_config(picked))
        for key, value in values.items():
            if key not in groups:
                OmegaConf.update(cfg, key, value, merge=False)
        return cfg
