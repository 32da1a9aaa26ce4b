"""The plugin contract: the pluggy markers and one hook per kind of component.

Every hook receives a ``register`` callable with the signature
``register(name, factory, **defaults)``: ``factory`` builds the component from its keyword
hyperparameters (plus the context its kind passes, such as a channel count) and ``defaults``
are the tunable hyperparameters with their default values. See ``docs/plugins.md``.
"""

from __future__ import annotations

from typing import Any, Protocol

import pluggy

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
