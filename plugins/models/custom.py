"""``model=custom model.target=package.module:Class``: any ``nn.Module`` of the user's, given the ``Parts``.

The class (or function) is imported from ``target`` and called with the keyword arguments of the model
contract that its signature accepts (``parts``, ``in_channels``, ``num_classes``, ``image_size``) plus
``model.args``, so a network that builds its blocks from ``parts`` has its convolution, pooling,
activation and normalization swapped from the config like LeNet-5's.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import nn

from cnnbench import hookimpl
from cnnbench.errors import InvalidHyperparameterError, require
from cnnbench.hookspecs import Register
from cnnbench.kinds import load_object
from cnnbench.parts import Parts
from cnnbench.spec import Spec

#: the default target: LeNet-5 itself, so ``model=custom`` alone runs
DEFAULT_TARGET = "cnnbench_plugins.models.lenet5:LeNet5"


def _accepted(factory: Any, offered: Mapping[str, Any]) -> dict[str, Any]:
    """The ``offered`` keyword arguments that ``factory``'s signature takes (all of them if it takes ``**kwargs``)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin without a signature: offer nothing it may refuse
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(offered)
    return {key: value for key, value in offered.items() if key in parameters}


#: the model contract's keyword arguments, offered to the target where its signature takes them
CONTEXT = ("parts", "in_channels", "num_classes", "image_size")


def _imported(target: Any) -> Any:
    """The class or function ``target`` ("package.module:Class") names; one line when it names none."""
    require(isinstance(target, str) and ":" in target, f"target must be 'package.module:Class', got {target!r}")
    try:
        factory = load_object(target)
    except (ImportError, AttributeError, ValueError) as error:
        raise InvalidHyperparameterError(f"target {target!r} cannot be imported: {type(error).__name__}: {error}") from None
    require(callable(factory), f"target {target!r} is not a class or function")
    return factory


def check(hyperparameters: Mapping[str, Any]) -> None:
    """The target imports and its signature takes what :func:`custom` will pass (``Spec.check``): a typo in
    ``model.target`` or ``model.args`` is one line before any data loads, not after it."""
    factory, args = _imported(hyperparameters["target"]), dict(hyperparameters["args"] or {})
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to bind: left to the call
        return
    offered = _accepted(factory, dict.fromkeys(CONTEXT))
    try:
        signature.bind(**offered, **args)
    except TypeError as error:
        called = ", ".join([*offered, *args]) or "no arguments"
        raise InvalidHyperparameterError(f"target {hyperparameters['target']!r}: {error}; cnnbench calls it with {called} (the model context it takes, and model.args)") from None


def custom(parts: Parts, in_channels: int, num_classes: int, image_size: int, target: str, args: Mapping[str, Any]) -> nn.Module:
    """A user's network imported from ``target`` ("package.module:Class"), built with the model context and ``args``."""
    factory = _imported(target)
    context = dict(zip(CONTEXT, (parts, in_channels, num_classes, image_size)))
    try:
        module = factory(**_accepted(factory, context), **dict(args))
    except TypeError as error:
        raise InvalidHyperparameterError(f"target {target!r}: {error}") from None
    require(isinstance(module, nn.Module), f"target {target!r} built a {type(module).__name__}, not a torch.nn.Module")
    return module


@hookimpl
def cnnbench_register_models(register: Register) -> None:
    register("custom", Spec(custom, {"target": DEFAULT_TARGET, "args": {}}, tasks=("classification", "metric_learning"), check=check))
