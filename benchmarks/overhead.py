"""How close the training loop of `cnnbench run` comes to a minimal hand-written PyTorch loop (target >= 0.97x).

Both loops train LeNet-5, built through the registry as `cnnbench run` builds it, on the same in-memory
MNIST tensors, from the same initial weights, with the same Adam, batch size, shuffling generator and
threads, in this one process, alternating which goes first. `cnnbench run`'s loop is
:func:`cnnbench.training.loop.fit` with the real classification task; its evaluation after each epoch is
kept out of the comparison by giving it 10-image validation, test and training-sample splits. Both loops end with identical weights,
which the script checks, so they did the same arithmetic. The figure is the throughput of `fit`
relative to the hand-written loop, the median of the per-repeat ratios, on the CPU-time clock (steady on
a shared machine) and on the wall clock.

    python benchmarks/overhead.py [--limit 10000] [--batch-size 128] [--repeats 5] [--threads 1]
                                  [--data-root ../shared/data] [--progress] [--profile]
                                  [--device cuda] [--precision bf16]    # on a GPU: CUDA events
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cnnbench.data.splits import SplitSettings
from cnnbench.parts import Parts
from cnnbench.plugins import default_registry
from cnnbench.tasks import TaskData
from cnnbench.training.execute import seed_everything
from cnnbench.training.loop import LoopSettings, fit

DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
LEARNING_RATE = 1e-3
SEED = 0
TARGET = 0.97


def hand_written(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int, batch_size: int, autocast: torch.dtype | None) -> None:
    """The minimal loop: shuffle, slice, forward (under autocast when asked), backward, step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator).to(images.device)
        for start in range(0, len(images), batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(images.device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
                batch_loss = F.cross_entropy(model(images[index]), labels[index])
            batch_loss.backward()
            optimizer.step()


def cnnbench_loop(task, loss: nn.Module, data: TaskData, settings: LoopSettings) -> Callable[[nn.Module], None]:
    def train(model: nn.Module) -> None:
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        fit(task, model, loss, optimizer, None, data, settings)

    return train


def timed(train: Callable[[nn.Module], None], model: nn.Module) -> tuple[float, float]:
    """CPU seconds and device seconds of one training run: on CUDA the second is CUDA events around it
    (kernels are asynchronous, so wall time around the call would not be the work), else the wall clock."""
    cpu = time.process_time()
    device = next(model.parameters()).device
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        train(model)
        end.record()
        torch.cuda.synchronize(device)
        return time.process_time() - cpu, start.elapsed_time(end) / 1000
    wall = time.perf_counter()
    train(model)
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT, help="folder with mnist/ (default: ../shared/data)")
    parser.add_argument("--limit", type=int, default=10_000, help="training images (default: 10000; MNIST has 60000)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128, help="default: 128, as experiment=lenet_mnist")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]: the figure is then the CUDA-event clock")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="bf16: both loops under autocast")
    parser.add_argument("--progress", action="store_true", help="with the rich progress bar on, as in a terminal")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions of one fit()")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    autocast = torch.bfloat16 if args.precision == "bf16" else None
    seed_everything(SEED, deterministic=True, device=device)  # as `cnnbench run` does
    registry = default_registry()
    task = registry.create("task", {"name": "classification", "dataset": "mnist", "limit": args.limit})
    data = task.load_data(args.data_root, 32, SEED, SplitSettings())
    tiny = {split: {key: value[:10] for key, value in getattr(data, split).items()} for split in ("validation", "test", "train_sample")}
    data = TaskData(data.train, tiny["validation"], tiny["test"], tiny["train_sample"], data.info)
    model = registry.create("model", "lenet5", parts=Parts(registry), in_channels=1, num_classes=10, image_size=32)
    settings = LoopSettings(args.epochs, args.batch_size, device, SEED, autocast=autocast, progress=args.progress)
    train_images, train_labels = data.train["images"].to(device), data.train["labels"].to(device)
    loops = {
        "cnnbench fit": cnnbench_loop(task, registry.create("loss", "softmax").to(device), data, settings),
        "hand-written": lambda m: hand_written(m, train_images, train_labels, args.epochs, args.batch_size, autocast),
    }
    model = model.to(device)

    trained = {name: copy.deepcopy(model) for name in loops}
    for name, train in loops.items():  # warm-up, and the check that both do the same arithmetic
        train(trained[name])
    same = all(torch.equal(a, b) for a, b in zip(*(m.state_dict().values() for m in trained.values()), strict=True))

    times: dict[str, list[tuple[float, float]]] = {name: [] for name in loops}
    for repeat in range(args.repeats):
        for name in list(loops)[:: 1 if repeat % 2 == 0 else -1]:
            times[name].append(timed(loops[name], copy.deepcopy(model)))
    fit_times, hand_times = times["cnnbench fit"], times["hand-written"]
    ratios = {clock: statistics.median(h[i] / f[i] for f, h in zip(fit_times, hand_times, strict=True)) for i, clock in enumerate(("cpu", "wall"))}

    images = args.limit * args.epochs
    clock = "wall" if device.type == "cuda" else "cpu"  # on CUDA the CPU clock only measures the launches
    second = "CUDA-event s" if device.type == "cuda" else "wall s"
    print(f"LeNet-5 / MNIST on {device} ({args.precision}): {args.limit} images x {args.epochs} epoch(s), batch {args.batch_size}, "
          f"{args.threads} thread(s), {args.repeats} interleaved repeats, progress bar {'on' if args.progress else 'off'}; "
          f"identical final weights: {same}")
    print(f"| loop | CPU s (median) | {second} (median) | images/s ({'CUDA events' if clock == 'wall' else 'CPU'}) |")
    print("| --- | --- | --- | --- |")
    for name, samples in times.items():
        cpu, wall = (statistics.median(s[i] for s in samples) for i in (0, 1))
        print(f"| {name} | {cpu:.3f} | {wall:.3f} | {images / (wall if clock == 'wall' else cpu):,.0f} |")
    verdict = "PASS" if ratios[clock] >= TARGET else "MISS"
    print(f"throughput of cnnbench fit / hand-written: {ratios['cpu']:.3f}x (CPU clock), {ratios['wall']:.3f}x ({second[:-2]}); "
          f"target >= {TARGET}x on the {'CUDA-event' if clock == 'wall' else 'CPU'} clock: {verdict}")

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(loops["cnnbench fit"], copy.deepcopy(model))
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
