"""The plugin contract: the pluggy markers and one ``register`` hook per kind of component.

Every registration hook receives a ``register`` callable, ``register(name, factory, /, **defaults)`` or
``register(name, Spec(...))``: ``factory`` builds the component from its keyword hyperparameters (plus the
context its kind passes, such as a channel count) and ``defaults`` are the tunable hyperparameters with
their default values; a :class:`cnnbench.spec.Spec` adds their ranges, flags and bench baseline. The hooks
are made from the table of kinds (:mod:`cnnbench.kinds`), one each; see ``docs/plugins.md``.

The run lifecycle hooks (``cnnbench_run_start``, ``cnnbench_epoch_end``, ``cnnbench_run_end``) let a plugin
follow every run; the built-in experiment trackers use them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

from cnnbench.kinds import KINDS, Kind

if TYPE_CHECKING:
    from cnnbench.records import RunRecord

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


# --- Run lifecycle -------------------------------------------------------------------------------------
# Called by every run (`cnnbench run`, each sweep trial) in the process that trains. ``record`` is the
# run's :class:`~cnnbench.records.RunRecord`, one object for the whole run: at the start everything but
# the results (run_id, config, identity, components, study for a sweep trial, ...); at the end the record
# as written. The built-in experiment trackers (cnnbench/tracking/) are plugins of these hooks.
# A hook that raises in ``cnnbench_run_start`` stops the run before training (a CnnbenchError is one
# line for the user); one that raises in ``cnnbench_epoch_end`` fails the run, which is recorded.


@hookspec
def cnnbench_run_start(record: RunRecord) -> None:
    """A run is about to train.

    Args:
        record: the run's record without results; ``record.config["logger"]`` holds the ``logger`` group's
            choices (``{"csv": {"dir": ...}}``), ``record.study`` a sweep trial's study and trial number.
    """


@hookspec
def cnnbench_epoch_end(record: RunRecord, epoch: Mapping[str, Any]) -> None:
    """An epoch of training and validation finished.

    Args:
        record: as given to :func:`cnnbench_run_start` (the same object).
        epoch: the epoch's curve entry: ``{"epoch", "train_loss", "epoch_s", "lr", "validation": {...}}``.
    """


@hookspec
def cnnbench_run_end(record: RunRecord, path: Path) -> None:
    """A run ended, completed, pruned or failed, and its record was written.

    Args:
        record: the final record: ``status``, ``metrics`` (``train``, ``validation``, ``test``), ``curve``, ...
        path: the record's file.
    """
