"""Run one benchmark from a composed config: resolve, validate, train, record.

Everything that can be refused (unknown names, out-of-range hyperparameters, incompatible task / model /
loss / dataset, missing data) is refused before training starts, and then no record is written. Once
training starts, every outcome (completed, failed, pruned) is recorded atomically.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from cnnbench.atomic import writing
from cnnbench.data.splits import SplitSettings
from cnnbench.errors import CnnbenchError, IncompatibleConfigError, require
from cnnbench.kinds import SLOTS
from cnnbench.parts import Parts
from cnnbench.plugins import LoadedRegistry
from cnnbench.preflight import check_factory
from cnnbench.records import DataIdentity, Objective, RunRecord, config_identity, flatten_components, new_run_id, utc_now, write_record
from cnnbench.tasks import Task, TaskData
from cnnbench.training import device as devices
from cnnbench.training.loop import EpochCallback, FitResult, LoopSettings, RunPruned, fit
from cnnbench.training.provenance import git_commit, host, versions

SELECTIONS = ("final", "best_val")


class RunFailed(CnnbenchError):
    """Training started and then failed; the failure is recorded."""

    exit_code = 1


@dataclass
class Plan:
    """The resolved, validated choices of a run, before any data is loaded."""

    task_name: str
    task: Task
    nodes: dict[str, dict[str, Any]]  # slot -> {"name": ..., **hyperparameters}, model and loss included
    loss: nn.Module
    settings: LoopSettings
    split: SplitSettings
    dataset_options: dict[str, Any]  # data.<dataset> of the task's dataset
    data_root: Path
    image_size: int | None  # the model's input size (None: the data's own)

    def load_data(self) -> TaskData:
        """The task's data as this run trains on it; a registered dataset's is kept for the process, so
        the preflight check's load (:func:`cnnbench.preflight.check_data`) is the run's."""
        return self.task.load_data(self.data_root, self.image_size, self.settings.seed, self.split, self.dataset_options)


def _node(config: Any, default_name: str) -> dict[str, Any]:
    if config is None:
        return {"name": default_name}
    return dict(OmegaConf.to_container(config, resolve=True)) if isinstance(config, DictConfig) else dict(config)


def plan(cfg: DictConfig, registry: LoadedRegistry) -> Plan:
    """Resolve the config against the registry and refuse what cannot work together."""
    trainer = cfg.trainer
    require(int(trainer.epochs) >= 1, f"trainer.epochs must be >= 1, got {trainer.epochs}")
    require(int(trainer.batch_size) >= 1, f"trainer.batch_size must be >= 1, got {trainer.batch_size}")
    task_node = _node(cfg.task, "classification")
    check_factory(registry.get("task", task_node["name"]), task_node)
    task = registry.create("task", task_node)
    task_name = task_node["name"]
    nodes = {"task": task_node, "model": _node(cfg.get("model"), task.models[0])}
    nodes["loss"] = _node(cfg.get("loss"), task.default_loss)
    nodes.update({slot: _node(cfg[slot], "") for slot in SLOTS})

    for kind in ("model", "loss", *SLOTS):  # before any of them is built, the loss now, the rest with the model
        check_factory(registry.get(kind, nodes[kind]["name"]), nodes[kind])
    model = registry.get("model", nodes["model"]["name"])
    serves = model.spec.tasks
    if task_name not in serves:
        raise IncompatibleConfigError(
            f"model {model.name!r} serves {', '.join(serves) or 'no task'}, not task {task_name!r}; "
            f"models for {task_name}: {', '.join(m.name for m in registry.components('model') if task_name in m.spec.tasks)}"
        )
    loss = registry.create("loss", nodes["loss"])
    kind = getattr(loss, "input_kind", "logits")
    if kind not in task.loss_inputs:
        fitting = [c.name for c in registry.components("loss") if (c.spec.input_kind or "logits") in task.loss_inputs]
        raise IncompatibleConfigError(
            f"loss {nodes['loss']['name']!r} takes {kind}, but task {task_name!r} feeds {', '.join(task.loss_inputs)}; "
            f"losses for {task_name}: {', '.join(fitting)}"
        )
    device = devices.select_device(str(trainer.device))
    select = str(trainer.get("select", "final"))
    require(select in SELECTIONS, f"trainer.select must be one of {', '.join(SELECTIONS)}, got {select!r}")
    data = cfg.get("data") or {}
    split = SplitSettings(float(data.get("val_fraction", 0.1)), int(data.get("split_seed", 0)))
    chosen = data.get(str(task_node.get("dataset")))  # data.<dataset>: the task's dataset's options
    dataset_options = _node(chosen, "") if isinstance(chosen, DictConfig | Mapping) else {}
    if str(task_node.get("dataset")) in registry.names("dataset"):
        check_factory(registry.get("dataset", str(task_node["dataset"])), dataset_options)
    settings = LoopSettings(
        epochs=int(trainer.epochs),
        batch_size=int(trainer.batch_size),
        device=device,
        seed=int(trainer.seed),
        autocast=devices.autocast_dtype(str(trainer.precision), device),
        channels_last=bool(trainer.channels_last),
        progress=_progress_enabled(trainer.progress),
        objective=Objective(task.primary_metric, task.maximize),
        select=select,
        patience=_patience(trainer.get("patience")),
    )
    return Plan(task_name, task, nodes, loss, settings, split, dataset_options, Path(str(cfg.data.root)), model.spec.input_size)


def _patience(value: Any) -> int | None:
    require(value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1), f"trainer.patience must be an integer >= 1 or null, got {value!r}")
    return value


def _progress_enabled(setting: Any) -> bool:
    if str(setting) == "auto":
        return sys.stderr.isatty()
    return bool(setting)


def seed_everything(seed: int, deterministic: bool, device: torch.device) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    # The CPU kernels used here are deterministic already; the switch matters on CUDA, and its first call
    # costs about a second of imports, paid by every run and sweep worker.
    if deterministic and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def build_model(registry: LoadedRegistry, plan_: Plan, data: TaskData) -> nn.Module:
    parts = Parts(registry, **{slot: plan_.nodes[slot] for slot in SLOTS})
    return registry.create(
        "model",
        plan_.nodes["model"],
        parts=parts,
        in_channels=data.info["in_channels"],
        num_classes=data.info["num_classes"],
        image_size=data.info["image_size"],
    )


def _record(cfg: DictConfig, registry: LoadedRegistry, plan_: Plan, data: TaskData, model: nn.Module) -> RunRecord:
    """The run's record as far as it is known before training; :func:`execute` fills in the outcome."""
    settings, info = plan_.settings, data.info
    config = OmegaConf.to_container(cfg, resolve=True)
    config_id, identity = config_identity(config, plan_.nodes, info["fingerprint"], settings.device.type)
    sizes = {"train": data.train_size, **{split: _size(data.split(split)) for split in ("validation", "test")}}
    return RunRecord(
        run_id=new_run_id(),
        status="completed",
        started_at=utc_now(),
        finished_at=None,
        task=plan_.task_name,
        dataset=info.get("dataset", plan_.nodes["task"].get("dataset")),
        model=plan_.nodes["model"]["name"],
        components=flatten_components({k: v for k, v in plan_.nodes.items() if k != "task"}),
        seed=settings.seed,
        config_id=config_id,
        identity=identity,
        data=DataIdentity(
            dataset=info.get("dataset", "?"),
            fingerprint=info["fingerprint"],
            val_fraction=plan_.split.val_fraction if info["validation"] != "dataset" else None,
            split_seed=plan_.split.split_seed,
            validation=info["validation"],
            sizes=sizes,
        ),
        objective=settings.objective,
        selection=None,
        metrics={},
        curve=[],
        timing={},
        params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        peak_memory_bytes=None,
        memory_measured="",  # set with the peak, once training is over
        device=settings.device.type,
        device_name=devices.device_name(settings.device),
        trainer=OmegaConf.to_container(cfg.trainer, resolve=True),
        versions=versions(registry),
        git_commit=git_commit(),
        host=host(),
        config=config,
    )


def _size(split: Any) -> int:
    """The number of images of an evaluation split (a dict of tensors, or a task's own dataclass)."""
    first = next(iter(split.values())) if isinstance(split, dict) else next(iter(vars(split).values()))
    return len(first)


def execute(
    cfg: DictConfig,
    registry: LoadedRegistry,
    *,
    on_epoch: EpochCallback | None = None,
    study: Mapping[str, Any] | None = None,
) -> tuple[RunRecord, Path]:
    """Run the benchmark ``cfg`` describes and write its record; returns the record and its path.

    Raises :class:`CnnbenchError` before training for anything that cannot run; :class:`RunFailed`
    (after recording ``status=failed``) when training fails; :class:`RunPruned` (after recording
    ``status=pruned``) when ``on_epoch`` stops the run.
    """
    plan_ = plan(cfg, registry)
    if cfg.trainer.threads:
        torch.set_num_threads(int(cfg.trainer.threads))
    seed_everything(plan_.settings.seed, bool(cfg.trainer.deterministic), plan_.settings.device)
    data = plan_.load_data()
    model = build_model(registry, plan_, data).to(plan_.settings.device)
    loss = plan_.loss.to(plan_.settings.device)
    if plan_.settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = instantiate(cfg.optimizer)(list(model.parameters()) + list(loss.parameters()))
    scheduler = instantiate(cfg.schedule)(optimizer) if cfg.get("schedule") else None
    trained = torch.compile(model) if cfg.trainer.compile else model

    record = _record(cfg, registry, plan_, data, model)
    record.study = dict(study) if study else None
    registry.hook.cnnbench_run_start(record=record)  # lifecycle hooks (trackers): start, each epoch, end

    def epoch_end(epoch: int, metrics: dict[str, Any]) -> None:
        registry.hook.cnnbench_epoch_end(record=record, epoch=result.curve[-1])
        if on_epoch is not None:
            on_epoch(epoch, metrics)

    results_dir = Path(str(cfg.results.dir))
    memory = devices.TrainingMemory(plan_.settings.device)
    result = FitResult()
    status, error = "completed", None
    try:
        fit(plan_.task, trained, loss, optimizer, scheduler, data, plan_.settings, epoch_end, result)
    except RunPruned:
        status = "pruned"
    except Exception as failure:  # NaN loss, out of memory, an exception in a plugin: recorded, not lost
        status, error = "failed", f"{type(failure).__name__}: {failure}"
    record.status, record.error, record.finished_at = status, error, utc_now()
    record.selection, record.metrics, record.curve = result.selection, result.metrics, result.curve
    record.timing = {
        "train_s": result.train_s,
        "eval_s": result.eval_s,
        "throughput": result.images / result.train_s if result.train_s else None,
    }
    record.peak_memory_bytes, record.memory_measured = memory.peak_bytes(), memory.measured
    if cfg.results.checkpoint and status == "completed":
        save_checkpoint(model, results_dir / "checkpoints" / f"{record.run_id}.pt")
    path = write_record(record, results_dir)
    registry.hook.cnnbench_run_end(record=record, path=path)
    if status == "pruned":
        raise RunPruned(record.run_id)
    if status == "failed":
        raise RunFailed(f"run {record.run_id} failed: {error} (recorded in {path})")
    return record, path


def save_checkpoint(model: nn.Module, path: Path) -> Path:
    """Save the weights atomically (:func:`cnnbench.atomic.writing`): a kill never leaves half a checkpoint."""
    with writing(path) as handle:
        torch.save(model.state_dict(), handle)
    return path


def load_checkpoint(model: nn.Module, path: Path) -> nn.Module:
    """Load weights saved by :func:`save_checkpoint`; never unpickles arbitrary objects."""
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model
