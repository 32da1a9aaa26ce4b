"""How the run time of `cnnbench run` grows with the dataset size and the batch size, on this machine.

Each point is one real run (LeNet-5 on MNIST, 1 epoch, the config `cnnbench run` composes, executed by
:func:`cnnbench.training.execute.execute`, record written to a temporary folder): the training time and
throughput the record reports, and the CPU and wall seconds of the whole run (data loading and the
evaluation included; ``task.limit`` caps the test images too, at most MNIST's 10,000). Prints two Markdown tables. For the number of sweep
workers, see ``benchmarks/sweep_workers.py``.

    python benchmarks/scaling.py [--sizes 2500,5000,10000,20000,60000] [--batch-sizes 16,32,64,128,256,512]
                                 [--size-for-batches 10000] [--batch-for-sizes 128] [--threads 1] [--data-root ../shared/data]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from cnnbench.composition import compose_run_config
from cnnbench.plugins import default_registry
from cnnbench.training.execute import execute

DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"


def run(limit: int, batch_size: int, args: argparse.Namespace, results: Path) -> dict[str, Any]:
    overrides = [
        "experiment=lenet_mnist",
        f"task.limit={limit}",
        f"trainer.batch_size={batch_size}",
        "trainer.epochs=1",
        f"trainer.threads={args.threads}",
        "trainer.progress=false",
        f"data.root={args.data_root}",
        f"results.dir={results}",
    ]
    cfg = compose_run_config(overrides)
    cpu, wall = time.process_time(), time.perf_counter()
    record, _ = execute(cfg, default_registry())
    return {
        "images": limit,
        "batch": batch_size,
        "train_s": record["timing"]["train_s"],
        "throughput": record["timing"]["throughput"],
        "run_cpu_s": time.process_time() - cpu,
        "run_wall_s": time.perf_counter() - wall,
        "accuracy": record["metrics"]["accuracy"],
    }


def table(rows: list[dict[str, Any]], first: str) -> str:
    lines = [
        f"| {first} | train s | images/s | whole run CPU s | whole run wall s | test accuracy |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {row[first]:,} | {row['train_s']:.2f} | {row['throughput']:,.0f} | {row['run_cpu_s']:.2f} | {row['run_wall_s']:.2f} | {row['accuracy']:.4f} |"
        for row in rows
    ]
    return "\n".join(lines)


def numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    parser.add_argument("--sizes", type=numbers, default=numbers("2500,5000,10000,20000,60000"))
    parser.add_argument("--batch-sizes", type=numbers, default=numbers("16,32,64,128,256,512"))
    parser.add_argument("--size-for-batches", type=int, default=10_000)
    parser.add_argument("--batch-for-sizes", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        run(min(args.sizes), args.batch_for_sizes, args, Path(tmp))  # warm-up: imports, first-call costs
        by_size = [run(size, args.batch_for_sizes, args, Path(tmp)) for size in args.sizes]
        by_batch = [run(args.size_for_batches, batch, args, Path(tmp)) for batch in args.batch_sizes]
    print(f"LeNet-5 / MNIST, 1 epoch, {args.threads} thread(s), torch {torch.__version__}, CPU\n")
    print(f"Dataset size (batch {args.batch_for_sizes}):\n\n{table(by_size, 'images')}\n")
    print(f"Batch size ({args.size_for_batches:,} images):\n\n{table(by_batch, 'batch')}")


if __name__ == "__main__":
    main()
