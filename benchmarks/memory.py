"""Peak RSS of `cnnbench run` on MNIST against a plain PyTorch loop that holds the same tensors (issue 14.4, <= 1.1x).

The plain loop is this script run with ``--plain FILE``: it imports torch alone, loads exactly the train,
validation, test and training-sample tensors that cnnbench prepares (saved to ``FILE`` beforehand, in a
process of its own), and trains the same LeNet-5 (conv 5x5 - ReLU - max pool, twice; fc 120, 84, 10)
with the same Adam, batch size and single thread for the same epochs, then evaluates validation, the
training sample and test in batches of 1,000, as `cnnbench run` does. It is the floor: the tensors a run
needs, a model and its optimizer, torch's own footprint. Each side runs in a fresh process and its peak
resident set comes from ``wait4`` (the child's ``ru_maxrss``), so neither includes this script.

    python benchmarks/memory.py [--data-root ../shared/data] [--epochs 1] [--repeats 1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGET = 1.1
POLL_S = 0.005
BATCH_SIZE, EVAL_BATCH_SIZE, LEARNING_RATE = 128, 1000, 0.002  # experiment=lenet_mnist's


def peak_rss(argv: list[str], log: Path) -> int:
    """The peak resident set, in bytes, of one run of ``argv`` (its output goes to ``log``).

    The child's ``ru_maxrss`` from ``wait4``, and the child's ``VmHWM`` read every few milliseconds while
    it runs: `cnnbench run` resets its own peak where training starts (``TrainingMemory``), which can
    leave ``ru_maxrss`` with the training phase alone, and the earlier peak is still seen in ``VmHWM``.
    """
    from cnnbench.training.device import status_kib

    polled = 0
    with log.open("wb") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            with contextlib.suppress(OSError, ValueError):  # not Linux, or a zombie already
                polled = max(polled, status_kib("VmHWM", process.pid) * 1024)
            time.sleep(POLL_S)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"memory.py: {' '.join(argv)} failed:\n{log.read_text()[-2000:]}")
    return max(polled, usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024))


def save_prepared(root: Path, path: Path) -> None:
    """Write the tensors `cnnbench run experiment=lenet_mnist` trains and evaluates on (LeNet-5's 32x32 input)."""
    import torch

    from cnnbench.data.labelled import labelled_splits
    from cnnbench.data.splits import SplitSettings

    data = labelled_splits("mnist", root, 32, SplitSettings())
    splits = {"train": data.train, "validation": data.validation, "test": data.test, "train_sample": data.train_sample}
    torch.save({name: dict(tensors) for name, tensors in splits.items()}, path)


def plain_loop(path: Path, epochs: int) -> None:
    """The floor: load the prepared tensors, train LeNet-5, evaluate; nothing but torch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = torch.load(path, weights_only=True)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    images, labels = data["train"]["images"], data["train"]["labels"]
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), BATCH_SIZE):
            index = order[start : start + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(images[index]), labels[index]).backward()
            optimizer.step()
        model.eval()
        for split in ("validation", "train_sample", "test"):
            with torch.no_grad():
                logits = torch.cat([model(chunk) for chunk in data[split]["images"].split(EVAL_BATCH_SIZE)])
            accuracy = (logits.argmax(1) == data[split]["labels"]).float().mean().item()
        print(f"plain loop: test accuracy {accuracy:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT, help="folder with mnist/ (default: ../shared/data)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each side; the figures are the medians")
    parser.add_argument("--plain", type=Path, help=argparse.SUPPRESS)  # the child that runs the plain loop
    parser.add_argument("--save", type=Path, help=argparse.SUPPRESS)  # the child that writes the prepared tensors
    args = parser.parse_args()
    if args.plain:
        return plain_loop(args.plain, args.epochs)
    if args.save:
        return save_prepared(args.data_root, args.save)

    cli = Path(sys.executable).with_name("cnnbench")
    with tempfile.TemporaryDirectory(prefix="cnnbench-memory-") as scratch:
        folder = Path(scratch)
        tensors = folder / "prepared.pt"
        subprocess.run([sys.executable, __file__, "--data-root", str(args.data_root), "--save", str(tensors)], check=True)
        sides = {
            "cnnbench run": [str(cli), "run", "experiment=lenet_mnist", f"data.root={args.data_root}",
                             f"trainer.epochs={args.epochs}", f"results.dir={folder / 'results'}", "trainer.progress=false"],
            "plain loop": [sys.executable, __file__, "--plain", str(tensors), "--epochs", str(args.epochs)],
        }  # fmt: skip
        peaks: dict[str, list[int]] = {name: [] for name in sides}
        for repeat in range(args.repeats):
            for name in list(sides)[:: 1 if repeat % 2 == 0 else -1]:
                peaks[name].append(peak_rss(sides[name], folder / "log.txt"))
        kept = tensors.stat().st_size
    median = {name: sorted(values)[len(values) // 2] for name, values in peaks.items()}
    ratio = median["cnnbench run"] / median["plain loop"]
    print(f"MNIST, LeNet-5, {args.epochs} epoch(s), batch {BATCH_SIZE}, 1 thread; prepared tensors {kept / 2**20:,.0f} MiB")
    print("| process | peak RSS MiB (each run) |")
    print("| --- | --- |")
    for name, values in peaks.items():
        print(f"| {name} | {', '.join(f'{value / 2**20:,.0f}' for value in values)} |")
    print(f"peak RSS of cnnbench run / plain loop: {ratio:.3f}x; target <= {TARGET}x: {'PASS' if ratio <= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()
