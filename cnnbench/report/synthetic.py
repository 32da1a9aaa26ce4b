"""Synthetic records with known effects, for the report's tests, its load benchmark and its docs.

The report is a function of the records alone, so it is tested on records written through the same
:func:`cnnbench.records.write_record` a training run uses, with accuracies built from stated effects
(``ACTIVATION_EFFECT``, ``POOLING_EFFECT``, the overfitting gap ``POOLING_GAP``) plus seeded noise,
instead of on training itself. Records are schema 2 (train/validation/test metrics, ``identity`` and
``config_id``) unless ``schema=1`` asks for the older shape, which was selected on test.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cnnbench.atomic import write_text
from cnnbench.records import config_identity, flatten_components, upgrade, write_record

ACTIVATION_EFFECT = {"relu": 0.0, "leaky_relu": 0.002, "prelu": 0.004, "elu": 0.001, "maxout": -0.003}
POOLING_EFFECT = {"max": 0.0, "avg": -0.006, "lp": -0.002, "mixed": 0.001}
#: train minus validation accuracy: mixed pooling overfits less than max pooling
POOLING_GAP = {"max": 0.02, "avg": 0.015, "lp": 0.02, "mixed": 0.01, "mixed_random": 0.01}
#: each task's model and primary metric
TASKS = {"classification": ("lenet5", "accuracy"), "metric_learning": ("embedding_net", "recall_at_1")}
#: the arms of experiment=survey_claims (conf/survey/): task, activation, pooling, loss, and the effect on the metric
SURVEY_ARMS = {
    "baseline": ("classification", "relu", "max", "softmax", 0.0),
    "avg_pool": ("classification", "relu", "avg", "softmax", -0.006),
    "mixed_pool": ("classification", "relu", "mixed_random", "softmax", 0.001),
    "leaky_relu": ("classification", "leaky_relu", "max", "softmax", 0.0),
    "prelu": ("classification", "prelu", "max", "softmax", 0.004),
    "elu": ("classification", "elu", "max", "softmax", -0.001),
    "maxout": ("classification", "maxout", "max", "softmax", -0.03),
    "l2_hinge": ("classification", "relu", "max", "hinge", -0.002),
    "contrastive": ("metric_learning", "relu", "max", "contrastive", 0.0),
    "triplet": ("metric_learning", "relu", "max", "triplet", 0.03),
}
#: what a run reads for a dataset name: sha256 of its files, stood in by a name
FINGERPRINTS = {"digits": "d1917e5f" * 8, "mnist": "a6f3b0c2" * 8}
HYPERPARAMETERS = {"leaky_relu": {"negative_slope": 0.01}, "elu": {"alpha": 1.0}, "maxout": {"pieces": 2}, "lp": {"p": 3}, "mixed": {"lam": 0.5}}
DEVICES = {"cpu": ("Intel Xeon (2 cores)", 1.0), "cuda": ("NVIDIA H100 80GB HBM3", 0.08)}
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def run_record(
    index: int,
    *,
    activation: str = "relu",
    pooling: str = "max",
    loss: str = "softmax",
    task: str = "classification",
    seed: int = 0,
    device: str = "cpu",
    dataset: str = "digits",
    accuracy: float | None = None,
    validation: float | None = None,
    epochs: int = 3,
    study: dict[str, Any] | None = None,
    lr: float = 0.001,
    hyperparameters: dict[str, Any] | None = None,
    fingerprint: str | None = None,
    schema: int = 2,
) -> dict[str, Any]:
    """A completed run as ``cnnbench run`` records it; ``index`` makes its id and time unique.

    ``accuracy`` is the test value of the task's metric (accuracy, or recall@1 for metric learning);
    ``validation`` is that metric on validation (by default near ``accuracy``); train is above it by the
    pooling's gap. ``hyperparameters`` override the components' defaults: ``{"pooling": {"lam": 0.3}}``.
    """
    rng = random.Random(f"{dataset}/{device}/{activation}/{pooling}/{loss}/{seed}/{index}")
    model, metric = TASKS[task]
    if accuracy is None:
        accuracy = 0.97 + ACTIVATION_EFFECT.get(activation, 0.0) + POOLING_EFFECT.get(pooling, 0.0) + rng.gauss(0, 0.002)
    noise = rng.gauss(0, 0.001)  # drawn either way, so that given or not the other draws are the same
    validation = min(1.0, accuracy + noise) if validation is None else validation
    train = min(1.0, validation + POOLING_GAP.get(pooling, 0.02) + rng.gauss(0, 0.001))
    device_name, time_scale = DEVICES[device]
    started = START + timedelta(minutes=index)
    loss_scale = 1.2 + 40 * (0.98 - accuracy)
    train_s = round(12.0 * time_scale * (1.3 if activation == "maxout" else 1.0) * rng.uniform(0.95, 1.05), 4)
    choices = {
        "convolution": {"name": "conv"},
        "pooling": {"name": pooling, **HYPERPARAMETERS.get(pooling, {})},
        "activation": {"name": activation, **HYPERPARAMETERS.get(activation, {})},
        "model": {"name": model},
        "loss": {"name": loss},
    }
    for slot, values in (hyperparameters or {}).items():
        choices[slot].update(values)
    components = flatten_components(choices)
    record = {
        "schema": schema,
        "record_type": "run",
        "run_id": f"{started:%Y%m%dT%H%M%S%fZ}-bench-{index:06d}",
        "status": "completed",
        "error": None,
        "started_at": started.isoformat(timespec="milliseconds"),
        "finished_at": (started + timedelta(seconds=train_s + 1)).isoformat(timespec="milliseconds"),
        "task": task,
        "dataset": dataset,
        "model": model,
        "components": components,
        "seed": seed,
        "metrics": {metric: accuracy, "loss": round(2.5 * (1 - accuracy), 6), "per_class_accuracy": [accuracy] * 10},
        "curve": [
            {"epoch": e, "train_loss": round(loss_scale / e, 5), metric: round(accuracy - 0.05 / e**1.5, 5), "epoch_s": train_s / epochs}
            for e in range(1, epochs + 1)
        ],
        "timing": {"train_s": train_s, "eval_s": round(train_s / 20, 4), "throughput": round(1437 * epochs / train_s, 2)},
        "params": 61706,
        "peak_memory_bytes": 150_000_000,
        "device": device,
        "device_name": device_name,
        "trainer": {"precision": "fp32", "channels_last": False, "compile": False, "batch_size": 32, "epochs": epochs, "seed": seed},
        "versions": {"python": "3.11.2", "torch": "2.13.0", "cnnbench": "0.1.0", "plugins": {"cnnbench": "0.1.0"}},
        "git_commit": "20a06e6" + "0" * 33,
        "host": f"host-{device}",
        "config": {
            "task": {"name": task, "dataset": dataset},
            **{slot: dict(node) for slot, node in choices.items()},
            "optimizer": {"name": "adam", "lr": lr},
            "trainer": {"seed": seed, "epochs": epochs, "device": device, "threads": 1},
            "results": {"dir": f"results-{device}"},
        },
    }
    if study is not None:
        record["study"] = study
    if schema < 2:
        return {**record, "schema": schema}
    record = upgrade({**record, "schema": 1})  # schema 2's shape; what schema 1 lacked is filled in below
    fingerprint = fingerprint or FINGERPRINTS.get(dataset, dataset)
    record["config"]["data"] = {"val_fraction": 0.1, "split_seed": 0, "root": "data"}
    nodes = {slot: record["config"].pop(slot) for slot in choices}
    record["config_id"], record["identity"] = config_identity(record["config"], nodes, fingerprint, device)
    record["config"].update(nodes)
    sizes = {"train": 1293, "validation": 144, "test": 360}
    record.update(
        schema=2,
        data={"dataset": dataset, "fingerprint": fingerprint, "val_fraction": 0.1, "split_seed": 0, "validation": "carved", "sizes": sizes},
        selection={"rule": "final", "epoch": epochs, "split": "validation"},
        objective={"metric": metric, "maximize": True},
    )
    record["metrics"]["validation"] = {metric: validation, "loss": round(2.5 * (1 - validation), 6)}
    record["metrics"]["train"] = {metric: train, "loss": round(2.5 * (1 - train), 6)}
    for epoch in record["curve"]:
        epoch.update(lr=lr, validation=epoch.pop("test"))
    return record


def grid(
    activations: Sequence[str] = tuple(ACTIVATION_EFFECT),
    poolings: Sequence[str] = tuple(POOLING_EFFECT),
    seeds: Iterable[int] = range(3),
    devices: Sequence[str] = ("cpu", "cuda"),
    datasets: Sequence[str] = ("digits",),
) -> list[dict[str, Any]]:
    """The records of an ablation grid: every combination, each seed."""
    combos = [(d, v, a, p, s) for d in datasets for v in devices for a in activations for p in poolings for s in seeds]
    return [
        run_record(i, activation=a, pooling=p, seed=s, device=v, dataset=d) for i, (d, v, a, p, s) in enumerate(combos)
    ]


def survey_records(seeds: Iterable[int] = range(10), start: int = 300_000) -> list[dict[str, Any]]:
    """The records of ``experiment=survey_claims`` with the effects of :data:`SURVEY_ARMS`."""
    combos = [(arm, seed) for arm in SURVEY_ARMS for seed in seeds]
    records = []
    for i, (arm, seed) in enumerate(combos):
        task, activation, pooling, loss, effect = SURVEY_ARMS[arm]
        noise = random.Random(f"survey/{arm}/{seed}").gauss(0, 0.002)
        value = 0.96 + effect + 0.004 * math.sin(seed) + noise  # a seed effect shared by every arm
        records.append(run_record(start + i, task=task, activation=activation, pooling=pooling, loss=loss, seed=seed, accuracy=value, epochs=10))
    return records


def study_trials(name: str = "mixed-lam", trials: int = 12, start: int = 100_000) -> list[dict[str, Any]]:
    """A sweep over the mixed-pooling lambda and the learning rate: accuracy peaks at lam = 0.7 and
    depends on the learning rate much less."""
    records = []
    for trial in range(trials):
        rng = random.Random(f"{name}/{trial}")
        lam, lr = round(rng.uniform(0, 1), 3), round(10 ** rng.uniform(-4, -2), 6)
        accuracy = 0.975 - 0.02 * (lam - 0.7) ** 2 - 0.0005 * abs(math.log10(lr) + 3)
        study = {"name": name, "trial": trial, "params": {"pooling.lam": lam, "optimizer.lr": lr}, "metric": "accuracy", "direction": "maximize"}
        records.append(run_record(start + trial, pooling="mixed", seed=0, accuracy=accuracy, study=study, lr=lr, hyperparameters={"pooling": {"lam": lam}}))
    return records


def bench_records(start: int = 200_000) -> list[dict[str, Any]]:
    """Component timings as ``cnnbench bench`` records them (``cnnbench/bench/records.py``)."""
    rows = [
        ("pooling", "mixed", {"lam": 0.5}, "max_pool2d", 1.05, 0.31, 0.3),
        ("pooling", "lp", {"p": 2}, "lp_pool2d", 1.2, 0.52, 0.5),
        ("activation", "elu", {"alpha": 1.0}, "elu", None, 0.05, 0.05),
    ]
    records = []
    for i, (kind, name, hyperparameters, baseline, target, ms, base_ms) in enumerate(rows):
        for device in ("cpu", "cuda"):
            scale = 1.0 if device == "cpu" else 0.02
            times = {"forward": ms * scale, "forward_backward": 3 * ms * scale}
            base = {"forward": base_ms * scale, "forward_backward": 3 * base_ms * scale}
            records.append(
                {
                    "record_type": "bench",
                    "run_id": f"20250302T000000{i:02d}0000Z-bench-{start + i:06d}-{device}",
                    "status": "completed",
                    "error": None,
                    "started_at": "2025-03-02T00:00:00.000+00:00",
                    "kind": kind,
                    "name": name,
                    "hyperparameters": hyperparameters,
                    "baseline": baseline,
                    "target": target,
                    "device": device,
                    "device_name": DEVICES[device][0],
                    "dtype": "float32",
                    "shape": "128,64,32,32",
                    **{f"{part}_ms": times[part] for part in times},
                    **{f"baseline_{part}_ms": base[part] for part in base},
                    **{f"ratio_{part}": times[part] / base[part] for part in times},
                    "samples_ms": {part: [times[part]] * 5 for part in times},
                    "repeats": 5,
                    "compile": False,
                    "versions": {"python": "3.11.2", "torch": "2.13.0", "cnnbench": "0.1.0"},
                    "git_commit": "20a06e6" + "0" * 33,
                    "host": f"host-{device}",
                }
            )
    return records


def pytest_benchmark_document() -> dict[str, Any]:
    """A small ``pytest --benchmark-json`` file, as pytest-benchmark 5 writes it."""
    def entry(name: str, median: float) -> dict[str, Any]:
        stats = {"min": median * 0.9, "max": median * 1.2, "mean": median * 1.02, "stddev": median * 0.05, "median": median, "iqr": median * 0.04, "rounds": 50, "iterations": 1, "ops": 1 / median}
        return {"group": "pooling", "name": name, "fullname": f"tests/benchmarks/test_pooling.py::{name}", "params": {"name": name.split("[")[-1].rstrip("]")}, "param": None, "extra_info": {"device": "cpu", "dtype": "float32"}, "options": {}, "stats": stats}

    return {
        "machine_info": {"node": "host-cpu", "python_version": "3.11.2", "cpu": {"brand_raw": DEVICES["cpu"][0]}},
        "commit_info": {"id": "20a06e6" + "0" * 33, "dirty": False},
        "benchmarks": [entry("test_pool[max]", 0.0011), entry("test_pool[mixed]", 0.00115)],
        "datetime": "2025-03-02T01:00:00.000000+00:00",
        "version": "5.1.0",
    }


def write_all(records: Iterable[dict[str, Any]], results_dir: Path | str) -> list[Path]:
    """Write each record the way a run does."""
    return [write_record(record, results_dir) for record in records]


def write_pytest_benchmark(results_dir: Path | str, name: str = "pytest-benchmark.json") -> Path:
    return write_text(Path(results_dir) / "benchmarks" / name, json.dumps(pytest_benchmark_document(), indent=1))
