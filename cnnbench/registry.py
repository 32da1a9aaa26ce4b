"""The component registry: every component of every kind (:mod:`cnnbench.kinds`), by kind and name.

Plugins fill it through the hooks in :mod:`cnnbench.hookspecs`; everything else looks components up
here by name, so a third-party component is usable wherever a built-in one is.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cnnbench.errors import DuplicateComponentError, InvalidHyperparameterError, UnknownComponentError
from cnnbench.kinds import KINDS
from cnnbench.spec import Spec


@dataclass(frozen=True)
class Component:
    """One registered component: how to build it, its tunable defaults, and where it came from.

    ``spec`` holds what its plugin declared (ranges, flags, bench baseline); without one, it is read from
    ``factory`` and ``defaults`` as a plain ``register(name, factory, **defaults)`` does.
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    defaults: Mapping[str, Any]
    plugin: str = "?"
    distribution: str = "?"
    version: str = "?"
    spec: Spec = None  # type: ignore[assignment]  # filled in __post_init__

    def __post_init__(self) -> None:
        if self.spec is None:
            object.__setattr__(self, "spec", Spec(self.factory, self.defaults))

    @classmethod
    def from_spec(cls, kind: str, name: str, spec: Spec, plugin: str = "?", distribution: str = "?", version: str = "?") -> Component:
        return cls(kind, name, spec.factory, spec.defaults, plugin, distribution, version, spec)

    @property
    def label(self) -> str:
        """``"pooling 'lp'"``: how messages name it."""
        return f"{self.kind} {self.name!r}"

    @property
    def summary(self) -> str:
        """First line of the factory's docstring."""
        doc = inspect.getdoc(self.factory) or ""
        return doc.splitlines()[0] if doc else ""

    def build(self, hyperparameters: Mapping[str, Any] | None = None, /, **context: Any) -> Any:
        """Build the component from ``hyperparameters`` (over its defaults) and the kind's ``context``.

        A hyperparameter the component does not declare, one its factory rejects with a ``ValueError``, or
        one outside the range its spec declares raises :class:`InvalidHyperparameterError` naming the component.
        """
        given = {k: v for k, v in (hyperparameters or {}).items() if k != "name"}
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            allowed = ", ".join(self.defaults) or "none"
            raise InvalidHyperparameterError(
                f"{self.kind} {self.name!r} has no hyperparameter {', '.join(map(repr, unknown))}; it has: {allowed}"
            )
        try:
            built = self.factory(**context, **{**self.defaults, **given})
        except ValueError as error:
            raise InvalidHyperparameterError(f"{self.kind} {self.name!r}: {error}") from None
        # The factory's own check speaks first (it knows the exact rule); the declared range backs it up.
        self.spec.check_values(self.label, given)
        return built


@dataclass
class Registry:
    """Components by kind and name. A name is unique within its kind."""

    _components: dict[str, dict[str, Component]] = field(default_factory=lambda: {kind: {} for kind in KINDS})

    def add(self, component: Component) -> None:
        """Add ``component``; a name already taken in its kind raises, naming both plugins."""
        kind = self._kind(component.kind)
        existing = kind.get(component.name)
        if existing is not None:
            raise DuplicateComponentError(
                f"{component.kind} {component.name!r} is registered twice: by plugin {existing.plugin!r} "
                f"({existing.distribution}) and by plugin {component.plugin!r} ({component.distribution})"
            )
        kind[component.name] = component

    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` of ``kind``; an unknown name raises with the closest known names."""
        components = self._kind(kind)
        if name not in components:
            raise UnknownComponentError(kind, name, components)
        return components[name]

    def names(self, kind: str, pattern: str = "*") -> list[str]:
        """Sorted names of ``kind`` matching the shell wildcard ``pattern``."""
        return sorted(fnmatch.filter(self._kind(kind), pattern))

    def components(self, kind: str | None = None) -> Iterator[Component]:
        """Every component, or every one of ``kind``, in kind order then by name."""
        for each in [kind] if kind else KINDS:
            components = self._kind(each)
            yield from (components[name] for name in sorted(components))

    def create(self, kind: str, selection: str | Mapping[str, Any], /, **context: Any) -> Any:
        """Build a component from a name or a ``{"name": ..., **hyperparameters}`` mapping (a config node)."""
        if isinstance(selection, str):
            selection = {"name": selection}
        return self.get(kind, selection["name"]).build(selection, **context)

    def copy(self) -> Registry:
        """A registry with the same components (adding to it leaves this one unchanged)."""
        return dataclasses.replace(self, _components={kind: dict(c) for kind, c in self._components.items()})

    def replace(self, other: Registry) -> None:
        """Take ``other``'s components, as one step (a plugin registers all of its components or none)."""
        self._components = other._components

    def _kind(self, kind: str) -> dict[str, Component]:
        if kind not in self._components:
            raise UnknownComponentError("kind", kind, self._components)
        return self._components[kind]
