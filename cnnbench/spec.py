"""What a plugin declares about a component, beside the component: a typed, validated :class:`Spec`.

``register(name, Spec(factory, defaults={...}, ranges={...}, baseline=Baseline(...)))`` keeps a
component's metadata in its own module (timm's habit): its tunable defaults and their allowed ranges,
whether it is random in training, what a loss consumes, which tasks a model serves, and what
``cnnbench bench`` times it against. ``register(name, factory, **defaults)`` still works and reads the
rest from the factory's class attributes (``stochastic``, ``input_kind``, ``tasks``, ``input_size``).

A spec is validated once, when it is registered: a default that cannot be a config value, or a default
outside its own range, makes the plugin fail to load with one line that names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cnnbench.errors import CnnbenchError, InvalidHyperparameterError

LOSS_INPUTS = ("logits", "pairs", "embeddings")


class SpecError(CnnbenchError):
    """A registration that cannot work: the message names the component and what is wrong."""


@dataclass(frozen=True)
class Range:
    """The values a hyperparameter may take: ``low <= value <= high`` (either bound optional), or ``choices``.

    >>> Range(0, 1).contains(0.5), Range(choices=(1, 2)).contains(3)
    (True, False)
    """

    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    integer: bool = False

    def contains(self, value: Any) -> bool:
        if self.choices is not None:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not isinstance(value, int):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        what = "an integer" if self.integer else "a number"
        bounds = [f">= {self.low}"] if self.low is not None else []
        bounds += [f"<= {self.high}"] if self.high is not None else []
        return f"{what} {' and '.join(bounds)}".strip()


@dataclass(frozen=True)
class Op:
    """A callable on a bench case's inputs, and the parameters its backward must reach."""

    call: Callable[..., Any]
    parameters: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Baseline:
    """The PyTorch built-in ``name`` that ``make(case, hyperparameters)`` builds, and the issue's speed ceiling.

    ``target`` is the largest forward+backward time ratio component / baseline that ``cnnbench bench``
    accepts (``None``: reported, not judged).
    """

    name: str
    make: Callable[[Any, Mapping[str, Any]], Op]
    target: float | None = None


@dataclass(frozen=True)
class Spec:
    """A component's factory and everything cnnbench needs to know about it without building it.

    Attributes:
        factory: builds the component from its kind's context and the hyperparameters.
        defaults: the tunable hyperparameters and their defaults (config values: numbers, strings,
            booleans, ``None``, lists and mappings of these).
        ranges: the allowed values of some hyperparameters; a value outside is refused before building.
        stochastic: random in training mode (dropout, stochastic pooling); ``None`` reads the factory's
            class attribute, else ``False``.
        input_kind: what a loss consumes, one of :data:`LOSS_INPUTS`; ``None`` reads the class attribute.
        tasks: the tasks a model serves; empty reads the class attribute.
        input_size: the image side a model is designed for (LeNet-5: 32); ``None`` reads the class attribute.
        baseline: what ``cnnbench bench`` times it against; ``None``: its kind's default option's baseline.
        comparable: ``False`` when nothing is comparable (identity, a layer with no PyTorch equivalent).
        check: what only the plugin can check before anything is built, given every hyperparameter (the
            defaults with the config's over them); raises :class:`InvalidHyperparameterError`. Run with the
            ranges, so before any data loads (``model=custom`` imports its target and binds ``args``).
    """

    factory: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    ranges: Mapping[str, Range] = field(default_factory=dict)
    stochastic: bool | None = None
    input_kind: str | None = None
    tasks: tuple[str, ...] = ()
    input_size: int | None = None
    baseline: Baseline | None = None
    comparable: bool = True
    check: Callable[[Mapping[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        factory = self.factory
        inferred = {
            "stochastic": bool(getattr(factory, "stochastic", False)) if self.stochastic is None else self.stochastic,
            "input_kind": getattr(factory, "input_kind", None) if self.input_kind is None else self.input_kind,
            "tasks": tuple(getattr(factory, "tasks", ()) or ()) if not self.tasks else tuple(self.tasks),
            "input_size": getattr(factory, "input_size", None) if self.input_size is None else self.input_size,
            "defaults": dict(self.defaults),
            "ranges": dict(self.ranges),
        }
        for name, value in inferred.items():
            object.__setattr__(self, name, value)

    def validate(self, label: str) -> None:
        """Raise :class:`SpecError` (prefixed with ``label``, e.g. ``"pooling 'lp'"``) if this spec cannot work."""
        if not callable(self.factory):
            raise SpecError(f"{label}: factory {self.factory!r} is not callable")
        for key, value in self.defaults.items():
            if not key.isidentifier() or key == "name":
                raise SpecError(f"{label}: hyperparameter name {key!r} must be an identifier other than 'name'")
            if not is_config_value(value):
                raise SpecError(
                    f"{label}: default {key}={value!r} is not a config value "
                    "(numbers, strings, booleans, None, and lists or mappings of these)"
                )
        for key, allowed in self.ranges.items():
            if key not in self.defaults:
                raise SpecError(f"{label}: range for {key!r}, which is not a hyperparameter ({', '.join(self.defaults) or 'none'})")
            if self.defaults[key] is not None and not allowed.contains(self.defaults[key]):
                raise SpecError(f"{label}: default {key}={self.defaults[key]!r} is outside its range ({allowed.describe()})")
        if self.input_kind is not None and self.input_kind not in LOSS_INPUTS:
            raise SpecError(f"{label}: input_kind must be one of {', '.join(LOSS_INPUTS)}, got {self.input_kind!r}")

    def check_values(self, label: str, values: Mapping[str, Any]) -> None:
        """Raise :class:`InvalidHyperparameterError` if a value of ``values`` lies outside its declared range,
        or the plugin's own ``check`` refuses the hyperparameters."""
        for key, value in values.items():
            allowed = self.ranges.get(key)
            if allowed is not None and value is not None and not allowed.contains(value):
                raise InvalidHyperparameterError(f"{label}: {key} must be {allowed.describe()}, got {value!r}")
        if self.check is not None:
            try:
                self.check({**self.defaults, **values})
            except InvalidHyperparameterError as error:
                raise InvalidHyperparameterError(f"{label}: {error}") from None


def is_config_value(value: Any) -> bool:
    """Whether OmegaConf can hold ``value`` as it is: a number, string, boolean, ``None``, or a list/mapping of these."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(is_config_value(item) for item in value)
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and is_config_value(item) for key, item in value.items())
    return False
