"""The typed schema of a composed config: every setting's type and range, checked in one pass before any work.

Hydra composes whatever the yaml files and overrides say (``1.5`` for an integer, ``maybe`` for a flag,
``trainer.epoch`` for ``trainer.epochs`` in an experiment file). :func:`validate` walks the resolved config
once and raises a one-line :class:`ConfigError` naming the key, what it holds and what is allowed, so no
value is cast, ignored or found wrong after training. Component hyperparameters are checked against
their registration: the key must be declared, the value must have its default's type, and a range the
plugin declared (``component.spec.check_values``) must hold.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cnnbench.configstore import GROUPS
from cnnbench.errors import CnnbenchError
from cnnbench.registry import Component, Registry


class ConfigError(CnnbenchError):
    """A config value of the wrong type, out of range, or under an unknown key."""


@dataclass(frozen=True)
class Setting:
    """One setting: the types it accepts, the rule its value follows, and how an error says so."""

    types: tuple[type, ...]
    allowed: str
    rule: Callable[[Any], bool] = lambda value: True
    nullable: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if isinstance(value, bool) and bool not in self.types:
            return False
        return isinstance(value, self.types) and self.rule(value)

    def describe(self) -> str:
        return f"{self.allowed} or null" if self.nullable else self.allowed


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> tuple[Callable[[float], bool], str]:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")

    def rule(value: float) -> bool:
        return (
            math.isfinite(value)
            and (low is None or (value > low if low_open else value >= low))
            and (high is None or (value < high if high_open else value <= high))
        )

    return rule, " and ".join(parts)


def integer(low: int | None = None, high: int | None = None, *, nullable: bool = False) -> Setting:
    rule, text = _bounds(low, high, False, False)
    return Setting((int,), f"an integer {text}".strip(), rule, nullable)


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False) -> Setting:
    rule, text = _bounds(low, high, low_open, high_open)
    return Setting((int, float), f"a number {text}".strip(), rule)


def flag() -> Setting:
    return Setting((bool,), "true or false")


def text() -> Setting:
    return Setting((str,), "a non-empty string", lambda value: bool(value))


def choice(*options: Any) -> Setting:
    """One of ``options``, compared with its type too (``1`` is not ``true``)."""

    def rule(value: Any) -> bool:
        return any(value == option and type(value) is type(option) for option in options)

    shown = ", ".join(str(o).lower() if isinstance(o, bool) else str(o) for o in options)
    return Setting(tuple({type(o) for o in options}), f"one of {shown}", rule)


def pattern(regex: str, allowed: str) -> Setting:
    return Setting((str,), allowed, lambda value: re.fullmatch(regex, value) is not None)


def pair(low: float, high: float) -> Setting:
    """Two numbers in ``[low, high)`` (Adam's ``betas``)."""
    inside, text_ = _bounds(low, high, False, True)

    def rule(value: Any) -> bool:
        return len(value) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) and inside(v) for v in value)

    return Setting((list, tuple), f"two numbers {text_}", rule)


TRAINER: dict[str, Setting] = {
    "epochs": integer(1),
    "batch_size": integer(1),
    "device": pattern(r"auto|cpu|mps|cuda(:\d+)?", "auto, cpu, mps, cuda or cuda:N"),
    "seed": integer(0),
    "deterministic": flag(),
    "threads": integer(1, nullable=True),
    "precision": choice("fp32", "bf16", "fp16"),
    "channels_last": flag(),
    "compile": flag(),
    "progress": choice("auto", True, False),
    "select": choice("final", "best_val"),
    "patience": integer(1, nullable=True),
}
DATA: dict[str, Setting] = {
    "root": text(),
    "val_fraction": number(0, 1, low_open=True, high_open=True),
    "split_seed": integer(0),
}
RESULTS: dict[str, Setting] = {"dir": text(), "checkpoint": flag()}
#: keyword arguments of torch optimizers and schedulers, by name: whichever ``_target_`` takes them
TORCH_ARGUMENTS: dict[str, Setting] = {
    "lr": number(0, low_open=True),
    "momentum": number(0, 1, high_open=True),
    "dampening": number(0, 1),
    "weight_decay": number(0),
    "nesterov": flag(),
    "betas": pair(0, 1),
    "eps": number(0, low_open=True),
    "amsgrad": flag(),
    "alpha": number(0),
    "centered": flag(),
    "step_size": integer(1),
    "gamma": number(0, low_open=True),
    "T_max": integer(1),
    "eta_min": number(0),
    "factor": number(0, 1),
    "total_iters": integer(0),
    "milestones": Setting((list, tuple), "a list of increasing epochs >= 1", lambda v: all(isinstance(m, int) and m >= 1 for m in v) and list(v) == sorted(set(v))),
}
#: top-level sections checked elsewhere: Hydra's own node, the sweep settings (cnnbench.sweep.setup) and the
#: experiment trackers (options of the ``logger`` group, each a plugin of cnnbench.tracking)
CHECKED_ELSEWHERE = ("hydra", "sweep", "logger")
TORCH_SECTIONS = ("optimizer", "schedule")
REQUIRED = ("task", "trainer", "optimizer", "data", "results")


def closest(name: str, known: Iterable[str]) -> str:
    """``"did you mean X? "`` for the close names among ``known``, else nothing."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"did you mean {', '.join(close)}? " if close else ""


def unknown_key(key: str, known: Iterable[str]) -> ConfigError:
    """The error for ``key`` (dotted) that is not one of ``known`` (dotted keys of the same section)."""
    known = sorted(known)
    return ConfigError(f"unknown config key {key}: {closest(key, known)}known keys: {', '.join(known) or '(none)'}")


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else repr(value)


def check_value(key: str, value: Any, setting: Setting) -> None:
    if not setting.accepts(value):
        raise ConfigError(f"{key} must be {setting.describe()}, got {_shown(value)}")


def check_section(section: str, node: Any, settings: Mapping[str, Setting]) -> None:
    """Every key of ``node`` known to ``settings`` and every value allowed; absent keys keep their defaults."""
    if not isinstance(node, Mapping):
        raise ConfigError(f"{section} must be a section of settings ({', '.join(settings)}), got {_shown(node)}")
    for key, value in node.items():
        if key not in settings:
            raise unknown_key(f"{section}.{key}", (f"{section}.{k}" for k in settings))
        check_value(f"{section}.{key}", value, settings[key])


def _resolve_target(section: str, target: Any) -> Callable[..., Any]:
    from hydra.utils import get_method

    if not isinstance(target, str) or not target:
        raise ConfigError(f"{section}._target_ must be the dotted name of a class such as torch.optim.SGD, got {_shown(target)}")
    try:
        return get_method(target)
    except Exception as error:  # noqa: BLE001 (import errors of any kind: one line)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"{section}._target_ {target!r} cannot be imported: {reason}") from None


def check_torch_section(section: str, node: Any) -> None:
    """``optimizer`` / ``schedule``: a ``_target_`` that imports, and keyword arguments it takes, typed."""
    if node is None and section == "schedule":
        return
    if not isinstance(node, Mapping) or "_target_" not in node:
        raise ConfigError(f"{section} must be a section with a _target_ (e.g. {section}=adam), got {_shown(node)}")
    target = _resolve_target(section, node["_target_"])
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        parameters = {}
    takes = [name for name in parameters if name not in ("self", "params", "optimizer")]
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for key, value in node.items():
        if key in ("_target_", "_partial_"):
            continue
        if key not in takes and not open_ended:
            raise unknown_key(f"{section}.{key}", (f"{section}.{name}" for name in takes if name in TORCH_ARGUMENTS or name in node))
        if key in TORCH_ARGUMENTS:
            check_value(f"{section}.{key}", value, TORCH_ARGUMENTS[key])


def hyperparameter_setting(default: Any) -> Setting | None:
    """The type a hyperparameter's default implies (``None``: any value)."""
    if isinstance(default, bool):
        return flag()
    if isinstance(default, int):
        return integer()
    if isinstance(default, float):
        return number()
    if isinstance(default, str):
        return Setting((str,), "a string")
    if isinstance(default, list | tuple):
        return Setting((list, tuple), "a list")
    if isinstance(default, Mapping):
        return Setting((Mapping,), "a mapping")
    return None


def check_component(slot: str, node: Any, registry: Registry, key_prefix: str | None = None) -> None:
    """A component node: a registered name, declared hyperparameters, each of its default's type and range.

    ``key_prefix`` is where the node sits in the config, when not at ``slot`` (``data.imagefolder``).
    """
    if node is None:
        return
    if not isinstance(node, Mapping) or "name" not in node:
        raise ConfigError(f"{slot} must name a registered {slot} ({slot}=NAME, see `cnnbench list {slot}`), got {_shown(node)}")
    component: Component = registry.get(slot, str(node["name"]))
    prefix = key_prefix or slot
    given = {key: value for key, value in node.items() if key != "name"}
    for key, value in given.items():
        if key not in component.defaults:
            allowed = ", ".join(f"{prefix}.{k}" for k in component.defaults) or "none"
            raise ConfigError(f"{slot} {component.name!r} has no hyperparameter {key}: {closest(key, component.defaults)}it has: {allowed}")
        default = component.defaults[key]
        setting = hyperparameter_setting(default)
        if setting is not None and (value is not None or isinstance(default, Mapping)):  # null is no mapping to unpack
            check_value(f"{prefix}.{key}", value, setting)
    spec = getattr(component, "spec", None)  # the declared ranges, where the registry records them
    if spec is not None and hasattr(spec, "check_values"):
        spec.check_values(f"{slot} {component.name!r}", given)


def check_data(node: Any, registry: Registry) -> None:
    """``data``: its own settings, and a section of options for each dataset that has any (``data.imagefolder``)."""
    if not isinstance(node, Mapping):
        raise ConfigError(f"data must be a section of settings ({', '.join(DATA)}), got {_shown(node)}")
    known = [*(f"data.{k}" for k in DATA), *(f"data.{c.name}" for c in registry.components("dataset") if c.defaults)]
    for name, value in node.items():
        if name in DATA:
            check_value(f"data.{name}", value, DATA[name])
        elif isinstance(value, Mapping) and name in registry.names("dataset"):
            check_component("dataset", {"name": name, **value}, registry, key_prefix=f"data.{name}")
        else:
            raise unknown_key(f"data.{name}", known)


def missing_sections(config: Mapping[str, Any]) -> None:
    """Refuse a config without a section every run needs (``~trainer`` deletes one)."""
    missing = [section for section in REQUIRED if section not in config]
    if missing:
        raise ConfigError(f"the config has no {', '.join(missing)} section; a run needs {', '.join(REQUIRED)} (was one deleted with ~?)")


def known_sections() -> tuple[str, ...]:
    return (*GROUPS, *TORCH_SECTIONS, "trainer", "data", "results", *CHECKED_ELSEWHERE)


def validate(config: Mapping[str, Any], registry: Registry, *, extra_sections: Iterable[str] = ()) -> None:
    """Check the resolved ``config`` (plain containers) section by section; raise :class:`ConfigError`.

    ``extra_sections`` are top-level keys that another part checks (``logger``).
    """
    allowed = {*known_sections(), *extra_sections}
    for section in config:
        if section not in allowed:
            raise ConfigError(f"unknown config section {section}: {closest(section, allowed)}sections: {', '.join(sorted(allowed))}")
    missing_sections(config)
    for section, settings in (("trainer", TRAINER), ("results", RESULTS)):
        check_section(section, config[section], settings)
    check_data(config["data"], registry)
    for slot in GROUPS:
        check_component(slot, config.get(slot), registry)
    for section in TORCH_SECTIONS:
        if section in config:
            check_torch_section(section, config[section])
