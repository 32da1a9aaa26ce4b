"""The plugin contract: the pluggy markers, one hook per kind of component, and the run lifecycle hooks.

Every registration hook receives a ``register`` callable with the signature
``register(name, factory, **defaults)``: ``factory`` builds the component from its keyword
hyperparameters (plus the context its kind passes, such as a channel count) and ``defaults``
are the tunable hyperparameters with their default values. See ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from cnnbench.records import RunRecord

PROJECT = "cnnbench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    def __call__(self, name: str, factory: Any, /, **defaults: Any) -> None: ...


@hookspec
def cnnbench_register_convolutions(register: Register) -> None:
    """Register convolutions: ``factory(in_channels, out_channels, kernel_size, stride, padding, **hp)``."""


@hookspec
def cnnbench_register_poolings(register: Register) -> None:
    """Register poolings: ``factory(channels, kernel_size, stride, **hp)`` -> (N,C,H,W) to (N,C,H',W')."""


@hookspec
def cnnbench_register_layers(register: Register) -> None:
    """Register other layers (fully connected, transposed convolution, SPP, RoI pooling, ...)."""


@hookspec
def cnnbench_register_activations(register: Register) -> None:
    """Register activations: ``factory(channels, **hp)``; the module may set ``in_channels``."""


@hookspec
def cnnbench_register_losses(register: Register) -> None:
    """Register losses: ``factory(**hp)``; the class attribute ``input_kind`` says what it consumes."""


@hookspec
def cnnbench_register_models(register: Register) -> None:
    """Register networks: ``factory(parts, in_channels, num_classes, image_size, **hp)``; class attribute ``tasks``."""


@hookspec
def cnnbench_register_tasks(register: Register) -> None:
    """Register tasks: ``factory(**hp)`` returns a :class:`cnnbench.tasks.Task`."""


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
