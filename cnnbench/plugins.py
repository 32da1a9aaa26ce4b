"""Discover plugins through the ``cnnbench`` entry-point group and fill a :class:`Registry`.

Each plugin is loaded and registered on its own, so one broken plugin is reported and skipped while the
rest load (pluggy's own ``load_setuptools_entrypoints`` has no such guard). ``CNNBENCH_STRICT_PLUGINS=1``
makes any failure fatal; ``CNNBENCH_PLUGINS=a,b`` loads only what it names: entry points (``swish``),
distributions (``cnnbench`` for the built-ins, ``cnnbench-swish``) or both (``cnnbench-swish:swish``). An
entry point the list does not name is never imported, and a name that matches nothing is an error.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from cnnbench import hookspecs
from cnnbench.errors import PluginError
from cnnbench.kinds import HOOKS
from cnnbench.registry import Component, Registry
from cnnbench.spec import Spec, SpecError

ENTRY_POINT_GROUP = "cnnbench"
STRICT_ENV = "CNNBENCH_STRICT_PLUGINS"
ALLOW_ENV = "CNNBENCH_PLUGINS"
BUILTIN_DISTRIBUTION = "cnnbench"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin came from: its entry-point name and its distribution."""

    name: str
    distribution: str = "?"
    version: str = "?"


@dataclass
class LoadedRegistry(Registry):
    """A registry plus what loading it found: the plugins that loaded and those that failed, and their
    hooks (``hook.cnnbench_run_start(...)`` calls every loaded plugin's lifecycle hooks)."""

    plugins: list[PluginSource] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    manager: pluggy.PluginManager = field(default_factory=lambda: _manager())

    @property
    def hook(self) -> pluggy.HookRelay:
        return self.manager.hook


def _manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


def _source(entry_point: EntryPoint) -> PluginSource:
    dist = entry_point.dist
    return PluginSource(entry_point.name, dist.name if dist else "?", dist.version if dist else "?")


def _normalized(distribution: str) -> str:
    """A distribution name as the packaging standards compare them (``Cnnbench_Swish`` is ``cnnbench-swish``)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _matches(entry: str, entry_point: EntryPoint) -> bool:
    """Whether an allow-list entry names ``entry_point``: its name, its distribution, or ``distribution:name``."""
    distribution = _normalized(_source(entry_point).distribution)
    named, colon, name = entry.partition(":")
    if colon:
        return _normalized(named) == distribution and name == entry_point.name
    return entry == entry_point.name or _normalized(entry) == distribution


def _entry_points(allow: set[str] | None) -> list[EntryPoint]:
    """The group's entry points that ``allow`` names (all when ``None``), none of them imported yet.

    An entry that names nothing, or an entry-point name that two distributions use, is an error.
    """
    available = list(entry_points(group=ENTRY_POINT_GROUP))
    found = available
    if allow is not None:
        installed = sorted({ep.name for ep in available} | {_normalized(_source(ep).distribution) for ep in available})
        for entry in sorted(allow):
            named = [ep for ep in available if _matches(entry, ep)]
            if not named:
                raise PluginError(f"{ALLOW_ENV} names {entry!r}, which no installed plugin is; entry points and distributions: {', '.join(installed)}")
            owners = sorted({_normalized(_source(ep).distribution) for ep in named})
            if ":" not in entry and entry not in owners and len(owners) > 1:
                raise PluginError(f"{ALLOW_ENV}: entry point {entry!r} is in {', '.join(owners)}; name one as DISTRIBUTION:{entry}")
        found = [ep for ep in available if any(_matches(entry, ep) for entry in allow)]
    # Built-ins first, so a third-party plugin that reuses a built-in name is the one reported.
    return sorted(found, key=lambda ep: (_source(ep).distribution != BUILTIN_DISTRIBUTION, _source(ep).distribution, ep.name))


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_allow_list() -> set[str] | None:
    value = os.environ.get(ALLOW_ENV, "").strip()
    return {part.strip() for part in value.split(",") if part.strip()} if value else None


def _stager(pending: list[Component], kind: str, source: PluginSource) -> hookspecs.Register:
    """The ``register`` callable handed to one plugin's hook for one kind: it validates each spec at once."""

    def register(name: str, factory: Any, /, **defaults: Any) -> None:
        label = f"{kind} {name!r}"
        if isinstance(factory, Spec):
            if defaults:
                raise SpecError(f"{label}: pass the defaults in the Spec, not also as keywords ({', '.join(defaults)})")
            spec = factory
        else:
            spec = Spec(factory, defaults)
        spec.validate(label)
        pending.append(Component.from_spec(kind, name, spec, source.name, source.distribution, source.version))

    return register


def _register_plugin(pm: pluggy.PluginManager, registry: LoadedRegistry, module: Any, source: PluginSource) -> None:
    """Register one plugin's hooks into ``registry``: all of its components, or none of them."""
    pm.register(module, name=source.name)
    staged: list[Component] = []
    try:
        pm.check_pending()
        for kind, hook_name in HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                if impl.plugin is module:
                    impl.function(register=_stager(staged, kind, source))
        merged = registry.copy()
        for component in staged:
            merged.add(component)
    except BaseException:
        pm.unregister(module)
        raise
    registry.replace(merged)
    registry.plugins.append(source)


def load_registry(
    *,
    strict: bool | None = None,
    allow: Iterable[str] | None = None,
    extra: Iterable[tuple[PluginSource, ModuleType | object]] = (),
) -> LoadedRegistry:
    """Load every plugin of the entry-point group (and ``extra`` ones) into a new registry.

    Args:
        strict: make a failing plugin fatal; defaults to ``$CNNBENCH_STRICT_PLUGINS``.
        allow: entry-point or distribution names to load, all when ``None``; defaults to ``$CNNBENCH_PLUGINS``.
        extra: already-imported plugins to register after the discovered ones (tests, notebooks).

    >>> registry = load_registry()
    >>> "relu" in registry.names("activation")
    True
    """
    strict = _env_flag(STRICT_ENV) if strict is None else strict
    allow_set = _env_allow_list() if allow is None else set(allow)
    registry = LoadedRegistry()
    pm = registry.manager

    def attempt(source: PluginSource, load: Any) -> None:
        try:
            _register_plugin(pm, registry, load(), source)
        except Exception as error:  # a broken plugin must not take the host down
            message = f"plugin {source.name!r} ({source.distribution}) failed to load: {type(error).__name__}: {error}"
            if strict:
                raise PluginError(message.replace("\n", " ")) from None
            registry.failures.append(message)
            log.warning("%s (skipped; set %s=1 to make this fatal)", message, STRICT_ENV)

    for entry_point in _entry_points(allow_set):
        attempt(_source(entry_point), entry_point.load)
    for source, module in extra:
        attempt(source, lambda module=module: module)
    return registry


@cache
def default_registry() -> LoadedRegistry:
    """The registry of the installed plugins, loaded once per process."""
    return load_registry()
