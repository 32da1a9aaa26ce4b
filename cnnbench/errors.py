"""User-facing errors: each one is a single line that says what is wrong and what is allowed.

The CLI prints ``str(error)`` and exits with :attr:`CnnbenchError.exit_code`, never a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CnnbenchError(Exception):
    """An error the user can fix; its message is one line."""

    exit_code = 2


class UnknownComponentError(CnnbenchError, KeyError):
    """A name that no plugin registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        super().__init__(f"unknown {kind} {name!r}: {hint}known {kind} names: {', '.join(known) or '(none)'}")
        self.kind, self.name, self.close = kind, name, close

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InvalidHyperparameterError(CnnbenchError, ValueError):
    """A hyperparameter outside its allowed range, or one the component does not have."""


class DuplicateComponentError(CnnbenchError):
    """Two plugins registered the same name within one kind."""


class PluginError(CnnbenchError):
    """A plugin failed to import or to register (fatal only in strict mode)."""


class DataError(CnnbenchError):
    """A data file is missing or corrupt."""


class IncompatibleConfigError(CnnbenchError):
    """A combination of task, model, data and components that cannot work together."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`InvalidHyperparameterError` with ``message`` unless ``condition`` holds.

    Factories call it to validate their hyperparameters; the registry prefixes the component's name.

    >>> require(0.0 <= 0.5 <= 1.0, "lam must be in [0, 1]")
    """
    if not condition:
        raise InvalidHyperparameterError(message)
