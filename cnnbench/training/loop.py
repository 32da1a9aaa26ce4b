"""The shared training loop: in-memory batches, one sync per epoch, validation after each epoch, test once.

The protocol: every per-epoch number, the pruner's and the ``best_val`` selection's, is computed on the
validation split; the test split is evaluated once, after training, on the selected weights (the last
epoch's, or with ``select="best_val"`` the best validation epoch's), together with a training sample the
size of validation (for the overfitting gap).

Datasets that fit in memory are moved to the device once and batched by indexing, so the loop costs
what the model costs (no per-sample Dataset/DataLoader work); ``benchmarks/overhead.py`` measures it
against a minimal hand-written loop.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from cnnbench.records import Objective, Selection
from cnnbench.tasks import Split, Task, TaskData
from cnnbench.training.device import synchronize

log = logging.getLogger("cnnbench")

#: called after each epoch with (epoch, metrics); may raise :class:`RunPruned`
EpochCallback = Callable[[int, dict[str, Any]], None]


class RunPruned(Exception):
    """Raised by an epoch callback to stop a run early (a sweep's pruner decided so)."""


class TrainingDiverged(RuntimeError):
    """The training loss, or an evaluation's objective, became NaN or infinite."""


@dataclass
class LoopSettings:
    epochs: int
    batch_size: int
    device: torch.device
    seed: int
    autocast: torch.dtype | None = None
    channels_last: bool = False
    progress: bool = False
    objective: Objective = Objective("accuracy")
    select: str = "final"  # "final" | "best_val"
    patience: int | None = None  # stop after this many epochs without a better validation objective


@dataclass
class FitResult:
    """What training produced so far: the per-epoch curve, timings, the selection and its metrics per split."""

    curve: list[dict[str, Any]] = field(default_factory=list)
    train_s: float = 0.0
    eval_s: float = 0.0
    images: int = 0
    selection: Selection | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=lambda: {"train": {}, "validation": {}, "test": {}})
    #: the best validation epoch so far and its objective
    best: tuple[int, float] | None = None
    #: the selected epoch's full validation metrics and (for best_val) its weights, until the test is run
    _selected: tuple[int, dict[str, Any], dict[str, torch.Tensor] | None] | None = None


def to_device(tensors: dict[str, torch.Tensor], device: torch.device, channels_last: bool = False) -> dict[str, torch.Tensor]:
    """Move a batch dict once; pinned, non-blocking copies on CUDA."""
    moved = {}
    for key, value in tensors.items():
        if device.type == "cuda" and value.device.type == "cpu":
            value = value.pin_memory().to(device, non_blocking=True)
        else:
            value = value.to(device)
        if channels_last and value.dim() == 4 and value.is_floating_point():
            value = value.contiguous(memory_format=torch.channels_last)
        moved[key] = value
    return moved


def batches(data: dict[str, torch.Tensor], batch_size: int, generator: torch.Generator) -> Iterator[dict[str, torch.Tensor]]:
    """Shuffled mini-batches by indexing the in-memory tensors."""
    size = len(next(iter(data.values())))
    order = torch.randperm(size, generator=generator).to(next(iter(data.values())).device)
    for start in range(0, size, batch_size):
        index = order[start : start + batch_size]
        yield {key: value[index] for key, value in data.items()}


def _autocast(settings: LoopSettings) -> contextlib.AbstractContextManager[Any]:
    if settings.autocast is None:
        return contextlib.nullcontext()
    return torch.autocast(settings.device.type, dtype=settings.autocast)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=not enabled,
    )


def fit(
    task: Task,
    model: nn.Module,
    loss: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    data: TaskData,
    settings: LoopSettings,
    on_epoch: EpochCallback | None = None,
    result: FitResult | None = None,
) -> FitResult:
    """Train for ``settings.epochs`` and evaluate after each epoch; returns the per-epoch curve and timings.

    Pass ``result`` to keep the epochs done so far when training raises (a failed run records them).
    """
    train = to_device(data.train, settings.device, settings.channels_last)
    generator = torch.Generator().manual_seed(settings.seed)
    scaler = torch.amp.GradScaler(enabled=settings.autocast is torch.float16)
    steps = math.ceil(data.train_size / settings.batch_size)
    result = result if result is not None else FitResult()
    with _progress(settings.progress) as progress:
        epochs = progress.add_task("epochs", total=settings.epochs)
        for epoch in range(1, settings.epochs + 1):
            model.train()
            steps_bar = progress.add_task(f"epoch {epoch}", total=steps)
            total = torch.zeros((), device=settings.device)
            lr = float(optimizer.param_groups[0]["lr"])
            start = time.perf_counter()
            for batch in batches(train, settings.batch_size, generator):
                optimizer.zero_grad(set_to_none=True)
                with _autocast(settings):
                    batch_loss = task.training_loss(model, loss, batch)
                scaler.scale(batch_loss).backward()
                scaler.step(optimizer)
                scaler.update()
                total += batch_loss.detach().float()
                progress.advance(steps_bar)
            if scheduler is not None:
                scheduler.step()
            train_loss = total.item() / steps  # one device sync per epoch
            synchronize(settings.device)
            epoch_s = time.perf_counter() - start
            progress.remove_task(steps_bar)
            if not math.isfinite(train_loss):
                raise TrainingDiverged(f"training loss became {train_loss} in epoch {epoch}")

            metrics = _evaluate(task, model, loss, data, settings, "validation", result)
            result.train_s += epoch_s
            result.images += data.train_size
            result.curve.append({"epoch": epoch, "train_loss": train_loss, "epoch_s": epoch_s, "lr": lr, "validation": _scalars(metrics)})
            _select(model, epoch, metrics, settings, result)
            progress.advance(epochs)
            log.info("epoch %d/%d  train_loss %.4f  validation %s  (%.1f s)", epoch, settings.epochs, train_loss, _summary(metrics), epoch_s)
            if on_epoch is not None:
                on_epoch(epoch, metrics)
            if settings.patience and result.best is not None and epoch - result.best[0] >= settings.patience:
                log.info("early stop after epoch %d: no better validation %s for %d epochs", epoch, settings.objective.metric, settings.patience)
                break
    test(task, model, loss, data, settings, result)
    return result


def _evaluate(task: Task, model: nn.Module, loss: nn.Module, data: TaskData, settings: LoopSettings, split: Split, result: FitResult) -> dict[str, Any]:
    """The task's metrics on ``split``; a non-finite scalar (the loss of NaN outputs) fails the run, even when
    the objective itself is a number (the argmax of NaN logits still gives an "accuracy")."""
    start = time.perf_counter()
    model.eval()
    with torch.no_grad(), _autocast(settings):
        metrics = task.evaluate(model, loss, data, settings.device, split)
    synchronize(settings.device)
    result.eval_s += time.perf_counter() - start
    broken = {name: value for name, value in _scalars(metrics).items() if not math.isfinite(value)}
    if broken:
        raise TrainingDiverged(f"{split} evaluation is not finite: {', '.join(f'{k} {v}' for k, v in broken.items())}")
    return metrics


def _select(model: nn.Module, epoch: int, metrics: dict[str, Any], settings: LoopSettings, result: FitResult) -> None:
    """Track the best validation epoch, and keep this epoch as the selection if the rule says so
    (``final``: every epoch replaces the last; ``best_val``: an improvement does, and its weights are copied)."""
    value = metrics.get(settings.objective.metric)
    improved = result.best is None or (isinstance(value, int | float) and settings.objective.better(value, result.best[1]))
    if improved:
        result.best = (epoch, value)
    if settings.select == "final":
        result._selected = (epoch, metrics, None)
    elif improved:
        result._selected = (epoch, metrics, {key: tensor.detach().clone() for key, tensor in model.state_dict().items()})


def test(task: Task, model: nn.Module, loss: nn.Module, data: TaskData, settings: LoopSettings, result: FitResult) -> None:
    """Evaluate the test split once, and the training sample, on the selected weights (restored if needed)."""
    if result._selected is None:
        return
    epoch, validation, weights = result._selected
    if weights is not None:
        model.load_state_dict(weights)
    result.selection = Selection(settings.select, epoch)  # type: ignore[arg-type]
    result.metrics = {
        "train": _evaluate(task, model, loss, data, settings, "train", result),
        "validation": validation,
        "test": _evaluate(task, model, loss, data, settings, "test", result),
    }
    result._selected = None


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _summary(metrics: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, int | float))
