"""The plugin contract: the pluggy markers and one ``register`` hook per kind of component.

Every registration hook receives a ``register`` callable, ``register(name, factory, /, **defaults)`` or
``register(name, Spec(...))``: ``factory`` builds the component from its keyword hyperparameters (plus the
context its kind passes, such as a channel count) and ``defaults`` are the tunable hyperparameters with
their default values; a :class:`cnnbench.spec.Spec` adds their ranges, flags and bench baseline. The hooks
are made from the table of kinds (:mod:`cnnbench.kinds`), one each; see ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pluggy

from cnnbench.kinds import KINDS, Kind

PROJECT = "cnnbench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    def __call__(self, name: str, factory: Any, /, **defaults: Any) -> None: ...


def _registration_hook(kind: Kind) -> Callable[[Register], None]:
    def hook(register: Register) -> None: ...

    context = f"factory({', '.join(kind.context)}, **hp)" if kind.context else "factory(**hp)"
    hook.__name__ = hook.__qualname__ = kind.hook
    hook.__doc__ = f"Register {kind.name} components: ``{context}``. {kind.summary}"
    return hookspec(hook)


for _kind in KINDS.values():
    globals()[_kind.hook] = _registration_hook(_kind)
del _kind
