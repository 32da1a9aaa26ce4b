"""The conformance battery: the promises every registered component keeps, whoever wrote it.

A check builds the component as cnnbench does (its registered defaults plus a small context of its kind),
calls it on small random inputs, and raises :class:`AssertionError` naming the component and the broken
promise, or :class:`NotApplicable` when the check has nothing to test (no CUDA, a model without a task the
kit can feed). Checks on modules, per kind (contexts as in ``docs/plugins.md``):

* ``forward``: the documented output shape, in training and eval mode, with finite values;
* ``gradients``: backward reaches the inputs (non-zero) and every trainable parameter, all finite;
* ``modes``: deterministic in eval mode; in training mode random exactly when its spec says ``stochastic``;
* ``state_dict``: a fresh instance loaded with a trained one's state gives the same eval output;
* ``float64``: ``.to(torch.float64)`` gives float64 outputs that agree with float32;
* ``bfloat16``: a bfloat16 forward runs, finite and close to float32 (losses under ``torch.autocast``);
* ``cuda``: forward and backward on the GPU agree with the CPU (skipped without CUDA).

Tasks get ``attributes`` (the :class:`~cnnbench.tasks.Task` class attributes) and ``references`` (the
models and loss they name are registered and fit).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnbench.errors import CnnbenchError
from cnnbench.kinds import KINDS, MODULE_KINDS
from cnnbench.parts import Parts
from cnnbench.registry import Component, Registry
from cnnbench.spec import LOSS_INPUTS
from cnnbench.tasks import Task

MODULE_CHECKS = ("forward", "gradients", "modes", "state_dict", "float64", "bfloat16", "cuda")
TASK_CHECKS = ("attributes", "references")
SEED = 0
GPU = "cuda"  # where the ``cuda`` check moves a component


class NotApplicable(Exception):
    """The check has nothing to test on this component or this machine; the message says why."""


@dataclass(frozen=True)
class Sample:
    """One way to call a component: the context it is built with, inputs, and the documented output shape."""

    context: dict[str, Any]
    inputs: tuple[torch.Tensor, ...]
    shape: tuple[int, ...] | None = None  # None: the kind documents no output shape (layers, example models)
    grad_inputs: tuple[int, ...] = (0,)  # the inputs a gradient must reach


def checks_for(component: Component) -> tuple[str, ...]:
    """The names of the checks that apply to ``component``'s kind (none for a kind that is not a module)."""
    if component.kind == "task":
        return TASK_CHECKS
    return MODULE_CHECKS if component.kind in MODULE_KINDS else ()


def run_check(component: Component, check: str, registry: Registry | None = None) -> None:
    """Run one check on ``component``; ``registry`` builds models' parts and resolves tasks' references.

    Raises:
        AssertionError: the component breaks the contract; the message says which component and how.
        NotApplicable: the check has nothing to test here.
    """
    if check not in checks_for(component):
        raise ValueError(f"unknown check {check!r} for a {component.kind}; checks: {', '.join(checks_for(component))}")
    if registry is None:
        from cnnbench.plugins import default_registry

        registry = default_registry()
    try:
        with _seeded(SEED):
            if component.kind == "task":
                _TASK_CHECKS[check](component, registry)
            else:
                for sample in _samples(component, registry):
                    _MODULE_CHECKS[check](component, sample)
    except NotApplicable:
        raise
    except AssertionError as error:
        raise AssertionError(f"{_label(component)}: {check}: {error}") from None
    except Exception as error:  # a crash is a broken promise too; keep its traceback
        raise AssertionError(f"{_label(component)}: {check}: raised {type(error).__name__}: {error}") from error


def check_component(component: Component, registry: Registry | None = None) -> list[str]:
    """Run every check on ``component``; raise :class:`AssertionError` at the first broken promise.

    Returns the checks that did not apply, each as ``"check: why"``.

    >>> from cnnbench.plugins import default_registry
    >>> check_component(default_registry().get("activation", "relu"))  # doctest: +SKIP
    ['cuda: CUDA is not available']
    """
    skipped = []
    for check in checks_for(component):
        try:
            run_check(component, check, registry)
        except NotApplicable as why:
            skipped.append(f"{check}: {why}")
    return skipped


def _expect(condition: Any, message: str) -> None:
    """Raise :class:`AssertionError` with ``message`` unless ``condition`` holds (unlike ``assert``, also under -O)."""
    if not condition:
        raise AssertionError(message)


def _label(component: Component) -> str:
    return f"{component.kind} {component.name!r} ({component.distribution})"


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch for the check without disturbing the caller's random state."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


# --- what each kind is built with and called on (each kind names its maker in cnnbench.kinds) -----------


def _samples(component: Component, registry: Registry) -> list[Sample]:
    return KINDS[component.kind].samples_maker()(component, registry)


def convolution_samples(component: Component, registry: Registry) -> list[Sample]:
    image = torch.randn(2, 3, 8, 8)
    return [
        Sample(dict(in_channels=3, out_channels=5, kernel_size=3, stride=stride, padding=1), (image,), (2, 5, size, size))
        for stride, size in ((1, 8), (2, 4))  # o = floor((i + 2p - k) / s) + 1
    ]


def pooling_samples(component: Component, registry: Registry) -> list[Sample]:
    samples = []
    for i, k, s in ((8, 2, 2), (9, 3, 2)):  # non-overlapping, and AlexNet's overlapping 3/2
        o = (i - k) // s + 1
        samples.append(Sample(dict(channels=4, kernel_size=k, stride=s), (torch.randn(2, 4, i, i),), (2, 4, o, o)))
    return samples


def activation_samples(component: Component, registry: Registry) -> list[Sample]:
    context = {"channels": 4}
    width = getattr(_build(component, Sample(context, ())), "in_channels", 4)  # maxout reads more channels
    return [
        Sample(context, (torch.randn(2, width, 6, 6),), (2, 4, 6, 6)),
        Sample(context, (torch.randn(2, width),), (2, 4)),
    ]


def feature_map_samples(component: Component, registry: Registry) -> list[Sample]:
    """A kind built with ``channels`` that keeps the shape of (N, C, H, W) maps (normalization, ...)."""
    return [Sample({"channels": 4}, (torch.randn(3, 4, 6, 6),), (3, 4, 6, 6))]


def loss_samples(component: Component, registry: Registry) -> list[Sample]:
    kind = component.spec.input_kind
    _expect(kind in LOSS_INPUTS, f"input_kind must be one of {', '.join(LOSS_INPUTS)}, got {kind!r}")
    if kind == "logits":
        return [
            Sample({}, (torch.randn(4, 5), torch.randint(0, 5, (4,))), ()),
            Sample({}, (torch.randn(2, 5, 3, 3), torch.randint(0, 5, (2, 3, 3))), ()),  # per-pixel (segmentation)
        ]
    if kind == "pairs":
        same = torch.tensor([True, False] * 3)
        return [Sample({}, (torch.randn(6, 8), torch.randn(6, 8), same), (), grad_inputs=(0, 1))]
    return [Sample({}, (torch.randn(8, 8), torch.arange(4).repeat(2)), ())]


def _example(component: Component) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]] | None:
    example = getattr(component.factory, "example", None)
    if example is None:
        return None
    context, inputs = example()
    return dict(context), tuple(inputs)


def model_samples(component: Component, registry: Registry) -> list[Sample]:
    tasks = component.spec.tasks
    _expect(
        isinstance(tasks, tuple) and tasks and all(isinstance(t, str) for t in tasks),
        f"tasks must be a non-empty tuple of task names, got {tasks!r}",
    )
    parts = Parts(registry)
    if "classification" in tasks:
        context = dict(parts=parts, in_channels=1, num_classes=10, image_size=32)
        return [Sample(context, (torch.randn(2, 1, 32, 32),), (2, 10))]
    example = _example(component)
    if example is None:
        raise NotApplicable(f"serves {', '.join(tasks)}, not classification, and has no example()")
    context, inputs = example
    return [Sample({"parts": parts, **context}, inputs)]


def layer_samples(component: Component, registry: Registry) -> list[Sample]:
    example = _example(component)
    _expect(example is not None, "a layer's factory must provide classmethod example() -> (context, inputs)")
    return [Sample(*example)]


# --- helpers --------------------------------------------------------------------------------------------


def _build(component: Component, sample: Sample) -> nn.Module:
    try:
        module = component.build(None, **sample.context)
    except (CnnbenchError, TypeError, ValueError) as error:
        raise AssertionError(f"cannot be built from its defaults and context {_show(sample.context)}: {error}") from None
    _expect(isinstance(module, nn.Module), f"built a {type(module).__name__}, not a torch.nn.Module")
    return module


def _show(context: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={'Parts' if k == 'parts' else repr(v)}" for k, v in context.items()) + "}"


def _cast(inputs: tuple[torch.Tensor, ...], dtype: torch.dtype | None = None, device: str | None = None) -> list[torch.Tensor]:
    """The inputs on ``device``, floating ones as ``dtype``; integer and bool inputs (targets) keep theirs."""
    return [x.to(device=device, dtype=dtype if dtype is not None and x.is_floating_point() else x.dtype) for x in inputs]


def _tensors(output: Any) -> list[torch.Tensor]:
    """The floating tensors in an output that is a tensor or nests them in tuples, lists or dicts."""
    if isinstance(output, torch.Tensor):
        return [output] if output.is_floating_point() else []
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, tuple | list):
        return [t for item in output for t in _tensors(item)]
    return []


def _call(module: nn.Module, inputs: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    outputs = _tensors(module(*inputs))
    _expect(outputs, "returned no floating-point tensor")
    return outputs


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _assert_close(actual: list[torch.Tensor], expected: list[torch.Tensor], rtol: float, atol: float, what: str) -> None:
    for a, e in zip(actual, expected, strict=True):
        _expect(a.shape == e.shape, f"{what} has shape {tuple(a.shape)}, float32 on the CPU gives {tuple(e.shape)}")
        a, e = a.detach().cpu().double(), e.detach().cpu().double()
        gap = (a - e).abs().max().item() if a.numel() else 0.0
        allowed = atol + rtol * (e.abs().max().item() if e.numel() else 0.0)
        _expect(gap <= allowed, f"{what} differs from float32 on the CPU by {gap:.3g} (allowed {atol} + {rtol} x max |output|)")


# --- the module checks -----------------------------------------------------------------------------------


def _check_forward(component: Component, sample: Sample) -> None:
    module = _build(component, sample)
    for mode in ("train", "eval"):
        module.train(mode == "train")
        with torch.no_grad():
            outputs = _call(module, sample.inputs)
        if sample.shape is not None:
            shape = tuple(outputs[0].shape)
            _expect(
                shape == sample.shape,
                f"input shapes {[tuple(x.shape) for x in sample.inputs]} with context {_show(sample.context)} "
                f"gave output {shape} in {mode} mode; the contract says {sample.shape}",
            )
        _expect(all(o.isfinite().all() for o in outputs), f"non-finite output in {mode} mode")


def _gradients(module: nn.Module, sample: Sample, device: str | None = None) -> None:
    """Backpropagate a random projection of the outputs; every input and parameter must get a finite gradient."""
    module.train()
    inputs = _cast(sample.inputs, device=device)
    for i in sample.grad_inputs:
        inputs[i] = inputs[i].detach().clone().requires_grad_(True)  # a leaf of its own: samples may share tensors
    outputs = _call(module, inputs)
    _expect(any(o.requires_grad for o in outputs), "output is not differentiable (detached from the inputs and parameters)")
    sum((o * torch.randn_like(o)).sum() for o in outputs).backward()
    for i in sample.grad_inputs:
        grad = inputs[i].grad
        _expect(grad is not None, f"no gradient reaches input {i}")
        _expect(grad.isfinite().all(), f"non-finite gradient on input {i}")
        _expect(grad.abs().sum() > 0, f"the gradient on input {i} is zero everywhere")
    for name, parameter in module.named_parameters():
        if parameter.requires_grad:
            _expect(parameter.grad is not None, f"parameter {name!r} gets no gradient")
            _expect(parameter.grad.isfinite().all(), f"non-finite gradient on parameter {name!r}")


def _check_gradients(component: Component, sample: Sample) -> None:
    _gradients(_build(component, sample), sample)


def _check_modes(component: Component, sample: Sample) -> None:
    module = _build(component, sample)
    stochastic = component.spec.stochastic
    with torch.no_grad():
        module.eval()
        _expect(
            _same(_call(module, sample.inputs), _call(module, sample.inputs)),
            "two calls in eval mode gave different outputs; eval must be deterministic",
        )
        module.train()
        random_in_training = not _same(_call(module, sample.inputs), _call(module, sample.inputs))
    _expect(
        random_in_training == stochastic,
        "two calls in training mode gave different outputs, but it does not declare stochastic = True"
        if random_in_training
        else "declares stochastic = True, but two calls in training mode gave the same output",
    )


def _check_state_dict(component: Component, sample: Sample) -> None:
    trained = _build(component, sample)
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))  # a state nobody could rebuild from the defaults
        trained.train()
        _call(trained, sample.inputs)  # moves running statistics, where there are any
    fresh = _build(component, sample)
    try:
        fresh.load_state_dict(trained.state_dict())
    except RuntimeError as error:
        raise AssertionError(f"its state_dict does not load into a fresh instance: {error}") from None
    trained.eval()
    fresh.eval()
    with torch.no_grad():
        _expect(
            _same(_call(fresh, sample.inputs), _call(trained, sample.inputs)),
            "a fresh instance loaded with the state_dict gives a different eval output: some state is not in the state_dict",
        )


def _check_float64(component: Component, sample: Sample) -> None:
    module = _build(component, sample).eval()
    with torch.no_grad():
        expected = _call(module, sample.inputs)
        module.to(torch.float64)
        actual = _call(module, _cast(sample.inputs, torch.float64))
    _expect(all(o.dtype == torch.float64 for o in actual), f"float64 inputs gave {sorted({str(o.dtype) for o in actual})} outputs")
    _assert_close(actual, expected, rtol=1e-4, atol=1e-5, what="the float64 output")


def _check_bfloat16(component: Component, sample: Sample) -> None:
    module = _build(component, sample).eval()
    with torch.no_grad():
        expected = _call(module, sample.inputs)
        inputs = _cast(sample.inputs, torch.bfloat16)
        if component.kind == "loss":  # a trainer computes the loss under autocast, which upcasts the touchy ops
            with torch.autocast("cpu", dtype=torch.bfloat16):
                actual = _call(module, inputs)
        else:
            actual = _call(module.to(torch.bfloat16), inputs)
    _expect(all(o.isfinite().all() for o in actual), "non-finite bfloat16 output")
    _assert_close(actual, expected, rtol=0.1, atol=0.1, what="the bfloat16 output")


def _check_cuda(component: Component, sample: Sample) -> None:
    if not torch.cuda.is_available():
        raise NotApplicable("CUDA is not available")
    module = _build(component, sample).eval()
    with torch.no_grad():
        expected = _call(module, sample.inputs)
        module.to(GPU)
        actual = _call(module, _cast(sample.inputs, device=GPU))
    _expect(all(o.device.type == torch.device(GPU).type for o in actual), f"inputs on {GPU} gave outputs elsewhere")
    _assert_close(actual, expected, rtol=1e-2, atol=1e-3, what="the CUDA output")  # TF32 convolutions
    _gradients(module, sample, device=GPU)


_MODULE_CHECKS: dict[str, Callable[[Component, Sample], None]] = {
    "forward": _check_forward,
    "gradients": _check_gradients,
    "modes": _check_modes,
    "state_dict": _check_state_dict,
    "float64": _check_float64,
    "bfloat16": _check_bfloat16,
    "cuda": _check_cuda,
}


# --- the task checks ------------------------------------------------------------------------------------


def _names(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) > 0 and all(isinstance(v, str) and v for v in value)


def _build_task(component: Component) -> Task:
    try:
        task = component.build()
    except (CnnbenchError, TypeError, ValueError) as error:
        raise AssertionError(f"cannot be built from its defaults: {error}") from None
    _expect(isinstance(task, Task), f"built a {type(task).__name__}, not a cnnbench.tasks.Task")
    return task


def _check_task_attributes(component: Component, registry: Registry) -> None:
    task = _build_task(component)
    for attribute, valid, allowed in (
        ("models", _names(getattr(task, "models", None)), "a non-empty tuple of model names"),
        ("default_loss", isinstance(getattr(task, "default_loss", None), str), "a loss name"),
        (
            "loss_inputs",
            _names(getattr(task, "loss_inputs", None)) and set(task.loss_inputs) <= set(LOSS_INPUTS),
            f"a non-empty tuple of {', '.join(LOSS_INPUTS)}",
        ),
        ("datasets", _names(getattr(task, "datasets", None)), "a non-empty tuple of dataset names"),
        ("primary_metric", isinstance(getattr(task, "primary_metric", None), str), "a metric name"),
        ("maximize", isinstance(getattr(task, "maximize", None), bool), "true or false"),
    ):
        _expect(valid, f"class attribute {attribute} must be {allowed}, got {getattr(task, attribute, '(missing)')!r}")
    dataset = component.defaults.get("dataset")
    _expect(
        dataset is None or any(fnmatch.fnmatchcase(dataset, pattern) for pattern in task.datasets),
        f"default dataset {dataset!r} is not in datasets {task.datasets}",
    )
    if "*" in task.datasets and dataset is not None:
        _expect(dataset in registry.names("dataset"), f"default dataset {dataset!r} is not a registered dataset")


def _check_task_references(component: Component, registry: Registry) -> None:
    task = _build_task(component)
    for name in task.models:
        _expect(name in registry.names("model"), f"names model {name!r}, which is not registered")
        served = registry.get("model", name).spec.tasks
        _expect(component.name in served, f"names model {name!r}, whose tasks {served!r} do not include {component.name!r}")
    _expect(task.default_loss in registry.names("loss"), f"default loss {task.default_loss!r} is not registered")
    kind = registry.get("loss", task.default_loss).spec.input_kind
    _expect(
        kind in task.loss_inputs,
        f"default loss {task.default_loss!r} takes {kind!r} inputs, not one of loss_inputs {task.loss_inputs}",
    )


_TASK_CHECKS: dict[str, Callable[[Component, Registry], None]] = {
    "attributes": _check_task_attributes,
    "references": _check_task_references,
}
