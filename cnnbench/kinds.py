"""The kinds of component, declared once each; every list of kinds in cnnbench is derived from this table.

A :class:`Kind` says which hook registers it, which Hydra config group chooses it (and its default
option), what its factory is built with, how the conformance kit and ``cnnbench bench`` make inputs for
it, and what an ablation compares its options against. The hook specs, the registry, the ConfigStore, the
model :class:`~cnnbench.parts.Parts`, the conformance kit, the bench inputs and the report all read it,
so a new kind is one entry here, a plugin module and its documentation (``docs/plugins.md``).

>>> KINDS["pooling"].hook
'cnnbench_register_poolings'
>>> "normalization" in SLOTS
True
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class Kind:
    """One kind of component.

    Attributes:
        name: the kind, as in ``cnnbench list KIND`` and the registry.
        hook: the plugin hook that registers components of this kind.
        summary: what such a component is, one line (the hook's docstring).
        context: the keyword arguments cnnbench passes the factory besides the hyperparameters.
        group: the Hydra config group that chooses one, or ``None`` when the config does not choose it.
        default: the group's default option; ``None`` leaves the choice to the task (model, loss).
        slot: a part that a model asks :class:`~cnnbench.parts.Parts` for (convolution, pooling, ...).
        samples: ``"module:function"`` making the conformance kit's samples, ``None``: not module-checked.
        bench: ``"module:function"`` making ``cnnbench bench`` inputs from a map shape, ``None``: not timed.
        baseline: the option an ablation of this kind is compared against by default (the report's
            baseline, and the bench baseline of a component that declares none).
    """

    name: str
    hook: str
    summary: str
    context: tuple[str, ...] = ()
    group: str | None = None
    default: str | None = None
    slot: bool = False
    samples: str | None = None
    bench: str | None = None
    baseline: str | None = None

    def samples_maker(self) -> Any:
        """The conformance sample maker, imported on first use (it needs torch)."""
        return load_object(self.samples) if self.samples else None

    def bench_maker(self) -> Any:
        """The bench input maker, imported on first use."""
        return load_object(self.bench) if self.bench else None


_CHECKS = "cnnbench.testing.checks"
_INPUTS = "cnnbench.bench.inputs"

#: every kind, in the order ``cnnbench list`` and reports show them
KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "convolution",
            "cnnbench_register_convolutions",
            "(N, in, H, W) -> (N, out, o, o), o = floor((i + 2p - k) / s) + 1.",
            ("in_channels", "out_channels", "kernel_size", "stride", "padding"),
            group="convolution",
            default="conv",
            slot=True,
            samples=f"{_CHECKS}:convolution_samples",
            bench=f"{_INPUTS}:convolution_case",
            baseline="conv",
        ),
        Kind(
            "pooling",
            "cnnbench_register_poolings",
            "(N, C, H, W) -> (N, C, o, o), o = floor((i - k) / s) + 1, no padding.",
            ("channels", "kernel_size", "stride"),
            group="pooling",
            default="max",
            slot=True,
            samples=f"{_CHECKS}:pooling_samples",
            bench=f"{_INPUTS}:pooling_case",
            baseline="max",
        ),
        Kind(
            "activation",
            "cnnbench_register_activations",
            "Acts along dim 1 of (N, C) and (N, C, H, W); may read a wider input (``in_channels``).",
            ("channels",),
            group="activation",
            default="relu",
            slot=True,
            samples=f"{_CHECKS}:activation_samples",
            bench=f"{_INPUTS}:activation_case",
            baseline="relu",
        ),
        Kind(
            "normalization",
            "cnnbench_register_normalizations",
            "(N, C, H, W) -> (N, C, H, W): rescales feature maps (batch, group, layer, local response norm).",
            ("channels",),
            group="normalization",
            default="none",
            slot=True,
            samples=f"{_CHECKS}:feature_map_samples",
            bench=f"{_INPUTS}:feature_map_case",
            baseline="none",
        ),
        Kind(
            "loss",
            "cnnbench_register_losses",
            "A scalar from the inputs its ``input_kind`` names (logits, pairs or embeddings).",
            group="loss",
            samples=f"{_CHECKS}:loss_samples",
            bench=f"{_INPUTS}:loss_case",
            baseline="softmax",
        ),
        Kind(
            "model",
            "cnnbench_register_models",
            "A network built from ``parts`` for the tasks it serves.",
            ("parts", "in_channels", "num_classes", "image_size"),
            group="model",
            samples=f"{_CHECKS}:model_samples",
        ),
        Kind(
            "task",
            "cnnbench_register_tasks",
            "A :class:`cnnbench.tasks.Task`: data, model family, default loss and metrics.",
            group="task",
            default="classification",
        ),
        Kind(
            "dataset",
            "cnnbench_register_datasets",
            "Labelled images from ``root``: a :class:`cnnbench.data.Splits` of train, test (and validation).",
            ("root", "limit"),
        ),
        Kind(
            "layer",
            "cnnbench_register_layers",
            "Any other layer a model builds by name (fully connected, upsampling, SPP, RoI pooling, ...).",
            samples=f"{_CHECKS}:layer_samples",
            bench=f"{_INPUTS}:layer_case",
        ),
    )
}

#: the hook of each kind
HOOKS: dict[str, str] = {kind.name: kind.hook for kind in KINDS.values()}
#: the kinds that are Hydra config groups
GROUPS: tuple[str, ...] = tuple(kind.group for kind in KINDS.values() if kind.group)
#: the parts a model is built from, chosen in the config
SLOTS: tuple[str, ...] = tuple(kind.name for kind in KINDS.values() if kind.slot)
#: the kinds the conformance kit builds and calls as modules
MODULE_KINDS: tuple[str, ...] = tuple(kind.name for kind in KINDS.values() if kind.samples)
#: the kinds ``cnnbench bench`` times (models and tasks are whole runs: ``benchmarks/``)
BENCH_KINDS: tuple[str, ...] = tuple(kind.name for kind in KINDS.values() if kind.bench)
#: the kinds an ablation varies, and the option each is compared against by default
DEFAULT_BASELINE: dict[str, str] = {kind.name: kind.baseline for kind in KINDS.values() if kind.baseline}
#: roots of the record columns that name a component (``"pooling"``, ``"pooling.lam"``, ...)
COMPONENT_ROOTS: tuple[str, ...] = tuple(kind.name for kind in KINDS.values() if kind.group and kind.name != "task")


def load_object(target: str) -> Any:
    """The object ``"package.module:attribute"`` names (attributes may be dotted), imported now.

    >>> load_object("collections:OrderedDict").__name__
    'OrderedDict'
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected 'package.module:Name', got {target!r}")
    value: Any = import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value
