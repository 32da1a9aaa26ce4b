"""pytest plugin of the conformance kit, loaded through the ``pytest11`` entry point ``cnnbench``.

It gives any test suite the fixture ``cnnbench_check``, and :func:`conformance_params` makes one test per
component and check, so a plugin author's suite tests their components as cnnbench's own suite does::

    from cnnbench.testing import conformance_params

    @pytest.mark.parametrize(("component", "check"), conformance_params(distribution="cnnbench-swish"))
    def test_conformance(component, check, cnnbench_check):
        cnnbench_check(component, check)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from cnnbench.registry import Component, Registry


def conformance_params(
    registry: Registry | None = None, *, kinds: Iterable[str] | None = None, distribution: str | None = None
) -> list[Any]:
    """``pytest.param(component, check)`` for every check of every component of ``registry``.

    Args:
        registry: the components to test; the installed ones (:func:`cnnbench.plugins.default_registry`) if ``None``.
        kinds: only these kinds.
        distribution: only the components of this distribution (a plugin's own suite).

    Raises:
        LookupError: no test would come of it: ``distribution`` names no loaded component (a plugin that
            failed to load, or a misspelt name), none of ``kinds``, or only components no check applies to
            (datasets); a suite of zero tests would pass.
    """
    from cnnbench.testing.checks import checks_for

    if registry is None:
        from cnnbench.plugins import default_registry

        registry = default_registry()
    kinds = list(kinds or [])
    components = [c for kind in (kinds or [None]) for c in registry.components(kind) if distribution is None or c.distribution == distribution]
    params = [pytest.param(component, check, id=f"{component.kind}-{component.name}-{check}") for component in components for check in checks_for(component)]
    if params:
        return params
    own = [c for c in registry.components(None) if distribution is None or c.distribution == distribution]
    if distribution is not None and not own:
        loaded = sorted({c.distribution for c in registry.components(None) if c.distribution})
        raise LookupError(
            f"no component of distribution {distribution!r} is loaded; "
            f"distributions with components: {', '.join(loaded) or 'none'} (did the plugin fail to load? see `cnnbench list`)"
        )
    whose = f"distribution {distribution!r}" if distribution is not None else "the registry"
    asked = f"kinds {', '.join(kinds)}" if kinds else "any kind"
    problem = f"{whose} has components of {asked} but no conformance check applies to them" if components else f"{whose} has no component of {asked}"
    has = ", ".join(dict.fromkeys(c.kind for c in own)) or "none"
    raise LookupError(f"{problem}, so the suite would pass with zero tests; the kinds of its components: {has}")


@pytest.fixture
def cnnbench_check() -> Callable[..., None]:
    """``cnnbench_check(component, check, registry=None)``: run one check; one that does not apply is skipped."""
    from cnnbench.testing.checks import NotApplicable, run_check

    def check(component: Component, name: str, registry: Registry | None = None) -> None:
        try:
            run_check(component, name, registry)
        except NotApplicable as why:
            pytest.skip(str(why))

    return check
