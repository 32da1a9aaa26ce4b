"""Check Hydra overrides that name components before Hydra composes, to suggest the closest names.

Hydra itself lists every option of a group when one is unknown; for a registry of many components the
two or three closest names are the useful answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from cnnbench.configstore import GROUPS
from cnnbench.errors import CnnbenchError, UnknownComponentError
from cnnbench.registry import Registry


def _values(override) -> list[str]:
    if override.is_sweep_override():
        return [str(v) for v in override.sweep_iterator()] if not override.is_range_sweep() else []
    return [str(override.value())]


def check_component_overrides(overrides: Sequence[str], registry: Registry) -> None:
    """Raise :class:`UnknownComponentError` for ``group=name`` overrides naming no registered component."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise CnnbenchError(str(error).splitlines()[0]) from None
    for override in parsed:
        group = override.key_or_group
        if group not in GROUPS or override.is_delete():
            continue
        known = registry.names(group)
        for value in _values(override):
            if value not in known and value != "null":
                raise UnknownComponentError(group, value, known)
