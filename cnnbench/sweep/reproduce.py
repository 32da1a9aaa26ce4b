"""Turn a trial back into a ``cnnbench run`` command: a Hydra override list and an experiment yaml.

Both are the difference between the trial's config and the plain ``cnnbench run`` config, so they carry
the preset's and the command's settings too and reproduce the trial on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from cnnbench.atomic import write_text
from cnnbench.sweep.compose import RUN_CONFIG, choices, compose_config, override_value, run_config
from cnnbench.sweep.setup import Sweep

EXPERIMENT_GROUP = "experiment"  # its effect is in the diff; naming it again would nest experiments


def _flatten(node: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _leaves(cfg: Any) -> dict[str, Any]:
    return _flatten(OmegaConf.to_container(run_config(cfg), resolve=False))


@dataclass(frozen=True)
class Reproduction:
    """The config-group choices and the values that turn the default ``cnnbench run`` config into a trial's."""

    groups: dict[str, Any]
    values: dict[str, Any]
    added: frozenset[str]  # keys the default config lacks: Hydra wants ``+key=value`` for them

    def overrides(self) -> list[str]:
        return [f"{g}={override_value(c)}" for g, c in self.groups.items()] + [
            f"{'+' if k in self.added else ''}{k}={override_value(v)}" for k, v in self.values.items()
        ]

    def experiment_yaml(self, title: str) -> str:
        """An experiment config (``# @package _global_``) that ``cnnbench run experiment=...`` composes."""
        body: dict[str, Any] = {}
        if self.groups:
            body["defaults"] = [{f"override /{g}": c} for g, c in self.groups.items()]
        nested = OmegaConf.create({})
        for key, value in self.values.items():
            OmegaConf.update(nested, key, value, force_add=True)
        body.update(OmegaConf.to_container(nested))
        return f"# @package _global_\n# {title}\n" + OmegaConf.to_yaml(OmegaConf.create(body))


def reproduction(sweep: Sweep, params: Mapping[str, Any]) -> Reproduction:
    """How to compose the trial with ``params`` from the default ``cnnbench run`` config."""
    picked = tuple(f"{key}={override_value(params[key])}" for key in sweep.groups)
    trial_choices = choices(sweep.configs.composed(picked))
    default_choices = choices(compose_config(RUN_CONFIG, []))
    groups = {g: c for g, c in trial_choices.items() if g != EXPERIMENT_GROUP and c != default_choices.get(g)}
    reference = _leaves(compose_config(RUN_CONFIG, [f"{g}={override_value(c)}" for g, c in groups.items()]))
    trial = _leaves(sweep.configs.trial(params, sweep.groups))
    values = {key: value for key, value in trial.items() if key not in reference or reference[key] != value}
    return Reproduction(groups, values, frozenset(values) - set(reference))


def write_reproduction(sweep: Sweep, params: Mapping[str, Any], name: str, title: str) -> tuple[list[str], Path, str]:
    """Write ``<folder>/<name>_overrides.txt`` and ``<folder>/experiment/<name>.yaml``.

    Returns the overrides, the yaml's path and the command that reruns the trial.
    """
    found = reproduction(sweep, params)
    overrides = found.overrides()
    write_text(sweep.folder / f"{name}_overrides.txt", "\n".join(overrides) + "\n")
    path = write_text(sweep.folder / EXPERIMENT_GROUP / f"{name}.yaml", found.experiment_yaml(title))
    return overrides, path, f"cnnbench run --config-dir={sweep.folder} {EXPERIMENT_GROUP}={name}"
