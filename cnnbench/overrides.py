"""Check ``group=option`` overrides before Hydra composes, to suggest the closest options.

Hydra itself lists every option of a group when one is unknown, over several lines; for a registry of
many components the two or three closest names, on one line, are the useful answer. The options are
Hydra's own (registered components and yaml presets, ``--config-dir`` ones included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException

from cnnbench.errors import CnnbenchError, UnknownComponentError


def _values(override) -> list[str]:
    if override.is_sweep_override():  # a choice or a range lists its values; an interval or a glob does not
        return [str(v) for v in override.sweep_iterator()] if override.is_choice_sweep() or override.is_range_sweep() else []
    value = override.value()
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"


def parse_overrides(overrides: Sequence[str]) -> list[Override]:
    """Parse Hydra overrides; one that Hydra cannot read is named in a one-line error."""
    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed += parser.parse_overrides([text])
        except HydraException as error:
            reason = " ".join(str(error).split()).split(" See https://")[0]
            raise CnnbenchError(f"cannot read override {text!r}: {reason} (the grammar: {GRAMMAR})") from None
    return parsed


def check_group_overrides(overrides: Sequence[str], groups: Iterable[str], options: Callable[[str], Iterable[str]]) -> None:
    """Raise :class:`UnknownComponentError` for a ``group=option`` override naming no option of ``group``."""
    parsed = parse_overrides(overrides)
    groups = set(groups)
    for override in parsed:
        group = override.key_or_group
        if group not in groups or override.is_delete():
            continue
        known = sorted(options(group))
        for value in _values(override):
            if value not in known and value != "null":
                raise UnknownComponentError(group, value, known)
